//! Checkout across vendors: never oversells, is all-or-nothing per checkout (one atomic
//! multi-stream append), is safe to retry, survives the API process being killed mid-stream
//! and the process manager being killed while it releases stock, and serves a flash sale.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use otop_domain::{Listing, Order, OrderStatus};
use otop_e2e::{Reply, ServerProcess, TestApp};
use otop_projections::process_manager::CheckoutProcess;
use otop_projections::runner::{self, RunnerSettings};
use otop_projections::{AggregateStore, BatchMode, Projection, ProjectionError, RecordedEvent};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgConnection;
use tokio::sync::Notify;
use uuid::Uuid;

pub(crate) fn address() -> Value {
    json!({
        "name": "สมศรี ใจดี",
        "phone": "081-234-5678",
        "line1": "12 หมู่ 3 ถนนเทศบาล",
        "district": "เมืองสุรินทร์",
        "province": "สุรินทร์",
        "postcode": "32000",
    })
}

/// [`address`] as the domain's value, for tests that place orders below the API.
fn shipping_address() -> otop_domain::order::ShippingAddress {
    otop_domain::order::ShippingAddress {
        name: "สมศรี ใจดี".into(),
        phone: otop_domain::values::Phone::parse("phone", "081-234-5678").expect("phone"),
        line1: "12 หมู่ 3 ถนนเทศบาล".into(),
        line2: None,
        subdistrict: None,
        district: Some("เมืองสุรินทร์".into()),
        province: "สุรินทร์".into(),
        postcode: "32000".into(),
    }
}

async fn checkout(app: &TestApp, shopper: &str, lines: &[(Uuid, u32)], key: Option<&str>) -> Reply {
    let body = json!({
        "lines": lines.iter().map(|(id, q)| json!({"listing_id": id, "quantity": q})).collect::<Vec<_>>(),
        "shipping_address": address(),
    });
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    app.request(
        Method::POST,
        "/v1/checkouts",
        Some(&app.shopper(shopper)),
        Some(&body),
        &headers,
    )
    .await
}

pub(crate) async fn listing_state(
    app: &TestApp,
    listing: Uuid,
) -> otop_domain::listing::ListingState {
    let store = AggregateStore::<Listing>::new(app.pool.clone());
    store
        .load(&listing.to_string())
        .await
        .expect("load listing")
        .aggregate
        .0
        .expect("listing exists")
}

/// Every order in the log, by checkout.
async fn orders_by_checkout(app: &TestApp) -> BTreeMap<Uuid, Vec<otop_domain::order::OrderState>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'Order'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("order ids");
    let store = AggregateStore::<Order>::new(app.pool.clone());
    let mut by_checkout: BTreeMap<Uuid, Vec<_>> = BTreeMap::new();
    for id in ids {
        let order = store
            .load(&id)
            .await
            .expect("load order")
            .aggregate
            .0
            .expect("placed");
        by_checkout
            .entry(order.checkout_id)
            .or_default()
            .push(order);
    }
    by_checkout
}

