//! Past one machine: two `otop serve` processes on one database. One holds the runners'
//! locks and the other stands by; `kill -9` the one that holds them, and the other takes over
//! within seconds, applies nothing twice, and both answer queries throughout.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otop_e2e::{ServerProcess, TestApp};
use otop_projections::rebuild::rebuild_together;
use otop_projections::ProjectionKind;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::checkout::address;
use crate::projection_runner::{digests, wait_caught_up_within};

const SERVER: &str = env!("CARGO_BIN_EXE_otop-e2e-server");

/// The consumers whose runners lock across processes (the embedded search index is local to
/// each process, which feeds its own: it takes no lock).
const LOCKED: [&str; 5] = ["catalog", "orders", "ledger", "sales", "checkout"];

/// For each locked runner, the `application_name` of the process holding its advisory lock.
async fn lock_holders(pool: &PgPool) -> Vec<(String, Option<String>)> {
    let mut holders = Vec::new();
    for name in LOCKED {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT a.application_name
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.objid::bigint = (hashtext('otop-projection:' || $1)::bigint & 4294967295)",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .expect("read the advisory locks");
        holders.push((name.to_string(), holder));
    }
    holders
}

/// Waits until `process` holds every runner's lock; returns how long that took.
async fn wait_until_held_by(pool: &PgPool, process: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let holders = lock_holders(pool).await;
        if holders
            .iter()
            .all(|(_, holder)| holder.as_deref() == Some(process))
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{process} does not hold every runner's lock after {within:?}: {holders:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Answers and failures of one process's readers.
#[derive(Default)]
struct Reads {
    answered: AtomicUsize,
    failed: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_process_that_runs_the_projections_hands_them_to_the_other() {
    let mut app = TestApp::spawn().await;
    let mut listings = Vec::new();
    for name in ["กลุ่มทอผ้าสำรอง", "กลุ่มเครื่องเงินสำรอง"]
    {
        let vendor = app.approved_vendor(name).await;
        listings.push(app.published_listing(vendor, 1_000).await);
    }
    let shopper = app.shopper("failover-buyer");
    app.stop_server().await;
    let env = [
        ("OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER", "0"),
        ("OTOP_WRITE_RATE_PER_MINUTE", "0"),
    ];

    // A starts first and takes every lock; B, started next, stands by.
    let mut first = ServerProcess::start(SERVER, app.database_url(), "otop-a", &env).await;
    wait_until_held_by(&app.pool, "otop-a", Duration::from_secs(30)).await;
    let second = ServerProcess::start(SERVER, app.database_url(), "otop-b", &env).await;
    // B's runners have tried the locks by now (their standby interval is a second).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let holders = lock_holders(&app.pool).await;
    assert!(
        holders
            .iter()
            .all(|(_, holder)| holder.as_deref() == Some("otop-a")),
        "B stands by while A runs: {holders:?}"
    );

    // An embedded index is local to its process, so its feed takes no lock: B feeds its own
    // while A holds every runner's lock.
    let client = reqwest::Client::new();
    for process in [&first, &second] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply: serde_json::Value = client
                .get(format!("{}/v1/search?per_page=5", process.base_url))
                .send()
                .await
                .expect("a search reply")
                .json()
                .await
                .expect("search JSON");
            if reply["total"] == listings.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never indexed the listings: {reply}",
                process.base_url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Readers ask both processes for a listing, all through the test; a shopper checks out
    // through each in turn.
    let stop = Arc::new(AtomicBool::new(false));
    let (reads_a, reads_b) = (Arc::new(Reads::default()), Arc::new(Reads::default()));
    let readers: Vec<_> = [
        (first.base_url.clone(), reads_a.clone()),
        (second.base_url.clone(), reads_b.clone()),
    ]
    .into_iter()
    .map(|(base, reads)| {
        let (client, stop, listing) = (client.clone(), stop.clone(), listings[0]);
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let reply = client
                    .get(format!("{base}/v1/listings/{listing}"))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match reply {
                    Ok(reply) if reply.status() == StatusCode::OK => {
                        reads.answered.fetch_add(1, Ordering::SeqCst)
                    }
                    _ => reads.failed.fetch_add(1, Ordering::SeqCst),
                };
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    })
    .collect();
    let checkouts = AtomicUsize::new(0);
    let check_out = |base: String| {
        let (client, shopper, listings) = (client.clone(), shopper.clone(), listings.clone());
        let checkouts = &checkouts;
        async move {
            let body = json!({
                "lines": listings.iter().map(|id| json!({"listing_id": id, "quantity": 1})).collect::<Vec<_>>(),
                "shipping_address": address(),
            });
            let reply = client
                .post(format!("{base}/v1/checkouts"))
                .bearer_auth(&shopper)
                .json(&body)
                .send()
                .await
                .expect("a checkout reply");
            assert_eq!(reply.status(), StatusCode::CREATED);
            checkouts.fetch_add(1, Ordering::SeqCst);
        }
    };
    for round in 0..20 {
        let base = if round % 2 == 0 { &first } else { &second };
        check_out(base.base_url.clone()).await;
    }
    // A's runners are applying them: the orders read model moves.
    let deadline = Instant::now() + Duration::from_secs(30);
    while projected_orders(&app.pool).await < 40 {
        assert!(
            Instant::now() < deadline,
            "A's runners did not apply the orders"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    first.kill();
    let takeover = wait_until_held_by(&app.pool, "otop-b", Duration::from_secs(5)).await;
    let answered_by_a = reads_a.answered.load(Ordering::SeqCst);
    println!("B held every runner's lock {takeover:?} after A was killed");

    for _ in 0..20 {
        check_out(second.base_url.clone()).await;
    }
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("log head");
    let reply = client
        .get(format!(
            "{}/v1/orders?per_page=100&min_position={head}",
            second.base_url
        ))
        .bearer_auth(&shopper)
        .send()
        .await
        .expect("B answers the orders");
    assert_eq!(reply.status(), StatusCode::OK);
    let orders: serde_json::Value = reply.json().await.expect("orders");
    let shown = orders["items"].as_array().map_or(0, Vec::len);
    assert_eq!(
        shown,
        checkouts.load(Ordering::SeqCst) * 2,
        "B's runners took the log up where A's left it: {orders}"
    );
    wait_caught_up_within(&app.pool, Duration::from_secs(30)).await;
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.await.expect("a reader");
    }
    assert!(answered_by_a > 0, "A answered before it was killed");
    assert!(
        reads_a.failed.load(Ordering::SeqCst) > 0,
        "A was really gone"
    );
    assert!(reads_b.answered.load(Ordering::SeqCst) > answered_by_a / 2);
    assert_eq!(
        reads_b.failed.load(Ordering::SeqCst),
        0,
        "B answered every read, before, during and after the takeover"
    );

    // Nothing applied twice (or skipped): each read model counted every event exactly once
    // across the two processes, and equals a rebuild from zero.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count events");
    for kind in ProjectionKind::ALL {
        let applied: i64 =
            sqlx::query_scalar("SELECT events_applied FROM projection_checkpoints WHERE name = $1")
                .bind(kind.name())
                .fetch_one(&app.pool)
                .await
                .expect("checkpoint");
        assert_eq!(applied, events, "{} applied every event once", kind.name());
    }
    drop(second);
    let live = digests(&app.pool).await;
    rebuild_together(&app.pool, &ProjectionKind::ALL, 500, |_, _| {})
        .await
        .expect("rebuild from zero");
    assert_eq!(
        live,
        digests(&app.pool).await,
        "live equals a rebuild from zero"
    );
    app.cleanup().await;
}

async fn projected_orders(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM order_summaries")
        .fetch_one(pool)
        .await
        .expect("count orders")
}
