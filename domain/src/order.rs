//! The Order aggregate: what one shopper bought from one vendor in one checkout.
//!
//! ```text
//! pending --confirm--> awaiting_payment --pay--> paid --accept--> accepted --pack--> packed
//!    |  \--reject--> rejected     |  \--expire--> expired                              |
//!    |                            |                                                 ship
//!    +--------cancel--------------+------- cancel (until shipped) -----------+          v
//!                                                                          cancelled  shipped --deliver--> delivered
//! ```
//! Refunds are allowed once paid; refunds never exceed what was paid. A full refund moves the
//! order to `refunded`; before shipping, a full refund is a cancellation instead, so that the
//! order's reserved stock is released by the same path as every other cancellation.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::values::{Phone, Satang};

pub const MAX_ORDER_LINES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    AwaitingPayment,
    Paid,
    Accepted,
    Packed,
    Shipped,
    Delivered,
    Refunded,
    Cancelled,
    Expired,
    Rejected,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        OrderStatus::Pending,
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Accepted,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Refunded,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Accepted => "accepted",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True once the order has been paid (and not reversed by cancellation before that).
    pub fn is_paid_stage(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid
                | OrderStatus::Accepted
                | OrderStatus::Packed
                | OrderStatus::Shipped
                | OrderStatus::Delivered
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub listing_id: Uuid,
    pub quantity: u32,
    /// The listing's price when the order was placed.
    pub unit_price: Satang,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub phone: Phone,
    pub line1: String,
    pub line2: Option<String>,
    pub subdistrict: Option<String>,
    pub district: Option<String>,
    pub province: String,
    /// Five digits.
    pub postcode: String,
}

// Placing carries the address and lines; the other commands are small. Commands and events
// are short-lived values, so the size difference costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    Place {
        order_id: Uuid,
        checkout_id: Uuid,
        actor: Actor,
        shopper_id: String,
        vendor_id: Uuid,
        lines: Vec<OrderLine>,
        shipping_address: ShippingAddress,
    },
    /// Every line's stock is reserved.
    Confirm {
        actor: Actor,
    },
    /// Some line's stock could not be reserved.
    Reject {
        actor: Actor,
        reason: String,
        failed_listings: Vec<Uuid>,
    },
    RecordPayment {
        actor: Actor,
        amount: Satang,
        reference: String,
        /// The platform's commission on this order, in basis points (1/100 of a percent),
        /// recorded with the payment so the payout ledger never depends on today's setting.
        commission_bps: u32,
    },
    Accept {
        actor: Actor,
    },
    Pack {
        actor: Actor,
    },
    Ship {
        actor: Actor,
        carrier: String,
        tracking_number: String,
    },
    Deliver {
        actor: Actor,
    },
    Cancel {
        actor: Actor,
        reason: String,
    },
    /// Unpaid for too long.
    Expire {
        actor: Actor,
    },
    Refund {
        actor: Actor,
        amount: Satang,
        reason: String,
    },
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    OrderPlaced {
        order_id: Uuid,
        checkout_id: Uuid,
        shopper_id: String,
        vendor_id: Uuid,
        lines: Vec<OrderLine>,
        shipping_address: ShippingAddress,
        total: Satang,
    },
    OrderConfirmed,
    OrderRejected {
        reason: String,
        failed_listings: Vec<Uuid>,
    },
    OrderPaid {
        amount: Satang,
        reference: String,
        #[serde(default)]
        commission_bps: u32,
    },
    OrderAccepted,
    OrderPacked,
    OrderShipped {
        carrier: String,
        tracking_number: String,
    },
    OrderDelivered,
    OrderCancelled {
        reason: String,
        by_role: Role,
        /// What goes back to the shopper: everything paid and not yet refunded (0 if unpaid).
        refund_satang: u64,
    },
    OrderExpired,
    OrderRefunded {
        amount: Satang,
        reason: String,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            OrderEvent::OrderPlaced { .. } => "OrderPlaced",
            OrderEvent::OrderConfirmed => "OrderConfirmed",
            OrderEvent::OrderRejected { .. } => "OrderRejected",
            OrderEvent::OrderPaid { .. } => "OrderPaid",
            OrderEvent::OrderAccepted => "OrderAccepted",
            OrderEvent::OrderPacked => "OrderPacked",
            OrderEvent::OrderShipped { .. } => "OrderShipped",
            OrderEvent::OrderDelivered => "OrderDelivered",
            OrderEvent::OrderCancelled { .. } => "OrderCancelled",
            OrderEvent::OrderExpired => "OrderExpired",
            OrderEvent::OrderRefunded { .. } => "OrderRefunded",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub shopper_id: String,
    pub vendor_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub shipping_address: ShippingAddress,
    pub total: Satang,
    pub status: OrderStatus,
    pub paid_satang: u64,
    pub payment_reference: Option<String>,
    pub refunded_satang: u64,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status_reason: Option<String>,
}

/// `None` until the order is placed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order(pub Option<OrderState>);

impl Order {
    pub fn state(&self) -> Option<&OrderState> {
        self.0.as_ref()
    }

