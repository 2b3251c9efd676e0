-- The checkout process manager's own memory, written in the same transaction as its
-- checkpoint: which orders belong to which checkout, and which checkouts failed (so that an
-- order of a failed checkout is rejected even when it reaches the manager after the failure).
CREATE TABLE checkout_members
(
    checkout_id uuid NOT NULL,
    order_id    uuid NOT NULL,
    PRIMARY KEY (checkout_id, order_id)
);

CREATE TABLE checkout_failures
(
    checkout_id uuid        PRIMARY KEY,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
