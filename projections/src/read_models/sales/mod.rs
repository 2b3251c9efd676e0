//! Projection `sales`: sales facts per Asia/Bangkok day × district × OTOP category ×
//! sub-type × vendor, and per day × listing, for the provincial office's analysts.
//!
//! The rules (the migration `20260102000002_sales.sql` says them once more, next to the
//! columns):
//! - `OrderPaid`: each line's share of the payment is gross (and net) on the payment's
//!   Bangkok day, with its units, and the order counts once at each level (sub-type,
//!   category, overall: see [`order_cells`]).
//! - `OrderRefunded`: the amount is shared among the lines ([`allocate`]) and counted as
//!   refunds on the refund's day.
//! - `OrderCancelled` after payment: what goes back is refunds on the cancellation's day, and
//!   the order's units and order counts are taken back that day (the goods never left).
//!
//! District, category and sub-type are those in force when the order was placed, kept in
//! this projection's own tables from `VendorApplied` / `VendorProfileUpdated` and
//! `ListingCreated` / `ListingDetailsUpdated`. All money is integer satang; every fact is an
//! additive delta keyed by its cell, so a batch of any size writes the same totals.
//!
//! - `rules.rs`: the rules above, pure (days, shares, order counts, measures);
//! - `apply.rs`: what each event does to the batch's memories and facts;
//! - `store.rs`: loading the memories a batch needs, writing the facts and their rollups;
//! - here: the projection, which runs a batch through the three.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use otop_domain::order::OrderEvent;
use sqlx::PgConnection;

mod apply;
mod rules;
mod store;

pub use rules::{allocate, bangkok_day, month_of, order_cells, year_of, SaleLine};

use apply::{apply_listing, apply_order, apply_vendor, is_relevant, Batch, Relevant};

use super::{aggregate_uuid, decode};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

/// The tables this projection owns, each with the column (or comma-separated columns) that
/// identifies a row; rebuilds and digests cover exactly these.
pub const TABLES: &[(&str, &str)] = &[
    (
        "sales_facts",
        "day, district_code, category_code, subtype_code, vendor_id",
    ),
    ("sales_listing_facts", "day, listing_id"),
    ("sales_vendors", "vendor_id"),
    ("sales_listings", "listing_id"),
    ("sales_orders", "order_id"),
    (
        "sales_month_facts",
        "month, district_code, category_code, subtype_code",
    ),
    ("sales_listing_month_facts", "month, listing_id"),
    ("sales_listing_year_facts", "year, listing_id"),
];

pub const FACTS_TABLE: &str = "sales_facts";
pub const LISTING_FACTS_TABLE: &str = "sales_listing_facts";
pub const VENDORS_TABLE: &str = "sales_vendors";
pub const LISTINGS_TABLE: &str = "sales_listings";
pub const ORDERS_TABLE: &str = "sales_orders";
/// Rollups of the facts, kept in the same transaction (migration 20261204000001).
pub const MONTH_FACTS_TABLE: &str = "sales_month_facts";
pub const LISTING_MONTH_FACTS_TABLE: &str = "sales_listing_month_facts";
pub const LISTING_YEAR_FACTS_TABLE: &str = "sales_listing_year_facts";

/// The code a line is filed under when its listing or vendor was never seen.
pub const UNKNOWN: &str = "UNKNOWN";

/// Asia/Bangkok is UTC+7 all year (no daylight saving since 1920).
pub const BANGKOK_OFFSET_HOURS: i64 = 7;

