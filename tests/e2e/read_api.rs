//! The query side through HTTP: read-your-writes with `?min_position=` under concurrent
//! commands, the vendor directory, the listing catalog and order queries with their visibility
//! rules and paging, `/readyz` and `/metrics`, and a projection that stops on an event it cannot
//! apply.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures::future::join_all;
use otop_domain::order::{OrderLine, ShippingAddress};
use otop_domain::values::{Phone, Satang};
use otop_domain::{Actor, EventMetadata, Order, OrderCommand, Role};
use otop_e2e::{Reply, TestApp};
use otop_projections::AggregateStore;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Helpers

fn id_of(reply: &Reply) -> Uuid {
    reply.body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {reply:?}"))
}

/// The ids of a page's items, in order.
fn item_ids(page: &Reply) -> Vec<Uuid> {
    page.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page:?}"))
        .iter()
        .map(|item| {
            item["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("item without id in {page:?}"))
        })
        .collect()
}

fn id_set(page: &Reply) -> BTreeSet<Uuid> {
    item_ids(page).into_iter().collect()
}

#[track_caller]
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

/// Asserts a 422 problem whose field errors name `field`.
#[track_caller]
fn assert_invalid(reply: &Reply, field: &str) {
    reply.assert_problem(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&field),
        "expected a field error on {field:?}: {reply:?}"
    );
}

/// Runs a command, sending it again when another writer won the optimistic lock every time
/// (409 with nothing written). Any other reply is returned as it is.
async fn command(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut attempts = 0;
    loop {
        let reply = app
            .request(method.clone(), path, Some(token), body.as_ref(), &[])
            .await;
        attempts += 1;
        if reply.status == StatusCode::CONFLICT
            && reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("conflict") || d.contains("concurren"))
            && attempts < 10
        {
            continue;
        }
        return reply;
    }
}

