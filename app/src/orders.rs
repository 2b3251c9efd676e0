//! Orders as their shopper, their vendor and admins see them (`/v1/orders`, the shopper's
//! `/orders` pages), and the shopper's cancel.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use otop_domain::values::{parse_text, REASON_MAX_CHARS};
use otop_domain::{Actor, OrderCommand, OrderStatus, Role};
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::require_role;
use crate::command::{execute, CommandReply};
use crate::error::AppError;
use crate::paging::{KeysetAfter, Page, Paging};
use crate::read_your_writes::wait_for;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLineView {
    pub listing_id: Uuid,
    pub quantity: u32,
    pub unit_price_satang: u64,
}

/// An order as its shopper, its vendor and admins see it, with the time of each step.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderView {
    #[sqlx(rename = "order_id")]
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub vendor_id: Uuid,
    pub shopper_id: String,
    pub status: String,
    pub total_satang: i64,
    pub paid_satang: i64,
    pub refunded_satang: i64,
    #[schema(value_type = Vec<OrderLineView>)]
    pub lines: sqlx::types::Json<Vec<OrderLineView>>,
    #[schema(value_type = Object)]
    pub shipping_address: sqlx::types::Json<serde_json::Value>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status_reason: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub packed_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const ORDER_SELECT: &str =
    "SELECT order_id, checkout_id, vendor_id, shopper_id, status, total_satang,
        paid_satang, refunded_satang, lines, shipping_address, carrier, tracking_number,
        status_reason, placed_at, confirmed_at, rejected_at, paid_at, accepted_at, packed_at,
        shipped_at, delivered_at, cancelled_at, expired_at, refunded_at, updated_at
   FROM order_summaries";

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct OrderListQuery {
    /// One of the order statuses (pending, awaiting_payment, paid, ...).
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    pub min_position: Option<i64>,
    /// Page by key past any depth: the `next_after` of the page before (with no `page`).
    pub after: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadQuery {
    /// Wait until the read model has applied the event at this log position.
    pub min_position: Option<i64>,
}

/// Whose orders an actor may read: `(shopper_id, vendor_id)` filters, both `None` for admins.
fn scope(actor: &Actor) -> Result<(Option<String>, Option<Uuid>), AppError> {
    require_role(
        actor,
        &[Role::Shopper, Role::Vendor, Role::Admin],
        "reading orders",
    )?;
    Ok(match actor.role {
        Role::Shopper => (Some(actor.id.clone()), None),
        Role::Vendor => (None, actor.vendor_id),
        _ => (None, None),
    })
}

/// Orders, newest first: a shopper's own, a vendor's own, or (admins) all.
pub async fn list_orders(
    state: &AppState,
    actor: &Actor,
    query: &OrderListQuery,
) -> Result<Page<OrderView>, AppError> {
    let (shopper, vendor) = scope(actor)?;
    let paging = Paging::parse(query.page, query.per_page)?;
    let after = KeysetAfter::parse(query.after.as_deref(), query.page)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(OrderStatus::parse(text).ok_or_else(|| {
            AppError::invalid("status", format!("{text:?} is not an order status"))
        })?),
    };
    wait_for(state, ProjectionKind::Orders, query.min_position).await?;
    let filter =
        "WHERE ($1::text IS NULL OR shopper_id = $1) AND ($2::uuid IS NULL OR vendor_id = $2)
                    AND ($3::text IS NULL OR status = $3)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM order_summaries {filter}"))
        .bind(&shopper)
        .bind(vendor)
        .bind(status.map(OrderStatus::as_str))
        .fetch_one(&state.pool)
        .await?;
    let items: Vec<OrderView> = sqlx::query_as(&format!(
        "{ORDER_SELECT} {filter}
           AND ($6::timestamptz IS NULL OR (placed_at, order_id) < ($6, $7))
         ORDER BY placed_at DESC, order_id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(&shopper)
    .bind(vendor)
    .bind(status.map(OrderStatus::as_str))
    .bind(paging.per_page + 1)
    .bind(if after.is_some() { 0 } else { paging.offset() })
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .fetch_all(&state.pool)
    .await?;
    let mut items = items;
    let more = items.len() as i64 > paging.per_page;
    items.truncate(paging.per_page as usize);
    let next_after = if more {
        items
            .last()
            .map(|order| KeysetAfter::format(order.placed_at, order.id))
    } else {
        None
    };
    let mut page = Page::new(items, paging, total);
    page.next_after = next_after;
    Ok(page)
}

/// One order: its shopper, its vendor and admins (anyone else: not found).
pub async fn get_order(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    min_position: Option<i64>,
) -> Result<OrderView, AppError> {
    let (shopper, vendor) = scope(actor)?;
    wait_for(state, ProjectionKind::Orders, min_position).await?;
    let order: Option<OrderView> = sqlx::query_as(&format!("{ORDER_SELECT} WHERE order_id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let order = order.ok_or_else(|| AppError::NotFound("no such order".into()))?;
    let allowed = shopper.as_ref().is_none_or(|s| *s == order.shopper_id)
        && vendor.is_none_or(|v| v == order.vendor_id);
    if !allowed {
        // Someone else's order: as good as unknown.
        return Err(AppError::NotFound("no such order".into()));
    }
    Ok(order)
}

/// Cancels an order with a reason: its shopper until the vendor accepts, its vendor until it
/// ships, or an admin (the Order aggregate decides). What was paid goes back to the shopper
/// and the reserved stock is released.
pub async fn cancel_order(
    state: &AppState,
    actor: &Actor,
    metadata: &HashMap<String, String>,
    id: Uuid,
    reason: &str,
) -> Result<CommandReply, AppError> {
    let command = OrderCommand::Cancel {
        actor: actor.clone(),
        reason: parse_text("reason", reason, REASON_MAX_CHARS)?,
    };
    execute(&state.orders, id, command, metadata).await
}

/// The longest carrier name and tracking number accepted.
pub const SHIPPING_TEXT_MAX_CHARS: usize = 100;

/// A step of a paid order's way to the shopper, taken by its vendor.
#[derive(Debug, Clone)]
pub enum FulfilmentStep {
    Accept,
    Pack,
    /// Handed to `carrier` under `tracking_number` (each 1 to 100 characters).
    Ship {
        carrier: String,
        tracking_number: String,
    },
}

/// Takes one fulfilment step on an order (the Order aggregate decides who may and when).
pub async fn fulfil(
    state: &AppState,
    actor: &Actor,
    metadata: &HashMap<String, String>,
    id: Uuid,
    step: FulfilmentStep,
) -> Result<CommandReply, AppError> {
    let actor = actor.clone();
    let command = match step {
        FulfilmentStep::Accept => OrderCommand::Accept { actor },
        FulfilmentStep::Pack => OrderCommand::Pack { actor },
        FulfilmentStep::Ship {
            carrier,
            tracking_number,
        } => {
            let mut v = otop_domain::Validator::new();
            let carrier = v.check(parse_text("carrier", &carrier, SHIPPING_TEXT_MAX_CHARS));
            let tracking_number = v.check(parse_text(
                "tracking_number",
                &tracking_number,
                SHIPPING_TEXT_MAX_CHARS,
            ));
            let (carrier, tracking_number) = v.finish_with((carrier, tracking_number))?;
            OrderCommand::Ship {
                actor,
                carrier,
                tracking_number,
            }
        }
    };
    execute(&state.orders, id, command, metadata).await
}
