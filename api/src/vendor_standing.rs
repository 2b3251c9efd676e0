//! What a vendor's status means for its tokens (API.md, Vendors), enforced for every request
//! in one place, before any handler runs:
//!
//! - **closed**: every request with the vendor's token is a 403, reads included;
//! - **suspended**: it may read, and fulfil the orders it was paid for (accept, pack, ship,
//!   deliver); every other change is a 403, so its listings are frozen and its profile
//!   (payout PromptPay id included) stays as it was.
//!
//! The status is read through [`otop_app::vendor_standing::status_of`].

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use otop_domain::Role;

use crate::auth::bearer_token;
use crate::problem::ApiError;
use otop_app::state::AppState;

use otop_app::vendor_standing::{barred, status_of, Intent};
pub use otop_app::vendor_standing::{forget, STATUS_TTL};

/// The commands a suspended vendor may still send: the fulfilment of paid orders.
fn is_fulfilment(method: &Method, path: &str) -> bool {
    if method != Method::POST {
        return false;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["v1", "orders", _, "accept" | "pack" | "ship" | "deliver"]
    )
}

pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // A bad token is the handler's 401 to give; only a valid vendor token is looked at here.
    let vendor_id = match bearer_token(&parts) {
        Ok(Some(token)) => state
            .auth
            .verify(token)
            .ok()
            .filter(|actor| actor.role == Role::Vendor)
            .and_then(|actor| actor.vendor_id),
        _ => None,
    };
    if let Some(vendor_id) = vendor_id {
        let status = match status_of(&state, vendor_id).await {
            Ok(status) => status,
            Err(error) => return ApiError::from(error).into_response(),
        };
        let intent = if matches!(parts.method, Method::GET | Method::HEAD) {
            Intent::Read
        } else if is_fulfilment(&parts.method, parts.uri.path()) {
            Intent::Fulfil
        } else {
            Intent::Change
        };
        if let Some(why) = barred(vendor_id, status, intent) {
            return ApiError::Forbidden(why).into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspended_vendor_may_fulfil_orders_and_nothing_else() {
        let order = "/v1/orders/0190f6c4-0000-7000-8000-000000000001";
        for step in ["accept", "pack", "ship", "deliver"] {
            assert!(is_fulfilment(&Method::POST, &format!("{order}/{step}")));
        }
        for (method, path) in [
            (Method::POST, format!("{order}/refund")),
            (Method::POST, format!("{order}/cancel")),
            (Method::GET, format!("{order}/accept")),
            (Method::PUT, "/v1/listings/x/price".to_string()),
            (Method::POST, "/v1/orders/accept".to_string()),
            (Method::POST, format!("{order}/accept/more")),
        ] {
            assert!(!is_fulfilment(&method, &path), "{method} {path}");
        }
    }
}