/// A vendor application in `district`; returns the reply (201).
async fn apply_vendor(app: &TestApp, name_th: &str, district: &str) -> Reply {
    let reply = app
        .post(
            "/v1/vendors",
            &app.shopper("applicant"),
            json!({
                "name_th": name_th,
                "name_en": format!("{name_th} (en)"),
                "district_code": district,
                "producer_type": "sme",
                "phone": "044-511-234",
                "payout_promptpay": "0812345678",
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> Reply {
    let reply = app.post(path, &app.admin(), body).await;
    assert_ok(&reply);
    reply
}

/// An approved vendor in `district`: its id and the position of its approval.
async fn approved_vendor_in(app: &TestApp, name_th: &str, district: &str) -> (Uuid, i64) {
    let id = id_of(&apply_vendor(app, name_th, district).await);
    let approved = admin_post(app, &format!("/v1/vendors/{id}/approve"), Value::Null).await;
    (id, approved.position())
}

async fn set_price(app: &TestApp, listing: Uuid, token: &str, price: i64) -> Reply {
    command(
        app,
        Method::PUT,
        &format!("/v1/listings/{listing}/price"),
        token,
        Some(json!({ "price_satang": price })),
    )
    .await
}

async fn publish(app: &TestApp, vendor: Uuid, listing: Uuid) -> Reply {
    let reply = app
        .post(
            &format!("/v1/listings/{listing}/publish"),
            &app.vendor(vendor),
            Value::Null,
        )
        .await;
    assert_ok(&reply);
    assert_eq!(reply.body["status"], "published");
    reply
}

async fn unpublish(app: &TestApp, vendor: Uuid, listing: Uuid) -> Reply {
    let reply = app
        .post(
            &format!("/v1/listings/{listing}/unpublish"),
            &app.vendor(vendor),
            Value::Null,
        )
        .await;
    assert_ok(&reply);
    reply
}

/// The highest position in the log (what a caller that just wrote would pass).
async fn log_head(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("read the log head")
        .unwrap_or(0)
}

/// Polls `/readyz` until `done` holds; fails after a bounded wait.
async fn poll_readyz(app: &TestApp, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = app.get("/readyz", None).await;
        if done(&reply) {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not reached in time; last /readyz: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One projection's entry in a `/readyz` reply.
fn projection<'a>(readyz: &'a Reply, name: &str) -> &'a Value {
    readyz.body["projections"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no projection {name:?} in {readyz:?}"))
}

fn caught_up(readyz: &Reply) -> bool {
    let head = readyz.body["log_head"].as_i64();
    readyz.status == StatusCode::OK
        && ["catalog", "orders"].iter().all(|name| {
            readyz.body["projections"]
                .as_array()
                .and_then(|all| all.iter().find(|p| p["name"] == *name))
                .is_some_and(|p| p["lag"] == 0 && head.is_some())
        })
}

async fn metrics_text(app: &TestApp) -> (StatusCode, String, String) {
    let response = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("/metrics answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("metrics text");
    (status, content_type, text)
}

fn order_metadata(actor: &Actor) -> HashMap<String, String> {
    EventMetadata::for_request(actor.clone(), "read-api-test", chrono::Utc::now()).to_map()
}

fn satang(amount: i64) -> Satang {
    Satang::parse("amount", amount).expect("a positive amount")
}

/// Places an order through the real event store (there is no HTTP command for it yet);
/// returns the order id and the log position of its event.
async fn place_order(
    store: &AggregateStore<Order>,
    shopper: &str,
    vendor_id: Uuid,
    listing_id: Uuid,
    quantity: u32,
    unit_price: i64,
) -> (Uuid, i64) {
    let order_id = Uuid::now_v7();
    let actor = Actor::new(shopper, Role::Shopper);
    let outcome = store
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
            &order_metadata(&actor),
        )
        .await
        .expect("place the order");
    assert!(outcome.position > 0, "placing records an event");
    (order_id, outcome.position)
}

// ---------------------------------------------------------------------------------------------
// 1. Read-your-writes under concurrent commands

const ROUNDS: i64 = 4;

/// Each task writes, then reads with the position its write returned: it must see its write.
/// Per-task listings and vendors must show exactly the task's value; on the listing shared by
/// several tasks, the k-th write in log order must find at least k units added.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn min_position_reads_see_the_callers_write_under_concurrent_commands() {
    let app = TestApp::spawn().await;
    let vendor_id = app.approved_vendor("กลุ่มทอผ้าไหมอ่านตามเขียน").await;
    let owner = app.vendor(vendor_id);

    let mut own_listings = Vec::new();
    for _ in 0..6 {
        own_listings.push(app.draft_listing(vendor_id, 5).await);
    }
    const SHARED_START: i64 = 10;
    let shared = app.draft_listing(vendor_id, SHARED_START).await;
    let mut vendors = Vec::new();
    for i in 0..4 {
        vendors.push(
            approved_vendor_in(&app, &format!("ผู้ผลิตพร้อมกัน {i}"), "3201")
                .await
                .0,
        );
    }

    // 6 tasks: price of their own listing.
    let price_tasks = own_listings.iter().enumerate().map(|(task, &listing)| {
        let app = &app;
        let owner = owner.clone();
        async move {
            for round in 0..ROUNDS {
                let price = 100_000 + task as i64 * 1_000 + round;
                let written = set_price(app, listing, &owner, price).await;
                assert_ok(&written);
                let read = app
                    .get(
                        &format!("/v1/listings/{listing}?min_position={}", written.position()),
                        Some(&owner),
                    )
                    .await;
                assert_ok(&read);
                assert_eq!(
                    read.body["price_satang"], price,
                    "task {task} round {round} read a stale price: {read:?}"
                );
            }
        }
    });

    // 6 tasks: +1 unit on the shared listing; (position of the write, stock read after it).
    let shared_tasks = (0..6).map(|_| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let mut seen = Vec::new();
            for _ in 0..ROUNDS {
                let written = command(
                    app,
                    Method::POST,
                    &format!("/v1/listings/{shared}/stock"),
                    &owner,
                    Some(json!({"delta": 1})),
                )
                .await;
                assert_ok(&written);
                let position = written.position();
                let read = app
                    .get(
                        &format!("/v1/listings/{shared}?min_position={position}"),
                        Some(&owner),
                    )
                    .await;
                assert_ok(&read);
                let stock = read.body["available_stock"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("no stock in {read:?}"));
                seen.push((position, stock));
            }
            seen
        }
    });

    // 4 tasks: profile of their own vendor, read back publicly.
    let vendor_tasks = vendors.iter().enumerate().map(|(task, &vendor)| {
        let app = &app;
        async move {
            let token = app.vendor(vendor);
            for round in 0..ROUNDS {
                let name_en = format!("Concurrent Producers {task}, round {round}");
                let written = command(
                    app,
                    Method::PATCH,
                    &format!("/v1/vendors/{vendor}"),
                    &token,
                    Some(json!({ "name_en": name_en })),
                )
                .await;
                assert_ok(&written);
                let read = app
                    .get(
                        &format!("/v1/vendors/{vendor}?min_position={}", written.position()),
                        None,
                    )
                    .await;
                assert_ok(&read);
                assert_eq!(
                    read.body["name_en"], name_en,
                    "vendor task {task} round {round} read a stale profile: {read:?}"
                );
            }
        }
    });

    let ((), seen, ()) = tokio::join!(
        async {
            join_all(price_tasks).await;
        },
        async { join_all(shared_tasks).await },
        async {
            join_all(vendor_tasks).await;
        },
    );

    let mut seen: Vec<(i64, i64)> = seen.into_iter().flatten().collect();
    seen.sort_unstable();
    let writes = seen.len() as i64;
    assert_eq!(writes, 6 * ROUNDS);
    for (k, (position, stock)) in seen.iter().enumerate() {
        // Writes to one aggregate commit one after another, so position order is write order:
        // the k-th write (from 1) left SHARED_START + k units.
        let at_least = SHARED_START + k as i64 + 1;
        assert!(
            *stock >= at_least,
            "the read after the write at position {position} saw {stock} units, \
             fewer than the {at_least} that write left"
        );
    }
    let positions: BTreeSet<i64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions.len() as i64,
        writes,
        "each write has its own position"
    );
    let last = seen.last().expect("writes").0;
    let final_read = app
        .get(
            &format!("/v1/listings/{shared}?min_position={last}"),
            Some(&owner),
        )
        .await;
    assert_ok(&final_read);
    assert_eq!(final_read.body["available_stock"], SHARED_START + writes);

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 2. min_position validation

#[tokio::test]
async fn min_position_must_be_a_position_the_log_has_reached() {
    let app = TestApp::spawn().await;
    let vendor_id = app.approved_vendor("กลุ่มตรวจตำแหน่ง").await;
    let listing = app.draft_listing(vendor_id, 3).await;
    let head = log_head(&app).await;
    assert!(head > 0);
    let admin = app.admin();
    let order_id = Uuid::now_v7();

    let paths = [
        format!("/v1/vendors/{vendor_id}"),
        "/v1/vendors".to_string(),
        format!("/v1/listings/{listing}"),
        "/v1/listings".to_string(),
        "/v1/orders".to_string(),
        format!("/v1/orders/{order_id}"),
    ];
    for path in &paths {
        let negative = app
            .get(&format!("{path}?min_position=-1"), Some(&admin))
            .await;
        assert_invalid(&negative, "min_position");

        let beyond = app
            .get(
                &format!("{path}?min_position={}", head + 1_000_000),
                Some(&admin),
            )
            .await;
        assert_invalid(&beyond, "min_position");
    }

    // The head itself and 0 are fine (0 waits for nothing, so it goes second).
    for min in [head, 0] {
        let vendor = app
            .get(&format!("/v1/vendors/{vendor_id}?min_position={min}"), None)
            .await;
        assert_ok(&vendor);
        let listings = app
            .get(&format!("/v1/listings?min_position={min}"), Some(&admin))
            .await;
        assert_ok(&listings);
        let orders = app
            .get(&format!("/v1/orders?min_position={min}"), Some(&admin))
            .await;
        assert_ok(&orders);
    }

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 3. The vendor directory

#[tokio::test]
async fn the_vendor_directory_filters_pages_and_counts_published_listings() {
    let app = TestApp::spawn().await;
    let admin = app.admin();

    // 7 approved (2 in 3201, 2 in 3216, 3 in 3205), 2 applied, 1 rejected, 1 suspended.
    let mut approved = BTreeSet::new();
    let mut approved_near = BTreeSet::new(); // approved in 3216 or 3201
    for (i, district) in ["3201", "3201", "3216", "3216", "3205", "3205", "3205"]
        .iter()
        .enumerate()
    {
        let (id, _) = approved_vendor_in(&app, &format!("ร้านอนุมัติ {i}"), district).await;
        approved.insert(id);
        if *district != "3205" {
            approved_near.insert(id);
        }
    }
    let mut applied = BTreeSet::new();
    for (i, district) in ["3201", "3216"].iter().enumerate() {
        applied.insert(id_of(
            &apply_vendor(&app, &format!("ร้านรอพิจารณา {i}"), district).await,
        ));
    }
    let rejected = id_of(&apply_vendor(&app, "ร้านไม่ผ่าน", "3216").await);
    admin_post(
        &app,
        &format!("/v1/vendors/{rejected}/reject"),
        json!({"reason": "เอกสารไม่ครบ"}),
    )
    .await;
    let (suspended, _) = approved_vendor_in(&app, "ร้านถูกระงับ", "3201").await;
    let last = admin_post(
        &app,
        &format!("/v1/vendors/{suspended}/suspend"),
        json!({"reason": "ร้องเรียน"}),
    )
    .await
    .position();

    // Public: approved only, private fields hidden.
    let public = app
        .get(
            &format!("/v1/vendors?per_page=100&min_position={last}"),
            None,
        )
        .await;
    assert_ok(&public);
    assert_eq!(public.body["total"], 7, "{public:?}");
    assert_eq!(id_set(&public), approved);
    for item in public.body["items"].as_array().expect("items") {
        assert_eq!(item["status"], "approved");
        assert!(item.get("payout_promptpay").is_none(), "private: {item}");
    }
    // Explicitly asking for approved is allowed to everyone.
    let public_approved = app
        .get(
            "/v1/vendors?status=approved&per_page=100",
            Some(&app.shopper("s")),
        )
        .await;
    assert_ok(&public_approved);
    assert_eq!(id_set(&public_approved), approved);

    // District filter.
    let near = app.get("/v1/vendors?district=3216,3201", None).await;
    assert_ok(&near);
    assert_eq!(near.body["total"], 4, "{near:?}");
    assert_eq!(id_set(&near), approved_near);
    for item in near.body["items"].as_array().expect("items") {
        assert!(
            item["district_code"] == "3216" || item["district_code"] == "3201",
            "{item}"
        );
    }
    let one = app.get("/v1/vendors?district=3205", None).await;
    assert_eq!(one.body["total"], 3, "{one:?}");
    // Admins see every status in those districts: 4 approved, 2 applied, rejected, suspended.
    let near_admin = app
        .get("/v1/vendors?district=3216,3201&per_page=100", Some(&admin))
        .await;
    assert_ok(&near_admin);
    assert_eq!(near_admin.body["total"], 8, "{near_admin:?}");
    assert!(near_admin.body["items"][0]
        .get("payout_promptpay")
        .is_some());
    for bad in ["9999", "3216,abc", "32"] {
        assert_invalid(
            &app.get(&format!("/v1/vendors?district={bad}"), None).await,
            "district",
        );
    }

    // Status filter: admins only, except approved.
    app.get("/v1/vendors?status=applied", None)
        .await
        .assert_problem(403);
    app.get("/v1/vendors?status=applied", Some(&app.shopper("s")))
        .await
        .assert_problem(403);
    app.get(
        "/v1/vendors?status=suspended",
        Some(&app.vendor(*approved.first().expect("vendor"))),
    )
    .await
    .assert_problem(403);
    let applied_page = app.get("/v1/vendors?status=applied", Some(&admin)).await;
    assert_ok(&applied_page);
    assert_eq!(applied_page.body["total"], 2);
    assert_eq!(id_set(&applied_page), applied);
    let suspended_page = app.get("/v1/vendors?status=suspended", Some(&admin)).await;
    assert_eq!(id_set(&suspended_page), BTreeSet::from([suspended]));
    let rejected_page = app.get("/v1/vendors?status=rejected", Some(&admin)).await;
    assert_eq!(id_set(&rejected_page), BTreeSet::from([rejected]));
    let everyone = app.get("/v1/vendors?per_page=100", Some(&admin)).await;
    assert_eq!(everyone.body["total"], 11, "{everyone:?}");
    assert_invalid(
        &app.get("/v1/vendors?status=bogus", Some(&admin)).await,
        "status",
    );

    // Paging: 7 approved in pages of 3.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = app
            .get(&format!("/v1/vendors?page={page}&per_page=3"), None)
            .await;
        assert_ok(&reply);
        assert_eq!(reply.body["total"], 7, "{reply:?}");
        assert_eq!(reply.body["page"], page);
        assert_eq!(reply.body["per_page"], 3);
        let ids = item_ids(&reply);
        assert_eq!(ids.len(), if page < 3 { 3 } else { 1 }, "{reply:?}");
        seen.extend(ids);
    }
    let distinct: BTreeSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "pages overlap: {seen:?}");
    assert_eq!(distinct, approved, "pages cover every approved vendor");
    let past_the_end = app.get("/v1/vendors?page=4&per_page=3", None).await;
    assert_ok(&past_the_end);
    assert!(item_ids(&past_the_end).is_empty(), "{past_the_end:?}");
    assert_eq!(
        past_the_end.body["total"], 7,
        "total counts every page: {past_the_end:?}"
    );
    let again = app.get("/v1/vendors?page=1&per_page=3", None).await;
    assert_eq!(item_ids(&again), seen[..3].to_vec(), "paging is stable");
    let default_page = app.get("/v1/vendors", None).await;
    assert_eq!(default_page.body["per_page"], 20);
    assert_eq!(default_page.body["page"], 1);
    for bad in ["per_page=0", "per_page=101", "page=0", "per_page=-5"] {
        let field = bad.split('=').next().expect("field");
        assert_invalid(&app.get(&format!("/v1/vendors?{bad}"), None).await, field);
    }

    // published_listings follows publish and unpublish (drafts do not count).
    let seller = *approved.first().expect("vendor");
    let mut listings = Vec::new();
    for _ in 0..3 {
        listings.push(app.draft_listing(seller, 4).await);
    }
    publish(&app, seller, listings[0]).await;
    let second = publish(&app, seller, listings[1]).await.position();
    let count_of = |reply: &Reply| reply.body["published_listings"].clone();
    let after_publish = app
        .get(&format!("/v1/vendors/{seller}?min_position={second}"), None)
        .await;
    assert_ok(&after_publish);
    assert_eq!(count_of(&after_publish), 2, "{after_publish:?}");
    let unpublished = unpublish(&app, seller, listings[0]).await.position();
    let after_unpublish = app
        .get(
            &format!("/v1/vendors/{seller}?min_position={unpublished}"),
            None,
        )
        .await;
    assert_eq!(count_of(&after_unpublish), 1, "{after_unpublish:?}");
    let listed = app
        .get(
            &format!("/v1/vendors?per_page=100&min_position={unpublished}"),
            None,
        )
        .await;
    let in_list = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|v| v["id"] == seller.to_string())
        .expect("the seller is listed")
        .clone();
    assert_eq!(in_list["published_listings"], 1);
    let others_zero = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|v| v["id"] != seller.to_string())
        .all(|v| v["published_listings"] == 0);
    assert!(others_zero, "{listed:?}");

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 4. The listing catalog

