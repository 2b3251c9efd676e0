//! `Idempotency-Key` for every POST, PUT and PATCH (DESIGN.md decision 6).
//!
//! The first request with a key claims it in `idempotency_keys` before it runs, and stores its
//! reply when it ends. A retry with the same key and the same request replays that reply with
//! `Idempotent-Replayed: true`; while the first is still running, retries wait for it, so fifty
//! concurrent copies run the command once. The same key with another request is a 422.
//!
//! - **Scoped by caller**: role, subject and vendor of the token ([`principal_of`]), so two
//!   callers never share a reply, nor one person acting in two roles.
//! - **Exactly once across a crash.** The claim and the stored reply are transactions of their
//!   own, so a process can die after its command committed and before its reply was stored;
//!   its retry then takes the abandoned claim over and runs again. What makes that second run
//!   harmless is in the log itself: the command's events carry the key's token in their
//!   metadata ([`IdempotencyScope::token`]), in the same rows, hence in the same transaction;
//!   the event store finds them and records nothing new
//!   (`otop_projections::event_store::AggregateStore::execute`), and creates without an
//!   explicit id derive it from the key ([`IdempotencyScope::derived_id`]), so the retry finds
//!   the same aggregate. After a crash there is either nothing (the retry runs) or the events
//!   with their key (the retry replays what they did).
//! - **A request refused before it ran claims nothing**: a 400, 401, 403 or 422 reply gives
//!   the key back, so a forged callback cannot poison the key of the real one. Server errors
//!   are not stored either: the client may retry them for real.
//! - Keys older than `OTOP_IDEMPOTENCY_DAYS` are purged ([`purge_expired`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use otop_projections::wait::{self, Patience};

use crate::auth::bearer_token;
use crate::problem::ApiError;
use otop_app::state::AppState;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_CHARS: usize = 255;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A claim older than this whose request never finished is abandoned (its process died).
const ABANDONED_AFTER_SECONDS: f64 = 120.0;
/// How long a retry waits for the first request with its key to finish.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);

/// Runs every request to completion in its own task: a client that hangs up does not cancel
/// a command half-way (hyper drops the response future; the spawned task goes on).
pub async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(join_error) => {
            ApiError::Internal(format!("request task failed: {join_error}")).into_response()
        }
    }
}

pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        return next.run(request).await;
    };
    // A photo's URL is a hash of its bytes: uploading it again is already harmless, and its
    // body is far larger than a command's.
    if request.uri().path() == "/v1/photos" {
        return next.run(request).await;
    }
    let key = match key.to_str() {
        Ok(key) if !key.trim().is_empty() && key.chars().count() <= MAX_KEY_CHARS => {
            key.to_string()
        }
        _ => {
            return ApiError::Malformed(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
            ))
            .into_response()
        }
    };
    let (parts, body) = request.into_parts();
    let Some(principal) = principal_of(&state, &parts) else {
        // An invalid token: let the handler answer 401 as it would without a key.
        return next.run(Request::from_parts(parts, body)).await;
    };
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::Malformed(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
                .into_response()
        }
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), &body);

    match claim(&state, &principal, &key, &fingerprint).await {
        Ok(true) => {}
        Ok(false) => return replay(&state, &principal, &key, &fingerprint).await,
        Err(error) => return error.into_response(),
    }

    let mut parts = parts;
    parts.extensions.insert(IdempotencyScope {
        principal: principal.clone(),
        key: key.clone(),
    });
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (response_parts, response_body) = response.into_parts();
    let bytes = match axum::body::to_bytes(response_body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            release(&state, &principal, &key).await;
            return ApiError::Internal(format!("reading the reply: {error}")).into_response();
        }
    };
    if response_parts.status.is_server_error() || refused_before_running(response_parts.status) {
        release(&state, &principal, &key).await;
    } else {
        let content_type = response_parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Err(error) = sqlx::query(
            "UPDATE idempotency_keys
                SET status_code = $3, content_type = $4, response_body = $5, completed_at = now()
              WHERE principal = $1 AND idempotency_key = $2",
        )
        .bind(&principal)
        .bind(&key)
        .bind(response_parts.status.as_u16() as i16)
        .bind(content_type)
        .bind(bytes.as_ref())
        .execute(&state.pool)
        .await
        {
            tracing::error!(%error, principal, key, "storing an idempotent reply failed");
        }
    }
    Response::from_parts(response_parts, Body::from(bytes))
}

/// What a request with an `Idempotency-Key` carries to its handler (in its extensions).
#[derive(Debug, Clone)]
pub struct IdempotencyScope {
    pub principal: String,
    pub key: String,
}

