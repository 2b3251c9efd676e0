//! A payment, recorded on its order and on its provider reference in one append.
//!
//! The order's `RecordPayment` decides whether the order can be paid (awaiting payment, the
//! amount equal to its total, a repeat of the same callback a no-op); the reference's
//! `PaymentReference` stream decides whether the reference is still free. Both streams'
//! events go in one statement, each under the sequence it was decided on, so a reference
//! pays exactly one order even when two callbacks race for it.

use std::collections::HashMap;

use otop_domain::values::Satang;
use otop_domain::{Actor, DomainError, Order, OrderCommand, PaymentReference};
use otop_domain::{PaymentReferenceCommand, Role};
use uuid::Uuid;

use crate::event_store::{AppendBatch, DecisionError, EventStore, StoreError, StreamKey};

/// The actor id payments are recorded under.
pub const PAYMENT_PROVIDER: &str = "payment-provider";

/// A provider's confirmed payment of one order, already authenticated and parsed.
#[derive(Debug, Clone)]
pub struct Payment {
    pub order_id: Uuid,
    pub amount: Satang,
    pub reference: String,
    /// The platform's commission rate at the time of payment, recorded with it.
    pub commission_bps: u32,
}

/// The order after its payment, and the log position of its `OrderPaid` (the same for a
/// repeated callback, which records nothing).
#[derive(Debug)]
pub struct RecordedPayment {
    pub order: Order,
    pub position: i64,
}

/// Records `payment` on its order and claims its reference, or refuses both.
pub async fn record_payment(
    store: &EventStore,
    payment: &Payment,
    metadata: &HashMap<String, String>,
) -> Result<RecordedPayment, StoreError<DomainError>> {
    let order_id = payment.order_id.to_string();
    let keys = [
        StreamKey::of::<Order>(order_id.clone()),
        StreamKey::of::<PaymentReference>(payment.reference.clone()),
    ];
    let result = store
        .transact(&keys, || async {
            let mut loaded = store.load(&keys).await?;
            let mut order = loaded.take::<Order>(&order_id).await?;
            let mut reference = loaded.take::<PaymentReference>(&payment.reference).await?;
            let command = OrderCommand::RecordPayment {
                actor: Actor::new(PAYMENT_PROVIDER, Role::System),
                amount: payment.amount,
                reference: payment.reference.clone(),
                commission_bps: payment.commission_bps,
            };
            order
                .handle(command, metadata)
                .await
                .map_err(DecisionError::Refused)?;
            let claim = PaymentReferenceCommand::Use {
                order_id: payment.order_id,
            };
            reference
                .handle(claim, metadata)
                .await
                .map_err(DecisionError::Refused)?;
            let mut batch = AppendBatch::default();
            batch.add(&mut order, store.snapshot_every())?;
            batch.add(&mut reference, store.snapshot_every())?;
            Ok((batch, order))
        })
        .await;
    match result {
        Ok((order, outcome)) => {
            // The order's own position, whether this callback wrote it or an earlier one did,
            // so a repeated callback replies exactly as the first.
            let position = outcome
                .positions
                .get(&keys[0])
                .copied()
                .unwrap_or(order.last_position());
            Ok(RecordedPayment {
                order: order.aggregate().clone(),
                position,
            })
        }
        Err(DecisionError::Refused(error)) => Err(StoreError::Domain(error)),
        Err(DecisionError::Store(error)) => Err(error.into()),
    }
}
