//! Sign-in through a real OpenID Connect provider (the npm package `oidc-provider`, started
//! here from `tests/oidc/`): in Chromium, a shopper leaves for the provider, signs in there,
//! and comes back signed in; a callback whose `state` is not the session's signs nobody in.

use otop_e2e::browser::{self, Browser};
use otop_e2e::node_fixture::{self, free_port, NodeFixture};
use otop_e2e::web::WebVisitor;
use otop_e2e::TestApp;
use reqwest::StatusCode;

const CLIENT_ID: &str = "otop-e2e";
const CLIENT_SECRET: &str = "otop-e2e-client-secret";

/// Whether the provider can run here: `npm ci` in tests/oidc (`.ci/run` does it and sets
/// `OTOP_REQUIRE_OIDC_PROVIDER=1`, so there its absence fails instead of skipping).
fn provider_available() -> bool {
    node_fixture::installed("oidc", "oidc-provider", "OTOP_REQUIRE_OIDC_PROVIDER")
}

/// The provider (`tests/oidc/provider.mjs`); its address is the issuer.
fn start_provider(redirect_uri: &str) -> NodeFixture {
    NodeFixture::start(
        "oidc",
        "provider.mjs",
        &[
            ("OIDC_PORT", free_port().to_string()),
            ("OIDC_CLIENT_ID", CLIENT_ID.to_string()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.to_string()),
            ("OIDC_REDIRECT_URI", redirect_uri.to_string()),
        ],
    )
}

/// The app and the provider, each knowing the other's address.
async fn app_with_provider() -> (TestApp, NodeFixture) {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let provider = start_provider(&format!("{public_url}/sign-in/oidc/callback"));
    let issuer = provider.address.clone();
    let app = TestApp::spawn_with(|config| {
        config.bind = format!("127.0.0.1:{port}").parse().expect("an address");
        config.public_url = public_url.clone();
        config.demo = false;
        config.oidc = Some(otop_api::config::OidcConfig {
            issuer,
            client_id: CLIENT_ID.to_string(),
            client_secret: CLIENT_SECRET.to_string().into(),
            name: "LINE".to_string(),
        });
    })
    .await;
    (app, provider)
}

#[tokio::test]
async fn a_shopper_signs_in_through_the_provider_and_comes_back_signed_in() {
    if !provider_available() || !browser::available() {
        return;
    }
    let (app, _provider) = app_with_provider().await;
    let base = app.base_url.clone();
    let browser = Browser::start("oidc-sign-in", false).await;
    browser
        .journey(async |b: &Browser| {
            b.client
                .goto(&format!("{base}/sign-in?next=%2Forders"))
                .await
                .expect("open sign-in");
            b.click("#oidc-sign-in button").await;
            // At the provider now: its own login page.
            b.fill("[name=login]", "alice").await;
            assert!(!b.url().await.starts_with(&base), "left for the provider");
            b.click("#sign-in").await;
            // Back, signed in, on the page asked for.
            b.find("form[action='/sign-out']").await;
            assert!(
                b.url().await.starts_with(&format!("{base}/orders")),
                "{}",
                b.url().await
            );
            let who = b
                .find("form[action='/sign-out'] button")
                .await
                .attr("title")
                .await
                .expect("attr")
                .unwrap_or_default();
            assert!(who.ends_with("shopper: oidc:alice"), "{who}");
        })
        .await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_callback_with_another_state_signs_nobody_in() {
    if !provider_available() {
        return;
    }
    let (app, provider) = app_with_provider().await;
    let visitor = WebVisitor::new(&app.base_url);
    // Leaving for the provider records a pending sign-in in this session...
    let no_redirects = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let begin = no_redirects
        .get(format!("{}/sign-in/oidc", app.base_url))
        .send()
        .await
        .expect("begin");
    assert_eq!(begin.status(), StatusCode::SEE_OTHER);
    let location = begin
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the provider")
        .to_string();
    assert!(location.starts_with(&provider.address), "{location}");
    assert!(
        location.contains("code_challenge_method=S256"),
        "PKCE: {location}"
    );
    // ...and a callback carrying a state other than its own is refused, signing nobody in.
    let forged = no_redirects
        .get(format!(
            "{}/sign-in/oidc/callback?code=stolen&state=not-the-sessions",
            app.base_url
        ))
        .send()
        .await
        .expect("callback");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let orders = no_redirects
        .get(format!("{}/orders", app.base_url))
        .send()
        .await
        .expect("orders");
    assert_eq!(orders.status(), StatusCode::SEE_OTHER, "still signed out");
    // A callback with no sign-in pending at all is refused too.
    let stray = visitor.get("/sign-in/oidc/callback?code=x&state=y").await;
    assert_eq!(stray.status, StatusCode::FORBIDDEN);
    app.cleanup().await;
}
