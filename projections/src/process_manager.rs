//! The checkout process manager (DESIGN.md decision 5): driven by the log through the
//! projection runner, never by memory. Checkouts are decided inside the request now
//! (`checkout.rs`), so it keeps only what time or later events drive:
//!
//! | event | what it does |
//! |---|---|
//! | `OrderCancelled`, `OrderExpired` | release the order's reservations, all its listings in one append |
//! | `OrderShipped` | commit the order's reservations (units become sold), in one append |
//! | `OrderPlaced` of the earlier saga (not confirmed in its own transaction) | reserve every line and confirm the order in one append; or release and reject it |
//! | `OrderRejected` (only the earlier saga rejects) | fail the checkout: reject its pending orders, cancel its confirmed ones |
//! | `VendorSuspended`, `VendorClosed` | cancel the vendor's unpaid orders (their cancellation then releases their stock) |
//! | `OrderPlaced` in its checkout's transaction, for a vendor suspended or closed by now | cancel it (the checkout read the vendor as approved just before the suspension committed) |
//!
//! The last two together leave no unpaid order of a suspended vendor behind, whatever the
//! order of the commits: an order before the suspension in log order is in the orders read
//! model by the time the suspension is handled (the handler waits for it); an order after it
//! finds the vendor suspended when it is handled itself.
//!
//! Every command it sends is idempotent (releasing or committing what is not held is a no-op,
//! a refused transition is an outcome), so handling an event twice changes nothing. That is
//! what lets it run in [`BatchMode::AtLeastOnce`]: no transaction is open while it issues
//! commands, so a slow batch holds back no other reader of the log. It must never be
//! rebuilt: it acts, it does not project.

use std::collections::HashMap;

use futures::future::BoxFuture;
use otop_domain::order::{OrderEvent, OrderState};
use otop_domain::{
    Actor, DomainError, EventMetadata, Order, OrderCommand, OrderStatus, Vendor, VendorStatus,
};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::checkout::{move_order_stock, settle_placed_order, PlacedOrderOutcome, StockMove};
use crate::event_store::{AggregateStore, AppendError, EventStore, StoreError, StreamKey};
use crate::log::RecordedEvent;
use crate::projection::{BatchMode, Projection, ProjectionError};
use crate::read_models::{aggregate_uuid, decode};

pub const CHECKOUT_PROCESS: &str = "checkout";

/// Why a checkout's sibling order is turned down.
pub const SIBLING_FAILED: &str = "another order of this checkout could not be reserved";

pub struct CheckoutProcess {
    events: EventStore,
    orders: AggregateStore<Order>,
}

impl CheckoutProcess {
    pub fn new(pool: PgPool) -> Self {
        CheckoutProcess {
            events: EventStore::new(pool.clone()),
            orders: AggregateStore::new(pool),
        }
    }
}

impl Projection for CheckoutProcess {
    fn name(&self) -> &str {
        CHECKOUT_PROCESS
    }

    fn batch_mode(&self) -> BatchMode {
        BatchMode::AtLeastOnce
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            self.cancel_orders_of_vendors_gone(events).await?;
            for (index, event) in events.iter().enumerate() {
                if event.aggregate_type == "Vendor" {
                    self.handle_vendor(event).await?;
                    continue;
                }
                if event.aggregate_type != "Order" {
                    continue;
                }
                let decided_with_placement = events[index + 1..].iter().any(|later| {
                    later.transaction_id == event.transaction_id
                        && later.aggregate_type == event.aggregate_type
                        && later.aggregate_id == event.aggregate_id
                });
                self.handle(conn, event, decided_with_placement).await?;
            }
            Ok(())
        })
    }
}

/// Why the platform cancels an unpaid order of a vendor that may no longer sell.
pub const VENDOR_GONE: &str = "the producer group was suspended or closed before payment";

/// How long the handler of a suspension waits for the orders read model to reach it.
const ORDERS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Metadata for a command caused by `event`: the platform acts, in the event's correlation.
fn caused_by(event: &RecordedEvent) -> HashMap<String, String> {
    let field = |key: &str| {
        event
            .metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let cause = format!(
        "{}/{}/{}",
        event.aggregate_type, event.aggregate_id, event.sequence
    );
    let correlation = field(otop_domain::metadata::CORRELATION_ID).unwrap_or_else(|| cause.clone());
    EventMetadata {
        actor: Actor::system(),
        request_id: format!("checkout-process/{}", event.position),
        correlation_id: correlation,
        causation_id: cause,
        recorded_at: chrono::Utc::now(),
    }
    .to_map()
}

fn transient(error: AppendError) -> ProjectionError {
    match error {
        AppendError::Database(error) => ProjectionError::Database(error),
        AppendError::Conflict { aggregate_type } => {
            ProjectionError::Transient(format!("{aggregate_type} kept changing concurrently"))
        }
        AppendError::Corrupt(message) => ProjectionError::Transient(message),
    }
}

/// Turns a store failure into an outcome (`Ok(Err(domain))`) or a batch failure.
fn outcome<T>(
    result: Result<T, StoreError<DomainError>>,
) -> Result<Result<T, DomainError>, ProjectionError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(StoreError::Domain(refusal)) => Ok(Err(refusal)),
        Err(StoreError::Database(error)) => Err(ProjectionError::Database(error)),
        Err(StoreError::Conflict { aggregate_type }) => Err(ProjectionError::Transient(format!(
            "{aggregate_type} kept changing concurrently"
        ))),
        Err(StoreError::Corrupt(message)) => Err(ProjectionError::Transient(message)),
    }
}

