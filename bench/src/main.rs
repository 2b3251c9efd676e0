//! `otop-bench`: measures the marketplace on this machine, side by side with its baselines.
//!
//! `otop-bench suite [--size smoke]` is the one run that produces every figure the product is
//! judged on (see `suite.rs`); the other subcommands measure one part in more depth.
//!
//! `otop-bench read-side --events 100000` starts from a fresh database, generates a realistic
//! log, and reports: the raw rate of reading and deserialising the log, the rebuild rate of
//! every projection over the same events, and p50/p99 from a command's reply to its
//! visibility in the read model under a steady command load.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use otop_bench::database::BenchDatabase;
use otop_bench::load::{generate, Stores};
use otop_bench::stats::{ms, percentile};
use otop_bench::suite::{self, Scale};
use otop_domain::listing::StockChange;
use otop_domain::{Actor, ListingCommand};
use otop_projections::log::LogCursor;
use otop_projections::rebuild::{rebuild, rebuild_together};
use otop_projections::runner::{self, RunnerSettings};
use otop_projections::ProjectionKind;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "otop-bench", about = "Benchmarks of the otop marketplace")]
struct Cli {
    /// The PostgreSQL server; a fresh database is made on it for every run and dropped after.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    server: String,
    /// Where to write the JSON report (the markdown table goes to stdout).
    #[arg(long, default_value = "target/bench-report.json")]
    json: std::path::PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Size {
    /// 100k listings, 1M events for the read side, 1M paid orders, 10 s per measure.
    Full,
    /// A fifth of full: 20k listings, 200k events, 200k paid orders.
    Medium,
    /// A few thousand of everything: checks that the report is complete, not the speed.
    Smoke,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one run on one fresh database: the write path beside the bare store
    /// and the machine's commit limit, freshness, search, read side, audit, analytics and
    /// the API process's memory. Fails when any figure is missing.
    Suite {
        #[arg(long, value_enum, default_value = "full")]
        size: Size,
        /// The `otop` binary to run as the API process (default: next to this binary).
        #[arg(long, env = "OTOP_BIN")]
        otop: Option<std::path::PathBuf>,
    },
    /// Analytics alone: the sales query, the top listings and the analysts' dashboard through
    /// HTTP over `paid_orders` paid orders (what the suite's analytics section measures).
    Analytics {
        #[arg(long, default_value_t = 1_000_000)]
        paid_orders: usize,
        #[arg(long, default_value_t = 100_000)]
        listings: usize,
        #[arg(long, default_value_t = 100)]
        repeats: usize,
        #[arg(long, env = "OTOP_BIN")]
        otop: Option<std::path::PathBuf>,
    },
    /// The write path alone (the suite's commands and freshness sections): single-row commits
    /// and the bare append, then price changes, checkouts and the flash sale through HTTP.
    WritePath {
        /// Listings in the catalog beside the shop the commands run on.
        #[arg(long, default_value_t = 1_200)]
        listings: usize,
        /// Seconds of each throughput measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, env = "OTOP_BIN")]
        otop: Option<std::path::PathBuf>,
    },
    /// Checkouts per second through HTTP beside the bare postgres-es append rate, and on a
    /// listing with 10,000 past orders beside a fresh one.
    Checkout {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Past orders on the busy listing.
        #[arg(long, default_value_t = 10_000)]
        busy_orders: usize,
    },
    /// Search p50/p99 on the embedded index directly and through HTTP, and indexing rate.
    Search {
        #[arg(long, default_value_t = 100_000)]
        listings: usize,
        /// Times each query of the mix is run.
        #[arg(long, default_value_t = 100)]
        repeats: usize,
    },
    /// Lighthouse's scores (median of `rounds`) of the home, search and product pages of a
    /// running server (`otop serve --demo`), and of any `--path` given; needs
    /// `npm ci --prefix bench/lighthouse` and Chromium.
    Lighthouse {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// More pages to audit, as paths.
        #[arg(long)]
        path: Vec<String>,
        /// A `Cookie` header sent with the extra paths (a signed-in session, for the staff's
        /// pages: `otop_session=...`).
        #[arg(long)]
        cookie: Option<String>,
        #[arg(long, env = "CHROME_PATH", default_value = "/usr/bin/chromium")]
        chrome: std::path::PathBuf,
        /// The `lighthouse` script (default: `bench/lighthouse/node_modules/.bin/lighthouse`).
        #[arg(long)]
        lighthouse: Option<std::path::PathBuf>,
    },
    /// Log read rate, projection rebuild rate, command-to-read-model freshness.
    ReadSide {
        /// How many events to generate.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// How long to measure freshness, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Measure on this database, kept by an earlier run (`BENCH_KEEP_DATABASE=1`),
        /// instead of generating a log: the rebuilds can then be compared run after run on
        /// the same events. The database is left in place.
        #[arg(long)]
        reuse_database: Option<String>,
        /// Events per batch of each rebuild.
        #[arg(long, default_value_t = otop_projections::rebuild::BATCH_SIZE)]
        rebuild_batch: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Suite { size, otop } => {
            let scale = match size {
                Size::Full => Scale::FULL,
                Size::Medium => Scale::MEDIUM,
                Size::Smoke => Scale::SMOKE,
            };
            let otop = otop_binary(otop)?;
            let output = suite::run(&cli.server, scale, &otop).await?;
            Report {
                markdown: output.markdown,
                json: output.json,
            }
        }
        Command::Analytics {
            paid_orders,
            listings,
            repeats,
            otop,
        } => {
            let otop = otop_binary(otop)?;
            let (json, markdown) =
                suite::analytics_only(&cli.server, listings, paid_orders, repeats, &otop).await?;
            Report { markdown, json }
        }
        Command::WritePath {
            listings,
            seconds,
            otop,
        } => {
            let otop = otop_binary(otop)?;
            let (json, markdown) =
                suite::write_path_only(&cli.server, listings, seconds, &otop).await?;
            Report { markdown, json }
        }
        Command::ReadSide {
            events,
            seconds,
            reuse_database,
            rebuild_batch,
        } => {
            read_side(
                &cli.server,
                events,
                seconds,
                reuse_database.as_deref(),
                rebuild_batch,
            )
            .await?
        }
        Command::Checkout {
            seconds,
            busy_orders,
        } => checkout(&cli.server, seconds, busy_orders).await?,
        Command::Search { listings, repeats } => search(&cli.server, listings, repeats).await?,
        Command::Lighthouse {
            base,
            rounds,
            path,
            cookie,
            chrome,
            lighthouse,
        } => {
            let tools = otop_bench::lighthouse::Tools {
                lighthouse: lighthouse.unwrap_or_else(otop_bench::lighthouse::default_lighthouse),
                chrome,
            };
            lighthouse_pages(tools, &base, rounds, path, cookie).await?
        }
    };
    println!("{}", report.markdown);
    if let Some(parent) = cli.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&cli.json, serde_json::to_string_pretty(&report.json)?)?;
    eprintln!("JSON report written to {}", cli.json.display());
    Ok(())
}

