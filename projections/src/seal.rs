//! Signed seals over the whole event log: every seal interval the server signs, with an
//! Ed25519 key the database never holds, the Merkle root ([`crate::merkle`]) over the chain
//! `hash` of every event up to a position, in position order. Seals are stored in
//! `log_seals` and appended to a file outside the database (one JSON object a line).
//!
//! What a seal adds to the hash chains ([`crate::audit`]): a chain only vouches for the
//! events it still has, so an aggregate erased whole, or a chain rewritten and re-hashed
//! consistently, passes the chain walk. Neither passes a seal: the leaves of the tree are the
//! stored hashes of every event in the log, so any change before a seal's position changes
//! the root that was signed, and a forged root needs the private key.
//!
//! The signed message ([`seal_message`]) is UTF-8 text, each line ending in `\n`:
//!
//! ```text
//! otop.seal.v1
//! position=<the seal's position, decimal>
//! tree_size=<the number of events covered, decimal>
//! digest=<the Merkle root, lower-case hex>
//! sealed_at=<RFC 3339 UTC with microseconds, as in the seal>
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgExecutor, PgPool, Row};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::merkle::{self, CompactRange, Hash, InclusionProof, ProofBuilder};

/// The first line of every signed message.
pub const SEAL_TAG: &str = "otop.seal.v1";

/// The signature algorithm, as the public key endpoint names it.
pub const ALGORITHM: &str = "ed25519";

/// The most seals one page lists.
pub const MAX_PAGE: i64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("seal file {path}: {source}")]
    SealFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The private signing key. Never printed (`Debug` shows the key id only) and zeroed when
/// dropped (`ed25519-dalek`'s `zeroize`).
pub struct SealKey {
    signing: SigningKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SealKey({}, private part redacted)",
            self.public().key_id()
        )
    }
}

impl SealKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SealKey, SealError> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut())
            .map_err(|e| SealError::Invalid(format!("no randomness for a seal key: {e}")))?;
        Ok(SealKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The key file's text: the 32-byte seed in hex (whitespace around it ignored).
    fn from_file_text(text: &str) -> Result<SealKey, String> {
        let bytes = zeroize::Zeroizing::new(
            hex::decode(text.trim()).map_err(|_| "not a hex Ed25519 seed".to_string())?,
        );
        let seed: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("{} bytes, not a 32-byte Ed25519 seed", bytes.len()))?;
        Ok(SealKey {
            signing: SigningKey::from_bytes(seed),
        })
    }

    pub fn load(path: &Path) -> Result<SealKey, SealError> {
        let failed = |message: String| SealError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?,
        );
        SealKey::from_file_text(&text).map_err(failed)
    }

    /// Loads the key at `path`, or makes one there (readable by its owner only) when there is
    /// no file yet. Returns whether it was made.
    pub fn load_or_generate(path: &Path) -> Result<(SealKey, bool), SealError> {
        if path.exists() {
            return Ok((SealKey::load(path)?, false));
        }
        let key = SealKey::generate()?;
        key.write_new(path)?;
        Ok((key, true))
    }

    /// Writes the key to a new file (refusing to overwrite one), mode 0600 on Unix.
    pub fn write_new(&self, path: &Path) -> Result<(), SealError> {
        let failed = |e: std::io::Error| SealError::KeyFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(failed)?;
        let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(self.signing.to_bytes())));
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    fn sign(&self, message: &str) -> [u8; 64] {
        self.signing.sign(message.as_bytes()).to_bytes()
    }
}

/// The public half: all an auditor needs to check a seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_hex(text: &str) -> Result<PublicKey, String> {
        let bytes = hex::decode(text.trim()).map_err(|_| "the public key is not hex")?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("{} bytes, not a 32-byte Ed25519 key", bytes.len()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| format!("not an Ed25519 public key: {e}"))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// The first 16 hex digits of the SHA-256 of the key's 32 bytes.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))[..16].to_string()
    }

    /// Whether `seal`'s signature is this key's over the seal's message.
    pub fn verifies(&self, seal: &Seal) -> bool {
        let Ok(bytes) = hex::decode(&seal.signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0
            .verify_strict(seal.message().as_bytes(), &signature)
            .is_ok()
    }
}

