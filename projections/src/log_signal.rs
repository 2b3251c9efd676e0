//! Waking the log's readers after a commit, not inside it.
//!
//! A `NOTIFY` sent by the transaction that appends makes every appending commit in the
//! database queue on one lock: PostgreSQL holds its notification queue's lock from the
//! commit's pre-commit step until the commit is flushed. Measured on this machine
//! (pgbench, 8 clients, one-row INSERTs): 9,554 commits/s without a `NOTIFY`, 2,330/s with
//! one (docs/benchmarks.md, round 3). So the log's writer sends none inside its commits.
//! Instead, once an append has committed:
//!
//! - **readers in this process** are woken at once through a `watch` channel (the
//!   projection runners wait on it beside their `LISTEN`);
//! - **readers in other processes** get one `NOTIFY otop_events`, sent by a task of this
//!   process on its own connection after the commit. While one is on its way, every append
//!   that commits meanwhile rides on the next, so a burst of appends costs a few
//!   notifications, not one each. Its payload names the process that sent it
//!   ([`LogSignal::origin`]): this process's runners listen on the channel too, and skip
//!   their own process's notifications, which the `watch` channel already woke them for.
//!   Without that, every notification woke every runner of the sending process for a read
//!   of the log that found nothing new.
//!
//! A notification lost on the way (the process dies right after its commit) costs only
//! latency: every reader also polls the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::watch;

use crate::per_database::PerDatabase;

pub const NOTIFY_CHANNEL: &str = "otop_events";

/// The appends committed in this process on one database, counted.
pub struct LogSignal {
    appended: watch::Sender<u64>,
    notifier_started: AtomicBool,
    origin: String,
}

static SIGNALS: PerDatabase<LogSignal> = PerDatabase::new();

impl LogSignal {
    /// The signal of the database `pool` connects to, shared by every store and runner of
    /// this process on it.
    pub fn of_database(pool: &PgPool) -> Arc<LogSignal> {
        SIGNALS.of(pool, || LogSignal {
            appended: watch::Sender::new(0),
            notifier_started: AtomicBool::new(false),
            origin: uuid::Uuid::now_v7().to_string(),
        })
    }

    /// The payload of this process's notifications: what its own listeners skip.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Wakes this process's readers, and (through the notifier task, started on first use)
    /// the other processes'. Called once an append has committed.
    pub fn appended(&self, pool: &PgPool) {
        self.appended.send_modify(|count| *count += 1);
        if !self.notifier_started.swap(true, Ordering::AcqRel) {
            let mut appended = self.appended.subscribe();
            // The append that starts the task is one to notify of too.
            appended.mark_changed();
            tokio::spawn(notify_others(pool.clone(), appended, self.origin.clone()));
        }
    }

    /// A receiver that changes whenever an append of this process commits.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}

/// Sends one `NOTIFY` for whatever committed since the last one, until the signal is gone.
async fn notify_others(pool: PgPool, mut appended: watch::Receiver<u64>, origin: String) {
    while appended.changed().await.is_ok() {
        appended.borrow_and_update();
        // A lost notification costs only latency, so its commit need not wait for the disk.
        let sent =
            sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(&origin)
                .execute(&pool)
                .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not notify other processes of appended events");
        }
    }
}
