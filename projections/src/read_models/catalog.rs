//! Projection `catalog`: the vendor directory and the listing catalog. They are one projection
//! because each depends on the other (a vendor's published-listing count, a listing's vendor
//! status and district), and one checkpoint keeps them consistent with each other.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use otop_domain::listing::ListingEvent;
use otop_domain::vendor::VendorEvent;
use otop_domain::{Listing, Vendor};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{aggregate_uuid, decode, load_states, recorded_at, upsert_rows};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

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
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut vendor_ids = BTreeSet::new();
        let mut listing_ids = BTreeSet::new();
        for event in events {
            match event.aggregate_type.as_str() {
                "Vendor" => {
                    vendor_ids.insert(aggregate_uuid(event)?);
                }
                "Listing" => {
                    listing_ids.insert(aggregate_uuid(event)?);
                }
                _ => {}
            }
        }
        if vendor_ids.is_empty() && listing_ids.is_empty() {
            return Ok(());
        }

        let vendor_ids: Vec<Uuid> = vendor_ids.into_iter().collect();
        let listing_ids: Vec<Uuid> = listing_ids.into_iter().collect();
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
            load_states::<Listing>(conn, &self.listings_table, "listing_id", &listing_ids).await?
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

        for event in events {
            let at = recorded_at(event);
            match event.aggregate_type.as_str() {
                "Vendor" => {
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
                "Listing" => {
                    let id = aggregate_uuid(event)?;
                    let payload: ListingEvent = decode(event)?;
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
                _ => {}
            }
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
        for (id, row) in &listings {
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
                "available_stock": state.available,
                "reserved_stock": state.reserved(),
                "units_sold": state.sold,
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
        upsert_rows(
            conn,
            &self.listings_table,
            "listing_id",
            LISTING_COLUMNS,
            listing_rows,
        )
        .await?;

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
