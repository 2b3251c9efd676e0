//! The composition root: the router with its middleware, the OpenAPI document, and a server
//! that starts (creating and migrating the database) and stops gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::serve::ListenerExt;
use axum::Router;
use otop_projections::process_manager::{expire_unpaid, CheckoutProcess};
use otop_projections::runner::{self, RunnerHandle, RunnerSettings};
use otop_projections::{Projection, ProjectionKind};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::{keep_only_uuid_request_ids, REQUEST_ID_HEADER};
use crate::idempotency::{idempotency, run_to_completion};
use crate::problem::ApiError;
use crate::routes::{analytics, audit, seals};
use crate::routes::{checkouts, health, listings, orders, search, vendors};
use crate::routes::{ledger, order_commands, payments, photos};
use otop_app::config::Config;
use otop_app::state::{AppState, Sealing};
use otop_projections::seal::SealKey;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "otop-market",
        version = "1",
        description = "The Surin OTOP marketplace API. Money is integer satang; errors are application/problem+json."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "vendors", description = "Producer groups and the provincial office's decisions"),
        (name = "listings", description = "Products, prices and stock"),
        (name = "orders", description = "Orders by shopper and by vendor"),
        (name = "checkout", description = "One checkout across several producers"),
        (name = "search", description = "Faceted listing search in Thai and English"),
        (name = "operations", description = "Health and readiness"),
        (name = "audit", description = "Order histories, orders as of an instant, and the tamper-evident log (auditors)"),
        (name = "analytics", description = "Sales by Bangkok day, district and OTOP product type (analysts)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every route, documented; `openapi()` returns the same document `/openapi.json` serves.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(vendors::apply_vendor, vendors::list_vendors))
        .routes(routes!(vendors::get_vendor, vendors::update_vendor))
        .routes(routes!(vendors::approve_vendor))
        .routes(routes!(vendors::reject_vendor))
        .routes(routes!(vendors::suspend_vendor))
        .routes(routes!(vendors::reinstate_vendor))
        .routes(routes!(vendors::close_vendor))
        .routes(routes!(listings::create_listing, listings::list_listings))
        .routes(routes!(listings::get_listing, listings::update_listing))
        .routes(routes!(listings::change_price))
        .routes(routes!(listings::change_stock))
        .routes(routes!(listings::publish_listing))
        .routes(routes!(listings::unpublish_listing))
        .routes(routes!(listings::archive_listing))
        .routes(routes!(listings::take_down_listing))
        .routes(routes!(checkouts::create_checkout))
        .routes(routes!(search::search))
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(payments::record_payment))
        .routes(routes!(order_commands::accept_order))
        .routes(routes!(order_commands::pack_order))
        .routes(routes!(order_commands::ship_order))
        .routes(routes!(order_commands::deliver_order))
        .routes(routes!(order_commands::cancel_order))
        .routes(routes!(order_commands::refund_order))
        .routes(routes!(ledger::vendor_balance))
        .routes(routes!(audit::order_history))
        .routes(routes!(audit::order_as_of))
        .routes(routes!(audit::verify_log))
        .routes(routes!(seals::latest_seal))
        .routes(routes!(seals::list_seals))
        .routes(routes!(seals::public_key))
        .routes(routes!(seals::event_proof))
        .routes(routes!(analytics::sales))
        .routes(routes!(analytics::top_listings))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(photos::upload_photo))
                .layer(photos::body_limit()),
        )
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The JSON API and the pages, under the request-id, tracing and run-to-completion layers.
/// The API's middleware (idempotency, vendor standing, write limits) is the API's alone.
pub fn router(state: AppState) -> std::io::Result<Router> {
    let http_metrics = crate::metrics::HttpMetrics::new().map_err(std::io::Error::other)?;
    let pages = otop_web::router(state.clone()).map_err(std::io::Error::other)?;
    let (routes, openapi) = api_router().split_for_parts();
    let routes = routes
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::Malformed("this method is not allowed on this path".into())
        })
        .layer(from_fn_with_state(state.clone(), idempotency))
        .layer(from_fn_with_state(
            state.clone(),
            crate::vendor_standing::enforce,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::limits::limit_writes,
        ))
        // JSON and CSV replies compress well (a 20-hit search reply is about 12 kB as it
        // stands); only for clients that ask (`Accept-Encoding`), as the pages already are.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state);
    let docs = Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .layer(from_fn(cache_static_docs));
    Ok(Router::new()
        .merge(docs)
        .merge(pages)
        .merge(routes)
        .layer(from_fn_with_state(
            http_metrics.clone(),
            crate::metrics::record,
        ))
        .layer(axum::Extension(http_metrics))
        .layer(from_fn(run_to_completion))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(from_fn(keep_only_uuid_request_ids)))
}