/// One seal, as `GET /v1/audit/seals/latest` returns it and the seal file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Every event with a position up to this one is covered.
    pub position: i64,
    /// How many events that is: the size of the Merkle tree.
    pub tree_size: i64,
    /// The Merkle root, lower-case hex.
    pub digest: String,
    /// RFC 3339, UTC, microseconds.
    pub sealed_at: String,
    /// Ed25519 over [`Seal::message`], lower-case hex.
    pub signature: String,
    pub key_id: String,
}

/// The exact bytes a seal's signature covers (see the module's documentation).
pub fn seal_message(position: i64, tree_size: i64, digest_hex: &str, sealed_at: &str) -> String {
    format!(
        "{SEAL_TAG}\nposition={position}\ntree_size={tree_size}\ndigest={digest_hex}\nsealed_at={sealed_at}\n"
    )
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Seal {
    pub fn message(&self) -> String {
        seal_message(self.position, self.tree_size, &self.digest, &self.sealed_at)
    }

    /// Signs the tree of `tree_size` events up to `position` whose root is `root`.
    pub fn sign(
        key: &SealKey,
        position: i64,
        tree_size: i64,
        root: &Hash,
        at: DateTime<Utc>,
    ) -> Seal {
        let digest = hex::encode(root);
        let sealed_at = timestamp(at.trunc_subsecs(6));
        let signature = key.sign(&seal_message(position, tree_size, &digest, &sealed_at));
        Seal {
            position,
            tree_size,
            digest,
            sealed_at,
            signature: hex::encode(signature),
            key_id: key.public().key_id(),
        }
    }

    fn root(&self) -> Option<Hash> {
        hex::decode(&self.digest).ok()?.try_into().ok()
    }
}

/// Why an event's proof does not hold: checked with the public key alone, no database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the seal's signature does not verify with this public key")]
    BadSignature,
    #[error("the seal's digest is not a 32-byte hex hash")]
    BadDigest,
    #[error("the audit path does not lead from the event to the seal's digest")]
    NotIncluded,
}

/// An auditor's check of one event against a seal: the seal is signed by `key`, and `path`
/// leads from the event's chain hash, as leaf `leaf_index` of the seal's tree, to its digest.
pub fn verify_event_proof(
    key: &PublicKey,
    seal: &Seal,
    leaf_index: u64,
    event_hash: &[u8],
    path: &[Hash],
) -> Result<(), ProofError> {
    if !key.verifies(seal) {
        return Err(ProofError::BadSignature);
    }
    let root = seal.root().ok_or(ProofError::BadDigest)?;
    let size = u64::try_from(seal.tree_size).map_err(|_| ProofError::NotIncluded)?;
    let leaf = merkle::leaf_hash(event_hash);
    if merkle::verify_inclusion(leaf_index, size, &leaf, path, &root) {
        Ok(())
    } else {
        Err(ProofError::NotIncluded)
    }
}

// ---------------------------------------------------------------------------------------
// The database side.

const SEAL_COLUMNS: &str = "position, tree_size, digest, sealed_at, signature, key_id";

fn seal_from_row(row: &sqlx::postgres::PgRow) -> Result<Seal, sqlx::Error> {
    let digest: Vec<u8> = row.try_get("digest")?;
    let signature: Vec<u8> = row.try_get("signature")?;
    let sealed_at: DateTime<Utc> = row.try_get("sealed_at")?;
    Ok(Seal {
        position: row.try_get("position")?,
        tree_size: row.try_get("tree_size")?,
        digest: hex::encode(digest),
        sealed_at: timestamp(sealed_at),
        signature: hex::encode(signature),
        key_id: row.try_get("key_id")?,
    })
}

/// The seal with the highest position.
pub async fn latest_seal<'e>(executor: impl PgExecutor<'e>) -> Result<Option<Seal>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM log_seals ORDER BY position DESC LIMIT 1"
    ))
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(seal_from_row).transpose()
}

/// The seal at exactly `position`.
pub async fn seal_at<'e>(
    executor: impl PgExecutor<'e>,
    position: i64,
) -> Result<Option<Seal>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM log_seals WHERE position = $1"
    ))
    .bind(position)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(seal_from_row).transpose()
}

/// Up to `limit` (at most [`MAX_PAGE`]) seals with a position above `after`, ascending.
pub async fn seals_after<'e>(
    executor: impl PgExecutor<'e>,
    after: i64,
    limit: i64,
) -> Result<Vec<Seal>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM log_seals WHERE position > $1 ORDER BY position LIMIT $2"
    ))
    .bind(after)
    .bind(limit.clamp(1, MAX_PAGE))
    .fetch_all(executor)
    .await?;
    rows.iter().map(seal_from_row).collect()
}

