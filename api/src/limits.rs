//! Abuse limits (API.md, Limits): a write rate per caller, answered with 429 and
//! `Retry-After`, and one `/v1/audit/verify` at a time. The rate limiter is `governor`'s
//! keyed GCRA (a well-kept crate, not a hand-made counter); the unpaid-checkout cap is the
//! checkout's own check (routes/checkouts.rs).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};

use crate::problem::ApiError;
pub use otop_app::limits::{try_verify, verify_gate, write_limiter, WriteLimiter};
use otop_app::AppState;

/// Who a write counts against: the token's role and subject, else the client's address.
/// Payment callbacks (signed, no token) are the provider's, and a sale must not throttle
/// them: they are left to their signature.
fn caller_of(state: &AppState, request: &Request) -> Option<String> {
    let headers = request.headers();
    if headers.contains_key(crate::routes::payments::SIGNATURE_HEADER)
        && !headers.contains_key(axum::http::header::AUTHORIZATION)
    {
        return None;
    }
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(actor) = token.and_then(|token| state.auth.verify(token).ok()) {
        return Some(format!("{}:{}", actor.role.as_str(), actor.id));
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    Some(format!("address:{address}"))
}

pub async fn limit_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = state.write_limiter.as_ref() else {
        return next.run(request).await;
    };
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(request).await;
    }
    let Some(caller) = caller_of(&state, &request) else {
        return next.run(request).await;
    };
    if let Err(not_until) = limiter.check_key(&caller) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        tracing::info!(
            caller,
            wait_ms = wait.as_millis() as u64,
            "write rate limit"
        );
        return ApiError::TooManyRequests {
            detail: format!(
                "more than {} writes a minute from this caller: slow down",
                state.config.write_rate_per_minute
            ),
            retry_after_seconds: wait.as_secs_f64().ceil() as u64,
        }
        .into_response();
    }
    // Keys that have refilled are forgotten now and then, so memory stays bounded.
    if limiter.len() > 100_000 {
        limiter.retain_recent();
    }
    next.run(request).await
}
