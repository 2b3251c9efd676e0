//! HTTP handlers, one module per resource.

pub mod analytics;
pub mod audit;
pub mod checkouts;
pub mod csv;
pub mod health;
pub mod ledger;
pub mod listings;
pub mod order_commands;
pub mod orders;

pub mod payments;
pub mod photos;
pub mod seals;
pub mod search;
pub mod vendors;

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use utoipa::ToSchema;

use crate::problem::ApiError;

pub use otop_app::command::{execute, CommandReply, StatusName};

/// Bodies that may be left out entirely (`POST .../close` with no reason, say).
pub fn optional_json<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|error| {
        if error.is_data() {
            ApiError::invalid("body", error.to_string())
        } else {
            ApiError::Malformed(format!("the body is not JSON: {error}"))
        }
    })
}

/// `{"reason": "..."}`, required and length-limited.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalReasonRequest {
    pub reason: Option<String>,
}
