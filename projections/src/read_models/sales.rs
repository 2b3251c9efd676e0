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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::future::BoxFuture;
use otop_domain::listing::ListingEvent;
use otop_domain::order::OrderEvent;
use otop_domain::vendor::VendorEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{aggregate_uuid, decode, recorded_at, upsert_rows};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

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

/// The Asia/Bangkok calendar day of an instant.
pub fn bangkok_day(at: DateTime<Utc>) -> NaiveDate {
    at.checked_add_signed(chrono::Duration::hours(BANGKOK_OFFSET_HOURS))
        .unwrap_or(at)
        .date_naive()
}

/// Splits `amount` among `weights` in proportion, in whole units: each gets the floor of its
/// exact share, then the units left over go one each to the largest remainders (ties: the
/// earlier index). The shares add up to `amount` exactly. With no weight at all, the first
/// entry takes everything.
pub fn allocate(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut shares = vec![0u64; weights.len()];
    if weights.is_empty() {
        return shares;
    }
    if total == 0 {
        shares[0] = amount;
        return shares;
    }
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u64 = 0;
    for (index, &weight) in weights.iter().enumerate() {
        let exact = u128::from(amount) * u128::from(weight);
        // exact / total <= amount, so it fits in u64.
        let share = u64::try_from(exact / total).unwrap_or(u64::MAX);
        shares[index] = share;
        given = given.saturating_add(share);
        remainders.push((exact % total, index));
    }
    // Largest remainder first, then the earlier line.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = amount.saturating_sub(given);
    for (_, index) in remainders
        .into_iter()
        .take(usize::try_from(left).unwrap_or(0))
    {
        shares[index] += 1;
    }
    shares
}

/// One line of an order as the sales projection remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    pub listing_id: Uuid,
    pub quantity: u32,
    /// unit price × quantity, as placed.
    pub amount_satang: u64,
    pub category_code: String,
    pub subtype_code: String,
    /// This line's share of the payment.
    pub paid_satang: u64,
    /// This line's share of everything refunded so far.
    pub refunded_satang: u64,
}

