//! The API's one error type, and the one place where errors become HTTP responses:
//! `application/problem+json` bodies in the style of RFC 9457. The application's own error
//! ([`AppError`]) arrives here variant for variant.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use otop_app::AppError;
use otop_domain::{DomainError, FieldError};
use otop_projections::checkout::CheckoutError;
use otop_projections::{AppendError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
const PROBLEM_BASE: &str = "https://otop.market/problems/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read at all (bad JSON, wrong content type, bad header).
    #[error("{0}")]
    Malformed(String),
    /// Values were read but are not acceptable.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The command conflicts with the current state (invalid transition, stale value, race).
    #[error("{0}")]
    Conflict(String),
    /// Checkout lines that cannot be reserved: a 409 naming each line in `errors`.
    #[error("some lines cannot be reserved")]
    LinesRejected(Vec<FieldError>),
    /// An Idempotency-Key was reused for a different request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// The request is fine but the system cannot serve it right now.
    #[error("{0}")]
    Unavailable(String),
    /// An abuse limit (API.md, Limits): try again after `retry_after_seconds`.
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_seconds: u64,
    },
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
            ),
            ApiError::Unauthorized(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized", "Not signed in")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
            ),
            ApiError::LinesRejected(_) => (
                StatusCode::CONFLICT,
                "lines-not-reservable",
                "Some lines cannot be reserved",
            ),
            ApiError::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with a different request",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    pub fn to_problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let (detail, errors) = match self {
            ApiError::Invalid(fields) | ApiError::LinesRejected(fields) => (
                fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(
                    fields
                        .iter()
                        .map(|f| ProblemField {
                            field: f.field.clone(),
                            message: f.message.clone(),
                        })
                        .collect(),
                ),
            ),
            // Never leak internals to the client; they are in the log.
            ApiError::Internal(_) => ("something went wrong on our side".to_string(), None),
            other => (other.to_string(), None),
        };
        Problem {
            problem_type: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
        }
        let problem = self.to_problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)],
            body,
        )
            .into_response();
        let retry_after = match &self {
            ApiError::Unavailable(_) => Some(1),
            ApiError::TooManyRequests {
                retry_after_seconds,
                ..
            } => Some((*retry_after_seconds).max(1)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Malformed(m) => ApiError::Malformed(m),
            AppError::Invalid(f) => ApiError::Invalid(f),
            AppError::Unauthorized(m) => ApiError::Unauthorized(m),
            AppError::Forbidden(m) => ApiError::Forbidden(m),
            AppError::NotFound(m) => ApiError::NotFound(m),
            AppError::Conflict(m) => ApiError::Conflict(m),
            AppError::LinesRejected(f) => ApiError::LinesRejected(f),
            AppError::IdempotencyKeyReused(m) => ApiError::IdempotencyKeyReused(m),
            AppError::Unavailable(m) => ApiError::Unavailable(m),
            AppError::TooManyRequests {
                detail,
                retry_after_seconds,
            } => ApiError::TooManyRequests {
                detail,
                retry_after_seconds,
            },
            AppError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// What the stores and the domain report reaches HTTP through the application's error, so
/// both faces classify a failure the same way.
macro_rules! through_app_error {
    ($($source:ty),* $(,)?) => {
        $(impl From<$source> for ApiError {
            fn from(error: $source) -> Self {
                AppError::from(error).into()
            }
        })*
    };
}

through_app_error!(
    DomainError,
    StoreError<DomainError>,
    AppendError,
    CheckoutError,
    sqlx::Error,
);
