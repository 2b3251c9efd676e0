//! Who is acting: every command carries an [`Actor`], and every event records it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Shopper,
    Vendor,
    Admin,
    Auditor,
    Analyst,
    /// The platform itself (process managers, expiry timers, seeding).
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Shopper => "shopper",
            Role::Vendor => "vendor",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
            Role::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "shopper" => Some(Role::Shopper),
            "vendor" => Some(Role::Vendor),
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            "analyst" => Some(Role::Analyst),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The token's subject.
    pub id: String,
    pub role: Role,
    /// Set only for the vendor role: the one vendor this actor speaks for.
    pub vendor_id: Option<Uuid>,
}

impl Actor {
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Actor {
            id: id.into(),
            role,
            vendor_id: None,
        }
    }

    pub fn vendor(id: impl Into<String>, vendor_id: Uuid) -> Self {
        Actor {
            id: id.into(),
            role: Role::Vendor,
            vendor_id: Some(vendor_id),
        }
    }

    pub fn system() -> Self {
        Actor::new("otop-system", Role::System)
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Admin | Role::System)
    }

    /// True when this actor is the vendor `vendor_id` itself.
    pub fn speaks_for_vendor(&self, vendor_id: Uuid) -> bool {
        self.role == Role::Vendor && self.vendor_id == Some(vendor_id)
    }
}
