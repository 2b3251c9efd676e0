//! What a vendor's status means for its tokens (API.md, Vendors), enforced for every request
//! in one place, before any handler runs:
//!
//! - **closed**: every request with the vendor's token is a 403, reads included;
//! - **suspended**: it may read, and fulfil the orders it was paid for (accept, pack, ship,
//!   deliver); every other change is a 403, so its listings are frozen and its profile
//!   (payout PromptPay id included) stays as it was.
//!
//! A vendor's status is read from its aggregate (the log, not a read model) and remembered
//! for [`STATUS_TTL`], so a vendor's burst of price changes costs one load, not one each.
//! This process forgets a vendor's status as soon as it runs a command on that vendor
//! ([`forget`]); another process learns of it within the TTL.

use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moka::future::Cache;
use otop_domain::{Role, VendorStatus};
use uuid::Uuid;

use crate::auth::bearer_token;
use crate::problem::ApiError;
use otop_app::state::AppState;

/// How long a vendor's status is remembered.
pub const STATUS_TTL: Duration = Duration::from_secs(1);

static STATUSES: LazyLock<Cache<Uuid, Option<VendorStatus>>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(STATUS_TTL)
        .build()
});

/// Drops what this process remembers of `vendor_id`'s status (after a command on it).
pub async fn forget(vendor_id: Uuid) {
    STATUSES.invalidate(&vendor_id).await;
}

async fn status_of(state: &AppState, vendor_id: Uuid) -> Result<Option<VendorStatus>, ApiError> {
    if let Some(status) = STATUSES.get(&vendor_id).await {
        return Ok(status);
    }
    let loaded = state.vendors.load(&vendor_id.to_string()).await?;
    let status = loaded.aggregate.state().map(|vendor| vendor.status);
    STATUSES.insert(vendor_id, status).await;
    Ok(status)
}

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
            Err(error) => return error.into_response(),
        };
        let reading = matches!(parts.method, Method::GET | Method::HEAD);
        match status {
            Some(VendorStatus::Closed) => {
                return ApiError::Forbidden(format!(
                    "vendor {vendor_id} is closed: its tokens are no longer accepted"
                ))
                .into_response()
            }
            Some(VendorStatus::Suspended)
                if !reading && !is_fulfilment(&parts.method, parts.uri.path()) =>
            {
                return ApiError::Forbidden(format!(
                    "vendor {vendor_id} is suspended: it may read and fulfil paid orders, nothing else"
                ))
                .into_response()
            }
            _ => {}
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
