//! Configuration from the environment, as API.md lists it.

use std::net::SocketAddr;
use std::time::Duration;

use otop_projections::db::DEFAULT_DATABASE_URL;
use secrecy::SecretString;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Used when OTOP_JWT_SECRET is unset, and only by `--demo` and the development commands:
/// `serve` without `--demo` refuses to start on it.
pub const DEVELOPMENT_JWT_SECRET: &str = "otop-development-secret-do-not-use-in-production";
pub const DEVELOPMENT_PAYMENT_SECRET: &str = "otop-development-payment-secret";
/// The platform's commission when OTOP_COMMISSION_BPS is unset: 500 basis points, 5%.
pub const DEFAULT_COMMISSION_BPS: u32 = 500;
/// How often the log is sealed when OTOP_SEAL_INTERVAL_SECONDS is unset.
pub const DEFAULT_SEAL_INTERVAL: Duration = Duration::from_secs(60);
/// The seal key `serve --demo` makes (in the working directory) when OTOP_SEAL_KEY_FILE is
/// unset.
pub const DEMO_SEAL_KEY_FILE: &str = "otop-seal.key";
/// The seal file's name next to the key when OTOP_SEAL_FILE is unset.
pub const DEFAULT_SEAL_FILE_NAME: &str = "otop-seals.jsonl";

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// The HS256 key of bearer tokens (`OTOP_JWT_SECRET`). Never printed: `SecretString`'s
    /// `Debug` shows a placeholder.
    pub jwt_secret: SecretString,
    /// The HMAC key of payment callbacks (`OTOP_PAYMENT_SECRET`).
    pub payment_secret: SecretString,
    /// The names of the secrets that were unset and fell back to the development ones.
    pub development_secrets: Vec<&'static str>,
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
    /// Where product photos are kept: `OTOP_PHOTO_BUCKET` (S3-compatible, with the `AWS_*`
    /// variables), else the directory `OTOP_PHOTO_DIR` (default `otop-photos`).
    pub photos: crate::photos::PhotoStorage,
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
    /// Idempotency-Keys are kept this many days, then purged (`OTOP_IDEMPOTENCY_DAYS`,
    /// default 7).
    pub idempotency_days: u32,
    /// A shopper with this many checkouts awaiting payment gets 429 for another
    /// (`OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER`, default 3; 0 turns the cap off).
    pub max_unpaid_checkouts_per_shopper: u32,
    /// Writes per caller and minute above which the caller gets 429 with `Retry-After`
    /// (`OTOP_WRITE_RATE_PER_MINUTE`, default 600; 0 turns the limit off).
    pub write_rate_per_minute: u32,
    /// How often the log is sealed (`OTOP_SEAL_INTERVAL_SECONDS`, default 60).
    pub seal_interval: Duration,
    /// The Ed25519 seal key's file (`OTOP_SEAL_KEY_FILE`): the hex seed, never in the
    /// database. Unset: no sealing (`serve` refuses to start without `--demo`; `--demo` uses
    /// [`DEMO_SEAL_KEY_FILE`]). A missing file is made by `otop_api::start`.
    pub seal_key_file: Option<std::path::PathBuf>,
    /// Where seals are appended, one JSON object a line (`OTOP_SEAL_FILE`; default
    /// [`DEFAULT_SEAL_FILE_NAME`] next to the key).
    pub seal_file: Option<std::path::PathBuf>,
    /// `serve --demo`: the pages offer `/sign-in/dev` and a "pay (demo)" button.
    pub demo: bool,
    /// The platform's PromptPay id, which the QR code of an order awaiting payment pays
    /// (`OTOP_PROMPTPAY_ID`: a 10-digit mobile number, a 13-digit tax id or a 15-digit
    /// e-wallet id). Unset: the order page says how to pay without a QR code.
    pub promptpay_id: Option<String>,
    /// Where people reach the site (`OTOP_PUBLIC_URL`, default `http://<bind>`): canonical
    /// links and the sitemap name it; an `https` address also marks the session cookie
    /// `Secure`.
    pub public_url: String,
    /// Sign-in through an OpenID Connect provider (LINE Login, ThaID, ...), when
    /// `OTOP_OIDC_ISSUER` is set.
    pub oidc: Option<OidcConfig>,
}

