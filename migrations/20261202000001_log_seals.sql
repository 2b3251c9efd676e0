-- Signed seals over the event log (projections/src/seal.rs). Every seal interval the server
-- signs, with an Ed25519 key that the database never holds, the Merkle root (RFC 6962) over
-- the `hash` of every event with `position` <= the seal's position, in position order. The
-- same seals are appended to a file outside the database (OTOP_SEAL_FILE), so that an
-- attacker who rewrites this table too is still caught by `otop verify --seals FILE`.
CREATE TABLE log_seals
(
    position  bigint PRIMARY KEY CHECK (position >= 1),
    -- The number of events the seal covers: the Merkle tree's size.
    tree_size bigint      NOT NULL CHECK (tree_size >= 1),
    -- The Merkle root (32 bytes).
    digest    bytea       NOT NULL,
    sealed_at timestamptz NOT NULL,
    -- Ed25519 over the seal's message (64 bytes), and the first 16 hex digits of the
    -- SHA-256 of the public key that checks it.
    signature bytea       NOT NULL,
    key_id    text        NOT NULL
);
