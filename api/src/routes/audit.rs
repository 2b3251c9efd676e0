//! `/v1/audit`: for auditors (and admins), run by `otop_app::audit` (which the `/audit`
//! pages call too). Everything here is read from the event log itself, never from a read
//! model: an order's full history with the state after each event and the stock events it
//! caused, the order as it stood at any instant, and the check of the tamper-evident hash
//! chains.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::csv::{csv_response, wants_csv};
use crate::auth::SignedIn;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
pub use otop_app::audit::{
    AsOfQuery, AuditActor, AuditOrderLine, AuditOrderState, AuditReadQuery, HistoryEvent,
    OrderAsOf, OrderHistory, SealProblemReply, SealsCheck, VerifyProblem, VerifyReply, AUDIT_ROLES,
};
use otop_app::state::AppState;

pub const TAG: &str = "audit";

/// Every event of an order in order, with its metadata, hashes and the order's state after
/// it, plus the stock events (reserved, released, committed) the order caused on listings,
/// all in log order. `Accept: text/csv` gives CSV (JSON columns as JSON text).
#[utoipa::path(get, path = "/v1/audit/orders/{id}/history", tag = TAG,
    params(("id" = Uuid, Path), AuditReadQuery),
    responses(
        (status = 200, content((OrderHistory = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn order_history(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    SignedIn(actor): SignedIn,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AuditReadQuery>,
) -> Result<Response, ApiError> {
    let history = otop_app::audit::order_history(&state, &actor, id, &query).await?;
    if wants_csv(&headers) {
        return Ok(csv_response(
            otop_app::audit::history_csv(&history),
            &format!("order-{id}-history.csv"),
        ));
    }
    Ok(Json(history).into_response())
}

/// The order as it stood at `at`: the events recorded at or before that instant (in
/// sequence order, up to the first one recorded later), replayed with the domain's `apply`.
/// 404 for an unknown order, and for an instant before the order was placed.
#[utoipa::path(get, path = "/v1/audit/orders/{id}", tag = TAG,
    params(("id" = Uuid, Path), AsOfQuery),
    responses((status = 200, body = OrderAsOf), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn order_as_of(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    SignedIn(actor): SignedIn,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Json<OrderAsOf>, ApiError> {
    Ok(Json(
        otop_app::audit::order_as_of(&state, &actor, id, &query).await?,
    ))
}

/// Walks every aggregate's hash chain and names each altered, removed, inserted or reordered
/// event by aggregate and sequence; then checks the log against every stored seal (`seals`),
/// which also catches an aggregate erased whole and a chain re-hashed consistently.
#[utoipa::path(get, path = "/v1/audit/verify", tag = TAG,
    responses((status = 200, body = VerifyReply), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify_log(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> Result<Json<VerifyReply>, ApiError> {
    Ok(Json(otop_app::audit::verify_log(&state, &actor).await?))
}
