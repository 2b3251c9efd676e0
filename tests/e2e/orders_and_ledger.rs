//! Orders after checkout, over HTTP: the payment provider's signed callback, the vendor's
//! fulfilment steps and who may take them, cancellations and refunds, and the payout ledger
//! they leave behind (`GET /v1/vendors/{id}/balance`), down to the satang.
//!
//! Orders are placed straight through the event store (`AggregateStore<Order>`) and confirmed
//! as the platform, as tests/e2e/read_api.rs does; every later step goes through the API.

use std::collections::HashMap;

use otop_domain::order::{OrderLine, ShippingAddress};
use otop_domain::values::{Phone, Satang};
use otop_domain::{Actor, DomainError, EventMetadata, Order, OrderCommand, OrderStatus, Role};
use otop_e2e::{sign_payment, sign_payment_at, Reply, TestApp, PAYMENT_SECRET};
use otop_projections::rebuild::{rebuild, table_digest};
use otop_projections::{AggregateStore, ProjectionKind, StoreError};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// The price `TestApp::draft_listing` gives a listing: 3,500 THB.
const LISTING_PRICE: i64 = 350_000;
/// `OTOP_COMMISSION_BPS` of the test server (tests/src/lib.rs): 5%.
const BPS: i64 = 500;

// ---------------------------------------------------------------------------------------------
// Helpers

#[track_caller]
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

/// Asserts a 422 problem whose field errors name each of `fields`.
#[track_caller]
fn assert_invalid(reply: &Reply, fields: &[&str]) {
    reply.assert_problem(422);
    let named: Vec<&str> = reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    for field in fields {
        assert!(
            named.contains(field),
            "expected a field error on {field:?}: {reply:?}"
        );
    }
}

#[track_caller]
fn assert_status(reply: &Reply, status: &str) {
    assert_ok(reply);
    assert_eq!(reply.body["status"], status, "{reply:?}");
    assert!(reply.position() > 0, "{reply:?}");
}

fn satang(amount: i64) -> Satang {
    Satang::parse("amount", amount).expect("a positive amount")
}

fn metadata(actor: &Actor) -> HashMap<String, String> {
    EventMetadata::for_request(actor.clone(), "orders-and-ledger-test", chrono::Utc::now()).to_map()
}

/// A published listing of `vendor_id` (price 350000 satang unless `price` says otherwise).
async fn published_listing(app: &TestApp, vendor_id: Uuid, price: Option<i64>) -> Uuid {
    let listing = app.draft_listing(vendor_id, 50).await;
    let owner = app.vendor(vendor_id);
    if let Some(price) = price {
        let changed = app
            .request(
                reqwest::Method::PUT,
                &format!("/v1/listings/{listing}/price"),
                Some(&owner),
                Some(&json!({ "price_satang": price })),
                &[],
            )
            .await;
        assert_ok(&changed);
    }
    let published = app
        .post(
            &format!("/v1/listings/{listing}/publish"),
            &owner,
            Value::Null,
        )
        .await;
    assert_status(&published, "published");
    listing
}

/// Places an order of `quantity` units of `listing` for `shopper` through the event store and
/// confirms it as the platform; returns its id, awaiting payment.
async fn order_awaiting_payment(
    app: &TestApp,
    shopper: &str,
    vendor_id: Uuid,
    listing_id: Uuid,
    quantity: u32,
    unit_price: i64,
) -> Uuid {
    let store = AggregateStore::<Order>::new(app.pool.clone());
    let order_id = Uuid::now_v7();
    let actor = Actor::new(shopper, Role::Shopper);
    store
        .execute(
            &order_id.to_string(),
            OrderCommand::Place {
                order_id,
                checkout_id: Uuid::now_v7(),
                actor: actor.clone(),
                shopper_id: shopper.to_string(),
                vendor_id,
                lines: vec![OrderLine {
                    listing_id,
                    quantity,
                    unit_price: satang(unit_price),
                }],
                shipping_address: ShippingAddress {
                    name: "สมหญิง ใจดี".into(),
                    phone: Phone::parse("phone", "0812345678").expect("phone"),
                    line1: "99 หมู่ 4".into(),
                    line2: None,
                    subdistrict: Some("ในเมือง".into()),
                    district: Some("เมืองสุรินทร์".into()),
                    province: "สุรินทร์".into(),
                    postcode: "32000".into(),
                },
            },
            &metadata(&actor),
        )
        .await
        .expect("place the order");
    let system = Actor::system();
    match store
        .execute(
            &order_id.to_string(),
            OrderCommand::Confirm {
                actor: system.clone(),
            },
            &metadata(&system),
        )
        .await
    {
        Ok(_) => {}
        // The checkout process manager, when it runs, may have confirmed it first.
        Err(StoreError::Domain(DomainError::InvalidTransition(_))) => {}
        Err(other) => panic!("confirm the order: {other}"),
    }
    let loaded = store
        .load(&order_id.to_string())
        .await
        .expect("load the order");
    assert_eq!(
        loaded.aggregate.state().map(|s| s.status),
        Some(OrderStatus::AwaitingPayment)
    );
    order_id
}

/// A correctly signed payment callback.
async fn pay(app: &TestApp, order_id: Uuid, amount: i64, reference: &str) -> Reply {
    app.pay(order_id, amount, reference).await
}

