//! Rebuilding projections from the log while the live tables keep serving reads.
//!
//! 1. Fresh tables `<table>_rebuild` (same columns and indexes) and a checkpoint of their own,
//!    for every projection being rebuilt.
//! 2. Read the whole log once, batch by batch, and hand every batch to each projection, which
//!    applies it to its fresh tables in a transaction of its own (its checkpoint with it). The
//!    reader runs one batch ahead of the slowest projection, and the projections apply side by
//!    side, each in a task of its own on its own connection: rebuilding four costs one read of
//!    the log, not four, and their work in this process spreads over every core.
//! 3. In one transaction: lock every live checkpoint (the live runners pause after their
//!    current batch), apply what arrived meanwhile, swap every table by renaming, and move the
//!    live checkpoints to where the rebuild stands. Readers wait only for the renames; all the
//!    projections go live together, at one position of the log.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::checkpoint;
use crate::log::{read_after, LogCursor, RecordedEvent};
use crate::projection::{Projection, ProjectionError};
use crate::read_models::ProjectionKind;

pub const REBUILD_SUFFIX: &str = "_rebuild";

/// Events per batch of a rebuild, unless the caller asks for another size. A larger batch
/// lets each projection fold more of an order's or a listing's events into one row write
/// and one statement: 5,000 rebuilt every projection 1.5-2x faster than 1,000 on the same
/// log (docs/benchmarks.md, `otop-bench read-side --rebuild-batch N`). The reader keeps
/// [`READ_AHEAD`] batches in memory beside the one being applied.
pub const BATCH_SIZE: i64 = 5_000;

/// Batches the reader may run ahead of the slowest projection.
const READ_AHEAD: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events each rebuilt projection applied (the whole log, up to the swap).
    pub events_applied: u64,
    /// Queries that read a batch of the log: one per batch for all the projections together.
    pub log_reads: u64,
}

/// Reports progress as the slowest projection finishes a batch.
struct Progress<F> {
    report: F,
    done: Vec<u64>,
    total: u64,
}

impl<F: FnMut(u64, u64)> Progress<F> {
    fn new(mut report: F, projections: usize, total: u64) -> Self {
        report(0, total);
        Progress {
            report,
            done: vec![0; projections],
            total,
        }
    }

    fn applied(&mut self, projection: usize, events: u64) {
        let before = self.slowest();
        if let Some(done) = self.done.get_mut(projection) {
            *done += events;
        }
        let after = self.slowest();
        if after > before {
            (self.report)(after, self.total.max(after));
        }
    }

    fn slowest(&self) -> u64 {
        self.done.iter().copied().min().unwrap_or_default()
    }

    fn finish(&mut self, done: u64) {
        (self.report)(done, self.total.max(done));
    }
}

/// One projection being rebuilt into its shadow tables.
#[derive(Clone)]
struct Shadow {
    kind: ProjectionKind,
    name: String,
    projection: Arc<dyn Projection>,
}

impl Shadow {
    fn new(kind: ProjectionKind) -> Self {
        let name = format!("{}{REBUILD_SUFFIX}", kind.name());
        let projection = Arc::from(kind.build_named(&name, REBUILD_SUFFIX));
        Shadow {
            kind,
            name,
            projection,
        }
    }

