//! `/v1/listings`: a vendor's products, their price and stock, and the office's take-downs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use otop_domain::listing::{ListingDetailsPatch, ListingState, StockChange};
use otop_domain::values::{
    parse_image_urls, parse_stock, parse_tags, parse_text, parse_weight_grams, CategoryCode,
    Satang, Stars, SubtypeCode, DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS,
};
use otop_domain::{ListingCommand, Validator};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CommandReply, ReasonRequest};
use crate::auth::MaybeSignedIn;
use crate::extract::{ApiJson, ApiQuery, CommandContext, IdPath};
use crate::problem::{ApiError, Problem};
pub use otop_app::listings::CreateListingRequest;
pub use otop_app::listings::{
    catalog_view, CatalogListingView, CatalogRow, ListingView, CATALOG_SELECT,
};
use otop_app::listings::{ListingChange, ListingListQuery};
use otop_app::paging::Page;
use otop_app::state::AppState;

/// Namespace of listing ids derived from an `Idempotency-Key`.
const LISTING_NAMESPACE: Uuid = Uuid::from_u128(0x6f74_6f70_2d6c_6973_7469_6e67_2d69_0001);

pub const TAG: &str = "listings";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateListingRequest {
    pub title_th: Option<String>,
    pub title_en: Option<String>,
    pub description_th: Option<String>,
    pub description_en: Option<String>,
    pub category_code: Option<String>,
    /// Must belong to the category (the new one, when the category changes too).
    pub subtype_code: Option<String>,
    pub weight_grams: Option<i64>,
    pub otop_stars: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub image_urls: Option<Vec<String>>,
}

impl UpdateListingRequest {
    fn parse(self, current: Option<&ListingState>) -> Result<ListingDetailsPatch, ApiError> {
        let mut v = Validator::new();
        let category_code = self
            .category_code
            .and_then(|c| v.check(CategoryCode::parse("category_code", &c)));
        let effective_category = category_code
            .clone()
            .or_else(|| current.map(|s| s.details.category_code.clone()));
        let subtype_code = match (self.subtype_code, &effective_category) {
            (Some(raw), Some(category)) => {
                v.check(SubtypeCode::parse("subtype_code", &raw, category))
            }
            _ => None,
        };
        let patch = ListingDetailsPatch {
            title_th: self
                .title_th
                .and_then(|t| v.check(parse_text("title_th", &t, TITLE_MAX_CHARS))),
            title_en: self
                .title_en
                .and_then(|t| v.check(parse_text("title_en", &t, TITLE_MAX_CHARS))),
            description_th: self
                .description_th
                .and_then(|t| v.check(parse_text("description_th", &t, DESCRIPTION_MAX_CHARS))),
            description_en: self
                .description_en
                .and_then(|t| v.check(parse_text("description_en", &t, DESCRIPTION_MAX_CHARS))),
            category_code,
            subtype_code,
            weight_grams: self
                .weight_grams
                .and_then(|w| v.check(parse_weight_grams("weight_grams", w))),
            otop_stars: self
                .otop_stars
                .and_then(|s| v.check(Stars::parse("otop_stars", s))),
            tags: self.tags.and_then(|t| v.check(parse_tags("tags", &t))),
            image_urls: self
                .image_urls
                .and_then(|u| v.check(parse_image_urls("image_urls", &u))),
        };
        v.finish()?;
        Ok(patch)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    pub price_satang: i64,
}

/// Exactly one of `set` and `delta`; `expected` makes it a compare-and-set on available stock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    pub set: Option<i64>,
    pub delta: Option<i64>,
    pub expected: Option<i64>,
}

impl StockRequest {
    fn parse(self) -> Result<(StockChange, Option<u32>), ApiError> {
        let mut v = Validator::new();
        let change = match (self.set, self.delta) {
            (Some(set), None) => v.check(parse_stock("set", set)).map(StockChange::Set),
            (None, Some(delta))
                if delta.unsigned_abs() <= u64::from(otop_domain::values::MAX_STOCK) =>
            {
                Some(StockChange::Delta(delta))
            }
            (None, Some(_)) => {
                v.push(otop_domain::FieldError::new("delta", "is too large"));
                None
            }
            _ => {
                v.push(otop_domain::FieldError::new(
                    "set",
                    "give exactly one of `set` and `delta`",
                ));
                None
            }
        };
        let expected = v.check(
            self.expected
                .map(|e| parse_stock("expected", e))
                .transpose(),
        );
        Ok(v.finish_with((change, expected))?)
    }
}

