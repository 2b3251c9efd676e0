//! The write side of the log: loads aggregates from their snapshot plus the events after it,
//! and appends what commands decide, one stream or several at once, in one statement.
//!
//! Why not cqrs-es's `PersistedEventStore` in snapshot mode: in cqrs-es 0.5.0 the aggregate
//! handed to `commit` has already applied the new events (`EventSink::write` applies them),
//! and `commit` applies them once more before serialising the snapshot, so every snapshot
//! counts its last batch twice. postgres-es 0.5.0's snapshot update also commits the events
//! before it checks that the snapshot row was updated. This store keeps postgres-es's tables
//! (and its repository for full replays), and reads and writes them itself:
//!
//! - **One query loads any number of streams**: each stream's snapshot and the events after
//!   it, and the position of its last event, so a command needs no other SELECT.
//! - **One statement appends to any number of streams** (a multi-stream append, as in
//!   KurrentDB 25.1 and Marten): every stream's events, each under the sequence its decision
//!   was made on, and the snapshots that fell due, as data-modifying CTEs of a single
//!   `INSERT`. PostgreSQL runs a statement atomically, so it commits whole or not at all.
//!   Once it has committed, the log's readers are woken ([`LogSignal`]: at once in this
//!   process, by one `NOTIFY` sent after the commit in the others), never by a `NOTIFY`
//!   inside the commit, which would queue every commit of the database on one lock.
//! - **Conflicts retry the whole decision** from fresh state ([`EventStore::transact`]),
//!   bounded, with jittered exponential backoff (the `backon` crate's schedule). A conflict is
//!   the primary key `(aggregate_type, aggregate_id, sequence)` taken by another writer.
//! - **A busy stream is read from where this process left it** ([`StreamCache`]): the load
//!   asks the log only for the events after the state this process holds, which is usually
//!   none, instead of a snapshot and up to [`DEFAULT_SNAPSHOT_EVERY`] events.
//! - **Writers in one process queue instead of colliding**: a decision holds an in-process
//!   lock on each stream it reads for writing (striped, taken in one order), so the hundreds
//!   of shoppers of a flash sale on one listing take turns instead of retrying against each
//!   other; the optimistic check in the database stays the guarantee across processes.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tokio::sync::{Mutex, MutexGuard};

use crate::log_signal::LogSignal;
use crate::snapshot_mac;
use crate::stream_cache::{CachedStream, StreamCache};

/// How many times a decision is tried before a conflict is reported to the caller.
pub const MAX_CONFLICT_ATTEMPTS: usize = 8;

/// The metadata field that carries a command's `Idempotency-Key` token (api/src/idempotency.rs).
pub const IDEMPOTENCY_METADATA: &str = "idempotency_key";

/// A snapshot is written whenever an aggregate's sequence crosses a multiple of this.
pub const DEFAULT_SNAPSHOT_EVERY: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum StoreError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Domain(E),
    /// Another writer kept winning the race for this aggregate.
    #[error("the {aggregate_type} changed concurrently; try again")]
    Conflict { aggregate_type: &'static str },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to one of the streams after it was loaded.
    #[error("the {aggregate_type} changed concurrently; try again")]
    Conflict { aggregate_type: &'static str },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
}

impl<E: std::error::Error> From<AppendError> for StoreError<E> {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { aggregate_type } => StoreError::Conflict { aggregate_type },
            AppendError::Database(error) => StoreError::Database(error),
            AppendError::Corrupt(message) => StoreError::Corrupt(message),
        }
    }
}

/// What a command did: the aggregate after it, the events it recorded, and the global log
/// position of its last event (or of the aggregate's last event when it recorded none; 0 for
/// an aggregate with no events).
#[derive(Debug)]
pub struct CommandOutcome<A: Aggregate> {
    pub aggregate: A,
    pub events: Vec<EventEnvelope<A>>,
    pub position: i64,
}

/// An aggregate as loaded: its state, the sequence of its last event and its snapshot count.
pub struct LoadedAggregate<A: Aggregate> {
    pub aggregate: A,
    pub last_sequence: usize,
    pub snapshot_count: Option<usize>,
    /// How many events were applied on top of the snapshot (all of them without one).
    pub events_replayed: usize,
    /// The log position of the aggregate's last event (0 when it has none).
    pub last_position: i64,
}

/// One stream of the log: an aggregate type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
}

impl StreamKey {
    pub fn of<A: Aggregate>(aggregate_id: impl Into<String>) -> Self {
        StreamKey {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.into(),
        }
    }
}

/// A stream loaded for a decision: the aggregate, where its stream stood, and what the
/// decision has added so far (already applied to `aggregate`).
pub struct Stream<A: Aggregate> {
    id: String,
    aggregate: A,
    last_sequence: usize,
    snapshot_count: Option<usize>,
    events_replayed: usize,
    last_position: i64,
    new_events: Vec<(A::Event, Arc<str>)>,
    /// How many of `new_events` are in an [`AppendBatch`] already.
    added: usize,
}