    /// Fresh shadow tables and a fresh shadow checkpoint (a rebuild that stopped half way
    /// leaves its shadows behind; they are dropped here).
    async fn prepare(&self, pool: &PgPool) -> Result<(), ProjectionError> {
        for (table, _) in self.kind.tables() {
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
            .bind(&self.name)
            .execute(pool)
            .await?;
        checkpoint::ensure(pool, &self.name).await?;
        checkpoint::ensure(pool, self.kind.name()).await?;
        Ok(())
    }

    /// Applies one batch and moves the shadow checkpoint past it, in one transaction.
    async fn apply(&self, pool: &PgPool, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut tx = pool.begin().await?;
        checkpoint::lock(&mut tx, &self.name).await?;
        self.projection.apply(&mut tx, events).await?;
        checkpoint::advance(&mut tx, &self.name, last.cursor(), events.len() as i64).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Rebuilds `kind`; `progress(done, total)` is called after every batch.
pub async fn rebuild(
    pool: &PgPool,
    kind: ProjectionKind,
    batch_size: i64,
    progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, ProjectionError> {
    rebuild_together(pool, &[kind], batch_size, progress).await
}

/// Rebuilds every projection in `kinds` from one read of the log, and swaps them all in at
/// once; `progress(done, total)` is called as the slowest of them finishes a batch.
pub async fn rebuild_together(
    pool: &PgPool,
    kinds: &[ProjectionKind],
    batch_size: i64,
    progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, ProjectionError> {
    let shadows: Vec<Shadow> = kinds.iter().map(|&kind| Shadow::new(kind)).collect();
    for shadow in &shadows {
        shadow.prepare(pool).await?;
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let total = total as u64;
    let progress = Mutex::new(Progress::new(progress, shadows.len(), total));

    let replayed = replay(pool, &shadows, batch_size, &progress).await?;
    for shadow in &shadows {
        // Fresh statistics before the tables go live: without them the planner takes the
        // freshly filled tables for empty and picks plans that sort to disk.
        for (table, _) in shadow.kind.tables() {
            sqlx::query(&format!("ANALYZE {table}{REBUILD_SUFFIX}"))
                .execute(pool)
                .await?;
        }
    }
    let tail = swap_in(pool, &shadows, batch_size, replayed.events_applied).await?;
    let events_applied = replayed.events_applied + tail.events_applied;
    progress
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .finish(events_applied);
    Ok(RebuildReport {
        events_applied,
        log_reads: replayed.log_reads + tail.log_reads,
    })
}

/// The replay: one reader feeds every shadow through a bounded channel of its own.
async fn replay<F: FnMut(u64, u64)>(
    pool: &PgPool,
    shadows: &[Shadow],
    batch_size: i64,
    progress: &Mutex<Progress<F>>,
) -> Result<RebuildReport, ProjectionError> {
    let (senders, receivers): (Vec<_>, Vec<_>) = shadows
        .iter()
        .map(|_| mpsc::channel::<Arc<Vec<RecordedEvent>>>(READ_AHEAD))
        .unzip();
    let reader = async move {
        let mut cursor = LogCursor::START;
        let mut read = RebuildReport {
            events_applied: 0,
            log_reads: 0,
        };
        loop {
            let events = read_after(pool, cursor, batch_size).await?;
            read.log_reads += 1;
            let Some(last) = events.last() else {
                break;
            };
            cursor = last.cursor();
            read.events_applied += events.len() as u64;
            let batch = Arc::new(events);
            for sender in &senders {
                // A closed channel means its applier failed; its error is the one reported.
                if sender.send(batch.clone()).await.is_err() {
                    return Ok::<_, ProjectionError>(read);
                }
            }
        }
        // Dropping the senders tells every applier the log is done.
        Ok(read)
    };
    // Each applier is a task of its own, so that what the projections do in this process
    // (decoding, folding, writing their rows as JSON) runs on every core, not only their
    // round trips side by side; the progress they report is counted here.
    let (applied_tx, mut applied_rx) = mpsc::unbounded_channel::<(usize, u64)>();
    let mut appliers = tokio::task::JoinSet::new();
    for (index, (shadow, mut batches)) in shadows.iter().cloned().zip(receivers).enumerate() {
        let pool = pool.clone();
        let applied = applied_tx.clone();
        appliers.spawn(async move {
            while let Some(batch) = batches.recv().await {
                shadow.apply(&pool, &batch).await?;
                // The receiver lives until every applier has ended.
                let _ = applied.send((index, batch.len() as u64));
            }
            Ok::<_, ProjectionError>(())
        });
    }
    drop(applied_tx);
    let counted = async {
        while let Some((index, events)) = applied_rx.recv().await {
            progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .applied(index, events);
        }
        Ok::<_, ProjectionError>(())
    };
    let applied = async {
        while let Some(ended) = appliers.join_next().await {
            ended.map_err(|error| {
                ProjectionError::Transient(format!("a rebuild's applier stopped: {error}"))
            })??;
        }
        Ok::<_, ProjectionError>(())
    };
    // An error drops the set, which aborts the appliers still running.
    let (read, _, _) = futures::try_join!(reader, applied, counted)?;
    Ok(read)
}

/// The swap, in one transaction: every live checkpoint locked, the tail applied to every
/// shadow, every table renamed, every live checkpoint moved (to `replayed` events and the
/// tail). Reports the tail.
async fn swap_in(
    pool: &PgPool,
    shadows: &[Shadow],
    batch_size: i64,
    replayed: u64,
) -> Result<RebuildReport, ProjectionError> {
    let mut tx = pool.begin().await?;
    for shadow in shadows {
        checkpoint::lock(&mut tx, shadow.kind.name()).await?;
    }
    let mut cursor = None;
    for shadow in shadows {
        let at = checkpoint::lock(&mut tx, &shadow.name).await?;
        if cursor.is_some_and(|cursor| cursor != at) {
            return Err(ProjectionError::Transient(format!(
                "the rebuild of {} stopped at another position than the others",
                shadow.kind.name()
            )));
        }
        cursor = Some(at);
    }
    let mut cursor = cursor.unwrap_or_default();
    let mut tail = RebuildReport {
        events_applied: 0,
        log_reads: 0,
    };
    loop {
        let events = read_after(&mut *tx, cursor, batch_size).await?;
        tail.log_reads += 1;
        let Some(last) = events.last() else { break };
        cursor = last.cursor();
        for shadow in shadows {
            shadow.projection.apply(&mut tx, &events).await?;
        }
        tail.events_applied += events.len() as u64;
    }
    for shadow in shadows {
        for (table, _) in shadow.kind.tables() {
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
        .bind(shadow.kind.name())
        .bind(cursor.transaction_id.to_string())
        .bind(cursor.position)
        .bind((replayed + tail.events_applied) as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(&shadow.name)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(tail)
}

/// A digest of a table's rows in key order, for comparing a live read model with a rebuild.
pub async fn table_digest(pool: &PgPool, table: &str, key: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY {key})), 'empty') FROM {table} t"
    ))
    .fetch_one(pool)
    .await
}
