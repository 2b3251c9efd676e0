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

    /// The parsed values of `fields` (what [`Validator::check`] returned for each, as a tuple
    /// or a `Vec`), or every error. A field is `None` only when its check failed and left its
    /// error here, so no caller has to handle "no error, yet no value".
    pub fn finish_with<F: Checked>(self, fields: F) -> Result<F::Value, DomainError> {
        match fields.values() {
            Some(values) if self.errors.is_empty() => Ok(values),
            // Without an error, a missing value is a check that was skipped on purpose (a field
            // that depends on another that failed): the other's error is what to report.
            _ => Err(DomainError::Invalid(self.errors)),
        }
    }
}

/// What [`Validator::check`] returned for some fields: all their values, when every check
/// passed.
pub trait Checked {
    type Value;
    fn values(self) -> Option<Self::Value>;
}

impl<T> Checked for Option<T> {
    type Value = T;
    fn values(self) -> Option<T> {
        self
    }
}

impl<T> Checked for Vec<Option<T>> {
    type Value = Vec<T>;
    fn values(self) -> Option<Vec<T>> {
        self.into_iter().collect()
    }
}

macro_rules! checked_tuple {
    ($($name:ident),+) => {
        impl<$($name: Checked),+> Checked for ($($name,)+) {
            type Value = ($($name::Value,)+);
            #[allow(non_snake_case)]
            fn values(self) -> Option<Self::Value> {
                let ($($name,)+) = self;
                Some(($($name.values()?,)+))
            }
        }
    };
}

checked_tuple!(A, B);
checked_tuple!(A, B, C);
checked_tuple!(A, B, C, D);
checked_tuple!(A, B, C, D, E);
checked_tuple!(A, B, C, D, E, F);
checked_tuple!(A, B, C, D, E, F, G);
checked_tuple!(A, B, C, D, E, F, G, H);
checked_tuple!(A, B, C, D, E, F, G, H, I);
checked_tuple!(A, B, C, D, E, F, G, H, I, J);
checked_tuple!(A, B, C, D, E, F, G, H, I, J, K);
checked_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn number(field: &str, text: &str) -> Result<u32, FieldError> {
        text.parse()
            .map_err(|_| FieldError::new(field, "must be a number"))
    }

    #[test]
    fn finish_with_gives_every_value_when_every_check_passed() {
        let mut v = Validator::new();
        let a = v.check(number("a", "1"));
        let b = v.check(number("b", "2"));
        let many = vec![v.check(number("c", "3")), v.check(number("d", "4"))];
        assert_eq!(v.finish_with((a, b, many)), Ok((1, 2, vec![3, 4])));
    }

    #[test]
    fn finish_with_gives_every_error_when_any_check_failed() {
        let mut v = Validator::new();
        let a = v.check(number("a", "one"));
        let b = v.check(number("b", "2"));
        let many = vec![v.check(number("c", "x")), v.check(number("d", "4"))];
        let Err(DomainError::Invalid(errors)) = v.finish_with((a, b, many)) else {
            panic!("two fields failed");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["a", "c"]);
    }

    #[test]
    fn a_check_skipped_because_another_failed_reports_the_other() {
        let mut v = Validator::new();
        let category = v.check(number("category", "?"));
        let subtype = category.and_then(|c| v.check(number("subtype", &c.to_string())));
        let Err(DomainError::Invalid(errors)) = v.finish_with((category, subtype)) else {
            panic!("the category failed");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "category");
    }
}
