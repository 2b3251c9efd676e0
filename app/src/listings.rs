//! Listings as the catalog shows them: one listing for `GET /v1/listings/{id}` and the
//! product page, with who may see it.

use std::collections::HashMap;

use otop_domain::listing::{ListingDetails, ListingState, StockChange};
use otop_domain::values::{
    parse_image_urls, parse_optional_text, parse_stock, parse_tags, parse_text, parse_weight_grams,
    CategoryCode, Satang, Stars, SubtypeCode, DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS,
};
use otop_domain::{Actor, Listing, ListingCommand, ListingStatus, Role, Validator, VendorStanding};
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::require_role;
use crate::command::{execute, CommandReply};
use crate::error::AppError;
use crate::paging::{KeysetAfter, Page, Paging};
use crate::read_your_writes::wait_for;
use crate::state::AppState;

/// A listing as its owner, admins and (once published) everyone see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingView {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub status: String,
    pub title_th: String,
    pub title_en: Option<String>,
    pub description_th: Option<String>,
    pub description_en: Option<String>,
    pub category_code: String,
    pub subtype_code: String,
    pub price_satang: u64,
    /// Units free to sell now.
    pub available_stock: u32,
    /// Units held for orders not yet shipped.
    pub reserved_stock: u64,
    pub units_sold: u64,
    pub weight_grams: Option<u32>,
    pub otop_stars: Option<u8>,
    pub tags: Vec<String>,
    pub image_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take_down_reason: Option<String>,
}

impl From<&ListingState> for ListingView {
    fn from(state: &ListingState) -> Self {
        ListingView {
            id: state.id,
            vendor_id: state.vendor_id,
            status: state.status.as_str().to_string(),
            title_th: state.details.title_th.clone(),
            title_en: state.details.title_en.clone(),
            description_th: state.details.description_th.clone(),
            description_en: state.details.description_en.clone(),
            category_code: state.details.category_code.as_str().to_string(),
            subtype_code: state.details.subtype_code.as_str().to_string(),
            price_satang: state.price.get(),
            available_stock: state.available,
            reserved_stock: state.reserved(),
            units_sold: state.sold,
            weight_grams: state.details.weight_grams,
            otop_stars: state.details.otop_stars.map(Stars::get),
            tags: state.details.tags.clone(),
            image_urls: state.details.image_urls.clone(),
            take_down_reason: state.take_down_reason.clone(),
        }
    }
}

