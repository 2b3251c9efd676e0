//! The read models: plain Postgres tables kept by projections. Each row also keeps the
//! aggregate's state (`state` column) so that a projection applies events with the domain's
//! own `apply`, and never interprets an event differently from the write side.

pub mod catalog;
mod kind;
pub mod ledger;
pub mod orders;
pub mod sales;

pub use kind::ProjectionKind;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

use crate::log::RecordedEvent;
use crate::projection::ProjectionError;

/// When the event was recorded, from its metadata. Events always carry it; a row written by
/// hand without it sorts as the epoch rather than stopping the projection.
pub(crate) fn recorded_at(event: &RecordedEvent) -> DateTime<Utc> {
    event
        .metadata
        .get(otop_domain::metadata::RECORDED_AT)
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// The event's payload as the domain's type, read straight from the parsed JSON (no copy of
/// it first: every projection decodes every event it applies, so a rebuild of four decodes
/// each event four times).
pub fn decode<T: DeserializeOwned>(event: &RecordedEvent) -> Result<T, ProjectionError> {
    T::deserialize(&event.payload)
        .map_err(|error| ProjectionError::bad_event(event, format!("payload: {error}")))
}

pub fn aggregate_uuid(event: &RecordedEvent) -> Result<uuid::Uuid, ProjectionError> {
    event
        .aggregate_id
        .parse()
        .map_err(|_| ProjectionError::bad_event(event, "aggregate id is not a UUID"))
}

/// The ids of the `aggregate_type` streams that open in `events` (their first event is in
/// the batch). A read model holds no row of such a stream yet, and the batch holds every
/// event of it, so its row need not be read: in a live checkout's batch that is every order,
/// and in a rebuild most of them.
pub(crate) fn opened_in(
    events: &[RecordedEvent],
    aggregate_type: &str,
) -> std::collections::HashSet<uuid::Uuid> {
    events
        .iter()
        .filter(|e| e.aggregate_type == aggregate_type && e.sequence == 1)
        .filter_map(|e| e.aggregate_id.parse().ok())
        .collect()
}

/// The rows `sql` selects for `ids` (bound as `$1`, a `uuid[]`), and no statement at all
/// when there are none: in a live batch most lookups are empty (every order of a checkout
/// opens in it), and a round trip for nothing is most of what such a batch would cost.
pub(crate) async fn fetch_by_ids<T>(
    conn: &mut PgConnection,
    sql: &str,
    ids: &[uuid::Uuid],
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(sql).bind(ids).fetch_all(conn).await
}

/// Writes `rows` (JSON objects keyed by column name) into `table` in one statement,
/// replacing the rows whose `key` already exists.
pub(crate) async fn upsert_rows(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    rows: Vec<Value>,
) -> Result<(), sqlx::Error> {
    upsert(conn, table, key, columns, &[], &[], &rows).await
}

/// [`upsert_rows`], but a row that exists keeps its values of `kept` (a new row takes them
/// from `rows`).
pub(crate) async fn upsert_rows_keeping(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    kept: &[&str],
    rows: Vec<Value>,
) -> Result<(), sqlx::Error> {
    upsert(conn, table, key, columns, kept, &[], &rows).await
}

/// [`upsert_rows`] of rows serialised straight from a typed row, where a row that exists
/// keeps its value of a `filled` column wherever the new row has none (`null`): a batch
/// writes what it saw, and never reads the row back for the rest.
pub(crate) async fn upsert_rows_filling<T: Serialize>(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    filled: &[&str],
    rows: &[T],
) -> Result<(), sqlx::Error> {
    upsert(conn, table, key, columns, &[], filled, rows).await
}

async fn upsert<T: Serialize>(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    kept: &[&str],
    filled: &[&str],
    rows: &[T],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let column_list = columns.join(", ");
    let updates = columns
        .iter()
        .filter(|column| **column != key && !kept.contains(column))
        .map(|column| match filled.contains(column) {
            true => format!("{column} = coalesce(EXCLUDED.{column}, {table}.{column})"),
            false => format!("{column} = EXCLUDED.{column}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {table} ({column_list})
         SELECT {column_list} FROM jsonb_populate_recordset(NULL::{table}, $1)
         ON CONFLICT ({key}) DO UPDATE SET {updates}"
    );
    sqlx::query(&sql)
        .bind(sqlx::types::Json(rows))
        .execute(conn)
        .await?;
    Ok(())
}

/// Loads the `state` column of the rows whose `key` is in `ids`.
pub(crate) async fn load_states<A: DeserializeOwned>(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    ids: &[uuid::Uuid],
) -> Result<Vec<(uuid::Uuid, A, Value)>, ProjectionError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    /// A row as stored: its key, its aggregate's state, and its other columns as JSON.
    #[derive(sqlx::FromRow)]
    struct StoredRow {
        id: uuid::Uuid,
        state: Value,
        columns: Value,
    }
    let rows: Vec<StoredRow> = sqlx::query_as(&format!(
        "SELECT {key} AS id, state, to_jsonb(t) - 'state' AS columns
           FROM {table} t WHERE {key} = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|StoredRow { id, state, columns }| {
            stored_state(table, id, &state).map(|aggregate| (id, aggregate, columns))
        })
        .collect()
}

/// The aggregate's state as a read model's row keeps it (its `state` column).
pub(crate) fn stored_state<A: DeserializeOwned>(
    table: &str,
    id: uuid::Uuid,
    state: &Value,
) -> Result<A, ProjectionError> {
    A::deserialize(state).map_err(|error| ProjectionError::BadEvent {
        position: 0,
        event_type: String::new(),
        message: format!("stored state of {id} in {table} is unreadable: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(aggregate_type: &str, aggregate_id: &str, sequence: i64) -> RecordedEvent {
        RecordedEvent {
            position: sequence,
            transaction_id: 1,
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            sequence,
            event_type: "E".into(),
            event_version: "1".into(),
            payload: Value::Null,
            metadata: Value::Null,
        }
    }

    #[test]
    fn only_streams_whose_first_event_is_in_the_batch_are_opened_in_it() {
        let [new, old, listing] = [
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        ];
        let events = [
            event("Order", &new.to_string(), 1),
            event("Order", &new.to_string(), 2),
            event("Order", &old.to_string(), 7),
            event("Listing", &listing.to_string(), 1),
        ];
        let opened = opened_in(&events, "Order");
        assert!(opened.contains(&new));
        assert!(!opened.contains(&old), "an order placed before the batch");
        assert!(!opened.contains(&listing), "another aggregate type");
        assert_eq!(opened.len(), 1);
    }
}
