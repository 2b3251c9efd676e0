//! Aggregates load from a snapshot plus the events after it, and that is always the same state
//! as replaying every event (the cqrs-es 0.5.0 snapshot store applied the last batch twice).

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::Aggregate;
use otop_domain::listing::{ListingDetails, ListingDetailsPatch, StockChange};
use otop_domain::order::{OrderLine, ShippingAddress};
use otop_domain::values::{CategoryCode, Phone, Satang, SubtypeCode};
use otop_domain::vendor::{VendorProfile, VendorProfilePatch};
use otop_domain::{
    Actor, EventMetadata, Listing, ListingCommand, Order, OrderCommand, Role, Vendor,
    VendorCommand, VendorStanding, VendorStatus,
};
use otop_e2e::TestDatabase;
use otop_projections::AggregateStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uuid::Uuid;

fn metadata() -> HashMap<String, String> {
    EventMetadata::for_request(Actor::system(), "snapshot-test", chrono::Utc::now()).to_map()
}

fn satang(amount: i64) -> Satang {
    Satang::parse("amount", amount).expect("positive amount")
}

fn listing_details() -> ListingDetails {
    let category = CategoryCode::parse("c", "CRAFT").expect("category");
    ListingDetails {
        title_th: "ประเกือมเงิน ลายดอกมะลิ".into(),
        title_en: Some("Prakuem silver beads, jasmine".into()),
        description_th: None,
        description_en: None,
        subtype_code: SubtypeCode::parse("s", "CRF_SILVER_PRAKUEM", &category).expect("subtype"),
        category_code: category,
        weight_grams: Some(30),
        otop_stars: None,
        tags: vec!["เงิน".into()],
        image_urls: vec![],
    }
}

