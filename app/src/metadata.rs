//! The metadata of a command's events, as both faces make it.

use otop_domain::{Actor, EventMetadata};
use uuid::Uuid;

/// The metadata of a command from a request: its actor, its request id, and correlation and
/// causation ids minted here (never taken from the client: a client that chose them could
/// hide its commands among another's in an audit).
pub fn command_metadata(actor: Actor, request_id: &str) -> EventMetadata {
    let mut metadata = EventMetadata::for_request(actor, request_id, chrono::Utc::now());
    let command_id = Uuid::now_v7().to_string();
    metadata.correlation_id = command_id.clone();
    metadata.causation_id = command_id;
    metadata
}
