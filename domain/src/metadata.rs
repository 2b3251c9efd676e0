//! The metadata every event carries (DESIGN.md decision 9): who acted, when, in which request,
//! and the correlation / causation ids that tie a saga together. Stored by postgres-es as the
//! event's `metadata` JSON object of strings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actor::{Actor, Role};

pub const ACTOR_ID: &str = "actor_id";
pub const ACTOR_ROLE: &str = "actor_role";
pub const ACTOR_VENDOR_ID: &str = "actor_vendor_id";
pub const REQUEST_ID: &str = "request_id";
pub const CORRELATION_ID: &str = "correlation_id";
pub const CAUSATION_ID: &str = "causation_id";
pub const RECORDED_AT: &str = "recorded_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    pub actor: Actor,
    pub request_id: String,
    /// Ties together every event of one business flow (a checkout and all it causes).
    pub correlation_id: String,
    /// The request or event that directly caused this one.
    pub causation_id: String,
    pub recorded_at: DateTime<Utc>,
}

impl EventMetadata {
    /// Metadata for a command that starts a flow of its own: the request is its own cause and
    /// its own correlation.
    pub fn for_request(actor: Actor, request_id: &str, recorded_at: DateTime<Utc>) -> Self {
        EventMetadata {
            actor,
            request_id: request_id.to_string(),
            correlation_id: request_id.to_string(),
            causation_id: request_id.to_string(),
            recorded_at,
        }
    }

    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(7);
        map.insert(ACTOR_ID.to_string(), self.actor.id.clone());
        map.insert(ACTOR_ROLE.to_string(), self.actor.role.as_str().to_string());
        if let Some(vendor_id) = self.actor.vendor_id {
            map.insert(ACTOR_VENDOR_ID.to_string(), vendor_id.to_string());
        }
        map.insert(REQUEST_ID.to_string(), self.request_id.clone());
        map.insert(CORRELATION_ID.to_string(), self.correlation_id.clone());
        map.insert(CAUSATION_ID.to_string(), self.causation_id.clone());
        map.insert(
            RECORDED_AT.to_string(),
            self.recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        map
    }

    /// Reads metadata back; `None` when a required key is missing or malformed.
    pub fn from_map(map: &HashMap<String, String>) -> Option<Self> {
        let role = Role::parse(map.get(ACTOR_ROLE)?)?;
        let vendor_id = match map.get(ACTOR_VENDOR_ID) {
            Some(text) => Some(Uuid::parse_str(text).ok()?),
            None => None,
        };
        Some(EventMetadata {
            actor: Actor {
                id: map.get(ACTOR_ID)?.clone(),
                role,
                vendor_id,
            },
            request_id: map.get(REQUEST_ID)?.clone(),
            correlation_id: map.get(CORRELATION_ID)?.clone(),
            causation_id: map.get(CAUSATION_ID)?.clone(),
            recorded_at: DateTime::parse_from_rfc3339(map.get(RECORDED_AT)?)
                .ok()?
                .with_timezone(&Utc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_the_string_map() {
        let metadata = EventMetadata::for_request(
            Actor::vendor("user-1", Uuid::nil()),
            "req-1",
            DateTime::parse_from_rfc3339("2026-01-31T10:00:00.123456Z")
                .expect("valid time")
                .with_timezone(&Utc),
        );
        let map = metadata.to_map();
        assert_eq!(map[ACTOR_ROLE], "vendor");
        assert_eq!(EventMetadata::from_map(&map), Some(metadata));
    }
}
