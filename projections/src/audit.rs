//! Tamper evidence: every event row carries a SHA-256 hash chained to the previous event of
//! the same aggregate, computed by a trigger when the row is inserted
//! (`migrations/20260102000001_event_hash_chain.sql`). This module recomputes the chains
//! *outside* the database, from the rows as stored, and names every event that fails.
//!
//! The canonical form, hashed after the 32 bytes of `prev_hash` (32 zero bytes for sequence
//! 1): the fields `"otop.event.v1"`, `aggregate_type`, `aggregate_id`, `sequence` (decimal),
//! `event_type`, `event_version`, `payload::jsonb::text`, `metadata::jsonb::text`, each as an
//! 8-byte big-endian byte length followed by its UTF-8 bytes. PostgreSQL's `jsonb` output
//! normalises the JSON (key order, whitespace, duplicate keys); everything else is computed
//! here, so a database whose functions were replaced cannot vouch for itself.
//!
//! How a chain is judged ([`check_chain`]): the rows, in stored sequence order, are linked
//! by their `prev_hash` to the `hash` of the row before them, and each row's own `hash`
//! commits to its sequence, content and predecessor. The walk starts at the genesis value and
//! follows the links, placing each row at the sequence its hash proves it was written at:
//!
//! - **altered**: a row whose content (or hash columns) no longer matches its hash, or whose
//!   successor was chained to another hash (the row was rewritten and re-hashed);
//! - **removed**: a sequence missing from the stored sequences, or skipped by the chain (its
//!   successor was chained to an event that is gone, even when later rows were renumbered to
//!   close the gap);
//! - **inserted**: a row that is not part of the chain (a forged event, a duplicate of a
//!   sequence, an event inserted between two others);
//! - **reordered**: a row of the chain standing at another place among the chain's rows than
//!   the one its hash proves (two events whose sequences were swapped are both reported).
//!
//! Not detectable by walking the chains alone: a chain rewritten from some event to its end
//! (or events appended with the trigger's help, or the last events removed). That is what
//! publishing the chain heads outside the database is for (`otop verify --print-heads`).

use std::collections::{BTreeSet, HashMap};

use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool, Row};

/// `prev_hash` of every aggregate's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The version tag that opens the canonical form.
pub const CANONICAL_TAG: &str = "otop.event.v1";

/// At most this many problems are listed; `problems_truncated` says when more were found.
pub const MAX_PROBLEMS: usize = 10_000;

/// How far past the expected sequence the walk looks for the sequence a row was written at,
/// when it resumes after a break (removed events whose successors were renumbered).
const RESUME_SEARCH: i64 = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Altered,
    Removed,
    Inserted,
    Reordered,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Altered => "altered",
            ProblemKind::Removed => "removed",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event that fails its check: the aggregate, the sequence where it happened, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub kind: ProblemKind,
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{} sequence {}",
            self.kind, self.aggregate_type, self.aggregate_id, self.sequence
        )
    }
}

/// The last event of one aggregate's chain, as stored: what an operator publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    /// Lower-case hex.
    pub hash: String,
}

impl ChainHead {
    /// The line the heads digest is computed over (and `--print-heads` prints).
    pub fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.aggregate_type, self.aggregate_id, self.sequence, self.hash
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events_checked: u64,
    pub aggregates_checked: u64,
    /// Every event that fails its check, by aggregate and sequence; empty for an intact log.
    pub problems: Vec<ChainProblem>,
    /// More than [`MAX_PROBLEMS`] were found; only the first are listed.
    pub problems_truncated: bool,
    /// SHA-256 (hex) over every chain head's line (`type \t id \t sequence \t hash \n`), in
    /// byte order of (aggregate_type, aggregate_id): one value to publish and compare.
    pub heads_digest: String,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One row of the log as the verifier reads it.
#[derive(Debug, Clone)]
pub struct ChainRow {
    pub sequence: i64,
    pub position: i64,
    pub event_type: String,
    pub event_version: String,
    /// `payload::jsonb::text`
    pub payload: String,
    /// `metadata::jsonb::text`
    pub metadata: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

fn field(hasher: &mut Sha256, value: &str) {
    hasher.update((value.len() as u64).to_be_bytes());
    hasher.update(value.as_bytes());
}

/// SHA-256 of `prev_hash` followed by the canonical form of the event.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev_hash: &[u8],
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload_jsonb_text: &str,
    metadata_jsonb_text: &str,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    field(&mut hasher, CANONICAL_TAG);
    field(&mut hasher, aggregate_type);
    field(&mut hasher, aggregate_id);
    field(&mut hasher, &sequence.to_string());
    field(&mut hasher, event_type);
    field(&mut hasher, event_version);
    field(&mut hasher, payload_jsonb_text);
    field(&mut hasher, metadata_jsonb_text);
    hasher.finalize().into()
}

/// Collects problems, at most [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
struct Problems {
    list: Vec<ChainProblem>,
    truncated: bool,
}

impl Problems {
    fn push(&mut self, problem: ChainProblem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(problem);
        } else {
            self.truncated = true;
        }
    }
}