/// All or nothing: each checkout's orders are all awaiting payment, or none holds stock.
fn assert_all_or_nothing(
    by_checkout: &BTreeMap<Uuid, Vec<otop_domain::order::OrderState>>,
) -> usize {
    let mut confirmed = 0;
    for (checkout, orders) in by_checkout {
        let statuses: Vec<OrderStatus> = orders.iter().map(|o| o.status).collect();
        let all_confirmed = statuses.iter().all(|s| *s == OrderStatus::AwaitingPayment);
        let all_released = statuses
            .iter()
            .all(|s| matches!(s, OrderStatus::Rejected | OrderStatus::Cancelled));
        assert!(
            all_confirmed || all_released,
            "checkout {checkout} half-made: {statuses:?}"
        );
        if all_confirmed {
            confirmed += 1;
        }
    }
    confirmed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_checkouts_race_for_fifty_units_and_exactly_fifty_sell() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้า").await;
    let listing = app.published_listing(vendor, 50).await;
    let started = Instant::now();
    let replies = futures::future::join_all((0..200).map(|i| {
        let app = &app;
        async move { checkout(app, &format!("shopper-{i}"), &[(listing, 1)], None).await }
    }))
    .await;
    println!(
        "200 concurrent checkouts answered in {:?}",
        started.elapsed()
    );
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let lost = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(won, 50, "exactly the stocked units are sold");
    assert_eq!(lost, 150);
    for reply in replies.iter().filter(|r| r.status == StatusCode::CONFLICT) {
        reply.assert_problem(409);
        assert_eq!(
            reply.body["errors"][0]["field"], "lines[0].listing_id",
            "{reply:?}"
        );
    }
    app.wait_for_checkout_process().await;
    let state = listing_state(&app, listing).await;
    assert_eq!(state.available, 0);
    assert_eq!(state.reserved(), 50);
    assert_eq!(
        state.reserved() + state.sold + u64::from(state.available),
        50
    );
    let by_checkout = orders_by_checkout(&app).await;
    assert_eq!(assert_all_or_nothing(&by_checkout), 50);
    let reserved_orders: Vec<&Uuid> = state.reservations.keys().collect();
    for orders in by_checkout.values() {
        for order in orders {
            let holds = state.reservations.contains_key(&order.id);
            assert_eq!(
                holds,
                order.status == OrderStatus::AwaitingPayment,
                "order {} {:?}",
                order.id,
                order.status
            );
        }
    }
    assert_eq!(reserved_orders.len(), 50);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_multi_vendor_carts_are_all_or_nothing_and_stock_adds_up() {
    let app = TestApp::spawn().await;
    let mut listings = Vec::new();
    for name in ["กลุ่มหนึ่ง", "กลุ่มสอง", "กลุ่มสาม"]
    {
        let vendor = app.approved_vendor(name).await;
        listings.push(app.published_listing(vendor, 6).await);
        listings.push(app.published_listing(vendor, 4).await);
    }
    let initial: HashMap<Uuid, u64> = [6, 4, 6, 4, 6, 4]
        .iter()
        .zip(&listings)
        .map(|(s, l)| (*l, *s))
        .collect();
    let mut rng = otop_bench::load::Rng::new(42);
    let carts: Vec<Vec<(Uuid, u32)>> = (0..60)
        .map(|_| {
            let mut cart: Vec<(Uuid, u32)> = Vec::new();
            for _ in 0..(1 + rng.below(3)) {
                let listing = listings[rng.below(listings.len() as u64) as usize];
                if !cart.iter().any(|(l, _)| *l == listing) {
                    cart.push((listing, 1 + rng.below(2) as u32));
                }
            }
            cart
        })
        .collect();
    let replies = futures::future::join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move { checkout(app, &format!("buyer-{i}"), cart, None).await }
    }))
    .await;
    for reply in &replies {
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::CONFLICT,
            "{reply:?}"
        );
    }
    app.wait_for_checkout_process().await;
    let by_checkout = orders_by_checkout(&app).await;
    let confirmed = assert_all_or_nothing(&by_checkout);
    assert!(confirmed > 0, "some carts must win");
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(won, confirmed, "every 201 is a confirmed checkout");
    // Units held per listing equal the confirmed orders' lines, and nothing is stranded.
    let mut expected_reserved: HashMap<Uuid, u64> = HashMap::new();
    for order in by_checkout
        .values()
        .flatten()
        .filter(|o| o.status == OrderStatus::AwaitingPayment)
    {
        for line in &order.lines {
            *expected_reserved.entry(line.listing_id).or_default() += u64::from(line.quantity);
        }
    }
    for listing in &listings {
        let state = listing_state(&app, *listing).await;
        assert_eq!(
            state.reserved(),
            expected_reserved.get(listing).copied().unwrap_or(0),
            "{listing}"
        );
        assert_eq!(
            state.reserved() + state.sold + u64::from(state.available),
            initial[listing],
            "{listing}"
        );
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_fifty_times_at_once_makes_one_checkout() {
    let app = TestApp::spawn().await;
    let silk = app.approved_vendor("กลุ่มไหม").await;
    let silver = app.approved_vendor("กลุ่มเงิน").await;
    let a = app.published_listing(silk, 10).await;
    let b = app.published_listing(silver, 10).await;
    let replies = futures::future::join_all((0..50).map(|_| {
        let app = &app;
        async move { checkout(app, "one-shopper", &[(a, 2), (b, 1)], Some("cart-7")).await }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        assert_eq!(reply.body, replies[0].body, "one reply, replayed");
    }
    assert_eq!(replies[0].body["orders"].as_array().map(Vec::len), Some(2));
    assert_eq!(replies[0].body["status"], "awaiting_payment");
    let orders: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'Order'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count orders");
    assert_eq!(orders, 2, "one order per vendor, once");
    assert_eq!(listing_state(&app, a).await.available, 8);
    assert_eq!(listing_state(&app, b).await.available, 9);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_names_the_lines_it_cannot_reserve_and_holds_nothing() {
    let app = TestApp::spawn().await;
    let silk = app.approved_vendor("กลุ่มไหม").await;
    let silver = app.approved_vendor("กลุ่มเงิน").await;
    let plenty = app.published_listing(silk, 10).await;
    let scarce = app.published_listing(silver, 1).await;
    let draft = app.draft_listing(silver, 5).await;
    let reply = checkout(
        &app,
        "s1",
        &[(plenty, 1), (scarce, 2), (draft, 1), (Uuid::now_v7(), 1)],
        None,
    )
    .await;
    reply.assert_problem(409);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "lines[1].listing_id",
            "lines[2].listing_id",
            "lines[3].listing_id"
        ]
    );
    assert_eq!(listing_state(&app, plenty).await.available, 10);
    // Bad input is a 422 and changes nothing.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    checkout(&app, "s1", &[], None).await.assert_problem(422);
    checkout(&app, "s1", &[(plenty, 0)], None)
        .await
        .assert_problem(422);
    checkout(&app, "s1", &[(plenty, 1), (plenty, 1)], None)
        .await
        .assert_problem(422);
    let vendor_token = app.vendor(silk);
    let body =
        json!({"lines": [{"listing_id": plenty, "quantity": 1}], "shipping_address": address()});
    app.request(
        Method::POST,
        "/v1/checkouts",
        Some(&vendor_token),
        Some(&body),
        &[],
    )
    .await
    .assert_problem(403);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(before, after);
    // A suspended vendor's listing cannot be reserved.
    app.post(
        &format!("/v1/vendors/{silver}/suspend"),
        &app.admin(),
        json!({"reason": "audit"}),
    )
    .await;
    let blocked = checkout(&app, "s2", &[(plenty, 1), (scarce, 1)], None).await;
    blocked.assert_problem(409);
    app.wait_for_checkout_process().await;
    assert_eq!(
        listing_state(&app, plenty).await.available,
        10,
        "the other vendor's line was released"
    );
    assert_all_or_nothing(&orders_by_checkout(&app).await);
    app.cleanup().await;
}

/// Expected units held per listing: the lines of every order that still holds stock.
fn held_by_orders(
    by_checkout: &BTreeMap<Uuid, Vec<otop_domain::order::OrderState>>,
) -> HashMap<Uuid, u64> {
    let mut held: HashMap<Uuid, u64> = HashMap::new();
    for order in by_checkout
        .values()
        .flatten()
        .filter(|o| o.status == OrderStatus::AwaitingPayment)
    {
        for line in &order.lines {
            *held.entry(line.listing_id).or_default() += u64::from(line.quantity);
        }
    }
    held
}

/// `kill -9` of the API process in the middle of a stream of checkouts: every checkout in
/// the log is whole (all its orders awaiting payment, every line's stock held) or absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_server_mid_stream_leaves_every_checkout_whole_or_absent() {
    let mut app = TestApp::spawn().await;
    let mut listings = Vec::new();
    for name in ["กลุ่มก", "กลุ่มข"] {
        let vendor = app.approved_vendor(name).await;
        listings.push(app.published_listing(vendor, 400).await);
        listings.push(app.published_listing(vendor, 400).await);
    }
    let shopper = app.shopper("crash-buyer");
    app.stop_server().await;

    let mut child = ServerProcess::start(
        env!("CARGO_BIN_EXE_otop-e2e-server"),
        app.database_url(),
        "crash",
        &[
            // One shopper sends every checkout of the stream and pays none.
            ("OTOP_MAX_UNPAID_CHECKOUTS_PER_SHOPPER", "0"),
            ("OTOP_WRITE_RATE_PER_MINUTE", "0"),
        ],
    )
    .await;
    let base = child.base_url.clone();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);

    // Eight shoppers check out two-vendor carts back to back; the process is killed once 60
    // checkouts have been answered, with others in flight.
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (client, base, shopper) = (client.clone(), base.clone(), shopper.clone());
            let (answered, failed, listings) = (answered.clone(), failed.clone(), listings.clone());
            tokio::spawn(async move {
                for round in 0..1_000usize {
                    let cart = [
                        (listings[(worker + round) % 2], 1u32),
                        (listings[2 + (worker + round) % 2], 1u32),
                    ];
                    let body = json!({
                        "lines": cart.iter().map(|(id, q)| json!({"listing_id": id, "quantity": q})).collect::<Vec<_>>(),
                        "shipping_address": address(),
                    });
                    let sent = client
                        .post(format!("{base}/v1/checkouts"))
                        .bearer_auth(&shopper)
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(reply) => {
                            assert_eq!(reply.status(), StatusCode::CREATED);
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(_) => {
                            failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 60 {
        assert!(Instant::now() < deadline, "the checkouts did not get going");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill();
    for worker in workers {
        worker.await.expect("a shopper task");
    }
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    let failed = failed.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        failed, 8,
        "every shopper lost its connection to the killed process"
    );
    // A statement the process sent just before it died still runs to its end in PostgreSQL
    // (and commits, or not): wait until its backends are gone before reading the log, or
    // the log could change between reading the orders and reading the listings.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type = 'client backend' AND state <> 'idle'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("backends");
        if others == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed process's statements never ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let by_checkout = orders_by_checkout(&app).await;
    let whole = assert_all_or_nothing(&by_checkout);
    for (checkout, orders) in &by_checkout {
        assert_eq!(orders.len(), 2, "checkout {checkout} has both its orders");
    }
    assert!(
        whole >= answered,
        "every answered checkout is in the log ({whole} < {answered})"
    );
    println!("{answered} checkouts answered, {whole} in the log, {failed} cut off by the kill");
    let held = held_by_orders(&by_checkout);
    for listing in &listings {
        let state = listing_state(&app, *listing).await;
        assert_eq!(state.reserved(), held.get(listing).copied().unwrap_or(0));
        assert_eq!(
            state.reserved() + state.sold + u64::from(state.available),
            400
        );
    }
    app.cleanup().await;
}

/// The process manager releases cancelled orders' stock; killed at any point while it
/// does, and run again, it strands no reservation and releases nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_process_manager_while_it_releases_strands_nothing() {
    let app = TestApp::spawn_with(|config| config.run_checkout_process = false).await;
    let mut listings = Vec::new();
    for name in ["กลุ่มก", "กลุ่มข"] {
        let vendor = app.approved_vendor(name).await;
        listings.push(app.published_listing(vendor, 15).await);
        listings.push(app.published_listing(vendor, 15).await);
    }
    let mut rng = otop_bench::load::Rng::new(7);
    let carts: Vec<Vec<(Uuid, u32)>> = (0..40)
        .map(|_| {
            let first = rng.below(2) as usize;
            vec![
                (listings[first], 1 + rng.below(2) as u32),
                (listings[2 + rng.below(2) as usize], 1),
            ]
        })
        .collect();
    let replies = futures::future::join_all(carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move { checkout(app, &format!("b{i}"), cart, None).await }
    }))
    .await;
    let mut cancelled = 0;
    for (i, reply) in replies.iter().enumerate() {
        if reply.status != StatusCode::CREATED {
            continue;
        }
        assert_eq!(reply.body["status"], "awaiting_payment", "{reply:?}");
        if i % 2 == 1 {
            continue;
        }
        for order in reply.body["orders"].as_array().expect("orders") {
            let id = order["id"].as_str().expect("order id");
            let done = app
                .post(
                    &format!("/v1/orders/{id}/cancel"),
                    &app.shopper(&format!("b{i}")),
                    json!({"reason": "changed my mind"}),
                )
                .await;
            assert_eq!(done.status, StatusCode::OK, "{done:?}");
            cancelled += 1;
        }
    }
    assert!(cancelled > 10, "enough cancellations to release");
    let held_before: u64 = {
        let mut total = 0;
        for listing in &listings {
            total += listing_state(&app, *listing).await.reserved();
        }
        total
    };
    let process = || Arc::new(CheckoutProcess::new(app.pool.clone()));
    let settings = RunnerSettings {
        batch_size: 7,
        poll_interval: Duration::from_millis(5),
        ..RunnerSettings::default()
    };
    for pause in [3u64, 17, 41, 5, 29] {
        let handle = runner::spawn(app.pool.clone(), process(), settings.clone());
        tokio::time::sleep(Duration::from_millis(pause)).await;
        handle.abort();
    }
    let handle = runner::spawn(app.pool.clone(), process(), settings);
    app.wait_for_checkout_process().await;
    handle.stop().await;
    let by_checkout = orders_by_checkout(&app).await;
    let held = held_by_orders(&by_checkout);
    let mut held_after = 0;
    for listing in &listings {
        let state = listing_state(&app, *listing).await;
        assert_eq!(
            state.reserved(),
            held.get(listing).copied().unwrap_or(0),
            "only active orders hold stock"
        );
        assert_eq!(
            state.reserved() + state.sold + u64::from(state.available),
            15
        );
        held_after += state.reserved();
    }
    assert!(held_after < held_before, "the cancellations released stock");
    let releases: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'StockReleased'")
            .fetch_one(&app.pool)
            .await
            .expect("count releases");
    let cancelled_lines: usize = by_checkout
        .values()
        .flatten()
        .filter(|o| o.status == OrderStatus::Cancelled)
        .map(|o| o.lines.len())
        .sum();
    assert_eq!(
        releases as usize, cancelled_lines,
        "each line released once"
    );
    app.cleanup().await;
}

/// A flash sale: 500 shoppers at once, through HTTP, for 100 units of one listing. Exactly
/// 100 sell; every shopper gets a final reply (201 awaiting payment, or 409 naming the
/// line), none is left pending and no connection is dropped. (How fast: `otop-bench`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_shoppers_race_for_a_hundred_units_and_all_get_a_final_reply() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมช้าง").await;
    let listing = app.published_listing(vendor, 100).await;
    let started = Instant::now();
    let replies = futures::future::join_all((0..500).map(|i| {
        let app = &app;
        async move {
            let body = json!({
                "lines": [{"listing_id": listing, "quantity": 1}],
                "shipping_address": address(),
            });
            let sent = app
                .client
                .post(format!("{}/v1/checkouts", app.base_url))
                .bearer_auth(app.shopper(&format!("fan-{i}")))
                .json(&body)
                .send()
                .await;
            let reply = sent.expect("every shopper gets a reply, no connection dropped");
            let status = reply.status();
            let body: Value = reply.json().await.expect("a JSON reply");
            (status, body, started.elapsed())
        }
    }))
    .await;
    let sold = replies
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(sold, 100, "exactly the stocked units are sold");
    for (status, body, _) in &replies {
        match *status {
            StatusCode::CREATED => assert_eq!(body["status"], "awaiting_payment", "{body}"),
            StatusCode::CONFLICT => {
                assert_eq!(body["errors"][0]["field"], "lines[0].listing_id", "{body}")
            }
            other => panic!("not a final reply: {other} {body}"),
        }
    }
    let slowest = replies
        .iter()
        .map(|(_, _, at)| *at)
        .max()
        .unwrap_or_default();
    println!("flash sale: 500 replies, the last after {slowest:?}");
    let state = listing_state(&app, listing).await;
    assert_eq!(state.available, 0);
    assert_eq!(state.reserved(), 100);
    assert_eq!(
        state.reserved() + state.sold + u64::from(state.available),
        100
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unpaid_orders_expire_and_release_their_stock() {
    let app = TestApp::spawn_with(|config| config.payment_timeout = Duration::from_secs(1)).await;
    let vendor = app.approved_vendor("กลุ่มข้าว").await;
    let listing = app.published_listing(vendor, 5).await;
    let reply = checkout(&app, "late-payer", &[(listing, 3)], None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(
        reply.body["status"], "awaiting_payment",
        "its stock was reserved"
    );
    let order_id = reply.body["orders"][0]["id"]
        .as_str()
        .expect("order id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let order = AggregateStore::<Order>::new(app.pool.clone())
            .load(&order_id)
            .await
            .expect("load");
        if order.aggregate.0.as_ref().map(|o| o.status) == Some(OrderStatus::Expired) {
            break;
        }
        assert!(Instant::now() < deadline, "the order never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_checkout_process().await;
    let state = listing_state(&app, listing).await;
    assert_eq!(state.available, 5, "expiry released the stock");
    assert!(state.reservations.is_empty());
    app.cleanup().await;
}

/// The whole journey over HTTP: a two-vendor cart becomes two orders, both paid, accepted,
/// packed, shipped and delivered; shipping turns held units into sold ones; a cancellation
/// releases stock; a partial refund shows in the vendor's payout ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_two_vendor_cart_goes_from_checkout_to_delivery() {
    let app = TestApp::spawn().await;
    let silk = app.approved_vendor("กลุ่มทอผ้าไหม").await;
    let silver = app.approved_vendor("กลุ่มเครื่องเงิน").await;
    let scarf = app.published_listing(silk, 10).await; // 350,000 satang each
    let beads = app.published_listing(silver, 10).await;
    let reply = checkout(&app, "nok", &[(scarf, 2), (beads, 1)], Some("journey")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["status"], "awaiting_payment");
    let orders = reply.body["orders"].as_array().expect("orders").clone();
    assert_eq!(orders.len(), 2, "one order per vendor");
    let order_of = |vendor: Uuid| {
        orders
            .iter()
            .find(|o| o["vendor_id"] == vendor.to_string())
            .and_then(|o| o["id"].as_str())
            .expect("an order for the vendor")
            .to_string()
    };
    let silk_order = order_of(silk);
    let silver_order = order_of(silver);
    assert_eq!(
        orders
            .iter()
            .find(|o| o["id"] == silk_order.as_str())
            .expect("silk")["total_satang"],
        700_000
    );

    // The shopper follows the orders.
    let mine = app
        .get(
            &format!("/v1/orders?min_position={}", reply.position()),
            Some(&app.shopper("nok")),
        )
        .await;
    assert_eq!(mine.body["total"], 2, "{mine:?}");

    for (order, amount) in [(&silk_order, 700_000), (&silver_order, 350_000)] {
        let paid = app.pay(order, amount, &format!("promptpay-{order}")).await;
        assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
        assert_eq!(paid.body["status"], "paid");
    }
    let steps: [(&str, Value); 4] = [
        ("accept", Value::Null),
        ("pack", Value::Null),
        (
            "ship",
            json!({"carrier": "Thailand Post", "tracking_number": "EF123456789TH"}),
        ),
        ("deliver", Value::Null),
    ];
    for (vendor, order) in [(silk, &silk_order), (silver, &silver_order)] {
        for (step, body) in &steps {
            let moved = app
                .post(
                    &format!("/v1/orders/{order}/{step}"),
                    &app.vendor(vendor),
                    body.clone(),
                )
                .await;
            assert_eq!(moved.status, StatusCode::OK, "{step}: {moved:?}");
        }
    }
    let delivered = app
        .get(
            &format!("/v1/orders/{silk_order}?min_position={}", i64::MAX / 2),
            Some(&app.shopper("nok")),
        )
        .await;
    delivered.assert_problem(422);
    let position: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("head");
    let delivered = app
        .get(
            &format!("/v1/orders/{silk_order}?min_position={position}"),
            Some(&app.shopper("nok")),
        )
        .await;
    assert_eq!(delivered.body["status"], "delivered", "{delivered:?}");
    assert_eq!(delivered.body["tracking_number"], "EF123456789TH");
    for step in [
        "paid_at",
        "accepted_at",
        "packed_at",
        "shipped_at",
        "delivered_at",
    ] {
        assert!(
            delivered.body[step].is_string(),
            "{step} recorded: {delivered:?}"
        );
    }
    app.wait_for_checkout_process().await;
    let scarf_state = listing_state(&app, scarf).await;
    assert_eq!(
        (
            scarf_state.available,
            scarf_state.reserved(),
            scarf_state.sold
        ),
        (8, 0, 2),
        "shipping sold the units"
    );

    // A partial refund after delivery debits the vendor's payout ledger.
    let refund = app
        .post(
            &format!("/v1/orders/{silk_order}/refund"),
            &app.vendor(silk),
            json!({"amount_satang": 100_000, "reason": "one scarf arrived torn"}),
        )
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{refund:?}");
    let balance = app
        .get(
            &format!(
                "/v1/vendors/{silk}/balance?min_position={}",
                refund.position()
            ),
            Some(&app.vendor(silk)),
        )
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{balance:?}");
    let lines = balance.body["lines"].as_array().expect("ledger lines");
    let sum: i64 = lines
        .iter()
        .filter_map(|l| l["amount_satang"].as_i64())
        .sum();
    assert_eq!(
        balance.body["balance_satang"].as_i64(),
        Some(sum),
        "balance is the sum of its lines"
    );
    assert_eq!(
        sum,
        665_000 - 95_000,
        "credit 700000 less 5%, debit 100000 less 5%"
    );

    // A cancellation before shipping releases the stock at once.
    let again = checkout(&app, "nok", &[(scarf, 3)], None).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    let third = again.body["orders"][0]["id"]
        .as_str()
        .expect("order")
        .to_string();
    assert_eq!(listing_state(&app, scarf).await.available, 5);
    let cancelled = app
        .post(
            &format!("/v1/orders/{third}/cancel"),
            &app.shopper("nok"),
            json!({"reason": "ordered twice"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{cancelled:?}");
    app.wait_for_checkout_process().await;
    let scarf_state = listing_state(&app, scarf).await;
    assert_eq!(
        (
            scarf_state.available,
            scarf_state.reserved(),
            scarf_state.sold
        ),
        (8, 0, 2)
    );
    app.cleanup().await;
}

/// The process manager, held in the middle of a batch until the test lets it go; `mode`
/// says whether the runner wraps its batches in a transaction (the old way, the control).
struct HeldProcess {
    inner: CheckoutProcess,
    mode: BatchMode,
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
}

impl Projection for HeldProcess {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn batch_mode(&self) -> BatchMode {
        self.mode
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if self.armed.swap(false, Ordering::SeqCst) {
                self.entered.notify_one();
                self.release.notified().await;
            }
            self.inner.apply(conn, events).await
        })
    }
}

/// While the process manager is stuck in a batch, a price change is read back with
/// `?min_position=`; returns that read's status.
async fn read_while_the_process_manager_is_stuck(mode: BatchMode) -> StatusCode {
    let app = TestApp::spawn_with(|config| {
        config.run_checkout_process = false;
        config.min_position_wait = Duration::from_secs(2);
    })
    .await;
    let vendor = app.approved_vendor("กลุ่มข้าวหอมมะลิ").await;
    let listing = app.published_listing(vendor, 5).await;
    let reply = checkout(&app, "slow", &[(listing, 1)], None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let held = Arc::new(HeldProcess {
        inner: CheckoutProcess::new(app.pool.clone()),
        mode,
        armed: AtomicBool::new(true),
        entered: Notify::new(),
        release: Notify::new(),
    });
    let handle = runner::spawn(app.pool.clone(), held.clone(), RunnerSettings::default());
    tokio::time::timeout(Duration::from_secs(30), held.entered.notified())
        .await
        .expect("the process manager starts a batch");
    // The process manager is inside its batch now, and stays there until released.
    let changed = app
        .request(
            Method::PUT,
            &format!("/v1/listings/{listing}/price"),
            Some(&app.vendor(vendor)),
            Some(&json!({"price_satang": 99_900})),
            &[],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let read = app
        .get(
            &format!("/v1/listings/{listing}?min_position={}", changed.position()),
            None,
        )
        .await;
    assert!(
        !held.armed.load(Ordering::SeqCst),
        "the batch was entered and not yet released"
    );
    if read.status == StatusCode::OK {
        assert_eq!(read.body["price_satang"], 99_900, "{read:?}");
    }
    held.release.notify_one();
    handle.stop().await;
    app.cleanup().await;
    read.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_process_manager_batch_delays_no_other_reader_of_the_log() {
    assert_eq!(
        read_while_the_process_manager_is_stuck(BatchMode::AtLeastOnce).await,
        StatusCode::OK,
        "the catalog moved on and the read was answered while the manager was stuck"
    );
    // Control: the same stuck batch inside a transaction holds back every log reader.
    assert_eq!(
        read_while_the_process_manager_is_stuck(BatchMode::Transaction).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a batch held in a transaction must stall the read (else this test proves nothing)"
    );
}

/// Orders placed by the saga checkouts used before (an `OrderPlaced` alone, stock still to
/// reserve) keep working from the log as it was written: the process manager reserves and
/// confirms them, or rejects them and turns their checkout's other orders down.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_placed_by_the_earlier_saga_are_still_settled() {
    use otop_domain::order::OrderLine;
    use otop_domain::values::Satang;
    use otop_domain::{Actor, EventMetadata, OrderCommand, Role};

    let app = TestApp::spawn().await;
    let silk = app.approved_vendor("กลุ่มไหม").await;
    let silver = app.approved_vendor("กลุ่มเงิน").await;
    let plenty = app.published_listing(silk, 10).await;
    let scarce = app.published_listing(silver, 1).await;
    let store = AggregateStore::<Order>::new(app.pool.clone());
    let shopper = Actor::new("old-saga", Role::Shopper);
    let place =
        |checkout_id: Uuid, vendor_id: Uuid, listing_id: Uuid, quantity: u32| OrderCommand::Place {
            order_id: otop_projections::checkout::order_id_of(checkout_id, vendor_id),
            checkout_id,
            actor: shopper.clone(),
            shopper_id: shopper.id.clone(),
            vendor_id,
            lines: vec![OrderLine {
                listing_id,
                quantity,
                unit_price: Satang::parse("price", 350_000).expect("price"),
            }],
            shipping_address: shipping_address(),
        };
    let metadata =
        EventMetadata::for_request(shopper.clone(), "old-saga", chrono::Utc::now()).to_map();
    // One checkout that can be reserved, one whose second order cannot.
    let good = Uuid::now_v7();
    let bad = Uuid::now_v7();
    let mut placed = Vec::new();
    for (checkout_id, vendor, listing, quantity) in [
        (good, silk, plenty, 2),
        (bad, silk, plenty, 1),
        (bad, silver, scarce, 5),
    ] {
        let command = place(checkout_id, vendor, listing, quantity);
        let OrderCommand::Place { order_id, .. } = &command else {
            unreachable!("a place command")
        };
        placed.push(*order_id);
        store
            .execute(&order_id.to_string(), command, &metadata)
            .await
            .expect("placed the old way");
    }
    app.wait_for_checkout_process().await;
    let status = |order: Uuid| {
        let store = &store;
        async move {
            store
                .load(&order.to_string())
                .await
                .expect("load")
                .aggregate
                .0
                .expect("order")
                .status
        }
    };
    assert_eq!(status(placed[0]).await, OrderStatus::AwaitingPayment);
    assert_eq!(
        status(placed[2]).await,
        OrderStatus::Rejected,
        "5 of 1 unit"
    );
    assert!(
        matches!(
            status(placed[1]).await,
            OrderStatus::Rejected | OrderStatus::Cancelled
        ),
        "its sibling is turned down"
    );
    app.wait_for_checkout_process().await;
    let state = listing_state(&app, plenty).await;
    assert_eq!(state.available, 8, "only the good checkout holds stock");
    assert_eq!(state.reservations.len(), 1);
    assert_eq!(listing_state(&app, scarce).await.available, 1);
    app.cleanup().await;
}

/// A checkout decided again with the same ids, without being told it may exist (its first
/// attempt does not look for its orders): the append fails on the orders' first sequence,
/// the retry finds them, and nothing is written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_placed_again_with_its_ids_finds_its_orders_and_writes_nothing() {
    use otop_domain::{Actor, EventMetadata, Role};
    use otop_projections::checkout::{place_checkout, CartLine, CheckoutRequest};

    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มจักสาน").await;
    let listing = app.published_listing(vendor, 5).await;
    let shopper = Actor::new("twice", Role::Shopper);
    let request = CheckoutRequest {
        checkout_id: Uuid::now_v7(),
        lines: vec![CartLine {
            listing_id: listing,
            quantity: 2,
        }],
        shipping_address: shipping_address(),
        metadata: EventMetadata::for_request(shopper, "twice", chrono::Utc::now()),
        derived_ids: false,
    };
    let store = otop_projections::EventStore::new(app.pool.clone());
    let first = place_checkout(&store, &request).await.expect("placed");
    assert!(!first.already_placed);
    let events = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    let before = events().await;
    let second = place_checkout(&store, &request).await.expect("found");
    assert!(second.already_placed);
    assert_eq!(
        store.conflicts(),
        1,
        "the first attempt collided with the stored orders"
    );
    assert_eq!(second.orders[0].id, first.orders[0].id);
    assert_eq!(second.position, first.position);
    assert_eq!(events().await, before, "nothing written twice");
    assert_eq!(listing_state(&app, listing).await.available, 3);
    app.cleanup().await;
}

/// A checkout whose listings and vendors this process holds reads only their tails from the
/// log, not their snapshots through `load_streams`, and still sees what another process
/// appended since: here a vendor suspended through the server, which refuses the next cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_on_streams_this_process_holds_reads_only_their_tails() {
    use otop_domain::{Actor, EventMetadata, Role};
    use otop_projections::checkout::{place_checkout, CartLine, CheckoutError, CheckoutRequest};

    let app = TestApp::spawn().await;
    let silk = app.approved_vendor("กลุ่มทอผ้าไหม").await;
    let silver = app.approved_vendor("กลุ่มเครื่องเงิน").await;
    let scarf = app.published_listing(silk, 10).await;
    let bangle = app.published_listing(silver, 10).await;
    let shopper = Actor::new("tails", Role::Shopper);
    let request = |lines: &[(Uuid, u32)]| CheckoutRequest {
        checkout_id: Uuid::now_v7(),
        lines: lines
            .iter()
            .map(|&(listing_id, quantity)| CartLine {
                listing_id,
                quantity,
            })
            .collect(),
        shipping_address: shipping_address(),
        metadata: EventMetadata::for_request(shopper.clone(), "tails", chrono::Utc::now()),
        derived_ids: false,
    };
    // A store with a cache of its own: only its own loads fill it.
    let store = otop_projections::EventStore::new(app.pool.clone()).with_private_cache();

    place_checkout(&store, &request(&[(scarf, 1), (bangle, 1)]))
        .await
        .expect("first checkout");
    assert_eq!(
        store.function_loads(),
        1,
        "the first checkout reads the listings' snapshots and follows them to their vendors"
    );
    place_checkout(&store, &request(&[(scarf, 2), (bangle, 2)]))
        .await
        .expect("second checkout");
    assert_eq!(
        store.function_loads(),
        1,
        "the second reads only the tails of the four streams it holds"
    );
    assert_eq!(listing_state(&app, scarf).await.available, 7);

    app.post(
        &format!("/v1/vendors/{silver}/suspend"),
        &app.admin(),
        json!({"reason": "audit"}),
    )
    .await;
    let refused = place_checkout(&store, &request(&[(scarf, 1), (bangle, 1)])).await;
    let Err(CheckoutError::Lines(lines)) = refused else {
        panic!("a suspended vendor's line must be refused: {refused:?}");
    };
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].listing_id, bangle);
    assert_eq!(
        store.function_loads(),
        1,
        "the suspension came with the vendor's tail"
    );
    assert_eq!(
        listing_state(&app, scarf).await.available,
        7,
        "nothing was written"
    );
    app.cleanup().await;
}
