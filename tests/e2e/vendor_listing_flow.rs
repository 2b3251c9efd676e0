//! The happy path through HTTP: a vendor applies, is approved, creates, prices, stocks and
//! publishes a listing, and shoppers then see it.

use otop_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn a_vendor_applies_is_approved_and_publishes_a_listing() {
    let app = TestApp::spawn().await;
    let applicant = app.shopper("somchai");

    let applied = app
        .post(
            "/v1/vendors",
            &applicant,
            json!({
                "name_th": "  กลุ่มทอผ้าไหมบ้านท่าสว่าง  ",
                "name_en": "Ban Tha Sawang Silk Weavers",
                "district_code": "3201",
                "producer_type": "community_group",
                "phone": "044-511-234",
                "email": "thasawang@example.co.th",
                "payout_promptpay": "0812345678",
            }),
        )
        .await;
    assert_eq!(applied.status, StatusCode::CREATED, "{applied:?}");
    assert_eq!(applied.body["status"], "applied");
    let vendor_id = applied.body["id"].as_str().expect("id").to_string();
    let applied_position = applied.position();
    assert!(applied_position > 0);

    // Not public before approval, but the office sees it.
    let after_apply = format!("/v1/vendors/{vendor_id}?min_position={applied_position}");
    app.get(&after_apply, None).await.assert_problem(404);
    let as_admin = app.get(&after_apply, Some(&app.admin())).await;
    assert_eq!(as_admin.body["status"], "applied");
    assert_eq!(
        as_admin.body["name_th"], "กลุ่มทอผ้าไหมบ้านท่าสว่าง",
        "name is trimmed"
    );

    let approved = app
        .post(
            &format!("/v1/vendors/{vendor_id}/approve"),
            &app.admin(),
            Value::Null,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
    assert_eq!(approved.body["status"], "approved");
    assert!(approved.position() > applied_position, "positions grow");

    let vendor_uuid = vendor_id.parse().expect("uuid");
    let vendor = app.vendor(vendor_uuid);
    let created = app
        .post(
            "/v1/listings",
            &vendor,
            json!({
                "title_th": "ผ้าไหมยกทอง ลายดอกพิกุล",
                "title_en": "Gold brocade silk, pikul flower",
                "description_th": "ทอมือโดยกลุ่มทอผ้าไหมบ้านท่าสว่าง",
                "category_code": "TEXTILE",
                "subtype_code": "TEX_SILK_YOKTHONG",
                "price_satang": 1_500_000,
                "stock": 3,
                "weight_grams": 400,
                "otop_stars": 5,
                "tags": ["ผ้าไหม", "silk", "ยกทอง", "brocade"],
                "image_urls": ["https://img.example/brocade.jpg"],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["status"], "draft");
    let listing_id = created.body["id"].as_str().expect("id").to_string();
    let listing_path = format!("/v1/listings/{listing_id}");

    // A draft is private to its owner.
    app.get(
        &format!("{listing_path}?min_position={}", created.position()),
        None,
    )
    .await
    .assert_problem(404);

    let priced = app
        .request(
            reqwest::Method::PUT,
            &format!("{listing_path}/price"),
            Some(&vendor),
            Some(&json!({"price_satang": 1_450_000})),
            &[],
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{priced:?}");

    let stocked = app
        .post(
            &format!("{listing_path}/stock"),
            &vendor,
            json!({"delta": 2, "expected": 3}),
        )
        .await;
    assert_eq!(stocked.status, StatusCode::OK, "{stocked:?}");
    let set = app
        .post(&format!("{listing_path}/stock"), &vendor, json!({"set": 7}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");

    let patched = app
        .request(
            reqwest::Method::PATCH,
            &listing_path,
            Some(&vendor),
            Some(&json!({"title_en": "Gold brocade silk, pikul flower motif"})),
            &[],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");

    let published = app
        .post(&format!("{listing_path}/publish"), &vendor, Value::Null)
        .await;
    assert_eq!(published.status, StatusCode::OK, "{published:?}");
    assert_eq!(published.body["status"], "published");

    let public = app
        .get(
            &format!("{listing_path}?min_position={}", published.position()),
            None,
        )
        .await;
    assert_eq!(public.status, StatusCode::OK, "{public:?}");
    assert_eq!(public.body["status"], "published");
    assert_eq!(public.body["price_satang"], 1_450_000);
    assert_eq!(public.body["available_stock"], 7);
    assert_eq!(
        public.body["title_en"],
        "Gold brocade silk, pikul flower motif"
    );
    assert_eq!(public.body["otop_stars"], 5);

    let public_vendor = app
        .get(
            &format!(
                "/v1/vendors/{vendor_id}?min_position={}",
                published.position()
            ),
            None,
        )
        .await;
    assert_eq!(public_vendor.status, StatusCode::OK);
    assert_eq!(public_vendor.body["published_listings"], 1);
    assert_eq!(public_vendor.body["district_name_en"], "Mueang Surin");
    assert!(
        public_vendor.body.get("payout_promptpay").is_none(),
        "payout id is private"
    );
    let own_view = app
        .get(
            &format!(
                "/v1/vendors/{vendor_id}?min_position={}",
                published.position()
            ),
            Some(&vendor),
        )
        .await;
    assert_eq!(own_view.body["payout_promptpay"], "0812345678");

    // Every event carries who, when, and which request.
    let metadata: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata::jsonb FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&listing_id)
    .fetch_all(&app.pool)
    .await
    .expect("read metadata");
    assert_eq!(
        metadata.len(),
        6,
        "created, price, 2 stock changes, details, published"
    );
    for entry in &metadata {
        assert_eq!(entry["actor_role"], "vendor");
        assert_eq!(entry["actor_vendor_id"], vendor_id.as_str());
        for key in [
            "actor_id",
            "request_id",
            "correlation_id",
            "causation_id",
            "recorded_at",
        ] {
            assert!(
                entry[key].as_str().is_some_and(|v| !v.is_empty()),
                "{key} in {entry}"
            );
        }
    }

    // Suspension freezes its listings (API.md: a suspended vendor may read and fulfil paid
    // orders, nothing else); reinstatement thaws them.
    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor_id}/suspend"),
            &app.admin(),
            json!({"reason": "audit"}),
        )
        .await;
    assert_eq!(suspended.body["status"], "suspended");
    app.post(&format!("{listing_path}/unpublish"), &vendor, Value::Null)
        .await
        .assert_problem(403);
    app.post(&format!("{listing_path}/publish"), &vendor, Value::Null)
        .await
        .assert_problem(403);
    app.post(
        &format!("/v1/vendors/{vendor_id}/reinstate"),
        &app.admin(),
        Value::Null,
    )
    .await;
    // The listing stayed published all along (frozen, and out of search while suspended):
    // after reinstatement its vendor may change it again.
    let unpublished = app
        .post(&format!("{listing_path}/unpublish"), &vendor, Value::Null)
        .await;
    assert_eq!(unpublished.status, StatusCode::OK, "{unpublished:?}");
    let republished = app
        .post(&format!("{listing_path}/publish"), &vendor, Value::Null)
        .await;
    assert_eq!(republished.status, StatusCode::OK, "{republished:?}");

    app.cleanup().await;
}

#[tokio::test]
async fn the_api_documents_every_route_and_serves_docs_offline() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    let paths = spec.body["paths"].as_object().expect("paths");
    for path in [
        "/v1/vendors",
        "/v1/vendors/{id}",
        "/v1/vendors/{id}/approve",
        "/v1/vendors/{id}/reject",
        "/v1/vendors/{id}/suspend",
        "/v1/vendors/{id}/reinstate",
        "/v1/vendors/{id}/close",
        "/v1/listings",
        "/v1/listings/{id}",
        "/v1/listings/{id}/price",
        "/v1/listings/{id}/stock",
        "/v1/listings/{id}/publish",
        "/v1/listings/{id}/unpublish",
        "/v1/listings/{id}/archive",
        "/v1/listings/{id}/take-down",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from /openapi.json"
        );
    }
    let docs = app
        .client
        .get(format!("{}/docs/", app.base_url))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.expect("docs body");
    assert!(html.contains("swagger"), "the docs page is Swagger UI");

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["database"], "ok");
    let request_id = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .expect("healthz");
    assert!(
        request_id.headers().contains_key("x-request-id"),
        "every reply names its request"
    );
    app.cleanup().await;
}
