//! The multi-stream append: several streams' events in one transaction, each under its own
//! expected sequence. Racing writers conflict in the database and retry the whole decision
//! (shown with the in-process stream locks off, as writers in different processes are), and
//! a decision that loses is never half-written; writers in one process queue on the stream
//! locks instead of colliding.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use otop_domain::listing::ListingDetails;
use otop_domain::values::{CategoryCode, Satang, SubtypeCode};
use otop_domain::{
    Actor, DomainError, EventMetadata, Listing, ListingCommand, VendorStanding, VendorStatus,
};
use otop_e2e::TestDatabase;
use otop_projections::{
    AggregateStore, AppendBatch, AppendError, DecisionError, EventStore, StreamKey,
};
use sqlx::postgres::PgListener;
use uuid::Uuid;

fn metadata() -> HashMap<String, String> {
    EventMetadata::for_request(Actor::system(), "multi-stream-test", chrono::Utc::now()).to_map()
}

fn details() -> ListingDetails {
    let category = CategoryCode::parse("c", "CRAFT").expect("category");
    ListingDetails {
        title_th: "ประเกือมเงิน".into(),
        title_en: Some("Prakuem silver beads".into()),
        description_th: None,
        description_en: None,
        subtype_code: SubtypeCode::parse("s", "CRF_SILVER_PRAKUEM", &category).expect("subtype"),
        category_code: category,
        weight_grams: Some(30),
        otop_stars: None,
        tags: vec![],
        image_urls: vec![],
    }
}

fn standing(vendor_id: Uuid) -> VendorStanding {
    VendorStanding {
        vendor_id,
        status: VendorStatus::Approved,
    }
}

/// A published listing with `stock` units; returns its id and its vendor's standing.
async fn published_listing(pool: &sqlx::PgPool, stock: u32) -> (Uuid, VendorStanding) {
    let store = AggregateStore::<Listing>::new(pool.clone());
    let vendor_id = Uuid::now_v7();
    let actor = Actor::vendor("vendor-user", vendor_id);
    let listing_id = Uuid::now_v7();
    let create = ListingCommand::Create {
        listing_id,
        actor: actor.clone(),
        vendor: standing(vendor_id),
        details: details(),
        price: Satang::parse("price", 120_000).expect("price"),
        stock,
    };
    store
        .execute(&listing_id.to_string(), create, &metadata())
        .await
        .expect("create");
    let publish = ListingCommand::Publish {
        actor,
        vendor: standing(vendor_id),
    };
    store
        .execute(&listing_id.to_string(), publish, &metadata())
        .await
        .expect("publish");
    (listing_id, standing(vendor_id))
}

/// Reserves one unit of each listing for `order_id`, as one decision over both streams.
async fn reserve_both(
    store: &EventStore,
    listings: &[(Uuid, VendorStanding)],
    order_id: Uuid,
) -> Result<(), DecisionError<DomainError>> {
    let keys: Vec<StreamKey> = listings
        .iter()
        .map(|(id, _)| StreamKey::of::<Listing>(id.to_string()))
        .collect();
    let keys = &keys;
    store
        .transact(keys, || async move {
            let mut loaded = store.load(keys).await?;
            let mut batch = AppendBatch::default();
            for (listing_id, vendor) in listings {
                let mut stream = loaded.take::<Listing>(&listing_id.to_string()).await?;
                let reserve = ListingCommand::Reserve {
                    order_id,
                    quantity: 1,
                    vendor: *vendor,
                };
                stream
                    .handle(reserve, &metadata())
                    .await
                    .map_err(DecisionError::Refused)?;
                batch.add(&mut stream, store.snapshot_every())?;
            }
            Ok((batch, ()))
        })
        .await
        .map(|_| ())
}

struct RaceOutcome {
    won: usize,
    sold_out: usize,
    gave_up: usize,
}