/// Runs `commands` through a store that snapshots every `every` events, ignoring refusals,
/// and checks after each one that the snapshot-based load equals a full replay.
async fn check_against_replay<A>(store: &AggregateStore<A>, id: &str, commands: Vec<A::Command>)
where
    A: Aggregate<Services = ()> + PartialEq + std::fmt::Debug + Clone + 'static,
    A::Command: Clone,
{
    for command in commands {
        // The command decides on the state this process holds (the stream cache) plus what
        // the log has after it; what it leaves must be what the log replays to as well.
        let decided = store.execute(id, command, &metadata()).await;
        let loaded = store.load(id).await.expect("load");
        let replayed = store.replay(id).await.expect("replay");
        assert_eq!(
            loaded.aggregate, replayed,
            "snapshot + later events != full replay"
        );
        if let Ok(outcome) = decided {
            assert_eq!(
                outcome.aggregate, replayed,
                "the state a command left != full replay"
            );
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn listing_snapshot_plus_later_events_equals_full_replay() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let store = Arc::new(AggregateStore::<Listing>::with_snapshot_every(
        db.pool.clone(),
        3,
    ));
    let orders: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let strategy = prop::collection::vec((0u8..9, 0u32..20, 0usize..4), 1..40);
    runner()
        .run(&strategy, |steps| {
            let vendor_id = Uuid::now_v7();
            let actor = Actor::vendor("v", vendor_id);
            let standing = VendorStanding {
                vendor_id,
                status: VendorStatus::Approved,
            };
            let listing_id = Uuid::now_v7();
            let mut commands = vec![ListingCommand::Create {
                listing_id,
                actor: actor.clone(),
                vendor: standing,
                details: listing_details(),
                price: satang(50_000),
                stock: 10,
            }];
            for (kind, number, order) in steps {
                let order_id = orders[order];
                commands.push(match kind {
                    0 => ListingCommand::ChangeStock {
                        actor: actor.clone(),
                        change: StockChange::Set(number),
                        expected: None,
                    },
                    1 => ListingCommand::ChangeStock {
                        actor: actor.clone(),
                        change: StockChange::Delta(i64::from(number) - 10),
                        expected: None,
                    },
                    2 => ListingCommand::ChangePrice {
                        actor: actor.clone(),
                        price: satang(i64::from(number) * 100 + 100),
                    },
                    3 => ListingCommand::Publish {
                        actor: actor.clone(),
                        vendor: standing,
                    },
                    4 => ListingCommand::Unpublish {
                        actor: actor.clone(),
                    },
                    5 => ListingCommand::Reserve {
                        order_id,
                        quantity: number % 5 + 1,
                        vendor: standing,
                    },
                    6 => ListingCommand::Release { order_id },
                    7 => ListingCommand::Commit { order_id },
                    _ => ListingCommand::UpdateDetails {
                        actor: actor.clone(),
                        patch: ListingDetailsPatch {
                            title_en: Some(format!("title {number}")),
                            ..Default::default()
                        },
                    },
                });
            }
            rt.block_on(check_against_replay(
                &store,
                &listing_id.to_string(),
                commands,
            ));
            Ok(())
        })
        .expect("property holds");
    rt.block_on(db.drop_database());
}

#[test]
fn vendor_snapshot_plus_later_events_equals_full_replay() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let store = Arc::new(AggregateStore::<Vendor>::with_snapshot_every(
        db.pool.clone(),
        2,
    ));
    let strategy = prop::collection::vec((0u8..7, 0u32..1000), 1..30);
    runner()
        .run(&strategy, |steps| {
            let vendor_id = Uuid::now_v7();
            let admin = Actor::new("admin", Role::Admin);
            let profile = VendorProfile {
                name_th: "กลุ่มจักสาน".into(),
                name_en: None,
                district_code: otop_domain::values::DistrictCode::parse("d", "3201")
                    .expect("district"),
                producer_type: otop_domain::values::ProducerType::CommunityGroup,
                phone: Phone::parse("p", "0812345678").expect("phone"),
                email: None,
                payout_promptpay: None,
            };
            let mut commands = vec![VendorCommand::Apply {
                vendor_id,
                profile,
                actor: admin.clone(),
            }];
            for (kind, number) in steps {
                commands.push(match kind {
                    0 => VendorCommand::Approve {
                        actor: admin.clone(),
                    },
                    1 => VendorCommand::Reject {
                        actor: admin.clone(),
                        reason: format!("r{number}"),
                    },
                    2 => VendorCommand::Suspend {
                        actor: admin.clone(),
                        reason: format!("s{number}"),
                    },
                    3 => VendorCommand::Reinstate {
                        actor: admin.clone(),
                    },
                    4 => VendorCommand::Close {
                        actor: admin.clone(),
                        reason: None,
                    },
                    _ => VendorCommand::UpdateProfile {
                        actor: admin.clone(),
                        patch: VendorProfilePatch {
                            name_en: Some(format!("Group {number}")),
                            ..Default::default()
                        },
                    },
                });
            }
            rt.block_on(check_against_replay(
                &store,
                &vendor_id.to_string(),
                commands,
            ));
            Ok(())
        })
        .expect("property holds");
    rt.block_on(db.drop_database());
}

#[test]
fn order_snapshot_plus_later_events_equals_full_replay() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let store = Arc::new(AggregateStore::<Order>::with_snapshot_every(
        db.pool.clone(),
        2,
    ));
    let strategy = prop::collection::vec((0u8..10, 1u32..5), 1..20);
    runner()
        .run(&strategy, |steps| {
            let order_id = Uuid::now_v7();
            let vendor_id = Uuid::now_v7();
            let system = Actor::system();
            let vendor = Actor::vendor("v", vendor_id);
            let shopper = Actor::new("shopper-1", Role::Shopper);
            let lines = vec![
                OrderLine {
                    listing_id: Uuid::now_v7(),
                    quantity: 2,
                    unit_price: satang(25_000),
                },
                OrderLine {
                    listing_id: Uuid::now_v7(),
                    quantity: 1,
                    unit_price: satang(50_000),
                },
            ];
            let mut commands = vec![OrderCommand::Place {
                order_id,
                checkout_id: Uuid::now_v7(),
                actor: shopper.clone(),
                shopper_id: shopper.id.clone(),
                vendor_id,
                lines,
                shipping_address: ShippingAddress {
                    name: "สมชาย".into(),
                    phone: Phone::parse("p", "0812345678").expect("phone"),
                    line1: "1 หมู่ 2".into(),
                    line2: None,
                    subdistrict: None,
                    district: None,
                    province: "สุรินทร์".into(),
                    postcode: "32000".into(),
                },
            }];
            for (kind, number) in steps {
                commands.push(match kind {
                    0 => OrderCommand::Confirm {
                        actor: system.clone(),
                    },
                    1 => OrderCommand::RecordPayment {
                        commission_bps: 0,
                        actor: system.clone(),
                        amount: satang(100_000),
                        reference: format!("pay-{number}"),
                    },
                    2 => OrderCommand::Accept {
                        actor: vendor.clone(),
                    },
                    3 => OrderCommand::Pack {
                        actor: vendor.clone(),
                    },
                    4 => OrderCommand::Ship {
                        actor: vendor.clone(),
                        carrier: "Thailand Post".into(),
                        tracking_number: format!("EX{number}TH"),
                    },
                    5 => OrderCommand::Deliver {
                        actor: shopper.clone(),
                    },
                    6 => OrderCommand::Refund {
                        actor: vendor.clone(),
                        amount: satang(i64::from(number) * 10_000),
                        reason: "damaged".into(),
                    },
                    7 => OrderCommand::Cancel {
                        actor: shopper.clone(),
                        reason: "changed mind".into(),
                    },
                    8 => OrderCommand::Expire {
                        actor: system.clone(),
                    },
                    _ => OrderCommand::Reject {
                        actor: system.clone(),
                        reason: "no stock".into(),
                        failed_listings: vec![],
                    },
                });
            }
            rt.block_on(check_against_replay(
                &store,
                &order_id.to_string(),
                commands,
            ));
            Ok(())
        })
        .expect("property holds");
    rt.block_on(db.drop_database());
}

