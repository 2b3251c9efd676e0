//! Workloads for benchmarks and tests: realistic mixes of commands run through the real
//! event store, large logs written in bulk, and the benchmark suite.

pub mod bulk;
pub mod checkout;
pub mod database;
pub mod lighthouse;
pub mod load;
pub mod pages;
pub mod search;
pub mod stats;
pub mod suite;
