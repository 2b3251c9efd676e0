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
pub mod paging;
pub mod payments;
pub mod seals;
pub mod search;
pub mod vendors;

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::ApiError;

/// The reply to every command: the id it acted on, the log position it wrote (wait for it
/// with `?min_position=` on queries) and the resource's status after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandReply {
    pub id: Uuid,
    pub position: i64,
    pub status: String,
}

/// The status name an aggregate shows in command replies (empty before it exists).
pub trait StatusName {
    fn status_name(&self) -> &'static str;
}

impl StatusName for otop_domain::Vendor {
    fn status_name(&self) -> &'static str {
        self.state().map_or("", |s| s.status.as_str())
    }
}

impl StatusName for otop_domain::Listing {
    fn status_name(&self) -> &'static str {
        self.state().map_or("", |s| s.status.as_str())
    }
}

impl StatusName for otop_domain::Order {
    fn status_name(&self) -> &'static str {
        self.state().map_or("", |s| s.status.as_str())
    }
}

/// Runs one command on one aggregate and builds the reply every command gets.
pub async fn execute<A>(
    store: &otop_projections::AggregateStore<A>,
    id: Uuid,
    command: A::Command,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<CommandReply, crate::problem::ApiError>
where
    A: cqrs_es::Aggregate<Services = (), Error = otop_domain::DomainError> + StatusName,
    A::Command: Clone,
{
    let outcome = store.execute(&id.to_string(), command, metadata).await?;
    let status = outcome.aggregate.status_name().to_string();
    tracing::info!(aggregate_type = A::TYPE, %id, position = outcome.position, status, "command");
    Ok(CommandReply {
        id,
        position: outcome.position,
        status,
    })
}

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