async fn race(
    store: Arc<EventStore>,
    listings: &[(Uuid, VendorStanding)],
    racers: usize,
) -> RaceOutcome {
    let results = futures::future::join_all((0..racers).map(|_| {
        let store = store.clone();
        async move { reserve_both(&store, listings, Uuid::now_v7()).await }
    }))
    .await;
    let mut outcome = RaceOutcome {
        won: 0,
        sold_out: 0,
        gave_up: 0,
    };
    for result in results {
        match result {
            Ok(()) => outcome.won += 1,
            Err(DecisionError::Refused(DomainError::InsufficientStock { .. })) => {
                outcome.sold_out += 1
            }
            Err(DecisionError::Store(AppendError::Conflict { .. })) => outcome.gave_up += 1,
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    outcome
}

/// Both listings hold exactly the same orders, and their stock adds up.
async fn assert_atomic(
    pool: &sqlx::PgPool,
    listings: &[(Uuid, VendorStanding)],
    stock: u32,
) -> usize {
    let store = AggregateStore::<Listing>::new(pool.clone());
    let mut held: Vec<BTreeSet<Uuid>> = Vec::new();
    for (id, _) in listings {
        let state = store
            .load(&id.to_string())
            .await
            .expect("load")
            .aggregate
            .0
            .expect("listing");
        assert_eq!(
            state.reserved() + state.sold + u64::from(state.available),
            u64::from(stock)
        );
        assert_eq!(
            state,
            store
                .replay(&id.to_string())
                .await
                .expect("replay")
                .0
                .expect("listing")
        );
        held.push(state.reservations.keys().copied().collect());
    }
    assert_eq!(held[0], held[1], "no order holds stock on one listing only");
    held[0].len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_decisions_conflict_in_the_database_retry_and_are_never_half_written() {
    let db = TestDatabase::create().await;
    let listings = vec![
        published_listing(&db.pool, 30).await,
        published_listing(&db.pool, 30).await,
    ];
    // No in-process locks: every racer reaches the database, as racers in other processes do.
    // The gate holds each first attempt between decision and append until all 60 have
    // decided on the same stock, so they collide however the machine schedules them.
    let store = Arc::new(
        EventStore::new(db.pool.clone())
            .without_local_locks()
            .with_decided_gate(Arc::new(tokio::sync::Barrier::new(60))),
    );
    let outcome = race(store.clone(), &listings, 60).await;
    assert!(
        store.conflicts() >= 59,
        "every racer but one must have lost its first append for this test to mean anything"
    );
    assert_eq!(outcome.won + outcome.sold_out + outcome.gave_up, 60);
    assert!(outcome.won > 0 && outcome.won <= 30);
    let holding = assert_atomic(&db.pool, &listings, 30).await;
    assert_eq!(
        holding, outcome.won,
        "every winner holds stock, and only winners"
    );
    let reserved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'StockReserved'")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(reserved as usize, 2 * outcome.won, "losers wrote nothing");
    println!(
        "60 racers: {} won, {} sold out, {} gave up after retries, {} conflicts retried",
        outcome.won,
        outcome.sold_out,
        outcome.gave_up,
        store.conflicts()
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_one_process_queue_on_the_stream_locks_instead_of_colliding() {
    let db = TestDatabase::create().await;
    let listings = vec![
        published_listing(&db.pool, 30).await,
        published_listing(&db.pool, 30).await,
    ];
    let store = Arc::new(EventStore::new(db.pool.clone()));
    let outcome = race(store.clone(), &listings, 60).await;
    assert_eq!(store.conflicts(), 0, "queued writers never lose a race");
    assert_eq!(outcome.won, 30, "every unit sells");
    assert_eq!(outcome.sold_out, 30);
    assert_eq!(assert_atomic(&db.pool, &listings, 30).await, 30);
    db.drop_database().await;
}

/// Notifications that arrive on `listener` until it has been quiet for half a second.
async fn notifications_until_quiet(listener: &mut PgListener) -> usize {
    let mut received = 0;
    while tokio::time::timeout(Duration::from_millis(500), listener.recv())
        .await
        .is_ok()
    {
        received += 1;
    }
    received
}

/// A multi-stream append commits in one transaction with no `NOTIFY` inside it (which would
/// queue every commit of the database on the notification queue's lock); the readers are
/// woken after the commit instead: this process's at once, other processes' by one `NOTIFY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_stream_append_is_one_transaction_with_one_notification() {
    let db = TestDatabase::create().await;
    let listings = vec![
        published_listing(&db.pool, 5).await,
        published_listing(&db.pool, 5).await,
    ];
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener
        .listen(otop_projections::runner::NOTIFY_CHANNEL)
        .await
        .expect("listen");
    // What the set-up's appends sent is not this test's.
    notifications_until_quiet(&mut listener).await;
    let store = EventStore::new(db.pool.clone());
    let mut appended_here =
        otop_projections::log_signal::LogSignal::of_database(&db.pool).subscribe();
    appended_here.borrow_and_update();
    let order_id = Uuid::now_v7();
    reserve_both(&store, &listings, order_id)
        .await
        .expect("reserve both");
    let transactions: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT transaction_id::text) FROM events WHERE event_type = 'StockReserved'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(transactions, 1, "both streams' events in one transaction");
    assert!(
        appended_here.has_changed().expect("signal alive"),
        "this process's readers are woken by the append"
    );
    assert_eq!(
        notifications_until_quiet(&mut listener).await,
        1,
        "one notification for the two streams' append, for other processes"
    );

    // The control: a commit into `events` by a writer other than the store carries no
    // `NOTIFY` of its own (the table has no trigger that sends one).
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Probe', $1, 1, 'ProbeWritten', '1', '{}', '{}')",
    )
    .bind(Uuid::now_v7().to_string())
    .execute(&db.pool)
    .await
    .expect("a raw insert");
    assert_eq!(
        notifications_until_quiet(&mut listener).await,
        0,
        "a commit into the log sends no notification inside it"
    );
    db.drop_database().await;
}
