//! The checkout benchmark: checkouts per second through HTTP (2 vendors x 2 lines, 8
//! concurrent shoppers) beside the bare postgres-es append rate of the same number of
//! events, and checkouts on a listing that has already taken 10,000 orders beside checkouts
//! on a fresh one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use otop_api::auth::AuthKeys;
use otop_domain::listing::StockChange;
use otop_domain::{Actor, Listing, ListingCommand, Role, VendorStanding, VendorStatus};
use otop_projections::{AggregateStore, AppendBatch, EventStore, StreamKey};
use postgres_es::PostgresEventRepository;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::load::metadata;

pub const JWT_SECRET: &str = "bench-secret";

pub struct CheckoutFigures {
    pub checkouts: usize,
    pub seconds: f64,
    pub checkout_events: i64,
    pub bare_events_per_second: f64,
    pub busy_listing_rate: f64,
    pub fresh_listing_rate: f64,
    /// p50 and p99 of loading the busy and the fresh listing, in ms.
    pub busy_load_ms: (f64, f64),
    pub fresh_load_ms: (f64, f64),
}

pub struct Catalog {
    /// (listing, vendor) pairs, two listings per vendor.
    pub listings: Vec<(Uuid, Uuid)>,
}

pub async fn catalog(app: &Client, vendors: usize, stock: i64) -> anyhow::Result<Catalog> {
    let mut listings = Vec::new();
    for index in 0..vendors {
        let applied = app
            .post(
                "/v1/vendors",
                &app.token(Actor::new("bench-applicant", Role::Shopper)),
                json!({
                    "name_th": format!("กลุ่มทอผ้าบ้านทดสอบ {index}"),
                    "district_code": "3216",
                    "producer_type": "community_group",
                    "phone": "044511234",
                }),
            )
            .await?;
        let vendor: Uuid = applied["id"].as_str().context("vendor id")?.parse()?;
        app.post(
            &format!("/v1/vendors/{vendor}/approve"),
            &app.token(Actor::new("bench-admin", Role::Admin)),
            Value::Null,
        )
        .await?;
        let token = app.token(Actor::vendor("bench-vendor", vendor));
        for item in 0..2 {
            let created = app
                .post(
                    "/v1/listings",
                    &token,
                    json!({
                        "title_th": format!("ผ้าไหมมัดหมี่ ลาย {item}"),
                        "category_code": "TEXTILE",
                        "subtype_code": "TEX_SILK_MUDMEE",
                        "price_satang": 350_000,
                        "stock": stock,
                    }),
                )
                .await?;
            let listing: Uuid = created["id"].as_str().context("listing id")?.parse()?;
            app.post(
                &format!("/v1/listings/{listing}/publish"),
                &token,
                Value::Null,
            )
            .await?;
            listings.push((listing, vendor));
        }
    }
    Ok(Catalog { listings })
}

pub struct Client {
    base: String,
    http: reqwest::Client,
    keys: AuthKeys,
}

impl Client {
    pub fn new(base: String) -> Self {
        Client {
            base,
            http: reqwest::Client::new(),
            keys: AuthKeys::new(JWT_SECRET),
        }
    }

