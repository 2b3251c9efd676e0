//! Large logs, fast: domain events written straight into the event table in batches.
//!
//! A million paid orders through HTTP would take hours on this machine (each command is one
//! fsync'd commit), so the suite writes the history it measures against in bulk instead. The
//! rows are the real thing all the same: every payload is a domain event serialised by the
//! domain's own types, every metadata map is `EventMetadata::to_map`, sequences are
//! contiguous per aggregate, and the database's trigger computes every hash chain. What is
//! skipped is only the command path (`decide`), whose cost the suite measures separately
//! through HTTP.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::DomainEvent;
use otop_api::seed::{parse_catalog, DEMO_CATALOG};
use otop_domain::listing::{ListingDetails, ListingEvent};
use otop_domain::order::{OrderEvent, OrderLine};
use otop_domain::values::{Phone, Satang};
use otop_domain::vendor::{VendorEvent, VendorProfile};
use otop_domain::{Actor, EventMetadata, Role};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::load::{surin_address, Rng};

/// Rows per INSERT statement (and per transaction).
const BATCH_ROWS: usize = 10_000;

struct Row {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
}

/// Buffers events and appends them in large batches, keeping each aggregate's sequence.
pub struct BulkWriter {
    pool: PgPool,
    rows: Vec<Row>,
    sequences: HashMap<Uuid, i64>,
    pub events_written: u64,
}

impl BulkWriter {
    pub fn new(pool: PgPool) -> Self {
        BulkWriter {
            pool,
            rows: Vec::with_capacity(BATCH_ROWS),
            sequences: HashMap::new(),
            events_written: 0,
        }
    }

    /// Queues one event of aggregate `id`; it is written by the next `flush`.
    pub fn push<E: DomainEvent + Serialize>(
        &mut self,
        aggregate_type: &'static str,
        id: Uuid,
        event: &E,
        metadata: &EventMetadata,
    ) -> anyhow::Result<()> {
        let sequence = self.sequences.entry(id).or_insert(0);
        *sequence += 1;
        self.rows.push(Row {
            aggregate_type,
            aggregate_id: id.to_string(),
            sequence: *sequence,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_string(event)?,
            metadata: serde_json::to_string(&metadata.to_map())?,
        });
        Ok(())
    }

    /// Writes the queued rows once a batch is full.
    pub async fn flush_if_full(&mut self) -> anyhow::Result<()> {
        if self.rows.len() >= BATCH_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes every queued row in one statement, in queue order (the hash trigger needs
    /// each aggregate's events in sequence order, which the queue keeps).
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let count = rows.len() as u64;
        let mut types = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        let mut sequences = Vec::with_capacity(rows.len());
        let mut event_types = Vec::with_capacity(rows.len());
        let mut versions = Vec::with_capacity(rows.len());
        let mut payloads = Vec::with_capacity(rows.len());
        let mut metadata = Vec::with_capacity(rows.len());
        for row in rows {
            types.push(row.aggregate_type.to_string());
            ids.push(row.aggregate_id);
            sequences.push(row.sequence);
            event_types.push(row.event_type);
            versions.push(row.event_version);
            payloads.push(row.payload);
            metadata.push(row.metadata);
        }
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             SELECT t, i, s, e, v, p::json, m::json
               FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],
                           $6::text[], $7::text[]) WITH ORDINALITY AS r(t, i, s, e, v, p, m, n)
              ORDER BY n",
        )
        .bind(types)
        .bind(ids)
        .bind(sequences)
        .bind(event_types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .execute(&self.pool)
        .await?;
        self.events_written += count;
        self.rows = Vec::with_capacity(BATCH_ROWS);
        Ok(())
    }
}

/// One generated listing: enough to place orders for it.
#[derive(Clone, Copy)]
pub struct BulkListing {
    pub listing_id: Uuid,
    pub vendor_id: Uuid,
    pub price: u64,
}

/// The generated catalog: listings grouped by vendor, for carts with two lines of one vendor.
pub struct BulkCatalog {
    pub listings: Vec<BulkListing>,
    pub vendor_listings: HashMap<Uuid, Vec<usize>>,
    pub vendors: usize,
}

/// A parse error of the generator's own values, as an `anyhow` error.
fn field<T>(result: Result<T, otop_domain::FieldError>) -> anyhow::Result<T> {
    result.map_err(|error| anyhow::anyhow!("{error}"))
}

fn metadata_at(actor: Actor, recorded_at: DateTime<Utc>, correlation: Uuid) -> EventMetadata {
    let request = Uuid::now_v7().to_string();
    let mut metadata = EventMetadata::for_request(actor, &request, recorded_at);
    metadata.correlation_id = correlation.to_string();
    metadata
}