/// The `otop` binary given, or the one next to this binary.
fn otop_binary(given: Option<std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => Ok(std::env::current_exe()?.with_file_name("otop")),
    }
}

async fn checkout(server: &str, seconds: u64, busy_orders: usize) -> anyhow::Result<Report> {
    let db = BenchDatabase::create(server).await?;
    let url = {
        let options = PgConnectOptions::from_str(server)?.database(&db.name);
        options.to_url_lossy().to_string()
    };
    let figures = otop_bench::checkout::run(&db.pool, &url, seconds, busy_orders).await?;
    let rate = figures.checkouts as f64 / figures.seconds;
    let events_rate = figures.checkout_events as f64 / figures.seconds;
    let markdown = format!(
        "## Checkout (8 shoppers, 2 vendors x 2 lines)\n\n\
         | measure | value | ratio |\n|---|---|---|\n\
         | checkouts through HTTP | {rate:.1} checkouts/s ({events_rate:.0} events/s, {} events) | |\n\
         | bare postgres-es append, same event count, 8 writers | {:.0} events/s | checkout events / bare = {:.2} |\n\
         | checkouts on a listing with {busy_orders} past orders | {:.1} checkouts/s | busy / fresh = {:.2} |\n\
         | checkouts on a fresh listing | {:.1} checkouts/s | |\n\
         | loading the listing with {busy_orders} past orders, p50 / p99 | {:.2} / {:.2} ms | busy / fresh p50 = {:.2} |\n\
         | loading the fresh listing, p50 / p99 | {:.2} / {:.2} ms | |\n",
        figures.checkout_events,
        figures.bare_events_per_second,
        events_rate / figures.bare_events_per_second,
        figures.busy_listing_rate,
        figures.busy_listing_rate / figures.fresh_listing_rate,
        figures.fresh_listing_rate,
        figures.busy_load_ms.0,
        figures.busy_load_ms.1,
        figures.busy_load_ms.0 / figures.fresh_load_ms.0,
        figures.fresh_load_ms.0,
        figures.fresh_load_ms.1,
    );
    let json = json!({"checkout": {
        "checkouts_per_second": rate,
        "checkout_events_per_second": events_rate,
        "bare_append_events_per_second": figures.bare_events_per_second,
        "busy_listing_checkouts_per_second": figures.busy_listing_rate,
        "fresh_listing_checkouts_per_second": figures.fresh_listing_rate,
        "busy_orders": busy_orders,
        "busy_listing_load_ms": {"p50": figures.busy_load_ms.0, "p99": figures.busy_load_ms.1},
        "fresh_listing_load_ms": {"p50": figures.fresh_load_ms.0, "p99": figures.fresh_load_ms.1},
    }});
    db.drop_unless_kept().await?;
    Ok(Report { markdown, json })
}

