//! `otop-bench suite`: one run that measures the whole marketplace beside its baselines, on
//! one fresh database, and writes one report (markdown on stdout, JSON to a file).
//!
//! The phases, in order (each figure's baseline is measured in the same run):
//! 1. **Limits**: single-row-insert commits/s on this database (the machine's limit) and the
//!    bare postgres-es append rate, at 1 and 8 clients.
//! 2. **Log**: the Surin catalog copied up to `listings` listings, then paid orders, written
//!    in bulk (`bulk.rs`) until the log holds `log_events` events.
//! 3. **Read side**: read + deserialise those events (the baseline), then rebuild every
//!    projection over them.
//! 4. **More history**: paid orders up to `paid_orders`; the projections catch up; the search
//!    index is built from the catalog.
//! 5. **API process**: `otop serve` starts as a child process (its memory is its own), and
//!    everything else goes through HTTP: price changes and checkouts at 1 and 8 clients,
//!    freshness to the read model and the search index, the search query mix, analytics
//!    over the year, order histories and a full verify.
//! 6. **Direct search**: the API stops and the same query mix runs against the index itself.
//!    With `MEILI_URL` set, steps 5–6's search runs once more against Meilisearch.
//!
//! The report must be complete: [`missing_figures`] lists any figure that is absent or not
//! a positive number, and the run fails on it (`.ci/run` runs `--size smoke` for that).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use otop_domain::{Actor, ListingEvent, OrderEvent, Role, VendorEvent};
use otop_projections::log::{cursor_of, head_position, read_after, LogCursor};
use otop_projections::rebuild::{rebuild, rebuild_together, BATCH_SIZE};
use otop_projections::runner::{self, RunnerSettings};
use otop_projections::{checkpoint, ProjectionKind};
use otop_search::SearchIndex;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::bulk::{self, BulkWriter};
use crate::checkout::{self, Client, JWT_SECRET};
use crate::database::BenchDatabase;
use crate::search::query_mix;
use crate::stats::p50_p99_ms;

/// How big one run is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub name: &'static str,
    /// Listings in the catalog (and in the search index).
    pub listings: usize,
    /// Events in the log when the read side is measured.
    pub log_events: usize,
    /// Paid orders in the log (and the sales projection) when analytics are measured.
    pub paid_orders: usize,
    /// Seconds of each throughput measurement.
    pub seconds: u64,
    /// Seconds of the freshness measurement.
    pub freshness_seconds: u64,
    /// Runs of each search and analytics query.
    pub repeats: usize,
    /// Order histories fetched.
    pub histories: usize,
}

impl Scale {
    pub const FULL: Scale = Scale {
        name: "full",
        listings: 100_000,
        log_events: 1_000_000,
        paid_orders: 1_000_000,
        seconds: 10,
        freshness_seconds: 10,
        repeats: 100,
        histories: 300,
    };

    /// A fifth of the full run, for looking into one figure quickly.
    pub const MEDIUM: Scale = Scale {
        name: "medium",
        listings: 20_000,
        log_events: 200_000,
        paid_orders: 200_000,
        seconds: 3,
        freshness_seconds: 3,
        repeats: 20,
        histories: 50,
    };

    /// Small enough for CI: checks that every figure is produced, not how fast.
    pub const SMOKE: Scale = Scale {
        name: "smoke",
        listings: 1_200,
        log_events: 10_000,
        paid_orders: 4_000,
        seconds: 1,
        freshness_seconds: 2,
        repeats: 5,
        histories: 20,
    };
}

/// Vendors (two listings each) the checkout carts are drawn from: a small shop's worth.
const CHECKOUT_VENDORS: usize = 32;

/// The flash sale: this many shoppers at once for [`FLASH_SALE_UNITS`] units of one listing.
const FLASH_SALE_SHOPPERS: usize = 500;
const FLASH_SALE_UNITS: usize = 100;

/// The figures a complete report holds (JSON pointers); each must be a positive number.
pub const REQUIRED_FIGURES: &[&str] = &[
    "/limits/single_row_insert_commits_per_second/clients_1",
    "/limits/single_row_insert_commits_per_second/clients_8",
    "/limits/bare_append_events_per_second/clients_1",
    "/limits/bare_append_events_per_second/clients_8",
    "/commands/price_change/clients_1/commands_per_second",
    "/commands/price_change/clients_8/commands_per_second",
    "/commands/checkout/clients_1/commands_per_second",
    "/commands/checkout/clients_8/commands_per_second",
    "/commands/price_change/clients_8/events_per_second",
    "/commands/checkout/clients_8/events_per_second",
    "/commands/checkout/clients_8/p50_ms",
    "/commands/checkout/clients_8/p99_ms",
    "/commands/checkout/clients_8/of_single_row_commits",
    "/commands/price_change/clients_8/of_single_row_commits",
    "/commands/price_change/clients_8/p99_ms",
    "/commands/flash_sale/sold_out_ms",
    "/commands/flash_sale/slowest_refusal_ms",
    "/commands/flash_sale/last_reply_ms",
    "/freshness/orders_read_model_ms/p50",
    "/freshness/orders_read_model_ms/p99",
    "/freshness/read_model_ms/p50",
    "/freshness/read_model_ms/p99",
    "/freshness/search_index_ms/p50",
    "/freshness/search_index_ms/p99",
    "/search/embedded/documents",
    "/search/embedded/reindex_documents_per_second",
    "/read_side/events",
    "/read_side/raw_read_events_per_second",
    "/read_side/rebuild_all_events_per_second",
    "/audit/history_ms/p50",
    "/audit/history_ms/p99",
    "/audit/verify_events_per_second",
    "/analytics/paid_orders",
    "/analytics/sales_by_district_category_month_ms/p50",
    "/analytics/sales_by_district_category_month_ms/p99",
    "/analytics/dashboard_ms/p50",
    "/analytics/dashboard_ms/p99",
    "/analytics/dashboard_of_sales_query_p99",
    "/analytics/day_facts_baseline/sales_sql_ms/p99",
    "/analytics/day_facts_baseline/top_listings_sql_ms/p99",
    "/memory/api_peak_rss_mib",
];

/// The pointers of [`REQUIRED_FIGURES`] that `report` lacks or holds as anything but a
/// positive finite number, plus every search query without its four percentiles.
pub fn missing_figures(report: &Value) -> Vec<String> {
    let positive = |value: Option<&Value>| {
        value
            .and_then(Value::as_f64)
            .is_some_and(|n| n.is_finite() && n > 0.0)
    };
    let mut missing: Vec<String> = REQUIRED_FIGURES
        .iter()
        .filter(|pointer| !positive(report.pointer(pointer)))
        .map(|pointer| pointer.to_string())
        .collect();
    let queries = report
        .pointer("/search/embedded/queries")
        .and_then(Value::as_array);
    match queries {
        Some(queries) if queries.len() == query_mix().len() => {
            for query in queries {
                for key in [
                    "direct_p50_ms",
                    "direct_p99_ms",
                    "http_p50_ms",
                    "http_p99_ms",
                ] {
                    if !positive(query.get(key)) {
                        missing.push(format!("/search/embedded/queries/{}/{key}", query["query"]));
                    }
                }
            }
        }
        _ => missing.push("/search/embedded/queries (one per query of the mix)".into()),
    }
    let rebuilt = report
        .pointer("/read_side/rebuild")
        .and_then(Value::as_array)
        .map_or(0, |rows| {
            rows.iter()
                .filter(|row| positive(row.get("events_per_second")))
                .count()
        });
    if rebuilt != ProjectionKind::ALL.len() {
        missing.push("/read_side/rebuild (one rate per projection)".into());
    }
    missing
}

/// The report being written: JSON sections and their markdown.
struct Report {
    json: Map<String, Value>,
    markdown: String,
}

impl Report {
    fn section(&mut self, key: &str, json: Value, markdown: String) {
        self.json.insert(key.to_string(), json);
        self.markdown.push_str(&markdown);
        self.markdown.push('\n');
    }
}

pub struct SuiteOutput {
    pub markdown: String,
    pub json: Value,
}

/// Runs the whole suite on a fresh database on `server`, with `otop` the API binary.
pub async fn run(server: &str, scale: Scale, otop: &Path) -> anyhow::Result<SuiteOutput> {
    on_fresh_database(server, otop, async |db, index_dir| {
        run_on(db, scale, otop, index_dir).await
    })
    .await
}

