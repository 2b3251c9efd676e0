//! The application's one error: what went wrong, in terms either face can show. The JSON API
//! maps it to problem documents (api/src/problem.rs), the pages to a page (web/src/error.rs).

use otop_domain::{DomainError, FieldError};
use otop_projections::checkout::CheckoutError;
use otop_projections::{AppendError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
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

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<DomainError> for AppError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::NotFound { kind } => AppError::NotFound(format!("no such {kind}")),
            DomainError::AlreadyExists { kind } => {
                AppError::Conflict(format!("this {kind} already exists"))
            }
            DomainError::Forbidden(message) => AppError::Forbidden(message),
            DomainError::Invalid(fields) => AppError::Invalid(fields),
            error @ (DomainError::InvalidTransition(_)
            | DomainError::StaleStock { .. }
            | DomainError::InsufficientStock { .. }) => AppError::Conflict(error.to_string()),
        }
    }
}

impl From<StoreError<DomainError>> for AppError {
    fn from(error: StoreError<DomainError>) -> Self {
        match error {
            StoreError::Domain(domain) => domain.into(),
            StoreError::Conflict { .. } => AppError::Conflict(error.to_string()),
            StoreError::Database(db) => database_error(db),
            StoreError::Corrupt(message) => AppError::Internal(message),
        }
    }
}

impl From<AppendError> for AppError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => AppError::Conflict(error.to_string()),
            AppendError::Database(db) => database_error(db),
            AppendError::Corrupt(message) => AppError::Internal(message),
        }
    }
}

impl From<CheckoutError> for AppError {
    fn from(error: CheckoutError) -> Self {
        match error {
            CheckoutError::Lines(lines) => AppError::LinesRejected(
                lines
                    .into_iter()
                    .map(|line| {
                        FieldError::new(format!("lines[{}].listing_id", line.index), line.reason)
                    })
                    .collect(),
            ),
            CheckoutError::Domain(domain) => domain.into(),
            CheckoutError::Store(store) => store.into(),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        database_error(error)
    }
}

fn database_error(error: sqlx::Error) -> AppError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            AppError::Unavailable(format!("the database is not reachable: {error}"))
        }
        other => AppError::Internal(other.to_string()),
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Invalid(vec![error])
    }
}
