//! `POST /v1/orders/{id}/payments`: the JSON face of `otop_app::payments`, the payment
//! provider's signed callback.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
pub use otop_app::payments::{
    signature_header, signature_of, verify_signature, PaymentRequest, PAYMENT_PROVIDER,
    REFERENCE_MAX_CHARS, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS,
};
use otop_app::AppState;

use super::CommandReply;
use crate::extract::{request_id, IdPath};
use crate::problem::{ApiError, Problem};

pub const TAG: &str = "orders";

/// Record the shopper's payment of an order awaiting payment (the payment provider).
///
/// `X-Otop-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is the lower-case
/// HMAC-SHA256, keyed with `OTOP_PAYMENT_SECRET`, of `<t>.` followed by the raw body; `t`
/// must be within 300 s of the server's clock. The body's `order_id` must be the path's. A
/// `reference` pays one order: the same callback again replies 200 and records nothing, the
/// reference on another order is a 409. The platform's commission rate
/// (`OTOP_COMMISSION_BPS`) is recorded with the payment.
#[utoipa::path(post, path = "/v1/orders/{id}/payments", tag = TAG,
    params(("id" = Uuid, Path),
        ("X-Otop-Signature" = String, Header, description = "t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 of \"<t>.\" + the raw body, keyed with the payment secret>")),
    request_body = PaymentRequest,
    responses((status = 200, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_payment(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Result<Json<CommandReply>, ApiError> {
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let reply =
        otop_app::payments::receive_callback(&state, id, &body, signature, &request_id(&parts))
            .await?;
    Ok(Json(reply))
}
