//! Bearer tokens: HS256-signed JWTs carrying `sub`, `role` and, for vendors, `vendor_id`
//! (DESIGN.md decision 10). Extractors turn a request into the [`Actor`] commands carry.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use otop_domain::{Actor, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
}

pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl AuthKeys {
    pub fn new(secret: &str) -> Self {
        AuthKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// Signs a token for `actor`, valid for `valid_for`.
    pub fn issue(&self, actor: &Actor, valid_for: chrono::Duration) -> Result<String, ApiError> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: actor.id.clone(),
            role: actor.role.as_str().to_string(),
            vendor_id: actor.vendor_id,
            iat: now.timestamp(),
            exp: (now + valid_for).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    /// The actor a bearer token speaks for; every failure is a 401 with a reason.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let validation = Validation::new(Algorithm::HS256);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| ApiError::Unauthorized(format!("the bearer token is not valid: {e}")))?;
        let claims = data.claims;
        let role = match Role::parse(&claims.role) {
            // The platform's own role is never granted to a token.
            Some(Role::System) | None => {
                return Err(ApiError::Unauthorized(format!(
                    "the token's role {:?} is not one of shopper, vendor, admin, auditor, analyst",
                    claims.role
                )))
            }
            Some(role) => role,
        };
        if claims.sub.trim().is_empty() {
            return Err(ApiError::Unauthorized("the token has no subject".into()));
        }
        match (role, claims.vendor_id) {
            (Role::Vendor, None) => Err(ApiError::Unauthorized(
                "a vendor token must name its vendor_id".into(),
            )),
            (Role::Vendor, Some(vendor_id)) => Ok(Actor::vendor(claims.sub, vendor_id)),
            (role, _) => Ok(Actor::new(claims.sub, role)),
        }
    }
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

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(parts)? {
            Some(token) => state.auth.verify(token).map(SignedIn),
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
                .map(|actor| MaybeSignedIn(Some(actor))),
            None => Ok(MaybeSignedIn(None)),
        }
    }
}

/// Refuses the request unless the actor has one of `roles`.
pub fn require_role(actor: &Actor, roles: &[Role], what: &str) -> Result<(), ApiError> {
    if roles.contains(&actor.role) {
        Ok(())
    } else {
        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "{what} needs the role {}; this token's role is {}",
            names.join(" or "),
            actor.role
        )))
    }
}