impl IdempotencyScope {
    /// What the command's events carry in their metadata (`idempotency_key`): a digest of
    /// caller and key, so that the client's text itself never enters the log.
    pub fn token(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.principal.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.key.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The id a create without an explicit one gives its aggregate: derived from caller and
    /// key within `namespace`, so a retry of the create finds the aggregate it made.
    pub fn derived_id(&self, namespace: &uuid::Uuid) -> uuid::Uuid {
        uuid::Uuid::new_v5(
            namespace,
            format!("{}\n{}", self.principal, self.key).as_bytes(),
        )
    }
}

/// A reply that refuses the request as sent (malformed, not signed in, not allowed, invalid):
/// nothing ran, so the key is given back instead of remembering the refusal.
fn refused_before_running(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::UNPROCESSABLE_ENTITY
    )
}

/// Deletes keys created more than `days` days ago; returns how many.
pub async fn purge_expired(pool: &sqlx::PgPool, days: u32) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => $1)",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Who a key belongs to: the token's role, subject and vendor; the payment provider; or an
/// anonymous caller.
fn principal_of(state: &AppState, parts: &axum::http::request::Parts) -> Option<String> {
    match bearer_token(parts) {
        Ok(Some(token)) => state.auth.verify(token).ok().map(|actor| {
            let vendor = actor.vendor_id.map(|v| v.to_string()).unwrap_or_default();
            format!("{}:{}:{vendor}", actor.role.as_str(), actor.id)
        }),
        Ok(None) if parts.headers.contains_key("x-otop-signature") => {
            Some("payment-provider".to_string())
        }
        Ok(None) => Some("anonymous".to_string()),
        Err(_) => None,
    }
}

fn fingerprint(method: &Method, path: &str, body: &Bytes) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// True when this request now owns the key; false when someone claimed it before. A claim
/// whose request never finished (its process died) is taken over after
/// [`ABANDONED_AFTER_SECONDS`] by a retry of the same request.
async fn claim(
    state: &AppState,
    principal: &str,
    key: &str,
    fingerprint: &str,
) -> Result<bool, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (principal, idempotency_key, request_fingerprint)
         VALUES ($1, $2, $3)
         ON CONFLICT (principal, idempotency_key) DO UPDATE SET created_at = now()
          WHERE idempotency_keys.completed_at IS NULL
            AND idempotency_keys.request_fingerprint = EXCLUDED.request_fingerprint
            AND idempotency_keys.created_at < now() - make_interval(secs => $4)",
    )
    .bind(principal)
    .bind(key)
    .bind(fingerprint)
    .bind(ABANDONED_AFTER_SECONDS)
    .execute(&state.pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn release(state: &AppState, principal: &str, key: &str) {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND idempotency_key = $2 AND completed_at IS NULL",
    )
    .bind(principal)
    .bind(key)
    .execute(&state.pool)
    .await;
    if let Err(error) = deleted {
        tracing::error!(%error, principal, key, "releasing an idempotency key failed");
    }
}

/// A claimed key as stored: the reply's parts once the first request finished.
#[derive(sqlx::FromRow)]
struct StoredReply {
    request_fingerprint: String,
    status_code: Option<i16>,
    content_type: Option<String>,
    response_body: Option<Vec<u8>>,
}

impl StoredReply {
    /// The stored reply, marked as replayed; `None` while the first request runs.
    fn response(self) -> Option<Response> {
        let status = self.status_code?;
        let mut response = Response::new(Body::from(self.response_body.unwrap_or_default()));
        *response.status_mut() = u16::try_from(status)
            .ok()
            .and_then(|status| StatusCode::from_u16(status).ok())
            .unwrap_or(StatusCode::OK);
        if let Some(value) = self
            .content_type
            .and_then(|ct| HeaderValue::from_str(&ct).ok())
        {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        Some(response)
    }
}

/// The reply to a retry: the first request's stored reply, waiting (bounded) while it runs.
async fn replay(state: &AppState, principal: &str, key: &str, fingerprint: &str) -> Response {
    let patience = Patience {
        first: Duration::from_millis(5),
        longest: Duration::from_millis(100),
        within: WAIT_FOR_FIRST,
    };
    let answer = wait::until(patience, || async {
        let stored: Option<StoredReply> = sqlx::query_as(
            "SELECT request_fingerprint, status_code, content_type, response_body
               FROM idempotency_keys WHERE principal = $1 AND idempotency_key = $2",
        )
        .bind(principal)
        .bind(key)
        .fetch_optional(&state.pool)
        .await?;
        let answer = match stored {
            // The first request failed on our side and gave the key back: tell the client
            // to send it again rather than guessing.
            None => Some(
                ApiError::Conflict(
                    "the first request with this Idempotency-Key failed; send it again".into(),
                )
                .into_response(),
            ),
            Some(stored) if stored.request_fingerprint != fingerprint => Some(
                ApiError::IdempotencyKeyReused(
                    "this Idempotency-Key was already used for a different request".into(),
                )
                .into_response(),
            ),
            Some(stored) => stored.response(),
        };
        Ok::<_, sqlx::Error>(answer)
    })
    .await;
    match answer {
        Ok(Some(response)) => response,
        Ok(None) => ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        )
        .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
