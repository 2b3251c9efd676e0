//! Reading what the batch needs to remember and writing what it changed: the memories'
//! rows, and the facts with their three rollups, from the same deltas in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::apply::{Batch, ListingMemory, OrderMemory, VendorMemory};
use super::rules::{month_of, year_of, Measures, SaleLine};
use super::*;
use crate::projection::ProjectionError;
use crate::read_models::upsert_rows;

/// A vendor as this projection's own table remembers it.
#[derive(sqlx::FromRow)]
struct VendorRow {
    vendor_id: Uuid,
    district_code: String,
    name_th: String,
    name_en: Option<String>,
    last_position: i64,
}

/// A listing as this projection's own table remembers it.
#[derive(sqlx::FromRow)]
struct ListingRow {
    listing_id: Uuid,
    vendor_id: Uuid,
    category_code: String,
    subtype_code: String,
    title_th: String,
    title_en: Option<String>,
    last_position: i64,
}

/// An order as this projection's own table remembers it (`lines`: its [`SaleLine`]s).
#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    vendor_id: Uuid,
    district_code: String,
    lines: Value,
    paid_day: Option<NaiveDate>,
    reversed: bool,
    last_position: i64,
}

impl SalesProjection {
    pub(super) async fn load(
        &self,
        conn: &mut PgConnection,
        batch: &mut Batch,
        vendor_ids: &BTreeSet<Uuid>,
        listing_ids: &BTreeSet<Uuid>,
        order_ids: &BTreeSet<Uuid>,
    ) -> Result<(), ProjectionError> {
        let ids: Vec<Uuid> = vendor_ids.iter().copied().collect();
        let vendors: Vec<VendorRow> = super::super::fetch_by_ids(
            &mut *conn,
            &format!(
                "SELECT vendor_id, district_code, name_th, name_en, last_position
               FROM {} WHERE vendor_id = ANY($1)",
                self.vendors_table
            ),
            &ids,
        )
        .await?;
        for row in vendors {
            batch.vendors.insert(
                row.vendor_id,
                VendorMemory {
                    district_code: row.district_code,
                    name_th: row.name_th,
                    name_en: row.name_en,
                    last_position: row.last_position,
                },
            );
        }
        let ids: Vec<Uuid> = listing_ids.iter().copied().collect();
        let listings: Vec<ListingRow> = super::super::fetch_by_ids(
            &mut *conn,
            &format!(
                "SELECT listing_id, vendor_id, category_code, subtype_code, title_th, title_en,
                    last_position
               FROM {} WHERE listing_id = ANY($1)",
                self.listings_table
            ),
            &ids,
        )
        .await?;
        for row in listings {
            batch.listings.insert(
                row.listing_id,
                ListingMemory {
                    vendor_id: row.vendor_id,
                    category_code: row.category_code,
                    subtype_code: row.subtype_code,
                    title_th: row.title_th,
                    title_en: row.title_en,
                    last_position: row.last_position,
                },
            );
        }
        let ids: Vec<Uuid> = order_ids.iter().copied().collect();
        let orders: Vec<OrderRow> = super::super::fetch_by_ids(
            &mut *conn,
            &format!(
            "SELECT order_id, vendor_id, district_code, lines, paid_day, reversed, last_position
               FROM {} WHERE order_id = ANY($1)",
            self.orders_table
        ),
            &ids,
        )
        .await?;
        for row in orders {
            let lines: Vec<SaleLine> =
                serde_json::from_value(row.lines).map_err(|error| ProjectionError::BadEvent {
                    position: row.last_position,
                    event_type: "OrderPlaced".into(),
                    message: format!(
                        "stored lines of order {} are unreadable: {error}",
                        row.order_id
                    ),
                })?;
            batch.orders.insert(
                row.order_id,
                OrderMemory {
                    vendor_id: row.vendor_id,
                    district_code: row.district_code,
                    lines,
                    paid_day: row.paid_day,
                    reversed: row.reversed,
                    last_position: row.last_position,
                },
            );
        }
        Ok(())
    }

    pub(super) async fn store(
        &self,
        conn: &mut PgConnection,
        batch: Batch,
    ) -> Result<(), ProjectionError> {
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

/// A fact row of a (district, category, sub-type) cell: `key`'s columns and the measures.
pub(super) fn cell_row(m: &Measures, key: Value) -> Value {
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
pub(super) async fn add_rows(
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