/// How the walk placed a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// In the chain at this original sequence.
    Chain(i64),
    /// Not part of the chain.
    Outside,
}

/// Judges one aggregate's chain. `rows` must be in stored order (sequence, then position).
/// Returns the problems, each at most once, in sequence order.
/// Where the walk along one aggregate's chain stands.
struct Walk<'a> {
    rows: &'a [ChainRow],
    /// Where each row was placed: at a sequence of the chain, outside it, or not yet.
    placement: Vec<Option<Placement>>,
    unplaced: usize,
    /// The hash the next row of the chain must be chained to.
    current: Vec<u8>,
    /// The sequence the next row of the chain must prove.
    next: i64,
    /// The row placed last in the chain.
    previous: Option<usize>,
}

impl<'a> Walk<'a> {
    fn new(rows: &'a [ChainRow]) -> Self {
        Walk {
            rows,
            placement: vec![None; rows.len()],
            unplaced: rows.len(),
            current: GENESIS.to_vec(),
            next: 1,
            previous: None,
        }
    }

    /// Row `index` stands at `sequence` of the chain, which goes on from its hash.
    fn place(&mut self, index: usize, sequence: i64) {
        self.placement[index] = Some(Placement::Chain(sequence));
        self.unplaced -= 1;
        self.current = self.rows[index].hash.clone();
        self.next = sequence + 1;
        self.previous = Some(index);
    }

    /// Row `index` belongs to no place in the chain (it was inserted).
    fn place_outside(&mut self, index: usize) {
        self.placement[index] = Some(Placement::Outside);
        self.unplaced -= 1;
    }
}

