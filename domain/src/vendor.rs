//! The Vendor aggregate: an OTOP producer group's life on the marketplace.
//!
//! ```text
//! (none) --apply--> applied --approve--> approved <--reinstate-- suspended
//!                      |                    |  \------suspend------^  |
//!                    reject               close                     close
//!                      v                    v                         v
//!                   rejected              closed <--------------------+
//! ```
//! `applied` can also be closed (the applicant withdraws).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DomainError;
use crate::values::{DistrictCode, Email, Phone, ProducerType, PromptPayId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorStatus {
    Applied,
    Approved,
    Rejected,
    Suspended,
    Closed,
}

impl VendorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VendorStatus::Applied => "applied",
            VendorStatus::Approved => "approved",
            VendorStatus::Rejected => "rejected",
            VendorStatus::Suspended => "suspended",
            VendorStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<VendorStatus> {
        [
            VendorStatus::Applied,
            VendorStatus::Approved,
            VendorStatus::Rejected,
            VendorStatus::Suspended,
            VendorStatus::Closed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorProfile {
    pub name_th: String,
    pub name_en: Option<String>,
    pub district_code: DistrictCode,
    pub producer_type: ProducerType,
    pub phone: Phone,
    pub email: Option<Email>,
    pub payout_promptpay: Option<PromptPayId>,
}

/// A change of profile: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorProfilePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_th: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_code: Option<DistrictCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_type: Option<ProducerType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_promptpay: Option<PromptPayId>,
}

impl VendorProfilePatch {
    pub fn is_empty(&self) -> bool {
        self == &VendorProfilePatch::default()
    }

    fn apply_to(&self, profile: &mut VendorProfile) {
        if let Some(name_th) = &self.name_th {
            profile.name_th = name_th.clone();
        }
        if let Some(name_en) = &self.name_en {
            profile.name_en = Some(name_en.clone());
        }
        if let Some(district_code) = &self.district_code {
            profile.district_code = district_code.clone();
        }
        if let Some(producer_type) = self.producer_type {
            profile.producer_type = producer_type;
        }
        if let Some(phone) = &self.phone {
            profile.phone = phone.clone();
        }
        if let Some(email) = &self.email {
            profile.email = Some(email.clone());
        }
        if let Some(payout) = &self.payout_promptpay {
            profile.payout_promptpay = Some(payout.clone());
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum VendorCommand {
    Apply {
        vendor_id: Uuid,
        profile: VendorProfile,
        actor: Actor,
    },
    Approve {
        actor: Actor,
    },
    Reject {
        actor: Actor,
        reason: String,
    },
    Suspend {
        actor: Actor,
        reason: String,
    },
    Reinstate {
        actor: Actor,
    },
    Close {
        actor: Actor,
        reason: Option<String>,
    },
    UpdateProfile {
        actor: Actor,
        patch: VendorProfilePatch,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VendorEvent {
    VendorApplied {
        vendor_id: Uuid,
        profile: VendorProfile,
        applicant_id: String,
    },
    VendorApproved,
    VendorRejected {
        reason: String,
    },
    VendorSuspended {
        reason: String,
    },
    VendorReinstated,
    VendorClosed {
        reason: Option<String>,
    },
    VendorProfileUpdated {
        patch: VendorProfilePatch,
    },
}

impl DomainEvent for VendorEvent {
    fn event_type(&self) -> String {
        match self {
            VendorEvent::VendorApplied { .. } => "VendorApplied",
            VendorEvent::VendorApproved => "VendorApproved",
            VendorEvent::VendorRejected { .. } => "VendorRejected",
            VendorEvent::VendorSuspended { .. } => "VendorSuspended",
            VendorEvent::VendorReinstated => "VendorReinstated",
            VendorEvent::VendorClosed { .. } => "VendorClosed",
            VendorEvent::VendorProfileUpdated { .. } => "VendorProfileUpdated",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorState {
    pub id: Uuid,
    pub status: VendorStatus,
    pub profile: VendorProfile,
    pub applicant_id: String,
    /// Why the vendor was last rejected, suspended or closed.
    pub status_reason: Option<String>,
}

/// `None` until the vendor has applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor(pub Option<VendorState>);

impl Vendor {
    pub fn state(&self) -> Option<&VendorState> {
        self.0.as_ref()
    }

    /// Decides which events a command produces, without changing anything.
    pub fn decide(&self, command: VendorCommand) -> Result<Vec<VendorEvent>, DomainError> {
        let (state, command) = match (&self.0, command) {
            (
                None,
                VendorCommand::Apply {
                    vendor_id,
                    profile,
                    actor,
                },
            ) => {
                return Ok(vec![VendorEvent::VendorApplied {
                    vendor_id,
                    profile,
                    applicant_id: actor.id,
                }]);
            }
            (Some(_), VendorCommand::Apply { .. }) => {
                return Err(DomainError::AlreadyExists { kind: "vendor" })
            }
            (None, _) => return Err(DomainError::NotFound { kind: "vendor" }),
            (Some(state), command) => (state, command),
        };
        use VendorStatus::*;
        match command {
            VendorCommand::Apply { .. } => unreachable!("handled above"),
            VendorCommand::Approve { actor } => {
                require_admin(&actor, "approve a vendor")?;
                require_status(state, &[Applied], "approve")?;
                Ok(vec![VendorEvent::VendorApproved])
            }
            VendorCommand::Reject { actor, reason } => {
                require_admin(&actor, "reject a vendor")?;
                require_status(state, &[Applied], "reject")?;
                Ok(vec![VendorEvent::VendorRejected { reason }])
            }
            VendorCommand::Suspend { actor, reason } => {
                require_admin(&actor, "suspend a vendor")?;
                require_status(state, &[Approved], "suspend")?;
                Ok(vec![VendorEvent::VendorSuspended { reason }])
            }
            VendorCommand::Reinstate { actor } => {
                require_admin(&actor, "reinstate a vendor")?;
                require_status(state, &[Suspended], "reinstate")?;
                Ok(vec![VendorEvent::VendorReinstated])
            }
            VendorCommand::Close { actor, reason } => {
                if !actor.is_admin() && !actor.speaks_for_vendor(state.id) {
                    return Err(DomainError::Forbidden(
                        "only an admin or the vendor itself can close a vendor".into(),
                    ));
                }
                require_status(state, &[Applied, Approved, Suspended], "close")?;
                Ok(vec![VendorEvent::VendorClosed { reason }])
            }
            VendorCommand::UpdateProfile { actor, patch } => {
                if !actor.is_admin() && !actor.speaks_for_vendor(state.id) {
                    return Err(DomainError::Forbidden(
                        "only the vendor itself or an admin can change its profile".into(),
                    ));
                }
                require_status(
                    state,
                    &[Applied, Approved, Suspended],
                    "update the profile of",
                )?;
                if patch.is_empty() {
                    return Err(DomainError::invalid("body", "names no field to change"));
                }
                if state.status == Suspended && patch.payout_promptpay.is_some() {
                    // Where the money goes is frozen with the vendor: a suspended account must
                    // not be able to redirect payouts it may still be owed.
                    return Err(DomainError::InvalidTransition(
                        "a suspended vendor's payout PromptPay id cannot change".into(),
                    ));
                }
                Ok(vec![VendorEvent::VendorProfileUpdated { patch }])
            }
        }
    }
}

fn require_admin(actor: &Actor, what: &str) -> Result<(), DomainError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!("only an admin can {what}")))
    }
}

fn require_status(
    state: &VendorState,
    allowed: &[VendorStatus],
    verb: &str,
) -> Result<(), DomainError> {
    if allowed.contains(&state.status) {
        Ok(())
    } else {
        Err(DomainError::transition(format!(
            "cannot {verb} a vendor that is {}",
            state.status.as_str()
        )))
    }
}

impl Aggregate for Vendor {
    const TYPE: &'static str = "Vendor";
    type Command = VendorCommand;
    type Event = VendorEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            VendorEvent::VendorApplied {
                vendor_id,
                profile,
                applicant_id,
            } => {
                self.0 = Some(VendorState {
                    id: vendor_id,
                    status: VendorStatus::Applied,
                    profile,
                    applicant_id,
                    status_reason: None,
                });
            }
            other => {
                let Some(state) = self.0.as_mut() else {
                    // An event for a vendor that never applied cannot be produced by `decide`;
                    // ignoring it keeps replay total.
                    return;
                };
                match other {
                    VendorEvent::VendorApplied { .. } => {}
                    VendorEvent::VendorApproved | VendorEvent::VendorReinstated => {
                        state.status = VendorStatus::Approved;
                        state.status_reason = None;
                    }
                    VendorEvent::VendorRejected { reason } => {
                        state.status = VendorStatus::Rejected;
                        state.status_reason = Some(reason);
                    }
                    VendorEvent::VendorSuspended { reason } => {
                        state.status = VendorStatus::Suspended;
                        state.status_reason = Some(reason);
                    }
                    VendorEvent::VendorClosed { reason } => {
                        state.status = VendorStatus::Closed;
                        state.status_reason = reason;
                    }
                    VendorEvent::VendorProfileUpdated { patch } => {
                        patch.apply_to(&mut state.profile);
                    }
                }
            }
        }
    }
}

/// What the listing aggregate needs to know about its vendor, read by the caller from the
/// vendor aggregate just before the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorStanding {
    pub vendor_id: Uuid,
    pub status: VendorStatus,
}

impl VendorStanding {
    pub fn of(vendor: &VendorState) -> Self {
        VendorStanding {
            vendor_id: vendor.id,
            status: vendor.status,
        }
    }

    pub fn can_sell(&self) -> bool {
        self.status == VendorStatus::Approved
    }
}