#[tokio::test]
async fn the_listing_catalog_shows_published_listings_of_approved_vendors() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let (north, _) = approved_vendor_in(&app, "กลุ่มจักสานท่าตูม", "3216").await;
    let (south, _) = approved_vendor_in(&app, "กลุ่มผ้าไหมเมือง", "3201").await;
    let north_token = app.vendor(north);
    let south_token = app.vendor(south);

    let mut north_published = BTreeSet::new();
    for _ in 0..5 {
        let listing = app.draft_listing(north, 2).await;
        publish(&app, north, listing).await;
        north_published.insert(listing);
    }
    let north_draft = app.draft_listing(north, 2).await;
    let mut south_published = BTreeSet::new();
    let mut last = 0;
    for _ in 0..2 {
        let listing = app.draft_listing(south, 2).await;
        last = publish(&app, south, listing).await.position();
        south_published.insert(listing);
    }

    let all_public = app
        .get(
            &format!("/v1/listings?per_page=100&min_position={last}"),
            None,
        )
        .await;
    assert_ok(&all_public);
    assert_eq!(all_public.body["total"], 7, "{all_public:?}");
    let expected: BTreeSet<Uuid> = north_published.union(&south_published).copied().collect();
    assert_eq!(id_set(&all_public), expected, "drafts are not public");
    for item in all_public.body["items"].as_array().expect("items") {
        assert_eq!(item["status"], "published");
        let (district, name) = if item["vendor_id"] == north.to_string() {
            ("3216", "กลุ่มจักสานท่าตูม")
        } else {
            ("3201", "กลุ่มผ้าไหมเมือง")
        };
        assert_eq!(
            item["district_code"], district,
            "copied from the vendor: {item}"
        );
        assert_eq!(item["vendor_name_th"], name, "{item}");
        assert!(item["created_at"].is_string() && item["published_at"].is_string());
    }

    // A vendor's drafts: the owner and admins may ask, nobody else.
    let draft_path = format!("/v1/listings?vendor={north}&status=draft");
    for token in [&north_token, &admin] {
        let drafts = app.get(&draft_path, Some(token)).await;
        assert_ok(&drafts);
        assert_eq!(item_ids(&drafts), vec![north_draft], "{drafts:?}");
        assert_eq!(drafts.body["total"], 1);
    }
    app.get(&draft_path, None).await.assert_problem(403);
    app.get(&draft_path, Some(&south_token))
        .await
        .assert_problem(403);
    app.get(&draft_path, Some(&app.shopper("s")))
        .await
        .assert_problem(403);
    app.get("/v1/listings?status=draft", Some(&north_token))
        .await
        .assert_problem(403);
    let own_all = app
        .get(&format!("/v1/listings?vendor={north}"), Some(&north_token))
        .await;
    assert_eq!(own_all.body["total"], 6, "the owner sees its draft too");
    let public_north = app.get(&format!("/v1/listings?vendor={north}"), None).await;
    assert_eq!(id_set(&public_north), north_published);
    assert_invalid(
        &app.get("/v1/listings?status=bogus", Some(&admin)).await,
        "status",
    );

    // Paging over the north vendor's 5 published listings, 2 a page.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = app
            .get(
                &format!("/v1/listings?vendor={north}&page={page}&per_page=2"),
                None,
            )
            .await;
        assert_ok(&reply);
        assert_eq!(reply.body["total"], 5, "{reply:?}");
        let ids = item_ids(&reply);
        assert_eq!(ids.len(), if page < 3 { 2 } else { 1 }, "{reply:?}");
        let again = app
            .get(
                &format!("/v1/listings?vendor={north}&page={page}&per_page=2"),
                None,
            )
            .await;
        assert_eq!(item_ids(&again), ids, "paging is stable");
        seen.extend(ids);
    }
    let distinct: BTreeSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "pages overlap: {seen:?}");
    assert_eq!(distinct, north_published);
    let past_the_end = app
        .get(
            &format!("/v1/listings?vendor={north}&page=4&per_page=2"),
            None,
        )
        .await;
    assert_ok(&past_the_end);
    assert!(item_ids(&past_the_end).is_empty(), "{past_the_end:?}");
    assert_eq!(
        past_the_end.body["total"], 5,
        "total counts every page: {past_the_end:?}"
    );
    for bad in ["per_page=0", "per_page=101", "page=0"] {
        let field = bad.split('=').next().expect("field");
        assert_invalid(&app.get(&format!("/v1/listings?{bad}"), None).await, field);
    }

    // A vendor's district change reaches its listings.
    let moved = command(
        &app,
        Method::PATCH,
        &format!("/v1/vendors/{north}"),
        &north_token,
        Some(json!({"district_code": "3205"})),
    )
    .await;
    assert_ok(&moved);
    let after_move = app
        .get(
            &format!(
                "/v1/listings?vendor={north}&per_page=100&min_position={}",
                moved.position()
            ),
            Some(&north_token),
        )
        .await;
    assert_eq!(after_move.body["total"], 6);
    for item in after_move.body["items"].as_array().expect("items") {
        assert_eq!(item["district_code"], "3205", "{item}");
    }

    // Suspending the south vendor hides its published listings from the public, not from it.
    let suspended = admin_post(
        &app,
        &format!("/v1/vendors/{south}/suspend"),
        json!({"reason": "ตรวจสอบคุณภาพ"}),
    )
    .await
    .position();
    let public_after = app
        .get(
            &format!("/v1/listings?per_page=100&min_position={suspended}"),
            None,
        )
        .await;
    assert_ok(&public_after);
    assert_eq!(public_after.body["total"], 5, "{public_after:?}");
    assert_eq!(id_set(&public_after), north_published);
    let public_south = app.get(&format!("/v1/listings?vendor={south}"), None).await;
    assert_eq!(public_south.body["total"], 0, "{public_south:?}");
    let one_south = *south_published.first().expect("listing");
    app.get(&format!("/v1/listings/{one_south}"), None)
        .await
        .assert_problem(404);
    let own_south = app
        .get(&format!("/v1/listings?vendor={south}"), Some(&south_token))
        .await;
    assert_ok(&own_south);
    assert_eq!(id_set(&own_south), south_published);
    for item in own_south.body["items"].as_array().expect("items") {
        assert_eq!(
            item["status"], "published",
            "the listing itself is unchanged"
        );
    }
    let own_one = app
        .get(&format!("/v1/listings/{one_south}"), Some(&south_token))
        .await;
    assert_ok(&own_one);
    assert_eq!(own_one.body["district_code"], "3201");

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Orders

