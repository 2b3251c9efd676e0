//! Sales analytics reconcile with the log: a few hundred random orders go through the API
//! (multi-vendor checkouts, payments through the provider's signed callback, cancellations
//! before and after payment, partial and full refunds), then every grouping of
//! `GET /v1/analytics/sales` (and a few filters, and the top listings) is compared, row by
//! row and in its totals, with sums computed here straight from the `events` table's
//! payloads. Also: every parameter is validated (422 naming the field), and only analysts
//! and admins may read (403 for the others, 401 without a token).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use otop_domain::{Actor, Role};
use otop_e2e::{Reply, TestApp};
use otop_projections::rebuild::{rebuild, table_digest};
use otop_projections::ProjectionKind;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const DISTRICTS: [&str; 4] = ["3201", "3202", "3203", "3216"];
/// Each vendor's three products: (category, sub-type, price in satang).
const PRODUCTS: [[(&str, &str, i64); 3]; 4] = [
    [
        ("TEXTILE", "TEX_SILK_MUDMEE", 350_000),
        ("TEXTILE", "TEX_SCARF", 12_345),
        ("CRAFT", "CRF_WOOD", 99_999),
    ],
    [
        ("FOOD", "FOOD_SNACK", 3_333),
        ("FOOD", "FOOD_CHILI", 8_888),
        ("BEV", "BEV_TEA", 4_701),
    ],
    [
        ("HERBAL", "HERB_SOAP", 7_777),
        ("HERBAL", "HERB_BALM", 15_001),
        ("CRAFT", "CRF_SILVER_PRAKUEM", 250_003),
    ],
    [
        ("TEXTILE", "TEX_COTTON", 45_999),
        ("CRAFT", "CRF_BASKETRY", 29_990),
        ("FOOD", "FOOD_RICE_HOMMALI", 22_001),
    ],
];
const CHECKOUTS: usize = 240;
const CONCURRENCY: usize = 12;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn analyst(app: &TestApp) -> String {
    app.token(&Actor::new("analyst-1", Role::Analyst))
}

async fn vendor_in(app: &TestApp, district: &str, index: usize) -> Uuid {
    app.approved_vendor_in(&format!("กลุ่มวิสาหกิจชุมชน {index}"), district)
        .await
}