pub fn check_chain(
    aggregate_type: &str,
    aggregate_id: &str,
    rows: &[ChainRow],
) -> Vec<(i64, ProblemKind)> {
    let mut found: BTreeSet<(i64, ProblemKind)> = BTreeSet::new();
    if rows.is_empty() {
        return Vec::new();
    }
    let verifies = |index: usize, sequence: i64| -> bool {
        let row = &rows[index];
        event_hash(
            &row.prev_hash,
            aggregate_type,
            aggregate_id,
            sequence,
            &row.event_type,
            &row.event_version,
            &row.payload,
            &row.metadata,
        )
        .as_slice()
            == row.hash.as_slice()
    };
    let self_ok: Vec<bool> = (0..rows.len())
        .map(|index| verifies(index, rows[index].sequence))
        .collect();
    let mut by_prev: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        by_prev
            .entry(row.prev_hash.as_slice())
            .or_default()
            .push(index);
    }
    let has_successor = |index: usize| by_prev.contains_key(rows[index].hash.as_slice());

    // 1. Stored sequences must run 1, 2, 3, ... without a gap.
    let mut expected = 1i64;
    for row in rows {
        if row.sequence > expected {
            let gap_end = row
                .sequence
                .min(expected.saturating_add(MAX_PROBLEMS as i64));
            for missing in expected..gap_end {
                found.insert((missing, ProblemKind::Removed));
            }
        }
        expected = expected.max(row.sequence.saturating_add(1));
    }

    // 2. Walk the links from the genesis value.
    let mut walk = Walk::new(rows);
    while walk.unplaced > 0 {
        let next = walk.next;
        let candidates: Vec<usize> = by_prev
            .get(walk.current.as_slice())
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|&i| walk.placement[i].is_none())
                    .collect()
            })
            .unwrap_or_default();
        let verified: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| {
                if rows[i].sequence == next {
                    self_ok[i]
                } else {
                    verifies(i, next)
                }
            })
            .collect();
        // A fork (two rows chained to one predecessor, both proving this sequence): the one
        // the chain goes on from is the original; then the one that was moved (someone made
        // room for the other); then the first written.
        let chosen = verified.iter().copied().min_by_key(|&i| {
            (
                !has_successor(i),
                rows[i].sequence == next,
                rows[i].position,
            )
        });
        if let Some(index) = chosen {
            walk.place(index, next);
            continue;
        }
        if let Some(index) = candidates
            .iter()
            .copied()
            .min_by_key(|&i| (rows[i].sequence != next, rows[i].sequence, rows[i].position))
        {
            // Chained to its predecessor, but its content no longer matches its hash.
            found.insert((rows[index].sequence, ProblemKind::Altered));
            walk.place(index, next);
            continue;
        }
        // Nothing is chained to the current hash: resume at the first row left.
        let Some(index) = (0..rows.len()).find(|&i| walk.placement[i].is_none()) else {
            break;
        };
        let row = &rows[index];
        let proven = if row.sequence >= next && self_ok[index] {
            Some(row.sequence)
        } else {
            (next..=next.saturating_add(RESUME_SEARCH)).find(|&sequence| verifies(index, sequence))
        };
        match proven {
            Some(sequence) => {
                if sequence > next {
                    // The events between were removed (whether or not the rows after them
                    // were renumbered to close the gap).
                    let end = sequence.min(next.saturating_add(MAX_PROBLEMS as i64));
                    for missing in next..end {
                        found.insert((missing, ProblemKind::Removed));
                    }
                } else if let Some(before) = walk.previous {
                    // Nothing missing, yet this row was chained to another hash than the
                    // one its predecessor has now: the predecessor was rewritten.
                    found.insert((rows[before].sequence, ProblemKind::Altered));
                } else {
                    // The first event, chained to something other than the genesis value.
                    found.insert((row.sequence, ProblemKind::Altered));
                }
                walk.place(index, sequence);
            }
            None if has_successor(index) => {
                // Later events were chained to this row's hash: it belongs here, changed.
                found.insert((row.sequence, ProblemKind::Altered));
                walk.place(index, next);
            }
            None => {
                found.insert((row.sequence, ProblemKind::Inserted));
                walk.place_outside(index);
            }
        }
    }

    // 3. The chain's rows must stand in the order their hashes prove.
    let in_stored_order: Vec<(usize, i64)> = walk
        .placement
        .iter()
        .enumerate()
        .filter_map(|(index, placed)| match placed {
            Some(Placement::Chain(original)) => Some((index, *original)),
            _ => None,
        })
        .collect();
    let mut in_chain_order = in_stored_order.clone();
    in_chain_order.sort_by_key(|&(index, original)| (original, index));
    for (stored, chained) in in_stored_order.iter().zip(&in_chain_order) {
        if stored.0 != chained.0 {
            found.insert((rows[stored.0].sequence, ProblemKind::Reordered));
        }
    }
    found.into_iter().collect()
}

/// Walks every chain in the log and reports every event that fails its check.
pub async fn verify(pool: &PgPool) -> Result<VerifyReport, sqlx::Error> {
    verify_with_heads(pool, |_| {}).await
}