#[tokio::test]
async fn orders_are_read_by_their_shopper_their_vendor_and_admins() {
    // These orders name listings that do not exist; the checkout process manager would
    // reject them, so it does not run here: the test moves the orders itself.
    let app = TestApp::spawn_with(|config| config.run_checkout_process = false).await;
    let store = AggregateStore::<Order>::new(app.pool.clone());
    let vendor_a = Uuid::now_v7();
    let vendor_b = Uuid::now_v7();
    let listing = Uuid::now_v7();

    let (alice_1, _) = place_order(&store, "alice", vendor_a, listing, 2, 35_000).await;
    let (alice_2, _) = place_order(&store, "alice", vendor_b, listing, 1, 12_500).await;
    let (bob_1, last) = place_order(&store, "bob", vendor_a, listing, 3, 40_000).await;

    let alice = app.shopper("alice");
    let bob = app.shopper("bob");
    let admin = app.admin();
    let list = |min: i64| format!("/v1/orders?min_position={min}");

    let alice_list = app.get(&list(last), Some(&alice)).await;
    assert_ok(&alice_list);
    assert_eq!(alice_list.body["total"], 2, "{alice_list:?}");
    assert_eq!(id_set(&alice_list), BTreeSet::from([alice_1, alice_2]));
    let bob_list = app.get(&list(last), Some(&bob)).await;
    assert_eq!(id_set(&bob_list), BTreeSet::from([bob_1]));
    assert_eq!(bob_list.body["total"], 1);
    let nobody = app.get(&list(last), Some(&app.shopper("carol"))).await;
    assert_ok(&nobody);
    assert_eq!(nobody.body["total"], 0);
    let a_list = app.get(&list(last), Some(&app.vendor(vendor_a))).await;
    assert_eq!(id_set(&a_list), BTreeSet::from([alice_1, bob_1]));
    assert_eq!(a_list.body["total"], 2);
    let b_list = app.get(&list(last), Some(&app.vendor(vendor_b))).await;
    assert_eq!(id_set(&b_list), BTreeSet::from([alice_2]));
    let all = app.get(&list(last), Some(&admin)).await;
    assert_eq!(all.body["total"], 3);
    assert_eq!(id_set(&all), BTreeSet::from([alice_1, alice_2, bob_1]));
    let paged = app.get("/v1/orders?per_page=2&page=2", Some(&admin)).await;
    assert_eq!(paged.body["total"], 3);
    assert_eq!(item_ids(&paged).len(), 1);

    // One order: its shopper, its vendor and admins; anyone else as if it did not exist.
    let one = format!("/v1/orders/{alice_1}");
    for token in [&alice, &app.vendor(vendor_a), &admin] {
        let reply = app.get(&one, Some(token)).await;
        assert_ok(&reply);
        assert_eq!(reply.body["id"], alice_1.to_string());
        assert_eq!(reply.body["shopper_id"], "alice");
    }
    app.get(&one, Some(&bob)).await.assert_problem(404);
    app.get(&one, Some(&app.vendor(vendor_b)))
        .await
        .assert_problem(404);
    app.get(&format!("/v1/orders/{}", Uuid::now_v7()), Some(&admin))
        .await
        .assert_problem(404);
    let auditor = app.token(&Actor::new("auditor-1", Role::Auditor));
    app.get(&one, Some(&auditor)).await.assert_problem(403);
    app.get("/v1/orders", Some(&auditor))
        .await
        .assert_problem(403);
    app.get(&one, None).await.assert_problem(401);
    app.get("/v1/orders", None).await.assert_problem(401);
    assert_invalid(
        &app.get("/v1/orders?status=bogus", Some(&admin)).await,
        "status",
    );

    // The steps: confirm and pay as the platform, and each gets its time.
    let pending = app.get(&one, Some(&alice)).await;
    assert_eq!(pending.body["status"], "pending");
    assert!(pending.body["confirmed_at"].is_null() && pending.body["paid_at"].is_null());
    let system = Actor::system();
    store
        .execute(
            &alice_1.to_string(),
            OrderCommand::Confirm {
                actor: system.clone(),
            },
            &order_metadata(&system),
        )
        .await
        .expect("confirm");
    let paid = store
        .execute(
            &alice_1.to_string(),
            OrderCommand::RecordPayment {
                commission_bps: 0,
                actor: system.clone(),
                amount: satang(70_000),
                reference: "promptpay-0001".into(),
            },
            &order_metadata(&system),
        )
        .await
        .expect("record the payment");
    let after = app
        .get(
            &format!("/v1/orders/{alice_1}?min_position={}", paid.position),
            Some(&alice),
        )
        .await;
    assert_ok(&after);
    assert_eq!(after.body["status"], "paid", "{after:?}");
    assert_eq!(after.body["total_satang"], 70_000);
    assert_eq!(after.body["paid_satang"], 70_000);
    assert_eq!(after.body["vendor_id"], vendor_a.to_string());
    assert_eq!(after.body["lines"][0]["unit_price_satang"], 35_000);
    assert_eq!(after.body["lines"][0]["quantity"], 2);
    assert_eq!(after.body["lines"][0]["listing_id"], listing.to_string());
    let time = |field: &str| {
        after.body[field]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("{field} is not set: {after:?}"))
    };
    let (placed, confirmed, paid_at) = (time("placed_at"), time("confirmed_at"), time("paid_at"));
    assert!(placed <= confirmed && confirmed <= paid_at, "{after:?}");
    assert!(after.body["shipped_at"].is_null() && after.body["cancelled_at"].is_null());

    let paid_only = app.get("/v1/orders?status=paid", Some(&admin)).await;
    assert_ok(&paid_only);
    assert_eq!(id_set(&paid_only), BTreeSet::from([alice_1]));
    let pending_alice = app.get("/v1/orders?status=pending", Some(&alice)).await;
    assert_eq!(id_set(&pending_alice), BTreeSet::from([alice_2]));

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 6. /readyz and /metrics

