//! Configuration from the environment, as API.md lists it.

use std::net::SocketAddr;
use std::time::Duration;

use otop_projections::db::DEFAULT_DATABASE_URL;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Used when OTOP_JWT_SECRET is unset; fine on a laptop, announced loudly at start.
pub const DEVELOPMENT_JWT_SECRET: &str = "otop-development-secret-do-not-use-in-production";
pub const DEVELOPMENT_PAYMENT_SECRET: &str = "otop-development-payment-secret";

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub jwt_secret: String,
    pub payment_secret: String,
    pub database_max_connections: u32,
    /// How long `?min_position=` waits for read models before giving up.
    pub min_position_wait: Duration,
    /// Run the projection runners in this process (`OTOP_RUN_PROJECTIONS=false` to leave
    /// them to other processes).
    pub run_projections: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bind_text = var("OTOP_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string());
        let bind = bind_text.parse().map_err(|_| ConfigError {
            name: "OTOP_BIND",
            message: format!("{bind_text:?} is not an address like 127.0.0.1:8080"),
        })?;
        let jwt_secret = var("OTOP_JWT_SECRET").unwrap_or_else(|| {
            tracing::warn!("OTOP_JWT_SECRET is not set: using the development secret");
            DEVELOPMENT_JWT_SECRET.to_string()
        });
        let payment_secret = var("OTOP_PAYMENT_SECRET").unwrap_or_else(|| {
            tracing::warn!("OTOP_PAYMENT_SECRET is not set: using the development secret");
            DEVELOPMENT_PAYMENT_SECRET.to_string()
        });
        let database_max_connections = match var("OTOP_DATABASE_MAX_CONNECTIONS") {
            None => 16,
            Some(text) => text.parse().map_err(|_| ConfigError {
                name: "OTOP_DATABASE_MAX_CONNECTIONS",
                message: format!("{text:?} is not a whole number"),
            })?,
        };
        let run_projections = match var("OTOP_RUN_PROJECTIONS").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ConfigError {
                    name: "OTOP_RUN_PROJECTIONS",
                    message: format!("{other:?} is not true or false"),
                })
            }
        };
        Ok(Config {
            run_projections,
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind,
            jwt_secret,
            payment_secret,
            database_max_connections,
            min_position_wait: Duration::from_secs(5),
        })
    }
}