impl<A: Aggregate<Services = ()>> Stream<A> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The aggregate as it stands, with this decision's events applied.
    pub fn aggregate(&self) -> &A {
        &self.aggregate
    }

    /// The position of the stream's last stored event (0 for a new stream).
    pub fn last_position(&self) -> i64 {
        self.last_position
    }

    /// How many events this decision has added.
    pub fn pending(&self) -> usize {
        self.new_events.len()
    }

    /// Runs `command` on the aggregate as it stands (with earlier commands of this decision
    /// applied); its events join the decision, carrying `metadata`. A refused command adds
    /// nothing.
    pub async fn handle(
        &mut self,
        command: A::Command,
        metadata: &HashMap<String, String>,
    ) -> Result<(), A::Error> {
        // The domain's `handle` decides first and applies only what it decided, so a refused
        // command leaves the aggregate as it was.
        let sink = EventSink::<A>::default();
        self.aggregate.handle(command, &(), &sink).await?;
        let events = sink.collect().await;
        if events.is_empty() {
            return Ok(());
        }
        let metadata: Arc<str> = serde_json::to_string(metadata)
            .unwrap_or_else(|_| "{}".to_string())
            .into();
        self.new_events
            .extend(events.into_iter().map(|event| (event, metadata.clone())));
        Ok(())
    }

    fn into_loaded(self) -> LoadedAggregate<A> {
        LoadedAggregate {
            aggregate: self.aggregate,
            last_sequence: self.last_sequence,
            snapshot_count: self.snapshot_count,
            events_replayed: self.events_replayed,
            last_position: self.last_position,
        }
    }
}

struct RawSnapshot {
    last_sequence: usize,
    current_snapshot: usize,
    payload: Value,
    last_event_hash: Option<Vec<u8>>,
    state_mac: Option<Vec<u8>>,
    /// The hash the log holds now at `last_sequence`.
    log_hash: Option<Vec<u8>>,
}

struct RawEvent {
    sequence: usize,
    payload: Value,
}

#[derive(Default)]
struct RawStream {
    snapshot: Option<RawSnapshot>,
    /// The state this process held, which `events` follow (then `snapshot` is `None`).
    cached: Option<Arc<CachedStream>>,
    events: Vec<RawEvent>,
    last_position: i64,
}

/// Streams read by one load query, to be taken one by one as typed [`Stream`]s.
pub struct LoadedStreams<'s> {
    store: &'s EventStore,
    raw: HashMap<StreamKey, RawStream>,
}

impl LoadedStreams<'_> {
    /// The stream `A`/`aggregate_id` as loaded (an empty stream when it has no events, or
    /// when it was not among the keys loaded).
    pub async fn take<A>(&mut self, aggregate_id: &str) -> Result<Stream<A>, AppendError>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
    {
        let key = StreamKey::of::<A>(aggregate_id);
        let raw = self.raw.remove(&key).unwrap_or_default();
        self.store.decode(aggregate_id, raw).await
    }
}

/// Streams a load brings along: those named by `field` of the `event_type` that opens each
/// loaded stream, as streams of `aggregate_type`.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    pub event_type: &'static str,
    pub field: &'static str,
    pub aggregate_type: &'static str,
    /// The same id read from a state this process holds of a loaded stream (`None` when the
    /// state names none). The event that opens a stream never changes, so neither does what
    /// it names: with every loaded stream held, the followed ones are known without asking
    /// the log, and the load reads only the tails of streams it holds.
    pub held: fn(&(dyn std::any::Any + Send + Sync)) -> Option<String>,
}

/// One row of a multi-stream append.
struct PendingEvent {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: Arc<str>,
}

struct PendingSnapshot {
    aggregate_type: &'static str,
    aggregate_id: String,
    last_sequence: i64,
    current_snapshot: i64,
    payload: String,
    /// [`snapshot_mac::mac`] of the payload (the hash of the last event it covers is taken
    /// from the log in the same statement).
    state_mac: Vec<u8>,
}

/// What one decision appends: events of any number of streams, and their due snapshots.
#[derive(Default)]
pub struct AppendBatch {
    events: Vec<PendingEvent>,
    snapshots: Vec<PendingSnapshot>,
    /// Each stream's state once the batch is in, for the cache (its position is filled in
    /// from the append's outcome).
    states: Vec<(StreamKey, CachedStream)>,
}