#[tokio::test]
async fn readyz_and_metrics_report_every_projection() {
    let app = TestApp::spawn().await;
    let vendor_id = app.approved_vendor("กลุ่มพร้อมให้บริการ").await;
    let listing = app.draft_listing(vendor_id, 2).await;
    publish(&app, vendor_id, listing).await;
    let store = AggregateStore::<Order>::new(app.pool.clone());
    place_order(&store, "dara", vendor_id, listing, 1, 350_000).await;
    // The checkout process manager reserves and confirms the order; let it settle first.
    poll_readyz(&app, "the checkout process settles", |r| {
        caught_up(r) && projection(r, "checkout")["lag"] == 0
    })
    .await;
    let head = log_head(&app).await;

    let ready = poll_readyz(&app, "both projections catch up", |r| {
        caught_up(r) && r.body["log_head"] == head
    })
    .await;
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["database"], "ok");
    let names: BTreeSet<&str> = ready.body["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["catalog", "checkout", "ledger", "orders", "sales", "search"])
    );
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count events");
    for name in ["catalog", "orders"] {
        let p = projection(&ready, name);
        assert_eq!(p["lag"], 0, "{p}");
        assert_eq!(p["position"], head, "{p}");
        assert_eq!(p["events_applied"], events, "each reads the whole log: {p}");
        assert!(p.get("failed_position").is_none() && p.get("last_error").is_none());
    }

    let (status, content_type, text) = metrics_text(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for line in [
        "otop_projection_lag_events{projection=\"catalog\"} 0".to_string(),
        "otop_projection_lag_events{projection=\"orders\"} 0".to_string(),
        format!("otop_projection_position{{projection=\"catalog\"}} {head}"),
        "otop_projection_failed{projection=\"catalog\"} 0".to_string(),
        format!("otop_log_head_position {head}"),
        "otop_database_up 1".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "/metrics lacks {line:?}:\n{text}"
        );
    }
    assert!(text.contains("# TYPE otop_projection_lag_events gauge"));

    app.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 7. A projection that meets an event it cannot apply

