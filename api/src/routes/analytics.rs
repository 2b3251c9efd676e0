//! `/v1/analytics`: sales for the provincial office's analysts (and admins), run by
//! `otop_app::analytics` (which the `/analytics` dashboard calls too). Days are
//! Asia/Bangkok days; a sale counts on the day it is paid, and refunds and cancellations
//! after payment reverse it on their own day. Money is integer satang.
//!
//! `orders` counts each order once per row of the grouping: an order whose lines fall in two
//! sub-types is one order in each sub-type's row, and one order in `totals`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::csv::{csv_response, wants_csv};
use crate::auth::SignedIn;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
pub use otop_app::analytics::{
    SalesQuery, SalesReport, SalesRow, SalesTotals, TopListing, TopListings, TopListingsQuery,
    DEFAULT_TOP_LIMIT, MAX_TOP_LIMIT,
};
use otop_app::state::AppState;

pub const TAG: &str = "analytics";

/// Sales grouped by any of district, category, subtype, vendor and day or month, with their
/// totals. Days are Asia/Bangkok days; a sale counts when paid, refunds and cancellations
/// after payment reverse it on their own day. `Accept: text/csv` gives the rows as CSV.
#[utoipa::path(get, path = "/v1/analytics/sales", tag = TAG, params(SalesQuery),
    responses(
        (status = 200, content((SalesReport = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn sales(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> Result<Response, ApiError> {
    let report = otop_app::analytics::sales(&state, &actor, &query).await?;
    if wants_csv(&headers) {
        return Ok(csv_response(
            otop_app::analytics::sales_csv(&report),
            "sales.csv",
        ));
    }
    Ok(Json(report).into_response())
}

/// The best-selling listings over a range of Bangkok days, by units or by net revenue.
#[utoipa::path(get, path = "/v1/analytics/top-listings", tag = TAG, params(TopListingsQuery),
    responses(
        (status = 200, content((TopListings = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn top_listings(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TopListingsQuery>,
) -> Result<Response, ApiError> {
    let report = otop_app::analytics::top_listings(&state, &actor, &query).await?;
    if wants_csv(&headers) {
        return Ok(csv_response(
            otop_app::analytics::top_listings_csv(&report),
            "top-listings.csv",
        ));
    }
    Ok(Json(report).into_response())
}