impl CheckoutProcess {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
        decided_with_placement: bool,
    ) -> Result<(), ProjectionError> {
        let order_id = aggregate_uuid(event)?;
        let payload: OrderEvent = decode(event)?;
        let metadata = caused_by(event);
        match payload {
            // Placed, reserved and confirmed in the checkout's own transaction.
            OrderEvent::OrderPlaced { .. } if decided_with_placement => Ok(()),
            OrderEvent::OrderPlaced { checkout_id, .. } => {
                self.settle_earlier_saga(conn, order_id, checkout_id, &metadata)
                    .await
            }
            OrderEvent::OrderRejected { .. } => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                self.move_stock(&order, StockMove::Release, &metadata)
                    .await?;
                self.fail_checkout(conn, order.checkout_id, order_id, &metadata)
                    .await
            }
            OrderEvent::OrderCancelled { .. } | OrderEvent::OrderExpired => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                self.move_stock(&order, StockMove::Release, &metadata).await
            }
            OrderEvent::OrderShipped { .. } => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                self.move_stock(&order, StockMove::Commit, &metadata).await
            }
            _ => Ok(()),
        }
    }

    /// A suspension or closure: cancels every unpaid order the vendor had by then.
    async fn handle_vendor(&self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if !matches!(
            event.event_type.as_str(),
            "VendorSuspended" | "VendorClosed"
        ) {
            return Ok(());
        }
        let vendor_id = aggregate_uuid(event)?;
        self.wait_for_orders_read_model(event).await?;
        let unpaid: Vec<Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM order_summaries
              WHERE vendor_id = $1 AND status IN ('pending', 'awaiting_payment')
              ORDER BY order_id",
        )
        .bind(vendor_id)
        .fetch_all(self.events.pool())
        .await?;
        tracing::info!(%vendor_id, orders = unpaid.len(), event_type = %event.event_type, "cancelling a gone vendor's unpaid orders");
        let metadata = caused_by(event);
        for order_id in unpaid {
            self.cancel_unpaid(order_id, &metadata).await?;
        }
        Ok(())
    }

    async fn wait_for_orders_read_model(
        &self,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let patience = crate::wait::Patience {
            first: std::time::Duration::from_millis(5),
            longest: std::time::Duration::from_millis(20),
            within: ORDERS_WAIT,
        };
        let reached = crate::wait::until(patience, || async {
            let orders = crate::checkpoint::read(
                self.events.pool(),
                crate::read_models::ProjectionKind::Orders.name(),
            )
            .await?;
            Ok::<_, sqlx::Error>(orders.filter(|cursor| *cursor >= event.cursor()))
        })
        .await?;
        reached.map(|_| ()).ok_or_else(|| {
            ProjectionError::Transient(
                "the orders read model is behind the vendor's suspension".into(),
            )
        })
    }

    /// Orders placed in this batch for vendors that are no longer approved now.
    async fn cancel_orders_of_vendors_gone(
        &self,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut placed: Vec<(Uuid, Uuid, &RecordedEvent)> = Vec::new();
        for event in events.iter().filter(|e| e.event_type == "OrderPlaced") {
            if let OrderEvent::OrderPlaced { vendor_id, .. } = decode(event)? {
                placed.push((aggregate_uuid(event)?, vendor_id, event));
            }
        }
        if placed.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<StreamKey> = placed
            .iter()
            .map(|(_, vendor, _)| StreamKey::of::<Vendor>(vendor.to_string()))
            .collect();
        keys.sort();
        keys.dedup();
        // One query for every vendor of the batch.
        let mut loaded = self.events.load(&keys).await.map_err(transient)?;
        let mut gone = std::collections::HashSet::new();
        for key in &keys {
            let vendor = loaded
                .take::<Vendor>(&key.aggregate_id)
                .await
                .map_err(transient)?;
            let can_sell = vendor
                .aggregate()
                .state()
                .is_some_and(|v| v.status == VendorStatus::Approved);
            if !can_sell {
                gone.insert(key.aggregate_id.clone());
            }
        }
        for (order_id, vendor_id, event) in placed {
            if gone.contains(&vendor_id.to_string()) {
                self.cancel_unpaid(order_id, &caused_by(event)).await?;
            }
        }
        Ok(())
    }

    /// Cancels `order_id` when it is still unpaid; anything else is left as it is.
    async fn cancel_unpaid(
        &self,
        order_id: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        self.turn_down(
            order_id,
            VENDOR_GONE,
            &[OrderStatus::AwaitingPayment],
            metadata,
        )
        .await
    }

    /// An order placed by the saga that checkouts used before: its stock is still to reserve
    /// (or it was settled already, and settling again finds it no longer pending).
    async fn settle_earlier_saga(
        &self,
        conn: &mut PgConnection,
        order_id: Uuid,
        checkout_id: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        sqlx::query(
            "INSERT INTO checkout_members (checkout_id, order_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(checkout_id)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
        let failed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM checkout_failures WHERE checkout_id = $1)",
        )
        .bind(checkout_id)
        .fetch_one(&mut *conn)
        .await?;
        if failed {
            return self.fail_sibling(order_id, metadata).await;
        }
        let settled = settle_placed_order(&self.events, order_id, metadata)
            .await
            .map_err(transient)?;
        if settled == PlacedOrderOutcome::Rejected {
            tracing::info!(%order_id, %checkout_id, "order of the earlier saga rejected");
        }
        Ok(())
    }

    async fn order(&self, order_id: Uuid) -> Result<Option<OrderState>, ProjectionError> {
        let loaded = self
            .events
            .load(&[StreamKey::of::<Order>(order_id.to_string())])
            .await
            .map_err(transient)?
            .take::<Order>(&order_id.to_string())
            .await
            .map_err(transient)?;
        Ok(loaded.aggregate().state().cloned())
    }

    async fn move_stock(
        &self,
        order: &OrderState,
        movement: StockMove,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        move_order_stock(&self.events, order, movement, metadata)
            .await
            .map_err(transient)?;
        Ok(())
    }

    /// Rejects `order_id` while pending, or cancels it while its status is one of
    /// `cancelled_from`, for `reason`; any other order is left as it is.
    async fn turn_down(
        &self,
        order_id: Uuid,
        reason: &str,
        cancelled_from: &[OrderStatus],
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        let Some(order) = self.order(order_id).await? else {
            return Ok(());
        };
        let command = match order.status {
            OrderStatus::Pending => OrderCommand::Reject {
                actor: Actor::system(),
                reason: reason.into(),
                failed_listings: Vec::new(),
            },
            status if cancelled_from.contains(&status) => OrderCommand::Cancel {
                actor: Actor::system(),
                reason: reason.into(),
            },
            _ => return Ok(()),
        };
        let _ = outcome(
            self.orders
                .execute(&order_id.to_string(), command, metadata)
                .await,
        )?;
        Ok(())
    }

    /// Turns down an order because another order of its checkout could not be reserved.
    async fn fail_sibling(
        &self,
        order_id: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        let cancelled_from = [OrderStatus::AwaitingPayment, OrderStatus::Paid];
        self.turn_down(order_id, SIBLING_FAILED, &cancelled_from, metadata)
            .await
    }

    async fn fail_checkout(
        &self,
        conn: &mut PgConnection,
        checkout_id: Uuid,
        failed_order: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        sqlx::query(
            "INSERT INTO checkout_failures (checkout_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(checkout_id)
        .execute(&mut *conn)
        .await?;
        let siblings: Vec<Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM checkout_members WHERE checkout_id = $1 AND order_id <> $2 ORDER BY order_id",
        )
        .bind(checkout_id)
        .bind(failed_order)
        .fetch_all(&mut *conn)
        .await?;
        for sibling in siblings {
            self.fail_sibling(sibling, metadata).await?;
        }
        Ok(())
    }
}

