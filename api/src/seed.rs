//! Loads a catalog (JSON lines of vendors, then listings) through the real commands: every
//! vendor applies and is approved, every listing is created by its vendor and published, so
//! everything downstream is built from events. Ids are kept. Seeding twice is harmless:
//! what already exists is counted and skipped.

use std::collections::HashMap;
use std::io::IsTerminal;

use futures::{stream, StreamExt};
use otop_domain::listing::ListingDetails;
use otop_domain::values::{
    parse_optional_text, parse_stock, parse_tags, parse_text, parse_weight_grams, CategoryCode,
    DistrictCode, Phone, ProducerType, Satang, Stars, SubtypeCode, DESCRIPTION_MAX_CHARS,
    NAME_MAX_CHARS, TITLE_MAX_CHARS,
};
use otop_domain::vendor::VendorProfile;
use otop_domain::{
    Actor, DomainError, EventMetadata, FieldError, ListingCommand, VendorCommand, VendorStanding,
};
use otop_projections::StoreError;
use serde::Deserialize;
use uuid::Uuid;

use otop_app::state::AppState;

/// The Surin demo catalog: 60 vendors and 600 listings (see `data/README.md`).
pub const DEMO_CATALOG: &str = include_str!("../../data/catalog_seed.jsonl");

/// Commands in flight at once while seeding.
const CONCURRENCY: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum CatalogLine {
    Vendor(CatalogVendor),
    Listing(CatalogListing),
}

#[derive(Debug, Deserialize)]
struct CatalogVendor {
    vendor_id: Uuid,
    name_th: String,
    name_en: Option<String>,
    district_code: String,
    producer_type: String,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CatalogListing {
    listing_id: Uuid,
    vendor_id: Uuid,
    title_th: String,
    title_en: Option<String>,
    description_th: Option<String>,
    description_en: Option<String>,
    category_code: String,
    subtype_code: String,
    price_satang: i64,
    stock: i64,
    otop_stars: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    weight_grams: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub vendors_created: usize,
    pub listings_created: usize,
    pub already_present: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("line {line}: {message}")]
    BadLine { line: usize, message: String },
    #[error("{what}: {source}")]
    Command {
        what: String,
        source: StoreError<DomainError>,
    },
}

/// A catalog, parsed and checked before anything is written.
pub struct Catalog {
    pub vendors: Vec<(Uuid, VendorProfile)>,
    pub listings: Vec<ParsedListing>,
}

/// Parses the whole catalog first, so a bad file changes nothing.
pub fn parse_catalog(text: &str) -> Result<Catalog, SeedError> {
    let mut vendors = Vec::new();
    let mut listings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| SeedError::BadLine {
            line: line_number,
            message,
        };
        let fields = |errors: Vec<FieldError>| {
            bad(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        };
        match serde_json::from_str::<CatalogLine>(line).map_err(|e| bad(e.to_string()))? {
            CatalogLine::Vendor(vendor) => {
                let profile = vendor_profile(&vendor).map_err(|e| fields(vec![e]))?;
                vendors.push((vendor.vendor_id, profile));
            }
            CatalogLine::Listing(listing) => {
                listings.push(parse_listing(listing).map_err(|e| fields(vec![e]))?);
            }
        }
    }
    Ok(Catalog { vendors, listings })
}

fn vendor_profile(vendor: &CatalogVendor) -> Result<VendorProfile, FieldError> {
    // The catalog has no phone numbers; give each vendor a stable Surin landline (044).
    let phone = match &vendor.phone {
        Some(phone) => phone.clone(),
        None => format!("044{:07}", vendor.vendor_id.as_u128() % 10_000_000),
    };
    Ok(VendorProfile {
        name_th: parse_text("name_th", &vendor.name_th, NAME_MAX_CHARS)?,
        name_en: parse_optional_text("name_en", vendor.name_en.as_deref(), NAME_MAX_CHARS)?,
        district_code: DistrictCode::parse("district_code", &vendor.district_code)?,
        producer_type: ProducerType::parse("producer_type", &vendor.producer_type)?,
        phone: Phone::parse("phone", &phone)?,
        email: None,
        payout_promptpay: None,
    })
}

/// One catalog listing, its fields parsed into the domain's types.
pub struct ParsedListing {
    pub listing_id: Uuid,
    pub vendor_id: Uuid,
    pub details: ListingDetails,
    pub price: Satang,
    pub stock: u32,
}

fn parse_listing(listing: CatalogListing) -> Result<ParsedListing, FieldError> {
    let category_code = CategoryCode::parse("category_code", &listing.category_code)?;
    let subtype_code = SubtypeCode::parse("subtype_code", &listing.subtype_code, &category_code)?;
    Ok(ParsedListing {
        listing_id: listing.listing_id,
        vendor_id: listing.vendor_id,
        details: ListingDetails {
            title_th: parse_text("title_th", &listing.title_th, TITLE_MAX_CHARS)?,
            title_en: parse_optional_text(
                "title_en",
                listing.title_en.as_deref(),
                TITLE_MAX_CHARS,
            )?,
            description_th: parse_optional_text(
                "description_th",
                listing.description_th.as_deref(),
                DESCRIPTION_MAX_CHARS,
            )?,
            description_en: parse_optional_text(
                "description_en",
                listing.description_en.as_deref(),
                DESCRIPTION_MAX_CHARS,
            )?,
            category_code,
            subtype_code,
            weight_grams: listing
                .weight_grams
                .map(|w| parse_weight_grams("weight_grams", w))
                .transpose()?,
            otop_stars: listing
                .otop_stars
                .map(|s| Stars::parse("otop_stars", s))
                .transpose()?,
            tags: parse_tags("tags", &listing.tags)?,
            image_urls: Vec::new(),
        },
        price: Satang::parse("price_satang", listing.price_satang)?,
        stock: parse_stock("stock", listing.stock)?,
    })
}

