//! Given/when/then rules of the Listing aggregate: every command from "not existing" and from
//! each of the 5 statuses, every authorization refusal, the stock rules and the stock
//! invariant.

mod common;

use std::collections::BTreeMap;

use common::{
    after, assert_forbidden, assert_invalid, assert_transition, check, given, json_round_trip,
    Cell, Subject,
};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use otop_domain::listing::{ListingDetails, ListingDetailsPatch, StockChange};
use otop_domain::values::{CategoryCode, Satang, Stars, SubtypeCode, MAX_STOCK};
use otop_domain::{
    Actor, DomainError, Listing, ListingCommand, ListingEvent, ListingStatus, Role, VendorStanding,
    VendorStatus,
};
use proptest::prelude::*;
use uuid::Uuid;

use Cell::{AlreadyExists as AE, Forbidden as F, NotFound as NF, Nothing as N, Transition as T};
use ListingStatus::{Archived, Draft, Published, TakenDown, Unpublished};

const VENDOR_ID: Uuid = Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_0001);
const OTHER_VENDOR_ID: Uuid = Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_0002);
const LISTING_ID: Uuid = Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_0010);
const ORDER_A: Uuid = Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_00a0);
const ORDER_B: Uuid = Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_00b0);

const PRICE: i64 = 350_000;
const NEW_PRICE: i64 = 420_000;
const STOCK: u32 = 10;
const TAKE_DOWN_REASON: &str = "counterfeit";

impl Subject for Listing {
    type Status = ListingStatus;

    fn status(&self) -> Option<ListingStatus> {
        self.state().map(|state| state.status)
    }

    fn status_name(status: ListingStatus) -> &'static str {
        status.as_str()
    }

    fn decide_command(&self, command: ListingCommand) -> Result<Vec<ListingEvent>, DomainError> {
        self.decide(command)
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A user of the vendor that owns the listing.
fn owner() -> Actor {
    Actor::vendor("vendor-user-1", VENDOR_ID)
}

fn other_vendor() -> Actor {
    Actor::vendor("vendor-user-2", OTHER_VENDOR_ID)
}

fn vendor_without_id() -> Actor {
    Actor::new("vendor-user-3", Role::Vendor)
}

fn admin() -> Actor {
    Actor::new("admin-1", Role::Admin)
}

fn system() -> Actor {
    Actor::system()
}

fn shopper() -> Actor {
    Actor::new("shopper-1", Role::Shopper)
}

fn auditor() -> Actor {
    Actor::new("auditor-1", Role::Auditor)
}

fn standing(status: VendorStatus) -> VendorStanding {
    VendorStanding {
        vendor_id: VENDOR_ID,
        status,
    }
}

fn approved() -> VendorStanding {
    standing(VendorStatus::Approved)
}

fn satang(amount: i64) -> Satang {
    Satang::parse("price", amount).unwrap()
}

fn category(code: &str) -> CategoryCode {
    CategoryCode::parse("category_code", code).unwrap()
}

/// A sub-type, parsed against its own category.
fn subtype(code: &str, of_category: &str) -> SubtypeCode {
    SubtypeCode::parse("subtype_code", code, &category(of_category)).unwrap()
}

fn details() -> ListingDetails {
    ListingDetails {
        title_th: "ผ้าไหมโฮลลายดั้งเดิม".to_string(),
        title_en: Some("Traditional Hol silk".to_string()),
        description_th: None,
        description_en: None,
        category_code: category("TEXTILE"),
        subtype_code: subtype("TEX_SILK_HOL", "TEXTILE"),
        weight_grams: Some(450),
        otop_stars: Some(Stars::parse("otop_stars", 4).unwrap()),
        tags: vec!["silk".to_string()],
        image_urls: vec![],
    }
}

fn title_patch() -> ListingDetailsPatch {
    ListingDetailsPatch {
        title_en: Some("Hol silk, natural dyes".to_string()),
        ..ListingDetailsPatch::default()
    }
}

fn created_with(stock: u32) -> ListingEvent {
    ListingEvent::ListingCreated {
        listing_id: LISTING_ID,
        vendor_id: VENDOR_ID,
        details: details(),
        price: satang(PRICE),
        stock,
    }
}

fn created() -> ListingEvent {
    created_with(STOCK)
}

/// The events that bring a listing into `status`.
fn history(status: ListingStatus) -> Vec<ListingEvent> {
    let mut events = vec![created()];
    match status {
        Draft => {}
        Published => events.push(ListingEvent::ListingPublished),
        Unpublished => events.extend([
            ListingEvent::ListingPublished,
            ListingEvent::ListingUnpublished,
        ]),
        Archived => events.push(ListingEvent::ListingArchived),
        TakenDown => events.push(ListingEvent::ListingTakenDown {
            reason: TAKE_DOWN_REASON.into(),
        }),
    }
    events
}

/// Given: a listing in `status`, or one that does not exist.
fn listing_in(status: Option<ListingStatus>) -> Listing {
    let listing: Listing = given(status.map(history).unwrap_or_default());
    assert_eq!(listing.status(), status, "given");
    listing
}

fn reserved(order_id: Uuid, quantity: u32) -> ListingEvent {
    ListingEvent::StockReserved { order_id, quantity }
}

/// The columns of every table: not existing, then the 5 statuses.
const STATES: [Option<ListingStatus>; 6] = [
    None,
    Some(Draft),
    Some(Published),
    Some(Unpublished),
    Some(Archived),
    Some(TakenDown),
];

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Create,
    UpdateDetails,
    UpdateDetailsEmpty,
    ChangePrice,
    SamePrice,
    SetStock,
    RemoveStock,
    StockUnchanged,
    Publish,
    Unpublish,
    Archive,
    TakeDown,
    Reserve,
    Release,
    Commit,
}

