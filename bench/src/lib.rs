//! Workloads for benchmarks and tests: realistic mixes of commands run through the real
//! event store.

pub mod checkout;
pub mod load;
pub mod search;