impl AppendBatch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Adds the events `stream`'s decision recorded since it was last added (so a decision
    /// can interleave streams in the order things happened: an order placed, its stock
    /// reserved, the order confirmed), and its snapshot when one falls due.
    pub fn add<A>(
        &mut self,
        stream: &mut Stream<A>,
        snapshot_every: usize,
    ) -> Result<(), AppendError>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
    {
        if stream.added == stream.new_events.len() {
            return Ok(());
        }
        let first_sequence = stream.last_sequence + stream.added + 1;
        for ((event, metadata), sequence) in stream.new_events[stream.added..]
            .iter()
            .zip(first_sequence..)
        {
            self.events.push(PendingEvent {
                aggregate_type: A::TYPE,
                aggregate_id: stream.id.clone(),
                sequence: sequence as i64,
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_string(event)
                    .map_err(|e| AppendError::Corrupt(e.to_string()))?,
                metadata: metadata.clone(),
            });
        }
        stream.added = stream.new_events.len();
        let last_sequence = stream.last_sequence;
        let new_last_sequence = last_sequence + stream.new_events.len();
        let snapshot_due = snapshot_every > 0
            && new_last_sequence / snapshot_every > last_sequence / snapshot_every;
        let snapshot_count = match (snapshot_due, stream.snapshot_count) {
            (false, count) => count,
            (true, count) => Some(count.map_or(1, |count| count + 1)),
        };
        let key = StreamKey::of::<A>(stream.id.clone());
        self.states.retain(|(held, _)| *held != key);
        self.states.push((
            key,
            CachedStream {
                state: Box::new(stream.aggregate.clone()),
                last_sequence: new_last_sequence,
                snapshot_count,
                last_position: 0,
            },
        ));
        if snapshot_due {
            // One snapshot row per stream and statement: the state after all its events.
            self.snapshots
                .retain(|s| !(s.aggregate_type == A::TYPE && s.aggregate_id == stream.id));
            let state = serde_json::to_value(&stream.aggregate)
                .map_err(|e| AppendError::Corrupt(e.to_string()))?;
            let payload = snapshot_mac::canonical(&state);
            let state_mac =
                snapshot_mac::mac(A::TYPE, &stream.id, new_last_sequence as i64, &payload);
            self.snapshots.push(PendingSnapshot {
                aggregate_type: A::TYPE,
                aggregate_id: stream.id.clone(),
                last_sequence: new_last_sequence as i64,
                current_snapshot: snapshot_count.unwrap_or(1) as i64,
                payload,
                state_mac,
            });
        }
        Ok(())
    }
}

/// What an append wrote: the last position it took in each stream, and overall.
#[derive(Debug, Clone, Default)]
pub struct AppendOutcome {
    pub positions: HashMap<StreamKey, i64>,
    pub position: i64,
    pub events: usize,
}

/// Why a decision ended without an append: refused by the caller's rules, or the store failed.
#[derive(Debug)]
pub enum DecisionError<E> {
    Refused(E),
    Store(AppendError),
}

impl<E> From<AppendError> for DecisionError<E> {
    fn from(error: AppendError) -> Self {
        DecisionError::Store(error)
    }
}

impl<E> From<sqlx::Error> for DecisionError<E> {
    fn from(error: sqlx::Error) -> Self {
        DecisionError::Store(AppendError::Database(error))
    }
}

/// How long a decision waits at a test's gate for the other writers.
const DECIDED_GATE_PATIENCE: Duration = Duration::from_secs(10);

