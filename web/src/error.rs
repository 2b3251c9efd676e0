//! The pages' one error, and the one place where it becomes a response: a page in Thai and
//! English with the status the JSON API would give the same failure, or a redirect to
//! sign-in. A client's mistake is never a 500.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::AppError;

use crate::i18n::{EN, TH};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    App(#[from] AppError),
    /// A POST without this session's CSRF token (an old tab, or another site's form).
    #[error("the form's CSRF token is missing or stale")]
    CsrfRejected,
    /// The page needs a signed-in visitor: go to sign-in, then back to `back_to`.
    #[error("sign in first")]
    SignInFirst { back_to: String },
    #[error("no such page")]
    NotFound,
    /// A form that could not be read (a missing field, a number that is not one).
    #[error("{0}")]
    BadForm(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl PageError {
    pub fn internal(message: impl Into<String>) -> Self {
        PageError::Internal(message.into())
    }
}

impl From<tower_sessions::session::Error> for PageError {
    fn from(error: tower_sessions::session::Error) -> Self {
        PageError::Internal(format!("session store: {error}"))
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> Self {
        PageError::Internal(format!("template: {error}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    th: &'a crate::i18n::Texts,
    en: &'a crate::i18n::Texts,
    status: u16,
    detail_th: String,
    detail_en: String,
    fields: Vec<(String, String)>,
}

fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::Malformed(_) => StatusCode::BAD_REQUEST,
        AppError::Invalid(_) | AppError::IdempotencyKeyReused(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) | AppError::LinesRejected(_) => StatusCode::CONFLICT,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, detail_th, detail_en, fields) = match &self {
            PageError::SignInFirst { back_to } => {
                let next = crate::pages::query_escape(back_to);
                return Redirect::to(&format!("/sign-in?next={next}")).into_response();
            }
            PageError::CsrfRejected => (
                StatusCode::FORBIDDEN,
                TH.form_expired.to_string(),
                EN.form_expired.to_string(),
                Vec::new(),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                TH.not_found.to_string(),
                EN.not_found.to_string(),
                Vec::new(),
            ),
            PageError::BadForm(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                TH.fix_fields.to_string(),
                message.clone(),
                Vec::new(),
            ),
            PageError::Internal(cause) => {
                tracing::error!(error = %cause, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    TH.error_title.to_string(),
                    EN.error_title.to_string(),
                    Vec::new(),
                )
            }
            PageError::App(error) => {
                if let AppError::Internal(cause) = error {
                    tracing::error!(error = %cause, "page failed");
                }
                let status = status_of(error);
                let fields = match error {
                    AppError::Invalid(fields) | AppError::LinesRejected(fields) => fields
                        .iter()
                        .map(|f| (f.field.clone(), f.message.clone()))
                        .collect(),
                    _ => Vec::new(),
                };
                let detail = match error {
                    AppError::Internal(_) => EN.error_title.to_string(),
                    AppError::NotFound(_) => EN.not_found.to_string(),
                    other => other.to_string(),
                };
                let detail_th = match error {
                    AppError::NotFound(_) => TH.not_found,
                    AppError::Invalid(_) => TH.fix_fields,
                    AppError::LinesRejected(_) => TH.lines_not_reservable,
                    _ => TH.error_title,
                };
                (status, detail_th.to_string(), detail, fields)
            }
        };
        let page = ErrorPage {
            th: &TH,
            en: &EN,
            status: status.as_u16(),
            detail_th,
            detail_en,
            fields,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>error</title>".to_string());
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