#[tokio::test]
async fn a_projection_stops_on_an_event_it_cannot_apply_and_readyz_shows_it() {
    let app = TestApp::spawn().await;
    let vendor_id = app.approved_vendor("กลุ่มเหตุการณ์เสีย").await;
    let owner = app.vendor(vendor_id);
    let listing = app.draft_listing(vendor_id, 2).await;
    let head = log_head(&app).await;
    poll_readyz(&app, "catch up before the bad event", |r| {
        caught_up(r) && r.body["log_head"] == head
    })
    .await;

    let bad_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         VALUES ('Listing', $1, 1, 'ListingCreated', '1', '{\"NotAnEvent\": 1}', '{}')
         RETURNING position",
    )
    .bind(Uuid::new_v4().to_string())
    .fetch_one(&app.pool)
    .await
    .expect("insert the bad event");

    let failed = poll_readyz(&app, "the catalog projection reports the bad event", |r| {
        r.status == StatusCode::SERVICE_UNAVAILABLE
            && projection(r, "catalog")["failed_position"] == bad_position
    })
    .await;
    assert_eq!(failed.body["status"], "projection failed");
    let catalog = projection(&failed, "catalog");
    assert!(
        catalog["last_error"]
            .as_str()
            .is_some_and(|e| !e.trim().is_empty()),
        "{catalog}"
    );
    assert!(
        catalog["position"].as_i64().expect("position") < bad_position,
        "the checkpoint stays before the bad event: {catalog}"
    );

    // Valid events after it: the orders projection passes them (it ignores listings), the
    // catalog does not apply them.
    let later_listing = app.draft_listing(vendor_id, 7).await;
    let repriced = set_price(&app, listing, &owner, 123_400).await;
    assert_ok(&repriced);
    let later = repriced.position();
    assert!(later > bad_position);
    let passed = poll_readyz(&app, "the orders projection passes the bad event", |r| {
        projection(r, "orders")["position"]
            .as_i64()
            .is_some_and(|p| p >= later)
    })
    .await;
    let orders = projection(&passed, "orders");
    assert_eq!(orders["lag"], 0, "{orders}");
    assert!(
        orders.get("failed_position").is_none() && orders.get("last_error").is_none(),
        "{orders}"
    );
    assert_eq!(
        passed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "still not ready: {passed:?}"
    );
    let catalog = projection(&passed, "catalog");
    assert!(
        catalog["position"].as_i64().expect("position") < bad_position,
        "the catalog applied nothing past the bad event: {catalog}"
    );
    assert_eq!(catalog["failed_position"], bad_position);
    assert!(
        catalog["lag"].as_i64().expect("lag") >= 3,
        "the bad event and the later ones are behind: {catalog}"
    );

    // The read model does not have the later writes, and a query waiting for them gives up.
    app.get(&format!("/v1/listings/{later_listing}"), Some(&owner))
        .await
        .assert_problem(404);
    let old = app
        .get(&format!("/v1/listings/{listing}"), Some(&owner))
        .await;
    assert_ok(&old);
    assert_eq!(
        old.body["price_satang"], 350_000,
        "the new price is not applied"
    );
    let waited = app
        .get(
            &format!("/v1/listings/{listing}?min_position={later}"),
            Some(&owner),
        )
        .await;
    waited.assert_problem(503);
    assert!(waited.headers.get(reqwest::header::RETRY_AFTER).is_some());
    // The orders read model is unaffected.
    assert_ok(
        &app.get(
            &format!("/v1/orders?min_position={later}"),
            Some(&app.admin()),
        )
        .await,
    );

    let (_, _, text) = metrics_text(&app).await;
    assert!(
        text.lines()
            .any(|l| l == "otop_projection_failed{projection=\"catalog\"} 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "otop_projection_failed{projection=\"orders\"} 0"),
        "{text}"
    );

    app.cleanup().await;
}

