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

async fn applicant(app: &TestApp, name_th: &str) -> Uuid {
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
    reply.body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("vendor id")
}

async fn vendor_status(app: &TestApp, id: Uuid) -> String {
    let reply = app
        .get(&format!("/v1/vendors/{id}"), Some(&app.admin()))
        .await;
    reply.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_office_approves_rejects_suspends_and_takes_down_from_its_desk() {
    let app = TestApp::spawn().await;
    let approved_one = applicant(&app, "กลุ่มทอผ้าไหมบ้านจารพัต").await;
    let rejected_one = applicant(&app, "กลุ่มจักสานบ้านสำโรง").await;
    let office = WebVisitor::new(&app.base_url);
    let desk = office.sign_in_as("admin", "office-1", None, "/admin").await;
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
    let state: Value = app
        .get(&format!("/v1/listings/{listing}"), Some(&app.admin()))
        .await
        .body;
    assert_eq!(state["status"], "taken_down", "{state}");
    app.cleanup().await;
}

#[tokio::test]
async fn the_desk_is_closed_to_every_other_role() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let waiting = applicant(&app, "กลุ่มสมุนไพรบ้านตาเตียว").await;
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
