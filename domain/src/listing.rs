//! The Listing aggregate: one product offered by one vendor, and the owner of its stock.
//!
//! Stock is kept as three numbers that always add up to what the vendor has stocked:
//! `available` (free to sell), `reserved` (held for orders not yet shipped) and `sold`.
//! Vendors set or adjust `available`; orders move units from `available` to `reserved`
//! (reserve), back (release) or on to `sold` (commit). `available` can never go below zero
//! because every change to it is checked here, under the aggregate's optimistic lock.
//!
//! Only *active* reservations are kept in the state, so a listing that has taken 10,000
//! orders loads as fast as a new one.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DomainError;
use crate::values::{CategoryCode, Satang, Stars, SubtypeCode, MAX_STOCK};
use crate::vendor::VendorStanding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    Draft,
    Published,
    Unpublished,
    Archived,
    TakenDown,
}

impl ListingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ListingStatus::Draft => "draft",
            ListingStatus::Published => "published",
            ListingStatus::Unpublished => "unpublished",
            ListingStatus::Archived => "archived",
            ListingStatus::TakenDown => "taken_down",
        }
    }

    pub fn parse(text: &str) -> Option<ListingStatus> {
        [
            ListingStatus::Draft,
            ListingStatus::Published,
            ListingStatus::Unpublished,
            ListingStatus::Archived,
            ListingStatus::TakenDown,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Archived and taken-down listings are final: their details, price and stock are frozen.
    pub fn is_final(self) -> bool {
        matches!(self, ListingStatus::Archived | ListingStatus::TakenDown)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingDetails {
    pub title_th: String,
    pub title_en: Option<String>,
    pub description_th: Option<String>,
    pub description_en: Option<String>,
    pub category_code: CategoryCode,
    pub subtype_code: SubtypeCode,
    pub weight_grams: Option<u32>,
    pub otop_stars: Option<Stars>,
    pub tags: Vec<String>,
    pub image_urls: Vec<String>,
}

/// A change of details: `None` leaves a field as it is. A new sub-type must belong to the
/// listing's category (the new one when the category changes too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingDetailsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_th: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_th: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_code: Option<CategoryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype_code: Option<SubtypeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_grams: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otop_stars: Option<Stars>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_urls: Option<Vec<String>>,
}

impl ListingDetailsPatch {
    pub fn is_empty(&self) -> bool {
        self == &ListingDetailsPatch::default()
    }

    fn apply_to(&self, details: &mut ListingDetails) {
        let patch = self.clone();
        if let Some(v) = patch.title_th {
            details.title_th = v;
        }
        if let Some(v) = patch.title_en {
            details.title_en = Some(v);
        }
        if let Some(v) = patch.description_th {
            details.description_th = Some(v);
        }
        if let Some(v) = patch.description_en {
            details.description_en = Some(v);
        }
        if let Some(v) = patch.category_code {
            details.category_code = v;
        }
        if let Some(v) = patch.subtype_code {
            details.subtype_code = v;
        }
        if let Some(v) = patch.weight_grams {
            details.weight_grams = Some(v);
        }
        if let Some(v) = patch.otop_stars {
            details.otop_stars = Some(v);
        }
        if let Some(v) = patch.tags {
            details.tags = v;
        }
        if let Some(v) = patch.image_urls {
            details.image_urls = v;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// Make `available` exactly this many units.
    Set(u32),
    /// Add (or, when negative, remove) units from `available`.
    Delta(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListingCommand {
    Create {
        listing_id: Uuid,
        actor: Actor,
        vendor: VendorStanding,
        details: ListingDetails,
        price: Satang,
        stock: u32,
    },
    UpdateDetails {
        actor: Actor,
        patch: ListingDetailsPatch,
    },
    ChangePrice {
        actor: Actor,
        price: Satang,
    },
    ChangeStock {
        actor: Actor,
        change: StockChange,
        /// Compare-and-set: refuse unless `available` is this value now.
        expected: Option<u32>,
    },
    Publish {
        actor: Actor,
        vendor: VendorStanding,
    },
    Unpublish {
        actor: Actor,
    },
    Archive {
        actor: Actor,
    },
    TakeDown {
        actor: Actor,
        reason: String,
    },
    /// Hold `quantity` units for an order. Reserving again for the same order is a no-op.
    Reserve {
        order_id: Uuid,
        quantity: u32,
        vendor: VendorStanding,
    },
    /// Give an order's held units back to `available`. No-op without a reservation.
    Release {
        order_id: Uuid,
    },
    /// Turn an order's held units into sold units. No-op without a reservation.
    Commit {
        order_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListingEvent {
    ListingCreated {
        listing_id: Uuid,
        vendor_id: Uuid,
        details: ListingDetails,
        price: Satang,
        stock: u32,
    },
    ListingDetailsUpdated {
        patch: ListingDetailsPatch,
    },
    ListingPriceChanged {
        previous: Satang,
        price: Satang,
    },
    ListingStockChanged {
        previous: u32,
        available: u32,
    },
    ListingPublished,
    ListingUnpublished,
    ListingArchived,
    ListingTakenDown {
        reason: String,
    },
    StockReserved {
        order_id: Uuid,
        quantity: u32,
    },
    StockReleased {
        order_id: Uuid,
        quantity: u32,
    },
    StockCommitted {
        order_id: Uuid,
        quantity: u32,
    },
}

impl DomainEvent for ListingEvent {
    fn event_type(&self) -> String {
        match self {
            ListingEvent::ListingCreated { .. } => "ListingCreated",
            ListingEvent::ListingDetailsUpdated { .. } => "ListingDetailsUpdated",
            ListingEvent::ListingPriceChanged { .. } => "ListingPriceChanged",
            ListingEvent::ListingStockChanged { .. } => "ListingStockChanged",
            ListingEvent::ListingPublished => "ListingPublished",
            ListingEvent::ListingUnpublished => "ListingUnpublished",
            ListingEvent::ListingArchived => "ListingArchived",
            ListingEvent::ListingTakenDown { .. } => "ListingTakenDown",
            ListingEvent::StockReserved { .. } => "StockReserved",
            ListingEvent::StockReleased { .. } => "StockReleased",
            ListingEvent::StockCommitted { .. } => "StockCommitted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingState {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub status: ListingStatus,
    pub details: ListingDetails,
    pub price: Satang,
    pub available: u32,
    /// Active reservations only: order id to units held.
    pub reservations: BTreeMap<Uuid, u32>,
    pub sold: u64,
    pub take_down_reason: Option<String>,
}

impl ListingState {
    pub fn reserved(&self) -> u64 {
        self.reservations
            .values()
            .map(|&units| u64::from(units))
            .sum()
    }
}

/// `None` until the listing is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing(pub Option<ListingState>);

impl Listing {
    pub fn state(&self) -> Option<&ListingState> {
        self.0.as_ref()
    }

    /// Decides which events a command produces, without changing anything.
    pub fn decide(&self, command: ListingCommand) -> Result<Vec<ListingEvent>, DomainError> {
        let (state, command) = match (&self.0, command) {
            (
                None,
                ListingCommand::Create {
                    listing_id,
                    actor,
                    vendor,
                    details,
                    price,
                    stock,
                },
            ) => {
                if !actor.speaks_for_vendor(vendor.vendor_id) {
                    return Err(DomainError::Forbidden(
                        "only a vendor can create listings, and only its own".into(),
                    ));
                }
                if matches!(
                    vendor.status,
                    crate::vendor::VendorStatus::Rejected | crate::vendor::VendorStatus::Closed
                ) {
                    return Err(DomainError::transition(format!(
                        "a {} vendor cannot create listings",
                        vendor.status.as_str()
                    )));
                }
                check_subtype(&details.category_code, &details.subtype_code)?;
                return Ok(vec![ListingEvent::ListingCreated {
                    listing_id,
                    vendor_id: vendor.vendor_id,
                    details,
                    price,
                    stock,
                }]);
            }
            (Some(_), ListingCommand::Create { .. }) => {
                return Err(DomainError::AlreadyExists { kind: "listing" })
            }
            (None, _) => return Err(DomainError::NotFound { kind: "listing" }),
            (Some(state), command) => (state, command),
        };
        use ListingStatus::*;
        match command {
            ListingCommand::Create { .. } => unreachable!("handled above"),
            ListingCommand::UpdateDetails { actor, patch } => {
                require_owner(state, &actor)?;
                require_not_final(state, "change the details of")?;
                if patch.is_empty() {
                    return Err(DomainError::invalid("body", "names no field to change"));
                }
                let category = patch
                    .category_code
                    .as_ref()
                    .unwrap_or(&state.details.category_code);
                let subtype = patch
                    .subtype_code
                    .as_ref()
                    .unwrap_or(&state.details.subtype_code);
                check_subtype(category, subtype)?;
                Ok(vec![ListingEvent::ListingDetailsUpdated { patch }])
            }
            ListingCommand::ChangePrice { actor, price } => {
                require_owner(state, &actor)?;
                require_not_final(state, "change the price of")?;
                if price == state.price {
                    return Ok(vec![]);
                }
                Ok(vec![ListingEvent::ListingPriceChanged {
                    previous: state.price,
                    price,
                }])
            }
            ListingCommand::ChangeStock {
                actor,
                change,
                expected,
            } => {
                require_owner(state, &actor)?;
                require_not_final(state, "change the stock of")?;
                if let Some(expected) = expected {
                    if expected != state.available {
                        return Err(DomainError::StaleStock {
                            expected,
                            actual: state.available,
                        });
                    }
                }
                let available = match change {
                    StockChange::Set(units) => i64::from(units),
                    StockChange::Delta(delta) => i64::from(state.available).saturating_add(delta),
                };
                if available < 0 {
                    // Saturating: a delta near i64::MIN or i64::MAX must be refused, not overflow.
                    let removed = i64::from(state.available).saturating_sub(available);
                    return Err(DomainError::InsufficientStock {
                        available: state.available,
                        requested: u32::try_from(removed).unwrap_or(u32::MAX),
                    });
                }
                if available > i64::from(MAX_STOCK) {
                    return Err(DomainError::invalid(
                        "delta",
                        format!("stock would exceed {MAX_STOCK} units"),
                    ));
                }
                let available = available as u32;
                if available == state.available {
                    return Ok(vec![]);
                }
                Ok(vec![ListingEvent::ListingStockChanged {
                    previous: state.available,
                    available,
                }])
            }
            ListingCommand::Publish { actor, vendor } => {
                require_owner(state, &actor)?;
                require_status(state, &[Draft, Unpublished], "publish")?;
                require_vendor_can_sell(state, &vendor)?;
                Ok(vec![ListingEvent::ListingPublished])
            }
            ListingCommand::Unpublish { actor } => {
                require_owner(state, &actor)?;
                require_status(state, &[Published], "unpublish")?;
                Ok(vec![ListingEvent::ListingUnpublished])
            }
            ListingCommand::Archive { actor } => {
                require_owner(state, &actor)?;
                require_status(state, &[Draft, Published, Unpublished], "archive")?;
                Ok(vec![ListingEvent::ListingArchived])
            }
            ListingCommand::TakeDown { actor, reason } => {
                if !actor.is_admin() {
                    return Err(DomainError::Forbidden(
                        "only an admin can take a listing down".into(),
                    ));
                }
                require_status(state, &[Draft, Published, Unpublished], "take down")?;
                Ok(vec![ListingEvent::ListingTakenDown { reason }])
            }
            ListingCommand::Reserve {
                order_id,
                quantity,
                vendor,
            } => {
                if state.reservations.contains_key(&order_id) {
                    return Ok(vec![]);
                }
                if quantity == 0 {
                    return Err(DomainError::invalid("quantity", "must be at least 1"));
                }
                require_status(state, &[Published], "reserve stock of")?;
                require_vendor_can_sell(state, &vendor)?;
                if quantity > state.available {
                    return Err(DomainError::InsufficientStock {
                        available: state.available,
                        requested: quantity,
                    });
                }
                Ok(vec![ListingEvent::StockReserved { order_id, quantity }])
            }
            ListingCommand::Release { order_id } => Ok(state
                .reservations
                .get(&order_id)
                .map(|&quantity| ListingEvent::StockReleased { order_id, quantity })
                .into_iter()
                .collect()),
            ListingCommand::Commit { order_id } => Ok(state
                .reservations
                .get(&order_id)
                .map(|&quantity| ListingEvent::StockCommitted { order_id, quantity })
                .into_iter()
                .collect()),
        }
    }
}

fn check_subtype(category: &CategoryCode, subtype: &SubtypeCode) -> Result<(), DomainError> {
    if subtype.category() == Some(category.as_str()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "subtype_code",
            format!(
                "{} does not belong to category {}",
                subtype.as_str(),
                category.as_str()
            ),
        ))
    }
}

fn require_owner(state: &ListingState, actor: &Actor) -> Result<(), DomainError> {
    if actor.speaks_for_vendor(state.vendor_id) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the vendor that owns this listing can do this".into(),
        ))
    }
}

fn require_not_final(state: &ListingState, verb: &str) -> Result<(), DomainError> {
    if state.status.is_final() {
        Err(DomainError::transition(format!(
            "cannot {verb} a listing that is {}",
            state.status.as_str()
        )))
    } else {
        Ok(())
    }
}

fn require_status(
    state: &ListingState,
    allowed: &[ListingStatus],
    verb: &str,
) -> Result<(), DomainError> {
    if allowed.contains(&state.status) {
        Ok(())
    } else {
        Err(DomainError::transition(format!(
            "cannot {verb} a listing that is {}",
            state.status.as_str()
        )))
    }
}

fn require_vendor_can_sell(
    state: &ListingState,
    vendor: &VendorStanding,
) -> Result<(), DomainError> {
    if vendor.vendor_id != state.vendor_id {
        return Err(DomainError::Forbidden(
            "the vendor standing given is not this listing's vendor".into(),
        ));
    }
    if vendor.can_sell() {
        Ok(())
    } else {
        Err(DomainError::transition(format!(
            "the vendor is {}; only an approved vendor's listings can be sold",
            vendor.status.as_str()
        )))
    }
}

impl Aggregate for Listing {
    const TYPE: &'static str = "Listing";
    type Command = ListingCommand;
    type Event = ListingEvent;
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
        if let ListingEvent::ListingCreated {
            listing_id,
            vendor_id,
            details,
            price,
            stock,
        } = event
        {
            self.0 = Some(ListingState {
                id: listing_id,
                vendor_id,
                status: ListingStatus::Draft,
                details,
                price,
                available: stock,
                reservations: BTreeMap::new(),
                sold: 0,
                take_down_reason: None,
            });
            return;
        }
        let Some(state) = self.0.as_mut() else {
            // `decide` never produces an event for a listing that does not exist.
            return;
        };
        match event {
            ListingEvent::ListingCreated { .. } => {}
            ListingEvent::ListingDetailsUpdated { patch } => patch.apply_to(&mut state.details),
            ListingEvent::ListingPriceChanged { price, .. } => state.price = price,
            ListingEvent::ListingStockChanged { available, .. } => state.available = available,
            ListingEvent::ListingPublished => state.status = ListingStatus::Published,
            ListingEvent::ListingUnpublished => state.status = ListingStatus::Unpublished,
            ListingEvent::ListingArchived => state.status = ListingStatus::Archived,
            ListingEvent::ListingTakenDown { reason } => {
                state.status = ListingStatus::TakenDown;
                state.take_down_reason = Some(reason);
            }
            ListingEvent::StockReserved { order_id, quantity } => {
                state.available = state.available.saturating_sub(quantity);
                state.reservations.insert(order_id, quantity);
            }
            ListingEvent::StockReleased { order_id, quantity } => {
                state.reservations.remove(&order_id);
                state.available = state.available.saturating_add(quantity);
            }
            ListingEvent::StockCommitted { order_id, quantity } => {
                state.reservations.remove(&order_id);
                state.sold += u64::from(quantity);
            }
        }
    }
}