/// Runs `measure` on a fresh database on `server` and a search index directory of its own,
/// once the API binary `otop` is known to be there; then removes the directory and drops
/// the database (kept when `BENCH_KEEP_DATABASE` is set, for looking into it).
async fn on_fresh_database<T>(
    server: &str,
    otop: &Path,
    measure: impl AsyncFnOnce(&BenchDatabase, &Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    anyhow::ensure!(
        otop.is_file(),
        "the API binary {} is missing: build it first (cargo build --release -p otop-api --bin otop)",
        otop.display()
    );
    let db = BenchDatabase::create(server).await?;
    let index_dir = std::env::temp_dir().join(format!("{}-index", db.name));
    let outcome = measure(&db, &index_dir).await;
    let _ = std::fs::remove_dir_all(&index_dir);
    db.drop_unless_kept().await?;
    outcome
}

async fn run_on(
    db: &BenchDatabase,
    scale: Scale,
    otop: &Path,
    index_dir: &Path,
) -> anyhow::Result<SuiteOutput> {
    let pool = &db.pool;
    let started = Instant::now();
    let mut report = Report {
        json: Map::new(),
        markdown: String::new(),
    };
    let machine = machine(pool, scale).await?;
    report.section("machine", machine.0, machine.1);

    // 1. Limits.
    progress(started, "limits: single-row commits and bare appends");
    let limits = limits(pool, scale).await?;

    // 2. The log up to `log_events`.
    progress(started, "writing the catalog and the first orders");
    let mut writer = BulkWriter::new(pool.clone());
    let generated = Instant::now();
    let catalog = bulk::catalog(&mut writer, scale.listings, 2026).await?;
    let catalog_events = writer.events_written as usize;
    // About 5.5 events per paid order (two lines in one order of four).
    let first_orders = (scale.log_events.saturating_sub(catalog_events) * 2 / 11)
        .min(scale.paid_orders)
        .max(1);
    let mut orders =
        bulk::paid_orders(&mut writer, &catalog, 0, first_orders, scale.paid_orders, 7).await?;
    let mut generate_seconds = generated.elapsed().as_secs_f64();

    // 3. Read side over that log.
    progress(started, "read side: raw read and rebuilds");
    let read_side = read_side(pool).await?;

    // 4. The rest of the history; projections catch up; the search index is built.
    progress(started, "writing the remaining paid orders");
    let generated = Instant::now();
    let rest = bulk::paid_orders(
        &mut writer,
        &catalog,
        first_orders,
        scale.paid_orders.saturating_sub(first_orders),
        scale.paid_orders,
        8,
    )
    .await?;
    orders.sampled.extend(rest.sampled);
    orders.gross_satang += rest.gross_satang;
    orders.units += rest.units;
    generate_seconds += generated.elapsed().as_secs_f64();
    let log_events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    progress(started, "projections catching up");
    let catch_up = catch_up(pool).await?;
    progress(started, "building the search index");
    let reindex = build_index(pool, index_dir, None).await?;

    // 5. Through the API process.
    progress(started, "starting the API process");
    let api = ApiProcess::start(otop, &db.url, index_dir, None).await?;
    let outcome = through_api(pool, &api, scale, &orders, &limits).await;
    let rss_start = api.rss_at_start_mib;
    let rss_peak = api.peak_rss_mib();
    api.stop().await;
    let through = outcome?;

    // 6. The same searches directly against the index.
    progress(started, "direct search");
    let index = otop_search::open_from_env_or_dir(None, None, index_dir.to_path_buf()).await?;
    let direct = direct_search(index.as_ref(), scale.repeats).await?;
    drop(index);
    let mut search_json = Map::new();
    let mut search_md = String::new();
    search_section(
        &mut search_json,
        &mut search_md,
        "embedded",
        scale,
        &reindex,
        &through.search,
        &direct,
    );
    if let Some(meili_url) = std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty()) {
        progress(started, "Meilisearch: index, HTTP and direct");
        let meili = meili_round(pool, db, otop, index_dir, scale, &meili_url).await?;
        search_section(
            &mut search_json,
            &mut search_md,
            "meilisearch",
            scale,
            &meili.0,
            &meili.1,
            &meili.2,
        );
    } else {
        search_md.push_str(
            "Meilisearch: not measured in this run (MEILI_URL is not set; it cannot be \
             installed on this machine).\n",
        );
        search_json.insert(
            "meilisearch".into(),
            json!({"skipped": "MEILI_URL is not set"}),
        );
    }

    // The report, in the order a reader wants it.
    report.section("limits", limits.json.clone(), String::new());
    let commands_md = commands_markdown(&limits, &through.commands);
    report.section("commands", through.commands.json.clone(), commands_md);
    let (freshness_json, freshness_md) = freshness_section(&through.freshness);
    report.section("freshness", freshness_json, freshness_md);
    report.section("search", Value::Object(search_json), search_md);
    report.section(
        "pages",
        through.pages.json.clone(),
        through.pages.markdown.clone(),
    );
    report.section(
        "read_side",
        read_side.json.clone(),
        read_side_markdown(&read_side, &catch_up, log_events, generate_seconds),
    );
    report.section(
        "audit",
        through.audit.json.clone(),
        through.audit.markdown.clone(),
    );
    report.section(
        "analytics",
        through.analytics.json.clone(),
        through.analytics.markdown.clone(),
    );
    report.section(
        "memory",
        json!({"api_rss_after_start_mib": rss_start, "api_peak_rss_mib": rss_peak}),
        format!(
            "## Memory of the API process\n\n\
             | measure | value |\n|---|---|\n\
             | resident after start | {rss_start:.1} MiB |\n\
             | peak resident (VmHWM), whole run | {rss_peak:.1} MiB |\n"
        ),
    );
    report.json.insert(
        "run".into(),
        json!({"size": scale.name, "seconds": started.elapsed().as_secs_f64(), "log_events": log_events}),
    );
    let json = Value::Object(report.json);
    let missing = missing_figures(&json);
    anyhow::ensure!(
        missing.is_empty(),
        "the report is incomplete; missing or not positive: {}",
        missing.join(", ")
    );
    progress(started, "done");
    Ok(SuiteOutput {
        markdown: report.markdown,
        json,
    })
}

fn progress(started: Instant, what: &str) {
    eprintln!("[{:>6.1} s] {what}", started.elapsed().as_secs_f64());
}

/// The machine and database the figures come from.
async fn machine(pool: &PgPool, scale: Scale) -> anyhow::Result<(Value, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let postgres: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(pool)
        .await?;
    let setting = |name: &'static str| async move {
        sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
            .fetch_one(pool)
            .await
    };
    let synchronous_commit = setting("synchronous_commit").await?;
    let fsync = setting("fsync").await?;
    let shared_buffers = setting("shared_buffers").await?;
    let json = json!({
        "cpu": cpu, "cores": cores, "memory_gib": memory_gib, "postgres": postgres,
        "synchronous_commit": synchronous_commit, "fsync": fsync, "shared_buffers": shared_buffers,
        "size": scale.name, "listings": scale.listings, "log_events": scale.log_events,
        "paid_orders": scale.paid_orders,
    });
    let markdown = format!(
        "## Machine\n\n\
         | | |\n|---|---|\n\
         | CPU | {cpu}, {cores} cores |\n\
         | memory | {memory_gib:.1} GiB |\n\
         | database | {postgres}, same machine, fsync={fsync}, synchronous_commit={synchronous_commit}, shared_buffers={shared_buffers} |\n\
         | size | `{}`: {} listings, read side over {} events, {} paid orders |\n",
        scale.name, scale.listings, scale.log_events, scale.paid_orders
    );
    Ok((json, markdown))
}

struct Limits {
    json: Value,
    insert_1: f64,
    insert_8: f64,
    bare_1: f64,
    bare_8: f64,
}

