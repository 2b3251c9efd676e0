//! Sign-in through an OpenID Connect provider (LINE Login and ThaID are such providers), with
//! the `openidconnect` crate: the authorization-code flow with PKCE, a `state` checked
//! against the session, and the ID token's signature, issuer, audience and nonce verified.
//! Whoever signs in this way is a shopper, `oidc:<sub>`.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use otop_app::config::OidcConfig;
use otop_app::AppState;
use otop_domain::{Actor, Role};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::error::PageError;

/// Where the provider sends the browser back (registered with the provider).
pub const CALLBACK_PATH: &str = "/sign-in/oidc/callback";

/// What the session remembers between leaving for the provider and coming back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
}

fn http_client() -> Result<openidconnect::reqwest::Client, PageError> {
    // No redirects: an OpenID Connect client must not follow them (SSRF).
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|error| PageError::internal(format!("OpenID Connect HTTP client: {error}")))
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> PageError {
    PageError::App(otop_app::AppError::Unavailable(format!(
        "the sign-in provider: {what}: {error}"
    )))
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn client(
    state: &AppState,
    config: &OidcConfig,
    http: &openidconnect::reqwest::Client,
) -> Result<Client, PageError> {
    let issuer = IssuerUrl::new(config.issuer.clone())
        .map_err(|error| PageError::internal(format!("OTOP_OIDC_ISSUER: {error}")))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|error| unavailable("discovery", error))?;
    let redirect = RedirectUrl::new(format!("{}{CALLBACK_PATH}", state.config.public_url))
        .map_err(|error| PageError::internal(format!("OTOP_PUBLIC_URL: {error}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(
            config.client_secret.expose_secret().to_string(),
        )),
    )
    .set_redirect_uri(redirect))
}

/// The provider's authorization URL for a new sign-in, and what to remember until the
/// browser comes back.
pub async fn begin(
    state: &AppState,
    config: &OidcConfig,
    next: String,
) -> Result<(String, PendingSignIn), PageError> {
    let http = http_client()?;
    let client = client(state, config, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(challenge)
        .url();
    Ok((
        url.to_string(),
        PendingSignIn {
            state: csrf.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next,
        },
    ))
}

/// The shopper the provider vouches for, after checking `state`, exchanging `code` (with
/// the PKCE verifier) and verifying the ID token.
pub async fn finish(
    state: &AppState,
    config: &OidcConfig,
    pending: &PendingSignIn,
    returned_state: &str,
    code: &str,
) -> Result<Actor, PageError> {
    // Compared as hashes, so the time taken says nothing of the expected value.
    use sha2::{Digest, Sha256};
    if Sha256::digest(returned_state.as_bytes()) != Sha256::digest(pending.state.as_bytes()) {
        return Err(PageError::CsrfRejected);
    }
    let http = http_client()?;
    let client = client(state, config, &http).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|error| unavailable("token endpoint", error))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|error| {
            PageError::App(otop_app::AppError::Unauthorized(format!(
                "the sign-in provider refused the code: {error}"
            )))
        })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        PageError::App(otop_app::AppError::Unauthorized(
            "the sign-in provider sent no ID token".into(),
        ))
    })?;
    let claims = id_token
        .claims(
            &client.id_token_verifier(),
            &Nonce::new(pending.nonce.clone()),
        )
        .map_err(|error| {
            PageError::App(otop_app::AppError::Unauthorized(format!(
                "the ID token does not verify: {error}"
            )))
        })?;
    Ok(Actor::new(
        format!("oidc:{}", claims.subject().as_str()),
        Role::Shopper,
    ))
}
