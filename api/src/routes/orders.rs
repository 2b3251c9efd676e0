//! `/v1/orders` queries: the JSON face of `otop_app::orders`.

use axum::extract::State;
use axum::Json;
pub use otop_app::orders::{OrderLineView, OrderListQuery, OrderView, ReadQuery};
use otop_app::paging::Page;
use otop_app::AppState;

use crate::auth::SignedIn;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};

pub const TAG: &str = "orders";

/// Orders, newest first: a shopper's own, a vendor's own, or (admins) all.
#[utoipa::path(get, path = "/v1/orders", tag = TAG, params(OrderListQuery),
    responses((status = 200, body = Page<OrderView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_orders(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    Ok(Json(
        otop_app::orders::list_orders(&state, &actor, &query).await?,
    ))
}

/// One order: its shopper, its vendor and admins.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = TAG, params(("id" = Uuid, Path), ReadQuery),
    responses((status = 200, body = OrderView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    SignedIn(actor): SignedIn,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(
        otop_app::orders::get_order(&state, &actor, id, query.min_position).await?,
    ))
}
