//! `GET /v1/vendors/{id}/balance`: a vendor's payout ledger (projection `ledger`), for the
//! vendor itself and admins.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::SignedIn;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
use otop_app::read_your_writes::wait_for;
use otop_app::state::AppState;

pub const TAG: &str = "vendors";

/// One line of the ledger: a payment credited or a refund debited, net of commission.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct LedgerLineView {
    /// The log position of the event the line records (unique; a line's key).
    pub position: i64,
    pub order_id: Uuid,
    /// `credit` (a payment) or `debit` (a refund, or a cancellation that gave money back).
    pub kind: String,
    /// What the shopper paid, or got back.
    pub gross_satang: i64,
    /// The platform's share of the gross, rounded down.
    pub commission_satang: i64,
    /// The commission rate recorded with the order's payment, in basis points.
    pub commission_bps: i32,
    /// The vendor's share, signed: positive for a credit, negative for a debit.
    pub amount_satang: i64,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorBalance {
    pub vendor_id: Uuid,
    /// What the platform owes the vendor: the sum of every line's `amount_satang`.
    pub balance_satang: i64,
    /// The sum of the credit lines.
    pub credits_satang: i64,
    /// The sum of the debit lines, as a positive number: `balance = credits - debits`.
    pub debits_satang: i64,
    /// How many lines the ledger holds in all.
    pub lines_total: i64,
    /// One page of lines, newest first (`per_page` of them, from `after`).
    pub lines: Vec<LedgerLineView>,
    /// The `after` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// Lines per page of the balance, by default and at most.
pub const DEFAULT_LINES_PER_PAGE: i64 = 100;
pub const MAX_LINES_PER_PAGE: i64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BalanceQuery {
    /// Wait until the ledger has applied the event at this log position.
    pub min_position: Option<i64>,
    /// Lines per page, 1 to 500 (default 100).
    pub per_page: Option<i64>,
    /// Only lines older than this log position: the `next_after` of the page before.
    pub after: Option<i64>,
}

/// A vendor's payout ledger: credits on payment net of commission, debits on refund (the
/// vendor itself, or an admin).
#[utoipa::path(get, path = "/v1/vendors/{id}/balance", tag = TAG, params(("id" = Uuid, Path), BalanceQuery),
    responses((status = 200, body = VendorBalance), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn vendor_balance(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    SignedIn(actor): SignedIn,
    ApiQuery(query): ApiQuery<BalanceQuery>,
) -> Result<Json<VendorBalance>, ApiError> {
    if !actor.is_admin() && !actor.speaks_for_vendor(id) {
        return Err(ApiError::Forbidden(
            "only the vendor itself or an admin can read its balance".into(),
        ));
    }
    // The log, not a read model, says whether the vendor exists: a vendor approved a moment
    // ago is known here before any projection has caught up.
    let vendor = state.vendors.load(&id.to_string()).await?;
    if vendor.aggregate.state().is_none() {
        return Err(ApiError::NotFound("no such vendor".into()));
    }
    let per_page = query.per_page.unwrap_or(DEFAULT_LINES_PER_PAGE);
    if !(1..=MAX_LINES_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid(
            "per_page",
            format!("must be from 1 to {MAX_LINES_PER_PAGE}"),
        ));
    }
    wait_for(&state, ProjectionKind::Ledger, query.min_position).await?;

    // One snapshot for the sums and the lines: a batch committing in between cannot make the
    // balance disagree with the lines shown.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (balance_satang, credits_satang, debits_satang, lines_total): (i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT coalesce(sum(amount_satang), 0)::bigint,
                coalesce(sum(amount_satang) FILTER (WHERE kind = 'credit'), 0)::bigint,
                coalesce(-sum(amount_satang) FILTER (WHERE kind = 'debit'), 0)::bigint,
                count(*)
           FROM vendor_ledger_lines WHERE vendor_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let lines: Vec<LedgerLineView> = sqlx::query_as(
        "SELECT position, order_id, kind, gross_satang, commission_satang, commission_bps,
                amount_satang, recorded_at
           FROM vendor_ledger_lines
          WHERE vendor_id = $1 AND ($2::bigint IS NULL OR position < $2)
          ORDER BY position DESC
          LIMIT $3",
    )
    .bind(id)
    .bind(query.after)
    .bind(per_page + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut lines = lines;
    let next_after = if lines.len() as i64 > per_page {
        lines.truncate(per_page as usize);
        lines.last().map(|line| line.position)
    } else {
        None
    };
    Ok(Json(VendorBalance {
        vendor_id: id,
        balance_satang,
        credits_satang,
        debits_satang,
        lines_total,
        lines,
        next_after,
    }))
}
