//! Abuse limits (API.md, Limits), over HTTP: the unpaid-checkout cap, the write rate per
//! caller with `Retry-After`, the depth of offset paging with keyset paging beyond it, one
//! verify at a time, a paged ledger, and a `/readyz` that keeps the database's words to
//! itself.

use std::time::Duration;

use otop_e2e::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

fn address() -> Value {
    json!({"name": "สมหญิง ใจดี", "phone": "0812345678", "line1": "99 ถ.ธนสาร",
           "province": "สุรินทร์", "postcode": "32000"})
}

async fn checkout(app: &TestApp, token: &str, listing: Uuid) -> otop_e2e::Reply {
    app.post(
        "/v1/checkouts",
        token,
        json!({"lines": [{"listing_id": listing, "quantity": 1}], "shipping_address": address()}),
    )
    .await
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_shopper_with_three_unpaid_checkouts_gets_429_until_one_is_paid() {
    let app = TestApp::spawn_with(|config| config.max_unpaid_checkouts_per_shopper = 3).await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = app.published_listing(vendor, 100).await;
    let hoarder = app.shopper("hoarder");
    let mut orders = Vec::new();
    // Back to back: the read model need not have caught up for the cap to count them.
    for _ in 0..3 {
        let reply = checkout(&app, &hoarder, listing).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        orders.push(
            reply.body["orders"][0]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let before = event_count(&app).await;
    let refused = checkout(&app, &hoarder, listing).await;
    refused.assert_problem(429);
    assert!(refused.headers.contains_key("retry-after"), "{refused:?}");
    assert_eq!(event_count(&app).await, before, "the fourth wrote nothing");
    // Another shopper is not held back by the hoarder.
    let other = checkout(&app, &app.shopper("someone-else"), listing).await;
    assert_eq!(other.status, StatusCode::CREATED);
    // Paying one frees a place.
    let paid = app.pay(orders[0].as_str(), 350_000, "PP-CAP").await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = checkout(&app, &hoarder, listing).await;
        if reply.status == StatusCode::CREATED {
            break;
        }
        reply.assert_problem(429);
        assert!(
            std::time::Instant::now() < deadline,
            "the paid checkout never freed a place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.cleanup().await;
}

#[tokio::test]
async fn writes_above_the_rate_get_429_with_retry_after_per_caller() {
    let app = TestApp::spawn_with(|config| config.write_rate_per_minute = 5).await;
    let token = app.shopper("busy-applicant");
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let reply = app
            .request(Method::POST, "/v1/vendors", Some(&token), Some(&body), &[])
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = reply.headers["retry-after"]
                .to_str()
                .expect("text")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry_after), "{retry_after}");
        }
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    assert_eq!(
        event_count(&app).await,
        5,
        "the refused writes wrote nothing"
    );
    // Reads are not writes, and another caller has a budget of its own.
    assert_eq!(
        app.get("/v1/vendors", Some(&token)).await.status,
        StatusCode::OK
    );
    let other = app
        .request(
            Method::POST,
            "/v1/vendors",
            Some(&app.shopper("calm")),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    // Without a token, the client's address is the caller.
    let mut anonymous = Vec::new();
    for _ in 0..7 {
        let reply = app
            .request(Method::POST, "/v1/vendors", None, Some(&body), &[])
            .await;
        anonymous.push(reply.status.as_u16());
    }
    assert_eq!(&anonymous[..5], [401; 5]);
    assert_eq!(&anonymous[5..], [429; 2]);
    app.cleanup().await;
}

#[tokio::test]
async fn offset_paging_stops_at_ten_thousand_and_keyset_paging_goes_on() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let listing = app.published_listing(vendor, 100).await;
    let shopper = app.shopper("pager");
    for _ in 0..5 {
        assert_eq!(
            checkout(&app, &shopper, listing).await.status,
            StatusCode::CREATED
        );
    }
    let admin = app.admin();
    let deep = app
        .get("/v1/orders?page=101&per_page=100", Some(&admin))
        .await;
    deep.assert_problem(422);
    assert!(
        deep.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("after=")),
        "{deep:?}"
    );
    assert_eq!(
        app.get("/v1/orders?page=100&per_page=100", Some(&admin))
            .await
            .status,
        StatusCode::OK,
        "exactly 10,000 deep is allowed"
    );
    // Keyset: two at a time, every order once, newest first.
    let mut seen = Vec::new();
    let mut path = "/v1/orders?per_page=2&min_position=0".to_string();
    for _ in 0..10 {
        let mut reply = app.get(&path, Some(&admin)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while reply.body["total"] != 5 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            reply = app.get(&path, Some(&admin)).await;
        }
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        for item in reply.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        match reply.body["next_after"].as_str() {
            Some(after) => path = format!("/v1/orders?per_page=2&after={after}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
    app.get("/v1/orders?after=garbage", Some(&admin))
        .await
        .assert_problem(422);
    app.get(
        "/v1/orders?page=2&after=2026-12-01T00:00:00.000000Z_01a23217-970a-7325-b0bf-a98694b31154",
        Some(&admin),
    )
    .await
    .assert_problem(422);

    // The catalog pages by key the same way.
    for _ in 0..4 {
        app.published_listing(vendor, 1).await;
    }
    let first = app
        .get(&format!("/v1/listings?vendor={vendor}&per_page=2"), None)
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut first = first;
    while first.body["total"] != 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        first = app
            .get(&format!("/v1/listings?vendor={vendor}&per_page=2"), None)
            .await;
    }
    assert_eq!(first.body["total"], 5, "{first:?}");
    let mut listings: Vec<String> = Vec::new();
    let mut page = first;
    for _ in 0..5 {
        for item in page.body["items"].as_array().expect("items") {
            listings.push(item["id"].as_str().expect("id").to_string());
        }
        let Some(after) = page.body["next_after"].as_str().map(str::to_string) else {
            break;
        };
        assert_eq!(page.body["total"], 5, "the total is the whole list's");
        page = app
            .get(
                &format!("/v1/listings?vendor={vendor}&per_page=2&after={after}"),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
    }
    let mut unique = listings.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((listings.len(), unique.len()), (5, 5), "{listings:?}");
    app.get("/v1/listings?page=201&per_page=50", None)
        .await
        .assert_problem(422);

    // And the vendor directory, in name order.
    for name in ["กลุ่ม ก", "กลุ่ม ข", "กลุ่ม ค"] {
        app.approved_vendor(name).await;
    }
    let mut vendors: Vec<String> = Vec::new();
    let mut path = "/v1/vendors?per_page=2".to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.get("/v1/vendors?per_page=2", None).await;
        if reply.body["total"] == 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{reply:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        let page = app.get(&path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert_eq!(page.body["total"], 4);
        for item in page.body["items"].as_array().expect("items") {
            vendors.push(item["id"].as_str().expect("id").to_string());
        }
        match page.body["next_after"].as_str() {
            Some(after) => path = format!("/v1/vendors?per_page=2&after={after}"),
            None => break,
        }
    }
    let mut unique = vendors.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((vendors.len(), unique.len()), (4, 4), "{vendors:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn one_verify_at_a_time_and_readyz_keeps_database_errors_to_itself() {
    let app = TestApp::spawn().await;
    let auditor = app.token(&otop_domain::Actor::new(
        "auditor-1",
        otop_domain::Role::Auditor,
    ));
    // Hold the one permit, as a verify in progress does.
    let permit = app
        .state()
        .verify_gate
        .clone()
        .try_acquire_owned()
        .expect("free");
    app.get("/v1/audit/verify", Some(&auditor))
        .await
        .assert_problem(429);
    drop(permit);
    assert_eq!(
        app.get("/v1/audit/verify", Some(&auditor)).await.status,
        StatusCode::OK
    );

    // The database goes away (the test's database is dropped under the server).
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let mut admin = app.server_admin().await;
    sqlx::query(&format!(
        "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS false",
        app.database_name()
    ))
    .execute(&mut admin)
    .await
    .expect("refuse new connections");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(app.database_name())
        .execute(&mut admin)
        .await
        .expect("cut the server's connections");
    let down = app.get("/readyz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    let text = down.body.to_string();
    for leak in ["ALLOW_CONNECTIONS", "otop_test_", "FATAL", "database \\\""] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    sqlx::query(&format!(
        "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
        app.database_name()
    ))
    .execute(&mut admin)
    .await
    .expect("allow connections again");
    app.cleanup().await;
}

#[tokio::test]
async fn the_balance_pages_its_ledger_lines() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มแปรรูปข้าวหอมมะลิ").await;
    let listing = app.published_listing(vendor, 100).await;
    let mut last = 0;
    for index in 0..5 {
        let shopper = app.shopper(&format!("buyer-{index}"));
        let reply = checkout(&app, &shopper, listing).await;
        let order = reply.body["orders"][0]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let paid = app
            .pay(order.as_str(), 350_000, &format!("PP-LEDGER-{index}"))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
        last = paid.position();
    }
    let owner = app.vendor(vendor);
    let mut path = format!("/v1/vendors/{vendor}/balance?per_page=2&min_position={last}");
    let mut positions = Vec::new();
    for _ in 0..5 {
        let page = app.get(&path, Some(&owner)).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert_eq!(page.body["lines_total"], 5);
        assert_eq!(
            page.body["credits_satang"],
            5 * 332_500,
            "the sums cover every line"
        );
        let lines = page.body["lines"].as_array().expect("lines");
        assert!(lines.len() <= 2);
        positions.extend(
            lines
                .iter()
                .map(|l| l["position"].as_i64().expect("position")),
        );
        match page.body["next_after"].as_i64() {
            Some(after) => path = format!("/v1/vendors/{vendor}/balance?per_page=2&after={after}"),
            None => break,
        }
    }
    let mut sorted = positions.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(positions, sorted, "newest first, each line once");
    assert_eq!(positions.len(), 5);
    app.get(
        &format!("/v1/vendors/{vendor}/balance?per_page=501"),
        Some(&owner),
    )
    .await
    .assert_problem(422);
    app.cleanup().await;
}
