//! Extractors whose rejections are problem documents: JSON bodies, UUID path ids, and the
//! context every command needs (actor, request id, metadata).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use otop_domain::{Actor, EventMetadata};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::SignedIn;
use crate::idempotency::IdempotencyScope;
use crate::problem::ApiError;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `axum::Json`, but a body that is not JSON is a 400 and a body of the wrong shape a 422,
/// both as problem documents naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(error)) => {
                Err(ApiError::invalid("body", error.body_text()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::Malformed(
                "send the body as JSON with `Content-Type: application/json`".into(),
            )),
            Err(other) => Err(ApiError::Malformed(other.body_text())),
        }
    }
}

/// The `{id}` of a path as a UUID; anything else names no resource (404).
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(text)) => Uuid::parse_str(&text)
                .map(IdPath)
                .map_err(|_| ApiError::NotFound(format!("{text:?} is not an id: ids are UUIDs"))),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(ApiError::NotFound(e.body_text()))
            }
            Err(other) => Err(ApiError::Internal(other.body_text())),
        }
    }
}

/// Drops an `X-Request-Id` that is not a UUID before the request-id layer sees it, so that
/// layer gives the request a fresh one: a client's id is kept only when it cannot carry
/// anything but an id (no formula, no markup, no log line of its own) into the log.
pub async fn keep_only_uuid_request_ids(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_uuid = request.headers().get(REQUEST_ID_HEADER).map(|value| {
        value
            .to_str()
            .is_ok_and(|text| Uuid::parse_str(text).is_ok())
    });
    if is_uuid == Some(false) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

/// The metadata of a command from a request (`otop_app::metadata::command_metadata`).
pub fn request_metadata(actor: Actor, parts: &Parts) -> EventMetadata {
    otop_app::metadata::command_metadata(actor, &request_id(parts))
}

/// The request id the request-id layer assigned (or the client sent, when it is a UUID).
pub fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::now_v7().to_string())
}

/// A signed-in actor and the metadata its events will carry.
pub struct CommandContext {
    pub actor: Actor,
    pub metadata: EventMetadata,
    /// The request's `Idempotency-Key`, when it came with one.
    pub idempotency: Option<IdempotencyScope>,
}

impl CommandContext {
    /// The metadata of the command's events; with an `Idempotency-Key`, its token too, which
    /// is what makes a retry after a crash find what the first attempt wrote.
    pub fn metadata_map(&self) -> std::collections::HashMap<String, String> {
        let mut map = self.metadata.to_map();
        if let Some(scope) = &self.idempotency {
            map.insert(
                otop_projections::event_store::IDEMPOTENCY_METADATA.to_string(),
                scope.token(),
            );
        }
        map
    }

    /// The id of a new aggregate: the one the client gave, else one derived from its
    /// `Idempotency-Key` (so a retried create finds what it made), else a fresh one.
    pub fn new_id(&self, given: Option<Uuid>, namespace: &Uuid) -> Uuid {
        given
            .or_else(|| self.idempotency.as_ref().map(|s| s.derived_id(namespace)))
            .unwrap_or_else(Uuid::now_v7)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandContext
where
    crate::auth::TokenKeys: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(actor) = SignedIn::from_request_parts(parts, state).await?;
        let metadata = request_metadata(actor.clone(), parts);
        let idempotency = parts.extensions.get::<IdempotencyScope>().cloned();
        Ok(CommandContext {
            actor,
            metadata,
            idempotency,
        })
    }
}

/// `axum::extract::Query`, but a bad query string is a 422 naming the problem.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::invalid("query", rejection.body_text()))
    }
}
