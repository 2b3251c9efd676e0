//! What every handler shares.

use secrecy::ExposeSecret;
use std::sync::Arc;

use otop_domain::{Listing, Order, Vendor};
use otop_projections::seal::SealKey;
use otop_projections::{AggregateStore, EventStore};
use otop_search::SearchIndex;
use sqlx::PgPool;

use crate::auth::AuthKeys;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub auth: Arc<AuthKeys>,
    pub vendors: Arc<AggregateStore<Vendor>>,
    pub listings: Arc<AggregateStore<Listing>>,
    pub orders: Arc<AggregateStore<Order>>,
    /// The untyped store, for decisions over several streams (a checkout).
    pub events: Arc<EventStore>,
    pub search: Arc<dyn SearchIndex>,
    /// Product photos (`OTOP_PHOTO_DIR` or `OTOP_PHOTO_BUCKET`), opened on first use.
    pub photos: Arc<crate::photos::PhotoStore>,
    /// `OTOP_WRITE_RATE_PER_MINUTE` per caller.
    pub write_limiter: crate::limits::WriteLimiter,
    /// One verify of the whole log at a time.
    pub verify_gate: Arc<tokio::sync::Semaphore>,
    /// The seal key and file, when sealing is configured (set by `otop_api::start`).
    pub seals: Option<Arc<Sealing>>,
}

/// What the seal task and the seal routes share.
#[derive(Debug)]
pub struct Sealing {
    pub key: Arc<SealKey>,
    pub file: std::path::PathBuf,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config, search: Arc<dyn SearchIndex>) -> Self {
        // Snapshots written and trusted by this process are keyed from the JWT secret.
        otop_projections::snapshot_mac::set_key(config.jwt_secret.expose_secret().as_bytes());
        let config_write_rate = config.write_rate_per_minute;
        AppState {
            auth: Arc::new(AuthKeys::new(config.jwt_secret.expose_secret())),
            vendors: Arc::new(AggregateStore::new(pool.clone())),
            listings: Arc::new(AggregateStore::new(pool.clone())),
            orders: Arc::new(AggregateStore::new(pool.clone())),
            events: Arc::new(EventStore::new(pool.clone())),
            photos: Arc::new(crate::photos::PhotoStore::new(config.photos.clone())),
            config: Arc::new(config),
            write_limiter: crate::limits::write_limiter(config_write_rate),
            verify_gate: crate::limits::verify_gate(),
            search,
            seals: None,
            pool,
        }
    }
}
