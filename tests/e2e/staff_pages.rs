//! The staff's pages over HTTP: the provincial office's desk (`/admin`) decides on vendors
//! and takes listings down through the same application functions as `/v1/vendors` and
//! `/v1/listings`, shows what each action changed, and is closed to every other role.

use otop_e2e::web::WebVisitor;
use otop_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn count_events(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

/// A vendor that applied, and the log position of its application.
async fn applicant(app: &TestApp, name_th: &str) -> (Uuid, i64) {
    let reply = app
        .post(
            "/v1/vendors",
            &app.shopper("applicant"),
            json!({
                "name_th": name_th,
                "district_code": "3203",
                "producer_type": "community_group",
                "phone": "044-511-234",
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id = reply.body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("vendor id");
    (id, reply.position())
}

/// The log's last position: a read with `?min_position=` of it sees every write so far
/// (the read models may lag behind a page's redirect on a loaded machine).
pub async fn log_head(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("the log's head")
}

async fn vendor_status(app: &TestApp, id: Uuid) -> String {
    let head = log_head(app).await;
    let reply = app
        .get(
            &format!("/v1/vendors/{id}?min_position={head}"),
            Some(&app.admin()),
        )
        .await;
    reply.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_office_approves_rejects_suspends_and_takes_down_from_its_desk() {
    let app = TestApp::spawn().await;
    let (approved_one, _) = applicant(&app, "กลุ่มทอผ้าไหมบ้านจารพัต").await;
    let (rejected_one, head) = applicant(&app, "กลุ่มจักสานบ้านสำโรง").await;
    let office = WebVisitor::new(&app.base_url);
    let desk = office
        .sign_in_as(
            "admin",
            "office-1",
            None,
            &format!("/admin?min_position={head}"),
        )
        .await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.html);
    assert!(desk.html.contains("กลุ่มทอผ้าไหมบ้านจารพัต"), "{}", desk.html);
    // One form per vendor and verb.
    for id in [approved_one, rejected_one] {
        for verb in ["approve", "reject"] {
            assert!(
                desk.html
                    .contains(&format!("action=\"/admin/vendors/{id}/{verb}\"")),
                "{id} {verb}"
            );
        }
    }
    let csrf = desk.hidden("csrf").expect("the desk's forms carry a token");

    let after = office
        .post_form(
            &format!("/admin/vendors/{approved_one}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.html);
    assert!(after.url.ends_with("/admin"), "{}", after.url);
    // What it changed: the vendor, from and to, and where in the log.
    assert_eq!(
        after.attribute_values("data-id"),
        [approved_one.to_string()]
    );
    assert_eq!(after.attribute_values("data-to"), ["อนุมัติแล้ว"]);
    assert!(after.html.contains("รอพิจารณา → "), "{}", after.html);
    assert_eq!(vendor_status(&app, approved_one).await, "approved");
    assert_eq!(count_events(&app, "VendorApproved").await, 1);
    // The notice is shown once.
    let again = office.get("/admin").await;
    assert!(again.attribute_values("data-id").is_empty());

    // Rejecting needs a reason: without one, a 422 page and nothing written.
    let no_reason = office
        .post_form(
            &format!("/admin/vendors/{rejected_one}/reject"),
            &[("csrf", &csrf), ("reason", "  ")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.html.contains("reason"), "{}", no_reason.html);
    assert_eq!(count_events(&app, "VendorRejected").await, 0);
    let rejected = office
        .post_form(
            &format!("/admin/vendors/{rejected_one}/reject"),
            &[("csrf", &csrf), ("reason", "เอกสารไม่ครบ")],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.html);
    assert_eq!(vendor_status(&app, rejected_one).await, "rejected");

    // A transition the vendor's state refuses is the API's 409.
    let twice = office
        .post_form(
            &format!("/admin/vendors/{approved_one}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.html);
    assert_eq!(count_events(&app, "VendorApproved").await, 1);

    // Suspend and reinstate from the list of every vendor.
    let listing = app.published_listing(approved_one, 5).await;
    let suspended = office
        .post_form(
            &format!("/admin/vendors/{approved_one}/suspend"),
            &[("csrf", &csrf), ("reason", "ตรวจสอบคุณภาพ")],
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.html);
    assert_eq!(vendor_status(&app, approved_one).await, "suspended");
    assert!(
        suspended.html.contains("ตรวจสอบคุณภาพ"),
        "the reason is on the desk"
    );
    let reinstated = office
        .post_form(
            &format!("/admin/vendors/{approved_one}/reinstate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(reinstated.status, StatusCode::OK, "{}", reinstated.html);
    assert_eq!(vendor_status(&app, approved_one).await, "approved");

    // Take a listing down, with a reason.
    let bad_id = office
        .post_form(
            "/admin/take-down",
            &[
                ("csrf", &csrf),
                ("listing_id", "not-an-id"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listing_id = listing.to_string();
    let taken = office
        .post_form(
            "/admin/take-down",
            &[
                ("csrf", &csrf),
                ("listing_id", &listing_id),
                ("reason", "ภาพไม่ตรงกับสินค้า"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.html);
    assert_eq!(taken.attribute_values("data-to"), ["taken_down"]);
    let head = log_head(&app).await;
    let state: Value = app
        .get(
            &format!("/v1/listings/{listing}?min_position={head}"),
            Some(&app.admin()),
        )
        .await
        .body;
    assert_eq!(state["status"], "taken_down", "{state}");
    app.cleanup().await;
}

#[tokio::test]
async fn the_desk_is_closed_to_every_other_role() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let (waiting, _) = applicant(&app, "กลุ่มสมุนไพรบ้านตาเตียว").await;
    // Nobody signed in: sign in first, then back to the desk.
    let anonymous = WebVisitor::new(&app.base_url);
    let page = anonymous.get("/admin").await;
    assert!(page.url.contains("/sign-in"), "{}", page.url);
    let vendor_id = vendor.to_string();
    for (role, vendor_id) in [
        ("shopper", None),
        ("vendor", Some(vendor_id.as_str())),
        ("auditor", None),
        ("analyst", None),
    ] {
        let visitor = WebVisitor::new(&app.base_url);
        let page = visitor
            .sign_in_as(role, "someone", vendor_id, "/admin")
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role}: {}", page.html);
        // Nor can it post a decision, with its own session's valid token.
        let home = visitor.get("/").await;
        let csrf = home.hidden("csrf").expect("signed in: a token");
        let refused = visitor
            .post_form(
                &format!("/admin/vendors/{waiting}/approve"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(vendor_status(&app, waiting).await, "applied");
    assert_eq!(
        count_events(&app, "VendorApproved").await,
        1,
        "only the setup's"
    );
    app.cleanup().await;
}

/// Two paid orders of two districts' vendors, from one checkout. Returns the log head.
pub async fn paid_sales(app: &TestApp) -> i64 {
    paid_orders(app).await.0
}

/// Two paid orders of two districts' vendors, from one checkout: the log head, and the
/// orders' ids.
pub async fn paid_orders(app: &TestApp) -> (i64, Vec<String>) {
    let north = app.approved_vendor_in("กลุ่มทอผ้าไหมบ้านท่าสว่าง", "3201").await;
    let south = app.approved_vendor_in("กลุ่มเครื่องเงินบ้านโชค", "3203").await;
    let lines: Vec<Value> = [
        (app.published_listing(north, 10).await, 2),
        (app.published_listing(south, 10).await, 1),
    ]
    .iter()
    .map(|(listing, quantity)| json!({"listing_id": listing, "quantity": quantity}))
    .collect();
    let checkout = app
        .post(
            "/v1/checkouts",
            &app.shopper("buyer"),
            json!({
                "lines": lines,
                "shipping_address": {
                    "name": "สมหญิง ใจดี", "phone": "081-234-5678", "line1": "99 หมู่ 4",
                    "province": "สุรินทร์", "postcode": "32000",
                },
            }),
        )
        .await;
    assert_eq!(checkout.status, StatusCode::CREATED, "{checkout:?}");
    let mut head = 0;
    let mut ids = Vec::new();
    for order in checkout.body["orders"].as_array().expect("orders") {
        let id = order["id"].as_str().expect("id");
        let total = order["total_satang"].as_i64().expect("total");
        let paid = app.pay(id, total, &format!("PP-{id}")).await;
        assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
        head = head.max(paid.position());
        ids.push(id.to_string());
    }
    (head, ids)
}

pub fn analyst(app: &TestApp) -> String {
    app.token(&otop_domain::Actor::new(
        "analyst-1",
        otop_domain::Role::Analyst,
    ))
}

async fn api_csv(app: &TestApp, path: &str) -> String {
    api_csv_as(app, path, &analyst(app)).await
}

async fn api_csv_as(app: &TestApp, path: &str, token: &str) -> String {
    let response = app
        .client
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("CSV text")
}

#[tokio::test]
async fn the_dashboard_shows_the_apis_figures_to_the_satang_and_downloads_them() {
    let app = TestApp::spawn().await;
    let head = paid_sales(&app).await;
    let api = app
        .get(
            &format!("/v1/analytics/sales?group_by=district&min_position={head}"),
            Some(&analyst(&app)),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let rows = api.body["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 2, "two districts sold: {rows:?}");

    let visitor = WebVisitor::new(&app.base_url);
    visitor
        .sign_in_as("analyst", "analyst-1", None, "/analytics")
        .await;
    let page = visitor
        .get(&format!("/analytics?min_position={head}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // The totals, to the satang.
    for (attribute, field) in [
        ("data-net-satang", "net_satang"),
        ("data-gross-satang", "gross_satang"),
        ("data-refunds-satang", "refunds_satang"),
        ("data-orders", "orders"),
        ("data-units", "units"),
    ] {
        let shown = page.attribute_values(attribute);
        assert_eq!(
            shown.first().map(String::as_str),
            Some(api.body["totals"][field].to_string().as_str()),
            "{field}"
        );
    }
    // The table, row for row in the API's order (its last `data-net-satang`s).
    let table_start = page.html.find("id=\"sales-table\"").expect("the table");
    let table = otop_e2e::web::Page {
        status: page.status,
        url: page.url.clone(),
        html: page.html[table_start..].to_string(),
    };
    let nets: Vec<String> = rows.iter().map(|r| r["net_satang"].to_string()).collect();
    assert_eq!(table.attribute_values("data-net-satang"), nets);
    // Four charts, each an image with a title and a description.
    for chart in ["by-district", "by-category", "by-month", "top-listings"] {
        assert!(
            page.html
                .contains(&format!("<svg class=\"chart\" id=\"{chart}\" role=\"img\"")),
            "{chart}"
        );
        assert!(page.html.contains(&format!("<title id=\"{chart}-title\">")));
        assert!(page.html.contains(&format!("<desc id=\"{chart}-desc\">")));
    }
    assert!(page.html.contains("เมืองสุรินทร์"), "district names in Thai");
    // The download is exactly the API's CSV for the same parameters.
    let download = visitor
        .get(&format!(
            "/analytics/sales.csv?group_by=district&min_position={head}"
        ))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    let from_api = api_csv(
        &app,
        &format!("/v1/analytics/sales?group_by=district&min_position={head}"),
    )
    .await;
    assert_eq!(download.html, from_api);
    assert!(from_api.lines().count() == 3, "{from_api}");
    // A parameter the API refuses is the API's 422, as a page.
    let bad = visitor.get("/analytics?group_by=planet").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("group_by"), "{}", bad.html);
    app.cleanup().await;
}

#[tokio::test]
async fn the_dashboard_is_closed_to_every_role_but_analysts_and_admins() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let anonymous = WebVisitor::new(&app.base_url);
    assert!(anonymous.get("/analytics").await.url.contains("/sign-in"));
    let vendor_id = vendor.to_string();
    for (role, vendor_id, status) in [
        ("shopper", None, StatusCode::FORBIDDEN),
        ("vendor", Some(vendor_id.as_str()), StatusCode::FORBIDDEN),
        ("auditor", None, StatusCode::FORBIDDEN),
        ("analyst", None, StatusCode::OK),
        ("admin", None, StatusCode::OK),
    ] {
        let visitor = WebVisitor::new(&app.base_url);
        let page = visitor
            .sign_in_as(role, "someone", vendor_id, "/analytics")
            .await;
        assert_eq!(page.status, status, "{role}: {}", page.html);
        let csv = visitor.get("/analytics/sales.csv").await;
        assert_eq!(csv.status, status, "{role} CSV");
    }
    app.cleanup().await;
}

pub fn auditor(app: &TestApp) -> String {
    app.token(&otop_domain::Actor::new(
        "auditor-1",
        otop_domain::Role::Auditor,
    ))
}

#[tokio::test]
async fn the_auditor_reads_an_orders_timeline_its_hashes_and_the_state_of_the_log() {
    let app = TestApp::spawn().await;
    let (_, orders) = paid_orders(&app).await;
    let order = &orders[0];
    let sealed = app.seal_now().await;
    let api = app
        .get(
            &format!("/v1/audit/orders/{order}/history"),
            Some(&auditor(&app)),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let events = api.body["events"].as_array().expect("events").clone();

    let visitor = WebVisitor::new(&app.base_url);
    let desk = visitor
        .sign_in_as("auditor", "auditor-1", None, "/audit")
        .await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.html);
    // The last seal and its key.
    if let Some(seal) = &sealed {
        assert_eq!(
            desk.attribute_values("data-key-id"),
            std::slice::from_ref(&seal.key_id)
        );
        assert_eq!(
            desk.attribute_values("data-position"),
            [seal.position.to_string()]
        );
    }
    // The log checked on request, against its chains and seals.
    let verified = visitor.get("/audit?verify=1").await;
    assert_eq!(verified.attribute_values("data-intact"), ["true"]);
    // Finding an order by id opens its timeline.
    let page = visitor.get(&format!("/audit?order_id={order}")).await;
    assert!(
        page.url.ends_with(&format!("/audit/orders/{order}")),
        "{}",
        page.url
    );
    // Every event of the API's history, in its order, with its hashes; the stock events
    // it caused among them.
    let hashes: Vec<String> = events
        .iter()
        .map(|e| e["hash"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(page.attribute_values("data-hash"), hashes);
    let previous: Vec<String> = events
        .iter()
        .map(|e| e["prev_hash"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(page.attribute_values("data-prev-hash"), previous);
    assert!(
        events.iter().any(|e| e["aggregate_type"] == "Listing"),
        "the history holds stock events"
    );
    assert!(page.html.contains("class=\"stock\""));
    for event in &events {
        for field in ["request_id", "correlation_id"] {
            if let Some(value) = event[field].as_str() {
                assert!(page.html.contains(value), "{field} {value}");
            }
        }
    }
    // The order as it stood: now it is paid; before it was placed there was none.
    let now = visitor
        .get(&format!("/audit/orders/{order}?at=2100-01-01T00:00"))
        .await;
    assert_eq!(now.attribute_values("data-status"), ["paid"]);
    let before = visitor
        .get(&format!("/audit/orders/{order}?at=2000-01-01T00:00"))
        .await;
    assert_eq!(before.status, StatusCode::NOT_FOUND);
    let bad = visitor
        .get(&format!("/audit/orders/{order}?at=yesterday"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The history as CSV is the API's.
    let download = visitor
        .get(&format!("/audit/orders/{order}/history.csv"))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    let from_api = api_csv_as(
        &app,
        &format!("/v1/audit/orders/{order}/history"),
        &auditor(&app),
    )
    .await;
    assert_eq!(download.html, from_api);
    app.cleanup().await;
}

#[tokio::test]
async fn the_audit_pages_are_closed_to_every_role_but_auditors_and_admins() {
    let app = TestApp::spawn().await;
    let (_, orders) = paid_orders(&app).await;
    let order = &orders[0];
    let vendor = app.approved_vendor("กลุ่มจักสานบ้านสำโรง").await;
    let vendor_id = vendor.to_string();
    for (role, vendor_id, status) in [
        ("shopper", None, StatusCode::FORBIDDEN),
        ("vendor", Some(vendor_id.as_str()), StatusCode::FORBIDDEN),
        ("analyst", None, StatusCode::FORBIDDEN),
        ("auditor", None, StatusCode::OK),
        ("admin", None, StatusCode::OK),
    ] {
        let visitor = WebVisitor::new(&app.base_url);
        let desk = visitor
            .sign_in_as(role, "someone", vendor_id, "/audit")
            .await;
        assert_eq!(desk.status, status, "{role}: {}", desk.html);
        let timeline = visitor.get(&format!("/audit/orders/{order}")).await;
        assert_eq!(timeline.status, status, "{role} timeline");
        let csv = visitor
            .get(&format!("/audit/orders/{order}/history.csv"))
            .await;
        assert_eq!(csv.status, status, "{role} CSV");
    }
    app.cleanup().await;
}

/// A vendor with a published listing (5 in stock at ฿3,500) and a paid order of 1 unit.
/// Returns the vendor, the listing, the order and the log head.
pub async fn vendor_with_a_paid_order(app: &TestApp) -> (Uuid, Uuid, String, i64) {
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = app.published_listing(vendor, 5).await;
    let checkout = app
        .post(
            "/v1/checkouts",
            &app.shopper("buyer"),
            json!({
                "lines": [{"listing_id": listing, "quantity": 1}],
                "shipping_address": {
                    "name": "สมหญิง ใจดี", "phone": "081-234-5678", "line1": "99 หมู่ 4",
                    "province": "สุรินทร์", "postcode": "32000",
                },
            }),
        )
        .await;
    assert_eq!(checkout.status, StatusCode::CREATED, "{checkout:?}");
    let order = checkout.body["orders"][0]["id"]
        .as_str()
        .expect("order")
        .to_string();
    let total = checkout.body["orders"][0]["total_satang"]
        .as_i64()
        .expect("total");
    let paid = app.pay(&order, total, "PP-CONSOLE").await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    (vendor, listing, order, paid.position())
}

async fn listing_state(app: &TestApp, listing: Uuid, vendor: Uuid) -> Value {
    let head = log_head(app).await;
    app.get(
        &format!("/v1/listings/{listing}?min_position={head}"),
        Some(&app.vendor(vendor)),
    )
    .await
    .body
}

#[tokio::test]
async fn a_vendor_changes_price_and_stock_and_ships_an_order_from_its_console() {
    let app = TestApp::spawn().await;
    let (vendor, listing, order, head) = vendor_with_a_paid_order(&app).await;
    let member = WebVisitor::new(&app.base_url);
    let vendor_id = vendor.to_string();
    member
        .sign_in_as("vendor", "member-1", Some(&vendor_id), "/vendor")
        .await;
    let console = member.get(&format!("/vendor?min_position={head}")).await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.html);
    assert!(console
        .html
        .contains(&format!("data-listing-id=\"{listing}\"")));
    assert!(console.html.contains(&format!("data-order-id=\"{order}\"")));
    assert!(console.html.contains("฿3,500"), "prices in baht");
    let csrf = console.hidden("csrf").expect("token");

    // The price, typed in baht the Thai way.
    let priced = member
        .post_form(
            &format!("/vendor/listings/{listing}/price"),
            &[("csrf", &csrf), ("price_baht", "1,250")],
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{}", priced.html);
    assert_eq!(
        listing_state(&app, listing, vendor).await["price_satang"],
        125_000
    );
    let bad_price = member
        .post_form(
            &format!("/vendor/listings/{listing}/price"),
            &[("csrf", &csrf), ("price_baht", "ฟรี")],
        )
        .await;
    assert_eq!(bad_price.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Stock as compare-and-set: the form drawn at 4 sets 8; a second form drawn at 4 (a
    // fellow member's, now stale) is refused and changes nothing.
    let state = listing_state(&app, listing, vendor).await;
    let drawn_at = state["available_stock"].to_string();
    assert_eq!(drawn_at, "4", "5 less the paid order's unit: {state}");
    let stocked = member
        .post_form(
            &format!("/vendor/listings/{listing}/stock"),
            &[("csrf", &csrf), ("set", "8"), ("expected", &drawn_at)],
        )
        .await;
    assert_eq!(stocked.status, StatusCode::OK, "{}", stocked.html);
    let stale = member
        .post_form(
            &format!("/vendor/listings/{listing}/stock"),
            &[("csrf", &csrf), ("set", "2"), ("expected", &drawn_at)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.html);
    assert_eq!(
        listing_state(&app, listing, vendor).await["available_stock"],
        8
    );

    // Unpublish and publish again.
    for (verb, status) in [("unpublish", "unpublished"), ("publish", "published")] {
        let page = member
            .post_form(
                &format!("/vendor/listings/{listing}/{verb}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{verb}: {}", page.html);
        assert_eq!(listing_state(&app, listing, vendor).await["status"], status);
    }

    // The order: accept, pack, ship with carrier and tracking number.
    for verb in ["accept", "pack"] {
        let page = member
            .post_form(
                &format!("/vendor/orders/{order}/{verb}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{verb}: {}", page.html);
    }
    let untracked = member
        .post_form(
            &format!("/vendor/orders/{order}/ship"),
            &[
                ("csrf", &csrf),
                ("carrier", "ไปรษณีย์ไทย"),
                ("tracking_number", ""),
            ],
        )
        .await;
    assert_eq!(untracked.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shipped = member
        .post_form(
            &format!("/vendor/orders/{order}/ship"),
            &[
                ("csrf", &csrf),
                ("carrier", "ไปรษณีย์ไทย"),
                ("tracking_number", "EF123456789TH"),
            ],
        )
        .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.html);
    assert!(shipped.html.contains("id=\"notice\""));
    let head = log_head(&app).await;
    let order_now = app
        .get(
            &format!("/v1/orders/{order}?min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await
        .body;
    assert_eq!(order_now["status"], "shipped", "{order_now}");
    assert_eq!(order_now["tracking_number"], "EF123456789TH");
    app.cleanup().await;
}

#[tokio::test]
async fn the_console_is_for_its_vendor_and_a_suspended_vendor_only_reads_and_fulfils() {
    let app = TestApp::spawn().await;
    let (vendor, listing, order, _) = vendor_with_a_paid_order(&app).await;
    let other = app.approved_vendor("กลุ่มจักสานบ้านสำโรง").await;
    // Every other role is refused.
    for role in ["shopper", "admin", "auditor", "analyst"] {
        let visitor = WebVisitor::new(&app.base_url);
        let page = visitor.sign_in_as(role, "someone", None, "/vendor").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role}");
    }
    // Another group's member cannot touch this group's listing or order.
    let stranger = WebVisitor::new(&app.base_url);
    let other_id = other.to_string();
    let page = stranger
        .sign_in_as("vendor", "member-2", Some(&other_id), "/vendor")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.hidden("csrf").expect("token");
    let price = stranger
        .post_form(
            &format!("/vendor/listings/{listing}/price"),
            &[("csrf", &csrf), ("price_baht", "1")],
        )
        .await;
    assert_eq!(price.status, StatusCode::FORBIDDEN, "{}", price.html);
    let accept = stranger
        .post_form(
            &format!("/vendor/orders/{order}/accept"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        accept.status == StatusCode::FORBIDDEN || accept.status == StatusCode::NOT_FOUND,
        "{}",
        accept.status
    );
    assert_eq!(
        listing_state(&app, listing, vendor).await["price_satang"],
        350_000
    );

    // A suspended vendor's console reads and fulfils, but changes nothing else.
    let member = WebVisitor::new(&app.base_url);
    let vendor_id = vendor.to_string();
    let page = member
        .sign_in_as("vendor", "member-1", Some(&vendor_id), "/vendor")
        .await;
    let csrf = page.hidden("csrf").expect("token");
    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor}/suspend"),
            &app.admin(),
            json!({"reason": "ตรวจสอบ"}),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{suspended:?}");
    // (The server forgot what it remembered of the vendor's status as it suspended it.)
    assert_eq!(member.get("/vendor").await.status, StatusCode::OK);
    let frozen = member
        .post_form(
            &format!("/vendor/listings/{listing}/price"),
            &[("csrf", &csrf), ("price_baht", "1")],
        )
        .await;
    assert_eq!(frozen.status, StatusCode::FORBIDDEN, "{}", frozen.html);
    let accepted = member
        .post_form(
            &format!("/vendor/orders/{order}/accept"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.html);
    app.cleanup().await;
}
