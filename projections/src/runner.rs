//! The projection runner: feeds one projection from the log, a batch per transaction.
//!
//! - Each batch reads the checkpoint `FOR UPDATE`, reads the next events in log order, applies
//!   them and advances the checkpoint, all in one transaction: a crash at any point loses
//!   nothing and applies nothing twice.
//! - One runner per projection is active across processes: it holds a session advisory lock on
//!   a connection of its own; others wait as standbys and take over when it goes away.
//! - It wakes as soon as events commit: at once for this process's appends
//!   ([`LogSignal`]), by `LISTEN otop_events` for other processes' (sent after their
//!   commits; its own process's notifications it skips); it also polls, in case a
//!   notification is lost or a writer sends none.
//! - An event the projection cannot apply stops it: the position and error are recorded in
//!   the checkpoint row (shown by `/readyz`), and nothing after it is applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::checkpoint;
use crate::log::{read_after, LogCursor};
use crate::log_signal::LogSignal;
use crate::projection::{BatchMode, Projection, ProjectionError};
use crate::wait::Backoff;

pub use crate::log_signal::NOTIFY_CHANNEL;

/// After a failed batch the runner waits this long, doubling up to `LONGEST_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    pub batch_size: i64,
    /// How often to look for events when no notification comes.
    pub poll_interval: Duration,
    /// How often a standby tries to take the advisory lock.
    pub standby_interval: Duration,
    /// Take the advisory lock (off only in tests that race runners on purpose).
    pub use_advisory_lock: bool,
    /// After a batch that did not fill up, wait this long before reading again, so that under
    /// load a batch takes in the commits of several commands: the fixed cost of a batch
    /// (about eight statements) is paid a few hundred times a second, not once per command.
    /// A command after a quiet spell is applied at once (the runner is waiting on `NOTIFY`).
    pub coalesce: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            standby_interval: Duration::from_secs(1),
            use_advisory_lock: true,
            coalesce: Duration::from_millis(10),
        }
    }
}

/// Applies at most one batch; returns how many events it applied (0: caught up).
pub async fn run_batch(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    run_batch_after(pool, projection, batch_size, None)
        .await
        .map(|(applied, _)| applied)
}

/// [`run_batch`] from `known`, where this runner last left the checkpoint (`None`: read it
/// first). Returns the events applied, and where the checkpoint stands after the batch when
/// the runner knows it, for the next one.
async fn run_batch_after(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    known: Option<LogCursor>,
) -> Result<(usize, Option<LogCursor>), ProjectionError> {
    match projection.batch_mode() {
        BatchMode::Transaction => {
            run_transactional_batch(pool, projection, batch_size, known).await
        }
        BatchMode::AtLeastOnce => run_at_least_once_batch(pool, projection, batch_size)
            .await
            .map(|applied| (applied, None)),
        BatchMode::OwnCheckpoint => run_own_checkpoint_batch(pool, projection, batch_size)
            .await
            .map(|applied| (applied, None)),
    }
}

/// The consumer says where it stands and commits its checkpoint with its writes; the row in
/// `projection_checkpoints` only mirrors it (a crash between the two is mended by the next
/// batch, which starts from the consumer's own checkpoint).
async fn run_own_checkpoint_batch(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    let cursor = projection.own_checkpoint().await?.unwrap_or_default();
    let events = read_after(pool, cursor, batch_size).await?;
    let Some(last) = events.last() else {
        return Ok(0);
    };
    let new_cursor: LogCursor = last.cursor();
    let mut conn = pool.acquire().await?;
    projection.apply(&mut conn, &events).await?;
    checkpoint::advance(
        &mut conn,
        projection.name(),
        new_cursor,
        events.len() as i64,
    )
    .await?;
    Ok(events.len())
}

/// Reads and acts with no transaction open; the checkpoint moves only from where the batch
/// started (a second runner that raced this one cannot move it backwards). A crash before the
/// checkpoint moves hands the same events to the next batch: the consumer's actions are
/// idempotent.
async fn run_at_least_once_batch(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    let cursor = checkpoint::read(pool, projection.name())
        .await?
        .unwrap_or_default();
    let events = read_after(pool, cursor, batch_size).await?;
    let Some(last) = events.last() else {
        return Ok(0);
    };
    let new_cursor: LogCursor = last.cursor();
    let mut conn = pool.acquire().await?;
    projection.apply(&mut conn, &events).await?;
    drop(conn);
    checkpoint::advance_from(
        pool,
        projection.name(),
        cursor,
        new_cursor,
        events.len() as i64,
    )
    .await?;
    Ok(events.len())
}