fn command(cmd: Cmd, actor: Actor) -> ListingCommand {
    match cmd {
        Cmd::Create => ListingCommand::Create {
            listing_id: LISTING_ID,
            actor,
            vendor: approved(),
            details: details(),
            price: satang(PRICE),
            stock: STOCK,
        },
        Cmd::UpdateDetails => ListingCommand::UpdateDetails {
            actor,
            patch: title_patch(),
        },
        Cmd::UpdateDetailsEmpty => ListingCommand::UpdateDetails {
            actor,
            patch: ListingDetailsPatch::default(),
        },
        Cmd::ChangePrice => ListingCommand::ChangePrice {
            actor,
            price: satang(NEW_PRICE),
        },
        Cmd::SamePrice => ListingCommand::ChangePrice {
            actor,
            price: satang(PRICE),
        },
        Cmd::SetStock => ListingCommand::ChangeStock {
            actor,
            change: StockChange::Set(25),
            expected: Some(STOCK),
        },
        Cmd::RemoveStock => ListingCommand::ChangeStock {
            actor,
            change: StockChange::Delta(-4),
            expected: None,
        },
        Cmd::StockUnchanged => ListingCommand::ChangeStock {
            actor,
            change: StockChange::Set(STOCK),
            expected: None,
        },
        Cmd::Publish => ListingCommand::Publish {
            actor,
            vendor: approved(),
        },
        Cmd::Unpublish => ListingCommand::Unpublish { actor },
        Cmd::Archive => ListingCommand::Archive { actor },
        Cmd::TakeDown => ListingCommand::TakeDown {
            actor,
            reason: "misleading photos".into(),
        },
        Cmd::Reserve => ListingCommand::Reserve {
            order_id: ORDER_A,
            quantity: 3,
            vendor: approved(),
        },
        Cmd::Release => ListingCommand::Release { order_id: ORDER_A },
        Cmd::Commit => ListingCommand::Commit { order_id: ORDER_A },
    }
}

/// The events `cmd` produces when accepted on a listing with the fixture's price and stock.
fn success(cmd: Cmd) -> Vec<ListingEvent> {
    match cmd {
        Cmd::Create => vec![created()],
        Cmd::UpdateDetails => vec![ListingEvent::ListingDetailsUpdated {
            patch: title_patch(),
        }],
        Cmd::ChangePrice => vec![ListingEvent::ListingPriceChanged {
            previous: satang(PRICE),
            price: satang(NEW_PRICE),
        }],
        Cmd::SetStock => vec![ListingEvent::ListingStockChanged {
            previous: STOCK,
            available: 25,
        }],
        Cmd::RemoveStock => vec![ListingEvent::ListingStockChanged {
            previous: STOCK,
            available: STOCK - 4,
        }],
        Cmd::Publish => vec![ListingEvent::ListingPublished],
        Cmd::Unpublish => vec![ListingEvent::ListingUnpublished],
        Cmd::Archive => vec![ListingEvent::ListingArchived],
        Cmd::TakeDown => vec![ListingEvent::ListingTakenDown {
            reason: "misleading photos".into(),
        }],
        Cmd::Reserve => vec![reserved(ORDER_A, 3)],
        Cmd::UpdateDetailsEmpty
        | Cmd::SamePrice
        | Cmd::StockUnchanged
        | Cmd::Release
        | Cmd::Commit => vec![],
    }
}

type Row = (Cmd, fn() -> Actor, [Cell<ListingStatus>; 6]);

