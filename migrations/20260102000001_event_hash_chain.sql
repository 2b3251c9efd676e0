-- Tamper evidence (issue 6): every event row carries `hash`, chained to the previous event of
-- the same aggregate through `prev_hash`, both computed here, inside the database, by a
-- BEFORE INSERT trigger, so that no writer can forget or fake them by accident.
--
--   prev_hash = the `hash` of the same aggregate's event at `sequence - 1`
--               (32 zero bytes, the genesis value, for sequence 1)
--   hash      = SHA-256(prev_hash || canonical form of the row)
--
-- The canonical form is a sequence of length-prefixed fields: each field is its UTF-8 bytes
-- preceded by their length as an 8-byte big-endian integer, in this order:
--
--   'otop.event.v1'           a version tag, so that a later form can never be confused
--   aggregate_type
--   aggregate_id
--   sequence                  as decimal text
--   event_type
--   event_version
--   payload::jsonb::text      the payload's meaning, normalised: key order, whitespace and
--   metadata::jsonb::text     duplicate keys do not change it, any change of a value does
--
-- `otop verify` (projections/src/audit.rs) recomputes the same bytes and the SHA-256 itself,
-- outside the database, and walks every chain. What this protects against, and what it does
-- not: ARCHITECTURE.md, "Tamper evidence".

-- Chains are walked in byte order of (aggregate_type, aggregate_id), the same on every server
-- whatever its locale, so that the digest of the chain heads can be published and compared.
ALTER TABLE events ALTER COLUMN aggregate_type TYPE text COLLATE "C";
ALTER TABLE events ALTER COLUMN aggregate_id TYPE text COLLATE "C";

ALTER TABLE events ADD COLUMN prev_hash bytea;
ALTER TABLE events ADD COLUMN hash bytea;

-- One length-prefixed field of the canonical form.
CREATE FUNCTION event_chain_field(value text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT int8send(octet_length(convert_to(value, 'UTF8'))::bigint) || convert_to(value, 'UTF8') $$;

-- The hash of one event given its predecessor's hash. PostgreSQL 15's built-in sha256().
CREATE FUNCTION event_chain_hash(prev_hash bytea, aggregate_type text, aggregate_id text,
                                 sequence bigint, event_type text, event_version text,
                                 payload json, metadata json) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
SELECT sha256(prev_hash
              || event_chain_field('otop.event.v1')
              || event_chain_field(aggregate_type)
              || event_chain_field(aggregate_id)
              || event_chain_field(sequence::text)
              || event_chain_field(event_type)
              || event_chain_field(event_version)
              || event_chain_field(payload::jsonb::text)
              || event_chain_field(metadata::jsonb::text))
$$;

-- Existing rows (none on a fresh store): chain them in sequence order.
DO $$
DECLARE
    row_ record;
    previous bytea;
    last_type text;
    last_id text;
BEGIN
    FOR row_ IN SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                       payload, metadata
                  FROM events ORDER BY aggregate_type, aggregate_id, sequence
    LOOP
        IF last_type IS DISTINCT FROM row_.aggregate_type
           OR last_id IS DISTINCT FROM row_.aggregate_id THEN
            previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;
        UPDATE events
           SET prev_hash = previous,
               hash = event_chain_hash(previous, row_.aggregate_type, row_.aggregate_id,
                                       row_.sequence, row_.event_type, row_.event_version,
                                       row_.payload, row_.metadata)
         WHERE aggregate_type = row_.aggregate_type AND aggregate_id = row_.aggregate_id
           AND sequence = row_.sequence
        RETURNING hash INTO previous;
        last_type := row_.aggregate_type;
        last_id := row_.aggregate_id;
    END LOOP;
END
$$;

ALTER TABLE events ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

-- Whatever the writer sent, the chain columns are computed here. The predecessor is the
-- committed event at `sequence - 1` or one inserted earlier by the same statement (a command
-- that records several events inserts them in sequence order); a writer can only append
-- after the last event it loaded, so a missing predecessor is a bug, refused loudly.
CREATE FUNCTION events_chain_row() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    previous bytea;
BEGIN
    IF NEW.sequence = 1 THEN
        previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT e.hash INTO previous
          FROM events e
         WHERE e.aggregate_type = NEW.aggregate_type AND e.aggregate_id = NEW.aggregate_id
           AND e.sequence = NEW.sequence - 1;
        IF previous IS NULL THEN
            RAISE EXCEPTION 'event % of % % has no predecessor at sequence %',
                NEW.sequence, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence - 1
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    NEW.prev_hash := previous;
    NEW.hash := event_chain_hash(previous, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
                                 NEW.event_type, NEW.event_version, NEW.payload, NEW.metadata);
    RETURN NEW;
END;
$$;

CREATE TRIGGER events_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain_row();

-- The stock events an order caused on listings, found by the order id in their payload
-- (`{"StockReserved": {"order_id": ..., "quantity": ...}}`) for the audit history.
CREATE INDEX events_stock_order_idx ON events (((payload -> event_type) ->> 'order_id'))
    WHERE aggregate_type = 'Listing'
      AND event_type IN ('StockReserved', 'StockReleased', 'StockCommitted');
