-- Projection checkpoints: where each projection stands in the log, written in the same
-- transaction as the read-model changes of the batch it records (DESIGN.md decision 3).
CREATE TABLE projection_checkpoints
(
    name            text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT '0',
    position        bigint      NOT NULL DEFAULT 0,
    events_applied  bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Set when the projection stopped on an event it could not apply.
    failed_position bigint,
    last_error      text
);

-- Vendor directory (projection `catalog`). A stable SQL interface: see ARCHITECTURE.md.
CREATE TABLE vendor_directory
(
    vendor_id          uuid        PRIMARY KEY,
    status             text        NOT NULL,
    name_th            text        NOT NULL,
    name_en            text,
    district_code      text        NOT NULL,
    producer_type      text        NOT NULL,
    phone              text        NOT NULL,
    email              text,
    payout_promptpay   text,
    status_reason      text,
    published_listings integer     NOT NULL DEFAULT 0,
    applied_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    last_position      bigint      NOT NULL,
    -- The aggregate's state, for the projection's own use.
    state              jsonb       NOT NULL
);
CREATE INDEX vendor_directory_status_district_idx ON vendor_directory (status, district_code, name_th);

-- Listing catalog (projection `catalog`): the current state of every listing, with its
-- vendor's district and status copied in so queries need no join.
CREATE TABLE listing_catalog
(
    listing_id       uuid        PRIMARY KEY,
    vendor_id        uuid        NOT NULL,
    status           text        NOT NULL,
    title_th         text        NOT NULL,
    title_en         text,
    description_th   text,
    description_en   text,
    category_code    text        NOT NULL,
    subtype_code     text        NOT NULL,
    price_satang     bigint      NOT NULL,
    available_stock  bigint      NOT NULL,
    reserved_stock   bigint      NOT NULL,
    units_sold       bigint      NOT NULL,
    weight_grams     integer,
    otop_stars       smallint,
    tags             jsonb       NOT NULL,
    image_urls       jsonb       NOT NULL,
    take_down_reason text,
    vendor_status    text,
    vendor_name_th   text,
    district_code    text,
    created_at       timestamptz NOT NULL,
    published_at     timestamptz,
    updated_at       timestamptz NOT NULL,
    last_position    bigint      NOT NULL,
    state            jsonb       NOT NULL
);
CREATE INDEX listing_catalog_vendor_idx ON listing_catalog (vendor_id, status, created_at);
CREATE INDEX listing_catalog_status_idx ON listing_catalog (status, created_at);

-- Orders by shopper and by vendor (projection `orders`), with the time of each step.
CREATE TABLE order_summaries
(
    order_id         uuid        PRIMARY KEY,
    checkout_id      uuid        NOT NULL,
    shopper_id       text        NOT NULL,
    vendor_id        uuid        NOT NULL,
    status           text        NOT NULL,
    total_satang     bigint      NOT NULL,
    paid_satang      bigint      NOT NULL,
    refunded_satang  bigint      NOT NULL,
    lines            jsonb       NOT NULL,
    shipping_address jsonb       NOT NULL,
    carrier          text,
    tracking_number  text,
    status_reason    text,
    placed_at        timestamptz NOT NULL,
    confirmed_at     timestamptz,
    rejected_at      timestamptz,
    paid_at          timestamptz,
    accepted_at      timestamptz,
    packed_at        timestamptz,
    shipped_at       timestamptz,
    delivered_at     timestamptz,
    cancelled_at     timestamptz,
    expired_at       timestamptz,
    refunded_at      timestamptz,
    updated_at       timestamptz NOT NULL,
    last_position    bigint      NOT NULL,
    state            jsonb       NOT NULL
);
CREATE INDEX order_summaries_shopper_idx ON order_summaries (shopper_id, placed_at DESC);
CREATE INDEX order_summaries_vendor_idx ON order_summaries (vendor_id, placed_at DESC);
CREATE INDEX order_summaries_checkout_idx ON order_summaries (checkout_id);
