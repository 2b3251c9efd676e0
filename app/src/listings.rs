//! Listings as the catalog shows them: one listing for `GET /v1/listings/{id}` and the
//! product page, with who may see it.

use otop_domain::listing::ListingState;
use otop_domain::values::Stars;
use otop_domain::{Actor, Listing, ListingStatus};
use otop_projections::ProjectionKind;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;
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
    pub state: sqlx::types::Json<Listing>,
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
    Some((
        CatalogListingView {
            listing: ListingView::from(state),
            district_code: row.district_code.clone(),
            vendor_name_th: row.vendor_name_th.clone(),
            created_at: row.created_at,
            published_at: row.published_at,
        },
        publicly_visible,
    ))
}

pub const CATALOG_SELECT: &str =
    "SELECT state, vendor_status, district_code, vendor_name_th, created_at, published_at";

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
