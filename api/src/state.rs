//! What every handler shares.

use secrecy::ExposeSecret;
use std::sync::Arc;

use otop_domain::{Listing, Order, Vendor};
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
}

impl AppState {
    pub fn new(pool: PgPool, config: Config, search: Arc<dyn SearchIndex>) -> Self {
        // Snapshots written and trusted by this process are keyed from the JWT secret.
        otop_projections::snapshot_mac::set_key(config.jwt_secret.expose_secret().as_bytes());
        AppState {
            auth: Arc::new(AuthKeys::new(config.jwt_secret.expose_secret())),
            vendors: Arc::new(AggregateStore::new(pool.clone())),
            listings: Arc::new(AggregateStore::new(pool.clone())),
            orders: Arc::new(AggregateStore::new(pool.clone())),
            events: Arc::new(EventStore::new(pool.clone())),
            config: Arc::new(config),
            search,
            pool,
        }
    }
}