async fn order_command(
    app: &TestApp,
    order_id: Uuid,
    verb: &str,
    token: &str,
    body: Value,
) -> Reply {
    app.post(&format!("/v1/orders/{order_id}/{verb}"), token, body)
        .await
}

async fn order_events(app: &TestApp, order_id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'Order' AND aggregate_id = $1
          ORDER BY sequence",
    )
    .bind(order_id.to_string())
    .fetch_all(&app.pool)
    .await
    .expect("read the order's events")
}

async fn log_head(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("read the log head")
        .unwrap_or(0)
}

/// The balance as `token` sees it once the ledger has reached `min_position`; asserts that it
/// is the sum of its lines, credits and debits included.
async fn balance(app: &TestApp, vendor_id: Uuid, token: &str, min_position: i64) -> Value {
    let reply = app
        .get(
            &format!("/v1/vendors/{vendor_id}/balance?min_position={min_position}"),
            Some(token),
        )
        .await;
    assert_ok(&reply);
    let body = reply.body;
    assert_eq!(body["vendor_id"], vendor_id.to_string(), "{body}");
    let lines = body["lines"].as_array().expect("lines").clone();
    let amount = |line: &Value| line["amount_satang"].as_i64().expect("amount_satang");
    let sum: i64 = lines.iter().map(amount).sum();
    let credits: i64 = lines
        .iter()
        .filter(|l| l["kind"] == "credit")
        .map(amount)
        .sum();
    let debits: i64 = lines
        .iter()
        .filter(|l| l["kind"] == "debit")
        .map(amount)
        .sum();
    assert_eq!(
        body["balance_satang"].as_i64(),
        Some(sum),
        "balance is the sum of the lines: {body}"
    );
    assert_eq!(body["credits_satang"].as_i64(), Some(credits), "{body}");
    assert_eq!(body["debits_satang"].as_i64(), Some(-debits), "{body}");
    for line in &lines {
        let gross = line["gross_satang"].as_i64().expect("gross");
        let commission = line["commission_satang"].as_i64().expect("commission");
        let bps = line["commission_bps"].as_i64().expect("bps");
        assert_eq!(
            commission,
            gross * bps / 10_000,
            "floor of the rate: {line}"
        );
        let net = gross - commission;
        match line["kind"].as_str() {
            Some("credit") => assert_eq!(amount(line), net, "{line}"),
            Some("debit") => assert_eq!(amount(line), -net, "{line}"),
            other => panic!("unknown kind {other:?}: {line}"),
        }
    }
    // Newest first.
    let positions: Vec<i64> = lines
        .iter()
        .map(|l| l["position"].as_i64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "{positions:?}");
    body
}