/// Seeds `catalog`, reporting progress on stderr when it is a terminal.
pub async fn seed(state: &AppState, catalog: &str) -> Result<SeedReport, SeedError> {
    let Catalog { vendors, listings } = parse_catalog(catalog)?;
    let total = vendors.len() + listings.len();
    let progress = Progress::new(total);
    let admin = Actor::new("otop-seed", otop_domain::Role::Admin);
    let mut report = SeedReport::default();

    let vendor_results: Vec<Result<bool, SeedError>> = stream::iter(vendors.iter().cloned())
        .map(|(vendor_id, profile)| {
            let admin = admin.clone();
            let progress = &progress;
            async move {
                let id = vendor_id.to_string();
                let metadata = seed_metadata(admin.clone());
                let apply = VendorCommand::Apply {
                    vendor_id,
                    profile,
                    actor: admin.clone(),
                };
                let created = absorb_existing(state.vendors.execute(&id, apply, &metadata).await)
                    .map_err(|source| SeedError::Command {
                    what: format!("vendor {vendor_id}"),
                    source,
                })?;
                if created {
                    let approve = VendorCommand::Approve { actor: admin };
                    state
                        .vendors
                        .execute(&id, approve, &metadata)
                        .await
                        .map_err(|source| SeedError::Command {
                            what: format!("approving vendor {vendor_id}"),
                            source,
                        })?;
                }
                progress.tick();
                Ok(created)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in vendor_results {
        match result? {
            true => report.vendors_created += 1,
            false => report.already_present += 1,
        }
    }

    let standings: HashMap<Uuid, VendorStanding> = {
        let mut standings = HashMap::new();
        for (vendor_id, _) in &vendors {
            let loaded = state
                .vendors
                .load(&vendor_id.to_string())
                .await
                .map_err(|source| SeedError::Command {
                    what: format!("loading vendor {vendor_id}"),
                    source,
                })?;
            if let Some(vendor) = loaded.aggregate.state() {
                standings.insert(*vendor_id, VendorStanding::of(vendor));
            }
        }
        standings
    };

    let listing_results: Vec<Result<bool, SeedError>> = stream::iter(listings)
        .map(|listing| {
            let progress = &progress;
            let standings = &standings;
            async move {
                let listing_id = listing.listing_id;
                let vendor = match standings.get(&listing.vendor_id) {
                    Some(vendor) => *vendor,
                    None => {
                        return Err(SeedError::BadLine {
                            line: 0,
                            message: format!(
                                "listing {listing_id} names unknown vendor {}",
                                listing.vendor_id
                            ),
                        })
                    }
                };
                let actor = Actor::vendor(
                    format!("otop-seed:{}", listing.vendor_id),
                    listing.vendor_id,
                );
                let metadata = seed_metadata(actor.clone());
                let id = listing_id.to_string();
                let create = ListingCommand::Create {
                    listing_id,
                    actor: actor.clone(),
                    vendor,
                    details: listing.details,
                    price: listing.price,
                    stock: listing.stock,
                };
                let created = absorb_existing(state.listings.execute(&id, create, &metadata).await)
                    .map_err(|source| SeedError::Command {
                        what: format!("listing {listing_id}"),
                        source,
                    })?;
                if created {
                    let publish = ListingCommand::Publish { actor, vendor };
                    state
                        .listings
                        .execute(&id, publish, &metadata)
                        .await
                        .map_err(|source| SeedError::Command {
                            what: format!("publishing listing {listing_id}"),
                            source,
                        })?;
                }
                progress.tick();
                Ok(created)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in listing_results {
        match result? {
            true => report.listings_created += 1,
            false => report.already_present += 1,
        }
    }
    progress.finish();
    Ok(report)
}

fn seed_metadata(actor: Actor) -> HashMap<String, String> {
    let request_id = format!("seed-{}", Uuid::now_v7());
    EventMetadata::for_request(actor, &request_id, chrono::Utc::now()).to_map()
}

/// `Ok(true)` when the command created the aggregate, `Ok(false)` when it existed already.
fn absorb_existing<A: cqrs_es::Aggregate>(
    result: Result<otop_projections::CommandOutcome<A>, StoreError<DomainError>>,
) -> Result<bool, StoreError<DomainError>> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Domain(DomainError::AlreadyExists { .. })) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A one-line progress counter on stderr, only when stderr is a terminal.
struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    on_terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            total,
            done: Default::default(),
            on_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if self.on_terminal && (done.is_multiple_of(20) || done == self.total) {
            eprint!("\rseeding: {done}/{} vendors and listings", self.total);
        }
    }

    fn finish(&self) {
        if self.on_terminal {
            eprintln!();
        }
    }
}
