//! Signed seals over the event log, through HTTP against the real PostgreSQL: seals are made
//! by the server's task, stored and appended to the seal file, and check with the public key
//! alone; a whole aggregate erased or a chain re-hashed consistently before a seal passes the
//! chain walk but fails the seals (in the database and in the file copy, even once the
//! attacker rewrote `log_seals`); an event's inclusion proof checks against a seal with the
//! public key alone, and a tampered event's does not.

use std::time::Duration;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use otop_domain::{Actor, Role};
use otop_e2e::TestApp;
use otop_projections::audit;
use otop_projections::merkle::Hash;
use otop_projections::seal::{self, PublicKey, Seal};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn auditor(app: &TestApp) -> String {
    app.token(&Actor::new("auditor-1", Role::Auditor))
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not text: {value}"))
        .to_string()
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(text(value)).expect("lower-case hex")
}

/// Written from the contract (API.md), not from the server's code: Ed25519 over
/// `otop.seal.v1\nposition=P\ntree_size=N\ndigest=HEX\nsealed_at=TIME\n` with the key of
/// `GET /v1/audit/public-key`, whose id is the first 16 hex digits of its SHA-256.
fn signed_by(seal: &Value, public_key: &Value) -> bool {
    let key_bytes: [u8; 32] = unhex(&public_key["public_key"])
        .try_into()
        .expect("32 bytes");
    assert_eq!(
        text(&public_key["key_id"]),
        hex::encode(Sha256::digest(key_bytes))[..16]
    );
    assert_eq!(public_key["algorithm"], "ed25519");
    let key = VerifyingKey::from_bytes(&key_bytes).expect("an Ed25519 key");
    let message = format!(
        "otop.seal.v1\nposition={}\ntree_size={}\ndigest={}\nsealed_at={}\n",
        seal["position"],
        seal["tree_size"],
        text(&seal["digest"]),
        text(&seal["sealed_at"])
    );
    let signature: [u8; 64] = unhex(&seal["signature"]).try_into().expect("64 bytes");
    key.verify(message.as_bytes(), &Signature::from_bytes(&signature))
        .is_ok()
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path, Some(&auditor(app))).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    reply.body
}

async fn max_position(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("max position")
        .unwrap_or(0)
}