/// A listing in the catalog: the listing itself plus where it comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogListingView {
    #[serde(flatten)]
    pub listing: ListingView,
    pub district_code: Option<String>,
    pub vendor_name_th: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct CatalogRow {
    /// The listing's aggregate state, but for its stock (kept at zero there).
    pub state: sqlx::types::Json<Listing>,
    /// The stock, from the columns stock events update on their own (projection `catalog`).
    pub available_stock: i64,
    pub reserved_stock: i64,
    pub units_sold: i64,
    pub vendor_status: Option<String>,
    pub district_code: Option<String>,
    pub vendor_name_th: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The view of a catalog row, and whether the public may see it.
pub fn catalog_view(row: &CatalogRow) -> Option<(CatalogListingView, bool)> {
    let state = row.state.0.state()?;
    let publicly_visible = state.status == ListingStatus::Published
        && row.vendor_status.as_deref() == Some("approved");
    let listing = ListingView {
        available_stock: u32::try_from(row.available_stock).unwrap_or_default(),
        reserved_stock: u64::try_from(row.reserved_stock).unwrap_or_default(),
        units_sold: u64::try_from(row.units_sold).unwrap_or_default(),
        ..ListingView::from(state)
    };
    Some((
        CatalogListingView {
            listing,
            district_code: row.district_code.clone(),
            vendor_name_th: row.vendor_name_th.clone(),
            created_at: row.created_at,
            published_at: row.published_at,
        },
        publicly_visible,
    ))
}

pub const CATALOG_SELECT: &str = "SELECT state, available_stock, reserved_stock, units_sold,
        vendor_status, district_code, vendor_name_th, created_at, published_at";

/// One listing: public once published (and its vendor approved); its owner and admins see it
/// in every status. Anyone else: not found.
pub async fn get_listing(
    state: &AppState,
    viewer: Option<&Actor>,
    id: Uuid,
    min_position: Option<i64>,
) -> Result<CatalogListingView, AppError> {
    wait_for(state, ProjectionKind::Catalog, min_position).await?;
    let row: Option<CatalogRow> = sqlx::query_as(&format!(
        "{CATALOG_SELECT} FROM listing_catalog WHERE listing_id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let not_found = || AppError::NotFound("no such listing".into());
    let (view, publicly_visible) = row.as_ref().and_then(catalog_view).ok_or_else(not_found)?;
    let may_see = publicly_visible
        || viewer.is_some_and(|a| a.is_admin() || a.speaks_for_vendor(view.listing.vendor_id));
    if !may_see {
        return Err(not_found());
    }
    Ok(view)
}

/// The ids of the listings everyone may see (published, of an approved vendor), newest first.
pub async fn public_listing_ids(state: &AppState, limit: i64) -> Result<Vec<Uuid>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT listing_id FROM listing_catalog
          WHERE status = 'published' AND vendor_status = 'approved'
          ORDER BY created_at DESC, listing_id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&state.pool)
    .await?)
}

/// Takes a listing down with a reason (admins: the Listing aggregate decides who may).
pub async fn take_down(
    state: &AppState,
    actor: &Actor,
    metadata: &std::collections::HashMap<String, String>,
    listing_id: Uuid,
    reason: &str,
) -> Result<crate::command::CommandReply, AppError> {
    use otop_domain::values::{parse_text, REASON_MAX_CHARS};
    let command = otop_domain::ListingCommand::TakeDown {
        actor: actor.clone(),
        reason: parse_text("reason", reason, REASON_MAX_CHARS)?,
    };
    crate::command::execute(&state.listings, listing_id, command, metadata).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ListingListQuery {
    /// Only this vendor's listings. Its owner (and admins) see every status.
    pub vendor: Option<Uuid>,
    /// draft, published, unpublished, archived or taken_down (owner and admins only).
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    pub min_position: Option<i64>,
    /// Page by key past any depth: the `next_after` of the page before (with no `page`).
    pub after: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct CountedCatalogRow {
    #[sqlx(flatten)]
    row: CatalogRow,
    listing_id: Uuid,
    total: i64,
}

/// Listings, newest first: published ones of approved vendors for everyone; a vendor's own
/// listings in every status for the vendor itself and admins.
pub async fn list_listings(
    state: &AppState,
    viewer: Option<&Actor>,
    query: &ListingListQuery,
) -> Result<Page<CatalogListingView>, AppError> {
    let paging = Paging::parse(query.page, query.per_page)?;
    let after = KeysetAfter::parse(query.after.as_deref(), query.page)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(ListingStatus::parse(text).ok_or_else(|| {
            AppError::invalid(
                "status",
                "must be one of draft, published, unpublished, archived, taken_down",
            )
        })?),
    };
    let sees_every_status = viewer.is_some_and(|actor| {
        actor.is_admin()
            || query
                .vendor
                .is_some_and(|vendor| actor.speaks_for_vendor(vendor))
    });
    if !sees_every_status && status.is_some_and(|s| s != ListingStatus::Published) {
        return Err(AppError::Forbidden(
            "only the vendor itself and admins can list listings that are not published".into(),
        ));
    }
    wait_for(state, ProjectionKind::Catalog, query.min_position).await?;
    let filter = "FROM listing_catalog
              WHERE ($1::uuid IS NULL OR vendor_id = $1)
                AND ($2::text IS NULL OR status = $2)
                AND ($3 OR (status = 'published' AND vendor_status = 'approved'))";
    // The window counts the whole filter; the keyset cursor applies after it.
    let rows: Vec<CountedCatalogRow> = sqlx::query_as(&format!(
        "SELECT * FROM (
             {CATALOG_SELECT}, listing_id, count(*) OVER () AS total {filter}
         ) counted
          WHERE ($6::timestamptz IS NULL OR (created_at, listing_id) < ($6, $7))
          ORDER BY created_at DESC, listing_id DESC
          LIMIT $4 OFFSET $5"
    ))
    .bind(query.vendor)
    .bind(status.map(ListingStatus::as_str))
    .bind(sees_every_status)
    .bind(paging.per_page + 1)
    .bind(if after.is_some() { 0 } else { paging.offset() })
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .fetch_all(&state.pool)
    .await?;
    let mut rows = rows;
    let more = rows.len() as i64 > paging.per_page;
    rows.truncate(paging.per_page as usize);
    let next_after = if more {
        rows.last()
            .map(|counted| KeysetAfter::format(counted.row.created_at, counted.listing_id))
    } else {
        None
    };
    let total = match rows.first() {
        Some(counted) => counted.total,
        // A page past the last one has no row to carry the count.
        None if paging.page > 1 || after.is_some() => {
            sqlx::query_scalar(&format!("SELECT count(*) {filter}"))
                .bind(query.vendor)
                .bind(status.map(ListingStatus::as_str))
                .bind(sees_every_status)
                .fetch_one(&state.pool)
                .await?
        }
        None => 0,
    };
    let items = rows
        .iter()
        .filter_map(|counted| catalog_view(&counted.row).map(|(view, _)| view))
        .collect();
    let mut page = Page::new(items, paging, total);
    page.next_after = next_after;
    Ok(page)
}

