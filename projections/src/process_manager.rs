//! The checkout process manager (DESIGN.md decision 5): driven by the log through the
//! projection runner, never by memory, it finishes or compensates every checkout.
//!
//! | event | what it does |
//! |---|---|
//! | `OrderPlaced` | reserve every line on its listing; all reserved: confirm the order; any refused: release the order's reservations, reject it, and fail its checkout |
//! | `OrderRejected` | fail the checkout: reject its pending orders, cancel its confirmed ones |
//! | `OrderCancelled`, `OrderExpired` | release the order's reservations |
//! | `OrderShipped` | commit the order's reservations (units become sold) |
//!
//! Every command it sends is idempotent (reserving twice for one order is a no-op, releasing
//! or committing what is not held is a no-op, a refused transition is an outcome), so when a
//! crash makes it handle an event again nothing happens twice: exactly-once in effect. Its own
//! memory (checkout membership and failures) is written in the batch transaction with its
//! checkpoint. It must never be rebuilt: it acts, it does not project.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use otop_domain::order::{OrderEvent, OrderState};
use otop_domain::{
    Actor, DomainError, EventMetadata, Listing, ListingCommand, Order, OrderCommand, OrderStatus,
    Vendor, VendorStanding,
};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::event_store::{AggregateStore, StoreError};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};
use crate::read_models::{aggregate_uuid, decode};

pub const CHECKOUT_PROCESS: &str = "checkout";

/// Why a checkout's sibling order is turned down.
pub const SIBLING_FAILED: &str = "another order of this checkout could not be reserved";

pub struct CheckoutProcess {
    vendors: Arc<AggregateStore<Vendor>>,
    listings: Arc<AggregateStore<Listing>>,
    orders: Arc<AggregateStore<Order>>,
}

impl CheckoutProcess {
    pub fn new(
        vendors: Arc<AggregateStore<Vendor>>,
        listings: Arc<AggregateStore<Listing>>,
        orders: Arc<AggregateStore<Order>>,
    ) -> Self {
        CheckoutProcess {
            vendors,
            listings,
            orders,
        }
    }
}

impl Projection for CheckoutProcess {
    fn name(&self) -> &str {
        CHECKOUT_PROCESS
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            for event in events.iter().filter(|e| e.aggregate_type == "Order") {
                self.handle(conn, event).await?;
            }
            Ok(())
        })
    }
}

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
    ) -> Result<(), ProjectionError> {
        let order_id = aggregate_uuid(event)?;
        let payload: OrderEvent = decode(event)?;
        let metadata = caused_by(event);
        match payload {
            OrderEvent::OrderPlaced { checkout_id, .. } => {
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
                    self.turn_down(order_id, &metadata).await?;
                    return Ok(());
                }
                self.reserve(conn, order_id, checkout_id, &metadata).await
            }
            OrderEvent::OrderRejected { .. } => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                self.release(&order, &metadata).await?;
                self.fail_checkout(conn, order.checkout_id, order_id, &metadata)
                    .await
            }
            OrderEvent::OrderCancelled { .. } | OrderEvent::OrderExpired => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                self.release(&order, &metadata).await
            }
            OrderEvent::OrderShipped { .. } => {
                let Some(order) = self.order(order_id).await? else {
                    return Ok(());
                };
                for line in &order.lines {
                    let command = ListingCommand::Commit { order_id };
                    let _ = outcome(
                        self.listings
                            .execute(&line.listing_id.to_string(), command, &metadata)
                            .await,
                    )?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn order(&self, order_id: Uuid) -> Result<Option<OrderState>, ProjectionError> {
        let loaded = outcome(self.orders.load(&order_id.to_string()).await)?;
        Ok(loaded.ok().and_then(|loaded| loaded.aggregate.0))
    }

    async fn reserve(
        &self,
        conn: &mut PgConnection,
        order_id: Uuid,
        checkout_id: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        let Some(order) = self.order(order_id).await? else {
            return Ok(());
        };
        if order.status != OrderStatus::Pending {
            // Already decided (or cancelled by the shopper before we got here).
            return Ok(());
        }
        let vendor = outcome(self.vendors.load(&order.vendor_id.to_string()).await)?
            .ok()
            .and_then(|loaded| loaded.aggregate.state().map(VendorStanding::of));
        let mut refused: Vec<(Uuid, String)> = Vec::new();
        for line in &order.lines {
            let Some(vendor) = vendor else {
                refused.push((line.listing_id, "the vendor does not exist".into()));
                continue;
            };
            let command = ListingCommand::Reserve {
                order_id,
                quantity: line.quantity,
                vendor,
            };
            if let Err(refusal) = outcome(
                self.listings
                    .execute(&line.listing_id.to_string(), command, metadata)
                    .await,
            )? {
                refused.push((line.listing_id, refusal.to_string()));
            }
        }
        if refused.is_empty() {
            let confirm = OrderCommand::Confirm {
                actor: Actor::system(),
            };
            // Refused only if the order moved on meanwhile (say, the shopper cancelled): the
            // cancellation's own event then releases the stock.
            let _ = outcome(
                self.orders
                    .execute(&order_id.to_string(), confirm, metadata)
                    .await,
            )?;
            return Ok(());
        }
        self.release(&order, metadata).await?;
        let reason = refused
            .iter()
            .map(|(listing, why)| format!("{listing}: {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        let reject = OrderCommand::Reject {
            actor: Actor::system(),
            reason,
            failed_listings: refused.iter().map(|(listing, _)| *listing).collect(),
        };
        let _ = outcome(
            self.orders
                .execute(&order_id.to_string(), reject, metadata)
                .await,
        )?;
        self.fail_checkout(conn, checkout_id, order_id, metadata)
            .await
    }

    async fn release(
        &self,
        order: &OrderState,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        for line in &order.lines {
            let command = ListingCommand::Release { order_id: order.id };
            let _ = outcome(
                self.listings
                    .execute(&line.listing_id.to_string(), command, metadata)
                    .await,
            )?;
        }
        Ok(())
    }

    /// Rejects a pending order, or cancels a confirmed one, because its checkout failed.
    async fn turn_down(
        &self,
        order_id: Uuid,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ProjectionError> {
        let Some(order) = self.order(order_id).await? else {
            return Ok(());
        };
        let command = match order.status {
            OrderStatus::Pending => OrderCommand::Reject {
                actor: Actor::system(),
                reason: SIBLING_FAILED.into(),
                failed_listings: Vec::new(),
            },
            OrderStatus::AwaitingPayment | OrderStatus::Paid => OrderCommand::Cancel {
                actor: Actor::system(),
                reason: SIBLING_FAILED.into(),
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
            self.turn_down(sibling, metadata).await?;
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
