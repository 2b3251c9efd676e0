//! Who is calling: HS256-signed JWTs carrying `sub`, `role` and, for vendors, `vendor_id`
//! (DESIGN.md decision 10), turned into the [`Actor`] commands carry, and the role checks
//! both faces make. How a request carries its token (a header, a session) is the face's.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use otop_domain::{Actor, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

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
    pub fn issue(&self, actor: &Actor, valid_for: chrono::Duration) -> Result<String, AppError> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: actor.id.clone(),
            role: actor.role.as_str().to_string(),
            vendor_id: actor.vendor_id,
            iat: now.timestamp(),
            exp: (now + valid_for).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("signing a token: {e}")))
    }

    /// The actor a bearer token speaks for; every failure is a 401 with a reason.
    pub fn verify(&self, token: &str) -> Result<Actor, AppError> {
        let validation = Validation::new(Algorithm::HS256);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| AppError::Unauthorized(format!("the bearer token is not valid: {e}")))?;
        let claims = data.claims;
        let role = match Role::parse(&claims.role) {
            // The platform's own role is never granted to a token.
            Some(Role::System) | None => {
                return Err(AppError::Unauthorized(format!(
                    "the token's role {:?} is not one of shopper, vendor, admin, auditor, analyst",
                    claims.role
                )))
            }
            Some(role) => role,
        };
        if claims.sub.trim().is_empty() {
            return Err(AppError::Unauthorized("the token has no subject".into()));
        }
        match (role, claims.vendor_id) {
            (Role::Vendor, None) => Err(AppError::Unauthorized(
                "a vendor token must name its vendor_id".into(),
            )),
            (Role::Vendor, Some(vendor_id)) => Ok(Actor::vendor(claims.sub, vendor_id)),
            (role, _) => Ok(Actor::new(claims.sub, role)),
        }
    }
}

/// Refuses the request unless the actor has one of `roles`.
pub fn require_role(actor: &Actor, roles: &[Role], what: &str) -> Result<(), AppError> {
    if roles.contains(&actor.role) {
        Ok(())
    } else {
        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        Err(AppError::Forbidden(format!(
            "{what} needs the role {}; this token's role is {}",
            names.join(" or "),
            actor.role
        )))
    }
}
