//! Shared given/when/then machinery for the aggregate rule tests.
//!
//! Each test file implements [`Subject`] for its aggregate and then describes its rules as
//! tables of [`Cell`]s: for one command, the expected outcome in each state.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::fmt::Debug;

use cqrs_es::Aggregate;
use otop_domain::DomainError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What the tests need from an aggregate beyond `cqrs_es::Aggregate`.
pub trait Subject:
    Aggregate<Error = DomainError, Event: Clone + Debug + PartialEq> + Clone + Debug + PartialEq
{
    type Status: Copy + Debug + PartialEq;

    /// `None` while the aggregate does not exist.
    fn status(&self) -> Option<Self::Status>;
    fn status_name(status: Self::Status) -> &'static str;
    fn decide_command(&self, command: Self::Command) -> Result<Vec<Self::Event>, DomainError>;
}

/// Given: the aggregate after these events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> A {
    let mut aggregate = A::default();
    for event in events {
        aggregate.apply(event);
    }
    aggregate
}

/// Applies events to a copy of the aggregate.
pub fn after<A: Aggregate + Clone>(aggregate: &A, events: &[A::Event]) -> A
where
    A::Event: Clone,
{
    let mut next = aggregate.clone();
    for event in events {
        next.apply(event.clone());
    }
    next
}

/// The value after `serde_json::to_value` and back.
pub fn json_round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let json = serde_json::to_value(value).expect("serialises to JSON");
    serde_json::from_value(json).expect("deserialises from its own JSON")
}

/// The expected outcome of one command in one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<S> {
    /// Accepted: exactly the command's success events, after which the aggregate is in `S`.
    To(S),
    /// Accepted with no events (an idempotent repeat or a no-op change).
    Nothing,
    NotFound,
    AlreadyExists,
    Forbidden,
    /// Refused because of the aggregate's status; the message names that status.
    Transition,
    /// Refused as an invalid transition whose message contains this text.
    TransitionSaying(&'static str),
    /// Refused as invalid input, reported on this field.
    Invalid(&'static str),
}

/// Runs `command` against `aggregate` and checks the outcome against `cell`. `success` are the
/// events the command produces when it is accepted.
pub fn check<A: Subject>(
    aggregate: &A,
    command: A::Command,
    success: &[A::Event],
    cell: Cell<A::Status>,
    context: &str,
) {
    let result = aggregate.decide_command(command);
    match cell {
        Cell::To(status) => {
            assert!(
                !success.is_empty(),
                "{context}: a table row has no success events"
            );
            assert_eq!(result.as_deref(), Ok(success), "{context}");
            let next = after(aggregate, success);
            assert_eq!(next.status(), Some(status), "{context}: status afterwards");
        }
        Cell::Nothing => assert_eq!(result, Ok(vec![]), "{context}"),
        Cell::NotFound => assert!(
            matches!(result, Err(DomainError::NotFound { .. })),
            "{context}: expected NotFound, got {result:?}"
        ),
        Cell::AlreadyExists => assert!(
            matches!(result, Err(DomainError::AlreadyExists { .. })),
            "{context}: expected AlreadyExists, got {result:?}"
        ),
        Cell::Forbidden => assert!(
            matches!(result, Err(DomainError::Forbidden(_))),
            "{context}: expected Forbidden, got {result:?}"
        ),
        Cell::Transition => {
            let status = aggregate
                .status()
                .unwrap_or_else(|| panic!("{context}: a transition refusal needs a state"));
            match result {
                Err(DomainError::InvalidTransition(message)) => assert!(
                    message.contains(A::status_name(status)),
                    "{context}: {message:?} should name the status {}",
                    A::status_name(status)
                ),
                other => panic!("{context}: expected InvalidTransition, got {other:?}"),
            }
        }
        Cell::TransitionSaying(needle) => assert_transition(result, needle, context),
        Cell::Invalid(field) => assert_invalid(result, field, context),
    }
}

/// The result is `Invalid` and its first field error names `field`.
pub fn assert_invalid<E: Debug>(result: Result<Vec<E>, DomainError>, field: &str, context: &str) {
    match result {
        Err(DomainError::Invalid(errors)) => assert_eq!(
            errors.first().map(|e| e.field.as_str()),
            Some(field),
            "{context}: {errors:?}"
        ),
        other => panic!("{context}: expected Invalid({field}), got {other:?}"),
    }
}

/// The result is `InvalidTransition` and its message contains `needle`.
pub fn assert_transition<E: Debug>(
    result: Result<Vec<E>, DomainError>,
    needle: &str,
    context: &str,
) {
    match result {
        Err(DomainError::InvalidTransition(message)) => assert!(
            message.contains(needle),
            "{context}: {message:?} should contain {needle:?}"
        ),
        other => panic!("{context}: expected InvalidTransition, got {other:?}"),
    }
}

pub fn assert_forbidden<E: Debug>(result: Result<Vec<E>, DomainError>, context: &str) {
    assert!(
        matches!(result, Err(DomainError::Forbidden(_))),
        "{context}: expected Forbidden, got {result:?}"
    );
}
