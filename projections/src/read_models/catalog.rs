//! Projection `catalog`: the vendor directory and the listing catalog. They are one projection
//! because each depends on the other (a vendor's published-listing count, a listing's vendor
//! status and district), and one checkpoint keeps them consistent with each other.
//!
//! Stock is the busiest part of the log (every checkout reserves, every payment or expiry
//! commits or releases), so stock events touch only the stock columns: one `UPDATE` of three
//! numbers per listing and batch, which PostgreSQL can do in place (no index holds them).
//! The row's other columns and its `state` (the aggregate, whose JSON PostgreSQL compresses)
//! are rewritten only for the events that change them. So `state` keeps no stock: its
//! available, sold and active reservations stay zero and empty, and readers take the stock
//! from the columns.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use otop_domain::listing::ListingEvent;
use otop_domain::vendor::VendorEvent;
use otop_domain::{Listing, Vendor};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{aggregate_uuid, decode, load_states, recorded_at, upsert_rows, upsert_rows_keeping};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

/// The tables this projection owns, each with the column (or comma-separated columns) that
/// identifies a row; rebuilds and digests cover exactly these.
pub const TABLES: &[(&str, &str)] = &[
    ("vendor_directory", "vendor_id"),
    ("listing_catalog", "listing_id"),
];

const VENDOR_COLUMNS: &[&str] = &[
    "vendor_id",
    "status",
    "name_th",
    "name_en",
    "district_code",
    "producer_type",
    "phone",
    "email",
    "payout_promptpay",
    "status_reason",
    "published_listings",
    "applied_at",
    "updated_at",
    "last_position",
    "state",
];

const LISTING_COLUMNS: &[&str] = &[
    "listing_id",
    "vendor_id",
    "status",
    "title_th",
    "title_en",
    "description_th",
    "description_en",
    "category_code",
    "subtype_code",
    "price_satang",
    "available_stock",
    "reserved_stock",
    "units_sold",
    "weight_grams",
    "otop_stars",
    "tags",
    "image_urls",
    "take_down_reason",
    "vendor_status",
    "vendor_name_th",
    "district_code",
    "created_at",
    "published_at",
    "updated_at",
    "last_position",
    "state",
];

/// The columns only [`StockMoves`] writes.
const STOCK_COLUMNS: &[&str] = &["available_stock", "reserved_stock", "units_sold"];

/// What one batch does to one listing's stock, in log order: the last absolute amount
/// available it set (on creation, or a vendor's stock change), then the units moved after
/// that. `decide` refuses a reservation beyond what is available, so the sums never go below
/// zero where the aggregate's one-by-one arithmetic would have stopped at it.
#[derive(Debug, Default)]
struct StockMoves {
    /// Whether any event of the batch touched the stock (a listing whose events only change
    /// its details is not updated again).
    moved: bool,
    set_available: Option<i64>,
    available: i64,
    reserved: i64,
    sold: i64,
    updated_at: Option<DateTime<Utc>>,
    last_position: i64,
}

impl StockMoves {
    /// Takes in `payload`'s effect on the stock; whether it is a stock event, which changes
    /// nothing else of the listing.
    fn apply(&mut self, event: &RecordedEvent, payload: &ListingEvent) -> bool {
        self.updated_at = Some(recorded_at(event));
        self.last_position = event.position;
        self.moved |= matches!(
            payload,
            ListingEvent::ListingCreated { .. }
                | ListingEvent::ListingStockChanged { .. }
                | ListingEvent::StockReserved { .. }
                | ListingEvent::StockReleased { .. }
                | ListingEvent::StockCommitted { .. }
        );
        match payload {
            ListingEvent::ListingCreated { stock, .. } => {
                self.set(i64::from(*stock));
                false
            }
            ListingEvent::ListingStockChanged { available, .. } => {
                self.set(i64::from(*available));
                true
            }
            ListingEvent::StockReserved { quantity, .. } => {
                self.available -= i64::from(*quantity);
                self.reserved += i64::from(*quantity);
                true
            }
            ListingEvent::StockReleased { quantity, .. } => {
                self.available += i64::from(*quantity);
                self.reserved -= i64::from(*quantity);
                true
            }
            ListingEvent::StockCommitted { quantity, .. } => {
                self.reserved -= i64::from(*quantity);
                self.sold += i64::from(*quantity);
                true
            }
            _ => false,
        }
    }