async fn search(server: &str, listings: usize, repeats: usize) -> anyhow::Result<Report> {
    let db = BenchDatabase::create(server).await?;
    let url = PgConnectOptions::from_str(server)?
        .database(&db.name)
        .to_url_lossy()
        .to_string();
    let dir = std::env::temp_dir().join(format!("{}-index", db.name));
    let figures = otop_bench::search::run(&url, &db.pool, listings, repeats, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let figures = figures?;
    let mut markdown = format!(
        "## Search ({} listings, embedded index)\n\n\
         | measure | value |\n|---|---|\n\
         | indexing, full rebuild | {:.0} documents/s |\n\
         | indexing, batches of 500 | {:.0} documents/s |\n\n\
         | query ({repeats} runs each) | direct p50 | direct p99 | HTTP p50 | HTTP p99 |\n|---|---|---|---|---|\n",
        figures.documents, figures.rebuild_docs_per_second, figures.batch_docs_per_second
    );
    let mut queries = Vec::new();
    for (name, direct50, direct99, http50, http99) in &figures.queries {
        markdown.push_str(&format!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |\n",
            ms(*direct50),
            ms(*direct99),
            ms(*http50),
            ms(*http99)
        ));
        queries.push(json!({"query": name, "direct_p50_ms": ms(*direct50), "direct_p99_ms": ms(*direct99), "http_p50_ms": ms(*http50), "http_p99_ms": ms(*http99)}));
    }
    markdown.push('\n');
    let (compared_markdown, compared_json) = compared_section(&figures.compared);
    markdown.push_str(&compared_markdown);
    markdown.push_str(&figures.pages.markdown);
    let json = json!({"pages": figures.pages.json, "compared": compared_json, "search": {
        "listings": figures.documents,
        "rebuild_documents_per_second": figures.rebuild_docs_per_second,
        "batch_documents_per_second": figures.batch_docs_per_second,
        "queries": queries,
    }});
    db.drop_unless_kept().await?;
    Ok(Report { markdown, json })
}

