-- The payout ledger (projection `ledger`): what the platform owes each vendor, one line per
-- money event. A payment is a credit of the total net of the platform's commission; a refund
-- (or a cancellation that gives money back) is a debit of the refunded amount net of the
-- commission on it, at the rate recorded with the payment. All money is integer satang.
CREATE TABLE vendor_ledger_lines
(
    -- The log position of the event the line records: one line per event, the same on
    -- every rebuild.
    position          bigint      PRIMARY KEY,
    order_id          uuid        NOT NULL,
    vendor_id         uuid        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('credit', 'debit')),
    -- What the shopper paid (credit) or got back (debit).
    gross_satang      bigint      NOT NULL CHECK (gross_satang > 0),
    -- The platform's share of the gross: floor(gross * commission_bps / 10000).
    commission_satang bigint      NOT NULL CHECK (commission_satang >= 0 AND commission_satang <= gross_satang),
    commission_bps    integer     NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    -- The vendor's share, signed: + for a credit, - for a debit.
    amount_satang     bigint      NOT NULL,
    recorded_at       timestamptz NOT NULL,
    CHECK (amount_satang = CASE kind WHEN 'credit' THEN gross_satang - commission_satang
                                     ELSE commission_satang - gross_satang END)
);
CREATE INDEX vendor_ledger_lines_vendor_idx ON vendor_ledger_lines (vendor_id, position DESC);

-- The projection's own memory of each order: its vendor from `OrderPlaced`, and the
-- commission rate recorded with its payment (NULL until paid). Never read from another
-- projection's tables.
CREATE TABLE vendor_ledger_orders
(
    order_id       uuid    PRIMARY KEY,
    vendor_id      uuid    NOT NULL,
    commission_bps integer CHECK (commission_bps BETWEEN 0 AND 10000),
    last_position  bigint  NOT NULL
);
