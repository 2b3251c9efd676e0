//! The audit, for auditors (and admins), as `/v1/audit` and the `/audit` pages both run it.
//! Everything here is read from the event log itself,
//! never from a read model: an order's full history with the state after each event and the
//! stock events it caused, the order as it stood at any instant, and the check of the
//! tamper-evident hash chains.

use chrono::{DateTime, Utc};
use otop_domain::metadata as meta;
use otop_domain::order::{OrderEvent, OrderState};
use otop_domain::{Actor, Order, Role};
use otop_projections::audit::{self, AuditedEvent};
use otop_projections::seal::{self, Seal, SealReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::require_role;
use crate::csv::{opt, CsvWriter};
use crate::error::AppError;
use crate::state::AppState;

pub const AUDIT_ROLES: &[Role] = &[Role::Auditor, Role::Admin];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditActor {
    pub id: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditOrderLine {
    pub listing_id: Uuid,
    pub quantity: u32,
    pub unit_price_satang: u64,
}

/// The Order aggregate's state, as the domain's own `apply` leaves it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditOrderState {
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub shopper_id: String,
    pub vendor_id: Uuid,
    pub status: String,
    pub total_satang: u64,
    pub paid_satang: u64,
    pub refunded_satang: u64,
    pub payment_reference: Option<String>,
    pub lines: Vec<AuditOrderLine>,
    #[schema(value_type = Object)]
    pub shipping_address: Value,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status_reason: Option<String>,
}

impl From<&OrderState> for AuditOrderState {
    fn from(state: &OrderState) -> Self {
        AuditOrderState {
            id: state.id,
            checkout_id: state.checkout_id,
            shopper_id: state.shopper_id.clone(),
            vendor_id: state.vendor_id,
            status: state.status.as_str().to_string(),
            total_satang: state.total.get(),
            paid_satang: state.paid_satang,
            refunded_satang: state.refunded_satang,
            payment_reference: state.payment_reference.clone(),
            lines: state
                .lines
                .iter()
                .map(|line| AuditOrderLine {
                    listing_id: line.listing_id,
                    quantity: line.quantity,
                    unit_price_satang: line.unit_price.get(),
                })
                .collect(),
            shipping_address: serde_json::to_value(&state.shipping_address).unwrap_or(Value::Null),
            carrier: state.carrier.clone(),
            tracking_number: state.tracking_number.clone(),
            status_reason: state.status_reason.clone(),
        }
    }
}

/// One event of the log as an auditor reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEvent {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The event's global log position.
    pub position: i64,
    /// Its sequence within its aggregate (from 1).
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// When it was recorded (RFC 3339, UTC), from its metadata.
    pub recorded_at: Option<String>,
    pub actor: AuditActor,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// SHA-256 of `prev_hash` and the event's canonical form, lower-case hex.
    pub hash: String,
    /// The hash of the aggregate's previous event (64 zeros for its first).
    pub prev_hash: String,
    /// The order's state after this event, replayed from the log with the domain's own
    /// `apply`; null for the listings' stock events (and for a payload that no longer reads
    /// as an order event).
    pub state_after: Option<AuditOrderState>,
}