/// Expires the orders that have waited for payment longer than `timeout` (found through the
/// orders read model); the expiry events then release their stock through the manager.
/// Returns how many orders it expired.
pub async fn expire_unpaid(
    pool: &sqlx::PgPool,
    orders: &AggregateStore<Order>,
    timeout: std::time::Duration,
) -> Result<usize, ProjectionError> {
    let seconds = timeout.as_secs_f64();
    let overdue: Vec<Uuid> = sqlx::query_scalar(
        "SELECT order_id FROM order_summaries
          WHERE status = 'awaiting_payment'
            AND confirmed_at < now() - make_interval(secs => $1)
          ORDER BY confirmed_at LIMIT 500",
    )
    .bind(seconds)
    .fetch_all(pool)
    .await?;
    let mut expired = 0;
    for order_id in overdue {
        let metadata = EventMetadata::for_request(
            Actor::system(),
            &format!("payment-timeout/{order_id}"),
            chrono::Utc::now(),
        )
        .to_map();
        let command = OrderCommand::Expire {
            actor: Actor::system(),
        };
        // Refused when it was paid or cancelled since the read model saw it: nothing to do.
        if outcome(
            orders
                .execute(&order_id.to_string(), command, &metadata)
                .await,
        )?
        .is_ok()
        {
            expired += 1;
        }
    }
    Ok(expired)
}