/// The trap named in the foundation issue: 1,000 commands with snapshots every 100 reloaded
/// as 1,010 in cqrs-es 0.5.0's snapshot store.
#[tokio::test]
async fn a_thousand_stock_changes_reload_as_exactly_a_thousand() {
    let db = TestDatabase::create().await;
    let store = AggregateStore::<Listing>::with_snapshot_every(db.pool.clone(), 100);
    let (id, actor) = stocked_listing(&store, 0).await;
    for _ in 0..1_000 {
        let add_one = ListingCommand::ChangeStock {
            actor: actor.clone(),
            change: StockChange::Delta(1),
            expected: None,
        };
        store
            .execute(&id, add_one, &metadata())
            .await
            .expect("add one");
    }
    let loaded = store.load(&id).await.expect("load");
    assert_eq!(loaded.aggregate.state().map(|s| s.available), Some(1_000));
    assert_eq!(loaded.last_sequence, 1_001);
    assert!(loaded.snapshot_count.is_some(), "a snapshot was written");
    assert!(
        loaded.events_replayed < 100,
        "loaded from the snapshot: replayed {}",
        loaded.events_replayed
    );
    db.drop_database().await;
}

/// A listing that has taken thousands of orders loads only the events since its last snapshot,
/// and its state holds only the reservations still open.
#[tokio::test]
async fn a_busy_listing_loads_from_its_snapshot() {
    let db = TestDatabase::create().await;
    let store = AggregateStore::<Listing>::new(db.pool.clone());
    let vendor_id = Uuid::now_v7();
    let actor = Actor::vendor("v", vendor_id);
    let standing = VendorStanding {
        vendor_id,
        status: VendorStatus::Approved,
    };
    let id = Uuid::now_v7().to_string();
    let create = ListingCommand::Create {
        listing_id: id.parse().expect("uuid"),
        actor: actor.clone(),
        vendor: standing,
        details: listing_details(),
        price: satang(10_000),
        stock: 5_000,
    };
    store
        .execute(&id, create, &metadata())
        .await
        .expect("create");
    store
        .execute(
            &id,
            ListingCommand::Publish {
                actor,
                vendor: standing,
            },
            &metadata(),
        )
        .await
        .expect("publish");
    for _ in 0..1_000 {
        let order_id = Uuid::now_v7();
        store
            .execute(
                &id,
                ListingCommand::Reserve {
                    order_id,
                    quantity: 1,
                    vendor: standing,
                },
                &metadata(),
            )
            .await
            .expect("reserve");
        store
            .execute(&id, ListingCommand::Commit { order_id }, &metadata())
            .await
            .expect("commit");
    }
    let loaded = store.load(&id).await.expect("load");
    let state = loaded.aggregate.state().expect("listing");
    assert_eq!(state.sold, 1_000);
    assert_eq!(state.available, 4_000);
    assert!(
        state.reservations.is_empty(),
        "finished reservations are not kept"
    );
    assert!(loaded.events_replayed < otop_projections::event_store::DEFAULT_SNAPSHOT_EVERY);
    db.drop_database().await;
}

