//! The end-to-end harness: each test gets the real `otop` API on a free port, backed by a
//! fresh PostgreSQL database of its own (created, migrated, and dropped by `cleanup`).
//!
//! The server is `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! only its host, port and user are used, the database name is made per test.

pub mod browser;
pub mod node_fixture;
pub mod web;

use std::str::FromStr;
use std::time::Duration;

use otop_api::auth::AuthKeys;
use otop_api::{Config, RunningServer};
use otop_domain::{Actor, Role};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use uuid::Uuid;

pub const JWT_SECRET: &str = "e2e-test-secret";
pub const PAYMENT_SECRET: &str = "e2e-payment-secret";

/// The provider's `X-Otop-Signature` of a payment body signed now with `secret`.
pub fn sign_payment(secret: &str, body: &[u8]) -> String {
    sign_payment_at(secret, chrono::Utc::now().timestamp(), body)
}

/// `X-Otop-Signature` as API.md gives it, written here from the contract (not from the
/// server's code): `t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 of "<t>." + body>`.
pub fn sign_payment_at(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh, migrated database; its name and a pool on it.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("otop_test_{}", Uuid::new_v4().simple());
        let options = PgConnectOptions::from_str(&server_url())
            .expect("TEST_DATABASE_URL is a postgres URL")
            .database(&name);
        let url = options.to_url_lossy().to_string();
        otop_projections::db::create_database_if_missing(&url)
            .await
            .expect("create the test database (is PostgreSQL running on 127.0.0.1:5432?)");
        let pool = otop_projections::db::connect(&url, 16)
            .await
            .expect("connect to the test database");
        otop_projections::db::migrate(&pool)
            .await
            .expect("migrate the test database");
        TestDatabase { name, url, pool }
    }

    pub async fn drop_database(self) {
        self.pool.close().await;
        let options = PgConnectOptions::from_str(&server_url())
            .expect("TEST_DATABASE_URL is a postgres URL")
            .database("postgres");
        if let Ok(mut admin) = PgConnection::connect_with(&options).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }
}

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    keys: AuthKeys,
    database: Option<TestDatabase>,
    server: Option<RunningServer>,
}

