//! The payment provider's callback (`POST /v1/orders/{id}/payments`, and the demo's "pay"
//! button, which signs one and sends it through [`receive_callback`]). No bearer token: the
//! provider signs, with the shared secret (`OTOP_PAYMENT_SECRET`), the time of the callback
//! and its raw body, as Stripe signs its webhooks:
//!
//! ```text
//! X-Otop-Signature: t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 of "<t>." + raw body>
//! ```
//!
//! Nothing is read from the body before the signature is checked. The body names its order,
//! so a callback signed for one order cannot pay another; `t` more than
//! [`SIGNATURE_TOLERANCE_SECONDS`] from the server's clock is refused, so an old callback
//! cannot be replayed later; and a reference pays one order only (projections/src/payment.rs).

use hmac::{Hmac, Mac};
use otop_domain::values::{parse_text, Satang};
use otop_domain::{Actor, Role, Validator};
pub use otop_projections::payment::PAYMENT_PROVIDER;
use otop_projections::payment::{record_payment as record, Payment};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::command::{CommandReply, StatusName};
use crate::error::AppError;
use crate::state::AppState;

pub const SIGNATURE_HEADER: &str = "x-otop-signature";
pub const REFERENCE_MAX_CHARS: usize = 100;
/// How far the signed `t` may be from the server's clock, either way.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The order paid: must be the order of the path.
    pub order_id: Uuid,
    /// What the shopper paid, in satang: must equal the order's total.
    pub amount_satang: i64,
    /// The provider's reference of the payment, 1 to 100 characters. It pays one order: the
    /// same callback again changes nothing, the reference on another order is a 409.
    pub reference: String,
}

/// The lower-case hex signature of a callback at `timestamp` (unix seconds) with `body`.
pub fn signature_of(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, AppError> {
    Ok(hex::encode(
        mac_of(secret, timestamp, body)?.finalize().into_bytes(),
    ))
}

/// The whole header value a provider sends: `t=<timestamp>,v1=<signature>`.
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, AppError> {
    Ok(format!(
        "t={timestamp},v1={}",
        signature_of(secret, timestamp, body)?
    ))
}

fn mac_of(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<HmacSha256, AppError> {
    let mut mac = HmacSha256::new_from_slice(secret)
        .map_err(|error| AppError::Internal(format!("payment secret: {error}")))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// Checks `X-Otop-Signature` (`t=...,v1=...`; several `v1` are allowed, as while a secret is
/// rotated) against the HMAC-SHA256 of `"<t>." + body`, in constant time, and that `t` is
/// within [`SIGNATURE_TOLERANCE_SECONDS`] of `now` (unix seconds).
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let unauthorized =
        |why: &str| AppError::Unauthorized(format!("payment callback refused: {why}"));
    let header = header.ok_or_else(|| unauthorized("no X-Otop-Signature header (as text)"))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| {
        unauthorized("X-Otop-Signature has no t=<unix seconds> (expected t=...,v1=...)")
    })?;
    if signatures.is_empty() {
        return Err(unauthorized("X-Otop-Signature has no v1=<hex signature>"));
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(unauthorized(&format!(
            "the signed time is more than {SIGNATURE_TOLERANCE_SECONDS} s from the server's clock"
        )));
    }
    for signature in signatures {
        let Ok(given) = hex::decode(signature) else {
            continue;
        };
        // `verify_slice` compares in constant time.
        if mac_of(secret, timestamp, body)?
            .verify_slice(&given)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(unauthorized("X-Otop-Signature does not match the body"))
}

impl PaymentRequest {
    /// The body as a payment of `path_order`, or why not.
    pub fn parse(body: &[u8], path_order: Uuid) -> Result<(Satang, String), AppError> {
        let request: PaymentRequest = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                AppError::invalid("body", error.to_string())
            } else {
                AppError::Malformed(format!("the body is not JSON: {error}"))
            }
        })?;
        let mut v = Validator::new();
        if request.order_id != path_order {
            v.push(otop_domain::FieldError::new(
                "order_id",
                "must be the order of the path: a callback pays the order it was signed for",
            ));
        }
        let amount = v.check(Satang::parse("amount_satang", request.amount_satang));
        let reference = v.check(parse_text(
            "reference",
            &request.reference,
            REFERENCE_MAX_CHARS,
        ));
        Ok(v.finish_with((amount, reference))?)
    }
}