/// The standing of the vendor the actor speaks for; refuses actors that are not vendors.
pub async fn own_vendor_standing(
    state: &AppState,
    actor: &Actor,
    what: &str,
) -> Result<VendorStanding, AppError> {
    require_role(actor, &[Role::Vendor], what)?;
    let vendor_id = actor
        .vendor_id
        .ok_or_else(|| AppError::Forbidden("the token names no vendor".into()))?;
    let loaded = state.vendors.load(&vendor_id.to_string()).await?;
    loaded
        .aggregate
        .state()
        .map(VendorStanding::of)
        .ok_or_else(|| AppError::Forbidden(format!("vendor {vendor_id} has not applied")))
}

/// A change an owner makes to a listing after creating it.
#[derive(Debug, Clone)]
pub enum ListingChange {
    /// A new price; orders already placed keep theirs.
    Price(Satang),
    /// Set or adjust the available stock; with `expected`, only if the stock is still that
    /// (compare-and-set: two members of a group never overwrite each other).
    Stock {
        change: StockChange,
        expected: Option<u32>,
    },
    /// Only an approved vendor's listings can be published.
    Publish,
    Unpublish,
    /// For good.
    Archive,
}

/// Runs an owner's change on a listing (the Listing aggregate decides who may and when).
pub async fn change(
    state: &AppState,
    actor: &Actor,
    metadata: &HashMap<String, String>,
    listing_id: Uuid,
    change: ListingChange,
) -> Result<CommandReply, AppError> {
    let actor_owned = actor.clone();
    let command = match change {
        ListingChange::Price(price) => ListingCommand::ChangePrice {
            actor: actor_owned,
            price,
        },
        ListingChange::Stock { change, expected } => ListingCommand::ChangeStock {
            actor: actor_owned,
            change,
            expected,
        },
        ListingChange::Publish => {
            let vendor = own_vendor_standing(state, actor, "publishing a listing").await?;
            ListingCommand::Publish {
                actor: actor_owned,
                vendor,
            }
        }
        ListingChange::Unpublish => ListingCommand::Unpublish { actor: actor_owned },
        ListingChange::Archive => ListingCommand::Archive { actor: actor_owned },
    };
    execute(&state.listings, listing_id, command, metadata).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateListingRequest {
    /// Optional: keep an id from another system (seeding does). A UUID v7 is made otherwise.
    pub id: Option<Uuid>,
    pub title_th: String,
    pub title_en: Option<String>,
    pub description_th: Option<String>,
    pub description_en: Option<String>,
    /// FOOD, BEV, TEXTILE, CRAFT or HERBAL.
    pub category_code: String,
    /// A sub-type of the category, e.g. TEX_SILK_MUDMEE.
    pub subtype_code: String,
    /// Price in satang (1 THB = 100 satang).
    pub price_satang: i64,
    /// Units available to sell.
    pub stock: i64,
    pub weight_grams: Option<i64>,
    /// OTOP Product Champion stars, 1 to 5.
    pub otop_stars: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub image_urls: Option<Vec<String>>,
}

impl CreateListingRequest {
    pub fn parse(self) -> Result<(ListingDetails, Satang, u32), AppError> {
        let mut v = Validator::new();
        let title_th = v.check(parse_text("title_th", &self.title_th, TITLE_MAX_CHARS));
        let title_en = v.check(parse_optional_text(
            "title_en",
            self.title_en.as_deref(),
            TITLE_MAX_CHARS,
        ));
        let description_th = v.check(parse_optional_text(
            "description_th",
            self.description_th.as_deref(),
            DESCRIPTION_MAX_CHARS,
        ));
        let description_en = v.check(parse_optional_text(
            "description_en",
            self.description_en.as_deref(),
            DESCRIPTION_MAX_CHARS,
        ));
        let category_code = v.check(CategoryCode::parse("category_code", &self.category_code));
        let subtype_code = category_code.as_ref().and_then(|category| {
            v.check(SubtypeCode::parse(
                "subtype_code",
                &self.subtype_code,
                category,
            ))
        });
        let price = v.check(Satang::parse("price_satang", self.price_satang));
        let stock = v.check(parse_stock("stock", self.stock));
        let weight_grams = v.check(
            self.weight_grams
                .map(|w| parse_weight_grams("weight_grams", w))
                .transpose(),
        );
        let otop_stars = v.check(
            self.otop_stars
                .map(|s| Stars::parse("otop_stars", s))
                .transpose(),
        );
        let tags = v.check(parse_tags("tags", self.tags.as_deref().unwrap_or_default()));
        let image_urls = v.check(parse_image_urls(
            "image_urls",
            self.image_urls.as_deref().unwrap_or_default(),
        ));
        let (
            (title_th, title_en, description_th, description_en),
            (category_code, subtype_code, weight_grams, otop_stars, tags, image_urls),
            price,
            stock,
        ) = v.finish_with((
            (title_th, title_en, description_th, description_en),
            (
                category_code,
                subtype_code,
                weight_grams,
                otop_stars,
                tags,
                image_urls,
            ),
            price,
            stock,
        ))?;
        let details = ListingDetails {
            title_th,
            title_en,
            description_th,
            description_en,
            category_code,
            subtype_code,
            weight_grams,
            otop_stars,
            tags,
            image_urls,
        };
        Ok((details, price, stock))
    }
}

/// Creates a listing as a draft, for the vendor the actor speaks for (`POST /v1/listings`
/// and the console's form).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    metadata: &HashMap<String, String>,
    listing_id: Uuid,
    request: CreateListingRequest,
) -> Result<CommandReply, AppError> {
    let vendor = own_vendor_standing(state, actor, "creating a listing").await?;
    let (details, price, stock) = request.parse()?;
    let command = ListingCommand::Create {
        listing_id,
        actor: actor.clone(),
        vendor,
        details,
        price,
        stock,
    };
    execute(&state.listings, listing_id, command, metadata).await
}
