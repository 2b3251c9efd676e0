//! The otop-market HTTP API: routes, auth, errors, idempotency, and the composition root that
//! the `otop` binary and the end-to-end tests both start.

pub mod auth;
pub mod config;
pub mod extract;
pub mod idempotency;
pub mod limits;
pub mod problem;
pub mod read_your_writes;
pub mod routes;
pub mod search_feed;
pub mod seed;
pub mod server;
pub mod state;
pub mod vendor_standing;

pub use config::Config;
pub use server::{open_search, prepare_database, router, start, RunningServer};
pub use state::AppState;
