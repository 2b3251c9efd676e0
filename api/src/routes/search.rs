//! `GET /v1/search`: the JSON face of `otop_app::search`.

use axum::extract::State;
use axum::Json;
pub use otop_app::search::{FacetsView, PriceView, SearchHitView, SearchParams, SearchReply};

use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use otop_app::AppState;

pub const TAG: &str = "search";

/// Search published listings: text, filters, facets, sorts and pages.
#[utoipa::path(get, path = "/v1/search", tag = TAG, params(SearchParams),
    responses((status = 200, body = SearchReply), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchReply>, ApiError> {
    Ok(Json(otop_app::search::search(&state, &params).await?))
}
