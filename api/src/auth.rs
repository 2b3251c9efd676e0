//! Bearer tokens on requests: the extractors that turn a request's `Authorization` header
//! into the [`Actor`] commands carry (the tokens themselves are `otop_app::auth`'s).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use otop_domain::Actor;

pub use otop_app::auth::{require_role, AuthKeys, Claims};
use otop_app::AppState;

use crate::problem::ApiError;

/// What the extractors need of the server's state: the keys that check a token. Taken with
/// `FromRef`, so that they depend on the keys alone, not on everything the state holds.
#[derive(Clone)]
pub struct TokenKeys(pub Arc<AuthKeys>);

impl FromRef<AppState> for TokenKeys {
    fn from_ref(state: &AppState) -> Self {
        TokenKeys(state.auth.clone())
    }
}

/// The actor of a request's bearer token; `Ok(None)` without one.
fn actor_of(parts: &Parts, keys: &TokenKeys) -> Result<Option<Actor>, ApiError> {
    bearer_token(parts)?
        .map(|token| keys.0.verify(token).map_err(ApiError::from))
        .transpose()
}

/// The bearer token of a request, if it has one: `Ok(None)` without an Authorization header.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthorized(
            "the Authorization header must be `Bearer <token>`".into(),
        )),
    }
}

/// A signed-in caller; rejects the request with 401 otherwise.
pub struct SignedIn(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn
where
    TokenKeys: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        actor_of(parts, &TokenKeys::from_ref(state))?
            .map(SignedIn)
            .ok_or_else(|| {
                ApiError::Unauthorized("sign in: send `Authorization: Bearer <token>`".into())
            })
    }
}

/// A caller who may or may not be signed in; a token that is present must be valid.
pub struct MaybeSignedIn(pub Option<Actor>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSignedIn
where
    TokenKeys: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        actor_of(parts, &TokenKeys::from_ref(state)).map(MaybeSignedIn)
    }
}