    fn set(&mut self, available: i64) {
        self.set_available = Some(available);
        self.available = 0;
    }
}

pub struct CatalogProjection {
    name: String,
    vendors_table: String,
    listings_table: String,
}

impl CatalogProjection {
    pub fn new(name: &str, table_suffix: &str) -> Self {
        CatalogProjection {
            name: name.to_string(),
            vendors_table: format!("vendor_directory{table_suffix}"),
            listings_table: format!("listing_catalog{table_suffix}"),
        }
    }
}

struct VendorRow {
    aggregate: Vendor,
    applied_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

struct ListingRow {
    aggregate: Listing,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

fn time_field(row: &Value, field: &str) -> Option<DateTime<Utc>> {
    row.get(field)
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

impl Projection for CatalogProjection {
    fn wants(&self, event: &RecordedEvent) -> bool {
        matches!(event.aggregate_type.as_str(), "Listing" | "Vendor")
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

impl CatalogProjection {
    /// Every listing's stock moves of the batch, in one statement; each row's `updated_at` and
    /// `last_position` become those of its last event. A listing with stock events but no
    /// row was never created: the log is not what this projection understands, so it stops.
    async fn move_stock(
        &self,
        conn: &mut PgConnection,
        stock: &HashMap<Uuid, StockMoves>,
    ) -> Result<(), ProjectionError> {
        let stock: HashMap<&Uuid, &StockMoves> = stock.iter().filter(|(_, m)| m.moved).collect();
        if stock.is_empty() {
            return Ok(());
        }
        let moves: Vec<Value> = stock
            .iter()
            .map(|(id, m)| {
                json!({
                    "listing_id": id,
                    "set_available": m.set_available,
                    "available": m.available,
                    "reserved": m.reserved,
                    "sold": m.sold,
                    "updated_at": m.updated_at,
                    "last_position": m.last_position,
                })
            })
            .collect();
        let moved: Vec<Uuid> = sqlx::query_scalar(&format!(
            "UPDATE {listings} l
                SET available_stock = coalesce(m.set_available, l.available_stock) + m.available,
                    reserved_stock = l.reserved_stock + m.reserved,
                    units_sold = l.units_sold + m.sold,
                    updated_at = coalesce(m.updated_at, l.updated_at),
                    last_position = m.last_position
               FROM jsonb_to_recordset($1) AS m(listing_id uuid, set_available bigint,
                    available bigint, reserved bigint, sold bigint, updated_at timestamptz,
                    last_position bigint)
              WHERE l.listing_id = m.listing_id
             RETURNING l.listing_id",
            listings = self.listings_table,
        ))
        .bind(Value::Array(moves))
        .fetch_all(&mut *conn)
        .await?;
        if moved.len() < stock.len() {
            let moved: BTreeSet<Uuid> = moved.into_iter().collect();
            let (id, position) = stock
                .iter()
                .find(|(id, _)| !moved.contains(id))
                .map(|(id, moves)| (**id, moves.last_position))
                .unwrap_or_default();
            return Err(ProjectionError::BadEvent {
                position,
                event_type: "Listing".into(),
                message: format!("listing {id} has events but was never created"),
            });
        }
        Ok(())
    }

    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut vendor_ids = BTreeSet::new();
        // Every listing event, decoded once; the listings with an event other than a stock
        // movement (they need their whole row); and what the batch does to each one's stock.
        let mut listing_events = Vec::new();
        let mut listing_ids = BTreeSet::new();
        let mut stock: HashMap<Uuid, StockMoves> = HashMap::new();
        for event in events {
            match event.aggregate_type.as_str() {
                "Vendor" => {
                    vendor_ids.insert(aggregate_uuid(event)?);
                }
                "Listing" => {
                    let id = aggregate_uuid(event)?;
                    let payload: ListingEvent = decode(event)?;
                    let moves = stock.entry(id).or_default();
                    if !moves.apply(event, &payload) {
                        listing_ids.insert(id);
                    }
                    listing_events.push((event, id, payload));
                }
                _ => {}
            }
        }
        if vendor_ids.is_empty() && stock.is_empty() {
            return Ok(());
        }

        let vendor_ids: Vec<Uuid> = vendor_ids.into_iter().collect();
        let whole_listings: Vec<Uuid> = listing_ids.iter().copied().collect();
        let mut vendors: HashMap<Uuid, VendorRow> = HashMap::new();
        for (id, aggregate, row) in
            load_states::<Vendor>(conn, &self.vendors_table, "vendor_id", &vendor_ids).await?
        {
            vendors.insert(
                id,
                VendorRow {
                    aggregate,
                    applied_at: time_field(&row, "applied_at").unwrap_or(DateTime::UNIX_EPOCH),
                    updated_at: time_field(&row, "updated_at").unwrap_or(DateTime::UNIX_EPOCH),
                    last_position: row
                        .get("last_position")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                },
            );
        }
        let mut listings: HashMap<Uuid, ListingRow> = HashMap::new();
        for (id, aggregate, row) in
            load_states::<Listing>(conn, &self.listings_table, "listing_id", &whole_listings)
                .await?
        {
            listings.insert(
                id,
                ListingRow {
                    aggregate,
                    created_at: time_field(&row, "created_at").unwrap_or(DateTime::UNIX_EPOCH),
                    published_at: time_field(&row, "published_at"),
                    updated_at: time_field(&row, "updated_at").unwrap_or(DateTime::UNIX_EPOCH),
                    last_position: row
                        .get("last_position")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                },
            );
        }

        for event in events.iter().filter(|e| e.aggregate_type == "Vendor") {
            let at = recorded_at(event);
            let id = aggregate_uuid(event)?;
            let payload: VendorEvent = decode(event)?;
            let row = vendors.entry(id).or_insert_with(|| VendorRow {
                aggregate: Vendor::default(),
                applied_at: at,
                updated_at: at,
                last_position: 0,
            });
            if matches!(payload, VendorEvent::VendorApplied { .. }) {
                row.applied_at = at;
            }
            cqrs_es::Aggregate::apply(&mut row.aggregate, payload);
            row.updated_at = at;
            row.last_position = event.position;
        }
        for (event, id, payload) in listing_events {
            // Stock-only listings are not loaded: their columns are updated below.
            if !listing_ids.contains(&id) {
                continue;
            }
            let at = recorded_at(event);
            let row = listings.entry(id).or_insert_with(|| ListingRow {
                aggregate: Listing::default(),
                created_at: at,
                published_at: None,
                updated_at: at,
                last_position: 0,
            });
            match payload {
                ListingEvent::ListingCreated { .. } => row.created_at = at,
                ListingEvent::ListingPublished => row.published_at = Some(at),
                _ => {}
            }
            cqrs_es::Aggregate::apply(&mut row.aggregate, payload);
            row.updated_at = at;
            row.last_position = event.position;
        }

        let mut affected_vendors: BTreeSet<Uuid> = vendors.keys().copied().collect();
        let mut vendor_rows = Vec::with_capacity(vendors.len());
        for (id, row) in &vendors {
            let Some(state) = row.aggregate.state() else {
                return Err(ProjectionError::BadEvent {
                    position: row.last_position,
                    event_type: "Vendor".into(),
                    message: format!("vendor {id} has events but never applied"),
                });
            };
            vendor_rows.push(json!({
                "vendor_id": id,
                "status": state.status.as_str(),
                "name_th": state.profile.name_th,
                "name_en": state.profile.name_en,
                "district_code": state.profile.district_code.as_str(),
                "producer_type": state.profile.producer_type.as_str(),
                "phone": state.profile.phone.as_str(),
                "email": state.profile.email.as_ref().map(|e| e.as_str()),
                "payout_promptpay": state.profile.payout_promptpay.as_ref().map(|p| p.as_str()),
                "status_reason": state.status_reason,
                "published_listings": 0,
                "applied_at": row.applied_at,
                "updated_at": row.updated_at,
                "last_position": row.last_position,
                "state": row.aggregate,
            }));
        }
        let mut listing_rows = Vec::with_capacity(listings.len());
        for (id, row) in &mut listings {
            // The stock lives in its columns (see the module's comment).
            if let Some(state) = row.aggregate.0.as_mut() {
                state.available = 0;
                state.sold = 0;
                state.reservations.clear();
            }
            let Some(state) = row.aggregate.state() else {
                return Err(ProjectionError::BadEvent {
                    position: row.last_position,
                    event_type: "Listing".into(),
                    message: format!("listing {id} has events but was never created"),
                });
            };
            affected_vendors.insert(state.vendor_id);
            let details = &state.details;
            listing_rows.push(json!({
                "listing_id": id,
                "vendor_id": state.vendor_id,
                "status": state.status.as_str(),
                "title_th": details.title_th,
                "title_en": details.title_en,
                "description_th": details.description_th,
                "description_en": details.description_en,
                "category_code": details.category_code.as_str(),
                "subtype_code": details.subtype_code.as_str(),
                "price_satang": state.price.get(),
                // A new row starts at zero; `StockMoves` sets it below.
                "available_stock": 0,
                "reserved_stock": 0,
                "units_sold": 0,
                "weight_grams": details.weight_grams,
                "otop_stars": details.otop_stars.map(|s| s.get()),
                "tags": details.tags,
                "image_urls": details.image_urls,
                "take_down_reason": state.take_down_reason,
                "vendor_status": Value::Null,
                "vendor_name_th": Value::Null,
                "district_code": Value::Null,
                "created_at": row.created_at,
                "published_at": row.published_at,
                "updated_at": row.updated_at,
                "last_position": row.last_position,
                "state": row.aggregate,
            }));
        }
        upsert_rows(
            conn,
            &self.vendors_table,
            "vendor_id",
            VENDOR_COLUMNS,
            vendor_rows,
        )
        .await?;
        upsert_rows_keeping(
            conn,
            &self.listings_table,
            "listing_id",
            LISTING_COLUMNS,
            STOCK_COLUMNS,
            listing_rows,
        )
        .await?;
        self.move_stock(conn, &stock).await?;

        // What one side of the catalog knows about the other.
        let affected: Vec<Uuid> = affected_vendors.into_iter().collect();
        sqlx::query(&format!(
            "UPDATE {listings} l
                SET vendor_status = v.status, vendor_name_th = v.name_th, district_code = v.district_code
               FROM {vendors} v
              WHERE v.vendor_id = l.vendor_id AND l.vendor_id = ANY($1)
                AND (l.vendor_status IS DISTINCT FROM v.status
                     OR l.vendor_name_th IS DISTINCT FROM v.name_th
                     OR l.district_code IS DISTINCT FROM v.district_code)",
            listings = self.listings_table,
            vendors = self.vendors_table,
        ))
        .bind(&affected)
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!(
            "UPDATE {vendors} v
                SET published_listings = (SELECT count(*) FROM {listings} l
                                           WHERE l.vendor_id = v.vendor_id AND l.status = 'published')
              WHERE v.vendor_id = ANY($1)",
            listings = self.listings_table,
            vendors = self.vendors_table,
        ))
        .bind(&affected)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