    /// Decides which events a command produces, without changing anything.
    pub fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        let (state, command) = match (&self.0, command) {
            (
                None,
                OrderCommand::Place {
                    order_id,
                    checkout_id,
                    actor,
                    shopper_id,
                    vendor_id,
                    lines,
                    shipping_address,
                },
            ) => {
                let may_place = actor.role == Role::System
                    || (actor.role == Role::Shopper && actor.id == shopper_id);
                if !may_place {
                    return Err(DomainError::Forbidden(
                        "only a shopper can place an order, and only for itself".into(),
                    ));
                }
                let total = order_total(&lines)?;
                return Ok(vec![OrderEvent::OrderPlaced {
                    order_id,
                    checkout_id,
                    shopper_id,
                    vendor_id,
                    lines,
                    shipping_address,
                    total,
                }]);
            }
            (Some(_), OrderCommand::Place { .. }) => {
                return Err(DomainError::AlreadyExists { kind: "order" })
            }
            (None, _) => return Err(DomainError::NotFound { kind: "order" }),
            (Some(state), command) => (state, command),
        };
        use OrderStatus::*;
        match command {
            OrderCommand::Place { .. } => unreachable!("handled above"),
            OrderCommand::Confirm { actor } => {
                require_system(&actor, "confirm an order's stock")?;
                require_status(state, &[Pending], "confirm")?;
                Ok(vec![OrderEvent::OrderConfirmed])
            }
            OrderCommand::Reject {
                actor,
                reason,
                failed_listings,
            } => {
                require_system(&actor, "reject an order")?;
                require_status(state, &[Pending], "reject")?;
                Ok(vec![OrderEvent::OrderRejected {
                    reason,
                    failed_listings,
                }])
            }
            OrderCommand::RecordPayment {
                actor,
                amount,
                reference,
                commission_bps,
            } => {
                if commission_bps > 10_000 {
                    return Err(DomainError::invalid(
                        "commission_bps",
                        "must be at most 10000 (100%)",
                    ));
                }
                require_system(&actor, "record a payment")?;
                if state.payment_reference.as_deref() == Some(reference.as_str()) {
                    // The provider called back again for the same payment.
                    return Ok(vec![]);
                }
                require_status(state, &[AwaitingPayment], "record a payment for")?;
                if amount != state.total {
                    return Err(DomainError::invalid(
                        "amount_satang",
                        format!(
                            "must equal the order total of {} satang (got {})",
                            state.total.get(),
                            amount.get()
                        ),
                    ));
                }
                Ok(vec![OrderEvent::OrderPaid {
                    amount,
                    reference,
                    commission_bps,
                }])
            }
            OrderCommand::Accept { actor } => {
                require_vendor(state, &actor)?;
                require_status(state, &[Paid], "accept")?;
                Ok(vec![OrderEvent::OrderAccepted])
            }
            OrderCommand::Pack { actor } => {
                require_vendor(state, &actor)?;
                require_status(state, &[Accepted], "pack")?;
                Ok(vec![OrderEvent::OrderPacked])
            }
            OrderCommand::Ship {
                actor,
                carrier,
                tracking_number,
            } => {
                require_vendor(state, &actor)?;
                require_status(state, &[Packed], "ship")?;
                Ok(vec![OrderEvent::OrderShipped {
                    carrier,
                    tracking_number,
                }])
            }
            OrderCommand::Deliver { actor } => {
                if !is_shopper(state, &actor) && !actor.speaks_for_vendor(state.vendor_id) {
                    return Err(DomainError::Forbidden(
                        "only the order's shopper or vendor can mark it delivered".into(),
                    ));
                }
                require_status(state, &[Shipped], "deliver")?;
                Ok(vec![OrderEvent::OrderDelivered])
            }
            OrderCommand::Cancel { actor, reason } => {
                // Admins and the vendor until shipping; the shopper until the vendor accepts.
                let allowed: &[OrderStatus] =
                    if actor.is_admin() || actor.speaks_for_vendor(state.vendor_id) {
                        &[Pending, AwaitingPayment, Paid, Accepted, Packed]
                    } else if is_shopper(state, &actor) {
                        &[Pending, AwaitingPayment, Paid]
                    } else {
                        return Err(DomainError::Forbidden(
                            "only the order's shopper, its vendor or an admin can cancel it".into(),
                        ));
                    };
                require_status(state, allowed, "cancel")?;
                Ok(vec![OrderEvent::OrderCancelled {
                    reason,
                    by_role: actor.role,
                    refund_satang: state.paid_satang - state.refunded_satang,
                }])
            }
            OrderCommand::Expire { actor } => {
                require_system(&actor, "expire an order")?;
                require_status(state, &[Pending, AwaitingPayment], "expire")?;
                Ok(vec![OrderEvent::OrderExpired])
            }
            OrderCommand::Refund {
                actor,
                amount,
                reason,
            } => {
                if !actor.is_admin() && !actor.speaks_for_vendor(state.vendor_id) {
                    return Err(DomainError::Forbidden(
                        "only the order's vendor or an admin can refund it".into(),
                    ));
                }
                require_status(
                    state,
                    &[Paid, Accepted, Packed, Shipped, Delivered],
                    "refund",
                )?;
                let refundable = state.paid_satang - state.refunded_satang;
                if amount.get() > refundable {
                    return Err(DomainError::invalid(
                        "amount_satang",
                        format!("at most {refundable} satang is left to refund"),
                    ));
                }
                let is_full = amount.get() == refundable;
                if is_full && !matches!(state.status, Shipped | Delivered) {
                    return Err(DomainError::transition(
                        "a full refund before shipping is a cancellation: cancel the order",
                    ));
                }
                Ok(vec![OrderEvent::OrderRefunded { amount, reason }])
            }
        }
    }
}

