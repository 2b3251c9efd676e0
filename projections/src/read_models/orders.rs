//! Projection `orders`: every order with its status, totals and the time of each step, for
//! its shopper, its vendor and the office.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use otop_domain::order::{OrderEvent, ShippingAddress};
use otop_domain::Order;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    aggregate_uuid, decode, fetch_by_ids, opened_in, recorded_at, stored_state, upsert_rows_filling,
};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

/// The tables this projection owns, each with the column (or comma-separated columns) that
/// identifies a row; rebuilds and digests cover exactly these.
pub const TABLES: &[(&str, &str)] = &[("order_summaries", "order_id")];

const ORDER_COLUMNS: &[&str] = &[
    "order_id",
    "checkout_id",
    "shopper_id",
    "vendor_id",
    "status",
    "total_satang",
    "paid_satang",
    "refunded_satang",
    "lines",
    "shipping_address",
    "carrier",
    "tracking_number",
    "status_reason",
    "placed_at",
    "confirmed_at",
    "rejected_at",
    "paid_at",
    "accepted_at",
    "packed_at",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "expired_at",
    "refunded_at",
    "updated_at",
    "last_position",
    "state",
];

/// When each of an order's steps happened, as far as this batch knows: a step it did not see
/// is `None`, and the upsert keeps the stored time (see [`is_step_column`]).
#[derive(Default, Serialize)]
struct Steps {
    placed_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
    rejected_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    accepted_at: Option<DateTime<Utc>>,
    packed_at: Option<DateTime<Utc>>,
    shipped_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    expired_at: Option<DateTime<Utc>>,
    refunded_at: Option<DateTime<Utc>>,
}

/// Whether `column` is a step column (`placed_at`, `paid_at`, ...): a batch writes the steps it
/// saw and keeps the others as stored, so an order's row is never read back for them.
fn is_step_column(column: &str) -> bool {
    column.ends_with("_at") && column != "updated_at"
}

impl Steps {
    /// Records that `event`'s step happened at `at`.
    fn record(&mut self, event: &OrderEvent, at: DateTime<Utc>) {
        let step = match event {
            OrderEvent::OrderPlaced { .. } => &mut self.placed_at,
            OrderEvent::OrderConfirmed => &mut self.confirmed_at,
            OrderEvent::OrderRejected { .. } => &mut self.rejected_at,
            OrderEvent::OrderPaid { .. } => &mut self.paid_at,
            OrderEvent::OrderAccepted => &mut self.accepted_at,
            OrderEvent::OrderPacked => &mut self.packed_at,
            OrderEvent::OrderShipped { .. } => &mut self.shipped_at,
            OrderEvent::OrderDelivered => &mut self.delivered_at,
            OrderEvent::OrderCancelled { .. } => &mut self.cancelled_at,
            OrderEvent::OrderExpired => &mut self.expired_at,
            OrderEvent::OrderRefunded { .. } => &mut self.refunded_at,
        };
        *step = Some(at);
    }
}

pub struct OrdersProjection {
    name: String,
    table: String,
}

impl OrdersProjection {
    pub fn new(name: &str, table_suffix: &str) -> Self {
        OrdersProjection {
            name: name.to_string(),
            table: format!("order_summaries{table_suffix}"),
        }
    }
}

struct OrderRow {
    aggregate: Order,
    steps: Steps,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

/// An order's line as its row shows it.
#[derive(Serialize)]
struct LineColumn {
    listing_id: Uuid,
    quantity: u32,
    unit_price_satang: u64,
}

/// A row of `order_summaries` as the upsert reads it (`jsonb_populate_recordset`), written
/// straight from the order's state.
#[derive(Serialize)]
struct SummaryRow<'a> {
    order_id: Uuid,
    checkout_id: Uuid,
    shopper_id: &'a str,
    vendor_id: Uuid,
    status: &'static str,
    total_satang: u64,
    paid_satang: u64,
    refunded_satang: u64,
    lines: Vec<LineColumn>,
    shipping_address: &'a ShippingAddress,
    carrier: Option<&'a str>,
    tracking_number: Option<&'a str>,
    status_reason: Option<&'a str>,
    #[serde(flatten)]
    steps: &'a Steps,
    updated_at: DateTime<Utc>,
    last_position: i64,
    state: &'a Order,
}

