//! `?min_position=N` on every query (DESIGN.md decision 4): wait, bounded, until the read
//! model the query reads has applied the event at log position N, the position a command's
//! reply carried. Not reached in time: 503 with `Retry-After`, never a stale answer.

use std::time::Duration;

use otop_projections::search_feed::{parse_cursor, SEARCH_PROJECTION};
use otop_projections::wait::{self, Patience};
use otop_projections::{checkpoint, log, LogCursor, ProjectionKind};

use crate::error::AppError;
use crate::state::AppState;

pub async fn wait_for(
    state: &AppState,
    kind: ProjectionKind,
    min_position: Option<i64>,
) -> Result<(), AppError> {
    wait_for_named(state, kind.name(), min_position).await
}

/// Like `wait_for`, for a consumer known by its checkpoint name (`search`, say).
pub async fn wait_for_named(
    state: &AppState,
    name: &str,
    min_position: Option<i64>,
) -> Result<(), AppError> {
    wait_until_reached(state, name, min_position, || async {
        Ok(checkpoint::read(&state.pool, name).await?)
    })
    .await
}

/// Like `wait_for`, for the search index. An index local to this process (the embedded one)
/// is asked where it stands itself: every replica feeds its own, and the `search` row they
/// share says only how far the fastest of them got. An index the replicas share (one feeder
/// at a time) is followed by that row.
pub async fn wait_for_search(state: &AppState, min_position: Option<i64>) -> Result<(), AppError> {
    if state.search.lock_key().is_some() {
        return wait_for_named(state, SEARCH_PROJECTION, min_position).await;
    }
    wait_until_reached(state, SEARCH_PROJECTION, min_position, || async {
        let stored =
            state.search.checkpoint().await.map_err(|error| {
                AppError::Unavailable(format!("search is unavailable: {error}"))
            })?;
        Ok(stored.as_deref().and_then(parse_cursor))
    })
    .await
}

/// Waits (bounded by `min_position_wait`) until `position` (where the reader stands now)
/// reaches the event at `min_position`; `name` is the reader's, for the 503's words.
async fn wait_until_reached<F, Fut>(
    state: &AppState,
    name: &str,
    min_position: Option<i64>,
    position: F,
) -> Result<(), AppError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<LogCursor>, AppError>>,
{
    let Some(target) = min_position else {
        return Ok(());
    };
    if target < 0 {
        return Err(AppError::invalid(
            "min_position",
            "must be a log position (0 or more)",
        ));
    }
    if target == 0 {
        return Ok(());
    }
    // Positions are unique but not in commit order: the event's transaction decides where it
    // stands in the log. A position that no event has is a rolled-back insert.
    let target_cursor = log::cursor_of(&state.pool, target).await?;
    if target_cursor.is_none() && target > log::head_position(&state.pool).await? {
        return Err(AppError::invalid(
            "min_position",
            format!("no event has been written at position {target} yet"),
        ));
    }
    let patience = Patience {
        first: Duration::from_millis(2),
        longest: Duration::from_millis(25),
        within: state.config.min_position_wait,
    };
    let reached = wait::until(patience, || async {
        let reached = position().await?.is_some_and(|cursor| match target_cursor {
            Some(target_cursor) => cursor >= target_cursor,
            None => cursor.position >= target,
        });
        Ok::<_, AppError>(reached.then_some(()))
    })
    .await?;
    reached.ok_or_else(|| {
        AppError::Unavailable(format!(
            "the {name} read model has not reached position {target} yet; retry shortly"
        ))
    })
}