/// The sum of the lines; refuses an empty order, duplicate listings and overflow.
fn order_total(lines: &[OrderLine]) -> Result<Satang, DomainError> {
    if lines.is_empty() {
        return Err(DomainError::invalid(
            "lines",
            "an order needs at least one line",
        ));
    }
    if lines.len() > MAX_ORDER_LINES {
        return Err(DomainError::invalid(
            "lines",
            format!("at most {MAX_ORDER_LINES} lines"),
        ));
    }
    let mut total: u64 = 0;
    for (index, line) in lines.iter().enumerate() {
        if line.quantity == 0 {
            return Err(DomainError::invalid(
                format!("lines[{index}].quantity"),
                "must be at least 1",
            ));
        }
        if lines[..index]
            .iter()
            .any(|l| l.listing_id == line.listing_id)
        {
            return Err(DomainError::invalid(
                format!("lines[{index}].listing_id"),
                "a listing may appear only once per order",
            ));
        }
        total = line
            .unit_price
            .get()
            .checked_mul(u64::from(line.quantity))
            .and_then(|amount| total.checked_add(amount))
            .ok_or_else(|| DomainError::invalid("lines", "the order total is too large"))?;
    }
    Satang::parse("lines", i64::try_from(total).unwrap_or(i64::MAX))
        .map_err(|error| DomainError::Invalid(vec![error]))
}

fn is_shopper(state: &OrderState, actor: &Actor) -> bool {
    actor.role == Role::Shopper && actor.id == state.shopper_id
}

fn require_vendor(state: &OrderState, actor: &Actor) -> Result<(), DomainError> {
    if actor.speaks_for_vendor(state.vendor_id) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the order's vendor can do this".into(),
        ))
    }
}

fn require_system(actor: &Actor, what: &str) -> Result<(), DomainError> {
    if actor.role == Role::System {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!(
            "only the platform can {what}"
        )))
    }
}

fn require_status(
    state: &OrderState,
    allowed: &[OrderStatus],
    verb: &str,
) -> Result<(), DomainError> {
    if allowed.contains(&state.status) {
        Ok(())
    } else {
        Err(DomainError::transition(format!(
            "cannot {verb} an order that is {}",
            state.status.as_str()
        )))
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
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
        if let OrderEvent::OrderPlaced {
            order_id,
            checkout_id,
            shopper_id,
            vendor_id,
            lines,
            shipping_address,
            total,
        } = event
        {
            self.0 = Some(OrderState {
                id: order_id,
                checkout_id,
                shopper_id,
                vendor_id,
                lines,
                shipping_address,
                total,
                status: OrderStatus::Pending,
                paid_satang: 0,
                payment_reference: None,
                refunded_satang: 0,
                carrier: None,
                tracking_number: None,
                status_reason: None,
            });
            return;
        }
        let Some(state) = self.0.as_mut() else {
            // `decide` never produces an event for an order that does not exist.
            return;
        };
        match event {
            OrderEvent::OrderPlaced { .. } => {}
            OrderEvent::OrderConfirmed => state.status = OrderStatus::AwaitingPayment,
            OrderEvent::OrderRejected { reason, .. } => {
                state.status = OrderStatus::Rejected;
                state.status_reason = Some(reason);
            }
            OrderEvent::OrderPaid {
                amount, reference, ..
            } => {
                state.status = OrderStatus::Paid;
                state.paid_satang = amount.get();
                state.payment_reference = Some(reference);
            }
            OrderEvent::OrderAccepted => state.status = OrderStatus::Accepted,
            OrderEvent::OrderPacked => state.status = OrderStatus::Packed,
            OrderEvent::OrderShipped {
                carrier,
                tracking_number,
            } => {
                state.status = OrderStatus::Shipped;
                state.carrier = Some(carrier);
                state.tracking_number = Some(tracking_number);
            }
            OrderEvent::OrderDelivered => state.status = OrderStatus::Delivered,
            OrderEvent::OrderCancelled {
                reason,
                refund_satang,
                ..
            } => {
                state.status = OrderStatus::Cancelled;
                state.status_reason = Some(reason);
                state.refunded_satang += refund_satang;
            }
            OrderEvent::OrderExpired => state.status = OrderStatus::Expired,
            OrderEvent::OrderRefunded { amount, reason } => {
                state.refunded_satang += amount.get();
                if state.refunded_satang >= state.paid_satang {
                    state.status = OrderStatus::Refunded;
                    state.status_reason = Some(reason);
                }
            }
        }
    }
}
