//! The projection runner under failure: a runner killed in the middle of a batch, two runners
//! at once, and a rebuild beside the live run. In every case the read models end up exactly
//! as a rebuild from zero makes them (compared as whole-table digests).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use otop_bench::load::{generate, Stores};
use otop_e2e::TestDatabase;
use otop_projections::rebuild::{rebuild, rebuild_together, table_digest};
use otop_projections::runner::{self, RunnerSettings};
use otop_projections::{checkpoint, Projection, ProjectionError, ProjectionKind, RecordedEvent};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;

/// Digests of every table of every projection, in a fixed order.
pub(crate) async fn digests(pool: &PgPool) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for kind in ProjectionKind::ALL {
        for (table, key) in kind.tables() {
            let digest = table_digest(pool, table, key).await.expect("digest");
            all.push((table.to_string(), digest));
        }
    }
    all
}

async fn total_events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .expect("count events")
}

/// Waits until every projection has applied every event in the log.
async fn wait_caught_up(pool: &PgPool) {
    wait_caught_up_within(pool, Duration::from_secs(60)).await
}

/// [`wait_caught_up`], failing the test after `within`.
pub(crate) async fn wait_caught_up_within(pool: &PgPool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut behind = 0;
        for kind in ProjectionKind::ALL {
            let cursor = checkpoint::read(pool, kind.name())
                .await
                .expect("checkpoint")
                .unwrap_or_default();
            behind += checkpoint::lag(pool, cursor, i64::MAX).await.expect("lag");
        }
        if behind == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "projections did not catch up: {behind} behind"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_all(pool: &PgPool, settings: &RunnerSettings) -> Vec<runner::RunnerHandle> {
    ProjectionKind::ALL
        .into_iter()
        .map(|kind| runner::spawn(pool.clone(), Arc::from(kind.build("")), settings.clone()))
        .collect()
}

/// Applies the first half of a batch, then hangs until the test kills it: a crash in the
/// middle of a batch, with half its rows written in the open transaction.
struct CrashMidBatch {
    inner: Box<dyn Projection>,
    reached: Arc<Notify>,
    armed: Arc<AtomicBool>,
}

impl Projection for CrashMidBatch {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if !self.armed.load(Ordering::SeqCst) || events.len() < 2 {
                return self.inner.apply(conn, events).await;
            }
            self.inner.apply(conn, &events[..events.len() / 2]).await?;
            self.reached.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

async fn kill_other_connections(pool: &PgPool) {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(pool)
    .await
    .expect("terminate backends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_batch_loses_nothing_and_counts_nothing_twice() {
    let db = TestDatabase::create().await;
    let stores = Stores::new(&db.pool);
    generate(&stores, 11, 6, 400).await;

    for (round, batch_size) in [(1, 37), (2, 200), (3, 1_000)] {
        // Work for the runners to be caught in the middle of.
        generate(&stores, 200 + round, 2, 100).await;
        let settings = RunnerSettings {
            batch_size,
            poll_interval: Duration::from_millis(20),
            ..RunnerSettings::default()
        };
        let reached = Arc::new(Notify::new());
        let armed = Arc::new(AtomicBool::new(true));
        let before = checkpoint::read_all(&db.pool).await.expect("checkpoints");
        let handles: Vec<_> = ProjectionKind::ALL
            .into_iter()
            .map(|kind| {
                let projection = CrashMidBatch {
                    inner: kind.build(""),
                    reached: reached.clone(),
                    armed: armed.clone(),
                };
                runner::spawn(db.pool.clone(), Arc::new(projection), settings.clone())
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(30), reached.notified())
            .await
            .expect("a runner reached the middle of a batch");
        // The crash: the task dies and every connection it had is cut.
        for handle in handles {
            handle.abort();
        }
        kill_other_connections(&db.pool).await;
        let after_crash = checkpoint::read_all(&db.pool).await.expect("checkpoints");
        assert!(
            after_crash.len() >= before.len(),
            "round {round}: checkpoints are never lost"
        );
        // More events arrive while nothing runs.
        generate(&stores, 100 + round, 1, 50).await;

        let healthy = spawn_all(&db.pool, &settings);
        wait_caught_up(&db.pool).await;
        for handle in healthy {
            handle.stop().await;
        }
    }

    let live = digests(&db.pool).await;
    let total = total_events(&db.pool).await;
    for kind in ProjectionKind::ALL {
        rebuild(&db.pool, kind, 500, |_, _| {})
            .await
            .expect("rebuild");
    }
    let rebuilt = digests(&db.pool).await;
    assert_eq!(
        live, rebuilt,
        "after three crashes the read models equal a rebuild from zero"
    );
    for kept in checkpoint::read_all(&db.pool).await.expect("checkpoints") {
        if ProjectionKind::parse(&kept.name).is_some() {
            assert_eq!(
                kept.events_applied, total,
                "{}: every event applied once",
                kept.name
            );
        }
    }
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_at_once_never_apply_an_event_twice() {
    let db = TestDatabase::create().await;
    let stores = Stores::new(&db.pool);
    // Two runners per projection with the advisory lock (one waits as a standby) and two
    // without it, racing on the checkpoint row alone.
    let with_lock = RunnerSettings {
        batch_size: 25,
        poll_interval: Duration::from_millis(5),
        standby_interval: Duration::from_millis(50),
        ..RunnerSettings::default()
    };
    let without_lock = RunnerSettings {
        use_advisory_lock: false,
        ..with_lock.clone()
    };
    let mut handles = spawn_all(&db.pool, &with_lock);
    handles.extend(spawn_all(&db.pool, &with_lock));
    handles.extend(spawn_all(&db.pool, &without_lock));
    handles.extend(spawn_all(&db.pool, &without_lock));

    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                let stores = Stores::new(&pool);
                generate(&stores, 1_000 + writer, 2, 150).await;
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    wait_caught_up(&db.pool).await;
    for handle in handles {
        handle.stop().await;
    }
    let total = total_events(&db.pool).await;
    for kept in checkpoint::read_all(&db.pool).await.expect("checkpoints") {
        assert_eq!(
            kept.events_applied, total,
            "{}: each event applied exactly once",
            kept.name
        );
    }
    let live = digests(&db.pool).await;
    for kind in ProjectionKind::ALL {
        rebuild(&db.pool, kind, 500, |_, _| {})
            .await
            .expect("rebuild");
    }
    assert_eq!(
        live,
        digests(&db.pool).await,
        "live equals a rebuild from zero"
    );
    drop(stores);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_equals_the_live_run_and_reads_go_on_during_the_swap() {
    let db = TestDatabase::create().await;
    let stores = Stores::new(&db.pool);
    let settings = RunnerSettings {
        poll_interval: Duration::from_millis(10),
        ..RunnerSettings::default()
    };
    let live_runners = spawn_all(&db.pool, &settings);
    generate(&stores, 7, 8, 500).await;
    wait_caught_up(&db.pool).await;
    let live = digests(&db.pool).await;
    let listings: i64 = sqlx::query_scalar("SELECT count(*) FROM listing_catalog")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(listings, 40);

    // Readers hammer the catalog while it is rebuilt and swapped.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let reader = {
        let pool = db.pool.clone();
        let stop = stop_reading.clone();
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let count: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM listing_catalog WHERE status = 'published'",
                )
                .fetch_one(&pool)
                .await
                .expect("reads keep working during the rebuild");
                assert_eq!(count, 40, "a read saw a half-built catalog");
                reads += 1;
            }
            reads
        })
    };
    let mut progress_calls = 0;
    let report = rebuild(&db.pool, ProjectionKind::Catalog, 100, |done, total| {
        progress_calls += 1;
        assert!(done <= total);
    })
    .await
    .expect("rebuild catalog");
    rebuild(&db.pool, ProjectionKind::Orders, 100, |_, _| {})
        .await
        .expect("rebuild orders");
    stop_reading.store(true, Ordering::SeqCst);
    let reads = reader.await.expect("reader");
    assert!(reads > 0);
    assert!(progress_calls > 1, "progress is reported batch by batch");
    assert_eq!(report.events_applied as i64, total_events(&db.pool).await);
    assert_eq!(live, digests(&db.pool).await, "rebuild equals live");

    // The live runner goes on after the swap, into the new tables.
    generate(&stores, 8, 1, 20).await;
    wait_caught_up(&db.pool).await;
    let listings_after: i64 = sqlx::query_scalar("SELECT count(*) FROM listing_catalog")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(listings_after, 45);
    for handle in live_runners {
        handle.stop().await;
    }
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_all_reads_the_log_once_and_swaps_every_projection_in_together() {
    let db = TestDatabase::create().await;
    let stores = Stores::new(&db.pool);
    let settings = RunnerSettings {
        poll_interval: Duration::from_millis(10),
        ..RunnerSettings::default()
    };
    let live_runners = spawn_all(&db.pool, &settings);
    generate(&stores, 11, 6, 400).await;
    wait_caught_up(&db.pool).await;
    let live = digests(&db.pool).await;
    let events = total_events(&db.pool).await as u64;
    let listings_before: i64 = sqlx::query_scalar("SELECT count(*) FROM listing_catalog")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let batch = 100;

    let mut reported = Vec::new();
    let report = rebuild_together(&db.pool, &ProjectionKind::ALL, batch, |done, total| {
        reported.push((done, total));
    })
    .await
    .expect("rebuild all");

    assert_eq!(
        report.events_applied, events,
        "every projection saw the whole log"
    );
    // One read per batch for the four together (and one that finds the end, and one in the
    // swap), where rebuilding them one after another reads the log four times.
    let batches = events.div_ceil(batch as u64);
    assert!(
        report.log_reads <= batches + 2,
        "{} reads of the log for {batches} batches",
        report.log_reads
    );
    assert!(report.log_reads >= batches, "the log was read in batches");
    assert!(reported.len() > 2, "progress is reported batch by batch");
    assert!(reported.windows(2).all(|pair| pair[0].0 <= pair[1].0));
    assert_eq!(reported.last().map(|(done, _)| *done), Some(events));
    assert_eq!(
        live,
        digests(&db.pool).await,
        "the rebuild equals the live run"
    );
    let positions: Vec<i64> = sqlx::query_scalar(
        "SELECT position FROM projection_checkpoints WHERE name = ANY($1) ORDER BY name",
    )
    .bind(ProjectionKind::ALL.map(|kind| kind.name()).to_vec())
    .fetch_all(&db.pool)
    .await
    .expect("checkpoints");
    assert_eq!(positions.len(), 4);
    assert!(
        positions.windows(2).all(|pair| pair[0] == pair[1]),
        "all four went live at one position: {positions:?}"
    );
    let shadows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM projection_checkpoints WHERE name LIKE '%_rebuild'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("shadow checkpoints");
    assert_eq!(shadows, 0, "no shadow checkpoint is left behind");

    // The live runners go on after the swap, into the new tables.
    generate(&stores, 12, 1, 20).await;
    wait_caught_up(&db.pool).await;
    let listings_after: i64 = sqlx::query_scalar("SELECT count(*) FROM listing_catalog")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let vendors_after: i64 = sqlx::query_scalar("SELECT count(*) FROM vendor_directory")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(vendors_after, 7);
    assert!(
        listings_after > listings_before,
        "{listings_after} listings after the swap"
    );
    for handle in live_runners {
        handle.stop().await;
    }
    db.drop_database().await;
}

/// Counts the batches handed to it; wants only events of the `Wanted` aggregate type.
struct WantsOneType {
    batches: std::sync::atomic::AtomicUsize,
}

impl Projection for WantsOneType {
    fn name(&self) -> &str {
        "wants-one-type"
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.aggregate_type == "Wanted"
    }

    fn apply<'a>(
        &'a self,
        _conn: &'a mut PgConnection,
        _events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

async fn insert_raw_event(pool: &PgPool, aggregate_type: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ($1, $2, 1, 'Written', '1', '{}', '{}') RETURNING position",
    )
    .bind(aggregate_type)
    .bind(uuid::Uuid::now_v7().to_string())
    .fetch_one(pool)
    .await
    .expect("insert")
}

/// Runs `projection`'s batches until its checkpoint reaches `position` (a log reader waits
/// behind transactions in flight anywhere on the server, other tests' included).
async fn catch_up_to(pool: &PgPool, projection: &dyn Projection, position: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        runner::catch_up(pool, projection, 500)
            .await
            .expect("catch up");
        let at = checkpoint::read(pool, projection.name())
            .await
            .expect("checkpoint")
            .unwrap_or_default();
        if at.position >= position {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {position}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A batch with nothing the projection wants is never handed to it, and its checkpoint
/// still moves past it, counting every event; a batch with one wanted event is applied.
#[tokio::test]
async fn a_batch_with_nothing_for_the_projection_only_moves_its_checkpoint() {
    let db = TestDatabase::create().await;
    let projection = WantsOneType {
        batches: std::sync::atomic::AtomicUsize::new(0),
    };
    let mut last = 0;
    for _ in 0..5 {
        last = insert_raw_event(&db.pool, "Unwanted").await;
    }
    catch_up_to(&db.pool, &projection, last).await;
    assert_eq!(
        projection.batches.load(Ordering::SeqCst),
        0,
        "no batch handed over"
    );
    let at = checkpoint::read(&db.pool, projection.name())
        .await
        .expect("checkpoint")
        .expect("a checkpoint row");
    assert_eq!(at.position, last, "moved past every unwanted event");

    insert_raw_event(&db.pool, "Unwanted").await;
    let wanted = insert_raw_event(&db.pool, "Wanted").await;
    catch_up_to(&db.pool, &projection, wanted).await;
    assert_eq!(
        projection.batches.load(Ordering::SeqCst),
        1,
        "the wanted batch"
    );
    let kept = checkpoint::read_all(&db.pool)
        .await
        .expect("checkpoints")
        .into_iter()
        .find(|kept| kept.name == projection.name())
        .expect("its row");
    assert_eq!(kept.cursor.position, wanted);
    assert_eq!(kept.events_applied, 7, "every event counted once");
    db.drop_database().await;
}

/// Waits until `counted` gives at least `target`, failing the test after ten seconds.
async fn wait_for_count(what: &str, target: u64, counted: impl Fn() -> u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counted() < target {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {target}",
            counted()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A runner skips the notifications its own process sent (the `watch` channel woke it for
/// those appends already), and still wakes for another process's: before, every
/// notification woke every runner of the sending process for a read that found nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_skips_its_own_process_notifications_and_wakes_for_others() {
    let db = TestDatabase::create().await;
    let settings = RunnerSettings {
        // Only a notification can wake it within the test.
        poll_interval: Duration::from_secs(3600),
        coalesce: Duration::ZERO,
        use_advisory_lock: false,
        ..RunnerSettings::default()
    };
    let handle = runner::spawn(
        db.pool.clone(),
        Arc::new(WantsOneType {
            batches: std::sync::atomic::AtomicUsize::new(0),
        }),
        settings,
    );
    // Its first batch finds the log empty; then it waits.
    wait_for_count("first batch", 1, || handle.counts().batches()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let batches_before = handle.counts().batches();
    let origin = otop_projections::log_signal::LogSignal::of_database(&db.pool)
        .origin()
        .to_string();
    let notify = |payload: String| {
        let pool = db.pool.clone();
        async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(runner::NOTIFY_CHANNEL)
                .bind(payload)
                .execute(&pool)
                .await
                .expect("notify");
        }
    };
    // One at a time, apart: a runner that took them as wake-ups would read once for each.
    for _ in 0..10 {
        notify(origin.clone()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_count("own notifications skipped", 10, || {
        handle.counts().own_notifications_skipped()
    })
    .await;
    assert_eq!(
        handle.counts().batches(),
        batches_before,
        "its own process's notifications woke no read"
    );

    // The control: another process's notification wakes it for one read.
    notify(uuid::Uuid::now_v7().to_string()).await;
    wait_for_count(
        "a read after another process's notification",
        batches_before + 1,
        || handle.counts().batches(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(handle.counts().batches(), batches_before + 1);
    handle.stop().await;
    db.drop_database().await;
}