/// In-process locks on streams, striped: a stream maps to one of these by its hash.
const LOCK_STRIPES: usize = 4096;
static STREAM_LOCKS: LazyLock<Vec<Mutex<()>>> =
    LazyLock::new(|| (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect());

/// The untyped store: loads and appends streams of every aggregate type.
pub struct EventStore {
    pool: PgPool,
    repo: PostgresEventRepository,
    snapshot_every: usize,
    local_locks: bool,
    conflicts: AtomicU64,
    decided_gate: Option<Arc<tokio::sync::Barrier>>,
    /// `None`: every load reads the snapshot and the events after it.
    cache: Option<Arc<StreamCache>>,
    /// Events read from the log by loads (for tests of what the cache saves).
    events_read: AtomicU64,
    /// Loads that asked `load_streams` (snapshots, followed streams), not only tails.
    function_loads: AtomicU64,
    appended: Arc<LogSignal>,
}

impl EventStore {
    pub fn new(pool: PgPool) -> Self {
        Self::with_snapshot_every(pool, DEFAULT_SNAPSHOT_EVERY)
    }

    /// `snapshot_every == 0` turns snapshots and the cache off (every load replays the
    /// whole stream).
    pub fn with_snapshot_every(pool: PgPool, snapshot_every: usize) -> Self {
        let cache = (snapshot_every > 0).then(|| StreamCache::of_database(&pool));
        let appended = LogSignal::of_database(&pool);
        EventStore {
            repo: PostgresEventRepository::new(pool.clone()),
            pool,
            snapshot_every,
            local_locks: true,
            conflicts: AtomicU64::new(0),
            decided_gate: None,
            cache,
            events_read: AtomicU64::new(0),
            function_loads: AtomicU64::new(0),
            appended,
        }
    }

    /// Without the stream cache: every load reads the snapshot and the events after it.
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// With a stream cache shared with no other store, as a store of another process has.
    pub fn with_private_cache(mut self) -> Self {
        self.cache = Some(StreamCache::private());
        self
    }

    /// How many events loads have read from the log so far.
    pub fn events_read(&self) -> u64 {
        self.events_read.load(Ordering::Relaxed)
    }

    /// How many loads have asked `load_streams` (snapshots, followed streams) rather than
    /// only the tails of streams this process holds.
    pub fn function_loads(&self) -> u64 {
        self.function_loads.load(Ordering::Relaxed)
    }

    /// Without the in-process stream locks: every concurrent writer races in the database,
    /// as writers in different processes do (for tests of the optimistic check).
    pub fn without_local_locks(mut self) -> Self {
        self.local_locks = false;
        self
    }

    /// Every decision's first attempt waits at `gate` between deciding and appending (for
    /// tests of the optimistic check: with a gate as wide as the writers, all of them decide
    /// on the same state before any appends, so the race happens however the machine
    /// schedules them). A writer waits at most [`DECIDED_GATE_PATIENCE`], so a writer that
    /// never comes cannot hang the others.
    pub fn with_decided_gate(mut self, gate: Arc<tokio::sync::Barrier>) -> Self {
        self.decided_gate = Some(gate);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn snapshot_every(&self) -> usize {
        self.snapshot_every
    }

    /// How many appends this store lost to another writer and retried.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Loads every stream of `keys` in one query: snapshot (or the state this process
    /// holds), later events, last position.
    pub async fn load(&self, keys: &[StreamKey]) -> Result<LoadedStreams<'_>, AppendError> {
        self.load_following(keys, None).await
    }

    /// Like [`EventStore::load`], and in the same query the streams that `follow` names in
    /// the first event of those streams (a listing's vendor, named by its `ListingCreated`).
    /// Those are always read from their snapshot.
    pub async fn load_following(
        &self,
        keys: &[StreamKey],
        follow: Option<&Follow>,
    ) -> Result<LoadedStreams<'_>, AppendError> {
        self.load_streams(keys, follow, self.cache.as_deref()).await
    }

    /// [`EventStore::load`] from the snapshot, whatever this process holds.
    async fn load_from_snapshots(
        &self,
        keys: &[StreamKey],
    ) -> Result<LoadedStreams<'_>, AppendError> {
        self.load_streams(keys, None, None).await
    }

    async fn load_streams(
        &self,
        keys: &[StreamKey],
        follow: Option<&Follow>,
        cache: Option<&StreamCache>,
    ) -> Result<LoadedStreams<'_>, AppendError> {
        let held: Vec<Option<Arc<CachedStream>>> = keys
            .iter()
            .map(|key| cache.and_then(|cache| cache.get(key)))
            .collect();
        // Every stream held (the command on one aggregate, the common case; a checkout on
        // listings and vendors this process has seen): only their tails, by the events' key.
        if let Some(all_held) = cache.and_then(|cache| Self::all_held(cache, keys, &held, follow)) {
            return self.load_tails(all_held).await;
        }
        self.function_loads.fetch_add(1, Ordering::Relaxed);
        let types: Vec<&str> = keys.iter().map(|k| k.aggregate_type).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.aggregate_id.as_str()).collect();
        let after: Vec<Option<i64>> = held
            .iter()
            .map(|held| held.as_ref().map(|held| held.last_sequence as i64))
            .collect();
        // One call of `load_streams` (migrations/20261205000001_load_streams_after_cached.sql):
        // its plan is made once per connection; planning the query afresh each time cost
        // more than running it.
        let rows = sqlx::query("SELECT * FROM load_streams($1, $2, $3, $4, $5, $6, $7)")
            .bind(&types)
            .bind(&ids)
            .bind(&after)
            .bind(follow.map(|f| f.event_type))
            .bind(follow.map(|f| f.field))
            .bind(follow.map(|f| f.aggregate_type))
            .bind(self.snapshot_every > 0)
            .fetch_all(&self.pool)
            .await?;
        let mut raw: HashMap<StreamKey, RawStream> = HashMap::with_capacity(keys.len());
        for (key, held) in keys.iter().zip(held) {
            raw.entry(key.clone()).or_default().cached = held;
        }
        let known_type = |name: &str| -> Option<&'static str> {
            keys.iter()
                .map(|k| k.aggregate_type)
                .chain(follow.map(|f| f.aggregate_type))
                .find(|t| *t == name)
        };
        for row in rows {
            let aggregate_type: String = row.try_get("aggregate_type")?;
            let Some(aggregate_type) = known_type(&aggregate_type) else {
                continue;
            };
            let key = StreamKey {
                aggregate_type,
                aggregate_id: row.try_get("aggregate_id")?,
            };
            let stream = raw.entry(key).or_default();
            let kind: i32 = row.try_get("kind")?;
            let sequence: Option<i64> = row.try_get("sequence")?;
            let position: Option<i64> = row.try_get("position")?;
            stream.last_position = stream.last_position.max(position.unwrap_or(0));
            if kind == 0 {
                let current_snapshot: Option<i64> = row.try_get("current_snapshot")?;
                if let (Some(sequence), Some(count)) = (sequence, current_snapshot) {
                    stream.snapshot = Some(RawSnapshot {
                        last_sequence: sequence as usize,
                        current_snapshot: count as usize,
                        payload: row.try_get("payload")?,
                        last_event_hash: row.try_get("last_event_hash")?,
                        state_mac: row.try_get("state_mac")?,
                        log_hash: row.try_get("log_hash")?,
                    });
                }
            } else {
                self.events_read.fetch_add(1, Ordering::Relaxed);
                stream.events.push(RawEvent {
                    sequence: sequence.unwrap_or(0) as usize,
                    payload: row.try_get("payload")?,
                });
            }
        }
        Ok(LoadedStreams { store: self, raw })
    }

    /// Every stream of `keys` and every stream `follow` names from them, when this process
    /// holds them all; `None` when it does not (then the log is asked).
    fn all_held(
        cache: &StreamCache,
        keys: &[StreamKey],
        held: &[Option<Arc<CachedStream>>],
        follow: Option<&Follow>,
    ) -> Option<Vec<(StreamKey, Arc<CachedStream>)>> {
        let mut all: Vec<(StreamKey, Arc<CachedStream>)> = Vec::with_capacity(keys.len() * 2);
        for (key, held) in keys.iter().zip(held) {
            let held = held.clone()?;
            if let Some(follow) = follow {
                let followed = StreamKey {
                    aggregate_type: follow.aggregate_type,
                    aggregate_id: (follow.held)(held.state.as_ref())?,
                };
                if !all.iter().any(|(known, _)| *known == followed) {
                    let followed_held = cache.get(&followed)?;
                    all.push((followed, followed_held));
                }
            }
            if !all.iter().any(|(known, _)| known == key) {
                all.push((key.clone(), held));
            }
        }
        Some(all)
    }

    /// Streams this process holds, all of them: only the events after each one's state, in
    /// one statement by the events' key.
    async fn load_tails(
        &self,
        held: Vec<(StreamKey, Arc<CachedStream>)>,
    ) -> Result<LoadedStreams<'_>, AppendError> {
        let types: Vec<&str> = held.iter().map(|(key, _)| key.aggregate_type).collect();
        let ids: Vec<&str> = held
            .iter()
            .map(|(key, _)| key.aggregate_id.as_str())
            .collect();
        let after: Vec<i64> = held
            .iter()
            .map(|(_, state)| state.last_sequence as i64)
            .collect();
        let rows = sqlx::query(
            "SELECT k.n, e.sequence, e.payload, e.position
               FROM UNNEST($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY
                    AS k(aggregate_type, aggregate_id, after, n)
               JOIN events e ON e.aggregate_type = k.aggregate_type
                            AND e.aggregate_id = k.aggregate_id
                            AND e.sequence > k.after
              ORDER BY k.n, e.sequence",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&after)
        .fetch_all(&self.pool)
        .await?;
        let mut streams: Vec<(StreamKey, RawStream)> = held
            .into_iter()
            .map(|(key, state)| {
                let stream = RawStream {
                    last_position: state.last_position,
                    cached: Some(state),
                    ..RawStream::default()
                };
                (key, stream)
            })
            .collect();
        for row in rows {
            let ordinal: i64 = row.try_get("n")?;
            let Some((_, stream)) = usize::try_from(ordinal - 1)
                .ok()
                .and_then(|index| streams.get_mut(index))
            else {
                continue;
            };
            self.events_read.fetch_add(1, Ordering::Relaxed);
            let position: i64 = row.try_get("position")?;
            stream.last_position = stream.last_position.max(position);
            stream.events.push(RawEvent {
                sequence: row.try_get::<i64, _>("sequence")? as usize,
                payload: row.try_get("payload")?,
            });
        }
        Ok(LoadedStreams {
            store: self,
            raw: streams.into_iter().collect(),
        })
    }

    /// Turns what the load query returned into a typed stream. A snapshot that no longer
    /// reads (written by an older shape of the aggregate), or that the log no longer vouches
    /// for ([`snapshot_mac::distrust`]), is ignored and the stream replayed: the log is the
    /// truth, and the next commit writes a fresh snapshot.
    async fn decode<A>(&self, aggregate_id: &str, raw: RawStream) -> Result<Stream<A>, AppendError>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
    {
        let mut aggregate = A::default();
        let mut last_sequence = 0;
        let mut snapshot_count = None;
        let mut events = raw.events;
        let held = raw
            .cached
            .as_ref()
            .and_then(|held| Some((held.state.downcast_ref::<A>()?, held)));
        if let Some((state, held)) = held {
            aggregate = state.clone();
            last_sequence = held.last_sequence;
            snapshot_count = held.snapshot_count;
        } else if let Some(snapshot) = raw.snapshot {
            let evidence = snapshot_mac::SnapshotEvidence {
                aggregate_type: A::TYPE,
                aggregate_id,
                last_sequence: snapshot.last_sequence as i64,
                state: &snapshot.payload,
                last_event_hash: snapshot.last_event_hash.as_deref(),
                state_mac: snapshot.state_mac.as_deref(),
                log_hash: snapshot.log_hash.as_deref(),
            };
            let trusted = match snapshot_mac::distrust(&evidence) {
                None => Ok(snapshot.payload),
                Some(why) => Err(why.to_string()),
            };
            match trusted.and_then(|payload| {
                serde_json::from_value::<A>(payload).map_err(|error| error.to_string())
            }) {
                Ok(state) => {
                    aggregate = state;
                    last_sequence = snapshot.last_sequence;
                    snapshot_count = Some(snapshot.current_snapshot);
                }
                Err(error) => {
                    tracing::warn!(aggregate_type = A::TYPE, aggregate_id, %error, "snapshot ignored: replaying the stream");
                    snapshot_count = Some(snapshot.current_snapshot);
                    events = self.all_events(A::TYPE, aggregate_id).await?;
                }
            }
        }
        let events_replayed = events.len();
        for event in events {
            let payload = serde_json::from_value::<A::Event>(event.payload).map_err(|error| {
                AppendError::Corrupt(format!(
                    "{} {aggregate_id} event {}: {error}",
                    A::TYPE,
                    event.sequence
                ))
            })?;
            aggregate.apply(payload);
            last_sequence = event.sequence;
        }
        if let Some(cache) = &self.cache {
            if events_replayed > 0 || raw.cached.is_none() {
                cache.offer(
                    StreamKey::of::<A>(aggregate_id),
                    CachedStream {
                        state: Box::new(aggregate.clone()),
                        last_sequence,
                        snapshot_count,
                        last_position: raw.last_position,
                    },
                );
            }
        }
        Ok(Stream {
            id: aggregate_id.to_string(),
            aggregate,
            last_sequence,
            snapshot_count,
            events_replayed,
            last_position: raw.last_position,
            new_events: Vec::new(),
            added: 0,
        })
    }

    async fn all_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<RawEvent>, AppendError> {
        let rows = sqlx::query(
            "SELECT sequence, payload FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RawEvent {
                    sequence: row.try_get::<i64, _>("sequence")? as usize,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Appends `batch` in one statement: all of it or, on any conflict or error, none of it.
    ///
    /// Rows are inserted in the order the decision added them, so the log shows what
    /// happened in the order it happened. Two appends that share streams wait for each other
    /// on the events' key, and the later one fails its check; decisions that share streams
    /// add them in one order (a checkout: orders by vendor id, listings by id) so that they
    /// never wait for each other crosswise. Should two processes still deadlock, PostgreSQL
    /// aborts one, and that is retried as a conflict.
    pub async fn append(&self, batch: AppendBatch) -> Result<AppendOutcome, AppendError> {
        if batch.events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let events = &batch.events;
        let result = match (events.as_slice(), batch.snapshots.is_empty()) {
            ([event], true) => self.insert_one(event).await,
            (_, true) => self.insert_many(events).await,
            (_, false) => self.insert_with_snapshots(events, &batch.snapshots).await,
        };
        let rows = match result {
            Ok(rows) => rows,
            Err(error) => {
                // Lost a race, or an outcome this process cannot know: start again from the log.
                if let Some(cache) = &self.cache {
                    for (key, _) in &batch.states {
                        cache.forget(key);
                    }
                }
                return match error {
                    sqlx::Error::Database(db) if is_conflict(db.as_ref()) => {
                        let aggregate_type = conflicting_type(db.as_ref(), events);
                        Err(AppendError::Conflict { aggregate_type })
                    }
                    other => Err(other.into()),
                };
            }
        };
        let mut outcome = AppendOutcome {
            events: events.len(),
            ..AppendOutcome::default()
        };
        for row in rows {
            let aggregate_type: String = row.try_get("aggregate_type")?;
            let aggregate_id: String = row.try_get("aggregate_id")?;
            let position: i64 = row.try_get("position")?;
            let Some(event) = events
                .iter()
                .find(|e| e.aggregate_type == aggregate_type && e.aggregate_id == aggregate_id)
            else {
                continue;
            };
            outcome.position = outcome.position.max(position);
            let key = StreamKey {
                aggregate_type: event.aggregate_type,
                aggregate_id,
            };
            let last = outcome.positions.entry(key).or_insert(position);
            *last = (*last).max(position);
        }
        self.appended.appended(&self.pool);
        if let Some(cache) = &self.cache {
            for (key, mut state) in batch.states {
                state.last_position = outcome.positions.get(&key).copied().unwrap_or_default();
                cache.offer(key, state);
            }
        }
        Ok(outcome)
    }

    /// The common command: one event, no snapshot due. A plain `INSERT`, as cheap as the
    /// bare store's.
    async fn insert_one(&self, event: &PendingEvent) -> Result<Vec<PgRow>, sqlx::Error> {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)
             RETURNING aggregate_type::text AS aggregate_type, aggregate_id::text AS aggregate_id, position",
        )
        .bind(event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(&event.event_type)
        .bind(&event.event_version)
        .bind(&event.payload)
        .bind(&*event.metadata)
        .fetch_all(&self.pool)
        .await
    }

    async fn insert_many(&self, events: &[PendingEvent]) -> Result<Vec<PgRow>, sqlx::Error> {
        bind_events(sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
                    e.payload::json, e.metadata::json
               FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
                    WITH ORDINALITY AS e(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, n)
              ORDER BY e.n
             RETURNING aggregate_type::text AS aggregate_type, aggregate_id::text AS aggregate_id, position",
        ), events)
        .fetch_all(&self.pool)
        .await
    }

    /// Events and the snapshots that fell due, as two data-modifying CTEs of one statement.
    async fn insert_with_snapshots(
        &self,
        events: &[PendingEvent],
        snapshots: &[PendingSnapshot],
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        bind_events(sqlx::query(
            "WITH appended AS (
                 INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                 SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
                        e.payload::json, e.metadata::json
                   FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
                        WITH ORDINALITY AS e(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, n)
                  ORDER BY e.n
                 RETURNING aggregate_type::text AS aggregate_type, aggregate_id::text AS aggregate_id,
                           position, sequence, hash
             ), snapshotted AS (
                 -- The hash of the last event a snapshot covers, as the trigger computed it
                 -- for the row just appended.
                 INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot,
                                        payload, state_mac, last_event_hash)
                 SELECT s.aggregate_type, s.aggregate_id, s.last_sequence, s.current_snapshot,
                        s.payload::json, s.state_mac, a.hash
                   FROM UNNEST($8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::bytea[])
                        AS s(aggregate_type, aggregate_id, last_sequence, current_snapshot, payload, state_mac)
                   JOIN appended a ON a.aggregate_type = s.aggregate_type
                                  AND a.aggregate_id = s.aggregate_id
                                  AND a.sequence = s.last_sequence
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                    SET last_sequence = EXCLUDED.last_sequence,
                        current_snapshot = EXCLUDED.current_snapshot,
                        payload = EXCLUDED.payload,
                        state_mac = EXCLUDED.state_mac,
                        last_event_hash = EXCLUDED.last_event_hash
                  WHERE snapshots.last_sequence < EXCLUDED.last_sequence
             )
             SELECT aggregate_type, aggregate_id, position FROM appended",
        ), events)
        .bind(snapshots.iter().map(|s| s.aggregate_type).collect::<Vec<_>>())
        .bind(
            snapshots
                .iter()
                .map(|s| s.aggregate_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(snapshots.iter().map(|s| s.last_sequence).collect::<Vec<_>>())
        .bind(
            snapshots
                .iter()
                .map(|s| s.current_snapshot)
                .collect::<Vec<_>>(),
        )
        .bind(
            snapshots
                .iter()
                .map(|s| s.payload.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            snapshots
                .iter()
                .map(|s| s.state_mac.as_slice())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Runs `decide` (which loads what it needs, decides, and returns the batch to append
    /// and a value) and appends its batch; when another writer took one of the streams
    /// first, decides again from fresh state, up to [`MAX_CONFLICT_ATTEMPTS`] times with
    /// jittered exponential backoff. `locks` are the streams the decision writes that are
    /// known up front: writers of this process queue on them.
    pub async fn transact<T, E, Decide, Decision>(
        &self,
        locks: &[StreamKey],
        mut decide: Decide,
    ) -> Result<(T, AppendOutcome), DecisionError<E>>
    where
        Decide: FnMut() -> Decision,
        Decision: Future<Output = Result<(AppendBatch, T), DecisionError<E>>>,
    {
        let _guards = self.lock_locally(locks).await;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(50))
            .with_jitter()
            .with_max_times(MAX_CONFLICT_ATTEMPTS - 1)
            .build();
        let mut first_attempt = true;
        loop {
            let (batch, value) = decide().await?;
            if let (true, Some(gate)) = (first_attempt, &self.decided_gate) {
                // Late or missing writers only shorten the race, never hang it.
                let _ = tokio::time::timeout(DECIDED_GATE_PATIENCE, gate.wait()).await;
            }
            first_attempt = false;
            match self.append(batch).await {
                Ok(outcome) => return Ok((value, outcome)),
                Err(AppendError::Conflict { aggregate_type }) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    let Some(delay) = delays.next() else {
                        return Err(DecisionError::Store(AppendError::Conflict {
                            aggregate_type,
                        }));
                    };
                    tracing::debug!(aggregate_type, ?delay, "conflict, deciding again");
                    tokio::time::sleep(delay).await;
                }
                Err(other) => return Err(DecisionError::Store(other)),
            }
        }
    }

    async fn lock_locally(&self, keys: &[StreamKey]) -> Vec<MutexGuard<'static, ()>> {
        if !self.local_locks {
            return Vec::new();
        }
        let mut stripes: Vec<usize> = keys
            .iter()
            .map(|key| {
                let mut hasher = DefaultHasher::new();
                key.hash(&mut hasher);
                (hasher.finish() % LOCK_STRIPES as u64) as usize
            })
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(STREAM_LOCKS[stripe].lock().await);
        }
        guards
    }
}

