//! The read side of the log: every committed event exactly once, in one global order.
//!
//! Positions come from an identity column and are handed out when a row is inserted, not when
//! its transaction commits, so a reader that follows `position` alone can pass over an event
//! whose transaction commits late and never come back for it. This reader orders the log by
//! `(transaction_id, position)` and reads only events whose transaction is older than the
//! oldest transaction still in flight (`pg_snapshot_xmin(pg_current_snapshot())`): every such
//! transaction has ended, so nothing can ever appear before the reader's cursor again.

use serde_json::Value;
use sqlx::{PgExecutor, Row};

/// Where a reader stands in the log: just after the event `(transaction_id, position)`.
/// `LogCursor::START` stands before the first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogCursor {
    pub transaction_id: u64,
    pub position: i64,
}

impl LogCursor {
    pub const START: LogCursor = LogCursor {
        transaction_id: 0,
        position: 0,
    };
}

/// One event as stored, with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: i64,
    pub transaction_id: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
}

impl RecordedEvent {
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            transaction_id: self.transaction_id,
            position: self.position,
        }
    }
}

/// Up to `limit` events after `after`, in log order, all from finished transactions.
pub async fn read_after<'e>(
    executor: impl PgExecutor<'e>,
    after: LogCursor,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let rows = sqlx::query(
        // Order by the column itself: the text alias would sort "10000" before "9999".
        "SELECT e.position, e.transaction_id::text AS transaction_id, e.aggregate_type,
                e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload, e.metadata
           FROM events e
          WHERE (e.transaction_id, e.position) > ($1::text::xid8, $2)
            AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY e.transaction_id, e.position
          LIMIT $3",
    )
    .bind(after.transaction_id.to_string())
    .bind(after.position)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    rows.iter().map(recorded_event_from_row).collect()
}

fn recorded_event_from_row(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, sqlx::Error> {
    let transaction_id: String = row.try_get("transaction_id")?;
    let transaction_id = transaction_id
        .parse::<u64>()
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        transaction_id,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
    })
}

/// The cursor of the event at `position`, if that event exists and is readable in log order
/// yet. Used to turn a command's reply position into a point a reader can be compared with.
pub async fn cursor_of<'e>(
    executor: impl PgExecutor<'e>,
    position: i64,
) -> Result<Option<LogCursor>, sqlx::Error> {
    let transaction_id: Option<String> =
        sqlx::query_scalar("SELECT transaction_id::text FROM events WHERE position = $1")
            .bind(position)
            .fetch_optional(executor)
            .await?;
    transaction_id
        .map(|text| {
            text.parse::<u64>()
                .map(|transaction_id| LogCursor {
                    transaction_id,
                    position,
                })
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))
        })
        .transpose()
}

/// The highest position written so far (committed or not yet visible to readers).
pub async fn head_position<'e>(executor: impl PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(executor)
        .await?;
    Ok(head.unwrap_or(0))
}

/// The position of an aggregate's latest event (0 when it has none).
pub async fn last_position_of<'e>(
    executor: impl PgExecutor<'e>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<i64, sqlx::Error> {
    let position: Option<i64> = sqlx::query_scalar(
        "SELECT max(position) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_one(executor)
    .await?;
    Ok(position.unwrap_or(0))
}
