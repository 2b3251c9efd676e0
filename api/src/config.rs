//! Configuration from the environment, as API.md lists it.

use std::net::SocketAddr;
use std::time::Duration;

use otop_projections::db::DEFAULT_DATABASE_URL;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Used when OTOP_JWT_SECRET is unset; fine on a laptop, announced loudly at start.
pub const DEVELOPMENT_JWT_SECRET: &str = "otop-development-secret-do-not-use-in-production";
pub const DEVELOPMENT_PAYMENT_SECRET: &str = "otop-development-payment-secret";
/// The platform's commission when OTOP_COMMISSION_BPS is unset: 500 basis points, 5%.
pub const DEFAULT_COMMISSION_BPS: u32 = 500;

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
    /// Run the checkout process manager in this process (`OTOP_RUN_CHECKOUT_PROCESS=false`
    /// to run it elsewhere). Only runs when `run_projections` is on too.
    pub run_checkout_process: bool,
    /// Where the embedded search index lives (`OTOP_INDEX_DIR`, default `otop-index`).
    pub index_dir: std::path::PathBuf,
    /// Meilisearch, when set (`MEILI_URL`); the embedded index otherwise.
    pub meili_url: Option<String>,
    /// `MEILI_MASTER_KEY` or `MEILI_API_KEY`.
    pub meili_key: Option<String>,
    /// The platform's commission on a paid order, in basis points (1/100 of a percent, at
    /// most 10000), recorded with each payment (`OTOP_COMMISSION_BPS`, default 500 = 5%).
    pub commission_bps: u32,
    /// Unpaid orders expire (and release their stock) after this long
    /// (`OTOP_PAYMENT_TIMEOUT_SECONDS`, default 30 minutes).
    pub payment_timeout: Duration,
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
        let payment_timeout = match var("OTOP_PAYMENT_TIMEOUT_SECONDS") {
            None => Duration::from_secs(30 * 60),
            Some(text) => match text.parse::<u64>() {
                Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError {
                        name: "OTOP_PAYMENT_TIMEOUT_SECONDS",
                        message: format!("{text:?} is not a positive whole number of seconds"),
                    })
                }
            },
        };
        let commission_bps = parse_commission_bps(var("OTOP_COMMISSION_BPS").as_deref())?;
        let run_checkout_process = match var("OTOP_RUN_CHECKOUT_PROCESS").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ConfigError {
                    name: "OTOP_RUN_CHECKOUT_PROCESS",
                    message: format!("{other:?} is not true or false"),
                })
            }
        };
        Ok(Config {
            index_dir: var("OTOP_INDEX_DIR")
                .unwrap_or_else(|| "otop-index".to_string())
                .into(),
            meili_url: var("MEILI_URL"),
            meili_key: var("MEILI_MASTER_KEY").or_else(|| var("MEILI_API_KEY")),
            run_projections,
            run_checkout_process,
            commission_bps,
            payment_timeout,
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind,
            jwt_secret,
            payment_secret,
            database_max_connections,
            min_position_wait: Duration::from_secs(5),
        })
    }
}

/// `OTOP_COMMISSION_BPS`: a whole number of basis points from 0 to 10000; unset is the default.
pub fn parse_commission_bps(text: Option<&str>) -> Result<u32, ConfigError> {
    let Some(text) = text else {
        return Ok(DEFAULT_COMMISSION_BPS);
    };
    match text.trim().parse::<u32>() {
        Ok(bps) if bps <= 10_000 => Ok(bps),
        _ => Err(ConfigError {
            name: "OTOP_COMMISSION_BPS",
            message: format!(
                "{text:?} is not a whole number of basis points from 0 to 10000 (500 is 5%)"
            ),
        }),
    }
}

#[cfg(test)]
mod commission_tests {
    use super::*;

    #[test]
    fn commission_bps_defaults_to_five_percent_and_refuses_more_than_all() {
        assert_eq!(parse_commission_bps(None).unwrap(), 500);
        assert_eq!(parse_commission_bps(Some("0")).unwrap(), 0);
        assert_eq!(parse_commission_bps(Some(" 750 ")).unwrap(), 750);
        assert_eq!(parse_commission_bps(Some("10000")).unwrap(), 10_000);
        for bad in ["10001", "-1", "5%", "2.5", "lots"] {
            let error = parse_commission_bps(Some(bad)).unwrap_err();
            assert_eq!(error.name, "OTOP_COMMISSION_BPS", "{bad}");
        }
    }
}