async fn insert_seal<'e>(executor: impl PgExecutor<'e>, seal: &Seal) -> Result<(), SealError> {
    let bytes = |text: &str| hex::decode(text).map_err(|e| SealError::Invalid(e.to_string()));
    let sealed_at = DateTime::parse_from_rfc3339(&seal.sealed_at)
        .map_err(|e| SealError::Invalid(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO log_seals ({SEAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (position) DO NOTHING"
    ))
    .bind(seal.position)
    .bind(seal.tree_size)
    .bind(bytes(&seal.digest)?)
    .bind(sealed_at.with_timezone(&Utc))
    .bind(bytes(&seal.signature)?)
    .bind(&seal.key_id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Appends `seal` as one JSON line to the seal file (made, with its directory, if missing).
pub fn append_to_file(path: &Path, seal: &Seal) -> Result<(), SealError> {
    let failed = |source: std::io::Error| SealError::SealFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut line = serde_json::to_string(seal).map_err(|e| failed(e.into()))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(line.as_bytes()).map_err(failed)?;
    file.sync_data().map_err(failed)
}

/// The position up to which the log is final: every event at or below it is committed, and
/// no event at or below it can ever be committed later.
///
/// Why not simply "the last event whose transaction is older than
/// `pg_snapshot_xmin(pg_current_snapshot())`", the rule `log::read_after` follows? That rule
/// is safe for the reader because the reader orders the log by `(transaction_id, position)`:
/// any transaction still in flight has an id at or above xmin and sorts after the cursor. The
/// Merkle tree is in *position* order, and positions are handed out at insert time, not in
/// transaction-id order: a transaction T2 can take position 40, a transaction T1 < T2 take
/// position 50 and commit, and T2 still be in flight. The xmin rule would then seal up to 50
/// while the event at 40 is invisible; when T2 commits, the log up to 50 no longer has the
/// sealed root, and an intact log would fail its check.
///
/// So the sealer takes `SHARE` on `events` for one statement (through the SECURITY DEFINER
/// function `settled_log_position`, migrations/20261202000002_seals_as_the_app_role.sql: the
/// server's role may not lock the log itself): that lock waits for every
/// transaction holding `ROW EXCLUSIVE` on the table (every writer that has inserted an event
/// and not yet ended) and keeps new inserts out until it is released at commit. While it is
/// held, every event ever inserted is committed or rolled back, and the highest visible
/// position is final: later inserts take their position from the identity sequence (cache 1,
/// so never below a value already handed out) after the lock is released, hence above it.
/// Writers pause for as long as the longest write in flight, at most the function's `lock_timeout` of 2 s (then
/// the seal waits for the next round).
async fn settled_position(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let position: i64 = sqlx::query_scalar("SELECT settled_log_position()")
        .fetch_one(&mut *tx)
        .await?;
    // The lock is released here, at commit.
    tx.commit().await?;
    Ok(position)
}

/// Adds the leaves of the events with `after < position <= upto` to `range`, streamed.
async fn add_leaves(
    conn: &mut PgConnection,
    range: &mut CompactRange,
    after: i64,
    upto: i64,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT coalesce(hash, '') FROM events
          WHERE position > $1 AND position <= $2 ORDER BY position",
    )
    .bind(after)
    .bind(upto)
    .fetch(&mut *conn);
    while let Some(hash) = rows.try_next().await? {
        range.push_leaf(merkle::leaf_hash(&hash));
    }
    Ok(())
}

/// The tree of the last seal this sealer computed: the next one only adds new leaves.
#[derive(Debug, Clone)]
struct Frontier {
    position: i64,
    range: CompactRange,
}

/// Seals the log with one key and one file, keeping the tree's right edge between seals.
#[derive(Debug)]
pub struct Sealer {
    key: Arc<SealKey>,
    file: PathBuf,
    frontier: Option<Frontier>,
}

impl Sealer {
    pub fn new(key: Arc<SealKey>, file: PathBuf) -> Sealer {
        Sealer {
            key,
            file,
            frontier: None,
        }
    }

    /// Seals the log up to its settled position, if it grew since the latest seal. `None`
    /// when there was nothing new, or another process holds the sealing lock right now.
    pub async fn seal(&mut self, pool: &PgPool) -> Result<Option<Seal>, SealError> {
        // A connection of its own, so the session lock can never go back into the pool: it
        // is released when this connection closes, whatever happens below.
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        // As the server's role, whatever the pool's user is: the sealer appends seals and
        // reads the log, and needs nothing more.
        sqlx::query(&format!("SET ROLE {}", crate::db::APP_ROLE))
            .execute(&mut conn)
            .await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('otop'), hashtext('seal'))")
                .fetch_one(&mut conn)
                .await?;
        let result = if locked {
            self.seal_locked(&mut conn).await
        } else {
            Ok(None)
        };
        let _ = conn.close().await;
        result
    }

    async fn seal_locked(&mut self, conn: &mut PgConnection) -> Result<Option<Seal>, SealError> {
        let position = settled_position(conn).await?;
        let latest = latest_seal(&mut *conn).await?;
        if position == 0 || latest.is_some_and(|seal| seal.position >= position) {
            return Ok(None);
        }
        let range = self.extend_to(conn, position).await?;
        let size = i64::try_from(range.size()).map_err(|e| SealError::Invalid(e.to_string()))?;
        let seal = Seal::sign(&self.key, position, size, &range.root(), Utc::now());
        // The file first: a seal in the file but not in the table is still a good seal.
        append_to_file(&self.file, &seal)?;
        insert_seal(&mut *conn, &seal).await?;
        Ok(Some(seal))
    }

    async fn extend_to(
        &mut self,
        conn: &mut PgConnection,
        position: i64,
    ) -> Result<CompactRange, sqlx::Error> {
        let mut frontier = match self.frontier.take() {
            Some(frontier) if frontier.position <= position => frontier,
            _ => Frontier {
                position: 0,
                range: CompactRange::new(),
            },
        };
        add_leaves(conn, &mut frontier.range, frontier.position, position).await?;
        frontier.position = position;
        let range = frontier.range.clone();
        self.frontier = Some(frontier);
        Ok(range)
    }
}

/// Seals the log now, computing the tree from the start (what the seal task does on its
/// first round). For tests and one-off use.
pub async fn seal_now(
    pool: &PgPool,
    key: &Arc<SealKey>,
    file: &Path,
) -> Result<Option<Seal>, SealError> {
    Sealer::new(key.clone(), file.to_path_buf())
        .seal(pool)
        .await
}

/// The seal task: stop it with [`SealTask::stop`].
pub struct SealTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl SealTask {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Seals the log every `interval` (one sealer across processes: the advisory lock).
pub fn spawn(pool: PgPool, key: Arc<SealKey>, file: PathBuf, interval: Duration) -> SealTask {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut sealer = Sealer::new(key, file);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match sealer.seal(&pool).await {
                Ok(Some(seal)) => tracing::info!(
                    position = seal.position,
                    tree_size = seal.tree_size,
                    digest = %seal.digest,
                    "sealed the event log"
                ),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "sealing the event log failed"),
            }
        }
    });
    SealTask { stop, task }
}

