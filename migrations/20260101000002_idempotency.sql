-- Replies to commands sent with an Idempotency-Key (DESIGN.md decision 6). A row is claimed
-- before the command runs (completed_at NULL) and filled with the reply when it ends, so that
-- concurrent retries with the same key wait for the first one instead of running twice.
CREATE TABLE idempotency_keys
(
    principal           text        NOT NULL,
    idempotency_key     text        NOT NULL,
    request_fingerprint text        NOT NULL,
    status_code         smallint,
    content_type        text,
    response_body       bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    PRIMARY KEY (principal, idempotency_key)
);