    /// The server's address, like `http://127.0.0.1:8080`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self, actor: Actor) -> String {
        self.keys
            .issue(&actor, chrono::Duration::hours(2))
            .unwrap_or_default()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }

    /// PUTs `body`; the reply's status and JSON body.
    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let response = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// GETs `path` (with a bearer token when one is given); the status and the whole body.
    pub async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>)> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// Checks out `lines` as `shopper`; the reply's status and JSON body.
    pub async fn checkout(
        &self,
        shopper: &str,
        lines: &[(Uuid, u32)],
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        self.checkout_with_token(&self.token(Actor::new(shopper, Role::Shopper)), lines)
            .await
    }

    /// Like [`Client::checkout`], with a token signed beforehand.
    pub async fn checkout_with_token(
        &self,
        token: &str,
        lines: &[(Uuid, u32)],
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let body = json!({
            "lines": lines.iter().map(|(id, q)| json!({"listing_id": id, "quantity": q})).collect::<Vec<_>>(),
            "shipping_address": {"name": "ผู้ซื้อ", "phone": "0812345678", "line1": "1 หมู่ 1", "province": "สุรินทร์", "postcode": "32000"},
        });
        let response = self
            .http
            .post(format!("{}/v1/checkouts", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// What a shopper buys in round `round`.
pub type Cart = Arc<dyn Fn(usize) -> Vec<(Uuid, u32)> + Send + Sync>;

/// Two lines from each of two vendors of `listings` (from [`catalog`]: two listings per
/// vendor, at least two vendors), the pair of vendors drawn anew (deterministically) every
/// round, so concurrent shoppers overlap as often as the number of vendors makes them.
pub fn two_vendor_cart(listings: Vec<(Uuid, Uuid)>) -> Cart {
    let vendors = (listings.len() / 2).max(2);
    Arc::new(move |round: usize| {
        let mixed = (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
        let first = (mixed % vendors as u64) as usize;
        let step = 1 + ((mixed / vendors as u64) % (vendors as u64 - 1)) as usize;
        let second = (first + step) % vendors;
        vec![
            (listings[2 * first].0, 1),
            (listings[2 * first + 1].0, 1),
            (listings[2 * second].0, 1),
            (listings[2 * second + 1].0, 1),
        ]
    })
}

/// What a run of checkouts did: how many, for how long, and each one's time to its reply.
pub struct CheckoutRun {
    pub checkouts: usize,
    pub seconds: f64,
    pub latencies: Vec<Duration>,
}

/// Runs `clients` shoppers for `duration`, each checking out `cart(i)` again and again.
pub async fn run_checkouts(
    client: Arc<Client>,
    clients: usize,
    duration: Duration,
    cart: Cart,
) -> anyhow::Result<CheckoutRun> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|shopper| {
            let client = client.clone();
            let cart = cart.clone();
            tokio::spawn(async move {
                let token = client.token(Actor::new(format!("shopper-{shopper}"), Role::Shopper));
                let mut latencies = Vec::new();
                let mut round = 0;
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    let (status, body) = client
                        .checkout_with_token(&token, &cart(shopper * 1_000_000 + round))
                        .await?;
                    anyhow::ensure!(
                        status == reqwest::StatusCode::CREATED,
                        "checkout answered {status}: {body}"
                    );
                    latencies.push(sent.elapsed());
                    round += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(CheckoutRun {
        checkouts: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    })
}

/// A flash sale: `shoppers` at once, each for one unit of one listing stocked with `units`.
pub struct FlashSale {
    pub shoppers: usize,
    pub units: usize,
    pub sold: usize,
    pub refused: usize,
    /// Replies that were neither 201 `awaiting_payment` nor 409 (must be none).
    pub other_replies: usize,
    /// Requests that got no reply at all (must be none).
    pub dropped: usize,
    /// From the start until the last unit's 201.
    pub sold_out: Duration,
    /// From the start until the last 409.
    pub slowest_refusal: Duration,
    /// From the start until the last reply of any kind.
    pub last_reply: Duration,
}

/// Sends every shopper's checkout at the same moment and times every reply from it.
pub async fn flash_sale(
    client: Arc<Client>,
    listing: Uuid,
    shoppers: usize,
    units: usize,
) -> anyhow::Result<FlashSale> {
    let tokens: Vec<String> = (0..shoppers)
        .map(|i| client.token(Actor::new(format!("flash-{i}"), Role::Shopper)))
        .collect();
    let start = Arc::new(tokio::sync::Barrier::new(shoppers + 1));
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (client, start) = (client.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let began = Instant::now();
                let reply = client.checkout_with_token(&token, &[(listing, 1)]).await;
                (reply.ok(), began)
            })
        })
        .collect();
    start.wait().await;
    let began = Instant::now();
    let mut sale = FlashSale {
        shoppers,
        units,
        sold: 0,
        refused: 0,
        other_replies: 0,
        dropped: 0,
        sold_out: Duration::ZERO,
        slowest_refusal: Duration::ZERO,
        last_reply: Duration::ZERO,
    };
    for task in tasks {
        let (reply, _) = task.await?;
        let at = began.elapsed();
        let Some((status, body)) = reply else {
            sale.dropped += 1;
            continue;
        };
        sale.last_reply = sale.last_reply.max(at);
        match status {
            reqwest::StatusCode::CREATED if body["status"] == "awaiting_payment" => {
                sale.sold += 1;
                sale.sold_out = sale.sold_out.max(at);
            }
            reqwest::StatusCode::CONFLICT => {
                sale.refused += 1;
                sale.slowest_refusal = sale.slowest_refusal.max(at);
            }
            _ => sale.other_replies += 1,
        }
    }
    anyhow::ensure!(
        sale.sold == units && sale.other_replies == 0 && sale.dropped == 0,
        "the flash sale went wrong: {} sold of {units}, {} other replies, {} dropped",
        sale.sold,
        sale.other_replies,
        sale.dropped
    );
    Ok(sale)
}

/// Deletes what [`bare_append_rate`] wrote: one-event streams that open with a price change,
/// which a projection cannot apply and which would only be noise in the log measured after.
/// The log is append-only (a trigger refuses deletes): the benchmark, a superuser on a
/// database of its own that nobody audits, switches triggers off for this one transaction.
pub async fn remove_bare_probes(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE metadata->>'actor_id' = 'bench-bare-append'")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Appends single-event aggregates through postgres-es's own repository from `clients`
/// concurrent writers for `duration`: the store's bare rate, without our event store or
/// domain. Each append is one transaction with one event, as a one-event command is.
pub async fn bare_append_rate(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let repo = Arc::new(PostgresEventRepository::new(pool.clone()));
    let appended = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let repo = repo.clone();
            let appended = appended.clone();
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    let event = SerializedEvent::new(
                        Uuid::now_v7().to_string(),
                        1,
                        "BareProbe".to_string(),
                        "ListingPriceChanged".to_string(),
                        "1".to_string(),
                        json!({"ListingPriceChanged": {"previous": 350_000, "price": 360_000}}),
                        json!({"actor_id": "bench-bare-append", "actor_role": "vendor", "request_id": Uuid::now_v7(), "recorded_at": chrono::Utc::now()}),
                    );
                    repo.persist::<otop_domain::Listing>(&[event], None).await?;
                    appended.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(appended.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(
    pool: &PgPool,
    database_url: &str,
    seconds: u64,
    busy_orders: usize,
) -> anyhow::Result<CheckoutFigures> {
    let mut config = otop_api::Config::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = database_url.to_string();
    config.bind = "127.0.0.1:0".parse()?;
    config.jwt_secret = JWT_SECRET.to_string().into();
    // A few callers sending thousands of commands, shoppers that never pay: no abuse limits.
    config.write_rate_per_minute = 0;
    config.max_unpaid_checkouts_per_shopper = 0;
    // The bare append rate first, with no projection running to trip over its probes.
    let bare = bare_append_rate(pool, 8, Duration::from_secs(seconds)).await?;
    remove_bare_probes(pool).await?;
    let server = otop_api::start(config, pool.clone()).await?;
    let client = Arc::new(Client::new(format!("http://{}", server.addr)));

    // 1. Two vendors x two lines, eight shoppers.
    let shop = catalog(&client, 8, 1_000_000).await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let cart = two_vendor_cart(shop.listings.clone());
    let run = run_checkouts(client.clone(), 8, Duration::from_secs(seconds), cart).await?;
    let (checkouts, elapsed) = (run.checkouts, run.seconds);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let checkout_events = after - before;

    // 3. A listing that has taken `busy_orders` orders beside a fresh one.
    let busy_shop = catalog(&client, 1, 1_000_000).await?;
    let (busy, busy_vendor) = busy_shop.listings[0];
    let (fresh, _) = busy_shop.listings[1];
    let standing = VendorStanding {
        vendor_id: busy_vendor,
        status: VendorStatus::Approved,
    };
    write_past_orders(pool, busy, standing, busy_orders).await?;
    // Measure once the read side has taken in that history, not while it competes for it.
    wait_for_read_side(pool).await?;
    let busy_load_ms = load_times(pool, busy).await?;
    let fresh_load_ms = load_times(pool, fresh).await?;
    let measure = |listing: Uuid| {
        let client = client.clone();
        async move {
            let cart = Arc::new(move |_| vec![(listing, 1)]);
            let run =
                run_checkouts(client, 8, Duration::from_secs(seconds.max(2) / 2), cart).await?;
            anyhow::Ok(run.checkouts as f64 / run.seconds)
        }
    };
    let busy_listing_rate = measure(busy).await?;
    let fresh_listing_rate = measure(fresh).await?;
    server.shutdown().await?;
    Ok(CheckoutFigures {
        checkouts,
        seconds: elapsed,
        checkout_events,
        bare_events_per_second: bare,
        busy_listing_rate,
        fresh_listing_rate,
        busy_load_ms,
        fresh_load_ms,
    })
}

/// Gives `listing` `orders` past orders, each reserved and then committed (shipped), through
/// the real event store and the Listing's own rules, 5,000 orders to an append.
async fn write_past_orders(
    pool: &PgPool,
    listing: Uuid,
    vendor: VendorStanding,
    orders: usize,
) -> anyhow::Result<()> {
    let store = EventStore::new(pool.clone());
    let system = metadata(&Actor::system());
    let id = listing.to_string();
    let mut written = 0;
    while written < orders {
        let mut loaded = store.load(&[StreamKey::of::<Listing>(id.clone())]).await?;
        let mut stream = loaded.take::<Listing>(&id).await?;
        // Restocked before every batch: a million orders outsell the most one listing holds.
        let restock = ListingCommand::ChangeStock {
            actor: Actor::vendor("bench-vendor", vendor.vendor_id),
            change: StockChange::Set(otop_domain::values::MAX_STOCK),
            expected: None,
        };
        stream
            .handle(restock, &system)
            .await
            .map_err(|e| anyhow::anyhow!("restock: {e}"))?;
        for _ in 0..(orders - written).min(5_000) {
            let order_id = Uuid::now_v7();
            let reserve = ListingCommand::Reserve {
                order_id,
                quantity: 1,
                vendor,
            };
            stream
                .handle(reserve, &system)
                .await
                .map_err(|e| anyhow::anyhow!("reserve: {e}"))?;
            stream
                .handle(ListingCommand::Commit { order_id }, &system)
                .await
                .map_err(|e| anyhow::anyhow!("commit: {e}"))?;
            written += 1;
        }
        let mut batch = AppendBatch::default();
        batch.add(&mut stream, store.snapshot_every())?;
        store.append(batch).await?;
    }
    Ok(())
}

/// Waits until every projection of this process has applied the whole log.
async fn wait_for_read_side(pool: &PgPool) -> anyhow::Result<()> {
    use otop_projections::{checkpoint, ProjectionKind};
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let mut behind = 0;
        for name in ProjectionKind::ALL.iter().map(|kind| kind.name()) {
            let cursor = checkpoint::read(pool, name).await?.unwrap_or_default();
            behind += checkpoint::lag(pool, cursor, 1).await?;
        }
        if behind == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the projections did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// p50 and p99 of 200 loads of `listing` (snapshot and the events after it, one query).
async fn load_times(pool: &PgPool, listing: Uuid) -> anyhow::Result<(f64, f64)> {
    let store = AggregateStore::<Listing>::new(pool.clone());
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let started = Instant::now();
        store.load(&listing.to_string()).await?;
        times.push(started.elapsed());
    }
    Ok(crate::stats::p50_p99_ms(&mut times))
}