/// API replies are compressed for clients that ask, and only for them.
#[tokio::test]
async fn api_replies_are_compressed_for_clients_that_ask() {
    let app = TestApp::spawn().await;
    for name in ["กลุ่มทอผ้าไหมบ้านสวาย", "กลุ่มเครื่องเงินบ้านโชค", "กลุ่มจักสานบ้านบุทม"]
    {
        app.approved_vendor(name).await;
    }
    let head = log_head(&app).await;
    let url = format!(
        "{}/v1/vendors?per_page=50&min_position={head}",
        app.base_url
    );
    let plain = app.client.get(&url).send().await.expect("plain reply");
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_body = plain.bytes().await.expect("plain body");
    let compressed = app
        .client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("compressed reply");
    assert_eq!(compressed.status(), StatusCode::OK);
    assert_eq!(
        compressed
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let compressed_body = compressed.bytes().await.expect("compressed body");
    assert_eq!(&compressed_body[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        compressed_body.len() < plain_body.len(),
        "{} bytes compressed against {} plain",
        compressed_body.len(),
        plain_body.len()
    );
    app.cleanup().await;
}

/// The value of the sample `name` whose labels include every one of `labels` (`key="value"`).
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let Some(rest) = series.strip_prefix(name) else {
                return false;
            };
            (rest.is_empty() || rest.starts_with('{'))
                && labels.iter().all(|label| rest.contains(label))
        })
        .and_then(|(_, value)| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_every_route_by_status_with_durations() {
    let app = TestApp::spawn().await;
    let vendor_id = app.approved_vendor("กลุ่มนับคำขอ").await;
    let head = log_head(&app).await;
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base_url);
        async move { client.get(url).send().await.expect("a reply").status() }
    };
    for _ in 0..3 {
        let status = get(format!("/v1/vendors/{vendor_id}?min_position={head}")).await;
        assert_eq!(status, StatusCode::OK);
    }
    for _ in 0..2 {
        let status = get(format!("/v1/vendors/{}", uuid::Uuid::now_v7())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let malformed = get(format!("/v1/vendors/{vendor_id}?min_position=soon")).await;
    assert_eq!(malformed, StatusCode::UNPROCESSABLE_ENTITY);
    // Paths no route knows are counted together, never one series per path asked for.
    for path in ["/v1/no-such-thing", "/v1/nor-this", "/no-page-here"] {
        assert_eq!(get(path.into()).await, StatusCode::NOT_FOUND);
    }
    assert_eq!(get("/".into()).await, StatusCode::OK);

    let (status, _, text) = metrics_text(&app).await;
    assert_eq!(status, StatusCode::OK);
    let route = "route=\"/v1/vendors/{id}\"";
    let requests = |status: &str| {
        sample(
            &text,
            "otop_http_requests_total",
            &["method=\"GET\"", route, &format!("status=\"{status}\"")],
        )
    };
    assert_eq!(requests("200"), Some(3.0), "{text}");
    assert_eq!(requests("404"), Some(2.0), "{text}");
    assert_eq!(requests("422"), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "otop_http_requests_total",
            &["route=\"unmatched\"", "status=\"404\""]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "otop_http_requests_total",
            &["route=\"/\"", "status=\"200\""]
        ),
        Some(1.0),
        "the pages are counted too: {text}"
    );
    assert!(
        !text.contains("no-such-thing"),
        "a path asked for is never a label"
    );
    assert_eq!(
        sample(
            &text,
            "otop_http_request_duration_seconds_count",
            &["method=\"GET\"", route]
        ),
        Some(6.0),
        "{text}"
    );
    let seconds = sample(
        &text,
        "otop_http_request_duration_seconds_sum",
        &["method=\"GET\"", route],
    )
    .expect("a duration sum");
    assert!(seconds > 0.0, "six requests took some time: {seconds}");
    assert_eq!(
        sample(
            &text,
            "otop_http_request_duration_seconds_bucket",
            &["method=\"GET\"", route, "le=\"+Inf\""]
        ),
        Some(6.0),
        "{text}"
    );
    assert!(text.contains("# TYPE otop_http_requests_total counter"));
    assert!(text.contains("# TYPE otop_http_request_duration_seconds histogram"));
    // The scrape answering now is the one request in flight.
    assert_eq!(
        sample(&text, "otop_http_requests_in_flight", &[]),
        Some(1.0)
    );
    // The projection gauges are still there, beside the HTTP series.
    assert!(text.contains("# TYPE otop_projection_lag_events gauge"));

    app.cleanup().await;
}

#[tokio::test]
async fn static_files_carry_cache_headers_and_api_replies_do_not() {
    let app = TestApp::spawn().await;
    let css = app
        .client
        .get(format!("{}/docs/swagger-ui.css", app.base_url))
        .send()
        .await
        .expect("the docs' stylesheet");
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some(otop_api::server::DOCS_CACHE_CONTROL),
        "a static file is kept by browsers and proxies"
    );
    assert!(css.text().await.expect("css").contains('{'));
    // Generated replies are not: the OpenAPI document and every API reply are asked again.
    for path in ["/openapi.json", "/v1/vendors", "/healthz"] {
        let reply = app
            .client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("a reply");
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
        let cache = reply
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            !cache.contains("public"),
            "{path} is not cached publicly: {cache:?}"
        );
    }
    app.cleanup().await;
}