const FACT_KEY: &[&str] = &[
    "day",
    "district_code",
    "category_code",
    "subtype_code",
    "vendor_id",
];
const FACT_MEASURES: &[&str] = &[
    "orders_by_subtype",
    "orders_by_category",
    "orders_overall",
    "units",
    "gross_satang",
    "refunds_satang",
    "net_satang",
];
const MONTH_FACT_KEY: &[&str] = &["month", "district_code", "category_code", "subtype_code"];
const LISTING_FACT_KEY: &[&str] = &["day", "listing_id"];
const LISTING_MONTH_FACT_KEY: &[&str] = &["month", "listing_id"];
const LISTING_YEAR_FACT_KEY: &[&str] = &["year", "listing_id"];
const LISTING_FACT_MEASURES: &[&str] = &[
    "orders",
    "units",
    "gross_satang",
    "refunds_satang",
    "net_satang",
];
const VENDOR_COLUMNS: &[&str] = &[
    "vendor_id",
    "district_code",
    "name_th",
    "name_en",
    "last_position",
];
const LISTING_COLUMNS: &[&str] = &[
    "listing_id",
    "vendor_id",
    "category_code",
    "subtype_code",
    "title_th",
    "title_en",
    "last_position",
];
const ORDER_COLUMNS: &[&str] = &[
    "order_id",
    "vendor_id",
    "district_code",
    "lines",
    "paid_day",
    "reversed",
    "last_position",
];

pub struct SalesProjection {
    name: String,
    facts_table: String,
    listing_facts_table: String,
    vendors_table: String,
    listings_table: String,
    orders_table: String,
    month_facts_table: String,
    listing_month_facts_table: String,
    listing_year_facts_table: String,
}

impl SalesProjection {
    pub fn new(name: &str, table_suffix: &str) -> Self {
        SalesProjection {
            name: name.to_string(),
            facts_table: format!("{FACTS_TABLE}{table_suffix}"),
            listing_facts_table: format!("{LISTING_FACTS_TABLE}{table_suffix}"),
            vendors_table: format!("{VENDORS_TABLE}{table_suffix}"),
            listings_table: format!("{LISTINGS_TABLE}{table_suffix}"),
            orders_table: format!("{ORDERS_TABLE}{table_suffix}"),
            month_facts_table: format!("{MONTH_FACTS_TABLE}{table_suffix}"),
            listing_month_facts_table: format!("{LISTING_MONTH_FACTS_TABLE}{table_suffix}"),
            listing_year_facts_table: format!("{LISTING_YEAR_FACTS_TABLE}{table_suffix}"),
        }
    }
}

impl Projection for SalesProjection {
    fn wants(&self, event: &RecordedEvent) -> bool {
        is_relevant(event)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(self.apply_batch(conn, events))
    }
}

impl SalesProjection {
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut relevant = Vec::new();
        let mut vendor_ids = BTreeSet::new();
        let mut listing_ids = BTreeSet::new();
        let mut order_ids = BTreeSet::new();
        for event in events.iter().filter(|e| is_relevant(e)) {
            let id = aggregate_uuid(event)?;
            match event.aggregate_type.as_str() {
                "Vendor" => {
                    vendor_ids.insert(id);
                    relevant.push(Relevant::Vendor(event, id, decode(event)?));
                }
                "Listing" => {
                    listing_ids.insert(id);
                    relevant.push(Relevant::Listing(event, id, decode(event)?));
                }
                _ => {
                    let payload: OrderEvent = decode(event)?;
                    if let OrderEvent::OrderPlaced {
                        vendor_id, lines, ..
                    } = &payload
                    {
                        vendor_ids.insert(*vendor_id);
                        listing_ids.extend(lines.iter().map(|l| l.listing_id));
                    }
                    order_ids.insert(id);
                    relevant.push(Relevant::Order(event, id, payload));
                }
            }
        }
        if relevant.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        let opened = super::opened_in(events, "Order");
        order_ids.retain(|id| !opened.contains(id));
        self.load(conn, &mut batch, &vendor_ids, &listing_ids, &order_ids)
            .await?;
        for item in relevant {
            match item {
                Relevant::Vendor(event, id, payload) => {
                    apply_vendor(&mut batch, event, id, payload)
                }
                Relevant::Listing(event, id, payload) => {
                    apply_listing(&mut batch, event, id, payload)
                }
                Relevant::Order(event, id, payload) => apply_order(&mut batch, event, id, payload)?,
            }
        }
        self.store(conn, batch).await
    }
}
