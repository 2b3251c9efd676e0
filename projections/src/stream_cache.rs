//! The states of streams as this process last saw them, so that a command on a busy stream
//! reads only the events after them, not a snapshot and up to fifty events.
//!
//! A cached state is never trusted on its own: every load still reads the log from the
//! cached sequence on (`load_streams`' `p_after`), so what another process appended since
//! comes back with it, and an append still carries its expected sequence. The cache saves
//! reading and decoding what this process already holds; it decides nothing.
//!
//! One cache per database per process, shared by every store on that database (the app's
//! typed stores, the checkout's and the process manager's), so that what one of them writes
//! is what the others start from. Its size is bounded ([`CACHED_STREAMS`]); moka keeps the
//! streams used most.

use std::any::Any;
use std::sync::Arc;

use sqlx::PgPool;

use crate::event_store::StreamKey;
use crate::per_database::PerDatabase;

/// At most this many streams are held. A listing's state is about a kilobyte.
pub const CACHED_STREAMS: u64 = 10_000;

/// A stream's state as of `last_sequence`.
pub(crate) struct CachedStream {
    /// The aggregate (`A` of the stream's type) after its event at `last_sequence`.
    pub state: Box<dyn Any + Send + Sync>,
    pub last_sequence: usize,
    pub snapshot_count: Option<usize>,
    pub last_position: i64,
}

pub(crate) struct StreamCache {
    streams: moka::sync::Cache<StreamKey, Arc<CachedStream>>,
}

/// The caches of this process, by database.
static CACHES: PerDatabase<StreamCache> = PerDatabase::new();

impl StreamCache {
    fn new() -> Self {
        StreamCache {
            streams: moka::sync::Cache::new(CACHED_STREAMS),
        }
    }

    /// The cache of the database `pool` connects to, shared with every other store on it.
    pub fn of_database(pool: &PgPool) -> Arc<StreamCache> {
        CACHES.of(pool, StreamCache::new)
    }

    /// A cache of its own, shared with no other store (a store that stands for another
    /// process in tests).
    pub fn private() -> Arc<StreamCache> {
        Arc::new(StreamCache::new())
    }

    pub fn get(&self, key: &StreamKey) -> Option<Arc<CachedStream>> {
        self.streams.get(key)
    }

    /// Keeps `stream` unless the cache already holds a later state of it (two writers of one
    /// process can finish in either order).
    pub fn offer(&self, key: StreamKey, stream: CachedStream) {
        let stream = Arc::new(stream);
        self.streams.entry(key).and_compute_with(|held| match held {
            Some(held) if held.value().last_sequence >= stream.last_sequence => {
                moka::ops::compute::Op::Nop
            }
            _ => moka::ops::compute::Op::Put(stream),
        });
    }

    /// Forgets `key` (an append whose outcome is unknown, or that lost a race).
    pub fn forget(&self, key: &StreamKey) {
        self.streams.invalidate(key);
    }
}
