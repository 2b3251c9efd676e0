-- A command sent with an Idempotency-Key writes the key's token into its events' metadata
-- (`idempotency_key`, api/src/idempotency.rs), in the same rows and so the same transaction
-- as what it did. A retry that took over the claim of a request that died finds them here
-- and records nothing twice. Only events with a key are in this index.
CREATE INDEX events_idempotency_key ON events ((metadata ->> 'idempotency_key'))
    WHERE (metadata ->> 'idempotency_key') IS NOT NULL;
