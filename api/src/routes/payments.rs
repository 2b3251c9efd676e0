//! `POST /v1/orders/{id}/payments`: the payment provider's callback. No bearer token: the
//! provider signs the raw body with the shared secret (`OTOP_PAYMENT_SECRET`), HMAC-SHA256 in
//! hex in `X-Otop-Signature`, and nothing is read from the body before the signature is checked.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use hmac::{Hmac, Mac};
use otop_domain::values::{parse_text, Satang};
use otop_domain::{Actor, EventMetadata, OrderCommand, Role, Validator};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use super::order_commands::run;
use super::CommandReply;
use crate::extract::{IdPath, REQUEST_ID_HEADER};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub const TAG: &str = "orders";
pub const SIGNATURE_HEADER: &str = "x-otop-signature";
/// The actor id payments are recorded under.
pub const PAYMENT_PROVIDER: &str = "payment-provider";
pub const REFERENCE_MAX_CHARS: usize = 100;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// What the shopper paid, in satang: must equal the order's total.
    pub amount_satang: i64,
    /// The provider's reference of the payment, 1 to 100 characters. A callback repeated with
    /// the same reference changes nothing.
    pub reference: String,
}

/// Checks `X-Otop-Signature` against the HMAC-SHA256 of `body` with `secret`, in constant time.
pub fn verify_signature(secret: &str, body: &[u8], headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized =
        |why: &str| ApiError::Unauthorized(format!("payment callback refused: {why}"));
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| unauthorized("no X-Otop-Signature header"))?;
    let given = header
        .to_str()
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
        .ok_or_else(|| unauthorized("X-Otop-Signature is not hex"))?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .map_err(|error| ApiError::Internal(format!("payment secret: {error}")))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| unauthorized("X-Otop-Signature does not match the body"))
}

impl PaymentRequest {
    fn parse(body: &[u8]) -> Result<(Satang, String), ApiError> {
        let request: PaymentRequest = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                ApiError::invalid("body", error.to_string())
            } else {
                ApiError::Malformed(format!("the body is not JSON: {error}"))
            }
        })?;
        let mut v = Validator::new();
        let amount = v.check(Satang::parse("amount_satang", request.amount_satang));
        let reference = v.check(parse_text(
            "reference",
            &request.reference,
            REFERENCE_MAX_CHARS,
        ));
        v.finish()?;
        match (amount, reference) {
            (Some(amount), Some(reference)) => Ok((amount, reference)),
            _ => Err(ApiError::Internal(
                "validator passed with a missing field".into(),
            )),
        }
    }
}

/// Record the shopper's payment of an order awaiting payment (the payment provider).
///
/// The body must be signed: `X-Otop-Signature` is the lower-case hex HMAC-SHA256 of the raw
/// body with `OTOP_PAYMENT_SECRET`. A repeated callback with the same `reference` replies 200
/// and records nothing. The platform's commission rate (`OTOP_COMMISSION_BPS`) is recorded
/// with the payment.
#[utoipa::path(post, path = "/v1/orders/{id}/payments", tag = TAG,
    params(("id" = Uuid, Path),
        ("X-Otop-Signature" = String, Header, description = "lower-case hex HMAC-SHA256 of the raw body with the payment secret")),
    request_body = PaymentRequest,
    responses((status = 200, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_payment(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CommandReply>, ApiError> {
    verify_signature(&state.config.payment_secret, &body, &headers)?;
    let (amount, reference) = PaymentRequest::parse(&body)?;
    let actor = Actor::new(PAYMENT_PROVIDER, Role::System);
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let metadata = EventMetadata::for_request(actor.clone(), &request_id, chrono::Utc::now());
    let command = OrderCommand::RecordPayment {
        actor,
        amount,
        reference,
        commission_bps: state.config.commission_bps,
    };
    run(&state, id, command, &metadata.to_map()).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn only_the_signature_of_these_exact_bytes_with_this_secret_passes() {
        let body = br#"{"amount_satang":350000,"reference":"PAY-1"}"#;
        let good = sign("secret", body);
        assert_eq!(good.len(), 64);
        assert!(verify_signature("secret", body, &headers(&good)).is_ok());
        // Another secret, another body (one space added), a truncated or garbled signature.
        let other_secret = sign("secret2", body);
        let other_body = sign(
            "secret",
            br#"{"amount_satang":350000, "reference":"PAY-1"}"#,
        );
        for bad in [
            other_secret.as_str(),
            other_body.as_str(),
            &good[..62],
            "zz",
            "",
        ] {
            let error = verify_signature("secret", body, &headers(bad)).unwrap_err();
            assert!(
                matches!(error, ApiError::Unauthorized(_)),
                "{bad}: {error:?}"
            );
        }
        let missing = verify_signature("secret", body, &HeaderMap::new()).unwrap_err();
        assert!(matches!(missing, ApiError::Unauthorized(_)));
    }
}
