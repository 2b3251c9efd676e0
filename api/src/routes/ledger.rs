//! `GET /v1/vendors/{id}/balance`: a vendor's payout ledger (projection `ledger`), for the
//! vendor itself and admins, run by `otop_app::ledger` (the vendor console reads it there too).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::csv::{csv_response, wants_csv};
use crate::auth::SignedIn;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
pub use otop_app::ledger::{
    BalanceQuery, LedgerLineView, VendorBalance, DEFAULT_LINES_PER_PAGE, MAX_LINES_PER_PAGE,
};
use otop_app::state::AppState;

pub const TAG: &str = "vendors";

/// A vendor's payout ledger: credits on payment net of commission, debits on refund (the
/// vendor itself, or an admin). `Accept: text/csv` gives every line as CSV.
#[utoipa::path(get, path = "/v1/vendors/{id}/balance", tag = TAG, params(("id" = Uuid, Path), BalanceQuery),
    responses(
        (status = 200, content((VendorBalance = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn vendor_balance(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    SignedIn(actor): SignedIn,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<BalanceQuery>,
) -> Result<Response, ApiError> {
    if wants_csv(&headers) {
        let whole = otop_app::ledger::whole_balance(&state, &actor, id, query.min_position).await?;
        return Ok(csv_response(
            otop_app::ledger::balance_csv(&whole),
            "balance.csv",
        ));
    }
    let balance = otop_app::ledger::balance(&state, &actor, id, &query).await?;
    Ok(Json(balance).into_response())
}