/// Receives a provider callback for `order_id`: checks the signature (`X-Otop-Signature`'s
/// value) over the raw `body` before reading it, then records the payment on the order and
/// on its reference in one append. `metadata` is the request's, with the provider as actor.
pub async fn receive_callback(
    state: &AppState,
    order_id: Uuid,
    body: &[u8],
    signature: Option<&str>,
    request_id: &str,
) -> Result<CommandReply, AppError> {
    verify_signature(
        state.config.payment_secret.expose_secret().as_bytes(),
        body,
        signature,
        chrono::Utc::now().timestamp(),
    )?;
    let (amount, reference) = PaymentRequest::parse(body, order_id)?;
    let actor = Actor::new(PAYMENT_PROVIDER, Role::System);
    let metadata = crate::metadata::command_metadata(actor, request_id);
    let payment = Payment {
        order_id,
        amount,
        reference,
        commission_bps: state.config.commission_bps,
    };
    let recorded = record(&state.events, &payment, &metadata.to_map()).await?;
    let status = recorded.order.status_name().to_string();
    tracing::info!(%order_id, position = recorded.position, status, "payment recorded");
    Ok(CommandReply {
        id: order_id,
        position: recorded.position,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(signature: &str) -> Option<&str> {
        Some(signature)
    }

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn only_the_signature_of_this_time_and_these_exact_bytes_with_this_secret_passes() {
        let body = br#"{"order_id":"0190f6c4-0000-7000-8000-000000000001","amount_satang":350000,"reference":"PAY-1"}"#;
        let good = signature_header(b"secret", NOW, body).unwrap();
        assert!(verify_signature(b"secret", body, headers(&good), NOW).is_ok());
        // A second v1 (a rotated secret) may stand beside the good one, in either order.
        let rotated = format!(
            "t={NOW},v1={},v1={}",
            signature_of(b"old", NOW, body).unwrap(),
            signature_of(b"secret", NOW, body).unwrap()
        );
        assert!(verify_signature(b"secret", body, headers(&rotated), NOW).is_ok());
        let spaced = br#"{"order_id":"0190f6c4-0000-7000-8000-000000000001", "amount_satang":350000,"reference":"PAY-1"}"#;
        let good_hex = signature_of(b"secret", NOW, body).unwrap();
        for bad in [
            // Another secret, another body, another time under the same signature.
            signature_header(b"secret2", NOW, body).unwrap(),
            signature_header(b"secret", NOW, spaced).unwrap(),
            format!("t={},v1={good_hex}", NOW + 1),
            // The old scheme: the body's HMAC alone, with no time.
            hex::encode({
                let mut mac = HmacSha256::new_from_slice(b"secret").unwrap();
                mac.update(body);
                mac.finalize().into_bytes()
            }),
            format!("t={NOW},v1={}", &good_hex[..62]),
            format!("t={NOW},v1=zz"),
            format!("v1={good_hex}"),
            format!("t={NOW}"),
            String::new(),
        ] {
            let error = verify_signature(b"secret", body, headers(&bad), NOW).unwrap_err();
            assert!(
                matches!(error, AppError::Unauthorized(_)),
                "{bad}: {error:?}"
            );
        }
        let missing = verify_signature(b"secret", body, None, NOW).unwrap_err();
        assert!(matches!(missing, AppError::Unauthorized(_)));
    }

    #[test]
    fn a_signature_is_good_for_300_seconds_either_side_of_the_servers_clock() {
        let body = br#"{}"#;
        for (signed_at, accepted) in [
            (NOW - 300, true),
            (NOW + 300, true),
            (NOW - 301, false),
            (NOW + 301, false),
            (NOW - 86_400, false),
        ] {
            let header = signature_header(b"secret", signed_at, body).unwrap();
            let verdict = verify_signature(b"secret", body, headers(&header), NOW);
            assert_eq!(
                verdict.is_ok(),
                accepted,
                "signed at now{:+}",
                signed_at - NOW
            );
        }
    }
}
