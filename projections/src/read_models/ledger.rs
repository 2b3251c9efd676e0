//! Projection `ledger`: the payout ledger, what the platform owes each vendor.
//!
//! - `OrderPaid` (amount a, rate bps): a credit of `a - floor(a * bps / 10000)`.
//! - `OrderRefunded` (amount r), and `OrderCancelled` giving back r > 0: a debit of
//!   `r - floor(r * bps / 10000)` at the rate recorded with the payment.
//!
//! Each line is keyed by the log position of its event, so a rebuild writes the same rows. The
//! vendor of each order (from `OrderPlaced`) and its rate (from `OrderPaid`) are kept in the
//! projection's own table, written in the same batch transaction; it reads no other
//! projection's tables. Money is integer satang throughout.

use std::collections::{BTreeSet, HashMap};

use futures::future::BoxFuture;
use otop_domain::order::OrderEvent;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{aggregate_uuid, decode, recorded_at, upsert_rows};
use crate::log::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

/// The tables this projection owns, each with the column (or comma-separated columns) that
/// identifies a row; rebuilds and digests cover exactly these.
pub const TABLES: &[(&str, &str)] = &[
    ("vendor_ledger_lines", "position"),
    ("vendor_ledger_orders", "order_id"),
];

pub const LINES_TABLE: &str = "vendor_ledger_lines";
pub const ORDERS_TABLE: &str = "vendor_ledger_orders";

/// Basis points in a whole: 10000 bps = 100%.
pub const BPS_PER_WHOLE: u64 = 10_000;

const LINE_COLUMNS: &[&str] = &[
    "position",
    "order_id",
    "vendor_id",
    "kind",
    "gross_satang",
    "commission_satang",
    "commission_bps",
    "amount_satang",
    "recorded_at",
];

const ORDER_COLUMNS: &[&str] = &["order_id", "vendor_id", "commission_bps", "last_position"];

/// The platform's commission on `gross` satang at `bps` basis points, rounded down.
pub fn commission(gross: u64, bps: u32) -> u64 {
    // gross is at most 10^9 satang (10 million THB) and bps at most 10^4: no overflow.
    gross * u64::from(bps) / BPS_PER_WHOLE
}

pub struct LedgerProjection {
    name: String,
    lines_table: String,
    orders_table: String,
}

impl LedgerProjection {
    pub fn new(name: &str, table_suffix: &str) -> Self {
        LedgerProjection {
            name: name.to_string(),
            lines_table: format!("{LINES_TABLE}{table_suffix}"),
            orders_table: format!("{ORDERS_TABLE}{table_suffix}"),
        }
    }
}

impl Projection for LedgerProjection {
    fn wants(&self, event: &RecordedEvent) -> bool {
        event.aggregate_type == "Order"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(self.apply_batch(conn, events))
    }
}

/// What the ledger remembers of an order.
struct OrderMemory {
    vendor_id: Uuid,
    commission_bps: Option<u32>,
    last_position: i64,
    changed: bool,
}

/// An order as the ledger's own table remembers it.
#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    vendor_id: Uuid,
    commission_bps: Option<i32>,
    last_position: i64,
}