/// Binds `events` as the seven arrays `$1` to `$7` of the multi-row inserts.
fn bind_events<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    events: &'q [PendingEvent],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let column = |f: fn(&PendingEvent) -> &str| events.iter().map(f).collect::<Vec<_>>();
    query
        .bind(column(|e| e.aggregate_type))
        .bind(column(|e| &e.aggregate_id))
        .bind(events.iter().map(|e| e.sequence).collect::<Vec<_>>())
        .bind(column(|e| &e.event_type))
        .bind(column(|e| &e.event_version))
        .bind(column(|e| &e.payload))
        .bind(column(|e| &e.metadata))
}

/// A unique violation on the events' key (or, defensively, a deadlock or serialization
/// failure): the append lost a race and may be decided again.
fn is_conflict(error: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(
        error.code().as_deref(),
        Some("23505") | Some("40P01") | Some("40001")
    )
}

fn conflicting_type(
    error: &dyn sqlx::error::DatabaseError,
    events: &[PendingEvent],
) -> &'static str {
    let message = error.message();
    events
        .iter()
        .map(|e| e.aggregate_type)
        .find(|t| message.contains(t))
        .or_else(|| events.first().map(|e| e.aggregate_type))
        .unwrap_or("stream")
}

/// The typed store of one aggregate type, for commands on one stream.
pub struct AggregateStore<A: Aggregate> {
    events: EventStore,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> AggregateStore<A>
where
    A: Aggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
{
    pub fn new(pool: PgPool) -> Self {
        Self::with_snapshot_every(pool, DEFAULT_SNAPSHOT_EVERY)
    }

    /// `snapshot_every == 0` turns snapshots off (every load replays the whole stream).
    pub fn with_snapshot_every(pool: PgPool, snapshot_every: usize) -> Self {
        AggregateStore {
            events: EventStore::with_snapshot_every(pool, snapshot_every),
            _aggregate: PhantomData,
        }
    }

    /// Without the stream cache ([`EventStore::without_cache`]).
    pub fn without_cache(mut self) -> Self {
        self.events = self.events.without_cache();
        self
    }

    /// With a stream cache of its own ([`EventStore::with_private_cache`]).
    pub fn with_private_cache(mut self) -> Self {
        self.events = self.events.with_private_cache();
        self
    }

    pub fn pool(&self) -> &PgPool {
        self.events.pool()
    }

    /// The untyped store underneath, for decisions over several streams.
    pub fn events(&self) -> &EventStore {
        &self.events
    }

    /// The aggregate from its snapshot (when there is one) and the events after it, in one
    /// query (whatever the stream cache holds: this is what a reader of the log would see).
    pub async fn load(
        &self,
        aggregate_id: &str,
    ) -> Result<LoadedAggregate<A>, StoreError<A::Error>> {
        let mut loaded = self
            .events
            .load_from_snapshots(&[StreamKey::of::<A>(aggregate_id)])
            .await?;
        Ok(loaded.take::<A>(aggregate_id).await?.into_loaded())
    }

    /// The aggregate rebuilt from every one of its events, ignoring snapshots (read through
    /// postgres-es's repository, independently of this store's own query).
    pub async fn replay(&self, aggregate_id: &str) -> Result<A, StoreError<A::Error>> {
        let mut aggregate = A::default();
        for serialized in self
            .events
            .repo
            .get_events::<A>(aggregate_id)
            .await
            .map_err(persistence_error)?
        {
            let envelope = EventEnvelope::<A>::try_from(serialized).map_err(persistence_error)?;
            aggregate.apply(envelope.payload);
        }
        Ok(aggregate)
    }

    /// Runs `command` against the current state and commits what it decides: one query to
    /// load, one statement to append; decided again from a fresh load when another writer
    /// got there first.
    ///
    /// A command whose metadata carries an `Idempotency-Key` token ([`IDEMPOTENCY_METADATA`])
    /// that this stream's events already carry has run before (its process died before the
    /// reply was stored): it records nothing, and replies with the position of those events.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &HashMap<String, String>,
    ) -> Result<CommandOutcome<A>, StoreError<A::Error>> {
        if let Some(token) = metadata.get(IDEMPOTENCY_METADATA) {
            if let Some(position) = self.position_of_token(aggregate_id, token).await? {
                tracing::info!(
                    aggregate_type = A::TYPE,
                    aggregate_id,
                    position,
                    "command ran before with this Idempotency-Key: nothing recorded"
                );
                let loaded = self.load(aggregate_id).await?;
                return Ok(CommandOutcome {
                    aggregate: loaded.aggregate,
                    events: Vec::new(),
                    position,
                });
            }
        }
        let key = StreamKey::of::<A>(aggregate_id);
        let (events, key_ref, command_ref) = (&self.events, &key, &command);
        let result = self
            .events
            .transact(std::slice::from_ref(&key), move || {
                let command = command_ref.clone();
                async move {
                    let mut loaded = events.load(std::slice::from_ref(key_ref)).await?;
                    let mut stream = loaded.take::<A>(aggregate_id).await?;
                    stream
                        .handle(command, metadata)
                        .await
                        .map_err(DecisionError::Refused)?;
                    let mut batch = AppendBatch::default();
                    batch.add(&mut stream, events.snapshot_every)?;
                    Ok((batch, stream))
                }
            })
            .await;
        let (stream, outcome) = match result {
            Ok(done) => done,
            Err(DecisionError::Refused(error)) => return Err(StoreError::Domain(error)),
            Err(DecisionError::Store(error)) => return Err(error.into()),
        };
        let position = if outcome.events == 0 {
            stream.last_position
        } else {
            outcome.position
        };
        let envelopes = stream
            .new_events
            .into_iter()
            .zip(stream.last_sequence + 1..)
            .map(|((payload, _), sequence)| EventEnvelope {
                aggregate_id: aggregate_id.to_string(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        Ok(CommandOutcome {
            aggregate: stream.aggregate,
            events: envelopes,
            position,
        })
    }
}

impl<A> AggregateStore<A>
where
    A: Aggregate<Services = ()>,
{
    /// The position of the last event of this stream written under `token`, if any.
    async fn position_of_token(
        &self,
        aggregate_id: &str,
        token: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT max(position) FROM events
              WHERE (metadata ->> 'idempotency_key') = $1
                AND aggregate_type = $2 AND aggregate_id = $3",
        )
        .bind(token)
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_one(self.events.pool())
        .await
    }
}

fn persistence_error<E: std::error::Error>(error: PersistenceError) -> StoreError<E> {
    StoreError::Corrupt(error.to_string())
}
