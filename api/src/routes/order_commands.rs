//! `/v1/orders/{id}/...` commands after checkout: the vendor accepts, packs and ships, the
//! shopper or the vendor marks delivery, and cancellations and refunds. Who may do what, and
//! when, is the Order aggregate's decision (domain/src/order.rs); this module parses the bodies
//! and runs one command.

use axum::extract::State;
use axum::Json;
use otop_domain::values::{parse_text, Satang, REASON_MAX_CHARS};
use otop_domain::{OrderCommand, Validator};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CommandReply, ReasonRequest};
use crate::extract::{ApiJson, CommandContext, IdPath};
use crate::problem::{ApiError, Problem};
use otop_app::state::AppState;

pub const TAG: &str = "orders";

use otop_app::orders::FulfilmentStep;
pub use otop_app::orders::SHIPPING_TEXT_MAX_CHARS;

async fn fulfil(
    state: &AppState,
    order_id: Uuid,
    ctx: &CommandContext,
    step: FulfilmentStep,
) -> Result<Json<CommandReply>, ApiError> {
    otop_app::orders::fulfil(state, &ctx.actor, &ctx.metadata_map(), order_id, step)
        .await
        .map(Json)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    /// Who carries the parcel (Thailand Post, Kerry, Flash, ...), 1 to 100 characters.
    pub carrier: String,
    /// The carrier's tracking number, 1 to 100 characters.
    pub tracking_number: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// What goes back to the shopper, in satang: at most what was paid and not yet refunded.
    pub amount_satang: i64,
    pub reason: String,
}

/// Runs one command on an order and replies with the order's status after it.
pub(crate) async fn run(
    state: &AppState,
    order_id: Uuid,
    command: OrderCommand,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<CommandReply, ApiError> {
    super::execute(&state.orders, order_id, command, metadata)
        .await
        .map_err(ApiError::from)
}

async fn run_as(
    state: &AppState,
    order_id: Uuid,
    command: OrderCommand,
    ctx: &CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    run(state, order_id, command, &ctx.metadata_map())
        .await
        .map(Json)
}

/// Accept a paid order (its vendor).
#[utoipa::path(post, path = "/v1/orders/{id}/accept", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn accept_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    fulfil(&state, id, &ctx, FulfilmentStep::Accept).await
}

/// Mark an accepted order packed (its vendor).
#[utoipa::path(post, path = "/v1/orders/{id}/pack", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn pack_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    fulfil(&state, id, &ctx, FulfilmentStep::Pack).await
}

/// Hand a packed order to a carrier (its vendor).
#[utoipa::path(post, path = "/v1/orders/{id}/ship", tag = TAG, params(("id" = Uuid, Path)), request_body = ShipRequest,
    responses((status = 200, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn ship_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ShipRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let step = FulfilmentStep::Ship {
        carrier: body.carrier,
        tracking_number: body.tracking_number,
    };
    fulfil(&state, id, &ctx, step).await
}

/// Mark a shipped order delivered (its shopper or its vendor).
#[utoipa::path(post, path = "/v1/orders/{id}/deliver", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn deliver_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    let command = OrderCommand::Deliver {
        actor: ctx.actor.clone(),
    };
    run_as(&state, id, command, &ctx).await
}

/// Cancel an order: its shopper until the vendor accepts, its vendor until it ships, or an
/// admin. What was paid goes back to the shopper and the reserved stock is released.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = TAG, params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn cancel_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let reply =
        otop_app::orders::cancel_order(&state, &ctx.actor, &ctx.metadata_map(), id, &body.reason)
            .await?;
    Ok(Json(reply))
}

/// Refund part or all of a paid order (its vendor or an admin). A full refund before
/// shipping is a cancellation instead (409).
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = TAG, params(("id" = Uuid, Path)), request_body = RefundRequest,
    responses((status = 200, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn refund_order(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<RefundRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let mut v = Validator::new();
    let amount = v.check(Satang::parse("amount_satang", body.amount_satang));
    let reason = v.check(parse_text("reason", &body.reason, REASON_MAX_CHARS));
    let (amount, reason) = v.finish_with((amount, reason))?;
    let command = OrderCommand::Refund {
        actor: ctx.actor.clone(),
        amount,
        reason,
    };
    run_as(&state, id, command, &ctx).await
}