/// `(kind, order_id, gross, commission, amount)` of each line, newest first.
fn line_summary(balance: &Value) -> Vec<(String, String, i64, i64, i64)> {
    balance["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap_or_default().to_string(),
                l["order_id"].as_str().unwrap_or_default().to_string(),
                l["gross_satang"].as_i64().unwrap_or(-1),
                l["commission_satang"].as_i64().unwrap_or(-1),
                l["amount_satang"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

fn line(
    kind: &str,
    order: Uuid,
    gross: i64,
    commission: i64,
    amount: i64,
) -> (String, String, i64, i64, i64) {
    (
        kind.to_string(),
        order.to_string(),
        gross,
        commission,
        amount,
    )
}

// ---------------------------------------------------------------------------------------------
// 1. The payment callback

#[tokio::test]
async fn payments_need_the_providers_signature_and_count_once_per_reference() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = published_listing(&app, vendor, None).await;
    let order = order_awaiting_payment(&app, "dara", vendor, listing, 1, LISTING_PRICE).await;
    let before = order_events(&app, order).await;
    assert_eq!(before, ["OrderPlaced", "OrderConfirmed"]);

    let body = serde_json::to_vec(
        &json!({ "order_id": order, "amount_satang": LISTING_PRICE, "reference": "PP-0001" }),
    )
    .expect("serialize");
    let good = sign_payment(PAYMENT_SECRET, &body);
    let admin = app.admin();
    // No signature (even with a valid admin token), a signature made with another secret, a
    // signature of other bytes (one space more), a truncated one, one that is not hex.
    let spaced = serde_json::to_vec(
        &json!({ "order_id": order, "amount_satang": LISTING_PRICE, "reference": "PP-0001 " }),
    )
    .expect("serialize");
    let refused = [
        app.pay_raw(order, &body, None, None).await,
        app.pay_raw(order, &body, None, Some(&admin)).await,
        app.pay_raw(
            order,
            &body,
            Some(&sign_payment("not-the-secret", &body)),
            None,
        )
        .await,
        app.pay_raw(
            order,
            &body,
            Some(&sign_payment(PAYMENT_SECRET, &spaced)),
            None,
        )
        .await,
        app.pay_raw(order, &body, Some(&good[..good.len() - 2]), None)
            .await,
        app.pay_raw(order, &body, Some("this-is-not-hex"), None)
            .await,
        app.pay_raw(order, &body, Some(""), None).await,
    ];
    for reply in &refused {
        reply.assert_problem(401);
    }
    assert_eq!(
        order_events(&app, order).await,
        before,
        "a refused callback records nothing"
    );

    // Signed, but wrong: the amount is not the total (422), the reference is blank (422), the
    // body is not JSON (400), the order does not exist (404).
    let short = pay(&app, order, LISTING_PRICE - 1, "PP-0001").await;
    assert_invalid(&short, &["amount_satang"]);
    let more = pay(&app, order, LISTING_PRICE + 1, "PP-0001").await;
    assert_invalid(&more, &["amount_satang"]);
    assert_invalid(
        &pay(&app, order, LISTING_PRICE, "   ").await,
        &["reference"],
    );
    assert_invalid(
        &pay(&app, order, LISTING_PRICE, &"R".repeat(101)).await,
        &["reference"],
    );
    assert_invalid(
        &pay(&app, order, 0, "").await,
        &["amount_satang", "reference"],
    );
    let garbage = b"amount=350000";
    app.pay_raw(
        order,
        garbage,
        Some(&sign_payment(PAYMENT_SECRET, garbage)),
        None,
    )
    .await
    .assert_problem(400);
    pay(&app, Uuid::now_v7(), LISTING_PRICE, "PP-0001")
        .await
        .assert_problem(404);
    assert_eq!(
        order_events(&app, order).await,
        before,
        "a refused callback records nothing"
    );

    // The right one.
    let paid = app.pay_raw(order, &body, Some(&good), None).await;
    assert_status(&paid, "paid");
    assert_eq!(paid.body["id"], order.to_string());
    let after = order_events(&app, order).await;
    assert_eq!(after, ["OrderPlaced", "OrderConfirmed", "OrderPaid"]);
    let recorded: Value = sqlx::query_scalar(
        "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'OrderPaid'",
    )
    .bind(order.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("the payment event");
    assert_eq!(recorded["OrderPaid"]["amount"], LISTING_PRICE);
    assert_eq!(recorded["OrderPaid"]["reference"], "PP-0001");
    assert_eq!(
        recorded["OrderPaid"]["commission_bps"], BPS,
        "the configured rate is recorded"
    );
    let metadata: Value = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE aggregate_id = $1 AND event_type = 'OrderPaid'",
    )
    .bind(order.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("the payment metadata");
    assert_eq!(metadata["actor_id"], "payment-provider");
    assert_eq!(metadata["actor_role"], "system");

    // The provider calls back again with the same reference: 200, the same answer, nothing new.
    for _ in 0..2 {
        let again = app.pay_raw(order, &body, Some(&good), None).await;
        assert_status(&again, "paid");
        assert_eq!(again.body["position"], paid.body["position"], "{again:?}");
    }
    assert_eq!(order_events(&app, order).await, after);
    // Another payment of an order already paid: 409.
    pay(&app, order, LISTING_PRICE, "PP-0002")
        .await
        .assert_problem(409);
    assert_eq!(order_events(&app, order).await, after);

    // The ledger credits the vendor the total net of 5%: 350000 - 17500 = 332500.
    let owner = app.vendor(vendor);
    let ledger = balance(&app, vendor, &owner, paid.position()).await;
    assert_eq!(
        line_summary(&ledger),
        [line("credit", order, 350_000, 17_500, 332_500)]
    );
    assert_eq!(ledger["balance_satang"], 332_500);
    assert_eq!(ledger["credits_satang"], 332_500);
    assert_eq!(ledger["debits_satang"], 0);
    assert_eq!(ledger["lines"][0]["position"], paid.body["position"]);
    assert_eq!(ledger["lines"][0]["commission_bps"], BPS);

    app.cleanup().await;
}

/// How many `PaymentReferenceUsed` events the log holds for `reference`.
async fn reference_uses(app: &TestApp, reference: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE aggregate_type = 'PaymentReference' AND aggregate_id = $1",
    )
    .bind(reference)
    .fetch_one(&app.pool)
    .await
    .expect("count the reference's events")
}

#[tokio::test]
async fn a_signed_callback_pays_only_its_own_order_only_while_fresh_and_a_reference_only_once() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = published_listing(&app, vendor, None).await;
    // Two orders with the same total: the attack of the old scheme needed nothing more.
    let first = order_awaiting_payment(&app, "dara", vendor, listing, 1, LISTING_PRICE).await;
    let second = order_awaiting_payment(&app, "kanya", vendor, listing, 1, LISTING_PRICE).await;
    let body_of = |order: Uuid, reference: &str| {
        serde_json::to_vec(
            &json!({ "order_id": order, "amount_satang": LISTING_PRICE, "reference": reference }),
        )
        .expect("serialize")
    };
    let first_body = body_of(first, "PP-FIRST");
    let first_signature = sign_payment(PAYMENT_SECRET, &first_body);

    // 1. The first order's signed callback, replayed against the second order's path: 422,
    //    and the second order stays unpaid.
    let replayed = app
        .pay_raw(second, &first_body, Some(&first_signature), None)
        .await;
    assert_invalid(&replayed, &["order_id"]);
    // 2. The body of the old scheme, with no order in it, correctly signed: refused too.
    let old_body =
        serde_json::to_vec(&json!({ "amount_satang": LISTING_PRICE, "reference": "PP-OLD" }))
            .expect("serialize");
    app.pay_raw(
        second,
        &old_body,
        Some(&sign_payment(PAYMENT_SECRET, &old_body)),
        None,
    )
    .await
    .assert_problem(422);
    // 3. A callback signed more than 300 s ago (or ahead): 401; at 290 s it would still pass.
    let now = chrono::Utc::now().timestamp();
    let second_body = body_of(second, "PP-SECOND");
    for stale in [now - 301, now + 301, now - 86_400] {
        app.pay_raw(
            second,
            &second_body,
            Some(&sign_payment_at(PAYMENT_SECRET, stale, &second_body)),
            None,
        )
        .await
        .assert_problem(401);
    }
    assert_eq!(
        order_events(&app, second).await,
        ["OrderPlaced", "OrderConfirmed"]
    );

    // The first order's own callback pays it, once; the same callback again is a no-op 200.
    let paid = app
        .pay_raw(first, &first_body, Some(&first_signature), None)
        .await;
    assert_status(&paid, "paid");
    let again = app
        .pay_raw(first, &first_body, Some(&first_signature), None)
        .await;
    assert_status(&again, "paid");
    assert_eq!(again.body["position"], paid.body["position"]);
    // 4. The first payment's reference on the second order, freshly and correctly signed:
    //    409, nothing recorded.
    let reused = body_of(second, "PP-FIRST");
    let refused = app
        .pay_raw(
            second,
            &reused,
            Some(&sign_payment(PAYMENT_SECRET, &reused)),
            None,
        )
        .await;
    refused.assert_problem(409);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("reference")),
        "{refused:?}"
    );
    assert_eq!(
        order_events(&app, second).await,
        ["OrderPlaced", "OrderConfirmed"]
    );
    assert_eq!(reference_uses(&app, "PP-FIRST").await, 1);
    // A callback just inside the tolerance still pays.
    let late = app
        .pay_raw(
            second,
            &second_body,
            Some(&sign_payment_at(PAYMENT_SECRET, now - 290, &second_body)),
            None,
        )
        .await;
    assert_status(&late, "paid");

    // The vendor's ledger holds one credit per order, never one per callback.
    let owner = app.vendor(vendor);
    let ledger = balance(&app, vendor, &owner, late.position()).await;
    let mut credited: Vec<String> = line_summary(&ledger).into_iter().map(|l| l.1).collect();
    credited.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(credited, expected);
    app.cleanup().await;
}

