-- Sales by Asia/Bangkok day, district, OTOP category, sub-type and vendor (projection
-- `sales`, issue 6). All money is integer satang. A sale counts on the Bangkok day of its
-- payment (`OrderPaid`); a refund (`OrderRefunded`) or a cancellation after payment
-- (`OrderCancelled` giving money back) reverses it on its own day:
--   gross_satang    what was paid, on the payment day;
--   refunds_satang  what went back, on the refund's or cancellation's day;
--   net_satang      gross_satang - refunds_satang, exactly;
--   units           units sold on the payment day, taken back on the day of a cancellation
--                   after payment (the goods never left: cancelling is refused once shipped);
--                   a refund gives money back, not units;
--   orders_*        paid orders, taken back on the day of a cancellation after payment.
-- An order's lines may fall in several sub-types and categories, so an order is counted
-- three ways, each exact when summed over the rows of a grouping at its level:
--   orders_by_subtype   1 in every row (sub-type) the order has a line in;
--   orders_by_category  1 per category the order has a line in, kept in the row of the
--                       lowest sub-type code of its lines in that category;
--   orders_overall      1 per order, kept in the row of its lowest (category, sub-type).
-- Refunds are shared among the order's lines in proportion to what each line has paid and
-- not yet had back, in whole satang: floor shares, then one satang each to the largest
-- remainders (ties: the earlier line). Each line's refunds never pass what it paid, and a
-- full refund brings every line to exactly zero net.
-- District, category and sub-type are those of the vendor and listing when the order was
-- placed; a line whose listing (or vendor) this projection never saw is filed under UNKNOWN.
CREATE TABLE sales_facts
(
    day                date   NOT NULL,
    district_code      text   NOT NULL,
    category_code      text   NOT NULL,
    subtype_code       text   NOT NULL,
    vendor_id          uuid   NOT NULL,
    orders_by_subtype  bigint NOT NULL,
    orders_by_category bigint NOT NULL,
    orders_overall     bigint NOT NULL,
    units              bigint NOT NULL,
    gross_satang       bigint NOT NULL,
    refunds_satang     bigint NOT NULL,
    net_satang         bigint NOT NULL,
    PRIMARY KEY (day, district_code, category_code, subtype_code, vendor_id),
    CHECK (net_satang = gross_satang - refunds_satang)
);

-- The same facts per listing (for the top listings): each order has one line per listing.
CREATE TABLE sales_listing_facts
(
    day            date   NOT NULL,
    listing_id     uuid   NOT NULL,
    vendor_id      uuid   NOT NULL,
    orders         bigint NOT NULL,
    units          bigint NOT NULL,
    gross_satang   bigint NOT NULL,
    refunds_satang bigint NOT NULL,
    net_satang     bigint NOT NULL,
    PRIMARY KEY (day, listing_id),
    CHECK (net_satang = gross_satang - refunds_satang)
);

-- The projection's own memory, from the events it sees (never another projection's tables):
-- each vendor's district and names, each listing's vendor, category, sub-type and titles, and
-- each order's lines with what each line paid and had back.
CREATE TABLE sales_vendors
(
    vendor_id     uuid   PRIMARY KEY,
    district_code text   NOT NULL,
    name_th       text   NOT NULL,
    name_en       text,
    last_position bigint NOT NULL
);

CREATE TABLE sales_listings
(
    listing_id    uuid   PRIMARY KEY,
    vendor_id     uuid   NOT NULL,
    category_code text   NOT NULL,
    subtype_code  text   NOT NULL,
    title_th      text   NOT NULL,
    title_en      text,
    last_position bigint NOT NULL
);

CREATE TABLE sales_orders
(
    order_id      uuid    PRIMARY KEY,
    vendor_id     uuid    NOT NULL,
    district_code text    NOT NULL,
    -- [{listing_id, quantity, amount_satang, category_code, subtype_code, paid_satang, refunded_satang}]
    lines         jsonb   NOT NULL,
    -- The Bangkok day of the payment; NULL until paid.
    paid_day      date,
    -- Cancelled after payment: its orders and units were taken back.
    reversed      boolean NOT NULL DEFAULT false,
    last_position bigint  NOT NULL
);