/// The table of [`otop_bench::search::ComparedFigures`]: each backend's p50, p99 and hits,
/// and each baseline's p99 over the product's.
fn compared_section(compared: &otop_bench::search::ComparedFigures) -> (String, serde_json::Value) {
    let growth = compared.index_bytes as f64 / compared.literal_index_bytes.max(1) as f64;
    let mut markdown = format!(
        "### The embedded index beside its baselines, directly, run by run in turn\n\n\
         The literal baseline is the same documents in an index built with \
         `Matching::Literal`: search as it was before forgiving matching (issue 16). A \
         forgiving query's \"as spelt\" is the query it stands for, typed as the catalog \
         spells it (a district as the filter), on the literal index: what a shopper had \
         to type before to find the same listings. \
         Index on disk: {:.1} MiB, literal {:.1} MiB ({growth:.2}×).\n\n| query |",
        compared.index_bytes as f64 / 1_048_576.0,
        compared.literal_index_bytes as f64 / 1_048_576.0,
    );
    let mut rule = String::from("|---|");
    for (at, backend) in compared.backends.iter().enumerate() {
        markdown.push_str(&format!(" {backend} p50 | p99 | hits |"));
        rule.push_str("---|---|---|");
        if at > 0 {
            markdown.push_str(" embedded p99 / this p99 |");
            rule.push_str("---|");
        }
    }
    markdown.push_str(" as spelt, literal p50 | p99 | hits | embedded p99 / this p99 |");
    rule.push_str("---|---|---|---|");
    markdown.push_str(&format!("\n{rule}\n"));
    let mut queries = Vec::new();
    for query in &compared.queries {
        markdown.push_str(&format!("| {} |", query.name));
        let product_p99 = query.backends.first().map_or(0.0, |figures| ms(figures.1));
        let mut backends = serde_json::Map::new();
        for (backend, (p50, p99, hits)) in compared.backends.iter().zip(&query.backends) {
            markdown.push_str(&format!(
                " {:.2} ms | {:.2} ms | {hits} |",
                ms(*p50),
                ms(*p99)
            ));
            let mut figures = json!({"p50_ms": ms(*p50), "p99_ms": ms(*p99), "hits": hits});
            if backend != &compared.backends[0] {
                let ratio = product_p99 / ms(*p99).max(f64::MIN_POSITIVE);
                markdown.push_str(&format!(" {ratio:.2} |"));
                figures["embedded_p99_ratio"] = json!(ratio);
            }
            backends.insert(backend.clone(), figures);
        }
        let spelt = match query.spelt_out {
            Some((p50, p99, hits)) => {
                let ratio = product_p99 / ms(p99).max(f64::MIN_POSITIVE);
                markdown.push_str(&format!(
                    " {:.2} ms | {:.2} ms | {hits} | {ratio:.2} |",
                    ms(p50),
                    ms(p99)
                ));
                json!({"p50_ms": ms(p50), "p99_ms": ms(p99), "hits": hits, "embedded_p99_ratio": ratio})
            }
            None => {
                markdown.push_str(" | | | |");
                serde_json::Value::Null
            }
        };
        markdown.push('\n');
        queries.push(
            json!({"query": query.name, "backends": backends, "spelt_out_on_literal": spelt}),
        );
    }
    markdown.push('\n');
    let json = json!({
        "index_bytes": compared.index_bytes,
        "literal_index_bytes": compared.literal_index_bytes,
        "index_growth": growth,
        "queries": queries,
    });
    (markdown, json)
}

