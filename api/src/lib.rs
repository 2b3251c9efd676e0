//! The otop-market JSON API: routes, bearer-token extractors, problem documents,
//! idempotency, and the composition root that the `otop` binary and the end-to-end tests
//! both start. What a request does once it is read is `otop_app`'s, shared with the pages.

pub mod auth;
pub mod extract;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod seed;
pub mod server;
pub mod vendor_standing;

// The composition root hands out the application's configuration and state as its own, so
// the binary, the tests and the bench build a server from one place.
pub use otop_app::{config, photos, state, AppState, Config};
pub use server::{open_search, prepare_database, router, start, RunningServer};
