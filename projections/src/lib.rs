//! The PostgreSQL side of the marketplace: the event store that aggregates are loaded from and
//! committed to, the hole-free log reader, and the projections that keep the read models.

pub mod audit;
pub mod checkout;
pub mod checkpoint;
pub mod db;
pub mod event_store;
pub mod log;
pub mod log_signal;
pub mod merkle;
pub mod payment;
mod per_database;
pub mod process_manager;
pub mod projection;
pub mod read_models;
pub mod rebuild;
pub mod runner;
pub mod seal;
pub mod search_feed;
pub mod snapshot_mac;
pub mod stream_cache;
pub mod wait;

pub use event_store::{
    AggregateStore, AppendBatch, AppendError, AppendOutcome, CommandOutcome, DecisionError,
    EventStore, StoreError, Stream, StreamKey,
};
pub use log::{LogCursor, RecordedEvent};
pub use projection::{BatchMode, Projection, ProjectionError};
pub use read_models::ProjectionKind;