// ---------------------------------------------------------------------------------------
// Checking the log against seals.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SealProblemKind {
    /// The seal's signature does not verify with the public key (forged or altered seal).
    BadSignature,
    /// The log up to the seal's position no longer has the root (or size) that was signed.
    DigestMismatch,
}

impl SealProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SealProblemKind::BadSignature => "bad_signature",
            SealProblemKind::DigestMismatch => "digest_mismatch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealProblem {
    pub position: i64,
    pub kind: SealProblemKind,
    pub detail: String,
}

impl std::fmt::Display for SealProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seal at position {}: {}: {}",
            self.position,
            self.kind.as_str(),
            self.detail
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealReport {
    pub seals_checked: u64,
    pub seal_problems: Vec<SealProblem>,
    /// The highest position checked (null without seals).
    pub latest_sealed_position: Option<i64>,
}

impl SealReport {
    pub fn is_intact(&self) -> bool {
        self.seal_problems.is_empty()
    }
}

fn compare(seal: &Seal, range: &CompactRange) -> Option<SealProblem> {
    let root = hex::encode(range.root());
    let size = range.size();
    if root == seal.digest && i64::try_from(size).ok() == Some(seal.tree_size) {
        return None;
    }
    Some(SealProblem {
        position: seal.position,
        kind: SealProblemKind::DigestMismatch,
        detail: format!(
            "the {} events up to position {} have the Merkle root {root}; the seal signed {} events with {}",
            size, seal.position, seal.tree_size, seal.digest
        ),
    })
}

