//! DESIGN.md decision 2, proven: eight writers commit through the real event store while one
//! deliberately slow transaction holds an early position open; a reader following the log
//! sees every committed event exactly once. A naive reader that follows `position` alone, run
//! side by side, skips the slow event, which shows the race really happened.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use otop_domain::listing::{ListingDetails, StockChange};
use otop_domain::values::{CategoryCode, Satang, SubtypeCode};
use otop_domain::{Actor, EventMetadata, Listing, ListingCommand, VendorStanding, VendorStatus};
use otop_e2e::TestDatabase;
use otop_projections::log::{read_after, LogCursor};
use otop_projections::AggregateStore;
use uuid::Uuid;

const WRITERS: usize = 8;
const COMMANDS_PER_WRITER: usize = 150;

fn details() -> ListingDetails {
    let category = CategoryCode::parse("c", "FOOD").expect("category");
    ListingDetails {
        title_th: "ข้าวหอมมะลิ 1 กก.".into(),
        title_en: None,
        description_th: None,
        description_en: None,
        subtype_code: SubtypeCode::parse("s", "FOOD_RICE_HOMMALI", &category).expect("subtype"),
        category_code: category,
        weight_grams: None,
        otop_stars: None,
        tags: vec![],
        image_urls: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reader_sees_every_committed_event_exactly_once() {
    let db = TestDatabase::create().await;
    let store = std::sync::Arc::new(AggregateStore::<Listing>::new(db.pool.clone()));

    // The slow transaction takes its position first and commits last.
    let mut slow = db.pool.begin().await.expect("begin slow transaction");
    let slow_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Slow', 'slow-1', 1, 'SlowEvent', '1', '{}', '{}') RETURNING position",
    )
    .fetch_one(&mut *slow)
    .await
    .expect("slow insert");

    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let reader_pool = db.pool.clone();
    let reader = tokio::spawn(async move {
        let mut cursor = LogCursor::START;
        let mut seen: Vec<(i64, String, i64)> = Vec::new();
        let mut naive_cursor = 0i64;
        let mut naive_seen: HashSet<i64> = HashSet::new();
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            let finished = *done_rx.borrow_and_update();
            let batch = read_after(&reader_pool, cursor, 64)
                .await
                .expect("read the log");
            for event in &batch {
                seen.push((event.position, event.aggregate_id.clone(), event.sequence));
                cursor = event.cursor();
            }
            let naive: Vec<i64> = sqlx::query_scalar(
                "SELECT position FROM events WHERE position > $1 ORDER BY position LIMIT 64",
            )
            .bind(naive_cursor)
            .fetch_all(&reader_pool)
            .await
            .expect("naive read");
            for position in &naive {
                naive_seen.insert(*position);
                naive_cursor = naive_cursor.max(*position);
            }
            if batch.is_empty() && naive.is_empty() {
                // Transaction ids are the whole server's: a transaction of another database
                // (another test's) still open holds every reader's horizon back, so
                // "nothing readable now" is not yet "read everything". Once the writers are
                // done, stop when the log has nothing more than what was read.
                if finished {
                    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                        .fetch_one(&reader_pool)
                        .await
                        .expect("count the log");
                    if seen.len() as i64 >= written || Instant::now() > give_up {
                        break;
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(5), done_rx.changed()).await;
            }
        }
        (seen, naive_seen)
    });

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let vendor_id = Uuid::now_v7();
                let listing_id = Uuid::now_v7().to_string();
                let actor = Actor::vendor(format!("writer-{writer}"), vendor_id);
                let metadata =
                    EventMetadata::for_request(actor.clone(), "race", chrono::Utc::now()).to_map();
                let create = ListingCommand::Create {
                    listing_id: listing_id.parse().expect("uuid"),
                    actor: actor.clone(),
                    vendor: VendorStanding {
                        vendor_id,
                        status: VendorStatus::Approved,
                    },
                    details: details(),
                    price: Satang::parse("p", 10_000).expect("price"),
                    stock: 0,
                };
                store
                    .execute(&listing_id, create, &metadata)
                    .await
                    .expect("create");
                for step in 1..COMMANDS_PER_WRITER {
                    let change = ListingCommand::ChangeStock {
                        actor: actor.clone(),
                        change: StockChange::Set(step as u32),
                        expected: None,
                    };
                    store
                        .execute(&listing_id, change, &metadata)
                        .await
                        .expect("stock change");
                }
            })
        })
        .collect();

    // Hold the slow transaction open while the writers commit past it.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    slow.commit().await.expect("commit the slow transaction");
    for writer in writers {
        writer.await.expect("writer finished");
    }
    done_tx.send(true).expect("reader alive");
    let (seen, naive_seen) = reader.await.expect("reader finished");

    let committed: Vec<i64> = sqlx::query_scalar("SELECT position FROM events ORDER BY position")
        .fetch_all(&db.pool)
        .await
        .expect("all positions");
    let seen_positions: HashSet<i64> = seen.iter().map(|(p, _, _)| *p).collect();
    let duplicates = seen.len() - seen_positions.len();
    let skipped = committed
        .iter()
        .filter(|p| !seen_positions.contains(p))
        .count();
    let naive_skipped = committed.iter().filter(|p| !naive_seen.contains(p)).count();
    println!(
        "log race: events written {}, events read {}, duplicates {duplicates}, skips {skipped}; \
         a position-only reader skipped {naive_skipped}",
        committed.len(),
        seen.len()
    );
    assert_eq!(committed.len(), WRITERS * COMMANDS_PER_WRITER + 1);
    assert_eq!(duplicates, 0, "no event is read twice");
    assert_eq!(skipped, 0, "no committed event is skipped");
    assert_eq!(seen.len(), committed.len());
    assert!(
        seen_positions.contains(&slow_position),
        "the slow event is read"
    );
    assert!(
        !naive_seen.contains(&slow_position) && naive_skipped >= 1,
        "the race did not happen: a position-only reader should have skipped the slow event"
    );
    // Within an aggregate, the log keeps the order of its sequence numbers.
    let mut last_sequence: BTreeMap<String, i64> = BTreeMap::new();
    for (_, aggregate_id, sequence) in &seen {
        let previous = last_sequence
            .insert(aggregate_id.clone(), *sequence)
            .unwrap_or(0);
        assert_eq!(
            *sequence,
            previous + 1,
            "aggregate {aggregate_id} out of order"
        );
    }
    db.drop_database().await;
}