/// An OpenID Connect provider: `OTOP_OIDC_ISSUER` (its issuer URL, discovered at sign-in),
/// `OTOP_OIDC_CLIENT_ID`, `OTOP_OIDC_CLIENT_SECRET`, and `OTOP_OIDC_NAME` (what the sign-in
/// button says, default "OpenID Connect"). The redirect URI registered with the provider is
/// `<OTOP_PUBLIC_URL>/sign-in/oidc/callback`.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub name: String,
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
        let mut development_secrets = Vec::new();
        let mut secret = |name: &'static str, development: &str| match var(name) {
            Some(value) => SecretString::from(value),
            None => {
                development_secrets.push(name);
                SecretString::from(development.to_string())
            }
        };
        let jwt_secret = secret("OTOP_JWT_SECRET", DEVELOPMENT_JWT_SECRET);
        let payment_secret = secret("OTOP_PAYMENT_SECRET", DEVELOPMENT_PAYMENT_SECRET);
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
        let seal_key_file = var("OTOP_SEAL_KEY_FILE").map(std::path::PathBuf::from);
        if seal_key_file.is_none() {
            development_secrets.push("OTOP_SEAL_KEY_FILE");
        }
        let seal_interval = parse_seal_interval(var("OTOP_SEAL_INTERVAL_SECONDS").as_deref())?;
        let commission_bps = parse_commission_bps(var("OTOP_COMMISSION_BPS").as_deref())?;
        let whole = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(text) => text.trim().parse::<u32>().map_err(|_| ConfigError {
                    name,
                    message: format!("{text:?} is not a whole number (0 turns it off)"),
                }),
            }
        };
        let max_unpaid_checkouts_per_shopper = whole("OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER", 3)?;
        let write_rate_per_minute = whole("OTOP_WRITE_RATE_PER_MINUTE", 600)?;
        let idempotency_days = match var("OTOP_IDEMPOTENCY_DAYS") {
            None => 7,
            Some(text) => match text.trim().parse::<u32>() {
                Ok(days) if days > 0 => days,
                _ => {
                    return Err(ConfigError {
                        name: "OTOP_IDEMPOTENCY_DAYS",
                        message: format!("{text:?} is not a positive whole number of days"),
                    })
                }
            },
        };
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
        let promptpay_id = match var("OTOP_PROMPTPAY_ID") {
            None => None,
            Some(text) => Some(
                otop_domain::values::PromptPayId::parse("OTOP_PROMPTPAY_ID", &text)
                    .map_err(|error| ConfigError {
                        name: "OTOP_PROMPTPAY_ID",
                        message: error.message,
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        let public_url = var("OTOP_PUBLIC_URL")
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{bind}"));
        let oidc = match var("OTOP_OIDC_ISSUER") {
            None => None,
            Some(issuer) => {
                let required = |name: &'static str| {
                    var(name).ok_or_else(|| ConfigError {
                        name,
                        message: "must be set when OTOP_OIDC_ISSUER is".into(),
                    })
                };
                Some(OidcConfig {
                    issuer,
                    client_id: required("OTOP_OIDC_CLIENT_ID")?,
                    client_secret: SecretString::from(required("OTOP_OIDC_CLIENT_SECRET")?),
                    name: var("OTOP_OIDC_NAME").unwrap_or_else(|| "OpenID Connect".to_string()),
                })
            }
        };
        Ok(Config {
            oidc,
            demo: false,
            promptpay_id,
            public_url,
            index_dir: var("OTOP_INDEX_DIR")
                .unwrap_or_else(|| "otop-index".to_string())
                .into(),
            photos: match var("OTOP_PHOTO_BUCKET") {
                // The rest of the bucket's settings are the AWS_* variables.
                Some(bucket) => {
                    crate::photos::PhotoStorage::Bucket(crate::photos::BucketConfig::named(&bucket))
                }
                None => crate::photos::PhotoStorage::Directory(
                    var("OTOP_PHOTO_DIR")
                        .unwrap_or_else(|| "otop-photos".to_string())
                        .into(),
                ),
            },
            meili_url: var("MEILI_URL"),
            meili_key: var("MEILI_MASTER_KEY").or_else(|| var("MEILI_API_KEY")),
            run_projections,
            run_checkout_process,
            commission_bps,
            payment_timeout,
            idempotency_days,
            max_unpaid_checkouts_per_shopper,
            write_rate_per_minute,
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind,
            jwt_secret,
            payment_secret,
            development_secrets,
            database_max_connections,
            min_position_wait: Duration::from_secs(5),
            seal_interval,
            seal_key_file,
            seal_file: var("OTOP_SEAL_FILE").map(std::path::PathBuf::from),
        })
    }
}

impl Config {
    /// For a production start: an error naming every secret that is still the development
    /// one. `--demo` skips this and warns instead ([`Config::warn_development_secrets`]).
    pub fn require_production_secrets(&self) -> Result<(), ConfigError> {
        if self.development_secrets.is_empty() {
            return Ok(());
        }
        Err(ConfigError {
            name: "secrets",
            message: format!(
                "{} must be set to start without --demo (the development secrets are public, \
                 and the seal key must be a file no one else holds); set them, or run \
                 `otop serve --demo` on a laptop",
                self.development_secrets.join(" and ")
            ),
        })
    }

    /// For a production start: the seal key file must exist already (`otop seal-key FILE`
    /// makes one), so that a mistyped path never starts sealing with a new key.
    pub fn require_seal_key_file(&self) -> Result<(), ConfigError> {
        match &self.seal_key_file {
            Some(path) if !path.is_file() => Err(ConfigError {
                name: "OTOP_SEAL_KEY_FILE",
                message: format!(
                    "{} is not a file: make a key with `otop seal-key {}`",
                    path.display(),
                    path.display()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Announces, once at start, each secret that fell back to the development one.
    pub fn warn_development_secrets(&self) {
        for name in &self.development_secrets {
            if *name == "OTOP_SEAL_KEY_FILE" {
                tracing::warn!(
                    variable = name,
                    key_file = ?self.seal_key_file,
                    "not set: sealing the log with a key made for this demo (--demo only)"
                );
                continue;
            }
            tracing::warn!(
                secret = name,
                "not set: using the public development secret (--demo only)"
            );
        }
    }
}

impl Config {
    /// The seal file: `seal_file`, else [`DEFAULT_SEAL_FILE_NAME`] next to the key.
    pub fn seal_file_path(&self) -> Option<std::path::PathBuf> {
        self.seal_file.clone().or_else(|| {
            self.seal_key_file
                .as_ref()
                .map(|key| key.with_file_name(DEFAULT_SEAL_FILE_NAME))
        })
    }
}

/// `OTOP_SEAL_INTERVAL_SECONDS`: a positive whole number of seconds; unset is 60.
pub fn parse_seal_interval(text: Option<&str>) -> Result<Duration, ConfigError> {
    let Some(text) = text else {
        return Ok(DEFAULT_SEAL_INTERVAL);
    };
    match text.trim().parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => Err(ConfigError {
            name: "OTOP_SEAL_INTERVAL_SECONDS",
            message: format!("{text:?} is not a positive whole number of seconds"),
        }),
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
    use secrecy::ExposeSecret;

    #[test]
    fn secrets_never_show_in_debug_and_a_production_start_names_the_missing_ones() {
        let mut config = Config::from_env().expect("the test environment parses");
        config.jwt_secret = SecretString::from("jwt-very-secret".to_string());
        config.payment_secret = SecretString::from("pay-very-secret".to_string());
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert_eq!(config.payment_secret.expose_secret(), "pay-very-secret");

        config.development_secrets = vec!["OTOP_JWT_SECRET", "OTOP_PAYMENT_SECRET"];
        let refused = config.require_production_secrets().unwrap_err().to_string();
        assert!(
            refused.contains("OTOP_JWT_SECRET and OTOP_PAYMENT_SECRET"),
            "{refused}"
        );
        config.development_secrets.clear();
        assert!(config.require_production_secrets().is_ok());
    }

    #[test]
    fn the_seal_interval_is_positive_seconds_and_the_seal_file_sits_next_to_the_key() {
        assert_eq!(parse_seal_interval(None).unwrap(), DEFAULT_SEAL_INTERVAL);
        assert_eq!(
            parse_seal_interval(Some(" 5 ")).unwrap(),
            Duration::from_secs(5)
        );
        for bad in ["0", "-1", "1.5", "soon"] {
            let error = parse_seal_interval(Some(bad)).unwrap_err();
            assert_eq!(error.name, "OTOP_SEAL_INTERVAL_SECONDS", "{bad}");
        }
        let mut config = Config::from_env().expect("the test environment parses");
        config.seal_key_file = Some("/keys/otop-seal.key".into());
        config.seal_file = None;
        assert_eq!(
            config.seal_file_path(),
            Some(std::path::PathBuf::from("/keys/otop-seals.jsonl"))
        );
        config.seal_file = Some("/elsewhere/seals.jsonl".into());
        assert_eq!(
            config.seal_file_path(),
            Some(std::path::PathBuf::from("/elsewhere/seals.jsonl"))
        );
    }

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