/// The events are read before any transaction opens, from where the runner left the
/// checkpoint: when none is there (the common wait) that is the whole batch, one statement.
/// When none of them is for the projection (price changes, to the orders projection) the
/// checkpoint moves past them in one compare-and-set. Otherwise the batch is applied in a
/// transaction that holds the checkpoint row `FOR UPDATE`; should the row not stand where the
/// events were read from (another runner moved it), the events are read again from it.
async fn run_transactional_batch(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
    known: Option<LogCursor>,
) -> Result<(usize, Option<LogCursor>), ProjectionError> {
    let name = projection.name();
    let cursor = match known {
        Some(cursor) => cursor,
        None => checkpoint::read(pool, name).await?.unwrap_or_default(),
    };
    let events = read_after(pool, cursor, batch_size).await?;
    let Some(last) = events.last() else {
        return Ok((0, Some(cursor)));
    };
    let new_cursor: LogCursor = last.cursor();
    let wanted = events.iter().any(|event| projection.wants(event));
    if !wanted
        && checkpoint::advance_from(pool, name, cursor, new_cursor, events.len() as i64).await?
    {
        return Ok((events.len(), Some(new_cursor)));
    }
    let mut tx = pool.begin().await?;
    let locked = checkpoint::lock(&mut tx, name).await?;
    let events = if locked == cursor {
        events
    } else {
        read_after(&mut *tx, locked, batch_size).await?
    };
    let Some(last) = events.last() else {
        tx.commit().await?;
        return Ok((0, Some(locked)));
    };
    let new_cursor: LogCursor = last.cursor();
    projection.apply(&mut tx, &events).await?;
    checkpoint::advance(&mut tx, name, new_cursor, events.len() as i64).await?;
    tx.commit().await?;
    Ok((events.len(), Some(new_cursor)))
}

/// Runs batches until the projection has read everything readable now.
pub async fn catch_up(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<u64, ProjectionError> {
    checkpoint::ensure(pool, projection.name()).await?;
    let mut total = 0u64;
    loop {
        let applied = run_batch(pool, projection, batch_size).await?;
        if applied == 0 {
            return Ok(total);
        }
        total += applied as u64;
    }
}

pub struct RunnerHandle {
    name: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    counts: Arc<RunnerCounts>,
}

/// What a runner did, counted (for tests of what wakes it).
#[derive(Debug, Default)]
pub struct RunnerCounts {
    /// Batches started: each reads the log at least once.
    batches: AtomicU64,
    /// Notifications skipped because this process sent them.
    own_notifications_skipped: AtomicU64,
}

impl RunnerCounts {
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    pub fn own_notifications_skipped(&self) -> u64 {
        self.own_notifications_skipped.load(Ordering::Relaxed)
    }
}

impl RunnerHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn counts(&self) -> &RunnerCounts {
        &self.counts
    }

    /// Asks the runner to stop after its current batch, and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Kills the runner where it stands, as a crash would (its open transaction rolls back).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Starts a runner for `projection` in the background.
pub fn spawn(
    pool: PgPool,
    projection: Arc<dyn Projection>,
    settings: RunnerSettings,
) -> RunnerHandle {
    let (stop, stopped) = watch::channel(false);
    let name = projection.name().to_string();
    let counts = Arc::new(RunnerCounts::default());
    let task = tokio::spawn(run(pool, projection, settings, stopped, counts.clone()));
    RunnerHandle {
        name,
        stop,
        task,
        counts,
    }
}

async fn run(
    pool: PgPool,
    projection: Arc<dyn Projection>,
    settings: RunnerSettings,
    mut stopped: watch::Receiver<bool>,
    counts: Arc<RunnerCounts>,
) {
    let name = projection.name().to_string();
    // The advisory lock lives as long as this connection: never a pooled one, which would
    // carry the lock back into the pool.
    let lock_key = projection.lock_key().filter(|_| settings.use_advisory_lock);
    let _lock = match lock_key {
        Some(key) => match acquire_leadership(&pool, &key, &settings, &mut stopped).await {
            Some(lock) => Some(lock),
            None => return,
        },
        None => None,
    };
    tracing::info!(projection = %name, "projection runner active");
    if let Err(error) = checkpoint::ensure(&pool, &name).await {
        tracing::error!(projection = %name, %error, "cannot create the checkpoint row");
        return;
    }
    let mut listener = match PgListener::connect_with(&pool).await {
        Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
            Ok(()) => Some(listener),
            Err(error) => {
                tracing::warn!(projection = %name, %error, "LISTEN failed; polling only");
                None
            }
        },
        Err(error) => {
            tracing::warn!(projection = %name, %error, "no listener connection; polling only");
            None
        }
    };
    let signal = LogSignal::of_database(&pool);
    let mut appended_here = signal.subscribe();
    let waker = Waker {
        origin: signal.origin(),
        counts: &counts,
        settings: &settings,
    };
    let mut backoff = Backoff::new(FIRST_RETRY, LONGEST_RETRY);
    // Where this runner left the checkpoint (it is the only one moving it while it holds the
    // lock; every move is checked against the row all the same).
    let mut known: Option<LogCursor> = None;
    loop {
        if *stopped.borrow() {
            break;
        }
        // Seen before the batch reads: an append that commits after this wakes the wait.
        appended_here.borrow_and_update();
        counts.batches.fetch_add(1, Ordering::Relaxed);
        let batch = run_batch_after(&pool, projection.as_ref(), settings.batch_size, known).await;
        known = batch.as_ref().ok().and_then(|(_, at)| *at);
        match batch.map(|(applied, _)| applied) {
            Ok(0) => {
                backoff.reset();
                waker
                    .wait_for_events(&mut listener, &mut appended_here, &mut stopped)
                    .await;
            }
            Ok(applied) => {
                backoff.reset();
                tracing::debug!(projection = %name, applied, "batch applied");
                if (applied as i64) < settings.batch_size && !settings.coalesce.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(settings.coalesce) => {}
                        _ = stopped.changed() => {}
                    }
                }
            }
            Err(error @ (ProjectionError::Database(_) | ProjectionError::Transient(_))) => {
                // Transient (connection lost, serialization): the batch rolled back; try again.
                let pause = backoff.next_pause();
                tracing::warn!(projection = %name, %error, ?pause, "batch failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopped.changed() => {}
                }
            }
            Err(error @ ProjectionError::BadEvent { position, .. }) => {
                tracing::error!(projection = %name, position, %error, "projection stopped on an event it cannot apply");
                if let Err(db_error) =
                    checkpoint::record_failure(&pool, &name, Some(position), &error.to_string())
                        .await
                {
                    tracing::error!(projection = %name, %db_error, "recording the failure failed");
                }
                // Stay stopped: skipping would make the read model wrong for good.
                let _ = stopped.wait_for(|stop| *stop).await;
                break;
            }
        }
    }
    tracing::info!(projection = %name, "projection runner stopped");
}