/// The machine's commit limit and the bare event store, at 1 and 8 clients.
async fn limits(pool: &PgPool, scale: Scale) -> anyhow::Result<Limits> {
    sqlx::query("CREATE TABLE bench_commit_probe (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        .execute(pool)
        .await?;
    let duration = Duration::from_secs(scale.seconds);
    let insert_1 = single_row_commits(pool, 1, duration).await?;
    let insert_8 = single_row_commits(pool, 8, duration).await?;
    let bare_1 = checkout::bare_append_rate(pool, 1, duration).await?;
    let bare_8 = checkout::bare_append_rate(pool, 8, duration).await?;
    sqlx::query("DROP TABLE bench_commit_probe")
        .execute(pool)
        .await?;
    checkout::remove_bare_probes(pool).await?;
    Ok(Limits {
        json: json!({
            "single_row_insert_commits_per_second": {"clients_1": insert_1, "clients_8": insert_8},
            "bare_append_events_per_second": {"clients_1": bare_1, "clients_8": bare_8},
        }),
        insert_1,
        insert_8,
        bare_1,
        bare_8,
    })
}

/// Commits/s of one single-row INSERT per transaction from `clients` connections.
async fn single_row_commits(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut commits = 0u64;
                while started.elapsed() < duration {
                    sqlx::query("INSERT INTO bench_commit_probe (body) VALUES ($1)")
                        .bind(json!({"client": client, "n": commits}))
                        .execute(&pool)
                        .await?;
                    commits += 1;
                }
                anyhow::Ok(commits)
            })
        })
        .collect();
    let mut commits = 0;
    for task in tasks {
        commits += task.await??;
    }
    Ok(commits as f64 / started.elapsed().as_secs_f64())
}

