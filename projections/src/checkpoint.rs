//! Checkpoints: one row per projection in `projection_checkpoints`, read `FOR UPDATE` at the
//! start of every batch and written in the batch's transaction.

use sqlx::{PgConnection, PgExecutor, Row};

use crate::log::LogCursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub name: String,
    pub cursor: LogCursor,
    pub events_applied: i64,
    pub failed_position: Option<i64>,
    pub last_error: Option<String>,
}

pub async fn ensure<'e>(executor: impl PgExecutor<'e>, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(executor)
    .await?;
    Ok(())
}

/// Reads and locks the checkpoint row until the transaction ends: two runners of one
/// projection can never apply the same batch, whatever happens to the advisory lock.
pub async fn lock(conn: &mut PgConnection, name: &str) -> Result<LogCursor, sqlx::Error> {
    let row = sqlx::query(
        "SELECT transaction_id::text AS transaction_id, position
           FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    cursor_from_row(&row)
}

pub async fn advance(
    conn: &mut PgConnection,
    name: &str,
    cursor: LogCursor,
    events: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $2::text::xid8, position = $3,
                events_applied = events_applied + $4, updated_at = now(),
                failed_position = NULL, last_error = NULL
          WHERE name = $1",
    )
    .bind(name)
    .bind(cursor.transaction_id.to_string())
    .bind(cursor.position)
    .bind(events)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves the checkpoint from `from` to `to`, only if it still stands at `from` (for runners
/// that hold no lock on the row). Returns whether it moved.
pub async fn advance_from<'e>(
    executor: impl PgExecutor<'e>,
    name: &str,
    from: LogCursor,
    to: LogCursor,
    events: i64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $4::text::xid8, position = $5,
                events_applied = events_applied + $6, updated_at = now(),
                failed_position = NULL, last_error = NULL
          WHERE name = $1 AND transaction_id = $2::text::xid8 AND position = $3",
    )
    .bind(name)
    .bind(from.transaction_id.to_string())
    .bind(from.position)
    .bind(to.transaction_id.to_string())
    .bind(to.position)
    .bind(events)
    .execute(executor)
    .await?;
    Ok(moved.rows_affected() == 1)
}

pub async fn record_failure<'e>(
    executor: impl PgExecutor<'e>,
    name: &str,
    position: Option<i64>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET failed_position = $2, last_error = $3, updated_at = now()
          WHERE name = $1",
    )
    .bind(name)
    .bind(position)
    .bind(error)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn read_all<'e>(executor: impl PgExecutor<'e>) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, transaction_id::text AS transaction_id, position, events_applied,
                failed_position, last_error
           FROM projection_checkpoints ORDER BY name",
    )
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Checkpoint {
                name: row.try_get("name")?,
                cursor: cursor_from_row(row)?,
                events_applied: row.try_get("events_applied")?,
                failed_position: row.try_get("failed_position")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .collect()
}

pub async fn read<'e>(
    executor: impl PgExecutor<'e>,
    name: &str,
) -> Result<Option<LogCursor>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT transaction_id::text AS transaction_id, position FROM projection_checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(cursor_from_row).transpose()
}

fn cursor_from_row(row: &sqlx::postgres::PgRow) -> Result<LogCursor, sqlx::Error> {
    let transaction_id: String = row.try_get("transaction_id")?;
    Ok(LogCursor {
        transaction_id: transaction_id
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        position: row.try_get("position")?,
    })
}

/// Events in the log after `cursor` (how far behind a projection is), counted up to `cap`.
pub async fn lag<'e>(
    executor: impl PgExecutor<'e>,
    cursor: LogCursor,
    cap: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT 1 FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2) LIMIT $3
         ) behind",
    )
    .bind(cursor.transaction_id.to_string())
    .bind(cursor.position)
    .bind(cap)
    .fetch_one(executor)
    .await
}
