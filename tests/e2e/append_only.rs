//! The hostile database administrator, part one: the log refuses to be changed, the server
//! works as a role that can only append to it and read it, and a snapshot edited in SQL does
//! not change what the next command decides.

use otop_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

#[tokio::test]
async fn the_log_refuses_updates_deletes_and_truncates_even_from_its_owner() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านท่าสว่าง").await;
    app.published_listing(vendor, 5).await;
    let before = event_count(&app).await;
    assert!(before >= 4, "there is a log to attack: {before}");
    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&app.pool)
        .await
        .expect("who");
    assert_eq!(
        owner, "postgres",
        "these statements run as the owner, a superuser"
    );
    for statement in [
        "UPDATE events SET payload = '{}' WHERE sequence = 1",
        "UPDATE events SET payload = payload WHERE false",
        "DELETE FROM events WHERE aggregate_type = 'Vendor'",
        "DELETE FROM events WHERE false",
        "TRUNCATE events",
    ] {
        let refused = sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect_err(statement);
        let message = refused.to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    assert_eq!(event_count(&app).await, before, "nothing changed");
    let report = otop_projections::audit::verify(&app.pool)
        .await
        .expect("verify");
    assert!(report.is_intact(), "{:?}", report.problems);
    app.cleanup().await;
}

#[tokio::test]
async fn the_server_works_as_a_role_that_can_only_append_to_and_read_the_log() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let server_pool = &app.state().pool;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(server_pool)
        .await
        .expect("who");
    assert_eq!(role, otop_projections::db::APP_ROLE);
    // Refused by the privileges themselves, before any trigger: the server's role cannot
    // switch triggers off, nor touch a row of the log.
    for statement in [
        "UPDATE events SET payload = '{}' WHERE false",
        "DELETE FROM events WHERE false",
        "TRUNCATE events",
        "SET session_replication_role = replica",
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        // The seals it signs are as append-only as the log they seal.
        "UPDATE log_seals SET key_id = key_id WHERE false",
        "DELETE FROM log_seals WHERE false",
    ] {
        let refused = sqlx::query(statement)
            .execute(server_pool)
            .await
            .expect_err(statement);
        let message = refused.to_string();
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "{statement}: {message}"
        );
    }
    // What the server must do, it can: the whole flow above ran through it (a vendor applied
    // and was approved, so events were appended and the read models written).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let vendor_row: Option<String> =
            sqlx::query_scalar("SELECT status FROM vendor_directory WHERE vendor_id = $1")
                .bind(vendor)
                .fetch_optional(&app.pool)
                .await
                .expect("read model");
        if vendor_row.as_deref() == Some("approved") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server's projections never wrote the vendor: {vendor_row:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_snapshot_edited_in_sql_is_discarded_and_the_stream_replayed() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มจักสานบ้านบุทม").await;
    let listing = app.published_listing(vendor, 10).await;
    let owner = app.vendor(vendor);
    // Created and published, then 48 stock changes: the 50th event falls due for a
    // snapshot, and nothing follows it, so the snapshot alone says how much is available.
    for round in 0..48 {
        let set = if round % 2 == 0 { 11 } else { 10 };
        let reply = app
            .post(
                &format!("/v1/listings/{listing}/stock"),
                &owner,
                json!({ "set": set }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let (last_sequence, payload): (i64, Value) = sqlx::query_as(
        "SELECT last_sequence, payload::jsonb FROM snapshots
          WHERE aggregate_type = 'Listing' AND aggregate_id = $1",
    )
    .bind(listing.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("the listing has a snapshot");
    assert_eq!(last_sequence, 50);
    assert!(
        payload.to_string().contains("\"available\":10"),
        "{payload}"
    );

    // The attack: 100,000 units, in the snapshot only. The log stays intact.
    let edited = sqlx::query(
        "UPDATE snapshots
            SET payload = regexp_replace(payload::text, '\"available\":\\s*10', '\"available\":100000')::json
          WHERE aggregate_type = 'Listing' AND aggregate_id = $1",
    )
    .bind(listing.to_string())
    .execute(&app.pool)
    .await
    .expect("edit the snapshot");
    assert_eq!(edited.rows_affected(), 1);
    let now: String = sqlx::query_scalar(
        "SELECT payload::text FROM snapshots WHERE aggregate_type = 'Listing' AND aggregate_id = $1",
    )
    .bind(listing.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("read back");
    assert!(now.contains("100000"), "the edit landed: {now}");
    let report = otop_projections::audit::verify(&app.pool)
        .await
        .expect("verify");
    assert!(report.is_intact(), "the log itself was not touched");

    // A shopper asks for 500: the edited snapshot would sell them; the log has 10.
    let refused = app
        .post(
            "/v1/checkouts",
            &app.shopper("buyer"),
            json!({
                "lines": [{"listing_id": listing, "quantity": 500}],
                "shipping_address": {"name": "สมชาย", "phone": "0812345678",
                    "line1": "1 ถ.หลักเมือง", "province": "สุรินทร์", "postcode": "32000"},
            }),
        )
        .await;
    refused.assert_problem(409);
    let store = otop_projections::AggregateStore::<otop_domain::Listing>::new(app.pool.clone());
    let loaded = store
        .load(&listing.to_string())
        .await
        .expect("load the listing");
    assert_eq!(
        loaded.events_replayed, 50,
        "replayed from the log, not the snapshot"
    );
    let state = loaded.aggregate.state().expect("a listing");
    assert_eq!(state.available, 10);
    app.cleanup().await;
}
