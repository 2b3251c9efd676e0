//! What every command replies, and running one command on one aggregate.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;

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
) -> Result<CommandReply, AppError>
where
    A: cqrs_es::Aggregate<Services = (), Error = otop_domain::DomainError>
        + StatusName
        + Clone
        + 'static,
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
