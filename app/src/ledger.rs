//! A vendor's payout ledger (projection `ledger`): its balance and its lines, for the vendor
//! itself and admins. `GET /v1/vendors/{id}/balance` and the vendor console both read it here.

use chrono::{DateTime, Utc};
use otop_domain::Actor;
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::csv::CsvWriter;
use crate::error::AppError;
use crate::read_your_writes::wait_for;
use crate::state::AppState;

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

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct BalanceQuery {
    /// Wait until the ledger has applied the event at this log position.
    pub min_position: Option<i64>,
    /// Lines per page, 1 to 500 (default 100).
    pub per_page: Option<i64>,
    /// Only lines older than this log position: the `next_after` of the page before.
    pub after: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Sums {
    balance_satang: i64,
    credits_satang: i64,
    debits_satang: i64,
    lines_total: i64,
}

/// How many lines one CSV export holds at most (a year of a busy group is far fewer).
pub const MAX_CSV_LINES: i64 = 100_000;

/// A vendor's balance and one page of its lines (the vendor itself, or an admin).
pub async fn balance(
    state: &AppState,
    actor: &Actor,
    vendor_id: Uuid,
    query: &BalanceQuery,
) -> Result<VendorBalance, AppError> {
    let per_page = query.per_page.unwrap_or(DEFAULT_LINES_PER_PAGE);
    if !(1..=MAX_LINES_PER_PAGE).contains(&per_page) {
        return Err(AppError::invalid(
            "per_page",
            format!("must be from 1 to {MAX_LINES_PER_PAGE}"),
        ));
    }
    balance_lines(state, actor, vendor_id, query, per_page).await
}

/// Every line of the balance (up to [`MAX_CSV_LINES`]), newest first, for a CSV export.
pub async fn whole_balance(
    state: &AppState,
    actor: &Actor,
    vendor_id: Uuid,
    min_position: Option<i64>,
) -> Result<VendorBalance, AppError> {
    let query = BalanceQuery {
        min_position,
        ..BalanceQuery::default()
    };
    balance_lines(state, actor, vendor_id, &query, MAX_CSV_LINES).await
}

async fn balance_lines(
    state: &AppState,
    actor: &Actor,
    vendor_id: Uuid,
    query: &BalanceQuery,
    per_page: i64,
) -> Result<VendorBalance, AppError> {
    if !actor.is_admin() && !actor.speaks_for_vendor(vendor_id) {
        return Err(AppError::Forbidden(
            "only the vendor itself or an admin can read its balance".into(),
        ));
    }
    // The log, not a read model, says whether the vendor exists: a vendor approved a moment
    // ago is known here before any projection has caught up.
    let vendor = state.vendors.load(&vendor_id.to_string()).await?;
    if vendor.aggregate.state().is_none() {
        return Err(AppError::NotFound("no such vendor".into()));
    }
    wait_for(state, ProjectionKind::Ledger, query.min_position).await?;

    // One snapshot for the sums and the lines: a batch committing in between cannot make the
    // balance disagree with the lines shown.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sums: Sums = sqlx::query_as(
        "SELECT coalesce(sum(amount_satang), 0)::bigint AS balance_satang,
                coalesce(sum(amount_satang) FILTER (WHERE kind = 'credit'), 0)::bigint
                    AS credits_satang,
                coalesce(-sum(amount_satang) FILTER (WHERE kind = 'debit'), 0)::bigint
                    AS debits_satang,
                count(*) AS lines_total
           FROM vendor_ledger_lines WHERE vendor_id = $1",
    )
    .bind(vendor_id)
    .fetch_one(&mut *tx)
    .await?;
    let mut lines: Vec<LedgerLineView> = sqlx::query_as(
        "SELECT position, order_id, kind, gross_satang, commission_satang, commission_bps,
                amount_satang, recorded_at
           FROM vendor_ledger_lines
          WHERE vendor_id = $1 AND ($2::bigint IS NULL OR position < $2)
          ORDER BY position DESC
          LIMIT $3",
    )
    .bind(vendor_id)
    .bind(query.after)
    .bind(per_page + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let next_after = if lines.len() as i64 > per_page {
        lines.truncate(per_page as usize);
        lines.last().map(|line| line.position)
    } else {
        None
    };
    Ok(VendorBalance {
        vendor_id,
        balance_satang: sums.balance_satang,
        credits_satang: sums.credits_satang,
        debits_satang: sums.debits_satang,
        lines_total: sums.lines_total,
        lines,
        next_after,
    })
}

/// The ledger lines as CSV, one row per line, newest first; money in satang, times in UTC
/// (RFC 3339), as the JSON gives them.
pub fn balance_csv(balance: &VendorBalance) -> CsvWriter {
    let mut csv = CsvWriter::new([
        "position",
        "recorded_at",
        "order_id",
        "kind",
        "gross_satang",
        "commission_bps",
        "commission_satang",
        "amount_satang",
    ]);
    for line in &balance.lines {
        csv.row([
            line.position.to_string(),
            line.recorded_at.to_rfc3339(),
            line.order_id.to_string(),
            line.kind.clone(),
            line.gross_satang.to_string(),
            line.commission_bps.to_string(),
            line.commission_satang.to_string(),
            line.amount_satang.to_string(),
        ]);
    }
    csv
}