/// Like [`verify`], calling `on_head` with each aggregate's head, in byte order of
/// (aggregate_type, aggregate_id). The log is streamed in one statement (one consistent
/// snapshot); one aggregate's rows are held at a time.
pub async fn verify_with_heads(
    pool: &PgPool,
    mut on_head: impl FnMut(&ChainHead),
) -> Result<VerifyReport, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut stream = sqlx::query(
        "SELECT aggregate_type, aggregate_id, sequence, position, event_type, event_version,
                payload::jsonb::text AS payload, metadata::jsonb::text AS metadata,
                coalesce(prev_hash, '') AS prev_hash, coalesce(hash, '') AS hash
           FROM events
          ORDER BY aggregate_type, aggregate_id, sequence, position",
    )
    .fetch(&mut *conn);
    let mut problems = Problems::default();
    let mut heads = Sha256::new();
    let mut events_checked = 0u64;
    let mut aggregates_checked = 0u64;
    let mut chain: Option<(String, String, Vec<ChainRow>)> = None;
    let mut finish = |key: &str, id: &str, rows: Vec<ChainRow>, problems: &mut Problems| {
        for (sequence, kind) in check_chain(key, id, &rows) {
            problems.push(ChainProblem {
                aggregate_type: key.to_string(),
                aggregate_id: id.to_string(),
                sequence,
                kind,
            });
        }
        if let Some(last) = rows.last() {
            let head = ChainHead {
                aggregate_type: key.to_string(),
                aggregate_id: id.to_string(),
                sequence: last.sequence,
                hash: hex::encode(&last.hash),
            };
            heads.update(head.line().as_bytes());
            heads.update(b"\n");
            on_head(&head);
        }
    };
    while let Some(row) = stream.try_next().await? {
        let aggregate_type: String = row.try_get("aggregate_type")?;
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let chain_row = ChainRow {
            sequence: row.try_get("sequence")?,
            position: row.try_get("position")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        };
        events_checked += 1;
        match &mut chain {
            Some((t, i, rows)) if *t == aggregate_type && *i == aggregate_id => {
                rows.push(chain_row)
            }
            _ => {
                if let Some((t, i, rows)) = chain.take() {
                    finish(&t, &i, rows, &mut problems);
                }
                aggregates_checked += 1;
                chain = Some((aggregate_type, aggregate_id, vec![chain_row]));
            }
        }
    }
    if let Some((t, i, rows)) = chain.take() {
        finish(&t, &i, rows, &mut problems);
    }
    Ok(VerifyReport {
        events_checked,
        aggregates_checked,
        problems: problems.list,
        problems_truncated: problems.truncated,
        heads_digest: hex::encode(heads.finalize()),
    })
}

/// Reads a list printed by `otop verify --print-heads`: one head per line (`type \t id \t
/// sequence \t hash`), and the `heads-digest \t hex` line, which must match the heads above it.
pub fn parse_heads(text: &str) -> Result<Vec<ChainHead>, String> {
    let mut heads = Vec::new();
    let mut digest = Sha256::new();
    let mut claimed = None;
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [] | [""] => {}
            ["heads-digest", hex_digest] => claimed = Some(hex_digest.trim().to_string()),
            [aggregate_type, aggregate_id, sequence, hash] => {
                let sequence = sequence
                    .parse()
                    .map_err(|_| format!("line {}: {sequence:?} is not a sequence", number + 1))?;
                let head = ChainHead {
                    aggregate_type: aggregate_type.to_string(),
                    aggregate_id: aggregate_id.to_string(),
                    sequence,
                    hash: hash.to_string(),
                };
                digest.update(head.line().as_bytes());
                digest.update(b"\n");
                heads.push(head);
            }
            _ => return Err(format!("line {}: not a chain head", number + 1)),
        }
    }
    let computed = hex::encode(digest.finalize());
    match claimed {
        Some(claimed) if claimed == computed => Ok(heads),
        Some(claimed) => Err(format!(
            "the heads listed digest to {computed}, not to the heads-digest {claimed}"
        )),
        None => Err("no heads-digest line".into()),
    }
}

/// Checks heads published earlier against the log: each must still be the event at its
/// sequence with its hash (a chain that only grew keeps every earlier head as a link).
/// Returns the heads that are not.
pub async fn check_heads(
    pool: &PgPool,
    heads: &[ChainHead],
) -> Result<Vec<ChainHead>, sqlx::Error> {
    let mut broken = Vec::new();
    for head in heads {
        let found: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(&head.aggregate_type)
        .bind(&head.aggregate_id)
        .bind(head.sequence)
        .fetch_optional(pool)
        .await?;
        if found.map(hex::encode).as_deref() != Some(head.hash.as_str()) {
            broken.push(head.clone());
        }
    }
    Ok(broken)
}

/// One event as an auditor sees it: the row as stored, with its place in the log and its
/// chain hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditedEvent {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub position: i64,
    pub transaction_id: u64,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