/// A reply: status, headers and the JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem document with this status.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:?}");
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        assert_eq!(
            self.body["status"].as_u64(),
            Some(u64::from(status)),
            "{self:?}"
        );
        assert!(
            self.body["type"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
        assert!(
            self.body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
    }

    pub fn position(&self) -> i64 {
        self.body["position"]
            .as_i64()
            .unwrap_or_else(|| panic!("no position in {self:?}"))
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with the configuration adjusted first.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let database = TestDatabase::create().await;
        let mut config = Config {
            database_url: database.url.clone(),
            bind: "127.0.0.1:0".parse().expect("valid address"),
            jwt_secret: JWT_SECRET.to_string().into(),
            payment_secret: PAYMENT_SECRET.to_string().into(),
            development_secrets: Vec::new(),
            database_max_connections: 16,
            min_position_wait: Duration::from_secs(5),
            run_projections: true,
            run_checkout_process: true,
            index_dir: std::env::temp_dir().join(format!("{}-index", database.name)),
            photos: otop_api::photos::PhotoStorage::Directory(
                std::env::temp_dir().join(format!("{}-photos", database.name)),
            ),
            meili_url: None,
            meili_key: None,
            commission_bps: 500,
            payment_timeout: Duration::from_secs(30 * 60),
            idempotency_days: 7,
            // The limits are off in tests (most of them are one caller sending many
            // commands); tests/e2e/limits.rs turns them on.
            max_unpaid_checkouts_per_shopper: 0,
            write_rate_per_minute: 0,
            // Sealed on demand (`TestApp::seal_now`); a test that wants the task shortens it.
            seal_interval: Duration::from_secs(3600),
            seal_key_file: Some(seal_dir(&database.name).join("otop-seal.key")),
            seal_file: None,
            // The pages' development sign-in and "pay (demo)" are what the browser tests
            // drive; the JSON API is the same either way.
            demo: true,
            promptpay_id: Some("0812345678".to_string()),
            public_url: "http://127.0.0.1".to_string(),
            oidc: None,
        };
        configure(&mut config);
        let server = otop_api::start(config, database.pool.clone())
            .await
            .expect("start the API");
        TestApp {
            base_url: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            pool: database.pool.clone(),
            keys: AuthKeys::new(JWT_SECRET),
            database: Some(database),
            server: Some(server),
        }
    }

    pub fn token(&self, actor: &Actor) -> String {
        self.keys
            .issue(actor, chrono::Duration::hours(1))
            .expect("sign a test token")
    }

    pub fn admin(&self) -> String {
        self.token(&Actor::new("admin-1", Role::Admin))
    }

    pub fn shopper(&self, subject: &str) -> String {
        self.token(&Actor::new(subject, Role::Shopper))
    }

    pub fn vendor(&self, vendor_id: Uuid) -> String {
        self.token(&Actor::vendor(
            format!("vendor-user-{vendor_id}"),
            vendor_id,
        ))
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read the reply body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, None, &[]).await
    }

    /// POSTs `body` as JSON; `Value::Null` sends no body at all.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        let body = (!body.is_null()).then_some(body);
        self.request(Method::POST, path, Some(token), body.as_ref(), &[])
            .await
    }

    /// A vendor of Khwao Sinarin that applied and was approved; returns its id.
    pub async fn approved_vendor(&self, name_th: &str) -> Uuid {
        self.approved_vendor_in(name_th, "3216").await
    }

    /// A vendor of `district_code` that applied and was approved; returns its id.
    pub async fn approved_vendor_in(&self, name_th: &str, district_code: &str) -> Uuid {
        let reply = self
            .post(
                "/v1/vendors",
                &self.shopper("applicant"),
                serde_json::json!({
                    "name_th": name_th,
                    "name_en": "Test Weavers",
                    "district_code": district_code,
                    "producer_type": "community_group",
                    "phone": "044-511-234",
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        let id: Uuid = reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("vendor id");
        let approved = self
            .post(
                &format!("/v1/vendors/{id}/approve"),
                &self.admin(),
                Value::Null,
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
        id
    }

    /// A listing of `vendor_id` with `stock` units, created and published.
    pub async fn published_listing(&self, vendor_id: Uuid, stock: i64) -> Uuid {
        let listing = self.draft_listing(vendor_id, stock).await;
        let published = self
            .post(
                &format!("/v1/listings/{listing}/publish"),
                &self.vendor(vendor_id),
                Value::Null,
            )
            .await;
        assert_eq!(published.status, StatusCode::OK, "{published:?}");
        listing
    }

    /// A draft listing of `vendor_id` with `stock` units; returns its id.
    pub async fn draft_listing(&self, vendor_id: Uuid, stock: i64) -> Uuid {
        let reply = self
            .post(
                "/v1/listings",
                &self.vendor(vendor_id),
                serde_json::json!({
                    "title_th": "ผ้าไหมมัดหมี่ ลายนาค สีแดงครั่ง 2 เมตร",
                    "title_en": "Mudmee silk, naga motif, lac red, 2 m",
                    "category_code": "TEXTILE",
                    "subtype_code": "TEX_SILK_MUDMEE",
                    "price_satang": 350000,
                    "stock": stock,
                    "otop_stars": 5,
                    "tags": ["ผ้าไหม", "silk"],
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("listing id")
    }

    /// POSTs `body` as it is to the payment callback of `order_id`, with `signature` and a
    /// bearer token when given.
    pub async fn pay_raw(
        &self,
        order_id: impl std::fmt::Display,
        body: &[u8],
        signature: Option<&str>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/v1/orders/{order_id}/payments", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Otop-Signature", signature);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read the reply body");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The payment provider's callback for `order_id`, signed as the provider signs it.
    pub async fn pay(
        &self,
        order_id: impl std::fmt::Display,
        amount_satang: i64,
        reference: &str,
    ) -> Reply {
        let body = serde_json::to_vec(&serde_json::json!({
            "order_id": order_id.to_string(),
            "amount_satang": amount_satang,
            "reference": reference,
        }))
        .expect("serialise the payment");
        let signature = sign_payment(PAYMENT_SECRET, &body);
        self.pay_raw(order_id, &body, Some(&signature), None).await
    }

    /// Waits (up to a minute) until the checkout process manager has handled every event.
    pub async fn wait_for_checkout_process(&self) {
        self.wait_for_checkout_process_within(Duration::from_secs(60))
            .await
    }

    /// Waits up to `timeout` until the checkout process manager has handled every event.
    pub async fn wait_for_checkout_process_within(&self, timeout: Duration) {
        use otop_projections::checkpoint;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let cursor = checkpoint::read(
                &self.pool,
                otop_projections::process_manager::CHECKOUT_PROCESS,
            )
            .await
            .expect("checkpoint")
            .unwrap_or_default();
            if checkpoint::lag(&self.pool, cursor, i64::MAX)
                .await
                .expect("lag")
                == 0
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the process manager did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Seals the log now with the server's key and seal file (as the seal task does).
    pub async fn seal_now(&self) -> Option<otop_projections::seal::Seal> {
        let sealing = self.state().seals.clone().expect("sealing is configured");
        otop_projections::seal::seal_now(&self.pool, &sealing.key, &sealing.file)
            .await
            .expect("seal the log")
    }

    /// The seal file the server appends to.
    pub fn seal_file(&self) -> std::path::PathBuf {
        let sealing = self.state().seals.clone().expect("sealing is configured");
        sealing.file.clone()
    }

    /// The URL of this test's database.
    pub fn database_url(&self) -> &str {
        self.database.as_ref().map_or("", |d| d.url.as_str())
    }

    /// What a process that died after its command committed, and before it stored the
    /// reply, leaves behind: every Idempotency-Key claim made old and incomplete. Returns how
    /// many claims it abandoned.
    pub async fn abandon_idempotency_claims(&self) -> u64 {
        sqlx::query(
            "UPDATE idempotency_keys SET completed_at = NULL, status_code = NULL, response_body = NULL,
                    created_at = now() - interval '10 minutes'",
        )
        .execute(&self.pool)
        .await
        .expect("simulate the crash")
        .rows_affected()
    }

    /// The name of this test's database.
    pub fn database_name(&self) -> &str {
        self.database.as_ref().map_or("", |d| d.name.as_str())
    }

    /// A connection to the server's `postgres` database, for statements about this test's
    /// database as a whole (its connections, whether it takes new ones).
    pub async fn server_admin(&self) -> PgConnection {
        let options = PgConnectOptions::from_str(&server_url())
            .expect("TEST_DATABASE_URL is a postgres URL")
            .database("postgres");
        PgConnection::connect_with(&options)
            .await
            .expect("connect to the postgres database")
    }

    /// Stops the in-process server and keeps the database (for a test that serves it from
    /// another process next). Requests to `base_url` fail from now on.
    pub async fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.shutdown().await;
        }
    }

    /// The server's state (stores, pool, configuration), for tests that drive it directly.
    /// Seeds the Surin demo catalog through real commands and waits until the search index
    /// has it; returns the log head.
    pub async fn seed_demo(&self) -> i64 {
        otop_api::seed::seed(self.state(), otop_api::seed::DEMO_CATALOG)
            .await
            .expect("seed the demo catalog");
        let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("the log head");
        let reply = self
            .get(&format!("/v1/search?min_position={head}&per_page=1"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        head
    }

    pub fn state(&self) -> &otop_api::AppState {
        &self.server.as_ref().expect("server running").state
    }

    /// Stops the server and drops the test's database.
    pub async fn cleanup(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.shutdown().await;
        }
        if let Some(database) = self.database.take() {
            let _ = std::fs::remove_dir_all(
                std::env::temp_dir().join(format!("{}-index", database.name)),
            );
            let _ = std::fs::remove_dir_all(seal_dir(&database.name));
            database.drop_database().await;
        }
    }
}

/// Where a test's seal key and seal file live.
fn seal_dir(database: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{database}-seals"))
}

/// A free port on the loopback interface (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// An API process of its own (`otop-e2e-server`, configured as `otop serve` is) on this
/// test's database, for the tests that kill one or run several. Killed when dropped.
pub struct ServerProcess {
    pub base_url: String,
    child: std::process::Child,
    index_dir: std::path::PathBuf,
}

impl ServerProcess {
    /// Starts one on `database_url` and waits until it answers `/healthz`. Its database
    /// connections carry `application_name` = `name` (so a test can tell whose a lock is);
    /// `env` adds to or overrides the configuration.
    pub async fn start(
        server_binary: &str,
        database_url: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let port = free_port();
        let separator = if database_url.contains('?') { '&' } else { '?' };
        let index_dir = std::env::temp_dir().join(format!("{name}-{port}-index"));
        let mut command = std::process::Command::new(server_binary);
        command
            .env(
                "DATABASE_URL",
                format!("{database_url}{separator}application_name={name}"),
            )
            .env("OTOP_BIND", format!("127.0.0.1:{port}"))
            .env("OTOP_JWT_SECRET", JWT_SECRET)
            .env("OTOP_PAYMENT_SECRET", PAYMENT_SECRET)
            .env("OTOP_INDEX_DIR", &index_dir)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start the API process");
        let process = ServerProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            index_dir,
        };
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while client
            .get(format!("{}/healthz", process.base_url))
            .send()
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the API process {name} never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process
    }

    /// `kill -9`: the process dies where it stands, its connections with it.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9 the API process");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.index_dir);
    }
}
