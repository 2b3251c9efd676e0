//! Rebuilding a projection from the log while the live tables keep serving reads.
//!
//! 1. Fresh tables `<table>_rebuild` (same columns and indexes) and a checkpoint of their own.
//! 2. Replay the whole log into them, batch by batch, without blocking anyone.
//! 3. In one transaction: lock the live checkpoint (the live runner pauses after its current
//!    batch), apply what arrived meanwhile, swap the tables by renaming, and move the live
//!    checkpoint to where the rebuild stands. Readers wait only for the renames.

use sqlx::PgPool;

use crate::checkpoint;
use crate::log::read_after;
use crate::projection::{ProjectionError, ProjectionKind};
use crate::runner::run_batch;

pub const REBUILD_SUFFIX: &str = "_rebuild";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    pub events_applied: u64,
}

/// Rebuilds `kind`; `progress(done, total)` is called after every batch.
pub async fn rebuild(
    pool: &PgPool,
    kind: ProjectionKind,
    batch_size: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, ProjectionError> {
    let live_name = kind.name();
    let shadow_name = format!("{live_name}{REBUILD_SUFFIX}");
    let projection = kind.build_named(&shadow_name, REBUILD_SUFFIX);

    for (table, _) in kind.tables() {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}{REBUILD_SUFFIX}"))
            .execute(pool)
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE {table}{REBUILD_SUFFIX} (LIKE {table} INCLUDING ALL)"
        ))
        .execute(pool)
        .await?;
    }
    sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
        .bind(&shadow_name)
        .execute(pool)
        .await?;
    checkpoint::ensure(pool, &shadow_name).await?;
    checkpoint::ensure(pool, live_name).await?;

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let total = total as u64;
    let mut done = 0u64;
    progress(done, total);
    loop {
        let applied = run_batch(pool, projection.as_ref(), batch_size).await?;
        if applied == 0 {
            break;
        }
        done += applied as u64;
        progress(done, total.max(done));
    }

    // Fresh statistics before the tables go live: without them the planner takes the
    // freshly filled tables for empty and picks plans that sort to disk.
    for (table, _) in kind.tables() {
        sqlx::query(&format!("ANALYZE {table}{REBUILD_SUFFIX}"))
            .execute(pool)
            .await?;
    }

    let mut tx = pool.begin().await?;
    checkpoint::lock(&mut tx, live_name).await?;
    let mut cursor = checkpoint::lock(&mut tx, &shadow_name).await?;
    loop {
        let events = read_after(&mut *tx, cursor, batch_size).await?;
        let Some(last) = events.last() else { break };
        cursor = last.cursor();
        projection.apply(&mut tx, &events).await?;
        done += events.len() as u64;
    }
    for (table, _) in kind.tables() {
        sqlx::query(&format!("ALTER TABLE {table} RENAME TO {table}_replaced"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "ALTER TABLE {table}{REBUILD_SUFFIX} RENAME TO {table}"
        ))
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!("DROP TABLE {table}_replaced"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $2::text::xid8, position = $3, events_applied = $4,
                updated_at = now(), failed_position = NULL, last_error = NULL
          WHERE name = $1",
    )
    .bind(live_name)
    .bind(cursor.transaction_id.to_string())
    .bind(cursor.position)
    .bind(done as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
        .bind(&shadow_name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    progress(done, total.max(done));
    Ok(RebuildReport {
        events_applied: done,
    })
}

/// A digest of a table's rows in key order, for comparing a live read model with a rebuild.
pub async fn table_digest(pool: &PgPool, table: &str, key: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY {key})), 'empty') FROM {table} t"
    ))
    .fetch_one(pool)
    .await
}