/// Copies the Surin demo catalog (60 vendors, 600 listings) until it holds `listings`
/// listings: each copy gets fresh ids and prices jittered by up to ±30%, so districts,
/// categories, words and prices keep the catalog's distributions. Every vendor is applied
/// and approved, every listing created and published, all during December 2025.
pub async fn catalog(
    writer: &mut BulkWriter,
    listings: usize,
    seed: u64,
) -> anyhow::Result<BulkCatalog> {
    let demo = parse_catalog(DEMO_CATALOG).map_err(|e| anyhow::anyhow!("demo catalog: {e}"))?;
    anyhow::ensure!(
        !demo.listings.is_empty(),
        "the demo catalog has no listings"
    );
    let mut rng = Rng::new(seed);
    let admin = Actor::new("bench-admin", Role::Admin);
    let start = Utc
        .with_ymd_and_hms(2025, 12, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("bad start date"))?;
    let copies = listings.div_ceil(demo.listings.len());
    let mut catalog = BulkCatalog {
        listings: Vec::with_capacity(listings),
        vendor_listings: HashMap::new(),
        vendors: 0,
    };
    let mut tick = 0i64;
    let mut at = |rng: &mut Rng| {
        tick += 1;
        start + Duration::seconds(tick / 4) + Duration::milliseconds(rng.below(250) as i64)
    };
    for copy in 0..copies {
        let mut vendor_ids = HashMap::new();
        for (template_id, profile) in &demo.vendors {
            let vendor_id = Uuid::now_v7();
            vendor_ids.insert(*template_id, vendor_id);
            let applicant = Actor::new(format!("applicant-{vendor_id}"), Role::Shopper);
            let profile: VendorProfile = profile.clone();
            let applied = VendorEvent::VendorApplied {
                vendor_id,
                profile,
                applicant_id: applicant.id.clone(),
            };
            let correlation = Uuid::now_v7();
            writer.push(
                "Vendor",
                vendor_id,
                &applied,
                &metadata_at(applicant, at(&mut rng), correlation),
            )?;
            writer.push(
                "Vendor",
                vendor_id,
                &VendorEvent::VendorApproved,
                &metadata_at(admin.clone(), at(&mut rng), correlation),
            )?;
            catalog.vendors += 1;
        }
        for template in &demo.listings {
            if catalog.listings.len() >= listings {
                break;
            }
            let Some(&vendor_id) = vendor_ids.get(&template.vendor_id) else {
                continue;
            };
            let listing_id = Uuid::now_v7();
            let base = template.price.get();
            let price = (base * 7 / 10 + rng.below(base * 6 / 10 + 1)).max(100);
            let details: ListingDetails = template.details.clone();
            let actor = Actor::vendor(format!("vendor-{vendor_id}"), vendor_id);
            let correlation = Uuid::now_v7();
            let created = ListingEvent::ListingCreated {
                listing_id,
                vendor_id,
                details,
                price: field(Satang::parse("price", price as i64))?,
                stock: 1_000_000,
            };
            writer.push(
                "Listing",
                listing_id,
                &created,
                &metadata_at(actor.clone(), at(&mut rng), correlation),
            )?;
            writer.push(
                "Listing",
                listing_id,
                &ListingEvent::ListingPublished,
                &metadata_at(actor, at(&mut rng), correlation),
            )?;
            catalog
                .vendor_listings
                .entry(vendor_id)
                .or_default()
                .push(catalog.listings.len());
            catalog.listings.push(BulkListing {
                listing_id,
                vendor_id,
                price,
            });
            writer.flush_if_full().await?;
        }
        if copy % 10 == 9 {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    Ok(catalog)
}

/// Generates paid orders `first..first + count` of `total`, spread evenly over the Bangkok
/// year 2026 in order: each is placed (one line, or two lines of the same vendor for one
/// order in four), its stock reserved, confirmed, paid five minutes later, and its stock
/// committed, exactly the events a checkout and a payment callback write. Popular listings
/// sell more (a skewed pick).
pub async fn paid_orders(
    writer: &mut BulkWriter,
    catalog: &BulkCatalog,
    first: usize,
    count: usize,
    total: usize,
    seed: u64,
) -> anyhow::Result<OrdersWritten> {
    paid_orders_over(
        writer,
        catalog,
        first,
        count,
        total,
        seed,
        Period::bangkok_2026()?,
    )
    .await
}

/// When bulk orders are placed: spread evenly from `start` over `seconds`.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub seconds: i64,
}

impl Period {
    /// The Bangkok year 2026 (less ten minutes, so every payment falls inside it).
    pub fn bangkok_2026() -> anyhow::Result<Period> {
        let start = Utc
            .with_ymd_and_hms(2025, 12, 31, 17, 0, 0)
            .single()
            .ok_or_else(|| anyhow::anyhow!("bad start date"))?;
        Ok(Period {
            start,
            seconds: 365 * 24 * 3600 - 600,
        })
    }
}

/// [`paid_orders`] over another period than 2026.
pub async fn paid_orders_over(
    writer: &mut BulkWriter,
    catalog: &BulkCatalog,
    first: usize,
    count: usize,
    total: usize,
    seed: u64,
    period: Period,
) -> anyhow::Result<OrdersWritten> {
    anyhow::ensure!(!catalog.listings.is_empty(), "no listings to order");
    let mut rng = Rng::new(seed);
    let system = Actor::system();
    let phone = field(Phone::parse("phone", "0812345678"))?;
    let mut written = OrdersWritten::default();
    let sample_every = (count / 1_000).max(1);
    for index in first..first + count {
        let placed_at =
            period.start + Duration::seconds((index as i64 * period.seconds) / total.max(1) as i64);
        let order_id = Uuid::now_v7();
        let checkout_id = Uuid::now_v7();
        // Skewed: the square of a uniform pick favours the start of the catalog.
        let pick = rng.below(catalog.listings.len() as u64);
        let pick = (pick * pick / catalog.listings.len() as u64) as usize;
        let first_listing = catalog.listings[pick];
        let mut chosen = vec![first_listing];
        if rng.below(4) == 0 {
            if let Some(siblings) = catalog.vendor_listings.get(&first_listing.vendor_id) {
                let other = catalog.listings[siblings[rng.below(siblings.len() as u64) as usize]];
                if other.listing_id != first_listing.listing_id {
                    chosen.push(other);
                }
            }
        }
        let mut lines = Vec::with_capacity(chosen.len());
        let mut total_satang = 0u64;
        for listing in &chosen {
            let quantity = rng.below(3) as u32 + 1;
            total_satang += listing.price * u64::from(quantity);
            lines.push(OrderLine {
                listing_id: listing.listing_id,
                quantity,
                unit_price: field(Satang::parse("price", listing.price as i64))?,
            });
        }
        written.gross_satang += total_satang;
        written.units += lines.iter().map(|l| u64::from(l.quantity)).sum::<u64>();
        let shopper = Actor::new(format!("shopper-{}", rng.below(50_000)), Role::Shopper);
        let placed = OrderEvent::OrderPlaced {
            order_id,
            checkout_id,
            shopper_id: shopper.id.clone(),
            vendor_id: first_listing.vendor_id,
            lines: lines.clone(),
            shipping_address: surin_address("สมหญิง ใจดี", phone.clone()),
            total: field(Satang::parse("total", total_satang as i64))?,
        };
        writer.push(
            "Order",
            order_id,
            &placed,
            &metadata_at(shopper, placed_at, checkout_id),
        )?;
        let reserved_at = placed_at + Duration::milliseconds(40);
        for line in &lines {
            let reserved = ListingEvent::StockReserved {
                order_id,
                quantity: line.quantity,
            };
            writer.push(
                "Listing",
                line.listing_id,
                &reserved,
                &metadata_at(system.clone(), reserved_at, checkout_id),
            )?;
        }
        writer.push(
            "Order",
            order_id,
            &OrderEvent::OrderConfirmed,
            &metadata_at(system.clone(), reserved_at, checkout_id),
        )?;
        let paid_at = placed_at + Duration::minutes(5);
        let paid = OrderEvent::OrderPaid {
            amount: field(Satang::parse("amount", total_satang as i64))?,
            reference: format!("pp-{order_id}"),
            commission_bps: 500,
        };
        writer.push(
            "Order",
            order_id,
            &paid,
            &metadata_at(system.clone(), paid_at, checkout_id),
        )?;
        for line in &lines {
            let committed = ListingEvent::StockCommitted {
                order_id,
                quantity: line.quantity,
            };
            writer.push(
                "Listing",
                line.listing_id,
                &committed,
                &metadata_at(system.clone(), paid_at, checkout_id),
            )?;
        }
        if index % sample_every == 0 {
            written.sampled.push(order_id);
        }
        writer.flush_if_full().await?;
    }
    writer.flush().await?;
    Ok(written)
}

/// What `paid_orders` wrote: the sums an analytics report must reproduce, and about a
/// thousand of the order ids, for history lookups.
#[derive(Debug, Default)]
pub struct OrdersWritten {
    pub sampled: Vec<Uuid>,
    pub gross_satang: u64,
    pub units: u64,
}