struct ReadSide {
    json: Value,
    events: u64,
    raw_rate: f64,
    rebuilds: Vec<(&'static str, f64)>,
    one_by_one_rate: f64,
    all_rate: f64,
}

/// Reads and deserialises the whole log (the baseline), then rebuilds every projection.
async fn read_side(pool: &PgPool) -> anyhow::Result<ReadSide> {
    let (events, raw_seconds) = raw_read(pool).await?;
    let raw_rate = events as f64 / raw_seconds;
    let mut rebuilds = Vec::new();
    let mut total_seconds = 0.0;
    for kind in ProjectionKind::ALL {
        let started = Instant::now();
        let report = rebuild(pool, kind, BATCH_SIZE, |_, _| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        total_seconds += seconds;
        rebuilds.push((kind.name(), report.events_applied as f64 / seconds));
    }
    let one_by_one_rate = events as f64 / total_seconds;
    // `otop rebuild all`: the four from one read of the log, swapped in together.
    let started = Instant::now();
    let together = rebuild_together(pool, &ProjectionKind::ALL, BATCH_SIZE, |_, _| {}).await?;
    let all_rate = together.events_applied as f64 / started.elapsed().as_secs_f64();
    let json = json!({
        "events": events,
        "raw_read_events_per_second": raw_rate,
        "rebuild": rebuilds.iter().map(|(name, rate)| json!({"projection": name, "events_per_second": rate, "of_raw_read": rate / raw_rate})).collect::<Vec<_>>(),
        "rebuild_all_events_per_second": all_rate,
        "rebuild_all_of_raw_read": all_rate / raw_rate,
        "rebuild_all_log_reads": together.log_reads,
        "rebuild_one_by_one_events_per_second": one_by_one_rate,
        "rebuild_one_by_one_of_raw_read": one_by_one_rate / raw_rate,
    });
    Ok(ReadSide {
        json,
        events,
        raw_rate,
        rebuilds,
        one_by_one_rate,
        all_rate,
    })
}

/// The whole log in log order, every payload deserialised into its domain event.
pub async fn raw_read(pool: &PgPool) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut cursor = LogCursor::START;
    let mut read = 0u64;
    loop {
        let batch = read_after(pool, cursor, 1_000).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.cursor();
        for event in &batch {
            // As the projections decode (`read_models::decode`): from the parsed JSON, no copy.
            let payload = &event.payload;
            match event.aggregate_type.as_str() {
                "Vendor" => drop(VendorEvent::deserialize(payload)?),
                "Listing" => drop(ListingEvent::deserialize(payload)?),
                "Order" => drop(OrderEvent::deserialize(payload)?),
                _ => {}
            }
        }
        read += batch.len() as u64;
    }
    Ok((read, started.elapsed().as_secs_f64()))
}

fn read_side_markdown(
    read_side: &ReadSide,
    catch_up: &CatchUp,
    log_events: i64,
    generate_seconds: f64,
) -> String {
    let mut markdown = format!(
        "## Read side over {} events\n\n\
         | measure | events/s | of raw read |\n|---|---|---|\n\
         | read + deserialise the log (baseline) | {:.0} | 1.00 |\n",
        read_side.events, read_side.raw_rate
    );
    for (name, rate) in &read_side.rebuilds {
        markdown.push_str(&format!(
            "| rebuild `{name}` | {rate:.0} | {:.2} |\n",
            rate / read_side.raw_rate
        ));
    }
    markdown.push_str(&format!(
        "| rebuild all four, one after another | {:.0} | {:.2} |\n\
         | rebuild all four together (`otop rebuild all`: one read of the log) | {:.0} | {:.2} |\n\n\
         Then the log grew to {log_events} events (bulk-written at {:.0} events/s including \
         the hash-chain trigger) and the live runners caught up on {} events in {:.1} s \
         ({:.0} events/s, all projections at once).\n",
        read_side.one_by_one_rate,
        read_side.one_by_one_rate / read_side.raw_rate,
        read_side.all_rate,
        read_side.all_rate / read_side.raw_rate,
        log_events as f64 / generate_seconds,
        catch_up.events,
        catch_up.seconds,
        catch_up.events as f64 / catch_up.seconds.max(f64::EPSILON),
    ));
    markdown
}

struct CatchUp {
    events: i64,
    seconds: f64,
}

/// Runs every projection's runner until all have applied the whole log, and moves the
/// checkout process manager past the bulk history (its orders are settled already; the
/// process manager only ever acts on orders placed from now on).
async fn catch_up(pool: &PgPool) -> anyhow::Result<CatchUp> {
    let head = head_cursor(pool).await?;
    let before = checkpoint::read(pool, ProjectionKind::Catalog.name())
        .await?
        .unwrap_or_default();
    let behind: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position > $1")
        .bind(before.position)
        .fetch_one(pool)
        .await?;
    let started = Instant::now();
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
    let names: Vec<&str> = ProjectionKind::ALL.iter().map(|k| k.name()).collect();
    let reached = wait_for_checkpoints(pool, &names, head, Duration::from_secs(3_600)).await;
    let seconds = started.elapsed().as_secs_f64();
    for runner in runners {
        runner.stop().await;
    }
    reached?;
    // Millions of rows just arrived; statistics now rather than when autovacuum gets to
    // them, as an operator would after a bulk load.
    sqlx::query("ANALYZE").execute(pool).await?;
    let process = otop_projections::process_manager::CHECKOUT_PROCESS;
    checkpoint::ensure(pool, process).await?;
    let mut conn = pool.acquire().await?;
    checkpoint::advance(&mut conn, process, head, 0).await?;
    Ok(CatchUp {
        events: behind,
        seconds,
    })
}

async fn head_cursor(pool: &PgPool) -> anyhow::Result<LogCursor> {
    let head = head_position(pool).await?;
    Ok(cursor_of(pool, head).await?.unwrap_or_default())
}

async fn wait_for_checkpoints(
    pool: &PgPool,
    names: &[&str],
    target: LogCursor,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut all = true;
        for name in names {
            let at = checkpoint::read(pool, name).await?.unwrap_or_default();
            all &= at >= target;
        }
        if all {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "projections {names:?} did not reach {target:?} in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Reindex {
    documents: usize,
    docs_per_second: f64,
}

/// Builds the search index from the catalog read model, as `otop reindex` does.
async fn build_index(
    pool: &PgPool,
    index_dir: &Path,
    meili: Option<&str>,
) -> anyhow::Result<Reindex> {
    let index = otop_search::open_from_env_or_dir(
        meili.map(str::to_string),
        meili_key(),
        index_dir.to_path_buf(),
    )
    .await?;
    let started = Instant::now();
    let documents = otop_projections::search_feed::reindex(pool, index.as_ref()).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(documents > 0, "the search index holds no listings");
    Ok(Reindex {
        documents,
        docs_per_second: documents as f64 / seconds,
    })
}

fn meili_key() -> Option<String> {
    std::env::var("MEILI_MASTER_KEY")
        .or_else(|_| std::env::var("MEILI_API_KEY"))
        .ok()
        .filter(|key| !key.is_empty())
}

/// `otop serve` in a process of its own, so that its memory is measured alone.
struct ApiProcess {
    child: std::process::Child,
    client: Client,
    log_path: PathBuf,
    rss_at_start_mib: f64,
}

impl ApiProcess {
    async fn start(
        otop: &Path,
        database_url: &str,
        index_dir: &Path,
        meili: Option<&str>,
    ) -> anyhow::Result<ApiProcess> {
        Self::start_with(otop, database_url, index_dir, meili, true).await
    }

    /// `projections`: whether the process runs the projection runners and the search feed.
    async fn start_with(
        otop: &Path,
        database_url: &str,
        index_dir: &Path,
        meili: Option<&str>,
        projections: bool,
    ) -> anyhow::Result<ApiProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_path = index_dir.with_extension(format!("api-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        // `serve` needs a seal key of its own; the benchmark makes one per process.
        let seal_key = index_dir.with_extension(format!("seal-{port}.key"));
        if !seal_key.exists() {
            otop_projections::seal::SealKey::generate()
                .and_then(|key| key.write_new(&seal_key))
                .map_err(|error| anyhow::anyhow!("seal key: {error}"))?;
        }
        let mut command = std::process::Command::new(otop);
        // `--demo` only for its development sign-in, through which the benchmark opens the
        // staff's pages: the store is not empty, so nothing is seeded, and the secrets are set.
        command
            .arg("serve")
            .arg("--demo")
            .env("OTOP_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("OTOP_JWT_SECRET", JWT_SECRET)
            .env("OTOP_PAYMENT_SECRET", "bench-payment-secret")
            // The benchmark is a handful of callers sending thousands of commands each, and
            // shoppers that never pay: the abuse limits would measure themselves.
            .env("OTOP_WRITE_RATE_PER_MINUTE", "0")
            .env("OTOP_SEAL_KEY_FILE", &seal_key)
            // No seal falls due while figures are taken: the first one hashes the whole log.
            .env("OTOP_SEAL_INTERVAL_SECONDS", "86400")
            .env("OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER", "0")
            .env("OTOP_INDEX_DIR", index_dir)
            .env("RUST_LOG", "warn")
            .env(
                "OTOP_RUN_PROJECTIONS",
                if projections { "true" } else { "false" },
            )
            .env_remove("MEILI_URL")
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(url) = meili {
            command.env("MEILI_URL", url);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", otop.display()))?;
        let mut api = ApiProcess {
            child,
            client: Client::new(format!("http://127.0.0.1:{port}")),
            log_path,
            rss_at_start_mib: 0.0,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok((status, _)) = api.client.get("/readyz", None).await {
                if status.is_success() {
                    break;
                }
            }
            if let Ok(Some(exit)) = api.child.try_wait() {
                anyhow::bail!(
                    "the API process exited ({exit}); its log is {}",
                    api.log_path.display()
                );
            }
            if Instant::now() > deadline {
                api.stop().await;
                anyhow::bail!("the API process was not ready within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        api.rss_at_start_mib = proc_status_mib(api.child.id(), "VmRSS:");
        Ok(api)
    }

    fn peak_rss_mib(&self) -> f64 {
        proc_status_mib(self.child.id(), "VmHWM:")
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after 30 s.
    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log_path);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `VmRSS:`/`VmHWM:` line of /proc/PID/status, in MiB (0 when unreadable).
fn proc_status_mib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

struct Throughput {
    commands: usize,
    events: i64,
    seconds: f64,
    /// p50 and p99 of the time from request to reply, in ms.
    latency_ms: (f64, f64),
    /// CPU spent while the commands ran.
    cpu: CpuSpent,
}

/// CPU seconds read from /proc: the API process's (user + system, its threads together),
/// this load generator's, and the whole machine's (every core's busy time: the API,
/// PostgreSQL, this generator and anything else running). Counted in the kernel's USER_HZ
/// ticks, which /proc gives as 100 a second.
#[derive(Debug, Clone, Copy, Default)]
struct CpuSpent {
    api_seconds: f64,
    generator_seconds: f64,
    machine_seconds: f64,
}

impl CpuSpent {
    const TICKS_PER_SECOND: f64 = 100.0;

    /// What the API process (`api_pid`), this process and the machine have spent so far;
    /// zero where /proc cannot be read.
    fn now(api_pid: Option<u32>) -> CpuSpent {
        let api_ticks = api_pid.map_or(0.0, |pid| Self::process_ticks(&pid.to_string()));
        let generator_ticks = Self::process_ticks("self");
        let machine_ticks = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let line = stat.lines().next()?.strip_prefix("cpu ")?.to_string();
                let ticks: Vec<f64> = line
                    .split_whitespace()
                    .filter_map(|field| field.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal: busy is all but idle and
                // iowait.
                Some(
                    ticks.iter().take(8).sum::<f64>()
                        - ticks.get(3).copied().unwrap_or(0.0)
                        - ticks.get(4).copied().unwrap_or(0.0),
                )
            })
            .unwrap_or(0.0);
        CpuSpent {
            api_seconds: api_ticks / Self::TICKS_PER_SECOND,
            generator_seconds: generator_ticks / Self::TICKS_PER_SECOND,
            machine_seconds: machine_ticks / Self::TICKS_PER_SECOND,
        }
    }

    /// utime + stime of /proc/`pid`/stat (0 when unreadable).
    fn process_ticks(pid: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // The fields after the command's closing parenthesis; utime and stime are
                // the 14th and 15th of the whole line.
                let (_, after) = stat.rsplit_once(')')?;
                let fields: Vec<&str> = after.split_whitespace().collect();
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some(utime + stime)
            })
            .unwrap_or(0.0)
    }

    fn since(self, before: CpuSpent) -> CpuSpent {
        CpuSpent {
            api_seconds: self.api_seconds - before.api_seconds,
            generator_seconds: self.generator_seconds - before.generator_seconds,
            machine_seconds: self.machine_seconds - before.machine_seconds,
        }
    }
}

impl Throughput {
    /// CPU milliseconds per command: the API process's, the load generator's, and the rest
    /// of the machine's (PostgreSQL's, mostly).
    fn cpu_ms_per_command(&self) -> (f64, f64, f64) {
        let per_command = |seconds: f64| seconds * 1_000.0 / self.commands.max(1) as f64;
        (
            per_command(self.cpu.api_seconds),
            per_command(self.cpu.generator_seconds),
            per_command(
                self.cpu.machine_seconds - self.cpu.api_seconds - self.cpu.generator_seconds,
            ),
        )
    }

    fn commands_per_second(&self) -> f64 {
        self.commands as f64 / self.seconds
    }
    fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

struct Commands {
    json: Value,
    price: [Throughput; 2],
    checkout: [Throughput; 2],
    /// 8 shoppers whose carts all fall on the same four vendors.
    checkout_hot: Throughput,
    flash_sale: checkout::FlashSale,
}

struct Freshness {
    commands: usize,
    read_model: (f64, f64),
    search: (f64, f64),
    /// Checkouts timed from their reply to the orders read model.
    checkouts: usize,
    orders_read_model: (f64, f64),
}

struct Section {
    json: Value,
    markdown: String,
}

/// (name, p50, p99) per query of the mix.
type QueryTimes = Vec<(String, f64, f64)>;

struct ThroughApi {
    commands: Commands,
    freshness: Freshness,
    search: QueryTimes,
    pages: crate::pages::PageFigures,
    audit: Section,
    analytics: Section,
}

/// The write path through HTTP: price changes and checkouts at 1 and 8 clients, the
/// checkout with colliding carts and the flash sale, beside `limits`. Returns the shop the
/// commands ran on, for the measures that follow.
async fn commands_through_api(
    pool: &PgPool,
    client: &Arc<Client>,
    scale: Scale,
    limits: &Limits,
    api_pid: Option<u32>,
) -> anyhow::Result<(Commands, checkout::Catalog)> {
    let shop = checkout::catalog(client, CHECKOUT_VENDORS, 1_000_000).await?;
    let duration = Duration::from_secs(scale.seconds);

    let price_1 = price_changes(pool, client, &shop.listings, 1, duration, api_pid).await?;
    let price_8 = price_changes(pool, client, &shop.listings, 8, duration, api_pid).await?;
    let checkout_1 = checkouts(pool, client, &shop.listings, 1, duration, api_pid).await?;
    let checkout_8 = checkouts(pool, client, &shop.listings, 8, duration, api_pid).await?;
    // Every cart on the same four vendors: the shoppers' carts collide all the time.
    let hot = &shop.listings[..8];
    let checkout_hot = checkouts(pool, client, hot, 8, duration, api_pid).await?;
    let flash_shop = checkout::catalog(client, 1, FLASH_SALE_UNITS as i64).await?;
    let flash_sale = checkout::flash_sale(
        client.clone(),
        flash_shop.listings[0].0,
        FLASH_SALE_SHOPPERS,
        FLASH_SALE_UNITS,
    )
    .await?;
    let row = |t: &Throughput, bare: f64, commits: f64| {
        json!({"commands_per_second": t.commands_per_second(), "events_per_second": t.events_per_second(),
               "events_per_command": t.events as f64 / t.commands.max(1) as f64,
               "events_of_bare": t.events_per_second() / bare, "commands": t.commands,
               "of_single_row_commits": t.commands_per_second() / commits,
               "p50_ms": t.latency_ms.0, "p99_ms": t.latency_ms.1,
               "api_cpu_ms_per_command": t.cpu_ms_per_command().0,
               "load_generator_cpu_ms_per_command": t.cpu_ms_per_command().1,
               "rest_of_machine_cpu_ms_per_command": t.cpu_ms_per_command().2})
    };
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let commands = Commands {
        json: json!({
            "price_change": {"clients_1": row(&price_1, limits.bare_1, limits.insert_1), "clients_8": row(&price_8, limits.bare_8, limits.insert_8)},
            "checkout": {"clients_1": row(&checkout_1, limits.bare_1, limits.insert_1), "clients_8": row(&checkout_8, limits.bare_8, limits.insert_8),
                         "clients_8_four_vendors": row(&checkout_hot, limits.bare_8, limits.insert_8)},
            "bare_of_limit": {"clients_1": limits.bare_1 / limits.insert_1, "clients_8": limits.bare_8 / limits.insert_8},
            "flash_sale": {"shoppers": flash_sale.shoppers, "units": flash_sale.units, "sold": flash_sale.sold,
                           "refused": flash_sale.refused, "other_replies": flash_sale.other_replies, "dropped": flash_sale.dropped,
                           "sold_out_ms": ms(flash_sale.sold_out), "slowest_refusal_ms": ms(flash_sale.slowest_refusal),
                           "last_reply_ms": ms(flash_sale.last_reply)},
        }),
        price: [price_1, price_8],
        checkout: [checkout_1, checkout_8],
        checkout_hot,
        flash_sale,
    };

    Ok((commands, shop))
}

async fn through_api(
    pool: &PgPool,
    api: &ApiProcess,
    scale: Scale,
    orders: &bulk::OrdersWritten,
    limits: &Limits,
) -> anyhow::Result<ThroughApi> {
    let client = Arc::new(Client::new(api.client_base()));
    let (commands, shop) =
        commands_through_api(pool, &client, scale, limits, Some(api.child.id())).await?;
    let freshness = freshness(
        pool,
        &client,
        &shop.listings,
        Duration::from_secs(scale.freshness_seconds),
    )
    .await?;

    let search = http_search(&client, scale.repeats).await?;
    let listing = shop
        .listings
        .first()
        .map(|(listing, _)| listing.to_string())
        .unwrap_or_default();
    let pages = crate::pages::measure(client.base(), scale.repeats, Some(&listing)).await?;

    let analytics = analytics(&client, pool, scale, orders).await?;
    let audit = audit(&client, pool, scale, orders).await?;
    Ok(ThroughApi {
        commands,
        freshness,
        search,
        pages,
        audit,
        analytics,
    })
}

impl ApiProcess {
    fn client_base(&self) -> String {
        self.client.base().to_string()
    }
}

async fn events_after(pool: &PgPool, position: i64) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM events WHERE position > $1")
            .bind(position)
            .fetch_one(pool)
            .await?,
    )
}

/// `PUT /v1/listings/{id}/price` in a loop, each client on a listing of its own.
async fn price_changes(
    pool: &PgPool,
    client: &Arc<Client>,
    listings: &[(Uuid, Uuid)],
    clients: usize,
    duration: Duration,
    api_pid: Option<u32>,
) -> anyhow::Result<Throughput> {
    let before = head_position(pool).await?;
    let cpu_before = CpuSpent::now(api_pid);
    let started = Instant::now();
    let tasks: Vec<_> = listings
        .iter()
        .take(clients)
        .copied()
        .map(|(listing, vendor)| {
            let client = client.clone();
            tokio::spawn(async move {
                let token = client.token(Actor::vendor("bench-vendor", vendor));
                let mut latencies = Vec::new();
                while started.elapsed() < duration {
                    let price = 300_000 + (latencies.len() % 1_000) as i64 * 100;
                    let sent = Instant::now();
                    let (status, body) = client
                        .put(
                            &format!("/v1/listings/{listing}/price"),
                            &token,
                            json!({"price_satang": price}),
                        )
                        .await?;
                    anyhow::ensure!(status.is_success(), "price change: {status} {body}");
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuSpent::now(api_pid).since(cpu_before);
    Ok(Throughput {
        commands: latencies.len(),
        events: events_after(pool, before).await?,
        seconds,
        latency_ms: p50_p99_ms(&mut latencies),
        cpu,
    })
}

/// Checkouts of 2 vendors x 2 lines; events include what the checkout process writes.
async fn checkouts(
    pool: &PgPool,
    client: &Arc<Client>,
    listings: &[(Uuid, Uuid)],
    clients: usize,
    duration: Duration,
    api_pid: Option<u32>,
) -> anyhow::Result<Throughput> {
    let before = head_position(pool).await?;
    let cart = checkout::two_vendor_cart(listings.to_vec());
    let cpu_before = CpuSpent::now(api_pid);
    let mut run = checkout::run_checkouts(client.clone(), clients, duration, cart).await?;
    let cpu = CpuSpent::now(api_pid).since(cpu_before);
    Ok(Throughput {
        commands: run.checkouts,
        events: events_after(pool, before).await?,
        seconds: run.seconds,
        latency_ms: p50_p99_ms(&mut run.latencies),
        cpu,
    })
}

fn commands_markdown(limits: &Limits, commands: &Commands) -> String {
    let mut markdown = String::from(
        "## Commands through HTTP beside the store and the machine\n\n\
         | measure | 1 client | 8 clients |\n|---|---|---|\n",
    );
    markdown.push_str(&format!(
        "| single-row INSERT commits (the machine's limit) | {:.0} /s | {:.0} /s |\n\
         | bare postgres-es append, one event per commit | {:.0} events/s | {:.0} events/s |\n\
         | bare / limit | {:.2} | {:.2} |\n",
        limits.insert_1,
        limits.insert_8,
        limits.bare_1,
        limits.bare_8,
        limits.bare_1 / limits.insert_1,
        limits.bare_8 / limits.insert_8,
    ));
    for (name, pair) in [
        ("price change", &commands.price),
        ("checkout, 2 vendors x 2 lines", &commands.checkout),
    ] {
        markdown.push_str(&format!(
            "| {name} | {:.1} commands/s ({:.0} events/s) | {:.1} commands/s ({:.0} events/s) |\n\
             | {name}: commands / single-row commits | {:.3} | {:.3} |\n\
             | {name}: events / bare | {:.2} | {:.2} |\n\
             | {name}: p50 / p99 | {:.1} / {:.1} ms | {:.1} / {:.1} ms |\n\
             | {name}: CPU ms per command, API process / load generator / rest of the machine | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} |\n",
            pair[0].commands_per_second(),
            pair[0].events_per_second(),
            pair[1].commands_per_second(),
            pair[1].events_per_second(),
            pair[0].commands_per_second() / limits.insert_1,
            pair[1].commands_per_second() / limits.insert_8,
            pair[0].events_per_second() / limits.bare_1,
            pair[1].events_per_second() / limits.bare_8,
            pair[0].latency_ms.0,
            pair[0].latency_ms.1,
            pair[1].latency_ms.0,
            pair[1].latency_ms.1,
            pair[0].cpu_ms_per_command().0,
            pair[0].cpu_ms_per_command().1,
            pair[0].cpu_ms_per_command().2,
            pair[1].cpu_ms_per_command().0,
            pair[1].cpu_ms_per_command().1,
            pair[1].cpu_ms_per_command().2,
        ));
    }
    let hot = &commands.checkout_hot;
    markdown.push_str(&format!(
        "| checkout, every cart on the same 4 vendors | | {:.1} commands/s, {:.3} of commits, p50 / p99 {:.1} / {:.1} ms |\n",
        hot.commands_per_second(),
        hot.commands_per_second() / limits.insert_8,
        hot.latency_ms.0,
        hot.latency_ms.1,
    ));
    let sale = &commands.flash_sale;
    markdown.push_str(&format!(
        "\n### Flash sale\n\n\
         {} shoppers at once through HTTP, one unit each, for {} units of one listing.\n\n\
         | measure | value |\n|---|---|\n\
         | sold / refused (409) / other replies / no reply | {} / {} / {} / {} |\n\
         | sold out after | {:.0} ms |\n\
         | the slowest refusal after | {:.0} ms |\n\
         | the last reply after | {:.0} ms |\n",
        sale.shoppers,
        sale.units,
        sale.sold,
        sale.refused,
        sale.other_replies,
        sale.dropped,
        sale.sold_out.as_secs_f64() * 1_000.0,
        sale.slowest_refusal.as_secs_f64() * 1_000.0,
        sale.last_reply.as_secs_f64() * 1_000.0,
    ));
    markdown
}

/// Commands timed from their reply until checkpoints pass their event.
type Observer = (
    tokio::sync::mpsc::UnboundedSender<(LogCursor, Instant)>,
    tokio::task::JoinHandle<anyhow::Result<Vec<Vec<Duration>>>>,
);

/// Times each command sent to it, from its reply until every checkpoint of `checkpoints` has
/// passed its event: one list of times per checkpoint, in that order. It finishes once every
/// sender is gone and every command is visible.
fn observe_checkpoints(pool: PgPool, checkpoints: Vec<&'static str>, give_up: Instant) -> Observer {
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<(LogCursor, Instant)>();
    let task = tokio::spawn(async move {
        let mut waiting: Vec<(LogCursor, Instant, Vec<Option<Duration>>)> = Vec::new();
        let mut visible: Vec<Vec<Duration>> = vec![Vec::new(); checkpoints.len()];
        loop {
            while let Ok((cursor, replied)) = received.try_recv() {
                waiting.push((cursor, replied, vec![None; checkpoints.len()]));
            }
            let senders_done = received.is_closed() && received.is_empty();
            if !waiting.is_empty() {
                let mut passed = Vec::with_capacity(checkpoints.len());
                for name in &checkpoints {
                    passed.push(checkpoint::read(&pool, name).await?.unwrap_or_default());
                }
                let now = Instant::now();
                waiting.retain_mut(|(cursor, replied, seen)| {
                    for (slot, at) in seen.iter_mut().zip(&passed) {
                        if slot.is_none() && *at >= *cursor {
                            *slot = Some(now - *replied);
                        }
                    }
                    if seen.iter().any(Option::is_none) {
                        return true;
                    }
                    for (times, slot) in visible.iter_mut().zip(seen.iter()) {
                        times.push(slot.unwrap_or_default());
                    }
                    false
                });
            }
            if senders_done && waiting.is_empty() {
                return anyhow::Ok(visible);
            }
            anyhow::ensure!(
                Instant::now() < give_up,
                "{} commands never became visible",
                waiting.len()
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    });
    (sent, task)
}

/// Price changes at a steady rate, timed from each reply until the catalog checkpoint (moved
/// with the read model) and the search checkpoint (moved after the index commit) pass it;
/// then checkouts at a steady rate, timed until the orders checkpoint passes them.
async fn freshness(
    pool: &PgPool,
    client: &Arc<Client>,
    listings: &[(Uuid, Uuid)],
    duration: Duration,
) -> anyhow::Result<Freshness> {
    let deadline = Instant::now() + duration;
    let (sent, observer) = observe_checkpoints(
        pool.clone(),
        vec![
            ProjectionKind::Catalog.name(),
            otop_projections::search_feed::SEARCH_PROJECTION,
        ],
        deadline + Duration::from_secs(60),
    );
    let probes: Vec<_> = listings
        .iter()
        .take(8)
        .copied()
        .map(|(listing, vendor)| {
            let client = client.clone();
            let pool = pool.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                let token = client.token(Actor::vendor("bench-vendor", vendor));
                let mut round = 0i64;
                while Instant::now() < deadline {
                    round += 1;
                    let (status, body) = client
                        .put(
                            &format!("/v1/listings/{listing}/price"),
                            &token,
                            json!({"price_satang": 200_000 + round}),
                        )
                        .await?;
                    let replied = Instant::now();
                    anyhow::ensure!(status.is_success(), "price change: {status} {body}");
                    let position = body["position"].as_i64().context("reply position")?;
                    let cursor = cursor_of(&pool, position)
                        .await?
                        .context("the command's event is in the log")?;
                    let _ = sent.send((cursor, replied));
                    // A steady load, not a flood.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    drop(sent);
    for probe in probes {
        probe.await??;
    }
    let mut visible = observer.await??.into_iter();
    let mut read_model = visible.next().unwrap_or_default();
    let mut search = visible.next().unwrap_or_default();

    let deadline = Instant::now() + duration;
    let (sent, observer) = observe_checkpoints(
        pool.clone(),
        vec![ProjectionKind::Orders.name()],
        deadline + Duration::from_secs(60),
    );
    let cart = checkout::two_vendor_cart(listings.to_vec());
    let shoppers: Vec<_> = (0..8)
        .map(|shopper| {
            let (client, pool, sent, cart) =
                (client.clone(), pool.clone(), sent.clone(), cart.clone());
            tokio::spawn(async move {
                let token = client.token(Actor::new(format!("fresh-{shopper}"), Role::Shopper));
                let mut round = 0;
                while Instant::now() < deadline {
                    let (status, body) = client
                        .checkout_with_token(&token, &cart(shopper * 1_000 + round))
                        .await?;
                    let replied = Instant::now();
                    anyhow::ensure!(status.is_success(), "checkout: {status} {body}");
                    let position = body["position"].as_i64().context("reply position")?;
                    let cursor = cursor_of(&pool, position)
                        .await?
                        .context("the checkout's events are in the log")?;
                    let _ = sent.send((cursor, replied));
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    drop(sent);
    for shopper in shoppers {
        shopper.await??;
    }
    let mut orders = observer.await??.into_iter().next().unwrap_or_default();
    Ok(Freshness {
        commands: read_model.len(),
        read_model: p50_p99_ms(&mut read_model),
        search: p50_p99_ms(&mut search),
        checkouts: orders.len(),
        orders_read_model: p50_p99_ms(&mut orders),
    })
}

/// The freshness section of the report: its JSON and its markdown.
fn freshness_section(freshness: &Freshness) -> (Value, String) {
    (
        json!({
            "read_model_ms": {"p50": freshness.read_model.0, "p99": freshness.read_model.1},
            "search_index_ms": {"p50": freshness.search.0, "p99": freshness.search.1},
            "commands": freshness.commands,
            "orders_read_model_ms": {"p50": freshness.orders_read_model.0, "p99": freshness.orders_read_model.1},
            "checkouts": freshness.checkouts,
        }),
        format!(
            "## Freshness: command reply → visible\n\n\
             {} price changes through HTTP, 8 clients at about 20 commands/s each.\n\n\
             | visible in | p50 | p99 |\n|---|---|---|\n\
             | read model (`listing_catalog`) | {:.1} ms | {:.1} ms |\n\
             | search index | {:.1} ms | {:.1} ms |\n\n\
             {} checkouts (2 vendors x 2 lines) through HTTP, 8 shoppers at about 20 checkouts/s each.\n\n\
             | visible in | p50 | p99 |\n|---|---|---|\n\
             | read model (`order_summaries`) | {:.1} ms | {:.1} ms |\n",
            freshness.commands,
            freshness.read_model.0,
            freshness.read_model.1,
            freshness.search.0,
            freshness.search.1,
            freshness.checkouts,
            freshness.orders_read_model.0,
            freshness.orders_read_model.1,
        ),
    )
}

/// The write path alone (what the suite's commands and freshness sections measure), on a
/// fresh database with a catalog of `listings` listings: the machine's limits, then price
/// changes, checkouts and the flash sale through the API process, then freshness, each
/// throughput measured for `seconds`.
pub async fn write_path_only(
    server: &str,
    listings: usize,
    seconds: u64,
    otop: &Path,
) -> anyhow::Result<(Value, String)> {
    on_fresh_database(server, otop, async |db, index_dir| {
        let pool = &db.pool;
        let started = Instant::now();
        let scale = Scale {
            listings,
            seconds,
            freshness_seconds: seconds,
            ..Scale::FULL
        };
        progress(started, "limits: single-row commits and bare appends");
        let limits = limits(pool, scale).await?;
        progress(started, "writing the catalog");
        let mut writer = BulkWriter::new(pool.clone());
        bulk::catalog(&mut writer, listings, 2026).await?;
        catch_up(pool).await?;
        build_index(pool, index_dir, None).await?;
        progress(started, "starting the API process");
        let api = ApiProcess::start(otop, &db.url, index_dir, None).await?;
        let client = Arc::new(Client::new(api.client_base()));
        progress(started, "commands through HTTP");
        let commands =
            commands_through_api(pool, &client, scale, &limits, Some(api.child.id())).await;
        let measured = match commands {
            Ok((commands, shop)) => {
                progress(started, "freshness");
                freshness(pool, &client, &shop.listings, Duration::from_secs(seconds))
                    .await
                    .map(|freshness| (commands, freshness))
            }
            Err(error) => Err(error),
        };
        api.stop().await;
        let (commands, freshness) = measured?;
        let (freshness_json, freshness_md) = freshness_section(&freshness);
        let markdown = format!("{}\n{freshness_md}", commands_markdown(&limits, &commands));
        progress(started, "done");
        Ok((
            json!({"limits": limits.json, "commands": commands.json, "freshness": freshness_json}),
            markdown,
        ))
    })
    .await
}

/// The analytics section alone, on a log of `paid_orders` paid orders over `listings`
/// listings: the sales query, the top listings and the dashboard, through the API process
/// (its projections off, so nothing else runs beside the measured requests).
pub async fn analytics_only(
    server: &str,
    listings: usize,
    paid_orders: usize,
    repeats: usize,
    otop: &Path,
) -> anyhow::Result<(Value, String)> {
    on_fresh_database(server, otop, async |db, index_dir| {
        let pool = &db.pool;
        let started = Instant::now();
        progress(started, "writing the catalog and the paid orders");
        let mut writer = BulkWriter::new(pool.clone());
        let catalog = bulk::catalog(&mut writer, listings, 2026).await?;
        let orders =
            bulk::paid_orders(&mut writer, &catalog, 0, paid_orders, paid_orders, 7).await?;
        progress(started, "projections catching up");
        catch_up(pool).await?;
        progress(started, "starting the API process");
        let api = ApiProcess::start_with(otop, &db.url, index_dir, None, false).await?;
        let scale = Scale {
            paid_orders,
            repeats,
            ..Scale::SMOKE
        };
        progress(started, "measuring");
        let section = analytics(&api.client, pool, scale, &orders).await;
        api.stop().await;
        let section = section?;
        Ok((json!({ "analytics": section.json }), section.markdown))
    })
    .await
}

/// A signed-in session on the pages (the development sign-in of `serve --demo`): a client
/// that keeps its cookie.
async fn signed_in_pages(base: &str, role: &str, subject: &str) -> anyhow::Result<reqwest::Client> {
    let pages = reqwest::Client::builder().cookie_store(true).build()?;
    let form = pages
        .get(format!("{base}/sign-in"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the sign-in page has no CSRF token")?
        .to_string();
    let signed = pages
        .post(format!("{base}/sign-in/dev"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("role", role),
            ("subject", subject),
            ("next", "/"),
        ])
        .send()
        .await?;
    anyhow::ensure!(signed.status().is_success(), "sign-in: {}", signed.status());
    Ok(pages)
}

/// A year's sales by district x category x month, and the top listings, as an analyst; and
/// the analysts' dashboard (`/analytics`) drawn for the same year, beside them.
/// The baseline of the analytics section, in the same run: the year by district x category x
/// month, and the year's top listings, summed straight from the day facts in SQL (what the
/// API read before the rollups, without HTTP or JSON). A tenth of the repeats, at least 3.
async fn day_facts_baseline(
    pool: &PgPool,
    repeats: usize,
) -> anyhow::Result<((f64, f64), (f64, f64))> {
    let cells = "SELECT district_code, category_code, date_trunc('month', day)::date,
                        sum(orders_by_category), sum(units), sum(gross_satang),
                        sum(refunds_satang), sum(net_satang)
                   FROM sales_facts WHERE day >= DATE '2026-01-01' AND day <= DATE '2026-12-31'
                  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    let top = "SELECT listing_id, vendor_id, sum(orders), sum(units), sum(gross_satang),
                      sum(refunds_satang), sum(net_satang) AS net
                 FROM sales_listing_facts
                WHERE day >= DATE '2026-01-01' AND day <= DATE '2026-12-31'
                GROUP BY 1, 2 ORDER BY net DESC, 4 DESC, listing_id LIMIT 10";
    let mut cell_times = Vec::new();
    let mut top_times = Vec::new();
    for _ in 0..(repeats / 10).max(3) {
        for (sql, times) in [(cells, &mut cell_times), (top, &mut top_times)] {
            let mut tx = pool.begin().await?;
            sqlx::query("SET LOCAL work_mem = '64MB'")
                .execute(&mut *tx)
                .await?;
            let started = Instant::now();
            sqlx::query(sql).fetch_all(&mut *tx).await?;
            times.push(started.elapsed());
            tx.commit().await?;
        }
    }
    Ok((p50_p99_ms(&mut cell_times), p50_p99_ms(&mut top_times)))
}

async fn analytics(
    client: &Client,
    pool: &PgPool,
    scale: Scale,
    orders: &bulk::OrdersWritten,
) -> anyhow::Result<Section> {
    let token = client.token(Actor::new("bench-analyst", Role::Analyst));
    let sales =
        "/v1/analytics/sales?from=2026-01-01&to=2026-12-31&group_by=district,category,month";
    let top = "/v1/analytics/top-listings?from=2026-01-01&to=2026-12-31";
    let dashboard = "/analytics?from=2026-01-01&to=2026-12-31&group_by=district,category,month";
    let pages = signed_in_pages(client.base(), "analyst", "bench-analyst").await?;
    let mut sales_times = Vec::new();
    let mut top_times = Vec::new();
    let mut dashboard_times = Vec::new();
    let mut first: Option<Value> = None;
    for _ in 0..scale.repeats {
        let started = Instant::now();
        let page = pages
            .get(format!("{}{dashboard}", client.base()))
            .send()
            .await?;
        let status = page.status();
        let html = page.text().await?;
        dashboard_times.push(started.elapsed());
        anyhow::ensure!(
            status.is_success() && html.contains("<svg"),
            "dashboard: {status}"
        );
        let started = Instant::now();
        let (status, body) = client.get(sales, Some(&token)).await?;
        sales_times.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "analytics: {status}");
        if first.is_none() {
            first = Some(serde_json::from_slice(&body)?);
        }
        let started = Instant::now();
        let (status, _) = client.get(top, Some(&token)).await?;
        top_times.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "top listings: {status}");
    }
    let report = first.context("no analytics reply")?;
    // The report must reconcile with what was written: every paid order of the year.
    let totals = &report["totals"];
    let rows = report["rows"].as_array().map_or(0, Vec::len);
    let reconciles = totals["orders"].as_u64() == Some(scale.paid_orders as u64)
        && totals["gross_satang"].as_u64() == Some(orders.gross_satang)
        && totals["units"].as_u64() == Some(orders.units);
    anyhow::ensure!(
        reconciles,
        "analytics totals {totals} do not reconcile with the {} paid orders written ({} satang, {} units)",
        scale.paid_orders,
        orders.gross_satang,
        orders.units
    );
    let sales = p50_p99_ms(&mut sales_times);
    let top = p50_p99_ms(&mut top_times);
    let shown = p50_p99_ms(&mut dashboard_times);
    let of_sales = shown.1 / sales.1;
    let of_both = shown.1 / (sales.1 + top.1);
    let (facts_sales, facts_top) = day_facts_baseline(pool, scale.repeats).await?;
    Ok(Section {
        json: json!({
            "paid_orders": scale.paid_orders,
            "rows": rows,
            "reconciled_with_log": reconciles,
            "sales_by_district_category_month_ms": {"p50": sales.0, "p99": sales.1},
            "top_listings_ms": {"p50": top.0, "p99": top.1},
            "dashboard_ms": {"p50": shown.0, "p99": shown.1},
            "dashboard_of_sales_query_p99": of_sales,
            "dashboard_of_sales_and_top_queries_p99": of_both,
            "day_facts_baseline": {
                "sales_sql_ms": {"p50": facts_sales.0, "p99": facts_sales.1},
                "top_listings_sql_ms": {"p50": facts_top.0, "p99": facts_top.1},
                "sales_query_of_baseline_p99": sales.1 / facts_sales.1,
                "top_listings_of_baseline_p99": top.1 / facts_top.1,
            },
        }),
        markdown: format!(
            "## Analytics over {} paid orders\n\n\
             | query ({} runs, through HTTP) | p50 | p99 |\n|---|---|---|\n\
             | 2026 sales by district x category x month ({rows} rows) | {:.1} ms | {:.1} ms |\n\
             | 2026 top listings | {:.1} ms | {:.1} ms |\n\
             | the dashboard `/analytics` for 2026 (table, four charts, top listings) | {:.1} ms | {:.1} ms |\n\n\
             The dashboard's p99 is {of_sales:.2}x the sales query's and {of_both:.2}x the sales \
             and top-listings queries' together (target: 1.2x the sales query).\n\n\
             Baseline in the same run, the same two questions summed in SQL straight from the \
             day facts (what the API read before the rollups, no HTTP): sales {:.1} / {:.1} ms, \
             top listings {:.1} / {:.1} ms (p50 / p99); through HTTP from the rollups the sales \
             query is {:.3}x and the top listings {:.3}x of that at p99.\n\n\
             The totals equal the sums of the orders written: {} orders, {} units, {} satang.\n",
            scale.paid_orders,
            scale.repeats,
            sales.0,
            sales.1,
            top.0,
            top.1,
            shown.0,
            shown.1,
            facts_sales.0,
            facts_sales.1,
            facts_top.0,
            facts_top.1,
            sales.1 / facts_sales.1,
            top.1 / facts_top.1,
            scale.paid_orders,
            orders.units,
            orders.gross_satang
        ),
    })
}

/// Order histories of sampled orders, and one full verify, as an auditor.
async fn audit(
    client: &Client,
    pool: &PgPool,
    scale: Scale,
    orders: &bulk::OrdersWritten,
) -> anyhow::Result<Section> {
    let token = client.token(Actor::new("bench-auditor", Role::Auditor));
    anyhow::ensure!(!orders.sampled.is_empty(), "no orders to look up");
    let mut times = Vec::new();
    let mut rng = crate::load::Rng::new(99);
    for _ in 0..scale.histories {
        let order = orders.sampled[rng.below(orders.sampled.len() as u64) as usize];
        let started = Instant::now();
        let (status, body) = client
            .get(&format!("/v1/audit/orders/{order}/history"), Some(&token))
            .await?;
        times.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "history of {order}: {status}");
        let history: Value = serde_json::from_slice(&body)?;
        let events = history["events"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(
            events >= 5,
            "history of {order} has {events} events, fewer than written"
        );
    }
    let history = p50_p99_ms(&mut times);
    let log_events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let started = Instant::now();
    let (status, body) = client.get("/v1/audit/verify", Some(&token)).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(status.is_success(), "verify: {status}");
    let verify: Value = serde_json::from_slice(&body)?;
    let checked = verify["events_checked"].as_u64().unwrap_or(0);
    let problems = verify["problems"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        problems == 0,
        "verify found {problems} problems in an untouched log"
    );
    anyhow::ensure!(
        checked as i64 >= log_events,
        "verify checked {checked} of {log_events} events"
    );
    let rate = checked as f64 / seconds;
    Ok(Section {
        json: json!({
            "history_ms": {"p50": history.0, "p99": history.1, "orders": scale.histories},
            "verify_events": checked,
            "verify_seconds": seconds,
            "verify_events_per_second": rate,
        }),
        markdown: format!(
            "## Audit\n\n\
             | measure | value |\n|---|---|\n\
             | order history through HTTP ({} orders, each with its stock events), p50 | {:.1} ms |\n\
             | order history, p99 | {:.1} ms |\n\
             | verify every hash chain through HTTP ({checked} events) | {seconds:.1} s, {rate:.0} events/s |\n",
            scale.histories, history.0, history.1
        ),
    })
}

/// The query mix through `GET /v1/search`, `repeats` times each.
async fn http_search(client: &Client, repeats: usize) -> anyhow::Result<QueryTimes> {
    let mut times = Vec::new();
    for (name, _, url) in query_mix() {
        let mut samples = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let started = Instant::now();
            let (status, _) = client.get(&format!("/v1/search?{url}"), None).await?;
            samples.push(started.elapsed());
            anyhow::ensure!(status.is_success(), "search {name}: {status}");
        }
        let (p50, p99) = p50_p99_ms(&mut samples);
        times.push((name.to_string(), p50, p99));
    }
    Ok(times)
}

/// The query mix straight against `index`, `repeats` times each.
async fn direct_search(index: &dyn SearchIndex, repeats: usize) -> anyhow::Result<QueryTimes> {
    let mut times = Vec::new();
    for (name, query, _) in query_mix() {
        let mut samples = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let started = Instant::now();
            let results = index.search(&query).await?;
            samples.push(started.elapsed());
            anyhow::ensure!(results.total > 0, "{name} found nothing");
        }
        let (p50, p99) = p50_p99_ms(&mut samples);
        times.push((name.to_string(), p50, p99));
    }
    Ok(times)
}

fn search_section(
    json_out: &mut Map<String, Value>,
    markdown: &mut String,
    backend: &str,
    scale: Scale,
    reindex: &Reindex,
    http: &QueryTimes,
    direct: &QueryTimes,
) {
    markdown.push_str(&format!(
        "## Search, {backend} backend, {} listings\n\n\
         Index built from the catalog read model at {:.0} documents/s. Each query {} times.\n\n\
         | query | direct p50 | direct p99 | HTTP p50 | HTTP p99 |\n|---|---|---|---|---|\n",
        reindex.documents, reindex.docs_per_second, scale.repeats
    ));
    let mut queries = Vec::new();
    for ((name, d50, d99), (_, h50, h99)) in direct.iter().zip(http) {
        markdown.push_str(&format!(
            "| {name} | {d50:.2} ms | {d99:.2} ms | {h50:.2} ms | {h99:.2} ms |\n"
        ));
        queries.push(json!({"query": name, "direct_p50_ms": d50, "direct_p99_ms": d99, "http_p50_ms": h50, "http_p99_ms": h99}));
    }
    markdown.push('\n');
    json_out.insert(
        backend.to_string(),
        json!({"documents": reindex.documents, "reindex_documents_per_second": reindex.docs_per_second, "queries": queries}),
    );
}

/// The search measurements once more with Meilisearch as the backend.
async fn meili_round(
    pool: &PgPool,
    db: &BenchDatabase,
    otop: &Path,
    index_dir: &Path,
    scale: Scale,
    meili_url: &str,
) -> anyhow::Result<(Reindex, QueryTimes, QueryTimes)> {
    let reindex = build_index(pool, index_dir, Some(meili_url)).await?;
    let api = ApiProcess::start(otop, &db.url, index_dir, Some(meili_url)).await?;
    let client = Client::new(api.client_base());
    let http = http_search(&client, scale.repeats).await;
    api.stop().await;
    let http = http?;
    let index = otop_search::open_from_env_or_dir(
        Some(meili_url.to_string()),
        meili_key(),
        index_dir.to_path_buf(),
    )
    .await?;
    let direct = direct_search(index.as_ref(), scale.repeats).await?;
    Ok((reindex, http, direct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_report_misses_every_figure() {
        let missing = missing_figures(&json!({}));
        assert!(missing.len() > REQUIRED_FIGURES.len(), "{missing:?}");
    }

    #[test]
    fn a_zero_or_absent_figure_is_missing() {
        let mut report = json!({});
        for pointer in REQUIRED_FIGURES {
            let mut at = &mut report;
            for part in pointer.trim_start_matches('/').split('/') {
                at = &mut at[part];
            }
            *at = json!(1.5);
        }
        let queries: Vec<Value> = query_mix()
            .iter()
            .map(|(name, _, _)| json!({"query": name, "direct_p50_ms": 1.0, "direct_p99_ms": 1.0, "http_p50_ms": 1.0, "http_p99_ms": 1.0}))
            .collect();
        report["search"]["embedded"]["queries"] = json!(queries);
        report["read_side"]["rebuild"] = json!(ProjectionKind::ALL
            .iter()
            .map(|k| json!({"projection": k.name(), "events_per_second": 10.0}))
            .collect::<Vec<_>>());
        assert_eq!(missing_figures(&report), Vec::<String>::new());
        report["audit"]["history_ms"]["p99"] = json!(0.0);
        assert_eq!(missing_figures(&report), vec!["/audit/history_ms/p99"]);
    }
}
