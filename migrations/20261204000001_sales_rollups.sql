-- Rollups of the sales facts (projection `sales`, issue 15), written in the same transaction
-- as the facts they sum, so they always equal them. Each row is the sum of the facts of its
-- key, with the same measures and the same order-count rules (20260102000002_sales.sql):
--   sales_month_facts          per Bangkok month (its first day) × district × category ×
--                              sub-type, without the vendor key: a year is a few thousand rows;
--   sales_listing_month_facts  per Bangkok month × listing;
--   sales_listing_year_facts   per Bangkok year (its 1 January) × listing, with an index in
--                              each order the top listings rank by.
-- A query reads the coarsest rollup that answers it exactly (whole years, then whole months)
-- and the day facts for the days at either end of its range (otop_app::analytics).
CREATE TABLE sales_month_facts
(
    month              date   NOT NULL,
    district_code      text   NOT NULL,
    category_code      text   NOT NULL,
    subtype_code       text   NOT NULL,
    orders_by_subtype  bigint NOT NULL,
    orders_by_category bigint NOT NULL,
    orders_overall     bigint NOT NULL,
    units              bigint NOT NULL,
    gross_satang       bigint NOT NULL,
    refunds_satang     bigint NOT NULL,
    net_satang         bigint NOT NULL,
    PRIMARY KEY (month, district_code, category_code, subtype_code),
    CHECK (net_satang = gross_satang - refunds_satang),
    CHECK (month = date_trunc('month', month)::date)
);

CREATE TABLE sales_listing_month_facts
(
    month          date   NOT NULL,
    listing_id     uuid   NOT NULL,
    vendor_id      uuid   NOT NULL,
    orders         bigint NOT NULL,
    units          bigint NOT NULL,
    gross_satang   bigint NOT NULL,
    refunds_satang bigint NOT NULL,
    net_satang     bigint NOT NULL,
    PRIMARY KEY (month, listing_id),
    CHECK (net_satang = gross_satang - refunds_satang),
    CHECK (month = date_trunc('month', month)::date)
);

CREATE TABLE sales_listing_year_facts
(
    year           date   NOT NULL,
    listing_id     uuid   NOT NULL,
    vendor_id      uuid   NOT NULL,
    orders         bigint NOT NULL,
    units          bigint NOT NULL,
    gross_satang   bigint NOT NULL,
    refunds_satang bigint NOT NULL,
    net_satang     bigint NOT NULL,
    PRIMARY KEY (year, listing_id),
    CHECK (net_satang = gross_satang - refunds_satang),
    CHECK (year = date_trunc('year', year)::date)
);
-- One year's top listings are the first rows of one of these, in the order they rank by.
CREATE INDEX sales_listing_year_by_revenue
    ON sales_listing_year_facts (year, net_satang DESC, units DESC, listing_id);
CREATE INDEX sales_listing_year_by_units
    ON sales_listing_year_facts (year, units DESC, net_satang DESC, listing_id);

-- The facts already projected, summed once into their rollups (the log is not read again).
INSERT INTO sales_month_facts
SELECT date_trunc('month', day)::date, district_code, category_code, subtype_code,
       sum(orders_by_subtype), sum(orders_by_category), sum(orders_overall), sum(units),
       sum(gross_satang), sum(refunds_satang), sum(net_satang)
  FROM sales_facts
 GROUP BY 1, 2, 3, 4;

INSERT INTO sales_listing_month_facts
SELECT date_trunc('month', day)::date, listing_id, min(vendor_id::text)::uuid, sum(orders),
       sum(units), sum(gross_satang), sum(refunds_satang), sum(net_satang)
  FROM sales_listing_facts
 GROUP BY 1, 2;

INSERT INTO sales_listing_year_facts
SELECT date_trunc('year', day)::date, listing_id, min(vendor_id::text)::uuid, sum(orders),
       sum(units), sum(gross_satang), sum(refunds_satang), sum(net_satang)
  FROM sales_listing_facts
 GROUP BY 1, 2;