const AUDITED_COLUMNS: &str = "aggregate_type, aggregate_id, position,
    transaction_id::text AS transaction_id, sequence, event_type, event_version, payload,
    metadata, coalesce(prev_hash, '') AS prev_hash, coalesce(hash, '') AS hash";

fn audited_from_row(row: &sqlx::postgres::PgRow) -> Result<AuditedEvent, sqlx::Error> {
    let transaction_id: String = row.try_get("transaction_id")?;
    Ok(AuditedEvent {
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        position: row.try_get("position")?,
        transaction_id: transaction_id
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Every event of one aggregate, in sequence order.
pub async fn aggregate_events<'e>(
    executor: impl PgExecutor<'e>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<AuditedEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {AUDITED_COLUMNS} FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence, position"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(executor)
    .await?;
    rows.iter().map(audited_from_row).collect()
}

/// The stock events (reserved, released, committed) whose payload names `order_id`, in log
/// order.
pub async fn stock_events_of_order<'e>(
    executor: impl PgExecutor<'e>,
    order_id: &str,
) -> Result<Vec<AuditedEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {AUDITED_COLUMNS} FROM events
          WHERE aggregate_type = 'Listing'
            AND event_type IN ('StockReserved', 'StockReleased', 'StockCommitted')
            AND (payload -> event_type) ->> 'order_id' = $1
          ORDER BY transaction_id, position"
    ))
    .bind(order_id)
    .fetch_all(executor)
    .await?;
    rows.iter().map(audited_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "Order";
    const ID: &str = "o-1";

    /// An intact chain of `n` events, as the trigger writes it.
    fn chain(n: i64) -> Vec<ChainRow> {
        let mut rows = Vec::new();
        let mut previous = GENESIS.to_vec();
        for sequence in 1..=n {
            let payload = format!("{{\"Step\": {{\"n\": {sequence}}}}}");
            let hash = event_hash(&previous, TYPE, ID, sequence, "Step", "1", &payload, "{}");
            rows.push(ChainRow {
                sequence,
                position: sequence * 10,
                event_type: "Step".into(),
                event_version: "1".into(),
                payload,
                metadata: "{}".into(),
                prev_hash: previous.clone(),
                hash: hash.to_vec(),
            });
            previous = hash.to_vec();
        }
        rows
    }

    fn check(rows: &[ChainRow]) -> Vec<(i64, ProblemKind)> {
        let mut sorted = rows.to_vec();
        sorted.sort_by_key(|r| (r.sequence, r.position));
        check_chain(TYPE, ID, &sorted)
    }

    /// The trigger's insert of a new row at `sequence` after `previous`.
    fn forged(previous: &[u8], sequence: i64, position: i64) -> ChainRow {
        let payload = "{\"Forged\": {}}".to_string();
        ChainRow {
            sequence,
            position,
            event_type: "Forged".into(),
            event_version: "1".into(),
            hash: event_hash(previous, TYPE, ID, sequence, "Forged", "1", &payload, "{}").to_vec(),
            payload,
            metadata: "{}".into(),
            prev_hash: previous.to_vec(),
        }
    }

    #[test]
    fn an_intact_chain_has_no_problems() {
        assert!(check(&chain(1)).is_empty());
        assert!(check(&chain(30)).is_empty());
    }

    #[test]
    fn the_hash_is_the_documented_canonical_form() {
        // Same bytes as the SQL: sha256('\x00'*32 || int8send(len) || bytes ...).
        let mut expected = Sha256::new();
        expected.update([0u8; 32]);
        for value in [
            "otop.event.v1",
            "T",
            "a",
            "1",
            "E",
            "1",
            "{\"a\": [1, 2], \"b\": 1}",
            "{\"x\": \"y\"}",
        ] {
            expected.update((value.len() as u64).to_be_bytes());
            expected.update(value.as_bytes());
        }
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(
            event_hash(
                &GENESIS,
                "T",
                "a",
                1,
                "E",
                "1",
                "{\"a\": [1, 2], \"b\": 1}",
                "{\"x\": \"y\"}"
            ),
            expected
        );
        // As computed by PostgreSQL's trigger for that row (see the migration's check).
        assert_eq!(
            hex::encode(expected),
            "71241dfb8280dbef7ef899e31a7a4a17fc4286157ecabe22d5f579e36e4e51e0"
        );
    }

    #[test]
    fn an_altered_payload_is_reported_at_its_row() {
        for at in [1usize, 4, 9] {
            let mut rows = chain(10);
            rows[at].payload = "{\"Step\": {\"n\": 999}}".into();
            assert_eq!(check(&rows), [(at as i64 + 1, ProblemKind::Altered)]);
        }
    }

    #[test]
    fn a_rewritten_and_rehashed_event_is_reported_at_its_row() {
        let mut rows = chain(10);
        rows[4].payload = "{\"Step\": {\"n\": 999}}".into();
        rows[4].hash = event_hash(
            &rows[4].prev_hash,
            TYPE,
            ID,
            5,
            "Step",
            "1",
            &rows[4].payload,
            "{}",
        )
        .to_vec();
        assert_eq!(check(&rows), [(5, ProblemKind::Altered)]);
    }

    #[test]
    fn a_removed_event_is_reported_at_its_sequence_renumbered_or_not() {
        for at in [0usize, 3, 8] {
            let mut rows = chain(10);
            rows.remove(at);
            assert_eq!(
                check(&rows),
                [(at as i64 + 1, ProblemKind::Removed)],
                "gap at {at}"
            );
            for row in rows.iter_mut().skip(at) {
                row.sequence -= 1;
            }
            assert_eq!(
                check(&rows),
                [(at as i64 + 1, ProblemKind::Removed)],
                "renumbered after {at}"
            );
        }
    }

    #[test]
    fn swapped_events_are_both_reported() {
        for (a, b) in [(2i64, 3i64), (2, 7), (1, 10)] {
            let mut rows = chain(10);
            rows[a as usize - 1].sequence = b;
            rows[b as usize - 1].sequence = a;
            assert_eq!(
                check(&rows),
                [(a, ProblemKind::Reordered), (b, ProblemKind::Reordered)],
                "swap {a} {b}"
            );
        }
    }

    #[test]
    fn a_forged_event_inserted_between_two_is_reported_where_it_was_put() {
        for at in [1i64, 5, 9, 10] {
            let mut rows = chain(10);
            for row in rows.iter_mut().filter(|r| r.sequence >= at) {
                row.sequence += 1;
            }
            let previous = if at == 1 {
                GENESIS.to_vec()
            } else {
                rows[at as usize - 2].hash.clone()
            };
            rows.push(forged(&previous, at, 1_000));
            assert_eq!(check(&rows), [(at, ProblemKind::Inserted)], "at {at}");
        }
    }

    #[test]
    fn a_forged_event_with_a_made_up_hash_is_inserted() {
        let mut rows = chain(5);
        let mut fake = forged(&[7u8; 32], 6, 1_000);
        fake.hash = vec![1u8; 32];
        rows.push(fake);
        assert_eq!(check(&rows), [(6, ProblemKind::Inserted)]);
    }

    #[test]
    fn a_duplicate_sequence_is_inserted() {
        let mut rows = chain(5);
        let previous = rows[1].hash.clone();
        rows.push(forged(&previous, 3, 1_000));
        assert_eq!(check(&rows), [(3, ProblemKind::Inserted)]);
    }

    #[test]
    fn a_published_list_of_heads_must_match_its_digest() {
        let head = ChainHead {
            aggregate_type: TYPE.into(),
            aggregate_id: ID.into(),
            sequence: 3,
            hash: "ab".repeat(32),
        };
        let digest = hex::encode(Sha256::digest(format!("{}\n", head.line())));
        let text = format!("{}\nheads-digest\t{digest}\n", head.line());
        assert_eq!(parse_heads(&text), Ok(vec![head.clone()]));
        let forged = text.replace("\t3\t", "\t4\t");
        assert!(parse_heads(&forged).is_err());
        assert!(parse_heads(&head.line()).is_err(), "no digest line");
    }

    #[test]
    fn a_changed_hash_column_is_altered() {
        let mut rows = chain(5);
        rows[2].hash = vec![9u8; 32];
        assert_eq!(check(&rows), [(3, ProblemKind::Altered)]);
        let mut rows = chain(5);
        rows[2].prev_hash = vec![9u8; 32];
        assert_eq!(check(&rows), [(3, ProblemKind::Altered)]);
    }
}