impl Projection for OrdersProjection {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.aggregate_type == "Order"
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(self.apply_batch(conn, events))
    }
}

impl OrdersProjection {
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut ids = BTreeSet::new();
        for event in events.iter().filter(|e| e.aggregate_type == "Order") {
            ids.insert(aggregate_uuid(event)?);
        }
        if ids.is_empty() {
            return Ok(());
        }
        let opened = opened_in(events, "Order");
        let stored: Vec<Uuid> = ids.into_iter().filter(|id| !opened.contains(id)).collect();
        let mut orders: HashMap<Uuid, OrderRow> = HashMap::new();
        // Only what the events cannot give back: the state to apply them to, and the time
        // the order was placed (the column is NOT NULL, so every upsert carries it).
        for (id, aggregate, placed_at) in self.load(conn, &stored).await? {
            let steps = Steps {
                placed_at: Some(placed_at),
                ..Steps::default()
            };
            let row = OrderRow {
                aggregate,
                steps,
                updated_at: DateTime::UNIX_EPOCH,
                last_position: 0,
            };
            orders.insert(id, row);
        }
        for event in events.iter().filter(|e| e.aggregate_type == "Order") {
            let id = aggregate_uuid(event)?;
            let at = recorded_at(event);
            let payload: OrderEvent = decode(event)?;
            let row = orders.entry(id).or_insert_with(|| OrderRow {
                aggregate: Order::default(),
                steps: Steps::default(),
                updated_at: at,
                last_position: 0,
            });
            row.steps.record(&payload, at);
            cqrs_es::Aggregate::apply(&mut row.aggregate, payload);
            row.updated_at = at;
            row.last_position = event.position;
        }
        let mut rows = Vec::with_capacity(orders.len());
        for (id, row) in &orders {
            let Some(state) = row.aggregate.state() else {
                return Err(ProjectionError::BadEvent {
                    position: row.last_position,
                    event_type: "Order".into(),
                    message: format!("order {id} has events but was never placed"),
                });
            };
            rows.push(SummaryRow {
                order_id: *id,
                checkout_id: state.checkout_id,
                shopper_id: &state.shopper_id,
                vendor_id: state.vendor_id,
                status: state.status.as_str(),
                total_satang: state.total.get(),
                paid_satang: state.paid_satang,
                refunded_satang: state.refunded_satang,
                lines: state
                    .lines
                    .iter()
                    .map(|line| LineColumn {
                        listing_id: line.listing_id,
                        quantity: line.quantity,
                        unit_price_satang: line.unit_price.get(),
                    })
                    .collect(),
                shipping_address: &state.shipping_address,
                carrier: state.carrier.as_deref(),
                tracking_number: state.tracking_number.as_deref(),
                status_reason: state.status_reason.as_deref(),
                steps: &row.steps,
                updated_at: row.updated_at,
                last_position: row.last_position,
                state: &row.aggregate,
            });
        }
        let steps: Vec<&str> = ORDER_COLUMNS
            .iter()
            .copied()
            .filter(|column| is_step_column(column))
            .collect();
        upsert_rows_filling(conn, &self.table, "order_id", ORDER_COLUMNS, &steps, &rows).await?;
        Ok(())
    }

    /// The stored state and placing time of each of `ids`, and no statement when there are
    /// none.
    async fn load(
        &self,
        conn: &mut PgConnection,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Order, DateTime<Utc>)>, ProjectionError> {
        #[derive(sqlx::FromRow)]
        struct Stored {
            order_id: Uuid,
            state: Value,
            placed_at: DateTime<Utc>,
        }
        let sql = format!(
            "SELECT order_id, state, placed_at FROM {} WHERE order_id = ANY($1)",
            self.table
        );
        let stored: Vec<Stored> = fetch_by_ids(conn, &sql, ids).await?;
        stored
            .into_iter()
            .map(|row| {
                let order = stored_state(&self.table, row.order_id, &row.state)?;
                Ok((row.order_id, order, row.placed_at))
            })
            .collect()
    }
}
