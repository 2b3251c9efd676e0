//! A checkout (`POST /v1/checkouts`, and the cart page's checkout form): one cart across
//! several producers becomes one order per vendor,
//! sharing a checkout id, placed, reserved and confirmed in one multi-stream append
//! (`otop_projections::checkout`). The reply is the committed outcome: 201 with every order
//! `awaiting_payment`, or 409 naming the lines that cannot be reserved, with nothing written.
//!
//! Ids are derived from the caller and its `Idempotency-Key` when there is one, so a checkout
//! that is retried after a crash finds the orders it placed instead of placing a second set.

use otop_domain::order::{ShippingAddress, MAX_ORDER_LINES};
use otop_domain::values::{parse_optional_text, parse_quantity, parse_text, Phone};
use otop_domain::{FieldError, OrderStatus, Role, Validator};
use otop_projections::checkout::{self, place_checkout, CartLine};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use otop_domain::{Actor, EventMetadata};

use crate::auth::require_role;
use crate::error::AppError;
use crate::state::AppState;

static SHOPPER_LOCKS: std::sync::LazyLock<Vec<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(|| (0..1024).map(|_| tokio::sync::Mutex::new(())).collect());

fn shopper_lock(shopper: &str) -> &'static tokio::sync::Mutex<()> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    shopper.hash(&mut hasher);
    &SHOPPER_LOCKS[(hasher.finish() % SHOPPER_LOCKS.len() as u64) as usize]
}

/// API.md, Limits: a shopper with `OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER` checkouts awaiting
/// payment gets 429 for another, so nobody holds a listing's stock hostage with checkouts
/// never paid. Counted as the orders read model has them, plus the shopper's checkouts the
/// read model has not reached yet (read from the log after its checkpoint, in the same
/// statement): the shopper's own last checkout always counts.
async fn check_unpaid_cap(state: &AppState, shopper: &str) -> Result<(), AppError> {
    let cap = state.config.max_unpaid_checkouts_per_shopper;
    if cap == 0 {
        return Ok(());
    }
    let unpaid: i64 = sqlx::query_scalar(
        "WITH reached AS (
             SELECT transaction_id, position FROM projection_checkpoints WHERE name = $2
         )
         SELECT (SELECT count(DISTINCT checkout_id) FROM order_summaries
                  WHERE shopper_id = $1 AND status = 'awaiting_payment')
              + (SELECT count(DISTINCT e.payload -> 'OrderPlaced' ->> 'checkout_id')
                   FROM events e, reached r
                  WHERE (e.transaction_id, e.position) > (r.transaction_id, r.position)
                    AND e.event_type = 'OrderPlaced' AND e.metadata ->> 'actor_id' = $1)",
    )
    .bind(shopper)
    .bind(otop_projections::ProjectionKind::Orders.name())
    .fetch_one(&state.pool)
    .await?;
    if unpaid >= i64::from(cap) {
        return Err(AppError::TooManyRequests {
            detail: format!(
                "{unpaid} of your checkouts await payment (at most {cap}): pay or cancel one first"
            ),
            retry_after_seconds: 60,
        });
    }
    Ok(())
}

