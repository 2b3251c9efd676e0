//! The write side of the log: loads aggregates from their snapshot plus the events after it,
//! and commits new events together with a fresh snapshot in one transaction.
//!
//! Why not cqrs-es's `PersistedEventStore` in snapshot mode: in cqrs-es 0.5.0 the aggregate
//! handed to `commit` has already applied the new events (`EventSink::write` applies them),
//! and `commit` applies them once more before serialising the snapshot, so every snapshot
//! counts its last batch twice. postgres-es 0.5.0's snapshot update also commits the events
//! before it checks that the snapshot row was updated, and reports a conflict for events that
//! are in fact stored. This store keeps postgres-es's tables and its repository for reading,
//! and writes events and snapshot itself: the snapshot is the aggregate exactly as it stands
//! after the new events, written in the same transaction, and `RETURNING position` gives the
//! command its place in the global log.

use std::collections::HashMap;
use std::marker::PhantomData;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, PersistenceError};
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

/// How many commands a command is tried before a conflict is reported to the caller.
pub const MAX_CONFLICT_ATTEMPTS: usize = 8;

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
}

pub struct AggregateStore<A: Aggregate> {
    pool: PgPool,
    repo: PostgresEventRepository,
    snapshot_every: usize,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> AggregateStore<A>
where
    A: Aggregate<Services = ()>,
    A::Command: Clone,
{
    pub fn new(pool: PgPool) -> Self {
        Self::with_snapshot_every(pool, DEFAULT_SNAPSHOT_EVERY)
    }

    /// `snapshot_every == 0` turns snapshots off (every load replays the whole stream).
    pub fn with_snapshot_every(pool: PgPool, snapshot_every: usize) -> Self {
        AggregateStore {
            repo: PostgresEventRepository::new(pool.clone()),
            pool,
            snapshot_every,
            _aggregate: PhantomData,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The aggregate from its snapshot (when there is one) and the events after it.
    pub async fn load(
        &self,
        aggregate_id: &str,
    ) -> Result<LoadedAggregate<A>, StoreError<A::Error>> {
        let mut context = self.load_snapshot(aggregate_id).await?;
        let events = self
            .repo
            .get_last_events::<A>(aggregate_id, context.current_sequence)
            .await
            .map_err(persistence_error)?;
        let events_replayed = events.len();
        for serialized in events {
            let envelope = EventEnvelope::<A>::try_from(serialized).map_err(persistence_error)?;
            context.current_sequence = envelope.sequence;
            context.aggregate.apply(envelope.payload);
        }
        Ok(LoadedAggregate {
            aggregate: context.aggregate,
            last_sequence: context.current_sequence,
            snapshot_count: context.current_snapshot,
            events_replayed,
        })
    }

    /// The aggregate rebuilt from every one of its events, ignoring snapshots.
    pub async fn replay(&self, aggregate_id: &str) -> Result<A, StoreError<A::Error>> {
        let mut aggregate = A::default();
        for serialized in self
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

    async fn load_snapshot(
        &self,
        aggregate_id: &str,
    ) -> Result<EventStoreAggregateContext<A>, StoreError<A::Error>> {
        let empty = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate: A::default(),
            current_sequence: 0,
            current_snapshot: None,
        };
        if self.snapshot_every == 0 {
            return Ok(empty);
        }
        let Some(snapshot) = self
            .repo
            .get_snapshot::<A>(aggregate_id)
            .await
            .map_err(persistence_error)?
        else {
            return Ok(empty);
        };
        match EventStoreAggregateContext::<A>::try_from(snapshot) {
            Ok(context) => Ok(context),
            Err(error) => {
                // A snapshot written by an older shape of the aggregate: the log is the truth,
                // so replay it in full; the next commit writes a fresh snapshot.
                tracing::warn!(aggregate_type = A::TYPE, aggregate_id, %error, "unreadable snapshot ignored");
                Ok(empty)
            }
        }
    }

    /// Runs `command` against the current state and commits what it decides, retrying from a
    /// fresh load when another writer got there first.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &HashMap<String, String>,
    ) -> Result<CommandOutcome<A>, StoreError<A::Error>> {
        for attempt in 1..=MAX_CONFLICT_ATTEMPTS {
            let loaded = self.load(aggregate_id).await?;
            let mut aggregate = loaded.aggregate;
            let sink = EventSink::<A>::default();
            aggregate
                .handle(command.clone(), &(), &sink)
                .await
                .map_err(StoreError::Domain)?;
            let events = sink.collect().await;
            match self
                .commit(
                    aggregate_id,
                    aggregate,
                    loaded.last_sequence,
                    loaded.snapshot_count,
                    events,
                    metadata,
                )
                .await
            {
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(
                        aggregate_type = A::TYPE,
                        aggregate_id,
                        attempt,
                        "conflict, retrying"
                    );
                    continue;
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict {
            aggregate_type: A::TYPE,
        })
    }

    /// Appends `events` after `last_sequence`. `aggregate` must already have applied them
    /// (as cqrs-es's `EventSink` does); it becomes the snapshot when one is due.
    async fn commit(
        &self,
        aggregate_id: &str,
        aggregate: A,
        last_sequence: usize,
        snapshot_count: Option<usize>,
        events: Vec<A::Event>,
        metadata: &HashMap<String, String>,
    ) -> Result<CommandOutcome<A>, StoreError<A::Error>> {
        if events.is_empty() {
            let position = self.last_position(aggregate_id).await?;
            return Ok(CommandOutcome {
                aggregate,
                events: Vec::new(),
                position,
            });
        }
        let envelopes: Vec<EventEnvelope<A>> = events
            .into_iter()
            .zip(last_sequence + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: aggregate_id.to_string(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        let new_last_sequence = last_sequence + envelopes.len();

        let mut sequences = Vec::with_capacity(envelopes.len());
        let mut event_types = Vec::with_capacity(envelopes.len());
        let mut event_versions = Vec::with_capacity(envelopes.len());
        let mut payloads = Vec::with_capacity(envelopes.len());
        let metadata_json =
            serde_json::to_string(metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for envelope in &envelopes {
            sequences.push(envelope.sequence as i64);
            event_types.push(envelope.payload.event_type());
            event_versions.push(envelope.payload.event_version());
            payloads.push(
                serde_json::to_string(&envelope.payload)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        let metadatas = vec![metadata_json; envelopes.len()];

        let mut tx = self.pool.begin().await?;
        let inserted: Result<Vec<i64>, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::json, e.metadata::json
               FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
                    AS e(sequence, event_type, event_version, payload, metadata)
             RETURNING position",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(&sequences)
        .bind(&event_types)
        .bind(&event_versions)
        .bind(&payloads)
        .bind(&metadatas)
        .fetch_all(&mut *tx)
        .await;
        let positions = match inserted {
            Ok(positions) => positions,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::Conflict {
                    aggregate_type: A::TYPE,
                })
            }
            Err(other) => return Err(other.into()),
        };

        let snapshot_due = self.snapshot_every > 0
            && new_last_sequence / self.snapshot_every > last_sequence / self.snapshot_every;
        if snapshot_due {
            let payload = serde_json::to_string(&aggregate)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let next_count = snapshot_count.map_or(1, |count| count + 1) as i64;
            sqlx::query(
                "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
                 VALUES ($1, $2, $3, $4, $5::json)
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                   SET last_sequence = EXCLUDED.last_sequence,
                       current_snapshot = EXCLUDED.current_snapshot,
                       payload = EXCLUDED.payload
                   WHERE snapshots.last_sequence < EXCLUDED.last_sequence",
            )
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(new_last_sequence as i64)
            .bind(next_count)
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        let position = positions.into_iter().max().unwrap_or_default();
        Ok(CommandOutcome {
            aggregate,
            events: envelopes,
            position,
        })
    }

    async fn last_position(&self, aggregate_id: &str) -> Result<i64, StoreError<A::Error>> {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT max(position) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(position.unwrap_or(0))
    }
}

fn persistence_error<E: std::error::Error>(error: PersistenceError) -> StoreError<E> {
    StoreError::Corrupt(error.to_string())
}
