//! What a vendor's status means (API.md, Vendors), over HTTP: a suspended vendor's unpaid
//! orders are cancelled and their stock released, its listings and payout are frozen while
//! it may still fulfil what was paid; a vendor with paid orders in flight cannot close; a
//! closed vendor's tokens are refused everywhere.

use otop_e2e::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

fn address() -> Value {
    json!({"name": "สมหญิง ใจดี", "phone": "0812345678", "line1": "99 ถ.ธนสาร",
           "province": "สุรินทร์", "postcode": "32000"})
}

/// A checkout of `quantity` units of `listing`; the order's id.
async fn order_of(app: &TestApp, shopper: &str, listing: Uuid, quantity: u32) -> Uuid {
    let reply = app
        .post(
            "/v1/checkouts",
            &app.shopper(shopper),
            json!({"lines": [{"listing_id": listing, "quantity": quantity}], "shipping_address": address()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["orders"][0]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("order id")
}

async fn listing_state(app: &TestApp, listing: Uuid) -> otop_domain::listing::ListingState {
    otop_projections::AggregateStore::<otop_domain::Listing>::new(app.pool.clone())
        .load(&listing.to_string())
        .await
        .expect("load")
        .aggregate
        .0
        .expect("a listing")
}

async fn order_status(app: &TestApp, order: Uuid) -> String {
    otop_projections::AggregateStore::<otop_domain::Order>::new(app.pool.clone())
        .load(&order.to_string())
        .await
        .expect("load")
        .aggregate
        .0
        .expect("an order")
        .status
        .as_str()
        .to_string()
}

fn assert_status(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{reply:?}");
}

#[tokio::test]
async fn a_suspended_vendor_loses_its_unpaid_orders_and_keeps_only_fulfilment() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = app.published_listing(vendor, 10).await;
    let owner = app.vendor(vendor);
    let admin = app.admin();
    let unpaid = order_of(&app, "unpaid-shopper", listing, 3).await;
    let paid = order_of(&app, "paying-shopper", listing, 2).await;
    assert_status(&app.pay(paid, 700_000, "PP-SUSPEND").await, StatusCode::OK);
    assert_eq!(listing_state(&app, listing).await.available, 5);

    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor}/suspend"),
            &admin,
            json!({"reason": "ร้องเรียนสินค้าปลอม"}),
        )
        .await;
    assert_status(&suspended, StatusCode::OK);
    app.wait_for_checkout_process().await;
    app.wait_for_checkout_process().await;
    assert_eq!(order_status(&app, unpaid).await, "cancelled");
    assert_eq!(
        order_status(&app, paid).await,
        "paid",
        "what was paid stays"
    );
    let stock = listing_state(&app, listing).await;
    assert_eq!(stock.available, 8, "the unpaid order's 3 units came back");
    assert_eq!(stock.reserved(), 2);

    // Frozen: every change but fulfilment is a 403, and nothing is written.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let refused = [
        app.request(
            reqwest::Method::PUT,
            &format!("/v1/listings/{listing}/price"),
            Some(&owner),
            Some(&json!({"price_satang": 1})),
            &[],
        )
        .await,
        app.post(
            &format!("/v1/listings/{listing}/stock"),
            &owner,
            json!({"set": 100}),
        )
        .await,
        app.post(
            &format!("/v1/listings/{listing}/unpublish"),
            &owner,
            Value::Null,
        )
        .await,
        app.post(
            "/v1/listings",
            &owner,
            json!({"title_th": "ใหม่", "category_code": "TEXTILE",
            "subtype_code": "TEX_SILK_MUDMEE", "price_satang": 1000, "stock": 1}),
        )
        .await,
        app.request(
            reqwest::Method::PATCH,
            &format!("/v1/vendors/{vendor}"),
            Some(&owner),
            Some(&json!({"payout_promptpay": "0899999999"})),
            &[],
        )
        .await,
        app.post(
            &format!("/v1/orders/{paid}/refund"),
            &owner,
            json!({"amount_satang": 1000, "reason": "ขอคืน"}),
        )
        .await,
    ];
    for reply in &refused {
        reply.assert_problem(403);
    }
    // Not even an admin redirects a suspended vendor's payouts.
    app.request(
        reqwest::Method::PATCH,
        &format!("/v1/vendors/{vendor}"),
        Some(&admin),
        Some(&json!({"payout_promptpay": "0899999999"})),
        &[],
    )
    .await
    .assert_problem(409);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(after, before, "the refusals wrote nothing");
    // Nobody can buy from it.
    let shopper = app.shopper("late-shopper");
    app.post(
        "/v1/checkouts",
        &shopper,
        json!({"lines": [{"listing_id": listing, "quantity": 1}], "shipping_address": address()}),
    )
    .await
    .assert_problem(409);

    // It still reads, and fulfils the order it was paid for.
    assert_status(
        &app.get(&format!("/v1/listings/{listing}"), Some(&owner))
            .await,
        StatusCode::OK,
    );
    for (step, body) in [
        ("accept", Value::Null),
        ("pack", Value::Null),
        (
            "ship",
            json!({"carrier": "ไปรษณีย์ไทย", "tracking_number": "EF1TH"}),
        ),
    ] {
        assert_status(
            &app.post(&format!("/v1/orders/{paid}/{step}"), &owner, body)
                .await,
            StatusCode::OK,
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_vendor_closes_only_when_its_paid_orders_are_finished_and_then_its_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let listing = app.published_listing(vendor, 10).await;
    let owner = app.vendor(vendor);
    let paid = order_of(&app, "buyer", listing, 1).await;
    assert_status(&app.pay(paid, 350_000, "PP-CLOSE").await, StatusCode::OK);
    let unpaid = order_of(&app, "slow-buyer", listing, 2).await;

    let refused = app
        .post(&format!("/v1/vendors/{vendor}/close"), &owner, Value::Null)
        .await;
    refused.assert_problem(409);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1 paid order")),
        "{refused:?}"
    );
    for (step, body) in [
        ("accept", Value::Null),
        ("pack", Value::Null),
        (
            "ship",
            json!({"carrier": "Kerry", "tracking_number": "KEX1"}),
        ),
        ("deliver", Value::Null),
    ] {
        assert_status(
            &app.post(&format!("/v1/orders/{paid}/{step}"), &owner, body)
                .await,
            StatusCode::OK,
        );
    }
    let closed = app
        .post(&format!("/v1/vendors/{vendor}/close"), &owner, Value::Null)
        .await;
    assert_status(&closed, StatusCode::OK);
    app.wait_for_checkout_process().await;
    app.wait_for_checkout_process().await;
    assert_eq!(order_status(&app, unpaid).await, "cancelled");
    assert_eq!(listing_state(&app, listing).await.reserved(), 0);
    // Its tokens are refused everywhere, reads included.
    for reply in [
        app.get(&format!("/v1/listings/{listing}"), Some(&owner))
            .await,
        app.get("/v1/orders", Some(&owner)).await,
        app.get(&format!("/v1/vendors/{vendor}/balance"), Some(&owner))
            .await,
        app.post(
            &format!("/v1/orders/{paid}/refund"),
            &owner,
            json!({"amount_satang": 100, "reason": "x"}),
        )
        .await,
    ] {
        reply.assert_problem(403);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn an_order_handled_after_its_vendors_suspension_is_cancelled_because_of_its_placement() {
    // The process manager does not run in the server: the test runs it by hand, after the
    // suspension, so it meets the order's placement with the vendor already suspended, as
    // it does when a checkout read the vendor as approved just before a suspension committed.
    let app = TestApp::spawn_with(|config| config.run_checkout_process = false).await;
    let vendor = app.approved_vendor("กลุ่มไม้แกะสลักบ้านนาบัว").await;
    let listing = app.published_listing(vendor, 10).await;
    let order = order_of(&app, "early-bird", listing, 4).await;
    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor}/suspend"),
            &app.admin(),
            json!({"reason": "ตรวจสอบ"}),
        )
        .await;
    assert_status(&suspended, StatusCode::OK);
    assert_eq!(order_status(&app, order).await, "awaiting_payment");

    let process = otop_projections::process_manager::CheckoutProcess::new(app.pool.clone());
    // It catches up, and then handles what it wrote. The log reader only passes
    // transactions older than the oldest one in flight on the whole PostgreSQL server,
    // which another test's may hold back a while: it catches up again until the release is
    // there (bounded at 30 s), not just once.
    let mut handled = 0;
    for _ in 0..300 {
        handled += otop_projections::runner::catch_up(&app.pool, &process, 100)
            .await
            .expect("the process manager catches up");
        if order_status(&app, order).await == "cancelled"
            && listing_state(&app, listing).await.available == 10
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(handled > 0);
    assert_eq!(order_status(&app, order).await, "cancelled");
    assert_eq!(
        listing_state(&app, listing).await.available,
        10,
        "its 4 units came back"
    );
    // Cancelled once, and because of its own placement: the check of a batch's new orders
    // against their vendors did it, before the suspension's own handler got there.
    let cancellations: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata::jsonb FROM events
          WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND event_type = 'OrderCancelled'",
    )
    .bind(order.to_string())
    .fetch_all(&app.pool)
    .await
    .expect("the cancellation");
    assert_eq!(cancellations.len(), 1, "{cancellations:?}");
    assert_eq!(
        cancellations[0]["causation_id"],
        format!("Order/{order}/1"),
        "{cancellations:?}"
    );
    app.cleanup().await;
}