/// Namespace of the ids derived from an Idempotency-Key.
const CHECKOUT_NAMESPACE: Uuid = Uuid::from_u128(0x6f74_6f70_2d63_6865_636b_6f75_742d_6964);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutLineRequest {
    pub listing_id: Uuid,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddressRequest {
    pub name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub subdistrict: Option<String>,
    pub district: Option<String>,
    pub province: String,
    /// Five digits.
    pub postcode: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub lines: Vec<CheckoutLineRequest>,
    pub shipping_address: ShippingAddressRequest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutOrder {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub status: String,
    pub total_satang: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutReply {
    pub checkout_id: Uuid,
    /// The log position of the checkout's latest event: wait for it with `?min_position=`.
    pub position: i64,
    /// `awaiting_payment`: every order's stock is reserved (a retry of a checkout whose
    /// orders moved on since shows their status).
    pub status: String,
    pub orders: Vec<CheckoutOrder>,
}

fn parse_address(raw: ShippingAddressRequest, v: &mut Validator) -> Option<ShippingAddress> {
    let postcode = raw.postcode.trim().to_string();
    if postcode.len() != 5 || !postcode.chars().all(|c| c.is_ascii_digit()) {
        v.push(FieldError::new(
            "shipping_address.postcode",
            "must be five digits",
        ));
    }
    let name = v.check(parse_text("shipping_address.name", &raw.name, 200));
    let phone = v.check(Phone::parse("shipping_address.phone", &raw.phone));
    let line1 = v.check(parse_text("shipping_address.line1", &raw.line1, 500));
    let line2 = v.check(parse_optional_text(
        "shipping_address.line2",
        raw.line2.as_deref(),
        500,
    ));
    let subdistrict = v.check(parse_optional_text(
        "shipping_address.subdistrict",
        raw.subdistrict.as_deref(),
        100,
    ));
    let district = v.check(parse_optional_text(
        "shipping_address.district",
        raw.district.as_deref(),
        100,
    ));
    let province = v.check(parse_text("shipping_address.province", &raw.province, 100));
    Some(ShippingAddress {
        name: name?,
        phone: phone?,
        line1: line1?,
        line2: line2?,
        subdistrict: subdistrict?,
        district: district?,
        province: province?,
        postcode,
    })
}

/// Places a checkout for `actor` (a shopper): parses every line and the address (an error
/// naming each bad field), checks the unpaid cap, and places one order per vendor in one
/// append. With `idempotency_key`, the checkout's ids derive from the caller and the key, so
/// the same key again finds the checkout it placed instead of placing a second.
pub async fn place(
    state: &AppState,
    actor: &Actor,
    metadata: &EventMetadata,
    idempotency_key: Option<&str>,
    body: CheckoutRequest,
) -> Result<CheckoutReply, AppError> {
    let key = idempotency_key;
    require_role(actor, &[Role::Shopper], "checking out")?;
    let mut v = Validator::new();
    if body.lines.is_empty() {
        v.push(FieldError::new(
            "lines",
            "a checkout needs at least one line",
        ));
    }
    if body.lines.len() > MAX_ORDER_LINES {
        v.push(FieldError::new(
            "lines",
            format!("at most {MAX_ORDER_LINES} lines"),
        ));
    }
    let mut quantities = Vec::with_capacity(body.lines.len());
    for (index, line) in body.lines.iter().enumerate() {
        quantities.push(v.check(parse_quantity(
            &format!("lines[{index}].quantity"),
            line.quantity,
        )));
        if body.lines[..index]
            .iter()
            .any(|l| l.listing_id == line.listing_id)
        {
            v.push(FieldError::new(
                format!("lines[{index}].listing_id"),
                "a listing may appear only once per checkout",
            ));
        }
    }
    let address = parse_address(body.shipping_address, &mut v);
    let (address, quantities) = v.finish_with((address, quantities))?;
    let lines: Vec<CartLine> = body
        .lines
        .iter()
        .zip(quantities)
        .map(|(line, quantity)| CartLine {
            listing_id: line.listing_id,
            quantity,
        })
        .collect();

    let checkout_id = match key {
        Some(key) => Uuid::new_v5(
            &CHECKOUT_NAMESPACE,
            format!("{}\n{key}", actor.id).as_bytes(),
        ),
        None => Uuid::now_v7(),
    };
    let request = checkout::CheckoutRequest {
        checkout_id,
        lines,
        shipping_address: address,
        metadata: metadata.clone(),
        derived_ids: key.is_some(),
    };
    // The cap is checked and the checkout placed under one lock per shopper, so a burst of
    // one shopper's checkouts in this process cannot all pass the check at once.
    let _shopper_turn = shopper_lock(&actor.id).lock().await;
    check_unpaid_cap(state, &actor.id).await?;
    let placed = place_checkout(&state.events, &request).await?;
    tracing::info!(
        checkout_id = %checkout_id,
        orders = placed.orders.len(),
        position = placed.position,
        already_placed = placed.already_placed,
        "checkout placed"
    );
    let status = if placed
        .orders
        .iter()
        .all(|o| o.status == OrderStatus::AwaitingPayment)
    {
        "awaiting_payment".to_string()
    } else {
        // A retry of a checkout whose orders moved on since (paid, cancelled, expired).
        placed
            .orders
            .first()
            .map_or("", |o| o.status.as_str())
            .to_string()
    };
    let position = placed.position;
    let orders = placed
        .orders
        .iter()
        .map(|order| CheckoutOrder {
            id: order.id,
            vendor_id: order.vendor_id,
            status: order.status.as_str().to_string(),
            total_satang: order.total.get(),
        })
        .collect();
    Ok(CheckoutReply {
        checkout_id,
        position,
        status,
        orders,
    })
}
