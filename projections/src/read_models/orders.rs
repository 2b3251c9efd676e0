//! Projection `orders`: every order with its status, totals and the time of each step, for
//! its shopper, its vendor and the office.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use otop_domain::order::OrderEvent;
use otop_domain::Order;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{aggregate_uuid, decode, load_states, opened_in, recorded_at, upsert_rows};
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

/// The column that records when an event's step happened.
fn step_column(event: &OrderEvent) -> &'static str {
    match event {
        OrderEvent::OrderPlaced { .. } => "placed_at",
        OrderEvent::OrderConfirmed => "confirmed_at",
        OrderEvent::OrderRejected { .. } => "rejected_at",
        OrderEvent::OrderPaid { .. } => "paid_at",
        OrderEvent::OrderAccepted => "accepted_at",
        OrderEvent::OrderPacked => "packed_at",
        OrderEvent::OrderShipped { .. } => "shipped_at",
        OrderEvent::OrderDelivered => "delivered_at",
        OrderEvent::OrderCancelled { .. } => "cancelled_at",
        OrderEvent::OrderExpired => "expired_at",
        OrderEvent::OrderRefunded { .. } => "refunded_at",
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
    /// Step columns (placed_at, paid_at, ...) to their times.
    steps: Map<String, Value>,
    updated_at: DateTime<Utc>,
    last_position: i64,
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
        for (id, aggregate, row) in
            load_states::<Order>(conn, &self.table, "order_id", &stored).await?
        {
            let steps = ORDER_COLUMNS
                .iter()
                .filter(|c| c.ends_with("_at") && **c != "updated_at")
                .filter_map(|c| {
                    row.get(*c)
                        .filter(|v| !v.is_null())
                        .map(|v| (c.to_string(), v.clone()))
                })
                .collect();
            orders.insert(
                id,
                OrderRow {
                    aggregate,
                    steps,
                    updated_at: DateTime::UNIX_EPOCH,
                    last_position: row
                        .get("last_position")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                },
            );
        }
        for event in events.iter().filter(|e| e.aggregate_type == "Order") {
            let id = aggregate_uuid(event)?;
            let at = recorded_at(event);
            let payload: OrderEvent = decode(event)?;
            let row = orders.entry(id).or_insert_with(|| OrderRow {
                aggregate: Order::default(),
                steps: Map::new(),
                updated_at: at,
                last_position: 0,
            });
            row.steps
                .insert(step_column(&payload).to_string(), json!(at));
            cqrs_es::Aggregate::apply(&mut row.aggregate, payload);
            row.updated_at = at;
            row.last_position = event.position;
        }
        let mut rows = Vec::with_capacity(orders.len());
        for (id, row) in orders {
            let Some(state) = row.aggregate.state() else {
                return Err(ProjectionError::BadEvent {
                    position: row.last_position,
                    event_type: "Order".into(),
                    message: format!("order {id} has events but was never placed"),
                });
            };
            let mut object = json!({
                "order_id": id,
                "checkout_id": state.checkout_id,
                "shopper_id": state.shopper_id,
                "vendor_id": state.vendor_id,
                "status": state.status.as_str(),
                "total_satang": state.total.get(),
                "paid_satang": state.paid_satang,
                "refunded_satang": state.refunded_satang,
                "lines": state.lines.iter().map(|line| json!({
                    "listing_id": line.listing_id,
                    "quantity": line.quantity,
                    "unit_price_satang": line.unit_price.get(),
                })).collect::<Vec<_>>(),
                "shipping_address": state.shipping_address,
                "carrier": state.carrier,
                "tracking_number": state.tracking_number,
                "status_reason": state.status_reason,
                "updated_at": row.updated_at,
                "last_position": row.last_position,
                "state": row.aggregate,
            });
            if let Some(map) = object.as_object_mut() {
                for (column, time) in row.steps {
                    map.insert(column, time);
                }
            }
            rows.push(object);
        }
        upsert_rows(conn, &self.table, "order_id", ORDER_COLUMNS, rows).await?;
        Ok(())
    }
}