impl LedgerProjection {
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let order_events: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == "Order")
            .collect();
        if order_events.is_empty() {
            return Ok(());
        }
        let mut ids = BTreeSet::new();
        for event in &order_events {
            ids.insert(aggregate_uuid(event)?);
        }
        let opened = super::opened_in(events, "Order");
        let ids: Vec<Uuid> = ids.into_iter().filter(|id| !opened.contains(id)).collect();
        let known: Vec<OrderRow> = super::fetch_by_ids(
            &mut *conn,
            &format!(
                "SELECT order_id, vendor_id, commission_bps, last_position
               FROM {} WHERE order_id = ANY($1)",
                self.orders_table
            ),
            &ids,
        )
        .await?;
        let mut orders: HashMap<Uuid, OrderMemory> = known
            .into_iter()
            .map(|row| {
                (
                    row.order_id,
                    OrderMemory {
                        vendor_id: row.vendor_id,
                        commission_bps: row.commission_bps.and_then(|b| u32::try_from(b).ok()),
                        last_position: row.last_position,
                        changed: false,
                    },
                )
            })
            .collect();

        let mut lines = Vec::new();
        for event in order_events {
            let order_id = aggregate_uuid(event)?;
            let payload: OrderEvent = decode(event)?;
            if let OrderEvent::OrderPlaced { vendor_id, .. } = &payload {
                orders.insert(
                    order_id,
                    OrderMemory {
                        vendor_id: *vendor_id,
                        commission_bps: None,
                        last_position: event.position,
                        changed: true,
                    },
                );
                continue;
            }
            let Some(order) = orders.get_mut(&order_id) else {
                return Err(ProjectionError::bad_event(
                    event,
                    format!("order {order_id} has events but was never placed"),
                ));
            };
            let (kind, gross, bps) = match payload {
                OrderEvent::OrderPaid {
                    amount,
                    commission_bps,
                    ..
                } => {
                    if commission_bps > 10_000 {
                        return Err(ProjectionError::bad_event(
                            event,
                            format!("commission of {commission_bps} bps is more than 100%"),
                        ));
                    }
                    order.commission_bps = Some(commission_bps);
                    order.last_position = event.position;
                    order.changed = true;
                    ("credit", amount.get(), commission_bps)
                }
                OrderEvent::OrderRefunded { amount, .. } => {
                    ("debit", amount.get(), paid_rate(event, order)?)
                }
                OrderEvent::OrderCancelled { refund_satang, .. } if refund_satang > 0 => {
                    ("debit", refund_satang, paid_rate(event, order)?)
                }
                _ => continue,
            };
            let commission = commission(gross, bps);
            let net = i64::try_from(gross - commission)
                .map_err(|_| ProjectionError::bad_event(event, "amount out of range"))?;
            lines.push(json!({
                "position": event.position,
                "order_id": order_id,
                "vendor_id": order.vendor_id,
                "kind": kind,
                "gross_satang": gross,
                "commission_satang": commission,
                "commission_bps": bps,
                "amount_satang": if kind == "credit" { net } else { -net },
                "recorded_at": recorded_at(event),
            }));
        }

        let memory: Vec<Value> = orders
            .into_iter()
            .filter(|(_, order)| order.changed)
            .map(|(order_id, order)| {
                json!({
                    "order_id": order_id,
                    "vendor_id": order.vendor_id,
                    "commission_bps": order.commission_bps,
                    "last_position": order.last_position,
                })
            })
            .collect();
        upsert_rows(conn, &self.orders_table, "order_id", ORDER_COLUMNS, memory).await?;
        upsert_rows(conn, &self.lines_table, "position", LINE_COLUMNS, lines).await?;
        Ok(())
    }
}

/// The rate recorded with the order's payment; money cannot go back on an unpaid order.
fn paid_rate(event: &RecordedEvent, order: &OrderMemory) -> Result<u32, ProjectionError> {
    order.commission_bps.ok_or_else(|| {
        ProjectionError::bad_event(event, "money goes back on an order that was never paid")
    })
}

#[cfg(test)]
mod tests {
    use super::commission;

    #[test]
    fn commission_is_integer_basis_points_rounded_down() {
        assert_eq!(commission(350_000, 500), 17_500);
        assert_eq!(commission(100_000, 500), 5_000);
        // 5% of 19 satang is 0.95: the platform takes 0, the vendor keeps all 19.
        assert_eq!(commission(19, 500), 0);
        assert_eq!(commission(12_345, 750), 925); // 925.875
        assert_eq!(commission(1_000_000_000, 10_000), 1_000_000_000);
        assert_eq!(commission(1_000_000_000, 0), 0);
    }
}
