//! The pages of otop-market: server-rendered HTML, Thai first (`?lang=en` for English), every
//! flow a plain form that works with JavaScript off. Templates (askama) and the stylesheet are
//! compiled into the binary; nothing is fetched from anywhere else. Each page calls the same
//! `otop_app` function as its JSON call, so the two faces cannot disagree.

pub mod artwork;
pub mod charts;
pub mod error;
pub mod format;
pub mod i18n;
pub mod layout;
pub mod oidc;
pub mod pages;
pub mod promptpay;
pub mod session;

use axum::routing::{get, post};
use axum::Router;
use otop_app::AppState;
use tower_http::compression::CompressionLayer;
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use pages::{
    admin, analytics, audit, cart, home, listing, orders, photos, search, seo, sign_in, vendor,
};

/// The session table (migrations/20261203000001_web_sessions.sql).
const SESSION_TABLE: &str = "web_sessions";
/// A session ends after a week without a visit.
const SESSION_IDLE_DAYS: i64 = 7;

fn session_store(state: &AppState) -> Result<PostgresStore, String> {
    PostgresStore::new(state.pool.clone())
        .with_schema_name("public")?
        .with_table_name(SESSION_TABLE)
}

/// Every page, with the session layer (cookie `otop_session`: HttpOnly, SameSite=Lax, Secure
/// when the site is served over https) and compression.
pub fn router(state: AppState) -> Result<Router, String> {
    let secure = state.config.public_url.starts_with("https://");
    let sessions = SessionManagerLayer::new(session_store(&state)?)
        .with_name("otop_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(
            SESSION_IDLE_DAYS,
        )));
    Ok(Router::new()
        .route("/", get(home::home))
        .route("/search", get(search::search_page))
        .route("/listings/{id}", get(listing::listing_page))
        .route("/cart", get(cart::cart_page))
        .route("/cart/add", post(cart::add_to_cart))
        .route("/cart/update", post(cart::update_cart))
        .route("/checkout", post(cart::checkout))
        .route("/orders", get(orders::orders_page))
        .route("/orders/{id}", get(orders::order_page))
        .route("/orders/{id}/pay-demo", post(orders::pay_demo))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/sign-in", get(sign_in::sign_in_page))
        .route("/sign-in/dev", post(sign_in::dev_sign_in))
        .route("/sign-in/oidc", get(sign_in::oidc_begin))
        .route(oidc::CALLBACK_PATH, get(sign_in::oidc_callback))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/analytics", get(analytics::dashboard))
        .route("/analytics/sales.csv", get(analytics::sales_csv))
        .route(
            "/analytics/top-listings.csv",
            get(analytics::top_listings_csv),
        )
        .route("/vendor", get(vendor::console))
        .route(
            "/vendor/listings",
            post(vendor::create_listing).layer(vendor::create_body_limit()),
        )
        .route("/vendor/balance.csv", get(vendor::balance_csv))
        .route("/vendor/listings/{id}/{verb}", post(vendor::change_listing))
        .route("/vendor/orders/{id}/{verb}", post(vendor::fulfil_order))
        .route("/audit", get(audit::desk))
        .route("/audit/orders/{id}", get(audit::order_page))
        .route("/audit/orders/{id}/history.csv", get(audit::history_csv))
        .route("/admin", get(admin::desk))
        .route("/admin/vendors/{id}/{verb}", post(admin::decide_vendor))
        .route("/admin/take-down", post(admin::take_down))
        .route("/photos/{key}/{file}", get(photos::photo))
        .route("/robots.txt", get(seo::robots))
        .route("/sitemap.xml", get(seo::sitemap))
        .layer(sessions)
        .layer(CompressionLayer::new())
        .with_state(state))
}

/// Deletes expired sessions (the server's housekeeping calls it hourly).
pub async fn delete_expired_sessions(state: &AppState) -> Result<(), String> {
    session_store(state)?
        .delete_expired()
        .await
        .map_err(|error| error.to_string())
}
