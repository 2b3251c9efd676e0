//! Auditors: an order's history replayed from the log (JSON and CSV), the order as it stood at
//! any instant, and the tamper-evident log: SQL edits of the `events` table (an altered
//! payload, a deleted event, two events swapped, a forged event inserted) are each reported
//! at their aggregate and sequence, by `projections::audit::verify` and by
//! `GET /v1/audit/verify`; an untouched log reports nothing.

use otop_domain::{Actor, Role};
use otop_e2e::{Reply, TestApp};
use otop_projections::audit::{self, ProblemKind};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

fn address() -> Value {
    json!({
        "name": "สมศรี ใจดี",
        "phone": "081-234-5678",
        "line1": "12 หมู่ 3 ถนนเทศบาล",
        "province": "สุรินทร์",
        "postcode": "32000",
    })
}

fn auditor(app: &TestApp) -> String {
    app.token(&Actor::new("auditor-1", Role::Auditor))
}

async fn checkout(app: &TestApp, shopper: &str, lines: &[(Uuid, u32)]) -> Reply {
    let reply = app
        .post(
            "/v1/checkouts",
            &app.shopper(shopper),
            json!({
                "lines": lines.iter().map(|(id, q)| json!({"listing_id": id, "quantity": q})).collect::<Vec<_>>(),
                "shipping_address": address(),
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["status"], "awaiting_payment", "{reply:?}");
    reply
}

/// The order of `vendor` in a checkout reply: (id, total).
fn order_of(reply: &Reply, vendor: Uuid) -> (String, i64) {
    let order = reply.body["orders"]
        .as_array()
        .and_then(|orders| orders.iter().find(|o| o["vendor_id"] == vendor.to_string()))
        .expect("an order for the vendor");
    (
        order["id"].as_str().expect("order id").to_string(),
        order["total_satang"].as_i64().expect("total"),
    )
}

async fn step(app: &TestApp, vendor: Uuid, order: &str, step: &str) -> Reply {
    let body = if step == "ship" {
        json!({"carrier": "Thailand Post", "tracking_number": "EF123456789TH"})
    } else {
        Value::Null
    };
    let reply = app
        .post(
            &format!("/v1/orders/{order}/{step}"),
            &app.vendor(vendor),
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{step}: {reply:?}");
    reply
}

/// A GET with an Accept header, as raw text: (status, content type, body).
async fn get_text(app: &TestApp, path: &str, token: &str, accept: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(format!("{}{}", app.base_url, path))
        .bearer_auth(token)
        .header("Accept", accept)
        .send()
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        response.text().await.expect("a text body"),
    )
}

/// Role checks shared by every audit endpoint: 401 without a token, 403 for the roles that
/// are not auditors or admins.
async fn assert_auditors_only(app: &TestApp, path: &str) {
    app.get(path, None).await.assert_problem(401);
    let vendor = Uuid::new_v4();
    for token in [
        app.shopper("nosy"),
        app.vendor(vendor),
        app.token(&Actor::new("analyst-1", Role::Analyst)),
    ] {
        app.get(path, Some(&token)).await.assert_problem(403);
    }
    for token in [auditor(app), app.admin()] {
        let reply = app.get(path, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orders_history_replays_every_event_with_its_state_and_stock_events() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหม").await;
    let scarf = app.published_listing(vendor, 10).await; // 350,000 satang each
    let reply = checkout(&app, "nok", &[(scarf, 2)]).await;
    let checkout_id = reply.body["checkout_id"]
        .as_str()
        .expect("checkout id")
        .to_string();
    let (order, total) = order_of(&reply, vendor);
    assert_eq!(total, 700_000);
    let paid = app.pay(&order, total, &format!("promptpay-{order}")).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    for name in ["accept", "pack", "ship", "deliver"] {
        step(&app, vendor, &order, name).await;
    }
    let refund = app
        .post(
            &format!("/v1/orders/{order}/refund"),
            &app.vendor(vendor),
            json!({"amount_satang": 100_000, "reason": "one scarf arrived torn"}),
        )
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{refund:?}");
    app.wait_for_checkout_process().await;

    let path = format!("/v1/audit/orders/{order}/history");
    let history = app.get(&path, Some(&auditor(&app))).await;
    assert_eq!(history.status, StatusCode::OK, "{history:?}");
    assert_eq!(history.body["order_id"], order.as_str());
    let events = history.body["events"].as_array().expect("events").clone();
    let own: Vec<&Value> = events
        .iter()
        .filter(|e| e["aggregate_type"] == "Order")
        .collect();
    let types: Vec<&str> = own
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPaid",
            "OrderAccepted",
            "OrderPacked",
            "OrderShipped",
            "OrderDelivered",
            "OrderRefunded"
        ]
    );
    let statuses: Vec<&str> = own
        .iter()
        .filter_map(|e| e["state_after"]["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "pending",
            "awaiting_payment",
            "paid",
            "accepted",
            "packed",
            "shipped",
            "delivered",
            "delivered"
        ]
    );
    let mut previous_hash = "0".repeat(64);
    for (index, event) in own.iter().enumerate() {
        assert_eq!(event["aggregate_id"], order.as_str());
        assert_eq!(event["sequence"], index as i64 + 1, "{event}");
        assert_eq!(event["event_version"], "1");
        assert!(event["position"].as_i64().is_some_and(|p| p > 0));
        assert!(event["recorded_at"].is_string(), "{event}");
        assert!(event["request_id"].is_string(), "{event}");
        assert!(event["correlation_id"].is_string(), "{event}");
        assert!(event["causation_id"].is_string(), "{event}");
        assert_eq!(
            event["prev_hash"],
            previous_hash.as_str(),
            "chained: {event}"
        );
        let hash = event["hash"].as_str().expect("hash");
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        previous_hash = hash.to_string();
        assert!(
            event["payload"]
                .get(event["event_type"].as_str().expect("type"))
                .is_some()
                || event["payload"] == event["event_type"]
        );
    }
    let placed = own[0];
    assert_eq!(placed["actor"]["role"], "shopper");
    assert_eq!(placed["actor"]["id"], "nok");
    assert_eq!(placed["correlation_id"], checkout_id.as_str());
    assert_eq!(
        placed["payload"]["OrderPlaced"]["lines"][0]["unit_price"], 350_000,
        "the first event records the lines with their prices"
    );
    assert_eq!(
        own[1]["actor"]["role"], "system",
        "the process manager confirms"
    );
    assert_eq!(own[2]["state_after"]["paid_satang"], 700_000);
    assert_eq!(own[3]["actor"]["role"], "vendor");
    assert_eq!(own[7]["state_after"]["refunded_satang"], 100_000);
    assert_eq!(own[7]["state_after"]["total_satang"], 700_000);
    assert_eq!(own[7]["state_after"]["lines"][0]["quantity"], 2);

    // The stock events the order caused on its listing, tied by correlation and causation.
    let stock: Vec<&Value> = events
        .iter()
        .filter(|e| e["aggregate_type"] == "Listing")
        .collect();
    let stock_types: Vec<&str> = stock
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(stock_types, ["StockReserved", "StockCommitted"]);
    for event in &stock {
        assert_eq!(event["aggregate_id"], scarf.to_string());
        assert_eq!(
            event["payload"][event["event_type"].as_str().expect("type")]["order_id"],
            order.as_str()
        );
        assert!(event["state_after"].is_null());
        assert_eq!(event["actor"]["role"], "system");
    }
    // Each is tied to the order event that caused it, in that event's correlation: the
    // checkout for the reservation, the shipping request for the commit.
    assert_eq!(stock[0]["causation_id"], format!("Order/{order}/1"));
    assert_eq!(stock[0]["correlation_id"], checkout_id.as_str());
    assert_eq!(stock[1]["correlation_id"], own[5]["correlation_id"]);
    assert_eq!(
        stock[1]["causation_id"],
        format!("Order/{order}/6"),
        "shipping commits"
    );
    // Log order: reserved after placing and before confirming; committed after shipping.
    let index_of = |wanted: &str| {
        events
            .iter()
            .position(|e| e["event_type"] == wanted)
            .expect("event present")
    };
    assert!(index_of("OrderPlaced") < index_of("StockReserved"));
    assert!(index_of("StockReserved") < index_of("OrderConfirmed"));
    assert!(index_of("OrderShipped") < index_of("StockCommitted"));

    // The same as CSV.
    let (status, content_type, text) = get_text(&app, &path, &auditor(&app), "text/csv").await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with(
        "aggregate_type,aggregate_id,position,sequence,event_type,event_version,recorded_at,actor_id,actor_role,request_id,correlation_id,causation_id,payload,hash,prev_hash,state_after"
    ));
    assert_eq!(lines.len(), events.len() + 1, "{text}");
    assert!(
        lines[1].starts_with(&format!("Order,{order},")),
        "{}",
        lines[1]
    );
    assert!(text.contains(&previous_hash), "the hashes are in the CSV");

    // Unknown orders, and who may read.
    let unknown = Uuid::new_v4();
    app.get(
        &format!("/v1/audit/orders/{unknown}/history"),
        Some(&auditor(&app)),
    )
    .await
    .assert_problem(404);
    app.get("/v1/audit/orders/not-a-uuid/history", Some(&auditor(&app)))
        .await
        .assert_problem(404);
    assert_auditors_only(&app, &path).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_as_of_any_instant_is_replayed_from_the_log() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงิน").await;
    let beads = app.published_listing(vendor, 10).await;
    let reply = checkout(&app, "dao", &[(beads, 1)]).await;
    let (order, total) = order_of(&reply, vendor);
    let paid = app.pay(&order, total, "promptpay-asof").await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    step(&app, vendor, &order, "accept").await;
    let cancelled = app
        .post(
            &format!("/v1/orders/{order}/cancel"),
            &app.admin(),
            json!({"reason": "the shopper called"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{cancelled:?}");

    let history = app
        .get(
            &format!("/v1/audit/orders/{order}/history"),
            Some(&auditor(&app)),
        )
        .await;
    let own: Vec<Value> = history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["aggregate_type"] == "Order")
        .cloned()
        .collect();
    let time = |index: usize| {
        chrono::DateTime::parse_from_rfc3339(own[index]["recorded_at"].as_str().expect("time"))
            .expect("RFC 3339")
            .with_timezone(&chrono::Utc)
    };
    let as_of = |at: chrono::DateTime<chrono::Utc>| {
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        format!("/v1/audit/orders/{order}?at={}", at.replace('+', "%2B"))
    };
    let token = auditor(&app);

    // Placing and confirming are one transaction recorded at one instant: at that instant
    // the order already awaits payment (no reader ever saw it pending).
    assert_eq!(time(0), time(1), "placed and confirmed together");
    // Exactly at each event, the order is as that event left it.
    for (index, expected) in [
        (1usize, "awaiting_payment"),
        (2, "paid"),
        (3, "accepted"),
        (4, "cancelled"),
    ] {
        let reply = app.get(&as_of(time(index)), Some(&token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["status"], expected, "{reply:?}");
        assert_eq!(reply.body["id"], order.as_str());
        assert_eq!(reply.body["as_of_sequence"], index as i64 + 1);
        assert_eq!(reply.body["state"], Value::Null, "the state is flattened");
        assert_eq!(reply.body, {
            let mut same = own[index]["state_after"].clone();
            for key in [
                "at",
                "as_of_sequence",
                "as_of_position",
                "as_of_recorded_at",
            ] {
                same[key] = reply.body[key].clone();
            }
            same
        });
    }
    let paid_state = app
        .get(
            &as_of(time(2) + chrono::Duration::microseconds(1)),
            Some(&token),
        )
        .await;
    assert_eq!(paid_state.body["status"], "paid", "{paid_state:?}");
    assert_eq!(paid_state.body["paid_satang"], total);
    assert_eq!(paid_state.body["refunded_satang"], 0);
    let now = app
        .get(&format!("/v1/audit/orders/{order}"), Some(&token))
        .await;
    assert_eq!(now.body["status"], "cancelled", "{now:?}");
    assert_eq!(now.body["refunded_satang"], total);

    // Before the order existed: 404 saying so.
    let before = app
        .get(
            &as_of(time(0) - chrono::Duration::microseconds(1)),
            Some(&token),
        )
        .await;
    before.assert_problem(404);
    let detail = before.body["detail"].as_str().expect("detail");
    assert!(detail.contains("did not exist yet"), "{detail}");
    assert!(detail.contains("placed at"), "{detail}");
    // Unknown order, bad instant.
    app.get(
        &format!(
            "/v1/audit/orders/{}?at=2026-01-31T10:00:00Z",
            Uuid::new_v4()
        ),
        Some(&token),
    )
    .await
    .assert_problem(404);
    for bad in ["yesterday", "2026-01-31", "2026-13-01T00:00:00Z"] {
        let reply = app
            .get(&format!("/v1/audit/orders/{order}?at={bad}"), Some(&token))
            .await;
        reply.assert_problem(422);
        assert_eq!(reply.body["errors"][0]["field"], "at", "{reply:?}");
    }
    assert_auditors_only(&app, &format!("/v1/audit/orders/{order}")).await;
    app.cleanup().await;
}

/// The problems `verify` reports, as (aggregate id, sequence, kind).
async fn problems(app: &TestApp) -> Vec<(String, i64, String)> {
    let report = audit::verify(&app.pool).await.expect("verify");
    assert!(!report.problems_truncated);
    let direct: Vec<(String, i64, String)> = report
        .problems
        .iter()
        .map(|p| {
            assert_eq!(p.aggregate_type, "Order");
            (p.aggregate_id.clone(), p.sequence, p.kind.to_string())
        })
        .collect();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(report.events_checked, total as u64);
    // The HTTP endpoint says the same.
    let reply = app.get("/v1/audit/verify", Some(&auditor(app))).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["events_checked"], total);
    assert_eq!(reply.body["aggregates_checked"], report.aggregates_checked);
    assert_eq!(reply.body["heads_digest"], report.heads_digest.as_str());
    let over_http: Vec<(String, i64, String)> = reply.body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["aggregate_id"].as_str().expect("id").to_string(),
                p["sequence"].as_i64().expect("sequence"),
                p["kind"].as_str().expect("kind").to_string(),
            )
        })
        .collect();
    assert_eq!(over_http, direct);
    let mut sorted = direct.clone();
    sorted.sort();
    sorted
}

