//! `POST /v1/checkouts`: one cart across several producers becomes one order per vendor,
//! sharing a checkout id. The request places the orders; the checkout process manager
//! (projections::process_manager) reserves their stock from the log and confirms or rejects
//! them; the reply waits, bounded, for that outcome.
//!
//! Ids are derived from the caller and its `Idempotency-Key` when there is one, so a checkout
//! that is retried after a crash places the very same orders again (and finds them there)
//! instead of a second set.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use otop_domain::order::{OrderLine, ShippingAddress, MAX_ORDER_LINES};
use otop_domain::values::{parse_optional_text, parse_quantity, parse_text, Phone};
use otop_domain::{FieldError, ListingStatus, OrderCommand, OrderStatus, Role, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::require_role;
use crate::extract::{ApiJson, CommandContext};
use crate::idempotency::IDEMPOTENCY_KEY_HEADER;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub const TAG: &str = "checkout";

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
    /// `awaiting_payment` when every order's stock is reserved, `pending` if the outcome was
    /// not known within the wait.
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

/// Place a checkout (shopper): one order per vendor, stock reserved on every line.
#[utoipa::path(post, path = "/v1/checkouts", tag = TAG, request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe retries; also fixes the checkout's ids")),
    responses((status = 201, body = CheckoutReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "lines that could not be reserved, named in `errors`"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_checkout(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: CommandContext,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> Result<(StatusCode, Json<CheckoutReply>), ApiError> {
    require_role(&ctx.actor, &[Role::Shopper], "checking out")?;
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
    let requested: Vec<Uuid> = body.lines.iter().map(|l| l.listing_id).collect();
    let address = parse_address(body.shipping_address, &mut v);
    v.finish()?;
    let address = address
        .ok_or_else(|| ApiError::Internal("address passed validation but is missing".into()))?;

    // Look every listing up first: what obviously cannot be sold is refused before any order
    // is placed. The reservation by the process manager remains the real check.
    let mut by_vendor: BTreeMap<Uuid, Vec<OrderLine>> = BTreeMap::new();
    let mut unsellable = Vec::new();
    for (index, (line, quantity)) in body.lines.iter().zip(quantities).enumerate() {
        let quantity = quantity.ok_or_else(|| {
            ApiError::Internal("quantity passed validation but is missing".into())
        })?;
        let field = format!("lines[{index}].listing_id");
        let loaded = state.listings.load(&line.listing_id.to_string()).await?;
        let Some(listing) = loaded.aggregate.state() else {
            unsellable.push(FieldError::new(
                field,
                format!("no listing {}", line.listing_id),
            ));
            continue;
        };
        if listing.status != ListingStatus::Published {
            unsellable.push(FieldError::new(
                field,
                format!("the listing is {}", listing.status.as_str()),
            ));
            continue;
        }
        if listing.available < quantity {
            unsellable.push(FieldError::new(
                field,
                format!("only {} available, {quantity} requested", listing.available),
            ));
            continue;
        }
        by_vendor
            .entry(listing.vendor_id)
            .or_default()
            .push(OrderLine {
                listing_id: line.listing_id,
                quantity,
                unit_price: listing.price,
            });
    }
    if !unsellable.is_empty() {
        return Err(ApiError::LinesRejected(unsellable));
    }

    let checkout_id = match headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(key) => Uuid::new_v5(
            &CHECKOUT_NAMESPACE,
            format!("{}\n{key}", ctx.actor.id).as_bytes(),
        ),
        None => Uuid::now_v7(),
    };
    let mut metadata = ctx.metadata.clone();
    metadata.correlation_id = checkout_id.to_string();
    let metadata = metadata.to_map();
    let mut placed = Vec::new();
    for (vendor_id, lines) in by_vendor {
        let order_id = Uuid::new_v5(&checkout_id, vendor_id.as_bytes());
        let command = OrderCommand::Place {
            order_id,
            checkout_id,
            actor: ctx.actor.clone(),
            shopper_id: ctx.actor.id.clone(),
            vendor_id,
            lines: lines.clone(),
            shipping_address: address.clone(),
        };
        match state
            .orders
            .execute(&order_id.to_string(), command, &metadata)
            .await
        {
            Ok(_) => {}
            // Placed by an earlier attempt of this same checkout.
            Err(otop_projections::StoreError::Domain(
                otop_domain::DomainError::AlreadyExists { .. },
            )) => {}
            Err(other) => return Err(other.into()),
        }
        placed.push((order_id, vendor_id, lines));
    }
    tracing::info!(checkout_id = %checkout_id, orders = placed.len(), "checkout placed");

    // Wait, bounded, for the process manager's verdict on every order: it decides an order
    // while handling its OrderPlaced event, so once its checkpoint has passed the last of
    // them every order is decided. Polling one checkpoint row keeps the wait cheap.
    let mut last_placed = None;
    for (order_id, _, _) in &placed {
        let position =
            otop_projections::log::last_position_of(&state.pool, "Order", &order_id.to_string())
                .await?;
        if let Some(cursor) = otop_projections::log::cursor_of(&state.pool, position).await? {
            last_placed = last_placed.max(Some(cursor));
        }
    }
    let deadline = Instant::now() + state.config.checkout_wait;
    let mut pause = Duration::from_millis(2);
    while Instant::now() < deadline {
        let decided = match last_placed {
            Some(target) => otop_projections::checkpoint::read(
                &state.pool,
                otop_projections::process_manager::CHECKOUT_PROCESS,
            )
            .await?
            .is_some_and(|cursor| cursor >= target),
            None => true,
        };
        if decided {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    let mut orders = Vec::with_capacity(placed.len());
    let mut position = 0;
    for (order_id, _, _) in &placed {
        let loaded = state.orders.load(&order_id.to_string()).await?;
        let order = loaded
            .aggregate
            .0
            .ok_or_else(|| ApiError::Internal(format!("order {order_id} vanished")))?;
        orders.push(order);
    }
    let rejected: Vec<_> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Rejected)
        .collect();
    let requested = &requested;
    let failed_lines: Vec<FieldError> = rejected
        .iter()
        .filter_map(|order| order.status_reason.as_ref().map(|reason| (order, reason)))
        .flat_map(|(order, reason)| {
            order.lines.iter().filter_map(move |line| {
                let index = requested.iter().position(|id| *id == line.listing_id)?;
                reason
                    .contains(&line.listing_id.to_string())
                    .then(|| FieldError::new(format!("lines[{index}].listing_id"), reason.clone()))
            })
        })
        .collect();
    if !failed_lines.is_empty() {
        return Err(ApiError::LinesRejected(failed_lines));
    }
    let settled = orders.iter().all(|o| o.status != OrderStatus::Pending);
    if !rejected.is_empty() {
        // Turned down because a sibling failed; the failing line is on the sibling.
        return Err(ApiError::Conflict(
            "the checkout could not be reserved".into(),
        ));
    }
    for (order_id, _, _) in &placed {
        position = position.max(
            otop_projections::log::last_position_of(&state.pool, "Order", &order_id.to_string())
                .await?,
        );
    }
    let status = if settled {
        "awaiting_payment"
    } else {
        "pending"
    };
    let orders = orders
        .iter()
        .map(|order| CheckoutOrder {
            id: order.id,
            vendor_id: order.vendor_id,
            status: order.status.as_str().to_string(),
            total_satang: order.total.get(),
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(CheckoutReply {
            checkout_id,
            position,
            status: status.to_string(),
            orders,
        }),
    ))
}
