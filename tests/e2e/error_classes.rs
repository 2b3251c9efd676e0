//! One test per class of client mistake: each gets its status and a problem document, and
//! none of them changes anything in the log.

use otop_e2e::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

#[tokio::test]
async fn a_malformed_body_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = event_count(&app).await;
    let reply = app
        .client
        .post(format!("{}/v1/vendors", app.base_url))
        .bearer_auth(app.shopper("s1"))
        .header("content-type", "application/json")
        .body("{\"name_th\": ")
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.headers()["content-type"].to_str().expect("text"),
        "application/problem+json"
    );
    let not_json = app
        .client
        .post(format!("{}/v1/vendors", app.base_url))
        .bearer_auth(app.shopper("s1"))
        .body("name_th=x")
        .send()
        .await
        .expect("reply");
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(event_count(&app).await, before);
    app.cleanup().await;
}

#[tokio::test]
async fn invalid_values_are_422_naming_every_bad_field() {
    let app = TestApp::spawn().await;
    let reply = app
        .post(
            "/v1/vendors",
            &app.shopper("s1"),
            json!({"name_th": " ", "district_code": "3299", "producer_type": "coop", "phone": "12"}),
        )
        .await;
    reply.assert_problem(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["name_th", "district_code", "producer_type", "phone"]
    );

    let vendor = app.approved_vendor("กลุ่มทดสอบ").await;
    let before = event_count(&app).await;
    let listing = app
        .post(
            "/v1/listings",
            &app.vendor(vendor),
            json!({"title_th": "ข้าว", "category_code": "TEXTILE", "subtype_code": "FOOD_RICE_HOMMALI",
                   "price_satang": -5, "stock": 1, "otop_stars": 6}),
        )
        .await;
    listing.assert_problem(422);
    let fields: Vec<&str> = listing.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["subtype_code", "price_satang", "otop_stars"]);

    // A float where satang are expected is a wrong type: 422, never a rounded amount.
    app.post(
        "/v1/listings",
        &app.vendor(vendor),
        json!({"title_th": "ข้าว", "category_code": "FOOD", "subtype_code": "FOOD_RICE_HOMMALI",
               "price_satang": 12.5, "stock": 1}),
    )
    .await
    .assert_problem(422);
    // Unknown fields are refused rather than silently ignored.
    app.post(
        "/v1/listings",
        &app.vendor(vendor),
        json!({"title_th": "ข้าว", "category_code": "FOOD", "subtype_code": "FOOD_RICE_HOMMALI",
               "price_satang": 1250, "stock": 1, "prize_satang": 1}),
    )
    .await
    .assert_problem(422);
    assert_eq!(event_count(&app).await, before);
    app.cleanup().await;
}