async fn sql(app: &TestApp, statement: &str, order: &str) {
    sqlx::query(statement)
        .bind(order)
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Runs `statement` (bound to `order` and, when given, `sequence`) as the attacker these
/// tests play: a superuser who switches the append-only trigger off first.
async fn tamper(app: &TestApp, statement: &str, order: &str, sequence: Option<i64>) {
    let mut tx = app.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("switch triggers off");
    let mut query = sqlx::query(statement).bind(order);
    if let Some(sequence) = sequence {
        query = query.bind(sequence);
    }
    query
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampering_with_the_log_is_reported_exactly_where_it_happened() {
    let app = TestApp::spawn().await;
    // Four vendors, one cart: four orders, each paid, accepted, packed and shipped (six
    // events each).
    let mut vendors = Vec::new();
    let mut lines = Vec::new();
    for name in ["กลุ่มหนึ่ง", "กลุ่มสอง", "กลุ่มสาม", "กลุ่มสี่"]
    {
        let vendor = app.approved_vendor(name).await;
        lines.push((app.published_listing(vendor, 5).await, 1));
        vendors.push(vendor);
    }
    let reply = checkout(&app, "tam", &lines).await;
    let mut orders = Vec::new();
    for vendor in &vendors {
        let (order, total) = order_of(&reply, *vendor);
        let paid = app.pay(&order, total, &format!("pp-{order}")).await;
        assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
        for name in ["accept", "pack", "ship"] {
            step(&app, *vendor, &order, name).await;
        }
        orders.push(order);
    }
    app.wait_for_checkout_process().await;
    for order in &orders {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = 'Order' AND aggregate_id = $1",
        )
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .expect("count");
        assert_eq!(count, 6);
    }

    // An untouched log: nothing to report.
    assert_eq!(problems(&app).await, []);
    let intact = audit::verify(&app.pool).await.expect("verify");
    assert!(intact.is_intact());
    assert!(intact.aggregates_checked >= 4 + 4 + 4);
    // What `otop verify --print-heads` prints, to be published.
    let mut published = String::new();
    audit::verify_with_heads(&app.pool, |head| {
        published.push_str(&head.line());
        published.push('\n');
    })
    .await
    .expect("heads");
    published.push_str(&format!("heads-digest\t{}\n", intact.heads_digest));
    let published = audit::parse_heads(&published).expect("a consistent list of heads");
    assert_eq!(published.len() as u64, intact.aggregates_checked);
    assert_eq!(
        audit::check_heads(&app.pool, &published)
            .await
            .expect("check"),
        []
    );

    let mut expected: Vec<(String, i64, String)> = Vec::new();
    let mut expect = |order: &str, sequence: i64, kind: ProblemKind| {
        expected.push((order.to_string(), sequence, kind.to_string()));
        expected.sort();
        expected.clone()
    };

    // 1. An SQL edit of a payload: the payment's amount.
    tamper(
        &app,
        "UPDATE events SET payload = jsonb_set(payload::jsonb, '{OrderPaid,amount}', '1')::json
          WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = 3",
        &orders[0],
        None,
    )
    .await;
    let want = expect(&orders[0], 3, ProblemKind::Altered);
    assert_eq!(problems(&app).await, want);

    // 2. An event deleted.
    tamper(
        &app,
        "DELETE FROM events WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = 4",
        &orders[1],
        None,
    )
    .await;
    let want = expect(&orders[1], 4, ProblemKind::Removed);
    assert_eq!(problems(&app).await, want);

    // 3. Two events' sequences swapped (2 and 5).
    for statement in [
        "UPDATE events SET sequence = 1000 WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = 2",
        "UPDATE events SET sequence = 2 WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = 5",
        "UPDATE events SET sequence = 5 WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = 1000",
    ] {
        tamper(&app, statement, &orders[2], None).await;
    }
    expect(&orders[2], 2, ProblemKind::Reordered);
    let want = expect(&orders[2], 5, ProblemKind::Reordered);
    assert_eq!(problems(&app).await, want);

    // 4. A forged event inserted between the second and the third: the later events are
    //    moved up to make room, and the trigger even computes the forged row's hash.
    for from in (3..=6).rev() {
        tamper(
            &app,
            "UPDATE events SET sequence = sequence + 1
              WHERE aggregate_type = 'Order' AND aggregate_id = $1 AND sequence = $2",
            &orders[3],
            Some(from),
        )
        .await;
    }
    sql(
        &app,
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Order', $1, 3, 'OrderAccepted', '1', '\"OrderAccepted\"',
                 '{\"actor_id\": \"admin-1\", \"actor_role\": \"admin\"}')",
        &orders[3],
    )
    .await;
    let want = expect(&orders[3], 3, ProblemKind::Inserted);
    assert_eq!(problems(&app).await, want);

    // What the chains alone cannot show: an event appended at the end of a chain through
    // the trigger. The published heads digest is what catches it.
    let before = audit::verify(&app.pool).await.expect("verify");
    let mut heads = Vec::new();
    audit::verify_with_heads(&app.pool, |head| heads.push(head.clone()))
        .await
        .expect("heads");
    assert_eq!(heads.len() as u64, before.aggregates_checked);
    let appended_to = heads
        .iter()
        .find(|h| h.aggregate_type == "Order" && h.aggregate_id == orders[0])
        .expect("a head for the order")
        .clone();
    assert_eq!(appended_to.sequence, 6);
    sql(
        &app,
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Order', $1, 7, 'OrderDelivered', '1', '\"OrderDelivered\"', '{}')",
        &orders[0],
    )
    .await;
    let after = audit::verify(&app.pool).await.expect("verify");
    assert_eq!(
        problems(&app).await,
        want,
        "the walk alone sees nothing new"
    );
    assert_ne!(
        after.heads_digest, before.heads_digest,
        "but the heads digest moved"
    );
    let mut new_heads = Vec::new();
    audit::verify_with_heads(&app.pool, |head| new_heads.push(head.clone()))
        .await
        .expect("heads");
    let moved: Vec<_> = new_heads
        .iter()
        .filter(|head| !heads.contains(head))
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].aggregate_id, orders[0]);
    assert_eq!(moved[0].sequence, 7);

    // Against the heads published before any of it: the chain whose events were moved up to
    // make room for the forged one no longer has its old head at its old sequence.
    let broken = audit::check_heads(&app.pool, &published)
        .await
        .expect("check");
    let broken: Vec<(&str, i64)> = broken
        .iter()
        .map(|h| (h.aggregate_id.as_str(), h.sequence))
        .collect();
    assert_eq!(broken, [(orders[3].as_str(), 6)]);

    assert_auditors_only(&app, "/v1/audit/verify").await;
    app.cleanup().await;
}