async fn listing_of(app: &TestApp, vendor: Uuid, product: (&str, &str, i64)) -> Uuid {
    let (category, subtype, price) = product;
    let reply = app
        .post(
            "/v1/listings",
            &app.vendor(vendor),
            json!({
                "title_th": format!("สินค้า {subtype}"),
                "title_en": format!("Product {subtype}"),
                "category_code": category,
                "subtype_code": subtype,
                "price_satang": price,
                "stock": 100_000,
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id: Uuid = reply.body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("listing id");
    let published = app
        .post(
            &format!("/v1/listings/{id}/publish"),
            &app.vendor(vendor),
            Value::Null,
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{published:?}");
    id
}

#[track_caller]
fn assert_ok(reply: &Reply, what: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {reply:?}");
}

/// Pays an order, waiting for its stock to be confirmed first if need be.
async fn pay(app: &TestApp, order: &str, total: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = app.pay(order, total, &format!("pp-{order}")).await;
        if reply.status == StatusCode::OK {
            return;
        }
        assert!(
            reply.status == StatusCode::CONFLICT && Instant::now() < deadline,
            "pay {order}: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn refund(app: &TestApp, order: &str, vendor: Uuid, amount: i64) {
    let reply = app
        .post(
            &format!("/v1/orders/{order}/refund"),
            &app.vendor(vendor),
            json!({"amount_satang": amount, "reason": "part of it was damaged"}),
        )
        .await;
    assert_ok(&reply, "refund");
}

/// One checkout and what then happens to each of its orders.
async fn drive_checkout(app: &TestApp, index: usize, listings: &[(Uuid, Uuid, i64)]) {
    let mut rng = Rng::new(index as u64 + 1);
    let shopper = format!("shopper-{}", index % 20);
    let mut chosen = BTreeSet::new();
    let wanted = 1 + rng.below(4) as usize;
    while chosen.len() < wanted {
        chosen.insert(rng.below(listings.len() as u64) as usize);
    }
    let lines: Vec<Value> = chosen
        .iter()
        .map(|&i| json!({"listing_id": listings[i].0, "quantity": 1 + rng.below(3)}))
        .collect();
    let reply = app
        .post(
            "/v1/checkouts",
            &app.shopper(&shopper),
            json!({
                "lines": lines,
                "shipping_address": {
                    "name": "สมหญิง ใจดี", "phone": "081-234-5678", "line1": "99 หมู่ 4",
                    "province": "สุรินทร์", "postcode": "32000",
                },
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    for order in reply.body["orders"].as_array().expect("orders") {
        let id = order["id"].as_str().expect("order id").to_string();
        let total = order["total_satang"].as_i64().expect("total");
        let vendor: Uuid = order["vendor_id"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("vendor id");
        let fate = rng.below(100);
        if fate < 12 {
            if fate < 4 {
                // Cancelled before payment: nothing to count.
                let cancelled = app
                    .post(
                        &format!("/v1/orders/{id}/cancel"),
                        &app.shopper(&shopper),
                        json!({"reason": "changed my mind"}),
                    )
                    .await;
                assert_ok(&cancelled, "cancel unpaid");
            }
            continue;
        }
        pay(app, &id, total).await;
        match fate {
            12..=29 => {
                let cancelled = app
                    .post(
                        &format!("/v1/orders/{id}/cancel"),
                        &app.shopper(&shopper),
                        json!({"reason": "ordered twice"}),
                    )
                    .await;
                assert_ok(&cancelled, "cancel after payment");
            }
            30..=54 => {
                let mut refunded = 0;
                for _ in 0..=rng.below(2) {
                    let left = total - refunded;
                    if left <= 1 {
                        break;
                    }
                    let amount = 1 + rng.below(left as u64 - 1) as i64;
                    refund(app, &id, vendor, amount).await;
                    refunded += amount;
                }
            }
            55..=64 => {
                for step in ["accept", "pack", "ship", "deliver"] {
                    let body = if step == "ship" {
                        json!({"carrier": "Kerry", "tracking_number": format!("KE{index}")})
                    } else {
                        Value::Null
                    };
                    let moved = app
                        .post(
                            &format!("/v1/orders/{id}/{step}"),
                            &app.vendor(vendor),
                            body,
                        )
                        .await;
                    assert_ok(&moved, step);
                }
                let full = app
                    .post(
                        &format!("/v1/orders/{id}/refund"),
                        &app.admin(),
                        json!({"amount_satang": total, "reason": "returned in full"}),
                    )
                    .await;
                assert_ok(&full, "full refund");
            }
            65..=71 => {
                if total > 1 {
                    refund(app, &id, vendor, 1 + rng.below(total as u64 - 1) as i64).await;
                }
                let cancelled = app
                    .post(
                        &format!("/v1/orders/{id}/cancel"),
                        &app.admin(),
                        json!({"reason": "out of stock after all"}),
                    )
                    .await;
                assert_ok(&cancelled, "cancel after a refund");
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The independent computation, straight from the events table.

/// One line's share of one money event.
#[derive(Debug, Clone)]
struct Contribution {
    day: NaiveDate,
    order: Uuid,
    district: String,
    category: String,
    subtype: String,
    vendor: Uuid,
    listing: Uuid,
    /// +1 when the order is counted (payment), -1 when taken back (cancelled after payment).
    count: i64,
    units: i64,
    gross: i64,
    refunds: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    orders: i64,
    units: i64,
    gross: i64,
    refunds: i64,
    net: i64,
}

/// Proportional shares in whole satang, the largest remainders first (ties: earlier line):
/// written here again from the documented rule.
fn shares(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    assert!(
        total > 0 && i128::from(amount) <= total,
        "{amount} over {weights:?}"
    );
    let exact: Vec<i128> = weights
        .iter()
        .map(|&w| i128::from(amount) * i128::from(w))
        .collect();
    let mut out: Vec<i64> = exact.iter().map(|e| (e / total) as i64).collect();
    let mut left = amount - out.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(exact[i] % total), i));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

fn bangkok_day(metadata_time: &str) -> NaiveDate {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(metadata_time)
        .expect("recorded_at")
        .with_timezone(&Utc);
    (at + chrono::Duration::hours(7)).date_naive()
}

fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a uuid: {value}"))
}

async fn contributions_from_the_log(app: &TestApp) -> Vec<Contribution> {
    let rows: Vec<(String, String, String, Value, Option<String>)> = sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, event_type, payload::jsonb, metadata->>'recorded_at'
           FROM events WHERE aggregate_type IN ('Vendor', 'Listing', 'Order')
          ORDER BY transaction_id, position",
    )
    .fetch_all(&app.pool)
    .await
    .expect("read the log");
    struct Line {
        listing: Uuid,
        category: String,
        subtype: String,
        quantity: i64,
        amount: i64,
        refunded: i64,
    }
    struct Placed {
        vendor: Uuid,
        district: String,
        lines: Vec<Line>,
        paid: bool,
    }
    let mut districts: HashMap<Uuid, String> = HashMap::new();
    let mut products: HashMap<Uuid, (String, String)> = HashMap::new();
    let mut orders: HashMap<Uuid, Placed> = HashMap::new();
    let mut out = Vec::new();
    for (aggregate_type, aggregate_id, event_type, payload, recorded_at) in rows {
        let body = &payload[&event_type];
        match (aggregate_type.as_str(), event_type.as_str()) {
            ("Vendor", "VendorApplied") => {
                let district = body["profile"]["district_code"]
                    .as_str()
                    .expect("district")
                    .to_string();
                districts.insert(uuid(&body["vendor_id"]), district);
            }
            ("Listing", "ListingCreated") => {
                let details = &body["details"];
                products.insert(
                    uuid(&body["listing_id"]),
                    (
                        details["category_code"].as_str().expect("category").into(),
                        details["subtype_code"].as_str().expect("subtype").into(),
                    ),
                );
            }
            ("Order", "OrderPlaced") => {
                let vendor = uuid(&body["vendor_id"]);
                let lines = body["lines"]
                    .as_array()
                    .expect("lines")
                    .iter()
                    .map(|line| {
                        let listing = uuid(&line["listing_id"]);
                        let (category, subtype) = products[&listing].clone();
                        let quantity = line["quantity"].as_i64().expect("quantity");
                        Line {
                            listing,
                            category,
                            subtype,
                            quantity,
                            amount: quantity * line["unit_price"].as_i64().expect("price"),
                            refunded: 0,
                        }
                    })
                    .collect();
                orders.insert(
                    uuid(&body["order_id"]),
                    Placed {
                        vendor,
                        district: districts[&vendor].clone(),
                        lines,
                        paid: false,
                    },
                );
            }
            ("Order", "OrderPaid" | "OrderRefunded" | "OrderCancelled") => {
                let order_id: Uuid = aggregate_id.parse().expect("order id");
                let order = orders.get_mut(&order_id).expect("placed before");
                let day = bangkok_day(recorded_at.as_deref().expect("recorded_at"));
                let (count, units_sign, back) = match event_type.as_str() {
                    "OrderPaid" => {
                        let amount = body["amount"].as_i64().expect("amount");
                        let total: i64 = order.lines.iter().map(|l| l.amount).sum();
                        assert_eq!(amount, total, "paid the total");
                        order.paid = true;
                        (1, 1, 0)
                    }
                    "OrderRefunded" => (0, 0, body["amount"].as_i64().expect("amount")),
                    _ => {
                        if !order.paid {
                            assert_eq!(body["refund_satang"], 0);
                            continue;
                        }
                        (-1, -1, body["refund_satang"].as_i64().expect("refund"))
                    }
                };
                let refunds = if back > 0 {
                    let remaining: Vec<i64> =
                        order.lines.iter().map(|l| l.amount - l.refunded).collect();
                    shares(back, &remaining)
                } else {
                    vec![0; order.lines.len()]
                };
                for (line, refund) in order.lines.iter_mut().zip(refunds) {
                    line.refunded += refund;
                    assert!(line.refunded <= line.amount);
                    if count == 0 && refund == 0 {
                        continue;
                    }
                    out.push(Contribution {
                        day,
                        order: order_id,
                        district: order.district.clone(),
                        category: line.category.clone(),
                        subtype: line.subtype.clone(),
                        vendor: order.vendor,
                        listing: line.listing,
                        count,
                        units: units_sign * line.quantity,
                        gross: if count == 1 { line.amount } else { 0 },
                        refunds: refund,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

const DIMENSIONS: [&str; 6] = ["district", "category", "subtype", "vendor", "day", "month"];

fn key_of(contribution: &Contribution, group_by: &[&str]) -> Vec<String> {
    group_by
        .iter()
        .map(|dimension| match *dimension {
            "district" => contribution.district.clone(),
            "category" => contribution.category.clone(),
            "subtype" => contribution.subtype.clone(),
            "vendor" => contribution.vendor.to_string(),
            "day" => contribution.day.format("%Y-%m-%d").to_string(),
            "month" => contribution.day.format("%Y-%m").to_string(),
            other => panic!("no dimension {other}"),
        })
        .collect()
}

fn row_key(row: &Value, group_by: &[&str]) -> Vec<String> {
    group_by
        .iter()
        .map(|dimension| {
            let column = match *dimension {
                "district" => "district_code",
                "category" => "category_code",
                "subtype" => "subtype_code",
                "vendor" => "vendor_id",
                other => other,
            };
            row[column]
                .as_str()
                .unwrap_or_else(|| panic!("{column} in {row}"))
                .to_string()
        })
        .collect()
}

/// Sums of the contributions grouped by `key`: each order counted once per group.
fn expected_sums<'a>(
    contributions: impl Iterator<Item = &'a Contribution>,
    key: impl Fn(&Contribution) -> Vec<String>,
) -> BTreeMap<Vec<String>, Sums> {
    let mut sums: BTreeMap<Vec<String>, Sums> = BTreeMap::new();
    let mut counted: BTreeSet<(Vec<String>, Uuid, i64)> = BTreeSet::new();
    for c in contributions {
        let key = key(c);
        let entry = sums.entry(key.clone()).or_default();
        if c.count != 0 && counted.insert((key, c.order, c.count)) {
            entry.orders += c.count;
        }
        entry.units += c.units;
        entry.gross += c.gross;
        entry.refunds += c.refunds;
        entry.net += c.gross - c.refunds;
    }
    sums
}

fn sums_of(value: &Value) -> Sums {
    let get = |name: &str| {
        value[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} in {value}"))
    };
    Sums {
        orders: get("orders"),
        units: get("units"),
        gross: get("gross_satang"),
        refunds: get("refunds_satang"),
        net: get("net_satang"),
    }
}

/// Every subset of district, category, subtype, vendor, with nothing, day or month.
fn groupings() -> Vec<Vec<&'static str>> {
    let mut all = Vec::new();
    for mask in 0..16u32 {
        let base: Vec<&str> = DIMENSIONS[..4]
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| *d)
            .collect();
        for time in [None, Some("day"), Some("month")] {
            let mut grouping = base.clone();
            if let Some(time) = time {
                // Time first, to check that rows keep the asked order of columns.
                grouping.insert(0, time);
            }
            all.push(grouping);
        }
    }
    all
}

async fn check_sales(
    app: &TestApp,
    contributions: &[Contribution],
    group_by: &[&str],
    filter: &str,
    keep: impl Fn(&Contribution) -> bool,
    min_position: i64,
) {
    let path = format!(
        "/v1/analytics/sales?group_by={}{filter}&min_position={min_position}",
        group_by.join(",")
    );
    let reply = app.get(&path, Some(&analyst(app))).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    let kept: Vec<&Contribution> = contributions.iter().filter(|c| keep(c)).collect();
    let expected = expected_sums(kept.iter().copied(), |c| key_of(c, group_by));
    let rows = reply.body["rows"].as_array().expect("rows");
    let got: BTreeMap<Vec<String>, Sums> = rows
        .iter()
        .map(|row| (row_key(row, group_by), sums_of(row)))
        .collect();
    assert_eq!(got.len(), rows.len(), "{path}: one row per group");
    // Rows come in the order of their columns as asked (the test databases collate as C,
    // so byte order is the database's order).
    let keys: Vec<Vec<String>> = rows.iter().map(|row| row_key(row, group_by)).collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] < pair[1]),
        "{path}: rows in order: {keys:?}"
    );
    if group_by.is_empty() {
        assert_eq!(rows.len(), 1, "{path}");
    } else {
        assert_eq!(got, expected, "{path}");
    }
    let totals = expected_sums(kept.iter().copied(), |_| Vec::new())
        .remove(&Vec::new())
        .unwrap_or_default();
    assert_eq!(sums_of(&reply.body["totals"]), totals, "{path} totals");
    if group_by.is_empty() {
        assert_eq!(sums_of(&rows[0]), totals, "{path}");
    }
    // Money always adds up to the totals, whatever the grouping.
    let sum = |f: fn(&Sums) -> i64| got.values().map(f).sum::<i64>();
    assert_eq!(sum(|s| s.gross), totals.gross, "{path}");
    assert_eq!(sum(|s| s.refunds), totals.refunds, "{path}");
    assert_eq!(sum(|s| s.net), totals.net, "{path}");
    assert_eq!(sum(|s| s.units), totals.units, "{path}");
    // Names come with the codes.
    for row in rows {
        if group_by.contains(&"district") {
            assert!(row["district_name_th"].is_string(), "{row}");
            assert!(row["district_name_en"].is_string(), "{row}");
        } else {
            assert!(row.get("district_code").is_none(), "{row}");
        }
        if group_by.contains(&"category") {
            assert!(row["category_name_th"].is_string(), "{row}");
            assert!(row["category_name_en"].is_string(), "{row}");
        }
    }
}

/// The top listings, by units and by revenue, against the sums of the contributions `keep`
/// keeps (`filter`: the query's own filters, as `&from=...`).
async fn check_top_listings(
    app: &TestApp,
    contributions: &[Contribution],
    filter: &str,
    keep: impl Fn(&Contribution) -> bool,
    min_position: i64,
) {
    let per_listing = expected_sums(contributions.iter().filter(|c| keep(c)), |c| {
        vec![c.listing.to_string()]
    });
    for (by, limit) in [("units", 5usize), ("revenue", 12)] {
        let path = format!(
            "/v1/analytics/top-listings?by={by}&limit={limit}{filter}&min_position={min_position}"
        );
        let reply = app.get(&path, Some(&analyst(app))).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        let mut expected: Vec<(&Vec<String>, &Sums)> = per_listing.iter().collect();
        expected.sort_by(|a, b| {
            let (x, y) = (a.1, b.1);
            let primary = if by == "units" {
                (y.units, y.net).cmp(&(x.units, x.net))
            } else {
                (y.net, y.units).cmp(&(x.net, x.units))
            };
            primary.then(a.0.cmp(b.0))
        });
        expected.truncate(limit);
        let rows = reply.body["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), expected.len(), "{path}: {reply:?}");
        for (rank, (row, (listing, sums))) in rows.iter().zip(&expected).enumerate() {
            assert_eq!(row["rank"], rank as i64 + 1);
            assert_eq!(row["listing_id"], listing[0].as_str(), "{path} rank {rank}");
            assert_eq!(sums_of(row), **sums, "{path} {row}");
            assert!(row["title_th"].is_string());
        }
    }
}

/// Which contributions a filter keeps.
type Keep = Box<dyn Fn(&Contribution) -> bool>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sales_reconcile_with_the_log_for_every_grouping() {
    let app = TestApp::spawn().await;
    let mut listings = Vec::new();
    for (index, district) in DISTRICTS.iter().enumerate() {
        let vendor = vendor_in(&app, district, index).await;
        for product in PRODUCTS[index] {
            listings.push((listing_of(&app, vendor, product).await, vendor, product.2));
        }
    }
    let started = Instant::now();
    for chunk in (0..CHECKOUTS).collect::<Vec<_>>().chunks(CONCURRENCY) {
        futures::future::join_all(
            chunk
                .iter()
                .map(|&index| drive_checkout(&app, index, &listings)),
        )
        .await;
    }
    app.wait_for_checkout_process_within(Duration::from_secs(120))
        .await;
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("head");
    let contributions = contributions_from_the_log(&app).await;
    let orders: BTreeSet<Uuid> = contributions.iter().map(|c| c.order).collect();
    println!(
        "{CHECKOUTS} checkouts, {} paid orders, {} line contributions in {:?}",
        orders.len(),
        contributions.len(),
        started.elapsed()
    );
    assert!(orders.len() >= 200, "a few hundred paid orders");
    assert!(
        contributions.iter().any(|c| c.count == -1),
        "cancellations after payment"
    );
    assert!(
        contributions.iter().any(|c| c.count == 0 && c.refunds > 0),
        "refunds"
    );

    for group_by in groupings() {
        check_sales(&app, &contributions, &group_by, "", |_| true, head).await;
    }
    // Every grouping at once, in one statement (what the dashboard draws from): each report
    // is the one the API gives for that grouping alone, with and without a filter.
    for filter in [None, Some("3202,3216")] {
        let all: Vec<String> = groupings().iter().map(|g| g.join(",")).collect();
        let asked: Vec<&str> = all.iter().map(String::as_str).collect();
        let query = otop_app::analytics::SalesQuery {
            district: filter.map(str::to_string),
            min_position: Some(head),
            ..Default::default()
        };
        let reports = otop_app::analytics::sales_grouped_many(
            app.state(),
            &Actor::new("analyst-1", Role::Analyst),
            &query,
            &asked,
        )
        .await
        .expect("every grouping at once");
        assert_eq!(reports.len(), asked.len());
        for (grouping, report) in asked.iter().zip(&reports) {
            let district = filter.map(|d| format!("&district={d}")).unwrap_or_default();
            let path =
                format!("/v1/analytics/sales?group_by={grouping}{district}&min_position={head}");
            let alone = app.get(&path, Some(&analyst(&app))).await;
            assert_eq!(
                serde_json::to_value(report).expect("json"),
                alone.body,
                "{path}"
            );
        }
    }
    // Filters: order-level (district, vendor) and line-level (category, sub-type).
    let vendor = listings[3].1;
    let other = listings[6].1;
    let cases: Vec<(&[&str], String, Keep)> = vec![
        (
            &["category"],
            "&district=3201".to_string(),
            Box::new(|c: &Contribution| c.district == "3201"),
        ),
        (
            &["district", "month"],
            "&district=3202,3216".to_string(),
            Box::new(|c: &Contribution| c.district == "3202" || c.district == "3216"),
        ),
        (
            &["subtype", "vendor"],
            "&category=CRAFT".to_string(),
            Box::new(|c: &Contribution| c.category == "CRAFT"),
        ),
        (
            &["district"],
            "&category=TEXTILE".to_string(),
            Box::new(|c: &Contribution| c.category == "TEXTILE"),
        ),
        (
            &[],
            "&category=FOOD&subtype=FOOD_SNACK".to_string(),
            Box::new(|c: &Contribution| c.subtype == "FOOD_SNACK"),
        ),
        (
            &["category", "day"],
            format!("&vendor={vendor},{other}"),
            Box::new(move |c: &Contribution| c.vendor == vendor || c.vendor == other),
        ),
    ];
    for (group_by, filter, keep) in &cases {
        check_sales(&app, &contributions, group_by, filter, keep, head).await;
    }
    // A range of days that holds everything, and one that holds nothing.
    let today = contributions.iter().map(|c| c.day).min().expect("a day");
    let last = contributions.iter().map(|c| c.day).max().expect("a day");
    check_sales(
        &app,
        &contributions,
        &["district"],
        &format!("&from={today}&to={last}"),
        |_| true,
        head,
    )
    .await;
    let empty = app
        .get(
            "/v1/analytics/sales?group_by=district&from=2001-01-01&to=2001-12-31",
            Some(&analyst(&app)),
        )
        .await;
    assert_eq!(empty.body["rows"], json!([]), "{empty:?}");
    assert_eq!(empty.body["totals"]["net_satang"], 0);

    // CSV: the same rows.
    let path = format!("/v1/analytics/sales?group_by=district,category,month&min_position={head}");
    let json_rows = app.get(&path, Some(&analyst(&app))).await;
    let response = app
        .client
        .get(format!("{}{}", app.base_url, path))
        .bearer_auth(analyst(&app))
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/csv")));
    let text = response.text().await.expect("csv text");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "district_code,district_name_th,district_name_en,category_code,category_name_th,category_name_en,month,orders,units,gross_satang,refunds_satang,net_satang"
    );
    let rows = json_rows.body["rows"].as_array().expect("rows");
    assert_eq!(lines.len(), rows.len() + 1);
    let csv_net: i64 = lines[1..]
        .iter()
        .map(|line| {
            line.rsplit(',')
                .next()
                .and_then(|n| n.parse::<i64>().ok())
                .expect("net")
        })
        .sum();
    assert_eq!(csv_net, json_rows.body["totals"]["net_satang"]);

    // Top listings, by units and by revenue.
    check_top_listings(&app, &contributions, "", |_| true, head).await;

    // A rebuild in small batches gives the same tables.
    let mut live = Vec::new();
    for (table, key) in ProjectionKind::Sales.tables() {
        live.push(table_digest(&app.pool, table, key).await.expect("digest"));
    }
    rebuild(&app.pool, ProjectionKind::Sales, 7, |_, _| {})
        .await
        .expect("rebuild");
    let mut rebuilt = Vec::new();
    for (table, key) in ProjectionKind::Sales.tables() {
        rebuilt.push(table_digest(&app.pool, table, key).await.expect("digest"));
    }
    assert_eq!(live, rebuilt);
    app.cleanup().await;
}

/// Ranges of every shape over the bulk history of the rollup test: unbounded, whole years,
/// whole months, odd days at either end, days inside one month, one side open.
const RANGES: [(Option<&str>, Option<&str>); 10] = [
    (None, None),
    (Some("2026-01-01"), Some("2026-12-31")),
    (Some("2025-11-25"), Some("2027-01-20")),
    (Some("2025-12-01"), Some("2027-01-31")),
    (Some("2026-03-01"), Some("2026-03-31")),
    (Some("2026-03-15"), Some("2026-05-10")),
    (Some("2026-02-03"), Some("2026-02-20")),
    (Some("2026-06-10"), None),
    (None, Some("2026-08-31")),
    (Some("2026-12-31"), Some("2027-01-01")),
];

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
}

/// The rollups (months without the vendor, listings by month and by year) answer every range
/// exactly as the day facts do: fifteen months of orders across two Bangkok years, written in
/// bulk as the real events with their times, compared with sums taken from the log for ranges
/// of every shape, by every kind of grouping, and for the top listings. Then one rollup row
/// is altered in place to show which queries read it: a whole-month range reads the month
/// rollup, a vendor filter or an odd range reads the day facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollups_answer_every_range_as_the_log_does() {
    use otop_bench::bulk::{self, BulkWriter, Period};
    let app = TestApp::spawn().await;
    let mut writer = BulkWriter::new(app.pool.clone());
    let catalog = bulk::catalog(&mut writer, 90, 11).await.expect("catalog");
    let start = DateTime::parse_from_rfc3339("2025-11-20T00:00:00+07:00")
        .expect("start")
        .with_timezone(&Utc);
    let period = Period {
        start,
        seconds: 450 * 24 * 3600,
    };
    bulk::paid_orders_over(&mut writer, &catalog, 0, 1_500, 1_500, 5, period)
        .await
        .expect("orders");
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("head");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = app
            .get(
                &format!("/v1/analytics/sales?min_position={head}"),
                Some(&analyst(&app)),
            )
            .await;
        if reply.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sales projection caught up: {reply:?}"
        );
    }
    let contributions = contributions_from_the_log(&app).await;
    let months: BTreeSet<String> = contributions
        .iter()
        .map(|c| c.day.format("%Y-%m").to_string())
        .collect();
    assert!(months.len() >= 15, "fifteen months: {months:?}");

    let vendor = contributions[0].vendor;
    for (from, to) in RANGES {
        let mut range = String::new();
        if let Some(from) = from {
            range.push_str(&format!("&from={from}"));
        }
        if let Some(to) = to {
            range.push_str(&format!("&to={to}"));
        }
        let (from, to) = (from.map(day), to.map(day));
        let inside = move |c: &Contribution| {
            from.is_none_or(|f| c.day >= f) && to.is_none_or(|t| c.day <= t)
        };
        for group_by in [
            &["district", "category", "month"][..],
            &[],
            &["subtype"],
            &["month"],
            &["category", "day"],
            &["vendor"],
        ] {
            check_sales(&app, &contributions, group_by, &range, inside, head).await;
        }
        check_sales(
            &app,
            &contributions,
            &["month", "category"],
            &format!("{range}&district=3201,3203&category=TEXTILE"),
            move |c| {
                inside(c)
                    && (c.district == "3201" || c.district == "3203")
                    && c.category == "TEXTILE"
            },
            head,
        )
        .await;
        check_sales(
            &app,
            &contributions,
            &["district"],
            &format!("{range}&vendor={vendor}"),
            move |c| inside(c) && c.vendor == vendor,
            head,
        )
        .await;
        check_top_listings(&app, &contributions, &range, inside, head).await;
        check_top_listings(
            &app,
            &contributions,
            &format!("{range}&vendor={vendor}"),
            move |c| inside(c) && c.vendor == vendor,
            head,
        )
        .await;
    }

    // Which queries read which rollup: one satang more in one row of each, in place.
    let totals = |path: String| {
        let app = &app;
        async move {
            let reply = app.get(&path, Some(&analyst(app))).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
            reply.body["totals"]["net_satang"].as_i64().expect("net")
        }
    };
    let march = "from=2026-03-01&to=2026-03-31";
    let inside_march = "from=2026-03-02&to=2026-03-31";
    let by_vendor = format!("{march}&vendor={vendor}");
    let before = (
        totals(format!("/v1/analytics/sales?{march}")).await,
        totals(format!("/v1/analytics/sales?{inside_march}")).await,
        totals(format!("/v1/analytics/sales?{by_vendor}")).await,
    );
    let altered = sqlx::query(
        "UPDATE sales_month_facts SET gross_satang = gross_satang + 1, net_satang = net_satang + 1
          WHERE (month, district_code, category_code, subtype_code) IN
                (SELECT month, district_code, category_code, subtype_code FROM sales_month_facts
                  WHERE month = DATE '2026-03-01' LIMIT 1)",
    )
    .execute(&app.pool)
    .await
    .expect("alter the month rollup")
    .rows_affected();
    assert_eq!(altered, 1);
    let after = (
        totals(format!("/v1/analytics/sales?{march}")).await,
        totals(format!("/v1/analytics/sales?{inside_march}")).await,
        totals(format!("/v1/analytics/sales?{by_vendor}")).await,
    );
    assert_eq!(
        after.0,
        before.0 + 1,
        "a whole month reads the month rollup"
    );
    assert_eq!(after.1, before.1, "an odd range reads the day facts");
    assert_eq!(after.2, before.2, "a vendor filter reads the day facts");

    let top = |path: String| {
        let app = &app;
        async move {
            let reply = app.get(&path, Some(&analyst(app))).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
            reply.body["rows"][0].clone()
        }
    };
    for (table, period, range, odd_range) in [
        (
            "sales_listing_year_facts",
            "year = DATE '2026-01-01'",
            "from=2026-01-01&to=2026-12-31",
            "from=2026-01-01&to=2026-12-30",
        ),
        (
            "sales_listing_month_facts",
            "month = DATE '2026-03-01'",
            march,
            "from=2026-03-01&to=2026-03-30",
        ),
    ] {
        let best = top(format!("/v1/analytics/top-listings?{range}")).await;
        let listing = best["listing_id"].as_str().expect("a listing").to_string();
        let days_only = top(format!("/v1/analytics/top-listings?{odd_range}")).await;
        sqlx::query(&format!(
            "UPDATE {table} SET gross_satang = gross_satang + 1, net_satang = net_satang + 1
              WHERE {period} AND listing_id = $1::uuid"
        ))
        .bind(&listing)
        .execute(&app.pool)
        .await
        .expect("alter a listing rollup");
        let read = top(format!("/v1/analytics/top-listings?{range}")).await;
        assert_eq!(
            read["net_satang"].as_i64(),
            best["net_satang"].as_i64().map(|n| n + 1),
            "{range} reads {table}"
        );
        let days_after = top(format!("/v1/analytics/top-listings?{odd_range}")).await;
        assert_eq!(days_after, days_only, "{odd_range} does not read {table}");
    }
    app.cleanup().await;
}

#[track_caller]
fn assert_invalid(reply: &Reply, fields: &[&str]) {
    reply.assert_problem(422);
    let named: Vec<&str> = reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    for field in fields {
        assert!(named.contains(field), "expected {field:?}: {reply:?}");
    }
}

#[tokio::test]
async fn analytics_validate_every_parameter_and_serve_analysts_only() {
    let app = TestApp::spawn().await;
    let token = analyst(&app);
    for (query, fields) in [
        ("group_by=district,color", &["group_by"][..]),
        ("group_by=day,month", &["group_by"]),
        ("group_by=district,district", &["group_by"]),
        ("group_by=district,,vendor", &["group_by"]),
        ("from=2026-02-30", &["from"]),
        ("from=yesterday&to=2026-01-01", &["from"]),
        ("from=2026-03-01&to=2026-02-01", &["to"]),
        ("district=9999", &["district"]),
        ("category=TEXTILE,FOOD", &["category"]),
        ("category=SHOES", &["category"]),
        ("subtype=NOPE", &["subtype"]),
        ("category=FOOD&subtype=TEX_SCARF", &["subtype"]),
        ("vendor=not-a-uuid", &["vendor"]),
        ("min_position=-1", &["min_position"]),
        (
            "group_by=size&from=x&district=1&vendor=y",
            &["group_by", "from", "district", "vendor"],
        ),
    ] {
        let reply = app
            .get(&format!("/v1/analytics/sales?{query}"), Some(&token))
            .await;
        assert_invalid(&reply, fields);
    }
    for (query, fields) in [
        ("by=price", &["by"][..]),
        ("limit=0", &["limit"]),
        ("limit=101", &["limit"]),
        ("limit=ten", &["query"]),
        ("from=2026-01-02&to=2026-01-01", &["to"]),
        ("vendor=x", &["vendor"]),
    ] {
        let reply = app
            .get(&format!("/v1/analytics/top-listings?{query}"), Some(&token))
            .await;
        assert_invalid(&reply, fields);
    }
    // Valid and empty.
    let reply = app
        .get(
            "/v1/analytics/sales?group_by=district,category,subtype,vendor,month&from=2026-01-01&to=2026-12-31&district=3201&category=TEXTILE&subtype=TEX_SCARF",
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["rows"], json!([]));
    assert_eq!(
        reply.body["group_by"],
        json!(["district", "category", "subtype", "vendor", "month"])
    );
    let reply = app.get("/v1/analytics/sales", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["rows"][0]["orders"], 0, "one row of totals");
    assert_eq!(reply.body["totals"]["gross_satang"], 0);

    // Documented.
    let openapi = app.get("/openapi.json", None).await;
    for path in [
        "/v1/analytics/sales",
        "/v1/analytics/top-listings",
        "/v1/audit/orders/{id}/history",
        "/v1/audit/orders/{id}",
        "/v1/audit/verify",
    ] {
        assert!(
            openapi.body["paths"][path]["get"].is_object(),
            "{path} is in the OpenAPI document"
        );
    }

    // Who may read.
    for path in ["/v1/analytics/sales", "/v1/analytics/top-listings"] {
        app.get(path, None).await.assert_problem(401);
        for other in [
            app.shopper("nosy"),
            app.vendor(Uuid::new_v4()),
            app.token(&Actor::new("auditor-1", Role::Auditor)),
        ] {
            app.get(path, Some(&other)).await.assert_problem(403);
        }
        for allowed in [analyst(&app), app.admin()] {
            let reply = app.get(path, Some(&allowed)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        }
    }
    app.cleanup().await;
}
