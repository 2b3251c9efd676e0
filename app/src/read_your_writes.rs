//! `?min_position=N` on every query (DESIGN.md decision 4): wait, bounded, until the read
//! model the query reads has applied the event at log position N, the position a command's
//! reply carried. Not reached in time: 503 with `Retry-After`, never a stale answer.

use std::time::Duration;

use otop_projections::wait::{self, Patience};
use otop_projections::{checkpoint, log, ProjectionKind};

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
        let reached = checkpoint::read(&state.pool, name)
            .await?
            .is_some_and(|cursor| match target_cursor {
                Some(target_cursor) => cursor >= target_cursor,
                None => cursor.position >= target,
            });
        Ok::<_, sqlx::Error>(reached.then_some(()))
    })
    .await?;
    reached.ok_or_else(|| {
        AppError::Unavailable(format!(
            "the {name} read model has not reached position {target} yet; retry shortly"
        ))
    })
}
