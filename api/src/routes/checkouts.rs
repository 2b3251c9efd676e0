//! `POST /v1/checkouts`: the JSON face of `otop_app::checkout`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
pub use otop_app::checkout::{
    CheckoutLineRequest, CheckoutOrder, CheckoutReply, CheckoutRequest, ShippingAddressRequest,
};
use otop_app::AppState;

use crate::extract::{ApiJson, CommandContext};
use crate::idempotency::IDEMPOTENCY_KEY_HEADER;
use crate::problem::{ApiError, Problem};

pub const TAG: &str = "checkout";

/// Place a checkout (shopper): one order per vendor, stock reserved on every line.
#[utoipa::path(post, path = "/v1/checkouts", tag = TAG, request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe retries; also fixes the checkout's ids")),
    responses((status = 201, body = CheckoutReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "lines that could not be reserved, named in `errors`"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_checkout(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: CommandContext,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> Result<(StatusCode, Json<CheckoutReply>), ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok());
    let reply = otop_app::checkout::place(&state, &ctx.actor, &ctx.metadata, key, body).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}