async fn change(
    state: &AppState,
    listing_id: Uuid,
    ctx: &CommandContext,
    change: ListingChange,
) -> Result<Json<CommandReply>, ApiError> {
    otop_app::listings::change(state, &ctx.actor, &ctx.metadata_map(), listing_id, change)
        .await
        .map(Json)
        .map_err(ApiError::from)
}

async fn run(
    state: &AppState,
    listing_id: Uuid,
    command: ListingCommand,
    ctx: &CommandContext,
) -> Result<CommandReply, ApiError> {
    super::execute(&state.listings, listing_id, command, &ctx.metadata_map())
        .await
        .map_err(ApiError::from)
}

/// Create a listing as a draft (vendor).
#[utoipa::path(post, path = "/v1/listings", tag = TAG, request_body = CreateListingRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe retries")),
    responses((status = 201, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_listing(
    State(state): State<AppState>,
    ctx: CommandContext,
    ApiJson(body): ApiJson<CreateListingRequest>,
) -> Result<(StatusCode, Json<CommandReply>), ApiError> {
    let listing_id = ctx.new_id(body.id, &LISTING_NAMESPACE);
    let reply =
        otop_app::listings::create(&state, &ctx.actor, &ctx.metadata_map(), listing_id, body)
            .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Change detail fields (owner).
#[utoipa::path(patch, path = "/v1/listings/{id}", tag = TAG, params(("id" = Uuid, Path)), request_body = UpdateListingRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<UpdateListingRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let loaded = state.listings.load(&id.to_string()).await?;
    let patch = body.parse(loaded.aggregate.state())?;
    let command = ListingCommand::UpdateDetails {
        actor: ctx.actor.clone(),
        patch,
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Set the price (owner). Orders already placed keep the price they were placed at.
#[utoipa::path(put, path = "/v1/listings/{id}/price", tag = TAG, params(("id" = Uuid, Path)), request_body = PriceRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_price(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<PriceRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let price =
        Satang::parse("price_satang", body.price_satang).map_err(|e| ApiError::Invalid(vec![e]))?;
    change(&state, id, &ctx, ListingChange::Price(price)).await
}

/// Set or adjust available stock (owner); `expected` makes it a compare-and-set (409 if stale).
#[utoipa::path(post, path = "/v1/listings/{id}/stock", tag = TAG, params(("id" = Uuid, Path)), request_body = StockRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_stock(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<StockRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let (stock, expected) = body.parse()?;
    change(
        &state,
        id,
        &ctx,
        ListingChange::Stock {
            change: stock,
            expected,
        },
    )
    .await
}

/// Publish (owner): only an approved vendor's listings can be published.
#[utoipa::path(post, path = "/v1/listings/{id}/publish", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn publish_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    change(&state, id, &ctx, ListingChange::Publish).await
}

/// Unpublish (owner).
#[utoipa::path(post, path = "/v1/listings/{id}/unpublish", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn unpublish_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    change(&state, id, &ctx, ListingChange::Unpublish).await
}

/// Archive for good (owner).
#[utoipa::path(post, path = "/v1/listings/{id}/archive", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn archive_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    change(&state, id, &ctx, ListingChange::Archive).await
}

/// Take a listing down (admin).
#[utoipa::path(post, path = "/v1/listings/{id}/take-down", tag = TAG, params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn take_down_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    otop_app::listings::take_down(&state, &ctx.actor, &ctx.metadata_map(), id, &body.reason)
        .await
        .map(Json)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadQuery {
    /// Wait until the read model has applied the event at this log position.
    pub min_position: Option<i64>,
}

/// One listing: public once published (and its vendor approved); its owner and admins see it
/// in every status.
#[utoipa::path(get, path = "/v1/listings/{id}", tag = TAG, params(("id" = Uuid, Path), ReadQuery),
    responses((status = 200, body = CatalogListingView), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn get_listing(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    MaybeSignedIn(viewer): MaybeSignedIn,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<CatalogListingView>, ApiError> {
    let view =
        otop_app::listings::get_listing(&state, viewer.as_ref(), id, query.min_position).await?;
    Ok(Json(view))
}

/// Listings, newest first: published ones of approved vendors for everyone; a vendor's own
/// listings in every status for the vendor itself and admins.
#[utoipa::path(get, path = "/v1/listings", tag = TAG, params(ListingListQuery),
    responses((status = 200, body = Page<CatalogListingView>), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn list_listings(
    State(state): State<AppState>,
    MaybeSignedIn(viewer): MaybeSignedIn,
    ApiQuery(query): ApiQuery<ListingListQuery>,
) -> Result<Json<Page<CatalogListingView>>, ApiError> {
    otop_app::listings::list_listings(&state, viewer.as_ref(), &query)
        .await
        .map(Json)
        .map_err(ApiError::from)
}