fn run_table(rows: &[Row]) {
    for (cmd, actor, cells) in rows {
        for (state, cell) in STATES.iter().zip(cells) {
            let actor = actor();
            let context = format!("{cmd:?} by {} on {state:?}", actor.id);
            check(
                &listing_in(*state),
                command(*cmd, actor),
                &success(*cmd),
                *cell,
                &context,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The transition tables

#[test]
fn every_command_from_every_state_by_an_allowed_actor() {
    const INV: Cell<ListingStatus> = Cell::Invalid("body");
    use Cell::To;
    #[rustfmt::skip]
    let rows: &[Row] = &[
        //                                    none  draft            published        unpublished      archived  taken down
        (Cmd::Create,             owner,  [To(Draft), AE,              AE,              AE,              AE,       AE]),
        (Cmd::UpdateDetails,      owner,  [NF,  To(Draft),         To(Published),   To(Unpublished), T,        T]),
        (Cmd::UpdateDetailsEmpty, owner,  [NF,  INV,               INV,             INV,             T,        T]),
        (Cmd::ChangePrice,        owner,  [NF,  To(Draft),         To(Published),   To(Unpublished), T,        T]),
        (Cmd::SamePrice,          owner,  [NF,  N,                 N,               N,               T,        T]),
        (Cmd::SetStock,           owner,  [NF,  To(Draft),         To(Published),   To(Unpublished), T,        T]),
        (Cmd::RemoveStock,        owner,  [NF,  To(Draft),         To(Published),   To(Unpublished), T,        T]),
        (Cmd::StockUnchanged,     owner,  [NF,  N,                 N,               N,               T,        T]),
        (Cmd::Publish,            owner,  [NF,  To(Published),     T,               To(Published),   T,        T]),
        (Cmd::Unpublish,          owner,  [NF,  T,                 To(Unpublished), T,               T,        T]),
        (Cmd::Archive,            owner,  [NF,  To(Archived),      To(Archived),    To(Archived),    T,        T]),
        (Cmd::TakeDown,           admin,  [NF,  To(TakenDown),     To(TakenDown),   To(TakenDown),   T,        T]),
        (Cmd::TakeDown,           system, [NF,  To(TakenDown),     To(TakenDown),   To(TakenDown),   T,        T]),
        // Reserve, release and commit carry no actor: they come from the order saga.
        (Cmd::Reserve,            system, [NF,  T,                 To(Published),   T,               T,        T]),
        // Without a reservation for the order, release and commit do nothing.
        (Cmd::Release,            system, [NF,  N,                 N,               N,               N,        N]),
        (Cmd::Commit,             system, [NF,  N,                 N,               N,               N,        N]),
    ];
    run_table(rows);
}

#[test]
fn owner_commands_are_refused_to_everyone_but_the_owning_vendor_in_every_state() {
    let outsiders: [fn() -> Actor; 6] = [
        other_vendor,
        vendor_without_id,
        admin,
        system,
        shopper,
        auditor,
    ];
    let owner_commands = [
        Cmd::UpdateDetails,
        Cmd::UpdateDetailsEmpty,
        Cmd::ChangePrice,
        Cmd::SamePrice,
        Cmd::SetStock,
        Cmd::RemoveStock,
        Cmd::StockUnchanged,
        Cmd::Publish,
        Cmd::Unpublish,
        Cmd::Archive,
    ];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in owner_commands {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

#[test]
fn only_an_admin_can_take_a_listing_down() {
    let outsiders: [fn() -> Actor; 5] = [owner, other_vendor, vendor_without_id, shopper, auditor];
    let rows: Vec<Row> = outsiders
        .into_iter()
        .map(|actor| (Cmd::TakeDown, actor, [NF, F, F, F, F, F]))
        .collect();
    run_table(&rows);
}

// ---------------------------------------------------------------------------------------------
// Create

#[test]
fn creating_records_the_listing_as_a_draft_with_its_stock() {
    let listing: Listing = given([created()]);
    let state = listing.state().expect("exists after creation");
    assert_eq!(state.id, LISTING_ID);
    assert_eq!(state.vendor_id, VENDOR_ID);
    assert_eq!(state.status, Draft);
    assert_eq!(state.details, details());
    assert_eq!(state.price, satang(PRICE));
    assert_eq!(state.available, STOCK);
    assert!(state.reservations.is_empty());
    assert_eq!(state.sold, 0);
    assert_eq!(state.take_down_reason, None);
}

#[test]
fn create_depends_on_the_vendor_standing() {
    let table = [
        (VendorStatus::Applied, true),
        (VendorStatus::Approved, true),
        (VendorStatus::Suspended, true),
        (VendorStatus::Rejected, false),
        (VendorStatus::Closed, false),
    ];
    for (status, allowed) in table {
        let result = Listing::default().decide(ListingCommand::Create {
            listing_id: LISTING_ID,
            actor: owner(),
            vendor: standing(status),
            details: details(),
            price: satang(PRICE),
            stock: STOCK,
        });
        if allowed {
            assert_eq!(result, Ok(vec![created()]), "{status:?}");
        } else {
            assert_transition(result, status.as_str(), &format!("{status:?}"));
        }
    }
}

#[test]
fn only_the_vendor_itself_can_create_its_listings() {
    let cases = [
        ("another vendor for this vendor", other_vendor(), VENDOR_ID),
        ("this vendor for another vendor", owner(), OTHER_VENDOR_ID),
        (
            "a vendor user without a vendor",
            vendor_without_id(),
            VENDOR_ID,
        ),
        ("an admin", admin(), VENDOR_ID),
        ("the platform", system(), VENDOR_ID),
        ("a shopper", shopper(), VENDOR_ID),
    ];
    for (name, actor, vendor_id) in cases {
        let result = Listing::default().decide(ListingCommand::Create {
            listing_id: LISTING_ID,
            actor,
            vendor: VendorStanding {
                vendor_id,
                status: VendorStatus::Approved,
            },
            details: details(),
            price: satang(PRICE),
            stock: STOCK,
        });
        assert_forbidden(result, name);
    }
}

#[test]
fn create_refuses_a_subtype_outside_the_category() {
    let mismatched = ListingDetails {
        subtype_code: subtype("CRF_WOOD", "CRAFT"),
        ..details()
    };
    let result = Listing::default().decide(ListingCommand::Create {
        listing_id: LISTING_ID,
        actor: owner(),
        vendor: approved(),
        details: mismatched,
        price: satang(PRICE),
        stock: STOCK,
    });
    assert_invalid(result, "subtype_code", "CRF_WOOD in TEXTILE");
}

#[test]
fn creating_twice_is_refused() {
    let result = listing_in(Some(Draft)).decide(command(Cmd::Create, owner()));
    assert_eq!(result, Err(DomainError::AlreadyExists { kind: "listing" }));
}

// ---------------------------------------------------------------------------------------------
// Details and price

#[test]
fn detail_patches_keep_the_subtype_within_the_category() {
    let listing = listing_in(Some(Published));
    let cases: [(&str, ListingDetailsPatch, Option<&str>); 4] = [
        (
            "a new category without a new sub-type",
            ListingDetailsPatch {
                category_code: Some(category("CRAFT")),
                ..ListingDetailsPatch::default()
            },
            Some("subtype_code"),
        ),
        (
            "a new sub-type of another category",
            ListingDetailsPatch {
                subtype_code: Some(subtype("HERB_SOAP", "HERBAL")),
                ..ListingDetailsPatch::default()
            },
            Some("subtype_code"),
        ),
        (
            "a new category and a sub-type of it",
            ListingDetailsPatch {
                category_code: Some(category("CRAFT")),
                subtype_code: Some(subtype("CRF_WOOD", "CRAFT")),
                ..ListingDetailsPatch::default()
            },
            None,
        ),
        (
            "a new sub-type of the same category",
            ListingDetailsPatch {
                subtype_code: Some(subtype("TEX_SCARF", "TEXTILE")),
                ..ListingDetailsPatch::default()
            },
            None,
        ),
    ];
    for (name, patch, refused_field) in cases {
        let result = listing.decide(ListingCommand::UpdateDetails {
            actor: owner(),
            patch: patch.clone(),
        });
        match refused_field {
            Some(field) => assert_invalid(result, field, name),
            None => assert_eq!(
                result,
                Ok(vec![ListingEvent::ListingDetailsUpdated { patch }]),
                "{name}"
            ),
        }
    }
}

#[test]
fn a_details_patch_changes_only_the_fields_it_names() {
    let patch = ListingDetailsPatch {
        title_th: Some("ผ้าไหมโฮล".to_string()),
        category_code: Some(category("CRAFT")),
        subtype_code: Some(subtype("CRF_SOUVENIR", "CRAFT")),
        tags: Some(vec![]),
        image_urls: Some(vec!["https://img.example/hol.jpg".to_string()]),
        ..ListingDetailsPatch::default()
    };
    let listing = after(
        &listing_in(Some(Draft)),
        &[ListingEvent::ListingDetailsUpdated { patch }],
    );
    let expected = ListingDetails {
        title_th: "ผ้าไหมโฮล".to_string(),
        category_code: category("CRAFT"),
        subtype_code: subtype("CRF_SOUVENIR", "CRAFT"),
        tags: vec![],
        image_urls: vec!["https://img.example/hol.jpg".to_string()],
        ..details()
    };
    assert_eq!(listing.state().unwrap().details, expected);
}

#[test]
fn a_price_change_records_the_previous_price() {
    let listing = listing_in(Some(Published));
    let events = listing.decide(command(Cmd::ChangePrice, owner())).unwrap();
    assert_eq!(events, success(Cmd::ChangePrice));
    let listing = after(&listing, &events);
    assert_eq!(listing.state().unwrap().price, satang(NEW_PRICE));
    // Setting it again to what it now is changes nothing.
    assert_eq!(
        listing.decide(command(Cmd::ChangePrice, owner())),
        Ok(vec![])
    );
}

// ---------------------------------------------------------------------------------------------
// Stock changes

#[test]
fn stock_changes_with_set_delta_and_expected() {
    use StockChange::{Delta, Set};
    type Expect = Result<Option<u32>, DomainError>;
    let changed = |available: u32| -> Expect { Ok(Some(available)) };
    let unchanged: Expect = Ok(None);
    let max = MAX_STOCK;
    #[rustfmt::skip]
    let table: Vec<(StockChange, Option<u32>, Expect)> = vec![
        (Set(25),                          None,     changed(25)),
        (Set(0),                           None,     changed(0)),
        (Set(STOCK),                       None,     unchanged.clone()),
        (Set(max),                         None,     changed(max)),
        (Delta(5),                         None,     changed(15)),
        (Delta(-4),                        None,     changed(6)),
        (Delta(-10),                       None,     changed(0)),
        (Delta(0),                         None,     unchanged.clone()),
        (Delta(i64::from(max - STOCK)),    None,     changed(max)),
        (Set(25),                          Some(10), changed(25)),
        (Delta(-4),                        Some(10), changed(6)),
        (Set(STOCK),                       Some(10), unchanged),
        // A stale compare-and-set is refused before anything else is looked at.
        (Set(25),                          Some(9),  Err(DomainError::StaleStock { expected: 9, actual: 10 })),
        (Delta(-11),                       Some(11), Err(DomainError::StaleStock { expected: 11, actual: 10 })),
        (Set(max + 1),                     Some(0),  Err(DomainError::StaleStock { expected: 0, actual: 10 })),
        // Below zero.
        (Delta(-11),                       None,     Err(DomainError::InsufficientStock { available: 10, requested: 11 })),
        (Delta(-11),                       Some(10), Err(DomainError::InsufficientStock { available: 10, requested: 11 })),
        (Delta(-1_000_000),                None,     Err(DomainError::InsufficientStock { available: 10, requested: 1_000_000 })),
        // Extreme deltas are refused, never overflow.
        (Delta(i64::MIN),                  None,     Err(DomainError::InsufficientStock { available: 10, requested: u32::MAX })),
    ];
    let listing = listing_in(Some(Draft));
    for (change, expected, outcome) in table {
        let context = format!("{change:?} expecting {expected:?}");
        let result = listing.decide(ListingCommand::ChangeStock {
            actor: owner(),
            change,
            expected,
        });
        match outcome {
            Ok(None) => assert_eq!(result, Ok(vec![]), "{context}"),
            Ok(Some(available)) => {
                assert_eq!(
                    result,
                    Ok(vec![ListingEvent::ListingStockChanged {
                        previous: STOCK,
                        available
                    }]),
                    "{context}"
                );
                let next = after(&listing, &result.unwrap());
                assert_eq!(next.state().unwrap().available, available, "{context}");
            }
            Err(error) => assert_eq!(result, Err(error), "{context}"),
        }
    }
}

#[test]
fn stock_above_the_maximum_is_invalid() {
    use StockChange::{Delta, Set};
    let listing = listing_in(Some(Draft));
    for change in [
        Set(MAX_STOCK + 1),
        Set(u32::MAX),
        Delta(i64::from(MAX_STOCK - STOCK) + 1),
        Delta(i64::MAX),
    ] {
        let result = listing.decide(ListingCommand::ChangeStock {
            actor: owner(),
            change,
            expected: None,
        });
        assert_invalid(result, "delta", &format!("{change:?}"));
    }
}

#[test]
fn stock_changes_touch_only_available_units_and_ignore_reservations() {
    let listing: Listing = given([
        created(),
        ListingEvent::ListingPublished,
        reserved(ORDER_A, 3),
    ]);
    assert_eq!(listing.state().unwrap().available, 7);
    let result = listing.decide(ListingCommand::ChangeStock {
        actor: owner(),
        change: StockChange::Set(2),
        expected: Some(7),
    });
    assert_eq!(
        result,
        Ok(vec![ListingEvent::ListingStockChanged {
            previous: 7,
            available: 2
        }])
    );
    let result = listing.decide(ListingCommand::ChangeStock {
        actor: owner(),
        change: StockChange::Delta(-8),
        expected: None,
    });
    assert_eq!(
        result,
        Err(DomainError::InsufficientStock {
            available: 7,
            requested: 8
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Publishing needs an approved vendor

#[test]
fn publishing_needs_an_approved_vendor() {
    for listing_status in [Draft, Unpublished] {
        let listing = listing_in(Some(listing_status));
        for vendor_status in [
            VendorStatus::Applied,
            VendorStatus::Rejected,
            VendorStatus::Suspended,
            VendorStatus::Closed,
        ] {
            let result = listing.decide(ListingCommand::Publish {
                actor: owner(),
                vendor: standing(vendor_status),
            });
            assert_transition(
                result,
                vendor_status.as_str(),
                &format!("{listing_status:?} listing, {vendor_status:?} vendor"),
            );
        }
        let result = listing.decide(ListingCommand::Publish {
            actor: owner(),
            vendor: approved(),
        });
        assert_eq!(result, Ok(vec![ListingEvent::ListingPublished]));
    }
}

#[test]
fn publishing_with_another_vendors_standing_is_forbidden() {
    let result = listing_in(Some(Draft)).decide(ListingCommand::Publish {
        actor: owner(),
        vendor: VendorStanding {
            vendor_id: OTHER_VENDOR_ID,
            status: VendorStatus::Approved,
        },
    });
    assert_forbidden(result, "standing of another vendor");
}

#[test]
fn taking_down_records_the_reason() {
    let listing = listing_in(Some(TakenDown));
    assert_eq!(
        listing.state().unwrap().take_down_reason.as_deref(),
        Some(TAKE_DOWN_REASON)
    );
}

// ---------------------------------------------------------------------------------------------
// Reservations

fn reserve(order_id: Uuid, quantity: u32) -> ListingCommand {
    ListingCommand::Reserve {
        order_id,
        quantity,
        vendor: approved(),
    }
}

#[test]
fn reserving_moves_units_from_available_to_reserved() {
    let listing = listing_in(Some(Published));
    let events = listing.decide(reserve(ORDER_A, 3)).unwrap();
    assert_eq!(events, vec![reserved(ORDER_A, 3)]);
    let listing = after(&listing, &events);
    let state = listing.state().unwrap();
    assert_eq!(state.available, 7);
    assert_eq!(state.reservations, BTreeMap::from([(ORDER_A, 3)]));
    assert_eq!(state.reserved(), 3);
    assert_eq!(state.sold, 0);
}

#[test]
fn reserving_again_for_the_same_order_does_nothing() {
    let listing: Listing = given([
        created(),
        ListingEvent::ListingPublished,
        reserved(ORDER_A, 3),
    ]);
    assert_eq!(listing.decide(reserve(ORDER_A, 3)), Ok(vec![]));
    assert_eq!(
        listing.decide(reserve(ORDER_A, 5)),
        Ok(vec![]),
        "another quantity"
    );
    // A retry is still a no-op after the listing was unpublished.
    let unpublished = after(&listing, &[ListingEvent::ListingUnpublished]);
    assert_eq!(unpublished.decide(reserve(ORDER_A, 3)), Ok(vec![]));
    // Another order is refused there.
    assert_transition(
        unpublished.decide(reserve(ORDER_B, 1)),
        "unpublished",
        "order B",
    );
}

#[test]
fn reserving_more_than_is_available_is_refused() {
    let listing = listing_in(Some(Published));
    assert_eq!(
        listing.decide(reserve(ORDER_A, STOCK)),
        Ok(vec![reserved(ORDER_A, STOCK)])
    );
    assert_eq!(
        listing.decide(reserve(ORDER_A, STOCK + 1)),
        Err(DomainError::InsufficientStock {
            available: STOCK,
            requested: STOCK + 1
        })
    );
    let listing = after(&listing, &[reserved(ORDER_A, 7)]);
    assert_eq!(
        listing.decide(reserve(ORDER_B, 4)),
        Err(DomainError::InsufficientStock {
            available: 3,
            requested: 4
        })
    );
    assert_eq!(
        listing.decide(reserve(ORDER_B, 3)),
        Ok(vec![reserved(ORDER_B, 3)])
    );
}

#[test]
fn reserving_nothing_is_invalid() {
    let result = listing_in(Some(Published)).decide(reserve(ORDER_A, 0));
    assert_invalid(result, "quantity", "zero units");
}

#[test]
fn reserving_needs_an_approved_vendor() {
    let listing = listing_in(Some(Published));
    for status in [
        VendorStatus::Applied,
        VendorStatus::Rejected,
        VendorStatus::Suspended,
        VendorStatus::Closed,
    ] {
        let result = listing.decide(ListingCommand::Reserve {
            order_id: ORDER_A,
            quantity: 1,
            vendor: standing(status),
        });
        assert_transition(result, status.as_str(), &format!("{status:?} vendor"));
    }
    let result = listing.decide(ListingCommand::Reserve {
        order_id: ORDER_A,
        quantity: 1,
        vendor: VendorStanding {
            vendor_id: OTHER_VENDOR_ID,
            status: VendorStatus::Approved,
        },
    });
    assert_forbidden(result, "standing of another vendor");
}

/// The events that bring a listing holding a reservation of 3 for order A into `status`
/// (a draft never holds reservations: it was never published).
fn history_with_reservation(status: ListingStatus) -> Vec<ListingEvent> {
    let mut events = vec![
        created(),
        ListingEvent::ListingPublished,
        reserved(ORDER_A, 3),
    ];
    match status {
        Published => {}
        Unpublished => events.push(ListingEvent::ListingUnpublished),
        Archived => events.push(ListingEvent::ListingArchived),
        TakenDown => events.push(ListingEvent::ListingTakenDown {
            reason: TAKE_DOWN_REASON.into(),
        }),
        Draft => unreachable!("a draft has never been published"),
    }
    events
}

#[test]
fn a_reservation_is_released_or_committed_in_every_status_that_can_hold_one() {
    for status in [Published, Unpublished, Archived, TakenDown] {
        let listing: Listing = given(history_with_reservation(status));
        assert_eq!(listing.status(), Some(status));

        let release = listing.decide(ListingCommand::Release { order_id: ORDER_A });
        let release = release.unwrap_or_else(|e| panic!("{status:?}: {e}"));
        assert_eq!(
            release,
            vec![ListingEvent::StockReleased {
                order_id: ORDER_A,
                quantity: 3
            }],
            "{status:?}"
        );
        let released = after(&listing, &release);
        let state = released.state().unwrap();
        assert_eq!(
            (state.available, state.reserved(), state.sold),
            (10, 0, 0),
            "{status:?}"
        );
        assert_eq!(state.status, status, "release keeps the status");

        let commit = listing.decide(ListingCommand::Commit { order_id: ORDER_A });
        let commit = commit.unwrap_or_else(|e| panic!("{status:?}: {e}"));
        assert_eq!(
            commit,
            vec![ListingEvent::StockCommitted {
                order_id: ORDER_A,
                quantity: 3
            }],
            "{status:?}"
        );
        let committed = after(&listing, &commit);
        let state = committed.state().unwrap();
        assert_eq!(
            (state.available, state.reserved(), state.sold),
            (7, 0, 3),
            "{status:?}"
        );

        // Once released or committed, the reservation is gone: repeats do nothing.
        for done in [&released, &committed] {
            for repeat in [
                ListingCommand::Release { order_id: ORDER_A },
                ListingCommand::Commit { order_id: ORDER_A },
            ] {
                assert_eq!(done.decide(repeat), Ok(vec![]), "{status:?}");
            }
        }
        // Another order's release or commit does nothing.
        assert_eq!(
            listing.decide(ListingCommand::Release { order_id: ORDER_B }),
            Ok(vec![])
        );
        assert_eq!(
            listing.decide(ListingCommand::Commit { order_id: ORDER_B }),
            Ok(vec![])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The `handle` path through cqrs-es

#[test]
fn test_framework_sync_path() {
    TestFramework::<Listing>::with(())
        .given_no_previous_events()
        .when(command(Cmd::Create, owner()))
        .then_expect_events(vec![created()]);

    TestFramework::<Listing>::with(())
        .given(history(Published))
        .when(reserve(ORDER_A, STOCK + 1))
        .then_expect_error(DomainError::InsufficientStock {
            available: STOCK,
            requested: STOCK + 1,
        });
}

#[tokio::test]
async fn test_framework_async_path() {
    TestFramework::<Listing>::with(())
        .given(history(Published))
        .and(vec![reserved(ORDER_A, 4)])
        .when_async(ListingCommand::Commit { order_id: ORDER_A })
        .await
        .then_expect_events(vec![ListingEvent::StockCommitted {
            order_id: ORDER_A,
            quantity: 4,
        }]);

    TestFramework::<Listing>::with(())
        .given(history(Draft))
        .when_async(ListingCommand::ChangeStock {
            actor: owner(),
            change: StockChange::Delta(1),
            expected: Some(3),
        })
        .await
        .then_expect_error(DomainError::StaleStock {
            expected: 3,
            actual: STOCK,
        });

    let refused = TestFramework::<Listing>::with(())
        .given(history(Archived))
        .when_async(command(Cmd::Publish, owner()))
        .await
        .inspect_result();
    assert!(
        matches!(refused, Err(DomainError::InvalidTransition(_))),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The stock invariant: available + reserved + sold = initial stock + stock changes

#[test]
fn stock_adds_up_after_a_busy_day() {
    let listing: Listing = given([
        created(),
        ListingEvent::ListingPublished,
        reserved(ORDER_A, 4),
        reserved(ORDER_B, 2),
        ListingEvent::ListingStockChanged {
            previous: 4,
            available: 9,
        },
        ListingEvent::StockCommitted {
            order_id: ORDER_A,
            quantity: 4,
        },
        ListingEvent::StockReleased {
            order_id: ORDER_B,
            quantity: 2,
        },
    ]);
    let state = listing.state().unwrap();
    assert_eq!((state.available, state.reserved(), state.sold), (11, 0, 4));
    assert_eq!(
        u64::from(state.available) + state.reserved() + state.sold,
        10 + 5
    );
}

const ORDERS: [Uuid; 4] = [
    ORDER_A,
    ORDER_B,
    Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_00c0),
    Uuid::from_u128(0x0002_0000_0000_0000_0000_0000_0000_00d0),
];

fn any_vendor_status() -> impl Strategy<Value = VendorStatus> {
    prop_oneof![
        8 => Just(VendorStatus::Approved),
        1 => Just(VendorStatus::Applied),
        1 => Just(VendorStatus::Suspended),
        1 => Just(VendorStatus::Rejected),
        1 => Just(VendorStatus::Closed),
    ]
}

fn any_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        6 => Just(owner()),
        1 => Just(other_vendor()),
        1 => Just(admin()),
        1 => Just(system()),
        1 => Just(shopper()),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\PC{1,24}", any::<String>()]
}

fn any_category_and_subtype() -> impl Strategy<Value = (CategoryCode, SubtypeCode)> {
    proptest::sample::select(vec![
        ("TEXTILE", "TEX_SILK_MUDMEE"),
        ("TEXTILE", "TEX_SCARF"),
        ("CRAFT", "CRF_WOOD"),
        ("FOOD", "FOOD_SNACK"),
        ("HERBAL", "HERB_BALM"),
        // Mismatched on purpose: refused unless only one half is patched.
        ("BEV", "CRF_WOOD"),
    ])
    .prop_map(|(category_code, subtype_code)| {
        let own_category = otop_domain::reference::subtype(subtype_code)
            .unwrap()
            .category_code
            .clone();
        (
            category(category_code),
            subtype(subtype_code, &own_category),
        )
    })
}

fn any_patch() -> impl Strategy<Value = ListingDetailsPatch> {
    (
        proptest::option::of(any_text()),
        proptest::option::of(any_text()),
        proptest::option::of(any_text()),
        proptest::option::of(any_category_and_subtype()),
        0u8..3,
        proptest::option::of(1u32..=1_000_000),
        proptest::option::of(1i64..=5),
        proptest::option::of(proptest::collection::vec(any_text(), 0..4)),
        proptest::option::of(proptest::collection::vec(
            "https://img\\.example/[a-z]{1,8}",
            0..3,
        )),
    )
        .prop_map(
            |(title_th, title_en, description_th, codes, which, weight, stars, tags, images)| {
                let (category_code, subtype_code) = match (codes, which) {
                    (Some((c, s)), 0) => (Some(c), Some(s)),
                    (Some((c, _)), 1) => (Some(c), None),
                    (Some((_, s)), _) => (None, Some(s)),
                    (None, _) => (None, None),
                };
                ListingDetailsPatch {
                    title_th,
                    title_en,
                    description_th,
                    description_en: None,
                    category_code,
                    subtype_code,
                    weight_grams: weight,
                    otop_stars: stars.map(|s| Stars::parse("otop_stars", s).unwrap()),
                    tags,
                    image_urls: images,
                }
            },
        )
}

/// Commands that exercise stock above all; `create` adds creation for the round-trip test.
fn any_command(create: bool) -> BoxedStrategy<ListingCommand> {
    let order = proptest::sample::select(ORDERS.to_vec());
    let stock_change = prop_oneof![
        (0u32..40).prop_map(StockChange::Set),
        (-40i64..40).prop_map(StockChange::Delta),
        any::<i64>().prop_map(StockChange::Delta),
    ];
    let commands = prop_oneof![
        4 => (any_actor(), stock_change, proptest::option::of(0u32..40)).prop_map(
            |(actor, change, expected)| ListingCommand::ChangeStock { actor, change, expected }
        ),
        6 => (order.clone(), 0u32..15, any_vendor_status()).prop_map(|(order_id, quantity, status)| {
            ListingCommand::Reserve { order_id, quantity, vendor: standing(status) }
        }),
        3 => order.clone().prop_map(|order_id| ListingCommand::Release { order_id }),
        3 => order.prop_map(|order_id| ListingCommand::Commit { order_id }),
        2 => (any_actor(), any_vendor_status())
            .prop_map(|(actor, status)| ListingCommand::Publish { actor, vendor: standing(status) }),
        2 => any_actor().prop_map(|actor| ListingCommand::Unpublish { actor }),
        1 => any_actor().prop_map(|actor| ListingCommand::Archive { actor }),
        1 => (any_actor(), any_text())
            .prop_map(|(actor, reason)| ListingCommand::TakeDown { actor, reason }),
        1 => (any_actor(), (1i64..1_000_000))
            .prop_map(|(actor, price)| ListingCommand::ChangePrice { actor, price: satang(price) }),
        1 => (any_actor(), any_patch())
            .prop_map(|(actor, patch)| ListingCommand::UpdateDetails { actor, patch }),
    ];
    let creation = (
        any_actor(),
        any_vendor_status(),
        0u32..40,
        any_category_and_subtype(),
    )
        .prop_map(|(actor, status, stock, (category_code, subtype_code))| {
            ListingCommand::Create {
                listing_id: LISTING_ID,
                actor,
                vendor: standing(status),
                details: ListingDetails {
                    category_code,
                    subtype_code,
                    ..details()
                },
                price: satang(PRICE),
                stock,
            }
        });
    if create {
        prop_oneof![1 => creation, 10 => commands].boxed()
    } else {
        commands.boxed()
    }
}

proptest! {
    #[test]
    fn stock_always_adds_up(
        initial in 0u32..40,
        commands in proptest::collection::vec(any_command(false), 1..60),
    ) {
        let mut listing: Listing = given([created_with(initial), ListingEvent::ListingPublished]);
        let mut stock_changes: i64 = 0;
        for command in commands {
            let Ok(events) = listing.decide(command) else { continue };
            for event in events {
                if let ListingEvent::ListingStockChanged { previous, available } = &event {
                    prop_assert_eq!(*previous, listing.state().unwrap().available);
                    stock_changes += i64::from(*available) - i64::from(*previous);
                }
                if let ListingEvent::StockReserved { quantity, .. } = &event {
                    prop_assert!(*quantity <= listing.state().unwrap().available);
                }
                listing.apply(event);
            }
            let state = listing.state().unwrap();
            let total = i64::from(state.available) + state.reserved() as i64 + state.sold as i64;
            prop_assert_eq!(total, i64::from(initial) + stock_changes);
            prop_assert!(state.available <= MAX_STOCK);
        }
    }

    #[test]
    fn listing_state_survives_a_json_round_trip(
        commands in proptest::collection::vec(any_command(true), 1..60)
    ) {
        let mut original = Listing::default();
        for command in commands {
            let mut copy: Listing = json_round_trip(&original);
            prop_assert_eq!(&copy, &original);
            let decided = original.decide(command.clone());
            prop_assert_eq!(&copy.decide(command), &decided);
            if let Ok(events) = decided {
                for event in events {
                    prop_assert_eq!(&json_round_trip(&event), &event);
                    original.apply(event.clone());
                    copy.apply(event);
                }
            }
            prop_assert_eq!(&copy, &original);
        }
    }
}