/// Recomputes, from the rows as stored, the root of the log up to every seal's position in
/// one streamed pass, and checks each seal's signature with `key`.
pub async fn check_seals(
    pool: &PgPool,
    seals: &[Seal],
    key: &PublicKey,
) -> Result<SealReport, sqlx::Error> {
    let mut seals = seals.to_vec();
    seals.sort_by_key(|seal| seal.position);
    let mut problems: Vec<SealProblem> = seals
        .iter()
        .filter(|seal| !key.verifies(seal))
        .map(|seal| SealProblem {
            position: seal.position,
            kind: SealProblemKind::BadSignature,
            detail: format!(
                "the signature (key id {}) does not verify with the public key {}",
                seal.key_id,
                key.key_id()
            ),
        })
        .collect();
    let last = seals.last().map(|seal| seal.position);
    let mut conn = pool.acquire().await?;
    let mut rows = sqlx::query(
        "SELECT position, coalesce(hash, '') AS hash FROM events
          WHERE position <= $1 ORDER BY position",
    )
    .bind(last.unwrap_or(0))
    .fetch(&mut *conn);
    let mut range = CompactRange::new();
    let mut pending = seals.iter().peekable();
    while let Some(row) = rows.try_next().await? {
        let position: i64 = row.try_get("position")?;
        while let Some(seal) = pending.next_if(|seal| seal.position < position) {
            problems.extend(compare(seal, &range));
        }
        let hash: Vec<u8> = row.try_get("hash")?;
        range.push_leaf(merkle::leaf_hash(&hash));
    }
    problems.extend(pending.filter_map(|seal| compare(seal, &range)));
    problems.sort_by_key(|problem| (problem.position, problem.kind as u8));
    Ok(SealReport {
        seals_checked: seals.len() as u64,
        seal_problems: problems,
        latest_sealed_position: last,
    })
}

/// Every seal in `log_seals`.
pub async fn stored_seals(pool: &PgPool) -> Result<Vec<Seal>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM log_seals ORDER BY position"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(seal_from_row).collect()
}

/// Checks the log against the seals stored in the database.
pub async fn check_stored_seals(pool: &PgPool, key: &PublicKey) -> Result<SealReport, sqlx::Error> {
    check_seals(pool, &stored_seals(pool).await?, key).await
}

/// Reads a seal file: one JSON seal a line, blank lines ignored.
pub fn parse_seal_lines(text: &str) -> Result<Vec<Seal>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).map_err(|e| format!("line {}: not a seal: {e}", number + 1))
        })
        .collect()
}

/// What `otop verify --seals FILE` does: checks the log against the seals in the file's text.
pub async fn check_seal_file_text(
    pool: &PgPool,
    text: &str,
    key: &PublicKey,
) -> Result<SealReport, SealError> {
    let seals = parse_seal_lines(text).map_err(SealError::Invalid)?;
    Ok(check_seals(pool, &seals, key).await?)
}

/// One event's inclusion proof, with the event's chain hash as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventProof {
    pub event_hash: Vec<u8>,
    pub proof: InclusionProof,
}