/// Creates a listing with `stock` units through `store`; returns its id and owner.
async fn stocked_listing(store: &AggregateStore<Listing>, stock: u32) -> (String, Actor) {
    let vendor_id = Uuid::now_v7();
    let actor = Actor::vendor("v", vendor_id);
    let id = Uuid::now_v7();
    let create = ListingCommand::Create {
        listing_id: id,
        actor: actor.clone(),
        vendor: VendorStanding {
            vendor_id,
            status: VendorStatus::Approved,
        },
        details: listing_details(),
        price: satang(10_000),
        stock,
    };
    store
        .execute(&id.to_string(), create, &metadata())
        .await
        .expect("create");
    (id.to_string(), actor)
}

fn price_change(actor: &Actor, round: i64) -> ListingCommand {
    ListingCommand::ChangePrice {
        actor: actor.clone(),
        price: satang(10_000 + round),
    }
}

/// A command on a busy stream reads from the log only what this process does not hold: after
/// sixty commands, the next one reads no event at all, where a store without the cache reads
/// the ten events after the snapshot.
#[tokio::test]
async fn a_busy_stream_is_read_from_where_this_process_left_it() {
    let db = TestDatabase::create().await;
    let cached = AggregateStore::<Listing>::new(db.pool.clone()).with_private_cache();
    let uncached = AggregateStore::<Listing>::new(db.pool.clone()).without_cache();
    let (id, actor) = stocked_listing(&cached, 5).await;
    for round in 1..=59 {
        cached
            .execute(&id, price_change(&actor, round), &metadata())
            .await
            .expect("price change");
    }

    let before = cached.events().events_read();
    let outcome = cached
        .execute(&id, price_change(&actor, 60), &metadata())
        .await
        .expect("price change");
    assert_eq!(
        cached.events().events_read() - before,
        0,
        "the 61st command read events this process already held"
    );
    assert_eq!(outcome.events.first().map(|e| e.sequence), Some(61));

    let before = uncached.events().events_read();
    uncached
        .execute(&id, price_change(&actor, 61), &metadata())
        .await
        .expect("price change");
    assert_eq!(
        uncached.events().events_read() - before,
        11,
        "without the cache: the events after the snapshot at 50"
    );
    let replayed = cached.replay(&id).await.expect("replay");
    assert_eq!(
        replayed.state().map(|s| s.price.get()),
        Some(10_061),
        "both stores appended in turn"
    );
    db.drop_database().await;
}

/// What another process appends reaches a stream this process holds: the cached state is
/// only where the load starts, so a compare-and-set on the stock sees the other process's
/// change and succeeds without a conflict, where a decision on the cached state alone
/// would have been refused as stale.
#[tokio::test]
async fn what_another_process_appended_reaches_a_cached_stream() {
    let db = TestDatabase::create().await;
    let here = AggregateStore::<Listing>::new(db.pool.clone()).with_private_cache();
    let elsewhere = AggregateStore::<Listing>::new(db.pool.clone()).with_private_cache();
    let (id, actor) = stocked_listing(&here, 10).await;
    let set = |units, expected| ListingCommand::ChangeStock {
        actor: actor.clone(),
        change: StockChange::Set(units),
        expected,
    };
    // `here` holds the listing at 10 units; the other process sets it to 7.
    elsewhere
        .execute(&id, set(7, Some(10)), &metadata())
        .await
        .expect("the other process's change");

    let before = here.events().events_read();
    let outcome = here
        .execute(&id, set(8, Some(7)), &metadata())
        .await
        .expect("a change made on the stock as the log has it");
    assert_eq!(
        here.events().events_read() - before,
        1,
        "read exactly the other process's event"
    );
    assert_eq!(here.events().conflicts(), 0, "no race was lost");
    assert_eq!(outcome.aggregate.state().map(|s| s.available), Some(8));

    // The control: the stale expectation is refused, so the state decided on was the log's.
    let stale = here.execute(&id, set(9, Some(10)), &metadata()).await;
    assert!(
        stale.is_err(),
        "a compare-and-set on the cached 10 must fail"
    );
    db.drop_database().await;
}