/// How one order counts in each of its (category, sub-type) cells: `(by_subtype,
/// by_category, overall)`, each 0 or 1, such that summing over any grouping's rows counts
/// each order once per group.
pub fn order_cells(lines: &[SaleLine]) -> BTreeMap<(String, String), (i64, i64, i64)> {
    let cells: BTreeSet<(String, String)> = lines
        .iter()
        .map(|l| (l.category_code.clone(), l.subtype_code.clone()))
        .collect();
    let overall = cells.iter().next().cloned();
    let mut first_of_category: BTreeMap<&str, &str> = BTreeMap::new();
    for (category, subtype) in &cells {
        first_of_category
            .entry(category.as_str())
            .or_insert(subtype.as_str());
    }
    cells
        .iter()
        .map(|cell| {
            let by_category =
                i64::from(first_of_category.get(cell.0.as_str()) == Some(&cell.1.as_str()));
            let is_overall = i64::from(overall.as_ref() == Some(cell));
            (cell.clone(), (1, by_category, is_overall))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measures {
    orders_by_subtype: i64,
    orders_by_category: i64,
    orders_overall: i64,
    units: i64,
    gross: i64,
    refunds: i64,
}

impl Measures {
    fn add(&mut self, other: Measures) {
        self.orders_by_subtype += other.orders_by_subtype;
        self.orders_by_category += other.orders_by_category;
        self.orders_overall += other.orders_overall;
        self.units += other.units;
        self.gross += other.gross;
        self.refunds += other.refunds;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct FactKey {
    day: NaiveDate,
    district_code: String,
    category_code: String,
    subtype_code: String,
    vendor_id: Uuid,
}

#[derive(Debug, Clone)]
struct VendorMemory {
    district_code: String,
    name_th: String,
    name_en: Option<String>,
    last_position: i64,
}

#[derive(Debug, Clone)]
struct ListingMemory {
    vendor_id: Uuid,
    category_code: String,
    subtype_code: String,
    title_th: String,
    title_en: Option<String>,
    last_position: i64,
}

#[derive(Debug, Clone)]
struct OrderMemory {
    vendor_id: Uuid,
    district_code: String,
    lines: Vec<SaleLine>,
    paid_day: Option<NaiveDate>,
    reversed: bool,
    last_position: i64,
}

/// What the batch changes, applied at its end.
#[derive(Default)]
struct Batch {
    vendors: HashMap<Uuid, VendorMemory>,
    listings: HashMap<Uuid, ListingMemory>,
    orders: HashMap<Uuid, OrderMemory>,
    changed_vendors: BTreeSet<Uuid>,
    changed_listings: BTreeSet<Uuid>,
    changed_orders: BTreeSet<Uuid>,
    facts: BTreeMap<FactKey, Measures>,
    listing_facts: BTreeMap<(NaiveDate, Uuid), (Uuid, Measures)>,
}

impl Batch {
    /// Adds `delta` to the line's cell and, with `listing_orders` as its order count, to the
    /// line's listing.
    fn fact(
        &mut self,
        day: NaiveDate,
        order: &OrderMemory,
        line: &SaleLine,
        delta: Measures,
        listing_orders: i64,
    ) {
        let key = FactKey {
            day,
            district_code: order.district_code.clone(),
            category_code: line.category_code.clone(),
            subtype_code: line.subtype_code.clone(),
            vendor_id: order.vendor_id,
        };
        self.facts.entry(key).or_default().add(delta);
        let listing = self
            .listing_facts
            .entry((day, line.listing_id))
            .or_insert((order.vendor_id, Measures::default()));
        // Per listing the order count is `orders_overall`: an order has one line per listing.
        listing.1.add(Measures {
            orders_by_subtype: 0,
            orders_by_category: 0,
            orders_overall: listing_orders,
            ..delta
        });
    }

    /// Counts (sign +1) or takes back (sign -1) the order's units and order counts.
    fn count_order(&mut self, day: NaiveDate, order: &OrderMemory, sign: i64) {
        let cells = order_cells(&order.lines);
        let mut counted: BTreeSet<(String, String)> = BTreeSet::new();
        for line in &order.lines {
            let cell = (line.category_code.clone(), line.subtype_code.clone());
            // The order counts once per cell: on its first line in it.
            let (by_subtype, by_category, overall) = if counted.insert(cell.clone()) {
                cells.get(&cell).copied().unwrap_or((0, 0, 0))
            } else {
                (0, 0, 0)
            };
            let delta = Measures {
                orders_by_subtype: sign * by_subtype,
                orders_by_category: sign * by_category,
                orders_overall: sign * overall,
                units: sign * i64::from(line.quantity),
                ..Measures::default()
            };
            self.fact(day, order, line, delta, sign);
        }
    }
}

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

/// The events this projection reads, decoded.
enum Relevant<'a> {
    Vendor(&'a RecordedEvent, Uuid, VendorEvent),
    Listing(&'a RecordedEvent, Uuid, ListingEvent),
    Order(&'a RecordedEvent, Uuid, OrderEvent),
}

fn is_relevant(event: &RecordedEvent) -> bool {
    match event.aggregate_type.as_str() {
        "Vendor" => matches!(
            event.event_type.as_str(),
            "VendorApplied" | "VendorProfileUpdated"
        ),
        "Listing" => matches!(
            event.event_type.as_str(),
            "ListingCreated" | "ListingDetailsUpdated"
        ),
        "Order" => matches!(
            event.event_type.as_str(),
            "OrderPlaced" | "OrderPaid" | "OrderRefunded" | "OrderCancelled"
        ),
        _ => false,
    }
}

fn amount_i64(event: &RecordedEvent, amount: u64) -> Result<i64, ProjectionError> {
    i64::try_from(amount).map_err(|_| ProjectionError::bad_event(event, "amount out of range"))
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

    async fn load(
        &self,
        conn: &mut PgConnection,
        batch: &mut Batch,
        vendor_ids: &BTreeSet<Uuid>,
        listing_ids: &BTreeSet<Uuid>,
        order_ids: &BTreeSet<Uuid>,
    ) -> Result<(), ProjectionError> {
        let ids: Vec<Uuid> = vendor_ids.iter().copied().collect();
        let vendors: Vec<(Uuid, String, String, Option<String>, i64)> = sqlx::query_as(&format!(
            "SELECT vendor_id, district_code, name_th, name_en, last_position
               FROM {} WHERE vendor_id = ANY($1)",
            self.vendors_table
        ))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        for (id, district_code, name_th, name_en, last_position) in vendors {
            batch.vendors.insert(
                id,
                VendorMemory {
                    district_code,
                    name_th,
                    name_en,
                    last_position,
                },
            );
        }
        let ids: Vec<Uuid> = listing_ids.iter().copied().collect();
        #[allow(clippy::type_complexity)]
        let listings: Vec<(Uuid, Uuid, String, String, String, Option<String>, i64)> =
            sqlx::query_as(&format!(
                "SELECT listing_id, vendor_id, category_code, subtype_code, title_th, title_en,
                        last_position
                   FROM {} WHERE listing_id = ANY($1)",
                self.listings_table
            ))
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
        for (id, vendor_id, category_code, subtype_code, title_th, title_en, last_position) in
            listings
        {
            batch.listings.insert(
                id,
                ListingMemory {
                    vendor_id,
                    category_code,
                    subtype_code,
                    title_th,
                    title_en,
                    last_position,
                },
            );
        }
        let ids: Vec<Uuid> = order_ids.iter().copied().collect();
        #[allow(clippy::type_complexity)]
        let orders: Vec<(Uuid, Uuid, String, Value, Option<NaiveDate>, bool, i64)> =
            sqlx::query_as(&format!(
                "SELECT order_id, vendor_id, district_code, lines, paid_day, reversed, last_position
                   FROM {} WHERE order_id = ANY($1)",
                self.orders_table
            ))
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
        for (id, vendor_id, district_code, lines, paid_day, reversed, last_position) in orders {
            let lines: Vec<SaleLine> =
                serde_json::from_value(lines).map_err(|error| ProjectionError::BadEvent {
                    position: last_position,
                    event_type: "OrderPlaced".into(),
                    message: format!("stored lines of order {id} are unreadable: {error}"),
                })?;
            batch.orders.insert(
                id,
                OrderMemory {
                    vendor_id,
                    district_code,
                    lines,
                    paid_day,
                    reversed,
                    last_position,
                },
            );
        }
        Ok(())
    }

    async fn store(&self, conn: &mut PgConnection, batch: Batch) -> Result<(), ProjectionError> {
        let vendors: Vec<Value> = batch
            .changed_vendors
            .iter()
            .filter_map(|id| batch.vendors.get(id).map(|v| (id, v)))
            .map(|(id, v)| {
                json!({
                    "vendor_id": id,
                    "district_code": v.district_code,
                    "name_th": v.name_th,
                    "name_en": v.name_en,
                    "last_position": v.last_position,
                })
            })
            .collect();
        upsert_rows(
            conn,
            &self.vendors_table,
            "vendor_id",
            VENDOR_COLUMNS,
            vendors,
        )
        .await?;
        let listings: Vec<Value> = batch
            .changed_listings
            .iter()
            .filter_map(|id| batch.listings.get(id).map(|l| (id, l)))
            .map(|(id, l)| {
                json!({
                    "listing_id": id,
                    "vendor_id": l.vendor_id,
                    "category_code": l.category_code,
                    "subtype_code": l.subtype_code,
                    "title_th": l.title_th,
                    "title_en": l.title_en,
                    "last_position": l.last_position,
                })
            })
            .collect();
        upsert_rows(
            conn,
            &self.listings_table,
            "listing_id",
            LISTING_COLUMNS,
            listings,
        )
        .await?;
        let orders: Vec<Value> = batch
            .changed_orders
            .iter()
            .filter_map(|id| batch.orders.get(id).map(|o| (id, o)))
            .map(|(id, o)| {
                json!({
                    "order_id": id,
                    "vendor_id": o.vendor_id,
                    "district_code": o.district_code,
                    "lines": o.lines,
                    "paid_day": o.paid_day,
                    "reversed": o.reversed,
                    "last_position": o.last_position,
                })
            })
            .collect();
        upsert_rows(conn, &self.orders_table, "order_id", ORDER_COLUMNS, orders).await?;

        self.store_facts(conn, &batch).await
    }

    /// The batch's facts, and the same deltas summed into each rollup: a month's cell (no
    /// vendor), a listing's month and a listing's year. Every rollup row is the sum of the
    /// facts under its key because each gets exactly the deltas its facts get, in the same
    /// transaction.
    async fn store_facts(
        &self,
        conn: &mut PgConnection,
        batch: &Batch,
    ) -> Result<(), ProjectionError> {
        let mut months: BTreeMap<(NaiveDate, &str, &str, &str), Measures> = BTreeMap::new();
        for (key, m) in &batch.facts {
            months
                .entry((
                    month_of(key.day),
                    key.district_code.as_str(),
                    key.category_code.as_str(),
                    key.subtype_code.as_str(),
                ))
                .or_default()
                .add(*m);
        }
        let mut listing_months: BTreeMap<(NaiveDate, Uuid), (Uuid, Measures)> = BTreeMap::new();
        let mut listing_years: BTreeMap<(NaiveDate, Uuid), (Uuid, Measures)> = BTreeMap::new();
        for ((day, listing_id), (vendor_id, m)) in &batch.listing_facts {
            for (rollup, period) in [
                (&mut listing_months, month_of(*day)),
                (&mut listing_years, year_of(*day)),
            ] {
                rollup
                    .entry((period, *listing_id))
                    .or_insert((*vendor_id, Measures::default()))
                    .1
                    .add(*m);
            }
        }

        let facts = batch
            .facts
            .iter()
            .map(|(key, m)| {
                cell_row(
                    m,
                    json!({
                        "day": key.day,
                        "district_code": key.district_code,
                        "category_code": key.category_code,
                        "subtype_code": key.subtype_code,
                        "vendor_id": key.vendor_id,
                    }),
                )
            })
            .collect();
        add_rows(conn, &self.facts_table, FACT_KEY, FACT_MEASURES, &[], facts).await?;
        let months = months
            .iter()
            .map(|((month, district_code, category_code, subtype_code), m)| {
                cell_row(
                    m,
                    json!({
                        "month": month,
                        "district_code": district_code,
                        "category_code": category_code,
                        "subtype_code": subtype_code,
                    }),
                )
            })
            .collect();
        add_rows(
            conn,
            &self.month_facts_table,
            MONTH_FACT_KEY,
            FACT_MEASURES,
            &[],
            months,
        )
        .await?;
        let per_listing = [
            (
                &self.listing_facts_table,
                LISTING_FACT_KEY,
                &batch.listing_facts,
            ),
            (
                &self.listing_month_facts_table,
                LISTING_MONTH_FACT_KEY,
                &listing_months,
            ),
            (
                &self.listing_year_facts_table,
                LISTING_YEAR_FACT_KEY,
                &listing_years,
            ),
        ];
        for (table, key, sums) in per_listing {
            let rows = sums
                .iter()
                .map(|((period, listing_id), (vendor_id, m))| {
                    json!({
                        key[0]: period,
                        "listing_id": listing_id,
                        "vendor_id": vendor_id,
                        "orders": m.orders_overall,
                        "units": m.units,
                        "gross_satang": m.gross,
                        "refunds_satang": m.refunds,
                        "net_satang": m.gross - m.refunds,
                    })
                })
                .collect();
            add_rows(
                conn,
                table,
                key,
                LISTING_FACT_MEASURES,
                &["vendor_id"],
                rows,
            )
            .await?;
        }
        Ok(())
    }
}

/// The first day of the month of `day`.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// 1 January of the year of `day`.
pub fn year_of(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
}

/// A fact row of a (district, category, sub-type) cell: `key`'s columns and the measures.
fn cell_row(m: &Measures, key: Value) -> Value {
    let mut row = key;
    if let Value::Object(columns) = &mut row {
        for (column, value) in [
            ("orders_by_subtype", m.orders_by_subtype),
            ("orders_by_category", m.orders_by_category),
            ("orders_overall", m.orders_overall),
            ("units", m.units),
            ("gross_satang", m.gross),
            ("refunds_satang", m.refunds),
            ("net_satang", m.gross - m.refunds),
        ] {
            columns.insert(column.to_string(), Value::from(value));
        }
    }
    row
}

/// Adds `rows` (JSON objects keyed by column) to `table`: a new key is inserted, an existing
/// one has each of `measures` increased by the row's value.
async fn add_rows(
    conn: &mut PgConnection,
    table: &str,
    key: &[&str],
    measures: &[&str],
    others: &[&str],
    rows: Vec<Value>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<&str> = key.iter().chain(others).chain(measures).copied().collect();
    let column_list = columns.join(", ");
    let updates = measures
        .iter()
        .map(|m| format!("{m} = {table}.{m} + EXCLUDED.{m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {table} ({column_list})
         SELECT {column_list} FROM jsonb_populate_recordset(NULL::{table}, $1)
         ON CONFLICT ({}) DO UPDATE SET {updates}",
        key.join(", ")
    );
    sqlx::query(&sql)
        .bind(Value::Array(rows))
        .execute(conn)
        .await?;
    Ok(())
}

fn apply_vendor(batch: &mut Batch, event: &RecordedEvent, id: Uuid, payload: VendorEvent) {
    match payload {
        VendorEvent::VendorApplied { profile, .. } => {
            batch.vendors.insert(
                id,
                VendorMemory {
                    district_code: profile.district_code.as_str().to_string(),
                    name_th: profile.name_th,
                    name_en: profile.name_en,
                    last_position: event.position,
                },
            );
            batch.changed_vendors.insert(id);
        }
        VendorEvent::VendorProfileUpdated { patch } => {
            if let Some(vendor) = batch.vendors.get_mut(&id) {
                if let Some(district) = &patch.district_code {
                    vendor.district_code = district.as_str().to_string();
                }
                if let Some(name_th) = patch.name_th {
                    vendor.name_th = name_th;
                }
                if let Some(name_en) = patch.name_en {
                    vendor.name_en = Some(name_en);
                }
                vendor.last_position = event.position;
                batch.changed_vendors.insert(id);
            }
        }
        _ => {}
    }
}

fn apply_listing(batch: &mut Batch, event: &RecordedEvent, id: Uuid, payload: ListingEvent) {
    match payload {
        ListingEvent::ListingCreated {
            vendor_id, details, ..
        } => {
            batch.listings.insert(
                id,
                ListingMemory {
                    vendor_id,
                    category_code: details.category_code.as_str().to_string(),
                    subtype_code: details.subtype_code.as_str().to_string(),
                    title_th: details.title_th,
                    title_en: details.title_en,
                    last_position: event.position,
                },
            );
            batch.changed_listings.insert(id);
        }
        ListingEvent::ListingDetailsUpdated { patch } => {
            if let Some(listing) = batch.listings.get_mut(&id) {
                if let Some(category) = &patch.category_code {
                    listing.category_code = category.as_str().to_string();
                }
                if let Some(subtype) = &patch.subtype_code {
                    listing.subtype_code = subtype.as_str().to_string();
                }
                if let Some(title_th) = patch.title_th {
                    listing.title_th = title_th;
                }
                if let Some(title_en) = patch.title_en {
                    listing.title_en = Some(title_en);
                }
                listing.last_position = event.position;
                batch.changed_listings.insert(id);
            }
        }
        _ => {}
    }
}

/// Shares `amount` going back among the lines, in proportion to what each has paid and not
/// had back yet, and books it as refunds on `day`.
fn refund(
    batch: &mut Batch,
    event: &RecordedEvent,
    order: &mut OrderMemory,
    day: NaiveDate,
    amount: u64,
) -> Result<(), ProjectionError> {
    let remaining: Vec<u64> = order
        .lines
        .iter()
        .map(|l| l.paid_satang.saturating_sub(l.refunded_satang))
        .collect();
    let left: u64 = remaining.iter().sum();
    if amount > left {
        return Err(ProjectionError::bad_event(
            event,
            format!("refunds {amount} satang when only {left} satang is left to refund"),
        ));
    }
    let shares = allocate(amount, &remaining);
    for (index, share) in shares.into_iter().enumerate() {
        if share == 0 {
            continue;
        }
        order.lines[index].refunded_satang += share;
        let line = order.lines[index].clone();
        let delta = Measures {
            refunds: amount_i64(event, share)?,
            ..Measures::default()
        };
        batch.fact(day, order, &line, delta, 0);
    }
    Ok(())
}

fn apply_order(
    batch: &mut Batch,
    event: &RecordedEvent,
    id: Uuid,
    payload: OrderEvent,
) -> Result<(), ProjectionError> {
    let day = bangkok_day(recorded_at(event));
    if let OrderEvent::OrderPlaced {
        vendor_id, lines, ..
    } = &payload
    {
        let district_code = batch
            .vendors
            .get(vendor_id)
            .map(|v| v.district_code.clone())
            .unwrap_or_else(|| UNKNOWN.to_string());
        let mut sale_lines = Vec::with_capacity(lines.len());
        for line in lines {
            let listing = batch.listings.get(&line.listing_id);
            let amount = line
                .unit_price
                .get()
                .checked_mul(u64::from(line.quantity))
                .ok_or_else(|| ProjectionError::bad_event(event, "line amount out of range"))?;
            sale_lines.push(SaleLine {
                listing_id: line.listing_id,
                quantity: line.quantity,
                amount_satang: amount,
                category_code: listing
                    .map(|l| l.category_code.clone())
                    .unwrap_or_else(|| UNKNOWN.to_string()),
                subtype_code: listing
                    .map(|l| l.subtype_code.clone())
                    .unwrap_or_else(|| UNKNOWN.to_string()),
                paid_satang: 0,
                refunded_satang: 0,
            });
        }
        batch.orders.insert(
            id,
            OrderMemory {
                vendor_id: *vendor_id,
                district_code,
                lines: sale_lines,
                paid_day: None,
                reversed: false,
                last_position: event.position,
            },
        );
        batch.changed_orders.insert(id);
        return Ok(());
    }
    let Some(mut order) = batch.orders.remove(&id) else {
        return Err(ProjectionError::bad_event(
            event,
            format!("order {id} has events but was never placed"),
        ));
    };
    let outcome = apply_to_order(batch, event, &mut order, day, payload);
    order.last_position = event.position;
    batch.orders.insert(id, order);
    batch.changed_orders.insert(id);
    outcome
}

fn apply_to_order(
    batch: &mut Batch,
    event: &RecordedEvent,
    order: &mut OrderMemory,
    day: NaiveDate,
    payload: OrderEvent,
) -> Result<(), ProjectionError> {
    match payload {
        OrderEvent::OrderPaid { amount, .. } => {
            if order.paid_day.is_some() {
                return Err(ProjectionError::bad_event(
                    event,
                    "the order was already paid",
                ));
            }
            let weights: Vec<u64> = order.lines.iter().map(|l| l.amount_satang).collect();
            let shares = allocate(amount.get(), &weights);
            for (line, share) in order.lines.iter_mut().zip(shares) {
                line.paid_satang = share;
            }
            order.paid_day = Some(day);
            batch.count_order(day, order, 1);
            for line in order.lines.clone() {
                let share = amount_i64(event, line.paid_satang)?;
                let delta = Measures {
                    gross: share,
                    ..Measures::default()
                };
                batch.fact(day, order, &line, delta, 0);
            }
        }
        OrderEvent::OrderRefunded { amount, .. } => {
            if order.paid_day.is_none() {
                return Err(ProjectionError::bad_event(
                    event,
                    "money goes back on an order that was never paid",
                ));
            }
            refund(batch, event, order, day, amount.get())?;
        }
        OrderEvent::OrderCancelled { refund_satang, .. } => {
            if order.paid_day.is_none() {
                if refund_satang > 0 {
                    return Err(ProjectionError::bad_event(
                        event,
                        "money goes back on an order that was never paid",
                    ));
                }
                return Ok(());
            }
            if !order.reversed {
                order.reversed = true;
                batch.count_order(day, order, -1);
            }
            refund(batch, event, order, day, refund_satang)?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_and_proportional() {
        assert_eq!(allocate(100, &[1, 1, 1]), [34, 33, 33]);
        assert_eq!(allocate(100, &[1, 1, 2]), [25, 25, 50]);
        assert_eq!(allocate(1, &[1, 1]), [1, 0]);
        assert_eq!(allocate(0, &[5, 7]), [0, 0]);
        assert_eq!(allocate(7, &[0, 0]), [7, 0]);
        assert_eq!(allocate(5, &[]), Vec::<u64>::new());
        // 10 over 3:7 -> 3, 7; 11 over 3:7 -> 3.3, 7.7 -> 3, 8.
        assert_eq!(allocate(11, &[3, 7]), [3, 8]);
        for amount in [0u64, 1, 2, 99, 1_000_000_007] {
            let weights = [350_000u64, 12_345, 1, 99_999];
            let shares = allocate(amount, &weights);
            assert_eq!(shares.iter().sum::<u64>(), amount);
        }
    }

    #[test]
    fn refunds_never_pass_a_line_and_a_full_refund_zeroes_every_line() {
        let paid = [1u64, 1, 1, 7];
        let mut refunded = [0u64; 4];
        for amount in [1u64, 1, 1, 2] {
            let remaining: Vec<u64> = paid.iter().zip(&refunded).map(|(p, r)| p - r).collect();
            for (r, share) in refunded.iter_mut().zip(allocate(amount, &remaining)) {
                *r += share;
            }
            assert!(refunded.iter().zip(&paid).all(|(r, p)| r <= p));
        }
        let remaining: Vec<u64> = paid.iter().zip(&refunded).map(|(p, r)| p - r).collect();
        let left: u64 = remaining.iter().sum();
        for (r, share) in refunded.iter_mut().zip(allocate(left, &remaining)) {
            *r += share;
        }
        assert_eq!(refunded, paid);
    }

    #[test]
    fn bangkok_days_start_at_17_utc() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("time")
                .with_timezone(&Utc)
        };
        assert_eq!(
            bangkok_day(at("2026-01-31T16:59:59Z")).to_string(),
            "2026-01-31"
        );
        assert_eq!(
            bangkok_day(at("2026-01-31T17:00:00Z")).to_string(),
            "2026-02-01"
        );
    }

    fn line(category: &str, subtype: &str) -> SaleLine {
        SaleLine {
            listing_id: Uuid::new_v4(),
            quantity: 1,
            amount_satang: 100,
            category_code: category.into(),
            subtype_code: subtype.into(),
            paid_satang: 100,
            refunded_satang: 0,
        }
    }

    #[test]
    fn an_order_counts_once_per_group_at_every_level() {
        let lines = [
            line("TEXTILE", "TEX_SILK_MUDMEE"),
            line("TEXTILE", "TEX_SCARF"),
            line("TEXTILE", "TEX_SCARF"),
            line("CRAFT", "CRF_WOOD"),
        ];
        let cells = order_cells(&lines);
        assert_eq!(cells.len(), 3);
        let sum = |f: fn(&(i64, i64, i64)) -> i64| cells.values().map(f).sum::<i64>();
        assert_eq!(sum(|c| c.0), 3, "one per sub-type");
        assert_eq!(sum(|c| c.1), 2, "one per category");
        assert_eq!(sum(|c| c.2), 1, "one overall");
        assert_eq!(
            cells[&("TEXTILE".to_string(), "TEX_SCARF".to_string())],
            (1, 1, 0),
            "the lowest sub-type code of the category holds its count"
        );
        assert_eq!(
            cells[&("CRAFT".to_string(), "CRF_WOOD".to_string())],
            (1, 1, 1)
        );
    }
}