/// The proof that the event at `position` is in `seal`'s tree, computed from the log as it is
/// now (in one snapshot): `None` when there is no event at `position` or the seal does not
/// cover it. A proof of a log changed since the seal does not verify.
pub async fn inclusion_proof(
    pool: &PgPool,
    position: i64,
    seal: &Seal,
) -> Result<Option<EventProof>, sqlx::Error> {
    if position > seal.position {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let event_hash: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT coalesce(hash, '') FROM events WHERE position = $1")
            .bind(position)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(event_hash) = event_hash else {
        return Ok(None);
    };
    let (index, size): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE position < $1), count(*) FROM events WHERE position <= $2",
    )
    .bind(position)
    .bind(seal.position)
    .fetch_one(&mut *tx)
    .await?;
    let mut builder = ProofBuilder::new(index.max(0) as u64, size.max(0) as u64);
    {
        let mut rows = sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT coalesce(hash, '') FROM events WHERE position <= $1 ORDER BY position",
        )
        .bind(seal.position)
        .fetch(&mut *tx);
        while let Some(hash) = rows.try_next().await? {
            builder.push_leaf(merkle::leaf_hash(&hash));
        }
    }
    tx.commit().await?;
    Ok(builder
        .finish()
        .map(|proof| EventProof { event_hash, proof }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::from_file_text(&"07".repeat(32)).expect("a seed")
    }

    fn tree(n: u8) -> (CompactRange, Vec<Vec<u8>>) {
        let hashes: Vec<Vec<u8>> = (0..n).map(|i| vec![i; 32]).collect();
        let mut range = CompactRange::new();
        for hash in &hashes {
            range.push_leaf(merkle::leaf_hash(hash));
        }
        (range, hashes)
    }

    #[test]
    fn a_seal_verifies_with_its_public_key_only_and_not_once_changed() {
        let key = key();
        let (range, _) = tree(5);
        let seal = Seal::sign(&key, 9, 5, &range.root(), Utc::now());
        let public = PublicKey::from_hex(&key.public().hex()).expect("hex round trip");
        assert!(public.verifies(&seal));
        assert_eq!(seal.key_id, public.key_id());
        assert_eq!(seal.key_id.len(), 16);
        for changed in [
            Seal {
                position: 10,
                ..seal.clone()
            },
            Seal {
                tree_size: 4,
                ..seal.clone()
            },
            Seal {
                digest: hex::encode([0u8; 32]),
                ..seal.clone()
            },
            Seal {
                sealed_at: "2020-01-01T00:00:00.000000Z".into(),
                ..seal.clone()
            },
            Seal {
                signature: "00".repeat(64),
                ..seal.clone()
            },
        ] {
            assert!(!public.verifies(&changed), "{changed:?}");
        }
        let other = SealKey::generate().expect("a key");
        assert!(!other.public().verifies(&seal));
    }

    #[test]
    fn the_message_is_the_documented_text() {
        assert_eq!(
            seal_message(12, 7, "ab", "2026-01-31T10:00:00.000000Z"),
            "otop.seal.v1\nposition=12\ntree_size=7\ndigest=ab\nsealed_at=2026-01-31T10:00:00.000000Z\n"
        );
    }

    #[test]
    fn the_private_key_is_never_printed() {
        let key = key();
        let printed = format!("{key:?}");
        assert!(!printed.contains(&"07".repeat(8)), "{printed}");
        assert!(printed.contains(&key.public().key_id()), "{printed}");
    }

    #[test]
    fn an_event_proof_needs_the_signature_and_the_path() {
        let key = key();
        let (range, hashes) = tree(6);
        let seal = Seal::sign(&key, 6, 6, &range.root(), Utc::now());
        let public = key.public();
        for (index, hash) in hashes.iter().enumerate() {
            let mut builder = ProofBuilder::new(index as u64, 6);
            for hash in &hashes {
                builder.push_leaf(merkle::leaf_hash(hash));
            }
            let proof = builder.finish().expect("a proof");
            assert_eq!(
                verify_event_proof(&public, &seal, index as u64, hash, &proof.path),
                Ok(())
            );
            assert_eq!(
                verify_event_proof(&public, &seal, index as u64, &[9u8; 32], &proof.path),
                Err(ProofError::NotIncluded)
            );
            let forged = Seal {
                tree_size: 7,
                ..seal.clone()
            };
            assert_eq!(
                verify_event_proof(&public, &forged, index as u64, hash, &proof.path),
                Err(ProofError::BadSignature)
            );
        }
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("otop-seal-test-{}", uuid::Uuid::new_v4()));
        let path = dir.join("k.key");
        let (made, created) = SealKey::load_or_generate(&path).expect("made");
        assert!(created);
        let (loaded, created) = SealKey::load_or_generate(&path).expect("loaded");
        assert!(!created);
        assert_eq!(made.public(), loaded.public());
        assert!(made.write_new(&path).is_err(), "never overwrites a key");
        std::fs::write(&path, "zz").expect("write");
        let error = SealKey::load(&path).expect_err("not hex").to_string();
        assert!(error.contains("k.key"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn seal_lines_parse_and_bad_lines_are_numbered() {
        let key = key();
        let (range, _) = tree(3);
        let seal = Seal::sign(&key, 3, 3, &range.root(), Utc::now());
        let text = format!("{}\n\n", serde_json::to_string(&seal).expect("json"));
        assert_eq!(parse_seal_lines(&text), Ok(vec![seal]));
        let error = parse_seal_lines(&format!("{text}{{oops\n")).expect_err("bad line");
        assert!(error.starts_with("line 3"), "{error}");
    }
}