/// How long browsers and proxies keep the API docs' static files (the Swagger UI vendored
/// into the binary). Their URLs carry no version, so a day rather than forever: a new release
/// reaches every reader by the next day.
pub const DOCS_CACHE_CONTROL: &str = "public, max-age=86400";

/// Cache headers on the docs' static files (`/docs/...`); the OpenAPI document itself is
/// generated and left to revalidate.
async fn cache_static_docs(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_static = request.uri().path().starts_with("/docs/");
    let mut response = next.run(request).await;
    if is_static && response.status().is_success() {
        response
            .headers_mut()
            .entry(axum::http::header::CACHE_CONTROL)
            .or_insert(axum::http::HeaderValue::from_static(DOCS_CACHE_CONTROL));
    }
    response
}

/// An unknown path: a problem document under `/v1/`, a page everywhere else.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/v1/") || uri.path() == "/v1" {
        ApiError::NotFound("no such route".into()).into_response()
    } else {
        otop_web::error::PageError::NotFound.into_response()
    }
}

/// Connects to the database named in `config`, creating and migrating it as needed.
pub async fn prepare_database(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    otop_projections::db::create_database_if_missing(&config.database_url).await?;
    let pool = otop_projections::db::connect(&config.database_url, config.database_max_connections)
        .await?;
    otop_projections::db::migrate(&pool).await?;
    Ok(pool)
}

/// A server running in the background; dropping it does not stop it, `shutdown` does.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    runners: Vec<RunnerHandle>,
    expiry: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    sealer: Option<otop_projections::seal::SealTask>,
}

impl RunningServer {
    /// Stops accepting connections, lets requests in flight finish, stops the projection
    /// runners after their current batch, and waits for all of it.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        let served = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(sealer) = self.sealer {
            sealer.stop().await;
        }
        if let Some((stop, task)) = self.expiry {
            let _ = stop.send(());
            let _ = task.await;
        }
        for runner in self.runners {
            runner.stop().await;
        }
        served
    }
}

/// Connections reserved for the projection runners, the checkout process manager and the
/// search feed (six consumers, the process manager's commands beside them).
const WORKER_CONNECTIONS: u32 = 10;

/// Starts one runner per projection (each waits as a standby if another process runs it).
pub fn spawn_projection_runners(pool: &sqlx::PgPool) -> Vec<RunnerHandle> {
    ProjectionKind::ALL
        .into_iter()
        .map(|kind| {
            let projection: Arc<dyn Projection> = Arc::from(kind.build(""));
            runner::spawn(pool.clone(), projection, RunnerSettings::default())
        })
        .collect()
}

/// The search feed pauses a little longer than the read models after a batch (see
/// `RunnerSettings::coalesce`): one index commit then covers the commits of several commands.
const SEARCH_FEED_COALESCE: std::time::Duration = std::time::Duration::from_millis(25);

/// Starts the search feed on a runner: locked by the index it feeds (one Meilisearch index
/// is fed by one process at a time; an embedded index by its own process).
pub fn spawn_search_feed(
    pool: &sqlx::PgPool,
    index: Arc<dyn otop_search::SearchIndex>,
) -> RunnerHandle {
    let feed = otop_projections::search_feed::SearchFeed::new(pool.clone(), index);
    let settings = RunnerSettings {
        coalesce: SEARCH_FEED_COALESCE,
        ..RunnerSettings::default()
    };
    runner::spawn(pool.clone(), Arc::new(feed), settings)
}

/// Opens the configured search index: Meilisearch when `MEILI_URL` is set, else embedded.
pub async fn open_search(config: &Config) -> std::io::Result<Arc<dyn otop_search::SearchIndex>> {
    otop_search::open_from_env_or_dir(
        config.meili_url.clone(),
        config.meili_key.clone(),
        config.index_dir.clone(),
    )
    .await
    .map(Arc::from)
    .map_err(std::io::Error::other)
}

