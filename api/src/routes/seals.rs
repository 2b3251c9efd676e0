//! `/v1/audit/seals`, `/v1/audit/public-key` and `/v1/audit/events/{position}/proof`: the
//! signed seals over the event log (projections/src/seal.rs), for auditors and admins. With
//! the public key alone an auditor checks a seal's signature, and with an event's proof, that
//! the event is in the sealed log.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use otop_projections::seal::{self, Seal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::AUDIT_ROLES;
use crate::auth::{require_role, SignedIn};
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use otop_app::state::{AppState, Sealing};

pub const TAG: &str = "audit";

/// How many seals a page lists when `limit` is left out.
const DEFAULT_PAGE: i64 = 100;

/// One signed seal: the Merkle root (RFC 6962) over the chain hash of every event with a
/// position up to `position`, signed with Ed25519 over the text
/// `otop.seal.v1\nposition=P\ntree_size=N\ndigest=HEX\nsealed_at=TIME\n`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SealReply {
    pub position: i64,
    /// How many events the seal covers (the tree's size).
    pub tree_size: i64,
    /// The Merkle root, lower-case hex.
    pub digest: String,
    /// RFC 3339, UTC, microseconds: exactly as signed.
    pub sealed_at: String,
    /// Ed25519 signature, lower-case hex (64 bytes).
    pub signature: String,
    /// The first 16 hex digits of the SHA-256 of the public key.
    pub key_id: String,
}

impl From<Seal> for SealReply {
    fn from(seal: Seal) -> Self {
        SealReply {
            position: seal.position,
            tree_size: seal.tree_size,
            digest: seal.digest,
            sealed_at: seal.sealed_at,
            signature: seal.signature,
            key_id: seal.key_id,
        }
    }
}

fn sealing(state: &AppState) -> Result<&Arc<Sealing>, ApiError> {
    state.seals.as_ref().ok_or_else(|| {
        ApiError::NotFound("this server does not seal the log (OTOP_SEAL_KEY_FILE is unset)".into())
    })
}

/// The seal with the highest position; 404 before the first seal.
#[utoipa::path(get, path = "/v1/audit/seals/latest", tag = TAG,
    responses((status = 200, body = SealReply), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn latest_seal(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> Result<Json<SealReply>, ApiError> {
    otop_app::audit::latest_seal(&state, &actor)
        .await?
        .map(|seal| Json(seal.into()))
        .ok_or_else(|| ApiError::NotFound("the log has not been sealed yet".into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SealsQuery {
    /// Seals with a position above this one (default 0: from the first).
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// A page of seals in ascending position.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealPage {
    pub seals: Vec<SealReply>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<i64>,
}

/// The seals after a position, ascending, a bounded page at a time.
#[utoipa::path(get, path = "/v1/audit/seals", tag = TAG, params(SealsQuery),
    responses((status = 200, body = SealPage), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_seals(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(query): ApiQuery<SealsQuery>,
) -> Result<Json<SealPage>, ApiError> {
    require_role(&actor, AUDIT_ROLES, "the log's seals")?;
    sealing(&state)?;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid(
            "after",
            "must be a log position (0 or more)",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=seal::MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be from 1 to {}", seal::MAX_PAGE),
        ));
    }
    let seals = seal::seals_after(&state.pool, after, limit).await?;
    let next_after = (seals.len() as i64 == limit)
        .then(|| seals.last().map(|seal| seal.position))
        .flatten();
    Ok(Json(SealPage {
        seals: seals.into_iter().map(SealReply::from).collect(),
        next_after,
    }))
}

/// The key that checks every seal.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeyReply {
    /// The Ed25519 public key, lower-case hex (32 bytes).
    pub public_key: String,
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
}

/// The public key of the seals.
#[utoipa::path(get, path = "/v1/audit/public-key", tag = TAG,
    responses((status = 200, body = PublicKeyReply), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn public_key(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> Result<Json<PublicKeyReply>, ApiError> {
    require_role(&actor, AUDIT_ROLES, "the log's public key")?;
    let public = sealing(&state)?.key.public();
    Ok(Json(PublicKeyReply {
        public_key: public.hex(),
        key_id: public.key_id(),
        algorithm: seal::ALGORITHM.to_string(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProofQuery {
    /// The position of the seal to prove against (default: the latest seal).
    pub seal: Option<i64>,
}

/// The inclusion proof of one event in a seal's Merkle tree (RFC 9162 2.1.3): with the
/// seal's `tree_size` and `digest`, the leaf SHA-256(0x00 || event_hash) and the audit path,
/// and the seal's signature checked with the public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProofReply {
    pub position: i64,
    /// The event's index among the seal's events, in position order (from 0).
    pub leaf_index: u64,
    /// The size of the tree the proof was computed from (the seal's, for an intact log).
    pub tree_size: u64,
    /// The event's chain hash as stored, lower-case hex.
    pub event_hash: String,
    /// The sibling subtree roots from the leaf up, lower-case hex.
    pub audit_path: Vec<String>,
    pub seal: SealReply,
}

fn position_of(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|position| *position >= 1)
        .ok_or_else(|| ApiError::invalid("position", "must be a log position (1 or more)"))
}

/// The proof that the event at `position` is in a seal (the latest unless `?seal=`), computed
/// from the log as stored: 404 for no such event or seal, 422 for an event after the seal.
#[utoipa::path(get, path = "/v1/audit/events/{position}/proof", tag = TAG,
    params(("position" = i64, Path), ProofQuery),
    responses((status = 200, body = ProofReply), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn event_proof(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(position): Path<String>,
    ApiQuery(query): ApiQuery<ProofQuery>,
) -> Result<Json<ProofReply>, ApiError> {
    require_role(&actor, AUDIT_ROLES, "the proof of an event")?;
    sealing(&state)?;
    let position = position_of(&position)?;
    let seal = match query.seal {
        Some(at) => seal::seal_at(&state.pool, at).await?,
        None => seal::latest_seal(&state.pool).await?,
    }
    .ok_or_else(|| ApiError::NotFound("no such seal".into()))?;
    if position > seal.position {
        return Err(ApiError::invalid(
            "position",
            format!("the seal at {} does not cover it yet", seal.position),
        ));
    }
    let proof = seal::inclusion_proof(&state.pool, position, &seal)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event at position {position}")))?;
    Ok(Json(ProofReply {
        position,
        leaf_index: proof.proof.leaf_index,
        tree_size: proof.proof.tree_size,
        event_hash: hex::encode(&proof.event_hash),
        audit_path: proof.proof.path.iter().map(hex::encode).collect(),
        seal: seal.into(),
    }))
}
