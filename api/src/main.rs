//! `otop`: serve the marketplace, migrate, seed, print development tokens.

use clap::{Parser, Subcommand};
use otop_api::auth::AuthKeys;
use otop_api::{prepare_database, seed, Config};
use otop_domain::{Actor, Role};
use otop_projections::{rebuild, ProjectionKind};
use secrecy::ExposeSecret;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "otop", version, about = "The Surin OTOP marketplace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on (default: OTOP_BIND, else 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
        /// Seed the Surin demo catalog when the store is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the database migrations.
    Migrate,
    /// Load vendors and listings through real commands (default: the Surin demo catalog).
    Seed {
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Rebuild read models from the log into fresh tables and swap them in.
    Rebuild {
        /// catalog, orders, or all.
        #[arg(default_value = "all")]
        name: String,
    },
    /// Rebuild the search index from the log (through the catalog read model) and swap it in.
    Reindex,
    /// Check the tamper-evident hash chains of the event log; exit code 1 when any event
    /// fails its check.
    Verify {
        /// Also print every aggregate's chain head (type, id, sequence, hash, tab-separated)
        /// and, last, `heads-digest` with the SHA-256 over them all: publish it daily.
        #[arg(long)]
        print_heads: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Check a list printed earlier by --print-heads (its digest, then that every head is
        /// still in the log at its sequence with its hash).
        #[arg(long, value_name = "FILE")]
        check_heads: Option<std::path::PathBuf>,
        /// Check the log against seals kept outside the database (the seal file's JSON
        /// lines, OTOP_SEAL_FILE), with the public key. Without it, the seals stored in the
        /// database are checked whenever a public key is at hand.
        #[arg(long, value_name = "FILE")]
        seals: Option<std::path::PathBuf>,
        /// The seals' Ed25519 public key (hex, as `GET /v1/audit/public-key` gives it);
        /// default: derived from OTOP_SEAL_KEY_FILE.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Make a new seal key file (readable by its owner only; never overwrites one) and print
    /// its public key. Point OTOP_SEAL_KEY_FILE at it.
    SealKey {
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Print the payment provider's callback for an order, signed now with
    /// OTOP_PAYMENT_SECRET (the development one under `serve --demo`), as a curl command.
    SignPayment {
        /// The order paid.
        #[arg(long)]
        order: Uuid,
        /// What was paid, in satang (the order's total).
        #[arg(long)]
        amount_satang: i64,
        /// The provider's reference of the payment (pays one order only).
        #[arg(long)]
        reference: String,
        /// The server to call.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Print a development token.
    Token {
        /// shopper, vendor, admin, auditor or analyst.
        #[arg(long)]
        role: String,
        /// The vendor id, for the vendor role.
        #[arg(long)]
        vendor: Option<Uuid>,
        /// The subject; a new UUID when left out.
        #[arg(long)]
        subject: Option<String>,
        /// Validity in hours: one by default, so a token pasted somewhere stops working soon.
        #[arg(long, default_value_t = 1)]
        hours: i64,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(error) = run(Cli::parse()).await {
        eprintln!("otop: {error:#}");
        std::process::exit(1);
    }
}

/// The PromptPay id of `serve --demo` when OTOP_PROMPTPAY_ID is unset.
const DEMO_PROMPTPAY_ID: &str = "0800000000";

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    match cli.command {
        Command::Serve { bind, demo } => {
            if let Some(bind) = bind {
                config.bind = bind.parse().map_err(|_| {
                    anyhow::anyhow!("--bind {bind:?} is not an address like 127.0.0.1:8080")
                })?;
            }
            if demo {
                config.demo = true;
                if config.promptpay_id.is_none() {
                    // A made-up mobile number: the demo's QR codes scan, and pay nobody.
                    config.promptpay_id = Some(DEMO_PROMPTPAY_ID.to_string());
                }
                if config.seal_key_file.is_none() {
                    config.seal_key_file = Some(otop_api::config::DEMO_SEAL_KEY_FILE.into());
                }
                config.warn_development_secrets();
            } else {
                config.require_production_secrets()?;
                config.require_seal_key_file()?;
            }
            let pool = prepare_database(&config).await?;
            if demo {
                let head = otop_projections::log::head_position(&pool).await?;
                if head == 0 {
                    let search = otop_api::open_search(&config).await?;
                    let state = otop_api::AppState::new(pool.clone(), config.clone(), search);
                    let report = seed::seed(&state, seed::DEMO_CATALOG).await?;
                    tracing::info!(?report, "seeded the Surin demo catalog");
                } else {
                    tracing::info!(log_head = head, "the store is not empty: not seeding");
                }
            }
            let server = otop_api::start(config, pool).await?;
            eprintln!(
                "otop-market listening on http://{}  (API docs: http://{}/docs)",
                server.addr, server.addr
            );
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            server.shutdown().await?;
            Ok(())
        }
        Command::Migrate => {
            prepare_database(&config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Seed { file } => {
            let catalog = match file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
                None => seed::DEMO_CATALOG.to_string(),
            };
            let pool = prepare_database(&config).await?;
            let search = otop_api::open_search(&config).await?;
            let state = otop_api::AppState::new(pool, config, search);
            let report = seed::seed(&state, &catalog).await?;
            eprintln!(
                "seeded {} vendors and {} listings ({} already present)",
                report.vendors_created, report.listings_created, report.already_present
            );
            Ok(())
        }
        Command::Rebuild { name } => {
            let kinds: Vec<ProjectionKind> = if name == "all" {
                ProjectionKind::ALL.to_vec()
            } else {
                let kind = ProjectionKind::parse(&name).ok_or_else(|| {
                    let names: Vec<_> = ProjectionKind::ALL.iter().map(|k| k.name()).collect();
                    anyhow::anyhow!(
                        "no projection {name:?}: use one of {} or all",
                        names.join(", ")
                    )
                })?;
                vec![kind]
            };
            let pool = prepare_database(&config).await?;
            // `all` reads the log once for every projection and swaps them in together.
            let started = std::time::Instant::now();
            let label = kinds
                .iter()
                .map(|kind| kind.name())
                .collect::<Vec<_>>()
                .join(", ");
            let bar = ProgressBar::new(&label);
            let report =
                rebuild::rebuild_together(&pool, &kinds, rebuild::BATCH_SIZE, |done, total| {
                    bar.show(done, total)
                })
                .await?;
            bar.finish();
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "rebuilt {label}: {} events in {seconds:.1} s ({:.0} events/s)",
                report.events_applied,
                report.events_applied as f64 / seconds.max(1e-9)
            );
            Ok(())
        }
        Command::Reindex => {
            let pool = prepare_database(&config).await?;
            let search = otop_api::open_search(&config).await?;
            let started = std::time::Instant::now();
            let bar = ProgressBar::new("reindex");
            bar.show(0, 1);
            let listings = otop_projections::search_feed::reindex(&pool, search.as_ref()).await?;
            bar.show(1, 1);
            bar.finish();
            eprintln!(
                "reindexed {listings} searchable listings into the {} index in {:.1} s",
                search.backend(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::SealKey { file } => {
            let key = otop_projections::seal::SealKey::generate()?;
            key.write_new(&file)?;
            let public = key.public();
            eprintln!("made the seal key {}", file.display());
            println!("public_key\t{}\nkey_id\t{}", public.hex(), public.key_id());
            Ok(())
        }
        Command::Verify {
            print_heads,
            json,
            check_heads,
            seals,
            public_key,
        } => {
            // Read only: no migration, no database created.
            let pool = otop_projections::db::connect(&config.database_url, 2).await?;
            let started = std::time::Instant::now();
            let report = otop_projections::audit::verify_with_heads(&pool, |head| {
                if print_heads {
                    println!("{}", head.line());
                }
            })
            .await?;
            if print_heads {
                println!("heads-digest\t{}", report.heads_digest);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for problem in &report.problems {
                    eprintln!("{problem}");
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "checked {} events in {} aggregates in {seconds:.1} s ({:.0} events/s): {}",
                report.events_checked,
                report.aggregates_checked,
                report.events_checked as f64 / seconds.max(1e-9),
                if report.is_intact() {
                    "intact".to_string()
                } else {
                    format!(
                        "{} problem(s){}",
                        report.problems.len(),
                        if report.problems_truncated {
                            " (list truncated)"
                        } else {
                            ""
                        }
                    )
                }
            );
            let mut broken_heads = 0;
            if let Some(path) = check_heads {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                let heads = otop_projections::audit::parse_heads(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let broken = otop_projections::audit::check_heads(&pool, &heads).await?;
                for head in &broken {
                    eprintln!("published head no longer in the log: {}", head.line());
                }
                eprintln!(
                    "{} of {} published heads still in the log",
                    heads.len() - broken.len(),
                    heads.len()
                );
                broken_heads = broken.len();
            }
            let seal_problems = check_seals(
                &pool,
                &config,
                seals.as_deref(),
                public_key.as_deref(),
                json,
            )
            .await?;
            if !report.is_intact() || broken_heads > 0 || seal_problems > 0 {
                anyhow::bail!("the event log fails its tamper-evidence check");
            }
            Ok(())
        }
        Command::SignPayment {
            order,
            amount_satang,
            reference,
            base_url,
        } => {
            let body = serde_json::to_string(&serde_json::json!({
                "order_id": order,
                "amount_satang": amount_satang,
                "reference": reference,
            }))?;
            let header = otop_api::routes::payments::signature_header(
                config.payment_secret.expose_secret().as_bytes(),
                chrono::Utc::now().timestamp(),
                body.as_bytes(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            // Single-quoted for the shell; the body holds no single quote unless the
            // reference does, which is escaped.
            let quoted = body.replace('\'', "'\\''");
            println!(
                "curl -s -X POST {base_url}/v1/orders/{order}/payments \\\n  -H 'Content-Type: application/json' \\\n  -H 'X-Otop-Signature: {header}' \\\n  -d '{quoted}'"
            );
            eprintln!("signed now: good for 300 s");
            Ok(())
        }
        Command::Token {
            role,
            vendor,
            subject,
            hours,
        } => {
            let role = match Role::parse(&role) {
                Some(Role::System) | None => {
                    anyhow::bail!("--role {role:?}: use shopper, vendor, admin, auditor or analyst")
                }
                Some(role) => role,
            };
            let subject = subject.unwrap_or_else(|| Uuid::now_v7().to_string());
            let actor = match (role, vendor) {
                (Role::Vendor, Some(vendor_id)) => Actor::vendor(subject, vendor_id),
                (Role::Vendor, None) => anyhow::bail!("a vendor token needs --vendor VENDOR_ID"),
                (role, _) => Actor::new(subject, role),
            };
            if config.development_secrets.contains(&"OTOP_JWT_SECRET") {
                eprintln!("otop token: OTOP_JWT_SECRET is not set; signing with the development secret (accepted only by `otop serve --demo`)");
            }
            let keys = AuthKeys::new(config.jwt_secret.expose_secret());
            let token = keys
                .issue(&actor, chrono::Duration::hours(hours))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
            Ok(())
        }
    }
}

/// The public key of `--public-key`, else the one of OTOP_SEAL_KEY_FILE, if any.
fn seal_public_key(
    config: &Config,
    hex: Option<&str>,
) -> anyhow::Result<Option<otop_projections::seal::PublicKey>> {
    use otop_projections::seal::{PublicKey, SealKey};
    if let Some(hex) = hex {
        return PublicKey::from_hex(hex)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--public-key: {e}"));
    }
    match &config.seal_key_file {
        Some(path) => Ok(Some(SealKey::load(path)?.public())),
        None => Ok(None),
    }
}

/// `otop verify`'s seal check: the seals of `file` (or, without it, those stored in the
/// database) against the log. Returns how many problems were found.
async fn check_seals(
    pool: &sqlx::PgPool,
    config: &Config,
    file: Option<&std::path::Path>,
    public_key: Option<&str>,
    json: bool,
) -> anyhow::Result<usize> {
    use otop_projections::seal;
    let key = seal_public_key(config, public_key)?;
    let (report, from) = match (file, key) {
        (Some(path), Some(key)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            let report = seal::check_seal_file_text(pool, &text, &key)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            (report, path.display().to_string())
        }
        (Some(_), None) => {
            anyhow::bail!("--seals needs the public key: --public-key HEX, or OTOP_SEAL_KEY_FILE")
        }
        (None, Some(key)) => (
            seal::check_stored_seals(pool, &key).await?,
            "the database".to_string(),
        ),
        (None, None) => return Ok(0),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    for problem in &report.seal_problems {
        eprintln!("{problem}");
    }
    eprintln!(
        "checked {} seals from {from} (up to position {}): {}",
        report.seals_checked,
        report.latest_sealed_position.unwrap_or(0),
        if report.is_intact() {
            "intact".to_string()
        } else {
            format!("{} problem(s)", report.seal_problems.len())
        }
    );
    Ok(report.seal_problems.len())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressBar {
    label: String,
    on_terminal: bool,
}

impl ProgressBar {
    fn new(label: &str) -> Self {
        use std::io::IsTerminal;
        ProgressBar {
            label: label.to_string(),
            on_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: u64, total: u64) {
        if !self.on_terminal {
            return;
        }
        const WIDTH: u64 = 40;
        let filled = (done * WIDTH)
            .checked_div(total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        eprint!(
            "\r{:<8} [{}{}] {percent:>3}% {done}/{total} events",
            self.label,
            "#".repeat(filled as usize),
            "-".repeat((WIDTH - filled) as usize),
        );
    }

    fn finish(&self) {
        if self.on_terminal {
            eprintln!();
        }
    }
}
