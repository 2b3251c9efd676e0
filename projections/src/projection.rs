//! What a projection is: a named consumer of the log that turns batches of events into
//! changes to tables it owns. The runner (`runner.rs`) feeds it; `rebuild.rs` replays it.
//! Which projections this system runs is `read_models::ProjectionKind`'s.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use crate::log::{LogCursor, RecordedEvent};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A command the projection issued could not be completed now (a conflict that outlasted
    /// its retries); the batch is rolled back and tried again.
    #[error("transient failure: {0}")]
    Transient(String),
    /// An event the projection cannot apply. The projection stops here rather than skip it.
    #[error("event at position {position} ({event_type}) cannot be applied: {message}")]
    BadEvent {
        position: i64,
        event_type: String,
        message: String,
    },
}

impl ProjectionError {
    pub fn bad_event(event: &RecordedEvent, message: impl Into<String>) -> Self {
        ProjectionError::BadEvent {
            position: event.position,
            event_type: event.event_type.clone(),
            message: message.into(),
        }
    }
}

/// How the runner feeds a consumer of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// Batch and checkpoint in one transaction, the checkpoint row locked `FOR UPDATE`:
    /// exactly once. For read models, whose writes are all in that transaction.
    Transaction,
    /// No transaction around the batch: the consumer acts through commands that commit on
    /// their own, then the checkpoint moves. At least once, so every action must be
    /// idempotent; nothing holds a transaction (and with it `pg_snapshot_xmin`, which every
    /// log reader waits behind) open while commands run. For the process manager.
    AtLeastOnce,
    /// The consumer keeps its checkpoint where its writes land, and commits both together
    /// (a search index stores the batch's checkpoint with its documents): the runner asks it
    /// where it stands ([`Projection::own_checkpoint`]), hands it the next events, and then
    /// mirrors its position into `projection_checkpoints` for readiness and `min_position`.
    OwnCheckpoint,
}

pub trait Projection: Send + Sync + 'static {
    /// The checkpoint name, also the name `otop rebuild NAME` takes.
    fn name(&self) -> &str;

    /// How the runner feeds this consumer ([`BatchMode::Transaction`] unless it says so).
    fn batch_mode(&self) -> BatchMode {
        BatchMode::Transaction
    }

    /// The advisory lock that keeps one runner of this consumer active across processes, or
    /// `None` when what it writes is local to its process (an embedded search index), so that
    /// every process runs its own.
    fn lock_key(&self) -> Option<String> {
        Some(format!("otop-projection:{}", self.name()))
    }

    /// Where the consumer stands, read from its own store ([`BatchMode::OwnCheckpoint`]
    /// only); `None` before its first batch.
    fn own_checkpoint(&self) -> BoxFuture<'_, Result<Option<LogCursor>, ProjectionError>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether `event` can change what this consumer writes. A batch with no such event is
    /// never handed to [`Projection::apply`]: in [`BatchMode::Transaction`] the runner only
    /// moves the checkpoint past it, in one statement. Every event, unless it says otherwise.
    fn wants(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// Applies `events` (in log order). In [`BatchMode::Transaction`] `conn` is inside the
    /// caller's transaction, which writes the checkpoint too, so a batch is applied entirely or
    /// not at all; in [`BatchMode::AtLeastOnce`] it is a plain connection (autocommit).
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}