/// What a waiting runner needs to tell its wake-ups apart.
struct Waker<'a> {
    /// The payload of this process's own notifications.
    origin: &'a str,
    counts: &'a RunnerCounts,
    settings: &'a RunnerSettings,
}

impl Waker<'_> {
    /// Waits for an append of this process, a notification from another, the poll interval
    /// or the stop, whichever comes first. A notification this process sent is skipped: the
    /// append it stands for woke the runner through `appended_here` already. Notifications
    /// queued behind the one that woke it are taken with it, so a burst costs one read.
    async fn wait_for_events(
        &self,
        listener: &mut Option<PgListener>,
        appended_here: &mut watch::Receiver<u64>,
        stopped: &mut watch::Receiver<bool>,
    ) {
        let notified = async {
            let Some(active) = listener.as_mut() else {
                return std::future::pending().await;
            };
            loop {
                match active.recv().await {
                    Ok(notification) if notification.payload() == self.origin => {
                        self.counts
                            .own_notifications_skipped
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {
                        while active.next_buffered().is_some() {}
                        return Ok(());
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        tokio::select! {
            received = notified => {
                if let Err(error) = received {
                    tracing::warn!(%error, "notification listener failed; polling only");
                    *listener = None;
                }
            }
            _ = appended_here.changed() => {}
            _ = tokio::time::sleep(self.settings.poll_interval) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// Waits until this process holds the advisory lock `key` (a projection's
/// [`Projection::lock_key`]); `None` if asked to stop.
pub async fn acquire_leadership(
    pool: &PgPool,
    key: &str,
    settings: &RunnerSettings,
    stopped: &mut watch::Receiver<bool>,
) -> Option<PgConnection> {
    let options: PgConnectOptions = pool
        .connect_options()
        .as_ref()
        .clone()
        .disable_statement_logging();
    let mut announced_standby = false;
    loop {
        if *stopped.borrow() {
            return None;
        }
        match PgConnection::connect_with(&options).await {
            Ok(mut conn) => {
                let locked: Result<bool, sqlx::Error> =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
                        .bind(key)
                        .fetch_one(&mut conn)
                        .await;
                match locked {
                    Ok(true) => return Some(conn),
                    Ok(false) => {
                        if !announced_standby {
                            tracing::info!(lock = key, "another runner is active; standing by");
                            announced_standby = true;
                        }
                        let _ = conn.close().await;
                    }
                    Err(error) => tracing::warn!(lock = key, %error, "advisory lock failed"),
                }
            }
            Err(error) => {
                tracing::warn!(lock = key, %error, "cannot connect for the advisory lock")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.standby_interval) => {}
            _ = stopped.changed() => {}
        }
    }
}
