-- The event log. Columns up to `metadata` are exactly postgres-es's `events` table, so its
-- repository reads this table as it is. Two columns are ours (DESIGN.md decision 2):
--   position        one global number per event, in insertion order (identity column);
--   transaction_id  the writing transaction (xid8). Readers take only events whose
--                   transaction is older than the oldest one still in flight, ordered by
--                   (transaction_id, position): an order that never skips an event, even
--                   when two transactions commit out of order.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 1) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_position_idx ON events (position);
CREATE INDEX events_log_order_idx ON events (transaction_id, position);

-- One snapshot per aggregate: its state after `last_sequence`. Same columns as postgres-es's
-- `snapshots` table, but keyed by aggregate alone so a writer can upsert it.
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Wake log readers as soon as events commit (NOTIFY is delivered at commit, never before).
CREATE FUNCTION notify_events_appended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('otop_events', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_appended
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended();