/// Transaction ids order as numbers, not as text ("100" after "99"), and a reader moving in
/// small batches across them sees each event once, in order.
#[tokio::test]
async fn the_log_orders_transaction_ids_as_numbers() {
    let db = TestDatabase::create().await;
    for (transaction_id, aggregate_id) in [("100", "b"), ("99", "a"), ("1000", "c")] {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, transaction_id)
             VALUES ('Probe', $1, 1, 'Probe', '1', '{}', '{}', $2::text::xid8)",
        )
        .bind(aggregate_id)
        .bind(transaction_id)
        .execute(&db.pool)
        .await
        .expect("insert a probe event");
    }
    let all = read_after(&db.pool, LogCursor::START, 10)
        .await
        .expect("read");
    let order: Vec<u64> = all.iter().map(|e| e.transaction_id).collect();
    assert_eq!(order, [99, 100, 1000]);
    let mut cursor = LogCursor::START;
    let mut seen = Vec::new();
    loop {
        let batch = read_after(&db.pool, cursor, 1).await.expect("read one");
        let Some(event) = batch.last() else { break };
        cursor = event.cursor();
        seen.push(event.aggregate_id.clone());
    }
    assert_eq!(seen, ["a", "b", "c"], "one batch at a time, nothing twice");
    db.drop_database().await;
}
