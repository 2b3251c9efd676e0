//! Snapshots the log vouches for. A snapshot is a shortcut through a stream: whoever can edit
//! `snapshots.payload` could otherwise change what every later command decides while the
//! log itself stays intact and `verify` sees nothing.
//!
//! So each snapshot row records two things beside its state:
//! - `last_event_hash`: the hash of the last event it covers, as the log's trigger computed
//!   it. A load compares it with the hash the log holds at that sequence now: a log rewritten
//!   under the snapshot (and re-hashed) no longer matches.
//! - `state_mac`: HMAC-SHA256 of the stream's type, id, last sequence and state, keyed with
//!   a key derived from the server's `OTOP_JWT_SECRET`, which the database never holds. A
//!   state edited in SQL no longer matches, and its MAC cannot be recomputed there.
//!
//! A snapshot that fails either check is discarded and the stream replayed from its events.
//!
//! The key is process-wide (every store of a process writes and reads the same snapshot
//! rows): [`set_key`] sets it at start; until then a development key is used, as development
//! secrets are under `--demo`.

use std::sync::{LazyLock, RwLock};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The domain of the key derivation, so that the key is never the secret itself.
const KEY_CONTEXT: &[u8] = b"otop.snapshot-mac.v1";
const DEVELOPMENT_SECRET: &[u8] = b"otop-development-secret-do-not-use-in-production";

static KEY: LazyLock<RwLock<Vec<u8>>> = LazyLock::new(|| RwLock::new(derive(DEVELOPMENT_SECRET)));

fn derive(secret: &[u8]) -> Vec<u8> {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot run.
        Err(_) => return KEY_CONTEXT.to_vec(),
    };
    mac.update(KEY_CONTEXT);
    mac.finalize().into_bytes().to_vec()
}

/// Keys snapshot MACs with `secret` (the server's JWT secret) from now on, in this process.
pub fn set_key(secret: &[u8]) {
    let derived = derive(secret);
    match KEY.write() {
        Ok(mut key) => *key = derived,
        Err(poisoned) => *poisoned.into_inner() = derived,
    }
}

/// The canonical text of a snapshot's state: what is stored and what the MAC covers.
pub fn canonical(state: &Value) -> String {
    state.to_string()
}

/// The MAC of a snapshot of `aggregate_type`/`aggregate_id` at `last_sequence` holding
/// `state` (its canonical text).
pub fn mac(aggregate_type: &str, aggregate_id: &str, last_sequence: i64, state: &str) -> Vec<u8> {
    keyed(aggregate_type, aggregate_id, last_sequence, state)
        .finalize()
        .into_bytes()
        .to_vec()
}

fn keyed(aggregate_type: &str, aggregate_id: &str, last_sequence: i64, state: &str) -> HmacSha256 {
    let key = match KEY.read() {
        Ok(key) => key.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&key)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new_from_slice(KEY_CONTEXT).expect("any length"));
    for field in [aggregate_type.as_bytes(), aggregate_id.as_bytes()] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field);
    }
    mac.update(&last_sequence.to_be_bytes());
    mac.update(state.as_bytes());
    mac
}

/// What a loaded snapshot row claims, and what the log holds now.
pub struct SnapshotEvidence<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub last_sequence: i64,
    pub state: &'a Value,
    pub last_event_hash: Option<&'a [u8]>,
    pub state_mac: Option<&'a [u8]>,
    /// The hash of the log's event at `last_sequence` now (none when it is gone).
    pub log_hash: Option<&'a [u8]>,
}

/// Why a snapshot cannot be trusted, or `None` when it can.
pub fn distrust(evidence: &SnapshotEvidence<'_>) -> Option<&'static str> {
    let (Some(recorded), Some(claimed_mac)) = (evidence.last_event_hash, evidence.state_mac) else {
        return Some("written before snapshots were sealed");
    };
    if evidence.log_hash != Some(recorded) {
        return Some("the log no longer holds the event it was taken after");
    }
    let expected = keyed(
        evidence.aggregate_type,
        evidence.aggregate_id,
        evidence.last_sequence,
        &canonical(evidence.state),
    );
    if expected.verify_slice(claimed_mac).is_err() {
        return Some("its state does not match its MAC");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_is_trusted_only_with_its_mac_and_the_logs_hash() {
        let state = json!({"status": "published", "available": 7});
        let edited = json!({"status": "published", "available": 700});
        let good_mac = mac("Listing", "l-1", 50, &canonical(&state));
        let hash = [7u8; 32];
        let other_hash = [8u8; 32];
        let check = |state: &Value, sequence: i64, state_mac: Option<&[u8]>, log: Option<&[u8]>| {
            distrust(&SnapshotEvidence {
                aggregate_type: "Listing",
                aggregate_id: "l-1",
                last_sequence: sequence,
                state,
                last_event_hash: Some(&hash),
                state_mac,
                log_hash: log,
            })
        };
        assert_eq!(check(&state, 50, Some(&good_mac), Some(&hash)), None);
        assert!(check(&edited, 50, Some(&good_mac), Some(&hash)).is_some());
        assert!(check(&state, 49, Some(&good_mac), Some(&hash)).is_some());
        assert!(check(&state, 50, Some(&good_mac), Some(&other_hash)).is_some());
        assert!(check(&state, 50, Some(&good_mac), None).is_some());
        assert!(check(&state, 50, None, Some(&hash)).is_some());
    }
}
