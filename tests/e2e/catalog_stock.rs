//! The catalog keeps a listing's stock in its own columns. Stock events (reserve, release,
//! commit at shipping, a vendor's stock change) update only those columns and never rewrite
//! the listing's `state` JSON, and the columns always equal the listing's aggregate replayed
//! from the log.

use otop_e2e::TestApp;
use otop_projections::rebuild::{rebuild, table_digest};
use otop_projections::ProjectionKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::checkout::listing_state;
use crate::staff_pages::log_head;

/// The listing as the catalog shows it once it has applied the whole log.
async fn caught_up_listing(app: &TestApp, vendor: Uuid, listing: Uuid) -> Value {
    app.wait_for_checkout_process().await;
    let head = log_head(app).await;
    let reply = app
        .get(
            &format!("/v1/listings/{listing}?min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body
}

async fn stored_row(app: &TestApp, listing: Uuid) -> (String, i64, i64, i64) {
    sqlx::query_as(
        "SELECT state::text, available_stock, reserved_stock, units_sold
           FROM listing_catalog WHERE listing_id = $1",
    )
    .bind(listing)
    .fetch_one(&app.pool)
    .await
    .expect("the catalog row")
}

async fn checkout(app: &TestApp, shopper: &str, listing: Uuid, quantity: u32) -> String {
    let body = json!({
        "lines": [{"listing_id": listing, "quantity": quantity}],
        "shipping_address": {
            "name": "สมศรี ใจดี",
            "phone": "081-234-5678",
            "line1": "12 หมู่ 3 ถนนเทศบาล",
            "district": "เมืองสุรินทร์",
            "province": "สุรินทร์",
            "postcode": "32000",
        },
    });
    let reply = app
        .request(
            Method::POST,
            "/v1/checkouts",
            Some(&app.shopper(shopper)),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["orders"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an order id in {}", reply.body))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stock_events_touch_only_the_stock_columns_and_equal_the_log() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = app.published_listing(vendor, 40).await;
    caught_up_listing(&app, vendor, listing).await;
    let (state_before, ..) = stored_row(&app, listing).await;
    let stored: Value = serde_json::from_str(&state_before).expect("state json");
    assert_eq!(stored["available"], 0, "the state keeps no stock: {stored}");
    assert_eq!(stored["reservations"], json!({}), "{stored}");

    // Only stock events from here: reservations, a release, a commit, a vendor's change.
    let mut orders = Vec::new();
    for (index, quantity) in [3u32, 1, 2, 4].into_iter().enumerate() {
        orders.push((
            checkout(&app, &format!("shopper-{index}"), listing, quantity).await,
            quantity,
        ));
    }
    let cancelled = app
        .post(
            &format!("/v1/orders/{}/cancel", orders[1].0),
            &app.shopper("shopper-1"),
            json!({"reason": "ซื้อผิดสี"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{cancelled:?}");
    let (shipped, quantity) = &orders[0];
    let total = i64::from(*quantity)
        * caught_up_listing(&app, vendor, listing).await["price_satang"]
            .as_i64()
            .expect("price");
    let paid = app.pay(shipped, total, &format!("pp-{shipped}")).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    for step in ["accept", "pack"] {
        let reply = app
            .post(
                &format!("/v1/orders/{shipped}/{step}"),
                &app.vendor(vendor),
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {reply:?}");
    }
    let ship = app
        .post(
            &format!("/v1/orders/{shipped}/ship"),
            &app.vendor(vendor),
            json!({"carrier": "ไปรษณีย์ไทย", "tracking_number": "EF123456789TH"}),
        )
        .await;
    assert_eq!(ship.status, StatusCode::OK, "{ship:?}");
    let changed = app
        .post(
            &format!("/v1/listings/{listing}/stock"),
            &app.vendor(vendor),
            json!({"delta": 5}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let view = caught_up_listing(&app, vendor, listing).await;

    let replayed = listing_state(&app, listing).await;
    // 40 + 5 stocked; 3 sold (shipped), 2 + 4 held, 1 released.
    assert_eq!(replayed.sold, 3);
    assert_eq!(replayed.reserved(), 6);
    assert_eq!(replayed.available, 36);
    let stock_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1
            AND event_type IN ('StockReserved', 'StockReleased', 'StockCommitted',
                               'ListingStockChanged')",
    )
    .bind(listing.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("stock events");
    assert_eq!(
        stock_events, 7,
        "four reservations, a release, a commit, a change"
    );

    let (state_after, available, reserved, sold) = stored_row(&app, listing).await;
    assert_eq!(
        state_after, state_before,
        "stock events leave the listing's state JSON as it was"
    );
    assert_eq!(
        (available, reserved, sold),
        (
            i64::from(replayed.available),
            replayed.reserved() as i64,
            replayed.sold as i64
        )
    );
    assert_eq!(view["available_stock"], 36, "{view}");
    assert_eq!(view["reserved_stock"], 6, "{view}");
    assert_eq!(view["units_sold"], 3, "{view}");

    // Another kind of event rewrites the row, and keeps the stock.
    let priced = app
        .request(
            Method::PUT,
            &format!("/v1/listings/{listing}/price"),
            Some(&app.vendor(vendor)),
            Some(&json!({"price_satang": 123_400})),
            &[],
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{priced:?}");
    let view = caught_up_listing(&app, vendor, listing).await;
    let (state_priced, ..) = stored_row(&app, listing).await;
    assert_ne!(
        state_priced, state_before,
        "a price change rewrites the state"
    );
    assert_eq!(view["price_satang"], 123_400);
    assert_eq!(view["available_stock"], 36, "{view}");
    assert_eq!(view["units_sold"], 3, "{view}");

    // Rebuilt from the log in batches of every size, the catalog is the same.
    let digest = table_digest(&app.pool, "listing_catalog", "listing_id")
        .await
        .expect("digest");
    for batch in [1, 3, 1000] {
        rebuild(&app.pool, ProjectionKind::Catalog, batch, |_, _| {})
            .await
            .expect("rebuild");
        let rebuilt = table_digest(&app.pool, "listing_catalog", "listing_id")
            .await
            .expect("digest");
        assert_eq!(rebuilt, digest, "rebuilt in batches of {batch}");
    }
    app.cleanup().await;
}
