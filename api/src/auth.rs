//! Bearer tokens on requests: the extractors that turn a request's `Authorization` header
//! into the [`Actor`] commands carry (the tokens themselves are `otop_app::auth`'s).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use otop_domain::Actor;

pub use otop_app::auth::{require_role, AuthKeys, Claims};
use otop_app::AppState;

use crate::problem::ApiError;

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

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(parts)? {
            Some(token) => state
                .auth
                .verify(token)
                .map(SignedIn)
                .map_err(ApiError::from),
            None => Err(ApiError::Unauthorized(
                "sign in: send `Authorization: Bearer <token>`".into(),
            )),
        }
    }
}

/// A caller who may or may not be signed in; a token that is present must be valid.
pub struct MaybeSignedIn(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(parts)? {
            Some(token) => state
                .auth
                .verify(token)
                .map(|actor| MaybeSignedIn(Some(actor)))
                .map_err(ApiError::from),
            None => Ok(MaybeSignedIn(None)),
        }
    }
}