/// Expires unpaid orders every few seconds (their stock is then released by the checkout
/// process manager).
/// How often Idempotency-Keys past `OTOP_IDEMPOTENCY_DAYS` are purged.
const IDEMPOTENCY_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// What time drives: unpaid orders expire, and old Idempotency-Keys are purged (once at
/// start, then hourly).
fn spawn_housekeeping(state: AppState) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let interval = (state.config.payment_timeout / 10).clamp(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(30),
    );
    let task = tokio::spawn(async move {
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|at| at.elapsed() >= IDEMPOTENCY_PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                let days = state.config.idempotency_days;
                match crate::idempotency::purge_expired(&state.pool, days).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, days, "purged old Idempotency-Keys"),
                    Err(error) => tracing::warn!(%error, "purging Idempotency-Keys failed"),
                }
                if let Err(error) = otop_web::delete_expired_sessions(&state).await {
                    tracing::warn!(%error, "deleting expired sessions failed");
                }
            }
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match expire_unpaid(&state.pool, &state.orders, state.config.payment_timeout).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "expired unpaid orders"),
                Err(error) => tracing::warn!(%error, "expiring unpaid orders failed"),
            }
        }
    });
    (stop, task)
}

/// The seal key (made when its file is missing: see `Config::require_seal_key_file` for
/// production) and the seal file, when `OTOP_SEAL_KEY_FILE` is configured.
pub fn open_sealing(config: &Config) -> std::io::Result<Option<Arc<Sealing>>> {
    let (Some(key_file), Some(file)) = (&config.seal_key_file, config.seal_file_path()) else {
        return Ok(None);
    };
    let (key, made) = SealKey::load_or_generate(key_file).map_err(std::io::Error::other)?;
    let public = key.public();
    if made {
        tracing::warn!(key_file = %key_file.display(), key_id = %public.key_id(),
            public_key = %public.hex(), "made a new seal key");
    }
    tracing::info!(key_id = %public.key_id(), seal_file = %file.display(), "sealing the log");
    Ok(Some(Arc::new(Sealing {
        key: Arc::new(key),
        file,
    })))
}

/// Binds `config.bind` (port 0 picks a free port) and serves until `shutdown`.
pub async fn start(config: Config, pool: sqlx::PgPool) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    // The server works as the application role, whatever `pool` connects as: it may append
    // to the log and read it, never change it.
    let pool = otop_projections::db::app_pool(&pool, config.database_max_connections)
        .await
        .map_err(std::io::Error::other)?;
    let search = open_search(&config).await?;
    let sealing = open_sealing(&config)?;
    let mut state = AppState::new(pool.clone(), config, search);
    state.seals = sealing;
    // One sealer across processes (an advisory lock); each seal has a connection of its own.
    let sealer = state.seals.as_ref().map(|sealing| {
        otop_projections::seal::spawn(
            pool.clone(),
            sealing.key.clone(),
            sealing.file.clone(),
            state.config.seal_interval,
        )
    });
    let runners = if state.config.run_projections {
        // Background work gets connections of its own, so a burst of requests can never
        // starve the projections and the process manager that those requests wait for.
        let worker_pool = otop_projections::db::app_pool(&pool, WORKER_CONNECTIONS)
            .await
            .map_err(std::io::Error::other)?;
        let mut runners = spawn_projection_runners(&worker_pool);
        let process = CheckoutProcess::new(worker_pool.clone());
        let settings = RunnerSettings {
            batch_size: 100,
            ..RunnerSettings::default()
        };
        if state.config.run_checkout_process {
            runners.push(runner::spawn(
                worker_pool.clone(),
                Arc::new(process),
                settings,
            ));
        }
        runners.push(spawn_search_feed(&worker_pool, state.search.clone()));
        runners
    } else {
        Vec::new()
    };
    let expiry = state
        .config
        .run_projections
        .then(|| spawn_housekeeping(state.clone()));
    let app = router(state.clone())?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // The client's address is what a write without a token counts against.
        // TCP_NODELAY: a reply goes out as soon as it is written. Without it, a body that
        // follows its headers in a second write waits behind Nagle's algorithm for the
        // client's (delayed) acknowledgement of the first.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
            }
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
    });
    tracing::info!(%addr, "listening");
    Ok(RunningServer {
        addr,
        state,
        stop,
        task,
        runners,
        expiry,
        sealer,
    })
}