#[tokio::test]
async fn orders_racing_for_one_payment_reference_leave_exactly_one_paid() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let listing = published_listing(&app, vendor, None).await;
    let mut orders = Vec::new();
    for shopper in 0..8 {
        let shopper = format!("racer-{shopper}");
        orders
            .push(order_awaiting_payment(&app, &shopper, vendor, listing, 1, LISTING_PRICE).await);
    }
    let replies = futures::future::join_all(
        orders
            .iter()
            .map(|order| pay(&app, *order, LISTING_PRICE, "PP-RACE")),
    )
    .await;
    let paid = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 409).count();
    // The losers are the control: every one of them went for a reference that was free when
    // its callback arrived at the same moment as the winner's.
    assert_eq!((paid, refused), (1, 7), "{replies:?}");
    assert_eq!(reference_uses(&app, "PP-RACE").await, 1);
    let paid_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'OrderPaid'")
            .fetch_one(&app.pool)
            .await
            .expect("count payments");
    assert_eq!(paid_events, 1);

    // The same race in the database itself: writers that do not queue in this process (as
    // two API processes would not) load the free reference together, and the store's
    // expected sequences let one through. The gate holds every writer's first attempt
    // between its decision and its append until all eight have decided on the free
    // reference, so the race happens on a loaded machine too.
    let store = std::sync::Arc::new(
        otop_projections::EventStore::new(app.pool.clone())
            .without_local_locks()
            .with_decided_gate(std::sync::Arc::new(tokio::sync::Barrier::new(8))),
    );
    let mut racers = Vec::new();
    for shopper in 0..8 {
        let shopper = format!("store-racer-{shopper}");
        racers
            .push(order_awaiting_payment(&app, &shopper, vendor, listing, 1, LISTING_PRICE).await);
    }
    let metadata = metadata(&Actor::new("payment-provider", Role::System));
    let outcomes =
        futures::future::join_all(
            racers.iter().map(|order| {
                let (store, metadata) = (store.clone(), metadata.clone());
                let payment = otop_projections::payment::Payment {
                    order_id: *order,
                    amount: satang(LISTING_PRICE),
                    reference: "PP-STORE-RACE".to_string(),
                    commission_bps: BPS as u32,
                };
                async move {
                    otop_projections::payment::record_payment(&store, &payment, &metadata).await
                }
            }),
        )
        .await;
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let lost = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(StoreError::Domain(DomainError::InvalidTransition(_)))
            )
        })
        .count();
    assert_eq!((won, lost), (1, 7), "{outcomes:?}");
    assert_eq!(
        store.conflicts(),
        7,
        "the writers really raced: every loser's first append lost on the reference's sequence"
    );
    assert_eq!(reference_uses(&app, "PP-STORE-RACE").await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_forged_callback_cannot_poison_the_real_callbacks_idempotency_key() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    let listing = published_listing(&app, vendor, None).await;
    let order = order_awaiting_payment(&app, "dara", vendor, listing, 1, LISTING_PRICE).await;
    let body = serde_json::to_vec(
        &json!({ "order_id": order, "amount_satang": LISTING_PRICE, "reference": "PP-KEYED" }),
    )
    .expect("serialize");
    let key = "provider-callback-1";
    let send = |signature: String| {
        let (app, body) = (&app, body.clone());
        async move {
            let response = app
                .client
                .post(format!("{}/v1/orders/{order}/payments", app.base_url))
                .header("Content-Type", "application/json")
                .header("X-Otop-Signature", signature)
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
                .expect("the API answers");
            (response.status(), response.headers().clone())
        }
    };
    // The attacker knows the key the provider will use, not the secret.
    let (forged, _) = send(sign_payment("not-the-secret", &body)).await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    // The provider's real callback with that key runs, and pays.
    let (real, headers) = send(sign_payment(PAYMENT_SECRET, &body)).await;
    assert_eq!(real, StatusCode::OK);
    assert!(
        headers.get("idempotent-replayed").is_none(),
        "not the forged 401 replayed"
    );
    assert_eq!(
        order_events(&app, order).await,
        ["OrderPlaced", "OrderConfirmed", "OrderPaid"]
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_refund_retried_after_a_crash_between_command_and_reply_is_debited_once() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มแปรรูปข้าวหอมมะลิ").await;
    let listing = published_listing(&app, vendor, None).await;
    let owner = app.vendor(vendor);
    let order = order_awaiting_payment(&app, "preecha", vendor, listing, 1, LISTING_PRICE).await;
    assert_status(&pay(&app, order, LISTING_PRICE, "PP-CRASH").await, "paid");
    let path = format!("/v1/orders/{order}/refund");
    let body = json!({"amount_satang": 10_000, "reason": "สินค้าชำรุด"});
    let key = [("Idempotency-Key", "refund-once")];
    let refund = || {
        app.request(
            reqwest::Method::POST,
            &path,
            Some(&owner),
            Some(&body),
            &key,
        )
    };
    let first = refund().await;
    assert_ok(&first);
    let after_first = order_events(&app, order).await;
    // The process died after the refund committed, before its reply was stored.
    assert_eq!(app.abandon_idempotency_claims().await, 1);
    let retry = refund().await;
    assert_ok(&retry);
    assert!(
        retry.headers.get("idempotent-replayed").is_none(),
        "the retry ran again"
    );
    assert_eq!(retry.body["position"], first.body["position"]);
    assert_eq!(
        order_events(&app, order).await,
        after_first,
        "one refund in the log"
    );
    let ledger = balance(&app, vendor, &owner, retry.position()).await;
    let debits = line_summary(&ledger)
        .into_iter()
        .filter(|line| line.0 == "debit")
        .count();
    assert_eq!(debits, 1, "{ledger}");
    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Fulfilment: who may take each step

#[tokio::test]
async fn only_the_owning_vendor_accepts_packs_and_ships() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let other_vendor = app.approved_vendor("กลุ่มจักสานบ้านบุทม").await;
    let listing = published_listing(&app, vendor, None).await;
    let order = order_awaiting_payment(&app, "somchai", vendor, listing, 2, LISTING_PRICE).await;
    let owner = app.vendor(vendor);
    let other = app.vendor(other_vendor);
    let shopper = app.shopper("somchai");
    let admin = app.admin();

    // Nothing to accept before payment.
    order_command(&app, order, "accept", &owner, Value::Null)
        .await
        .assert_problem(409);
    assert_status(
        &pay(&app, order, 2 * LISTING_PRICE, "PP-ACCEPT").await,
        "paid",
    );

    // Accept: not the shopper, not another vendor, not even an admin; no token at all is 401;
    // an unknown order is 404.
    for token in [&shopper, &other, &admin] {
        order_command(&app, order, "accept", token, Value::Null)
            .await
            .assert_problem(403);
    }
    app.request(
        reqwest::Method::POST,
        &format!("/v1/orders/{order}/accept"),
        None,
        None,
        &[],
    )
    .await
    .assert_problem(401);
    order_command(&app, Uuid::now_v7(), "accept", &owner, Value::Null)
        .await
        .assert_problem(404);
    order_command(
        &app,
        order,
        "ship",
        &owner,
        json!({"carrier": "Thailand Post", "tracking_number": "EF1"}),
    )
    .await
    .assert_problem(409);
    assert_eq!(
        order_events(&app, order).await,
        ["OrderPlaced", "OrderConfirmed", "OrderPaid"],
        "refused steps record nothing"
    );
    assert_status(
        &order_command(&app, order, "accept", &owner, Value::Null).await,
        "accepted",
    );
    order_command(&app, order, "accept", &owner, Value::Null)
        .await
        .assert_problem(409);

    // Pack.
    order_command(&app, order, "pack", &other, Value::Null)
        .await
        .assert_problem(403);
    assert_status(
        &order_command(&app, order, "pack", &owner, Value::Null).await,
        "packed",
    );

    // Ship: both fields required, trimmed, at most 100 characters; every bad field named.
    let ship = |body: Value| order_command(&app, order, "ship", &owner, body);
    assert_invalid(
        &ship(json!({"carrier": "   ", "tracking_number": "T".repeat(101)})).await,
        &["carrier", "tracking_number"],
    );
    assert_invalid(&ship(json!({"carrier": "Kerry"})).await, &["body"]);
    assert_invalid(
        &ship(json!({"carrier": "Kerry", "tracking_number": "K1", "extra": 1})).await,
        &["body"],
    );
    let not_json = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/orders/{order}/ship"),
            Some(&owner),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    not_json.assert_problem(400);
    order_command(
        &app,
        order,
        "ship",
        &other,
        json!({"carrier": "Kerry", "tracking_number": "KER123"}),
    )
    .await
    .assert_problem(403);
    let hundred = "9".repeat(100);
    let shipped = ship(json!({"carrier": "  Thailand Post  ", "tracking_number": hundred})).await;
    assert_status(&shipped, "shipped");
    let seen = app
        .get(
            &format!("/v1/orders/{order}?min_position={}", shipped.position()),
            Some(&shopper),
        )
        .await;
    assert_ok(&seen);
    assert_eq!(seen.body["status"], "shipped");
    assert_eq!(seen.body["carrier"], "Thailand Post", "trimmed: {seen:?}");
    assert_eq!(seen.body["tracking_number"], "9".repeat(100));

    // Deliver: the shopper (or the vendor); not another shopper or vendor.
    order_command(
        &app,
        order,
        "deliver",
        &app.shopper("someone-else"),
        Value::Null,
    )
    .await
    .assert_problem(403);
    order_command(&app, order, "deliver", &other, Value::Null)
        .await
        .assert_problem(403);
    assert_status(
        &order_command(&app, order, "deliver", &shopper, Value::Null).await,
        "delivered",
    );
    order_command(&app, order, "deliver", &owner, Value::Null)
        .await
        .assert_problem(409);
    assert_eq!(
        order_events(&app, order).await,
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPaid",
            "OrderAccepted",
            "OrderPacked",
            "OrderShipped",
            "OrderDelivered"
        ]
    );

    // A second order: the vendor may mark delivery too.
    let second = order_awaiting_payment(&app, "somchai", vendor, listing, 1, LISTING_PRICE).await;
    assert_status(&pay(&app, second, LISTING_PRICE, "PP-SECOND").await, "paid");
    for verb in ["accept", "pack"] {
        assert_ok(&order_command(&app, second, verb, &owner, Value::Null).await);
    }
    assert_ok(
        &order_command(
            &app,
            second,
            "ship",
            &owner,
            json!({"carrier": "Flash", "tracking_number": "TH1"}),
        )
        .await,
    );
    assert_status(
        &order_command(&app, second, "deliver", &owner, Value::Null).await,
        "delivered",
    );

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Cancellation

#[tokio::test]
async fn the_shopper_cancels_until_the_vendor_accepts_and_the_ledger_gives_it_back() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มผ้าไหมยกดอกบ้านจันรม").await;
    let other_vendor = app.approved_vendor("กลุ่มหม้อดินบ้านสวาย").await;
    let listing = published_listing(&app, vendor, None).await;
    let owner = app.vendor(vendor);
    let shopper = app.shopper("malee");
    let reason = json!({"reason": "เปลี่ยนใจ"});

    // Paid, not accepted yet: the shopper may cancel; everything paid goes back.
    let early = order_awaiting_payment(&app, "malee", vendor, listing, 1, LISTING_PRICE).await;
    let paid = pay(&app, early, LISTING_PRICE, "PP-EARLY").await;
    assert_status(&paid, "paid");
    assert_invalid(
        &order_command(&app, early, "cancel", &shopper, json!({"reason": "  "})).await,
        &["reason"],
    );
    assert_invalid(
        &order_command(&app, early, "cancel", &shopper, json!({})).await,
        &["body"],
    );
    order_command(
        &app,
        early,
        "cancel",
        &app.shopper("not-malee"),
        reason.clone(),
    )
    .await
    .assert_problem(403);
    order_command(
        &app,
        early,
        "cancel",
        &app.vendor(other_vendor),
        reason.clone(),
    )
    .await
    .assert_problem(403);
    let cancelled = order_command(&app, early, "cancel", &shopper, reason.clone()).await;
    assert_status(&cancelled, "cancelled");
    order_command(&app, early, "cancel", &shopper, reason.clone())
        .await
        .assert_problem(409);
    // Money cannot be refunded twice, nor paid again.
    order_command(
        &app,
        early,
        "refund",
        &owner,
        json!({"amount_satang": 1000, "reason": "x"}),
    )
    .await
    .assert_problem(409);
    pay(&app, early, LISTING_PRICE, "PP-EARLY-2")
        .await
        .assert_problem(409);

    let ledger = balance(&app, vendor, &owner, cancelled.position()).await;
    assert_eq!(
        line_summary(&ledger),
        [
            line("debit", early, 350_000, 17_500, -332_500),
            line("credit", early, 350_000, 17_500, 332_500),
        ]
    );
    assert_eq!(ledger["balance_satang"], 0);
    assert_eq!(ledger["credits_satang"], 332_500);
    assert_eq!(ledger["debits_satang"], 332_500);
    assert_eq!(ledger["lines"][0]["position"], cancelled.body["position"]);

    // Accepted: too late for the shopper (409), not for the vendor (before shipping).
    let late = order_awaiting_payment(&app, "malee", vendor, listing, 1, LISTING_PRICE).await;
    assert_status(&pay(&app, late, LISTING_PRICE, "PP-LATE").await, "paid");
    assert_status(
        &order_command(&app, late, "accept", &owner, Value::Null).await,
        "accepted",
    );
    order_command(&app, late, "cancel", &shopper, reason.clone())
        .await
        .assert_problem(409);
    assert_eq!(
        order_events(&app, late).await.last().map(String::as_str),
        Some("OrderAccepted"),
        "the refused cancellation recorded nothing"
    );
    let by_vendor = order_command(&app, late, "cancel", &owner, json!({"reason": "ผ้าหมด"})).await;
    assert_status(&by_vendor, "cancelled");

    // Unpaid: the shopper cancels, and the ledger has nothing to give back.
    let unpaid = order_awaiting_payment(&app, "malee", vendor, listing, 1, LISTING_PRICE).await;
    let dropped = order_command(&app, unpaid, "cancel", &shopper, reason.clone()).await;
    assert_status(&dropped, "cancelled");
    pay(&app, unpaid, LISTING_PRICE, "PP-UNPAID")
        .await
        .assert_problem(409);

    let ledger = balance(&app, vendor, &owner, dropped.position()).await;
    let lines = line_summary(&ledger);
    assert_eq!(
        lines.len(),
        4,
        "two credits, two debits, nothing for the unpaid order: {ledger}"
    );
    assert!(lines.iter().all(|l| l.1 != unpaid.to_string()), "{ledger}");
    assert_eq!(lines[0], line("debit", late, 350_000, 17_500, -332_500));
    assert_eq!(ledger["balance_satang"], 0);
    assert_eq!(ledger["credits_satang"], 665_000);
    assert_eq!(ledger["debits_satang"], 665_000);

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Refunds and the balance

#[tokio::test]
async fn refunds_are_debited_net_of_commission_and_the_balance_is_its_lines() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มแปรรูปข้าวหอมมะลิ").await;
    let other_vendor = app.approved_vendor("กลุ่มไม้แกะสลักบ้านนาบัว").await;
    let listing = published_listing(&app, vendor, None).await;
    let odd_listing = published_listing(&app, vendor, Some(12_345)).await;
    let owner = app.vendor(vendor);
    let other = app.vendor(other_vendor);
    let shopper = app.shopper("preecha");
    let admin = app.admin();

    // Shipped order of 350000 satang: credit 332500.
    let order = order_awaiting_payment(&app, "preecha", vendor, listing, 1, LISTING_PRICE).await;
    let paid = pay(&app, order, LISTING_PRICE, "PP-REFUND").await;
    assert_status(&paid, "paid");
    for verb in ["accept", "pack"] {
        assert_ok(&order_command(&app, order, verb, &owner, Value::Null).await);
    }
    assert_status(
        &order_command(
            &app,
            order,
            "ship",
            &owner,
            json!({"carrier": "Kerry", "tracking_number": "KEX1"}),
        )
        .await,
        "shipped",
    );

    let refund = |amount: i64, token: String| {
        let app = &app;
        async move {
            order_command(
                app,
                order,
                "refund",
                &token,
                json!({"amount_satang": amount, "reason": "สินค้าชำรุด"}),
            )
            .await
        }
    };
    // Who: not the shopper, not another vendor. What: positive, at most what was paid.
    refund(1_000, shopper.clone()).await.assert_problem(403);
    refund(1_000, other.clone()).await.assert_problem(403);
    assert_invalid(
        &refund(LISTING_PRICE + 1, owner.clone()).await,
        &["amount_satang"],
    );
    assert_invalid(&refund(0, owner.clone()).await, &["amount_satang"]);
    assert_invalid(&refund(-5, owner.clone()).await, &["amount_satang"]);
    assert_invalid(
        &order_command(
            &app,
            order,
            "refund",
            &owner,
            json!({"amount_satang": 100, "reason": ""}),
        )
        .await,
        &["reason"],
    );
    let events_before = order_events(&app, order).await;

    // A partial refund: debit 100000 - 5000 = 95000; the order stays shipped.
    let partial = refund(100_000, owner.clone()).await;
    assert_status(&partial, "shipped");
    assert_eq!(
        order_events(&app, order).await.len(),
        events_before.len() + 1
    );
    // What is left is 250000: one satang more is refused.
    assert_invalid(&refund(250_001, owner.clone()).await, &["amount_satang"]);

    let ledger = balance(&app, vendor, &owner, partial.position()).await;
    assert_eq!(
        line_summary(&ledger),
        [
            line("debit", order, 100_000, 5_000, -95_000),
            line("credit", order, 350_000, 17_500, 332_500),
        ]
    );
    assert_eq!(ledger["balance_satang"], 237_500);
    assert_eq!(ledger["credits_satang"], 332_500);
    assert_eq!(ledger["debits_satang"], 95_000);
    assert_eq!(ledger["lines"][0]["position"], partial.body["position"]);
    assert!(ledger["lines"][0]["recorded_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z') || t.contains('+')));

    // Odd amounts: 3 x 12345 = 37035 satang; 5% is 1851.75, the platform takes 1851.
    let odd = order_awaiting_payment(&app, "preecha", vendor, odd_listing, 3, 12_345).await;
    assert_status(&pay(&app, odd, 37_035, "PP-ODD").await, "paid");
    // A partial refund before shipping is allowed; a full one is a cancellation (409).
    let odd_total = json!({"amount_satang": 37_035, "reason": "ทั้งหมด"});
    order_command(&app, odd, "refund", &owner, odd_total)
        .await
        .assert_problem(409);
    // 999 satang back: the platform returns floor(49.95) = 49, the vendor gives back 950.
    let odd_refund = order_command(
        &app,
        odd,
        "refund",
        &admin,
        json!({"amount_satang": 999, "reason": "ขาดไป"}),
    )
    .await;
    assert_status(&odd_refund, "paid");
    // The vendor then cancels before shipping: 36036 goes back, 36036 - 1801 = 34235.
    let odd_cancel = order_command(&app, odd, "cancel", &owner, json!({"reason": "ส่งไม่ได้"})).await;
    assert_status(&odd_cancel, "cancelled");
    let ledger = balance(&app, vendor, &owner, odd_cancel.position()).await;
    assert_eq!(
        line_summary(&ledger),
        [
            line("debit", odd, 36_036, 1_801, -34_235),
            line("debit", odd, 999, 49, -950),
            line("credit", odd, 37_035, 1_851, 35_184),
            line("debit", order, 100_000, 5_000, -95_000),
            line("credit", order, 350_000, 17_500, 332_500),
        ]
    );
    // 332500 - 95000 + 35184 - 950 - 34235: the rounding of three lines leaves 1 satang.
    assert_eq!(ledger["balance_satang"], 237_499);
    assert_eq!(ledger["credits_satang"], 367_684);
    assert_eq!(ledger["debits_satang"], 130_185);

    // The rest of the shipped order, by an admin: the order is refunded in full.
    let rest = refund(250_000, admin.clone()).await;
    assert_status(&rest, "refunded");
    refund(1, owner.clone()).await.assert_problem(409);

    // Who may read a balance: the vendor and admins; not another vendor, not a shopper.
    let by_admin = balance(&app, vendor, &admin, rest.position()).await;
    assert_eq!(by_admin["lines"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        line_summary(&by_admin)[0],
        line("debit", order, 250_000, 12_500, -237_500)
    );
    assert_eq!(by_admin["balance_satang"], 237_499 - 237_500);
    let by_owner = balance(&app, vendor, &owner, rest.position()).await;
    assert_eq!(by_owner, by_admin);
    let path = format!("/v1/vendors/{vendor}/balance");
    app.get(&path, Some(&other)).await.assert_problem(403);
    app.get(&path, Some(&shopper)).await.assert_problem(403);
    app.get(
        &path,
        Some(&app.token(&Actor::new("auditor-1", Role::Auditor))),
    )
    .await
    .assert_problem(403);
    app.get(&path, None).await.assert_problem(401);
    app.get(
        &format!("/v1/vendors/{}/balance", Uuid::now_v7()),
        Some(&admin),
    )
    .await
    .assert_problem(404);
    let stranger = Uuid::now_v7();
    app.get(
        &format!("/v1/vendors/{stranger}/balance"),
        Some(&app.vendor(stranger)),
    )
    .await
    .assert_problem(404);
    app.get(&format!("{path}?min_position=-1"), Some(&owner))
        .await
        .assert_problem(422);
    // A vendor with no sales: zero, no lines.
    let empty = balance(&app, other_vendor, &other, rest.position()).await;
    assert_eq!(empty["balance_satang"], 0);
    assert_eq!(empty["lines"].as_array().map(Vec::len), Some(0));

    // The ledger is derived from the log alone: a rebuild writes the very same rows.
    let head = log_head(&app).await;
    balance(&app, vendor, &admin, head).await;
    let mut before = Vec::new();
    for (table, key) in ProjectionKind::Ledger.tables() {
        before.push(table_digest(&app.pool, table, key).await.expect("digest"));
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM vendor_ledger_lines")
        .fetch_one(&app.pool)
        .await
        .expect("count lines");
    assert_eq!(rows, 6);
    rebuild(&app.pool, ProjectionKind::Ledger, 7, |_, _| {})
        .await
        .expect("rebuild the ledger");
    let mut after = Vec::new();
    for (table, key) in ProjectionKind::Ledger.tables() {
        after.push(table_digest(&app.pool, table, key).await.expect("digest"));
    }
    assert_eq!(before, after, "a rebuild gives identical rows");
    assert!(before.iter().all(|d| d != "empty"), "{before:?}");
    let rebuilt = balance(&app, vendor, &admin, head).await;
    assert_eq!(rebuilt, by_admin);

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 5. The contract is documented

#[tokio::test]
async fn the_order_commands_payments_and_balance_are_documented() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await;
    assert_ok(&spec);
    let paths = spec.body["paths"].as_object().expect("paths");
    for verb in [
        "accept", "pack", "ship", "deliver", "cancel", "refund", "payments",
    ] {
        let path = format!("/v1/orders/{{id}}/{verb}");
        let post = &paths
            .get(&path)
            .unwrap_or_else(|| panic!("{path} missing from /openapi.json"))["post"];
        assert!(post["responses"]["200"].is_object(), "{path}: {post}");
        if verb == "payments" {
            // The provider signs its callbacks; it has no bearer token.
            assert!(post["security"].is_null(), "{path}: {post}");
            let signature = post["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == "X-Otop-Signature"));
            assert_eq!(
                signature.map(|p| p["in"].clone()),
                Some(json!("header")),
                "{post}"
            );
        } else {
            assert!(post["security"].is_array(), "{path}: {post}");
        }
    }
    let balance = &paths
        .get("/v1/vendors/{id}/balance")
        .expect("/v1/vendors/{id}/balance missing from /openapi.json")["get"];
    assert!(balance["responses"]["200"].is_object(), "{balance}");
    let schemas = &spec.body["components"]["schemas"];
    for field in [
        "vendor_id",
        "balance_satang",
        "credits_satang",
        "debits_satang",
        "lines",
    ] {
        assert!(
            schemas["VendorBalance"]["properties"][field].is_object(),
            "VendorBalance.{field}: {schemas}"
        );
    }
    app.cleanup().await;
}