/// Waits (up to 30 s) for the seal task to seal the log up to its current end.
async fn wait_for_seal_of_everything(app: &TestApp) -> Value {
    let head = max_position(app).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = app.get("/v1/audit/seals/latest", Some(&auditor(app))).await;
        if reply.status == StatusCode::OK && reply.body["position"].as_i64() == Some(head) {
            return reply.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no seal up to {head}: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn file_lines(app: &TestApp) -> Vec<Value> {
    std::fs::read_to_string(app.seal_file())
        .expect("the seal file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON seal a line"))
        .collect()
}

async fn verify_reply(app: &TestApp) -> Value {
    get_ok(app, "/v1/audit/verify").await
}

fn seal_problem_kinds(verify: &Value) -> Vec<(i64, String)> {
    verify["seals"]["seal_problems"]
        .as_array()
        .expect("seal problems")
        .iter()
        .map(|p| (p["position"].as_i64().expect("position"), text(&p["kind"])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seal_task_seals_stores_and_files_seals_that_verify_with_the_public_key_alone() {
    let app = TestApp::spawn_with(|config| config.seal_interval = Duration::from_secs(1)).await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    app.published_listing(vendor, 5).await;
    let first = wait_for_seal_of_everything(&app).await;
    // More events: the task's next seal only adds their leaves to the tree it kept.
    app.published_listing(vendor, 7).await;
    let latest = wait_for_seal_of_everything(&app).await;
    assert!(latest["position"].as_i64() > first["position"].as_i64());
    assert_eq!(latest["tree_size"].as_i64(), Some(max_position(&app).await));

    // The file's last line is the latest seal; the file and the table hold the same seals.
    let lines = file_lines(&app);
    assert_eq!(lines.last(), Some(&latest), "{lines:?}");
    let listed = get_ok(&app, "/v1/audit/seals?after=0").await;
    assert_eq!(listed["seals"].as_array(), Some(&lines));
    assert_eq!(listed["next_after"], Value::Null);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM log_seals")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored as usize, lines.len());
    // Paging: one at a time, ascending.
    let mut after = 0;
    let mut paged = Vec::new();
    loop {
        let page = get_ok(&app, &format!("/v1/audit/seals?after={after}&limit=1")).await;
        paged.extend(page["seals"].as_array().expect("seals").iter().cloned());
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, lines);
    app.get("/v1/audit/seals?limit=0", Some(&auditor(&app)))
        .await
        .assert_problem(422);

    // Every seal verifies with the public key alone; a changed one does not.
    let public_key = get_ok(&app, "/v1/audit/public-key").await;
    for seal in &lines {
        assert!(signed_by(seal, &public_key), "{seal}");
        assert_eq!(seal["key_id"], public_key["key_id"]);
    }
    let mut changed = latest.clone();
    changed["tree_size"] = Value::from(1);
    assert!(!signed_by(&changed, &public_key));
    // The private key is nowhere in the replies or the database.
    let private = std::fs::read_to_string(app.state().config.seal_key_file.clone().expect("key"))
        .expect("key file");
    let private = private.trim();
    assert_eq!(private.len(), 64);
    assert!(!public_key.to_string().contains(private));
    let in_database: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM log_seals WHERE encode(signature, 'hex') LIKE '%' || $1 || '%'
            OR key_id = $1",
    )
    .bind(private)
    .fetch_one(&app.pool)
    .await
    .expect("search");
    assert_eq!(in_database, 0);

    // An intact log holds against every seal.
    let verify = verify_reply(&app).await;
    assert_eq!(verify["problems"], serde_json::json!([]));
    assert_eq!(
        verify["seals"]["seals_checked"].as_u64(),
        Some(lines.len() as u64)
    );
    assert_eq!(seal_problem_kinds(&verify), []);
    assert_eq!(
        verify["seals"]["latest_sealed_position"],
        latest["position"]
    );

    // Auditors and admins only.
    for path in [
        "/v1/audit/seals/latest",
        "/v1/audit/seals",
        "/v1/audit/public-key",
        "/v1/audit/events/1/proof",
    ] {
        app.get(path, None).await.assert_problem(401);
        app.get(path, Some(&app.shopper("nosy")))
            .await
            .assert_problem(403);
        let admin = app.get(path, Some(&app.admin())).await;
        assert_eq!(admin.status, StatusCode::OK, "{path}: {admin:?}");
    }
    app.cleanup().await;
}

/// Two vendors with a published listing each, sealed: (the second vendor's id, the seal).
async fn sealed_marketplace(app: &TestApp) -> (String, Seal) {
    let first = app.approved_vendor("กลุ่มหนึ่ง").await;
    app.published_listing(first, 3).await;
    let second = app.approved_vendor("กลุ่มสอง").await;
    app.published_listing(second, 4).await;
    let seal = app.seal_now().await.expect("a seal of the new events");
    assert_eq!(seal.position, max_position(app).await);
    assert_eq!(app.seal_now().await, None, "nothing new to seal");
    let verify = verify_reply(app).await;
    assert_eq!(verify["problems"], serde_json::json!([]));
    assert_eq!(seal_problem_kinds(&verify), []);
    (second.to_string(), seal)
}

/// A statement run as the superuser with the triggers off (`session_replication_role`), as an
/// attacker with database access would.
async fn as_superuser(app: &TestApp, statement: &str, bind: Option<&str>) {
    let mut conn = app.pool.acquire().await.expect("a connection");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("replica role");
    let done = match bind {
        Some(value) => sqlx::query(statement).bind(value).execute(&mut *conn).await,
        None => sqlx::raw_sql(statement).execute(&mut *conn).await,
    };
    done.unwrap_or_else(|e| panic!("{statement}: {e}"));
    sqlx::query("RESET session_replication_role")
        .execute(&mut *conn)
        .await
        .expect("reset");
}

/// Rewrites the payload of `aggregate`'s first event and re-hashes its whole chain with the
/// trigger's own `event_chain_hash`, so that every chain check passes.
async fn rewrite_and_rehash(app: &TestApp, aggregate_type: &str, aggregate_id: &str) {
    as_superuser(
        app,
        &format!(
            "UPDATE events SET payload = jsonb_set(payload::jsonb, ARRAY[event_type, 'forged'],
                                                   'true')::json
              WHERE aggregate_type = '{aggregate_type}' AND aggregate_id = $1 AND sequence = 1"
        ),
        Some(aggregate_id),
    )
    .await;
    as_superuser(
        app,
        &format!(
            "DO $$
             DECLARE previous bytea := '\\x{}'::bytea; r record;
             BEGIN
               FOR r IN SELECT sequence FROM events
                         WHERE aggregate_type = '{aggregate_type}' AND aggregate_id = '{aggregate_id}'
                         ORDER BY sequence LOOP
                 UPDATE events SET prev_hash = previous,
                        hash = event_chain_hash(previous, aggregate_type, aggregate_id, sequence,
                                                event_type, event_version, payload, metadata)
                  WHERE aggregate_type = '{aggregate_type}' AND aggregate_id = '{aggregate_id}'
                    AND sequence = r.sequence
                 RETURNING hash INTO previous;
               END LOOP;
             END $$",
            "00".repeat(32)
        ),
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_aggregate_erased_whole_before_a_seal_passes_the_chains_but_not_the_seal() {
    let app = TestApp::spawn().await;
    let (vendor, seal) = sealed_marketplace(&app).await;
    as_superuser(
        &app,
        "DELETE FROM events WHERE aggregate_type = 'Vendor' AND aggregate_id = $1",
        Some(&vendor),
    )
    .await;
    // The chain walk alone has nothing to say: no chain of that vendor is left to walk.
    let chains = audit::verify(&app.pool).await.expect("verify");
    assert!(chains.is_intact(), "{:?}", chains.problems);
    let verify = verify_reply(&app).await;
    assert_eq!(verify["problems"], serde_json::json!([]));
    assert_eq!(
        seal_problem_kinds(&verify),
        [(seal.position, "digest_mismatch".to_string())]
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_rehashed_consistently_is_caught_by_the_seals_even_in_the_file_copy_alone() {
    let app = TestApp::spawn().await;
    let (vendor, seal) = sealed_marketplace(&app).await;
    let file_copy = std::fs::read_to_string(app.seal_file()).expect("the seal file");
    let public_key = PublicKey::from_hex(&text(
        &get_ok(&app, "/v1/audit/public-key").await["public_key"],
    ))
    .expect("the public key");
    rewrite_and_rehash(&app, "Vendor", &vendor).await;
    let chains = audit::verify(&app.pool).await.expect("verify");
    assert!(chains.is_intact(), "{:?}", chains.problems);
    let forged: Value = sqlx::query_scalar(
        "SELECT payload::jsonb -> event_type -> 'forged' FROM events
          WHERE aggregate_type = 'Vendor' AND aggregate_id = $1 AND sequence = 1",
    )
    .bind(&vendor)
    .fetch_one(&app.pool)
    .await
    .expect("the rewritten event");
    assert_eq!(forged, Value::Bool(true), "the payload was rewritten");
    let verify = verify_reply(&app).await;
    assert_eq!(verify["problems"], serde_json::json!([]));
    assert_eq!(
        seal_problem_kinds(&verify),
        [(seal.position, "digest_mismatch".to_string())]
    );

    // The attacker rewrites the seals table too: the stored seal replaced by one over the
    // rewritten log, which the attacker cannot sign (the old signature stays).
    let mut range = otop_projections::merkle::CompactRange::new();
    let hashes: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT hash FROM events WHERE position <= $1 ORDER BY position")
            .bind(seal.position)
            .fetch_all(&app.pool)
            .await
            .expect("hashes");
    for hash in &hashes {
        range.push_leaf(otop_projections::merkle::leaf_hash(hash));
    }
    let forged_root: Hash = range.root();
    as_superuser(
        &app,
        &format!(
            "UPDATE log_seals SET digest = '\\x{}'::bytea WHERE position::text = $1",
            hex::encode(forged_root)
        ),
        Some(&seal.position.to_string()),
    )
    .await;
    let verify = verify_reply(&app).await;
    assert_eq!(
        seal_problem_kinds(&verify),
        [(seal.position, "bad_signature".to_string())]
    );
    // Then deletes every seal: the database has nothing left to check against...
    as_superuser(&app, "DELETE FROM log_seals", None).await;
    let verify = verify_reply(&app).await;
    assert_eq!(verify["seals"]["seals_checked"], 0);
    // ...but the file kept elsewhere still catches it: what `otop verify --seals FILE` runs
    // (the library function its command calls: the tests crate cannot reach the binary).
    let report = seal::check_seal_file_text(&app.pool, &file_copy, &public_key)
        .await
        .expect("check the file");
    assert_eq!(report.seals_checked, 1);
    assert_eq!(
        report
            .seal_problems
            .iter()
            .map(|p| (p.position, p.kind.as_str()))
            .collect::<Vec<_>>(),
        [(seal.position, "digest_mismatch")]
    );
    // With another key the file's seals do not verify at all.
    let stranger = seal::SealKey::generate().expect("a key").public();
    let report = seal::check_seal_file_text(&app.pool, &file_copy, &stranger)
        .await
        .expect("check the file");
    assert!(report
        .seal_problems
        .iter()
        .any(|p| p.kind.as_str() == "bad_signature"));
    app.cleanup().await;
}

/// The event's proof from the HTTP reply, checked with the public key alone.
fn check_proof(proof: &Value, public_key: &PublicKey) -> Result<(), seal::ProofError> {
    let seal: Seal = serde_json::from_value(proof["seal"].clone()).expect("a seal");
    let path: Vec<Hash> = proof["audit_path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|h| unhex(h).try_into().expect("32 bytes"))
        .collect();
    seal::verify_event_proof(
        public_key,
        &seal,
        proof["leaf_index"].as_u64().expect("index"),
        &unhex(&proof["event_hash"]),
        &path,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_proof_checks_against_the_seal_with_the_public_key_alone() {
    let app = TestApp::spawn().await;
    let (vendor, seal) = sealed_marketplace(&app).await;
    let public_key = PublicKey::from_hex(&text(
        &get_ok(&app, "/v1/audit/public-key").await["public_key"],
    ))
    .expect("the public key");
    let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM events ORDER BY position")
        .fetch_all(&app.pool)
        .await
        .expect("positions");
    let mut proofs = Vec::new();
    for (index, position) in positions.iter().enumerate() {
        let proof = get_ok(&app, &format!("/v1/audit/events/{position}/proof")).await;
        assert_eq!(proof["leaf_index"].as_u64(), Some(index as u64));
        assert_eq!(proof["tree_size"].as_i64(), Some(seal.tree_size));
        assert_eq!(proof["seal"]["position"].as_i64(), Some(seal.position));
        assert_eq!(check_proof(&proof, &public_key), Ok(()), "{proof}");
        let explicit = get_ok(
            &app,
            &format!("/v1/audit/events/{position}/proof?seal={}", seal.position),
        )
        .await;
        assert_eq!(explicit, proof);
        proofs.push(proof);
    }
    // Not covered, no such seal, not a position.
    let vendor_two = app.approved_vendor("กลุ่มสาม").await;
    let after_seal = max_position(&app).await;
    let token = auditor(&app);
    app.get(
        &format!("/v1/audit/events/{after_seal}/proof"),
        Some(&token),
    )
    .await
    .assert_problem(422);
    app.get("/v1/audit/events/1/proof?seal=999999", Some(&token))
        .await
        .assert_problem(404);
    app.get("/v1/audit/events/zero/proof", Some(&token))
        .await
        .assert_problem(422);
    let _ = vendor_two;

    // The vendor's first event rewritten and its chain re-hashed: its proof from the log as
    // it is now does not lead to the signed root, nor does the old path with its new hash.
    let (tampered_position, old_hash): (i64, Vec<u8>) = sqlx::query_as(
        "SELECT position, hash FROM events
          WHERE aggregate_type = 'Vendor' AND aggregate_id = $1 AND sequence = 1",
    )
    .bind(&vendor)
    .fetch_one(&app.pool)
    .await
    .expect("the vendor's first event");
    rewrite_and_rehash(&app, "Vendor", &vendor).await;
    let tampered = get_ok(&app, &format!("/v1/audit/events/{tampered_position}/proof")).await;
    assert_ne!(unhex(&tampered["event_hash"]), old_hash, "re-hashed");
    assert_eq!(
        check_proof(&tampered, &public_key),
        Err(seal::ProofError::NotIncluded)
    );
    let index = positions
        .iter()
        .position(|p| *p == tampered_position)
        .expect("sealed");
    let mut old_proof_new_hash = proofs[index].clone();
    old_proof_new_hash["event_hash"] = tampered["event_hash"].clone();
    assert_eq!(
        check_proof(&old_proof_new_hash, &public_key),
        Err(seal::ProofError::NotIncluded)
    );
    // The auditor's copy of the old proof, with the hash it had, still holds.
    assert_eq!(check_proof(&proofs[index], &public_key), Ok(()));
    app.cleanup().await;
}
