//! The PostgreSQL side of the marketplace: the event store that aggregates are loaded from and
//! committed to, and the hole-free log reader that projections consume.

pub mod db;
pub mod event_store;
pub mod log;

pub use event_store::{AggregateStore, CommandOutcome, StoreError};
pub use log::{LogCursor, RecordedEvent};