/// The storefront's three kinds of page (a product of the catalog the server holds) and the
/// extra paths, audited by Lighthouse.
async fn lighthouse_pages(
    tools: otop_bench::lighthouse::Tools,
    base: &str,
    rounds: usize,
    extra: Vec<String>,
    cookie: Option<String>,
) -> anyhow::Result<Report> {
    use otop_bench::lighthouse::PageToAudit;
    let base = base.trim_end_matches('/');
    let found: serde_json::Value = reqwest::get(format!("{base}/v1/search?per_page=1"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let product = found["hits"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the server at {base} has no listing to audit"))?;
    let page = |name: &str, path: String| PageToAudit {
        name: name.to_string(),
        path,
        cookie: None,
    };
    let mut pages = vec![
        page("home", "/".to_string()),
        // ผ้าไหม, "silk cloth"
        page(
            "search",
            "/search?q=%E0%B8%9C%E0%B9%89%E0%B8%B2%E0%B9%84%E0%B8%AB%E0%B8%A1".to_string(),
        ),
        page("product", format!("/listings/{product}")),
    ];
    pages.extend(extra.into_iter().map(|path| PageToAudit {
        name: "page".to_string(),
        path,
        cookie: cookie.clone(),
    }));
    let base = base.to_string();
    let audited = tokio::task::spawn_blocking(move || {
        otop_bench::lighthouse::run(&tools, &base, &pages, rounds)
    })
    .await??;
    let figures = otop_bench::lighthouse::report(&audited, rounds);
    Ok(Report {
        markdown: figures.markdown,
        json: figures.json,
    })
}

struct Report {
    markdown: String,
    json: serde_json::Value,
}

async fn read_side(
    server: &str,
    target_events: usize,
    seconds: u64,
    reuse_database: Option<&str>,
    rebuild_batch: i64,
) -> anyhow::Result<Report> {
    let db = match reuse_database {
        Some(name) => BenchDatabase::open(server, name).await?,
        None => BenchDatabase::create(server).await?,
    };
    let pool = db.pool.clone();

    // 1. A realistic log: 8 writers, about three events per round.
    let started = Instant::now();
    if reuse_database.is_none() {
        let writers = 8usize;
        let rounds = (target_events / writers / 3).max(1);
        let tasks: Vec<_> = (0..writers)
            .map(|writer| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let stores = Stores::new(&pool);
                    generate(&stores, 17 + writer as u64, 5, rounds).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.context("a writer failed")?;
        }
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let generate_seconds = started.elapsed().as_secs_f64();
    eprintln!("generated {events} events in {generate_seconds:.1} s");

    // 2. The baseline: read the whole log in order and deserialise every payload.
    let (read, raw_seconds) = suite::raw_read(&pool).await?;
    let raw_rate = read as f64 / raw_seconds;

    // 3. Rebuild every projection from zero over the same events.
    let mut rebuild_rows = Vec::new();
    let mut rebuild_json = Vec::new();
    let started_all = Instant::now();
    for kind in ProjectionKind::ALL {
        let started = Instant::now();
        let report = rebuild(&pool, kind, rebuild_batch, |_, _| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        let rate = report.events_applied as f64 / seconds;
        rebuild_rows.push(format!(
            "| rebuild `{}` | {:.0} events/s | {:.2} of raw read |",
            kind.name(),
            rate,
            rate / raw_rate
        ));
        rebuild_json.push(json!({"projection": kind.name(), "events": report.events_applied, "seconds": seconds, "events_per_second": rate}));
    }
    let one_by_one_rate = events as f64 / started_all.elapsed().as_secs_f64();
    // `otop rebuild all`: one read of the log for the four, swapped in together.
    let started_all = Instant::now();
    let together = rebuild_together(&pool, &ProjectionKind::ALL, rebuild_batch, |_, _| {}).await?;
    let all_seconds = started_all.elapsed().as_secs_f64();
    let all_rate = together.events_applied as f64 / all_seconds;

    // 4. Freshness: reply to visibility in the read model under a steady command load.
    let runners: Vec<_> = ProjectionKind::ALL
        .into_iter()
        .map(|kind| {
            runner::spawn(
                pool.clone(),
                Arc::from(kind.build("")),
                RunnerSettings::default(),
            )
        })
        .collect();
    let listings: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT listing_id, vendor_id FROM listing_catalog WHERE status = 'published' ORDER BY listing_id LIMIT 64",
    )
    .fetch_all(&pool)
    .await?;
    anyhow::ensure!(
        listings.len() >= 8,
        "the generated log has too few listings"
    );
    // One observer watches the catalog checkpoint (moved in the same transaction as the read
    // model) and times every command from its reply until the checkpoint passes it; probes
    // do not poll the database themselves, so measuring adds almost no load.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<(LogCursor, Instant)>();
    let observer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut waiting: Vec<(LogCursor, Instant)> = Vec::new();
            let mut latencies = Vec::new();
            let mut senders_done = false;
            loop {
                while let Ok(item) = received.try_recv() {
                    waiting.push(item);
                }
                if !senders_done && received.is_closed() && received.is_empty() {
                    senders_done = true;
                }
                if !waiting.is_empty() {
                    let checkpoint = otop_projections::checkpoint::read(&pool, "catalog")
                        .await?
                        .unwrap_or_default();
                    let now = Instant::now();
                    waiting.retain(|(cursor, replied)| {
                        if checkpoint >= *cursor {
                            latencies.push(now - *replied);
                            false
                        } else {
                            true
                        }
                    });
                }
                if senders_done && waiting.is_empty() {
                    return anyhow::Ok(latencies);
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        })
    };
    let probes: Vec<_> = listings
        .iter()
        .take(8)
        .copied()
        .enumerate()
        .map(|(index, (listing_id, vendor_id))| {
            let pool = pool.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                let stores = Stores::new(&pool);
                let actor = Actor::vendor(format!("bench-{index}"), vendor_id);
                let mut units = 1_000u32;
                let mut commands = 0usize;
                while Instant::now() < deadline {
                    units += 1;
                    let command = ListingCommand::ChangeStock {
                        actor: actor.clone(),
                        change: StockChange::Set(units),
                        expected: None,
                    };
                    let outcome = stores
                        .listings
                        .execute(
                            &listing_id.to_string(),
                            command,
                            &otop_bench::load::metadata(&actor),
                        )
                        .await
                        .context("stock change")?;
                    let replied = Instant::now();
                    let cursor = otop_projections::log::cursor_of(&pool, outcome.position)
                        .await?
                        .context("the command's event exists")?;
                    let _ = sent.send((cursor, replied));
                    commands += 1;
                    // A steady load, not a flood: about 50 commands/s per client.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                anyhow::Ok(commands)
            })
        })
        .collect();
    drop(sent);
    for probe in probes {
        probe.await??;
    }
    let mut latencies = observer.await??;
    for runner in runners {
        runner.stop().await;
    }
    latencies.sort();
    let commands = latencies.len();
    let p50 = percentile(&latencies, 50.0);
    let p99 = percentile(&latencies, 99.0);

    let markdown = format!(
        "## Read side ({events} events)\n\n\
         | measure | value | beside baseline |\n|---|---|---|\n\
         | read + deserialise the log (baseline) | {raw_rate:.0} events/s | 1.00 |\n\
         {}\n\
         | rebuild all four one after another | {one_by_one_rate:.0} events/s | {:.2} of raw read |\n\
         | rebuild all four together (`otop rebuild all`, one read of the log) | {all_rate:.0} events/s | {:.2} of raw read |\n\
         | command reply → read model, p50 | {:.2} ms | {commands} commands, 8 clients at ~50 cmd/s each |\n\
         | command reply → read model, p99 | {:.2} ms | |\n",
        rebuild_rows.join("\n"),
        one_by_one_rate / raw_rate,
        all_rate / raw_rate,
        ms(p50),
        ms(p99),
    );
    let json = json!({
        "read_side": {
            "events": events,
            "generate_seconds": generate_seconds,
            "raw_read_events_per_second": raw_rate,
            "rebuild": rebuild_json,
            "rebuild_all_events_per_second": all_rate,
            "rebuild_all_log_reads": together.log_reads,
            "rebuild_one_by_one_events_per_second": one_by_one_rate,
            "freshness_ms": {"p50": ms(p50), "p99": ms(p99), "commands": commands},
        }
    });
    if reuse_database.is_none() {
        db.drop_unless_kept().await?;
    }
    Ok(Report { markdown, json })
}
