//! The one error type of the domain. The API maps each variant to an HTTP status in one place.

use serde::Serialize;

/// A problem with one input field, reported back to the client as `{field, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The aggregate does not exist (no event recorded for it yet).
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    /// The aggregate already exists, so it cannot be created again.
    #[error("{kind} already exists")]
    AlreadyExists { kind: &'static str },
    /// The actor's role or identity does not allow this command on this aggregate.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// One or more input values are invalid.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The command is not allowed in the aggregate's current state.
    #[error("{0}")]
    InvalidTransition(String),
    /// A compare-and-set on stock failed: the caller's `expected` is stale.
    #[error("stock is {actual}, not the expected {expected}")]
    StaleStock { expected: u32, actual: u32 },
    /// Not enough available stock for a reservation or an adjustment.
    #[error("only {available} available, {requested} requested")]
    InsufficientStock { available: u32, requested: u32 },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn transition(message: impl Into<String>) -> Self {
        DomainError::InvalidTransition(message.into())
    }
}

/// Collects field errors while parsing a whole request, so the client hears of every bad field
/// at once instead of one per round trip.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when it parsed; remembers the error otherwise.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.errors))
        }
    }
}
