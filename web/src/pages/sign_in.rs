//! `/sign-in`, `/sign-in/dev` (under `--demo` only) and `/sign-out`. A session holds the
//! actor who signed in; the pages check roles with the same `otop_app` functions as the API.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::AppState;
use otop_domain::{Actor, Role};
use serde::Deserialize;
use uuid::Uuid;

use super::{html, local_path, read_form};
use crate::error::PageError;
use crate::layout::Layout;
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub l: Layout,
    pub next: String,
    /// The OpenID Connect provider's name, when one is configured.
    pub provider: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    pub next: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<SignInQuery>,
) -> Result<Response, PageError> {
    let t = crate::i18n::texts(visitor.lang);
    let l = Layout::new(
        &state,
        &visitor,
        "/sign-in",
        format!("{} · {}", t.sign_in_title, t.site_name),
        t.sign_in_title.to_string(),
        true,
    )
    .await?;
    html(&SignInPage {
        next: local_path(query.next.as_deref()),
        provider: state.config.oidc.as_ref().map(|oidc| oidc.name.clone()),
        l,
    })
}

#[derive(Debug, Deserialize)]
pub struct DevSignInForm {
    #[serde(default)]
    pub csrf: String,
    pub role: String,
    #[serde(default)]
    pub vendor_id: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub next: String,
}

/// Signs in as any role, for trying the product: only under `--demo` (a 404 otherwise).
pub async fn dev_sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    body: Bytes,
) -> Result<Response, PageError> {
    if !state.config.demo {
        return Err(PageError::NotFound);
    }
    let form: DevSignInForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let role = match Role::parse(form.role.trim()) {
        Some(Role::System) | None => {
            return Err(PageError::BadForm(
                "role must be one of shopper, vendor, admin, auditor, analyst".into(),
            ))
        }
        Some(role) => role,
    };
    let subject = match form.subject.trim() {
        "" => format!("demo-{}", role.as_str()),
        text if text.chars().count() <= 100 && !text.chars().any(char::is_control) => {
            text.to_string()
        }
        _ => {
            return Err(PageError::BadForm(
                "subject must be at most 100 printable characters".into(),
            ))
        }
    };
    let actor = if role == Role::Vendor {
        let vendor_id = Uuid::parse_str(form.vendor_id.trim())
            .map_err(|_| PageError::BadForm("a vendor needs its vendor_id (a UUID)".into()))?;
        Actor::vendor(subject, vendor_id)
    } else {
        Actor::new(subject, role)
    };
    visitor.sign_in(&actor).await?;
    tracing::info!(role = actor.role.as_str(), subject = %actor.id, "development sign-in");
    Ok(Redirect::to(&local_path(Some(&form.next))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(visitor: Visitor, body: Bytes) -> Result<Response, PageError> {
    let form: SignOutForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    visitor.sign_out().await?;
    Ok(Redirect::to("/").into_response())
}

const PENDING_OIDC_KEY: &str = "oidc_pending";

/// Leaves for the OpenID Connect provider (a 404 when none is configured).
pub async fn oidc_begin(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<SignInQuery>,
) -> Result<Response, PageError> {
    let Some(config) = state.config.oidc.clone() else {
        return Err(PageError::NotFound);
    };
    let next = local_path(query.next.as_deref());
    let (url, pending) = crate::oidc::begin(&state, &config, next).await?;
    visitor.session.insert(PENDING_OIDC_KEY, &pending).await?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Back from the provider: the code exchanged, the ID token verified, the shopper signed in.
pub async fn oidc_callback(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let Some(config) = state.config.oidc.clone() else {
        return Err(PageError::NotFound);
    };
    // A pending sign-in is used once, whatever happens next.
    let pending = visitor
        .session
        .remove::<crate::oidc::PendingSignIn>(PENDING_OIDC_KEY)
        .await?
        .ok_or(PageError::CsrfRejected)?;
    if let Some(error) = query.error {
        return Err(PageError::App(otop_app::AppError::Unauthorized(format!(
            "the sign-in provider said: {error}"
        ))));
    }
    let (Some(code), Some(returned_state)) = (query.code, query.state) else {
        return Err(PageError::BadForm(
            "the provider's answer has no code and state".into(),
        ));
    };
    let actor = crate::oidc::finish(&state, &config, &pending, &returned_state, &code).await?;
    visitor.sign_in(&actor).await?;
    tracing::info!(subject = %actor.id, "signed in through OpenID Connect");
    Ok(Redirect::to(&pending.next).into_response())
}