#[tokio::test]
async fn no_token_or_a_bad_token_is_401() {
    let app = TestApp::spawn().await;
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    app.request(Method::POST, "/v1/vendors", None, Some(&body), &[])
        .await
        .assert_problem(401);
    app.request(
        Method::POST,
        "/v1/vendors",
        Some("not.a.token"),
        Some(&body),
        &[],
    )
    .await
    .assert_problem(401);
    let other_secret = otop_api::auth::AuthKeys::new("another-secret")
        .issue(
            &otop_domain::Actor::new("x", otop_domain::Role::Admin),
            chrono::Duration::hours(1),
        )
        .expect("token");
    app.request(
        Method::POST,
        "/v1/vendors",
        Some(&other_secret),
        Some(&body),
        &[],
    )
    .await
    .assert_problem(401);
    assert_eq!(event_count(&app).await, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn the_wrong_role_is_403() {
    let app = TestApp::spawn().await;
    let applied = app
        .post(
            "/v1/vendors",
            &app.shopper("s1"),
            json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"}),
        )
        .await;
    let vendor_id = applied.body["id"].as_str().expect("id").to_string();
    let before = event_count(&app).await;
    let auditor = app.token(&otop_domain::Actor::new("a1", otop_domain::Role::Auditor));
    app.post(
        &format!("/v1/vendors/{vendor_id}/approve"),
        &app.shopper("s1"),
        Value::Null,
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("/v1/vendors/{vendor_id}/approve"),
        &auditor,
        Value::Null,
    )
    .await
    .assert_problem(403);
    // A shopper cannot create listings.
    app.post(
        "/v1/listings",
        &app.shopper("s1"),
        json!({"title_th": "ข้าว", "category_code": "FOOD", "subtype_code": "FOOD_RICE_HOMMALI",
               "price_satang": 1250, "stock": 1}),
    )
    .await
    .assert_problem(403);
    assert_eq!(event_count(&app).await, before);
    app.cleanup().await;
}

#[tokio::test]
async fn another_vendors_listing_is_403() {
    let app = TestApp::spawn().await;
    let owner = app.approved_vendor("กลุ่มเจ้าของ").await;
    let intruder = app.approved_vendor("กลุ่มอื่น").await;
    let listing = app.draft_listing(owner, 5).await;
    let before = event_count(&app).await;
    let intruder_token = app.vendor(intruder);
    app.request(
        Method::PUT,
        &format!("/v1/listings/{listing}/price"),
        Some(&intruder_token),
        Some(&json!({"price_satang": 1})),
        &[],
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("/v1/listings/{listing}/publish"),
        &intruder_token,
        Value::Null,
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("/v1/listings/{listing}/stock"),
        &intruder_token,
        json!({"set": 0}),
    )
    .await
    .assert_problem(403);
    // Nor can one vendor close another.
    app.post(
        &format!("/v1/vendors/{owner}/close"),
        &intruder_token,
        Value::Null,
    )
    .await
    .assert_problem(403);
    assert_eq!(event_count(&app).await, before);
    // And its draft stays invisible to the intruder.
    app.get(&format!("/v1/listings/{listing}"), Some(&intruder_token))
        .await
        .assert_problem(404);
    app.cleanup().await;
}

#[tokio::test]
async fn an_unknown_id_is_404() {
    let app = TestApp::spawn().await;
    let unknown = Uuid::now_v7();
    app.get(&format!("/v1/vendors/{unknown}"), None)
        .await
        .assert_problem(404);
    app.get(&format!("/v1/listings/{unknown}"), None)
        .await
        .assert_problem(404);
    app.get("/v1/listings/not-a-uuid", None)
        .await
        .assert_problem(404);
    app.post(
        &format!("/v1/vendors/{unknown}/approve"),
        &app.admin(),
        Value::Null,
    )
    .await
    .assert_problem(404);
    let vendor = app.approved_vendor("กลุ่ม").await;
    app.post(
        &format!("/v1/listings/{unknown}/publish"),
        &app.vendor(vendor),
        Value::Null,
    )
    .await
    .assert_problem(404);
    app.get("/v1/no-such-route", None).await.assert_problem(404);
    assert_eq!(
        event_count(&app).await,
        2,
        "only the vendor's own two events"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn an_invalid_transition_is_409() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่ม").await;
    let before = event_count(&app).await;
    app.post(
        &format!("/v1/vendors/{vendor}/approve"),
        &app.admin(),
        Value::Null,
    )
    .await
    .assert_problem(409);
    app.post(
        &format!("/v1/vendors/{vendor}/reinstate"),
        &app.admin(),
        Value::Null,
    )
    .await
    .assert_problem(409);
    let listing = app.draft_listing(vendor, 1).await;
    let token = app.vendor(vendor);
    app.post(
        &format!("/v1/listings/{listing}/unpublish"),
        &token,
        Value::Null,
    )
    .await
    .assert_problem(409);
    app.post(
        &format!("/v1/listings/{listing}/archive"),
        &token,
        Value::Null,
    )
    .await;
    app.post(
        &format!("/v1/listings/{listing}/publish"),
        &token,
        Value::Null,
    )
    .await
    .assert_problem(409);
    app.post(
        &format!("/v1/listings/{listing}/stock"),
        &token,
        json!({"delta": -2}),
    )
    .await
    .assert_problem(409);
    // The draft and its archiving are the only new events.
    assert_eq!(event_count(&app).await, before + 2);
    app.cleanup().await;
}

#[tokio::test]
async fn a_stale_expected_stock_is_409() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่ม").await;
    let listing = app.draft_listing(vendor, 10).await;
    let token = app.vendor(vendor);
    let before = event_count(&app).await;
    let stale = app
        .post(
            &format!("/v1/listings/{listing}/stock"),
            &token,
            json!({"set": 4, "expected": 9}),
        )
        .await;
    stale.assert_problem(409);
    assert!(
        stale.body["detail"]
            .as_str()
            .expect("detail")
            .contains("10"),
        "{stale:?}"
    );
    assert_eq!(event_count(&app).await, before);
    let fresh = app
        .post(
            &format!("/v1/listings/{listing}/stock"),
            &token,
            json!({"set": 4, "expected": 10}),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{fresh:?}");
    let view = app
        .get(
            &format!("/v1/listings/{listing}?min_position={}", fresh.position()),
            Some(&token),
        )
        .await;
    assert_eq!(view.body["available_stock"], 4);
    // Neither or both of set and delta is a 422.
    app.post(
        &format!("/v1/listings/{listing}/stock"),
        &token,
        json!({"set": 1, "delta": 1}),
    )
    .await
    .assert_problem(422);
    app.cleanup().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_reply_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let token = app.shopper("s1");
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let key = [("Idempotency-Key", "apply-once")];
    let first = app
        .request(Method::POST, "/v1/vendors", Some(&token), Some(&body), &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = app
        .request(Method::POST, "/v1/vendors", Some(&token), Some(&body), &key)
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body, "the same reply, the same vendor id");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(event_count(&app).await, 1);

    let other_body = json!({"name_th": "กลุ่มอื่น", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    app.request(
        Method::POST,
        "/v1/vendors",
        Some(&token),
        Some(&other_body),
        &key,
    )
    .await
    .assert_problem(422);
    // Another caller with the same key is a different request altogether.
    let someone_else = app
        .request(
            Method::POST,
            "/v1/vendors",
            Some(&app.shopper("s2")),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(someone_else.status, StatusCode::CREATED);
    assert_ne!(someone_else.body["id"], first.body["id"]);
    assert_eq!(event_count(&app).await, 2);

    // A request refused before it ran (422 from parsing) claims no key: the same request
    // is refused afresh, and the corrected one may use the key.
    let bad = json!({"name_th": "", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let bad_key = [("Idempotency-Key", "bad-once")];
    app.request(
        Method::POST,
        "/v1/vendors",
        Some(&token),
        Some(&bad),
        &bad_key,
    )
    .await
    .assert_problem(422);
    let bad_again = app
        .request(
            Method::POST,
            "/v1/vendors",
            Some(&token),
            Some(&bad),
            &bad_key,
        )
        .await;
    bad_again.assert_problem(422);
    assert!(bad_again.headers.get("idempotent-replayed").is_none());
    let corrected = app
        .request(
            Method::POST,
            "/v1/vendors",
            Some(&token),
            Some(&body),
            &bad_key,
        )
        .await;
    assert_eq!(corrected.status, StatusCode::CREATED, "{corrected:?}");
    assert_eq!(event_count(&app).await, 3);
    app.cleanup().await;
}

#[tokio::test]
async fn a_retry_after_a_crash_between_command_and_reply_records_nothing_twice() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let owner = app.vendor(vendor);
    let listing = app.published_listing(vendor, 10).await;
    let shopper = app.shopper("s1");
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "a stock delta",
            format!("/v1/listings/{listing}/stock"),
            json!({"delta": 5}),
            &owner,
        ),
        (
            "a vendor application without an id",
            "/v1/vendors".to_string(),
            json!({"name_th": "กลุ่มใหม่", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"}),
            &shopper,
        ),
        (
            "a listing without an id",
            "/v1/listings".to_string(),
            json!({"title_th": "ผ้าไหม", "category_code": "TEXTILE", "subtype_code": "TEX_SILK_MUDMEE",
                   "price_satang": 100000, "stock": 3}),
            &owner,
        ),
    ];
    for (case, path, body, token) in cases {
        let key = [("Idempotency-Key", case)];
        let first = app
            .request(Method::POST, &path, Some(token), Some(&body), &key)
            .await;
        assert!(first.status.is_success(), "{case}: {first:?}");
        let after_first = event_count(&app).await;
        assert!(
            app.abandon_idempotency_claims().await >= 1,
            "{case}: there was a claim to abandon"
        );
        // The retry takes the abandoned claim over and runs the handler again.
        let retry = app
            .request(Method::POST, &path, Some(token), Some(&body), &key)
            .await;
        assert_eq!(retry.status, first.status, "{case}: {retry:?}");
        assert!(
            retry.headers.get("idempotent-replayed").is_none(),
            "{case}: the retry ran (it took the claim over), it was not replayed"
        );
        assert_eq!(retry.body["id"], first.body["id"], "{case}");
        assert_eq!(retry.body["position"], first.body["position"], "{case}");
        assert_eq!(
            event_count(&app).await,
            after_first,
            "{case}: the retry recorded nothing"
        );
    }
    // The stock moved by 5 once: 10 + 5.
    let store = otop_projections::AggregateStore::<otop_domain::Listing>::new(app.pool.clone());
    let loaded = store.load(&listing.to_string()).await.expect("load");
    assert_eq!(loaded.aggregate.state().expect("listing").available, 15);
    app.cleanup().await;
}

#[tokio::test]
async fn keys_are_scoped_by_role_subject_and_vendor() {
    let app = TestApp::spawn().await;
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let key = [("Idempotency-Key", "shared-key")];
    let first_vendor = Uuid::now_v7();
    let second_vendor = Uuid::now_v7();
    // One subject, four hats: each is a caller of its own.
    let tokens = [
        app.token(&otop_domain::Actor::new(
            "same-person",
            otop_domain::Role::Shopper,
        )),
        app.token(&otop_domain::Actor::new(
            "same-person",
            otop_domain::Role::Admin,
        )),
        app.token(&otop_domain::Actor::vendor("same-person", first_vendor)),
        app.token(&otop_domain::Actor::vendor("same-person", second_vendor)),
    ];
    let mut ids = Vec::new();
    for token in &tokens {
        let reply = app
            .request(Method::POST, "/v1/vendors", Some(token), Some(&body), &key)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        assert!(reply.headers.get("idempotent-replayed").is_none());
        ids.push(reply.body["id"].clone());
    }
    ids.sort_by_key(|id| id.to_string());
    ids.dedup();
    assert_eq!(ids.len(), 4, "four callers, four vendors");
    assert_eq!(event_count(&app).await, 4);
    app.cleanup().await;
}

#[tokio::test]
async fn keys_older_than_the_retention_are_purged() {
    let app = TestApp::spawn().await;
    let token = app.shopper("s1");
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    for key in ["old-key", "new-key"] {
        let reply = app
            .request(
                Method::POST,
                "/v1/vendors",
                Some(&token),
                Some(&body),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE idempotency_key = 'old-key'")
        .execute(&app.pool)
        .await
        .expect("age a key");
    // What the server's housekeeping runs, on the server's own connections.
    let purged = otop_api::idempotency::purge_expired(&app.state().pool, 7)
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT idempotency_key FROM idempotency_keys")
        .fetch_all(&app.pool)
        .await
        .expect("keys left");
    assert_eq!(left, ["new-key"]);
    app.cleanup().await;
}

#[tokio::test]
async fn fifty_concurrent_retries_with_one_key_run_the_command_once() {
    let app = TestApp::spawn().await;
    let token = app.shopper("s1");
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let replies = futures::future::join_all((0..50).map(|_| {
        app.request(
            Method::POST,
            "/v1/vendors",
            Some(&token),
            Some(&body),
            &[("Idempotency-Key", "burst")],
        )
    }))
    .await;
    let first_id = &replies[0].body["id"];
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        assert_eq!(&reply.body["id"], first_id);
    }
    let replayed = replies
        .iter()
        .filter(|r| r.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 49, "one ran, forty-nine replayed");
    assert_eq!(event_count(&app).await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_key_claimed_by_a_request_that_died_is_taken_over_by_its_retry() {
    let app = TestApp::spawn().await;
    let token = app.shopper("s1");
    let body = json!({"name_th": "กลุ่ม", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    let key = [("Idempotency-Key", "crashed-once")];
    // What a process that died mid-request leaves behind: a claim that never completed.
    let first = app
        .request(Method::POST, "/v1/vendors", Some(&token), Some(&body), &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    app.abandon_idempotency_claims().await;
    let retry = app
        .request(Method::POST, "/v1/vendors", Some(&token), Some(&body), &key)
        .await;
    assert_eq!(
        retry.status,
        StatusCode::CREATED,
        "the retry runs instead of waiting: {retry:?}"
    );
    assert!(retry.headers.get("idempotent-replayed").is_none());
    assert_eq!(retry.body["id"], first.body["id"], "the same vendor");
    assert_eq!(event_count(&app).await, 1, "and it applied once");
    // A different request never takes over someone's key.
    sqlx::query("UPDATE idempotency_keys SET completed_at = NULL, created_at = now() - interval '10 minutes'")
        .execute(&app.pool)
        .await
        .expect("abandon again");
    let other = json!({"name_th": "อื่น", "district_code": "3201", "producer_type": "sme", "phone": "0812345678"});
    app.request(
        Method::POST,
        "/v1/vendors",
        Some(&token),
        Some(&other),
        &key,
    )
    .await
    .assert_problem(422);
    app.cleanup().await;
}