fn metadata_text(event: &AuditedEvent, key: &str) -> Option<String> {
    event
        .metadata
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl HistoryEvent {
    fn new(event: &AuditedEvent, state_after: Option<AuditOrderState>) -> Self {
        HistoryEvent {
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            position: event.position,
            sequence: event.sequence,
            event_type: event.event_type.clone(),
            event_version: event.event_version.clone(),
            recorded_at: metadata_text(event, meta::RECORDED_AT),
            actor: AuditActor {
                id: metadata_text(event, meta::ACTOR_ID),
                role: metadata_text(event, meta::ACTOR_ROLE),
            },
            request_id: metadata_text(event, meta::REQUEST_ID),
            correlation_id: metadata_text(event, meta::CORRELATION_ID),
            causation_id: metadata_text(event, meta::CAUSATION_ID),
            payload: event.payload.clone(),
            hash: hex::encode(&event.hash),
            prev_hash: hex::encode(&event.prev_hash),
            state_after,
        }
    }
}

/// An order's history: its events and the stock events it caused on listings, in log order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderHistory {
    pub order_id: Uuid,
    pub events: Vec<HistoryEvent>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditReadQuery {
    /// Accepted as on every query; the audit reads the log itself, never a read model.
    pub min_position: Option<i64>,
}

fn check_min_position(min_position: Option<i64>) -> Result<(), AppError> {
    match min_position {
        Some(position) if position < 0 => Err(AppError::invalid(
            "min_position",
            "must be a log position (0 or more)",
        )),
        _ => Ok(()),
    }
}

/// Every event of an order in order, with its metadata, hashes and the order's state after
/// it, plus the stock events (reserved, released, committed) the order caused on listings,
/// all in log order. `Accept: text/csv` gives CSV (JSON columns as JSON text).
pub async fn order_history(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    query: &AuditReadQuery,
) -> Result<OrderHistory, AppError> {
    require_role(actor, AUDIT_ROLES, "the audit history")?;
    check_min_position(query.min_position)?;
    let order_id = id.to_string();
    // One snapshot for both reads.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let order_events = audit::aggregate_events(&mut *tx, "Order", &order_id).await?;
    if order_events.is_empty() {
        return Err(AppError::NotFound("no such order".into()));
    }
    let stock_events = audit::stock_events_of_order(&mut *tx, &order_id).await?;
    tx.commit().await?;

    let mut order = Order::default();
    let mut own = Vec::with_capacity(order_events.len());
    for event in &order_events {
        let state_after = match serde_json::from_value::<OrderEvent>(event.payload.clone()) {
            Ok(payload) => {
                cqrs_es::Aggregate::apply(&mut order, payload);
                order.state().map(AuditOrderState::from)
            }
            Err(_) => None,
        };
        own.push((event, HistoryEvent::new(event, state_after)));
    }
    // Merge the two lists in log order, each keeping its own order.
    let mut events = Vec::with_capacity(own.len() + stock_events.len());
    let mut own = own.into_iter().peekable();
    let mut stock = stock_events.iter().peekable();
    loop {
        let take_own = match (own.peek(), stock.peek()) {
            (Some((a, _)), Some(b)) => {
                (a.transaction_id, a.position) <= (b.transaction_id, b.position)
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_own {
            if let Some((_, item)) = own.next() {
                events.push(item);
            }
        } else if let Some(event) = stock.next() {
            events.push(HistoryEvent::new(event, None));
        }
    }

    Ok(OrderHistory {
        order_id: id,
        events,
    })
}

/// An order's history as CSV: a row per event, JSON columns as JSON text.
pub fn history_csv(history: &OrderHistory) -> CsvWriter {
    let events = &history.events;
    let mut csv = CsvWriter::new([
        "aggregate_type",
        "aggregate_id",
        "position",
        "sequence",
        "event_type",
        "event_version",
        "recorded_at",
        "actor_id",
        "actor_role",
        "request_id",
        "correlation_id",
        "causation_id",
        "payload",
        "hash",
        "prev_hash",
        "state_after",
    ]);
    for event in events {
        csv.row([
            event.aggregate_type.clone(),
            event.aggregate_id.clone(),
            event.position.to_string(),
            event.sequence.to_string(),
            event.event_type.clone(),
            event.event_version.clone(),
            opt(&event.recorded_at),
            opt(&event.actor.id),
            opt(&event.actor.role),
            opt(&event.request_id),
            opt(&event.correlation_id),
            opt(&event.causation_id),
            event.payload.to_string(),
            event.hash.clone(),
            event.prev_hash.clone(),
            event
                .state_after
                .as_ref()
                .and_then(|s| serde_json::to_string(s).ok())
                .unwrap_or_default(),
        ]);
    }
    csv
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AsOfQuery {
    /// The instant (RFC 3339, e.g. `2026-01-31T10:00:00Z`); now when left out.
    pub at: Option<String>,
    /// Accepted as on every query; the audit reads the log itself, never a read model.
    pub min_position: Option<i64>,
}

/// An order exactly as it stood at an instant, replayed from the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderAsOf {
    /// The instant asked about (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// The last event applied: its sequence, log position and recording time.
    pub as_of_sequence: i64,
    pub as_of_position: i64,
    pub as_of_recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub order: AuditOrderState,
}

fn event_time(event: &AuditedEvent) -> Result<DateTime<Utc>, AppError> {
    metadata_text(event, meta::RECORDED_AT)
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|time| time.with_timezone(&Utc))
        .ok_or_else(|| {
            AppError::Internal(format!(
                "event {} of order {} has no readable recorded_at",
                event.sequence, event.aggregate_id
            ))
        })
}

/// The order as it stood at `at`: the events recorded at or before that instant (in
/// sequence order, up to the first one recorded later), replayed with the domain's `apply`.
/// 404 for an unknown order, and for an instant before the order was placed.
pub async fn order_as_of(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    query: &AsOfQuery,
) -> Result<OrderAsOf, AppError> {
    require_role(actor, AUDIT_ROLES, "the audit of an order")?;
    let mut errors = Vec::new();
    let at = match query.at.as_deref() {
        None => Some(Utc::now()),
        Some(text) => {
            match DateTime::parse_from_rfc3339(text.trim()) {
                Ok(time) => Some(time.with_timezone(&Utc)),
                Err(error) => {
                    errors.push(otop_domain::FieldError::new(
                    "at",
                    format!("{text:?} is not an RFC 3339 instant like 2026-01-31T10:00:00Z: {error}"),
                ));
                    None
                }
            }
        }
    };
    if query.min_position.is_some_and(|p| p < 0) {
        errors.push(otop_domain::FieldError::new(
            "min_position",
            "must be a log position (0 or more)",
        ));
    }
    let Some(at) = at.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let events = audit::aggregate_events(&state.pool, "Order", &id.to_string()).await?;
    let Some(first) = events.first() else {
        return Err(AppError::NotFound("no such order".into()));
    };
    let mut order = Order::default();
    let mut last: Option<(&AuditedEvent, DateTime<Utc>)> = None;
    for event in &events {
        let recorded = event_time(event)?;
        if recorded > at {
            break;
        }
        let payload: OrderEvent = serde_json::from_value(event.payload.clone()).map_err(|e| {
            AppError::Internal(format!(
                "event {} of order {id} does not read as an order event: {e}",
                event.sequence
            ))
        })?;
        cqrs_es::Aggregate::apply(&mut order, payload);
        last = Some((event, recorded));
    }
    let (Some((last, recorded)), Some(order_state)) = (last, order.state()) else {
        let placed = event_time(first)?;
        return Err(AppError::NotFound(format!(
            "order {id} did not exist yet at {}: it was placed at {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            placed.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )));
    };
    Ok(OrderAsOf {
        at,
        as_of_sequence: last.sequence,
        as_of_position: last.position,
        as_of_recorded_at: recorded,
        order: AuditOrderState::from(order_state),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyProblem {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    /// `altered`, `removed`, `inserted` or `reordered`.
    pub kind: String,
}

/// The check of every hash chain in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReply {
    pub events_checked: u64,
    pub aggregates_checked: u64,
    /// Each event that fails its check; `[]` for an intact log.
    pub problems: Vec<VerifyProblem>,
    /// More problems were found than listed.
    pub problems_truncated: bool,
    /// SHA-256 over every chain head (`type \t id \t sequence \t hash \n`, in byte order): the
    /// value `otop verify --print-heads` prints for publishing.
    pub heads_digest: String,
    /// The check of the log against every stored seal; null when this server does not seal.
    pub seals: Option<SealsCheck>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SealProblemReply {
    /// The position of the seal that fails.
    pub position: i64,
    /// `bad_signature` (the seal does not verify with the public key) or `digest_mismatch`
    /// (the log up to the seal's position no longer has the signed Merkle root).
    pub kind: String,
    pub detail: String,
}

/// The log recomputed up to each stored seal's position, and each seal's signature.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealsCheck {
    pub seals_checked: u64,
    /// `[]` when every seal holds.
    pub seal_problems: Vec<SealProblemReply>,
    pub latest_sealed_position: Option<i64>,
}

impl From<SealReport> for SealsCheck {
    fn from(report: SealReport) -> Self {
        SealsCheck {
            seals_checked: report.seals_checked,
            seal_problems: report
                .seal_problems
                .into_iter()
                .map(|p| SealProblemReply {
                    position: p.position,
                    kind: p.kind.as_str().to_string(),
                    detail: p.detail,
                })
                .collect(),
            latest_sealed_position: report.latest_sealed_position,
        }
    }
}

/// Walks every aggregate's hash chain and names each altered, removed, inserted or reordered
/// event by aggregate and sequence; then checks the log against every stored seal (`seals`),
/// which also catches an aggregate erased whole and a chain re-hashed consistently.
pub async fn verify_log(state: &AppState, actor: &Actor) -> Result<VerifyReply, AppError> {
    require_role(actor, AUDIT_ROLES, "verifying the log")?;
    let _permit = crate::limits::try_verify(&state.verify_gate)?;
    let report = audit::verify(&state.pool).await?;
    let seals = match &state.seals {
        Some(sealing) => Some(
            seal::check_stored_seals(&state.pool, &sealing.key.public())
                .await?
                .into(),
        ),
        None => None,
    };
    Ok(VerifyReply {
        events_checked: report.events_checked,
        aggregates_checked: report.aggregates_checked,
        problems: report
            .problems
            .into_iter()
            .map(|p| VerifyProblem {
                aggregate_type: p.aggregate_type,
                aggregate_id: p.aggregate_id,
                sequence: p.sequence,
                kind: p.kind.as_str().to_string(),
            })
            .collect(),
        problems_truncated: report.problems_truncated,
        heads_digest: report.heads_digest,
        seals,
    })
}

/// The seal with the highest position: `None` before the first seal; a 404 when this server
/// does not seal the log.
pub async fn latest_seal(state: &AppState, actor: &Actor) -> Result<Option<Seal>, AppError> {
    require_role(actor, AUDIT_ROLES, "the log's seals")?;
    if state.seals.is_none() {
        return Err(AppError::NotFound(
            "this server does not seal the log (OTOP_SEAL_KEY_FILE is unset)".into(),
        ));
    }
    Ok(seal::latest_seal(&state.pool).await?)
}
