//! Given/when/then rules of the Vendor aggregate: every command from "not existing" and from
//! each of the 5 statuses, with every authorization refusal.

mod common;

use common::{after, check, given, json_round_trip, Cell, Subject};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use otop_domain::values::{DistrictCode, Email, Phone, ProducerType, PromptPayId};
use otop_domain::vendor::{VendorProfile, VendorProfilePatch};
use otop_domain::{Actor, DomainError, Role, Vendor, VendorCommand, VendorEvent, VendorStatus};
use proptest::prelude::*;
use uuid::Uuid;

use Cell::{AlreadyExists as AE, Forbidden as F, NotFound as NF, Transition as T};
use VendorStatus::{Applied, Approved, Closed, Rejected, Suspended};

const VENDOR_ID: Uuid = Uuid::from_u128(0x0001_0000_0000_0000_0000_0000_0000_0001);
const OTHER_VENDOR_ID: Uuid = Uuid::from_u128(0x0001_0000_0000_0000_0000_0000_0000_0002);

impl Subject for Vendor {
    type Status = VendorStatus;

    fn status(&self) -> Option<VendorStatus> {
        self.state().map(|state| state.status)
    }

    fn status_name(status: VendorStatus) -> &'static str {
        status.as_str()
    }

    fn decide_command(&self, command: VendorCommand) -> Result<Vec<VendorEvent>, DomainError> {
        self.decide(command)
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

fn admin() -> Actor {
    Actor::new("admin-1", Role::Admin)
}

fn system() -> Actor {
    Actor::system()
}

/// The vendor itself.
fn owner() -> Actor {
    Actor::vendor("owner-1", VENDOR_ID)
}

fn other_vendor() -> Actor {
    Actor::vendor("owner-2", OTHER_VENDOR_ID)
}

fn shopper() -> Actor {
    Actor::new("shopper-1", Role::Shopper)
}

fn auditor() -> Actor {
    Actor::new("auditor-1", Role::Auditor)
}

fn analyst() -> Actor {
    Actor::new("analyst-1", Role::Analyst)
}

/// A vendor-role actor that names no vendor at all.
fn vendor_without_id() -> Actor {
    Actor::new("owner-3", Role::Vendor)
}

fn profile() -> VendorProfile {
    VendorProfile {
        name_th: "กลุ่มทอผ้าไหมบ้านท่าสว่าง".to_string(),
        name_en: Some("Ban Tha Sawang Silk Weavers".to_string()),
        district_code: DistrictCode::parse("district_code", "3201").unwrap(),
        producer_type: ProducerType::CommunityGroup,
        phone: Phone::parse("phone", "044-511-234").unwrap(),
        email: None,
        payout_promptpay: Some(PromptPayId::parse("payout_promptpay", "0812345678").unwrap()),
    }
}

fn patch() -> VendorProfilePatch {
    VendorProfilePatch {
        name_en: Some("Tha Sawang Silk".to_string()),
        email: Some(Email::parse("email", "silk@example.co.th").unwrap()),
        ..VendorProfilePatch::default()
    }
}

fn applied() -> VendorEvent {
    VendorEvent::VendorApplied {
        vendor_id: VENDOR_ID,
        profile: profile(),
        applicant_id: shopper().id,
    }
}

const REJECT_REASON: &str = "documents incomplete";
const SUSPEND_REASON: &str = "repeated complaints";
const CLOSE_REASON: &str = "the group has disbanded";

/// The events that bring a vendor into `status`.
fn history(status: VendorStatus) -> Vec<VendorEvent> {
    let mut events = vec![applied()];
    match status {
        Applied => {}
        Approved => events.push(VendorEvent::VendorApproved),
        Rejected => events.push(VendorEvent::VendorRejected {
            reason: REJECT_REASON.into(),
        }),
        Suspended => events.extend([
            VendorEvent::VendorApproved,
            VendorEvent::VendorSuspended {
                reason: SUSPEND_REASON.into(),
            },
        ]),
        Closed => events.push(VendorEvent::VendorClosed {
            reason: Some(CLOSE_REASON.into()),
        }),
    }
    events
}

/// Given: a vendor in `status`, or one that does not exist.
fn vendor_in(status: Option<VendorStatus>) -> Vendor {
    let vendor: Vendor = given(status.map(history).unwrap_or_default());
    assert_eq!(vendor.status(), status, "given");
    vendor
}

/// The columns of every table: not existing, then the 5 statuses.
const STATES: [Option<VendorStatus>; 6] = [
    None,
    Some(Applied),
    Some(Approved),
    Some(Rejected),
    Some(Suspended),
    Some(Closed),
];

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Apply,
    Approve,
    Reject,
    Suspend,
    Reinstate,
    Close,
    CloseWithoutReason,
    UpdateProfile,
    UpdateProfileEmpty,
}

fn command(cmd: Cmd, actor: Actor) -> VendorCommand {
    match cmd {
        Cmd::Apply => VendorCommand::Apply {
            vendor_id: VENDOR_ID,
            profile: profile(),
            actor,
        },
        Cmd::Approve => VendorCommand::Approve { actor },
        Cmd::Reject => VendorCommand::Reject {
            actor,
            reason: "not an OTOP product".into(),
        },
        Cmd::Suspend => VendorCommand::Suspend {
            actor,
            reason: "counterfeit goods".into(),
        },
        Cmd::Reinstate => VendorCommand::Reinstate { actor },
        Cmd::Close => VendorCommand::Close {
            actor,
            reason: Some("retiring".into()),
        },
        Cmd::CloseWithoutReason => VendorCommand::Close {
            actor,
            reason: None,
        },
        Cmd::UpdateProfile => VendorCommand::UpdateProfile {
            actor,
            patch: patch(),
        },
        Cmd::UpdateProfileEmpty => VendorCommand::UpdateProfile {
            actor,
            patch: VendorProfilePatch::default(),
        },
    }
}

/// The events `cmd` produces when accepted; `actor` is the one that sent it.
fn success(cmd: Cmd, actor: &Actor) -> Vec<VendorEvent> {
    vec![match cmd {
        Cmd::Apply => VendorEvent::VendorApplied {
            vendor_id: VENDOR_ID,
            profile: profile(),
            applicant_id: actor.id.clone(),
        },
        Cmd::Approve => VendorEvent::VendorApproved,
        Cmd::Reject => VendorEvent::VendorRejected {
            reason: "not an OTOP product".into(),
        },
        Cmd::Suspend => VendorEvent::VendorSuspended {
            reason: "counterfeit goods".into(),
        },
        Cmd::Reinstate => VendorEvent::VendorReinstated,
        Cmd::Close => VendorEvent::VendorClosed {
            reason: Some("retiring".into()),
        },
        Cmd::CloseWithoutReason => VendorEvent::VendorClosed { reason: None },
        Cmd::UpdateProfile => VendorEvent::VendorProfileUpdated { patch: patch() },
        Cmd::UpdateProfileEmpty => VendorEvent::VendorProfileUpdated {
            patch: VendorProfilePatch::default(),
        },
    }]
}

type Row = (Cmd, fn() -> Actor, [Cell<VendorStatus>; 6]);

fn run_table(rows: &[Row]) {
    for (cmd, actor, cells) in rows {
        for (state, cell) in STATES.iter().zip(cells) {
            let actor = actor();
            let context = format!("{cmd:?} by {} on {state:?}", actor.id);
            let events = success(*cmd, &actor);
            check(
                &vendor_in(*state),
                command(*cmd, actor),
                &events,
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
    #[rustfmt::skip]
    let rows: &[Row] = &[
        //                                          none  applied        approved       rejected  suspended       closed
        (Cmd::Apply,              shopper, [Cell::To(Applied), AE,       AE,            AE,       AE,             AE]),
        (Cmd::Approve,            admin,   [NF,   Cell::To(Approved),    T,             T,        T,              T]),
        (Cmd::Approve,            system,  [NF,   Cell::To(Approved),    T,             T,        T,              T]),
        (Cmd::Reject,             admin,   [NF,   Cell::To(Rejected),    T,             T,        T,              T]),
        (Cmd::Suspend,            admin,   [NF,   T,     Cell::To(Suspended),           T,        T,              T]),
        (Cmd::Reinstate,          admin,   [NF,   T,                     T,             T,        Cell::To(Approved), T]),
        (Cmd::Close,              admin,   [NF,   Cell::To(Closed),      Cell::To(Closed), T,     Cell::To(Closed), T]),
        (Cmd::Close,              owner,   [NF,   Cell::To(Closed),      Cell::To(Closed), T,     Cell::To(Closed), T]),
        (Cmd::CloseWithoutReason, owner,   [NF,   Cell::To(Closed),      Cell::To(Closed), T,     Cell::To(Closed), T]),
        (Cmd::UpdateProfile,      owner,   [NF,   Cell::To(Applied),     Cell::To(Approved), T,   Cell::To(Suspended), T]),
        (Cmd::UpdateProfile,      admin,   [NF,   Cell::To(Applied),     Cell::To(Approved), T,   Cell::To(Suspended), T]),
        (Cmd::UpdateProfileEmpty, owner,   [NF,   Cell::Invalid("body"), Cell::Invalid("body"), T, Cell::Invalid("body"), T]),
    ];
    run_table(rows);
}

#[test]
fn admin_commands_are_refused_to_everyone_but_admin_and_system_in_every_state() {
    let outsiders: [fn() -> Actor; 6] = [
        owner,
        other_vendor,
        vendor_without_id,
        shopper,
        auditor,
        analyst,
    ];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in [Cmd::Approve, Cmd::Reject, Cmd::Suspend, Cmd::Reinstate] {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

#[test]
fn only_the_vendor_itself_or_an_admin_may_close_it_or_change_its_profile() {
    let outsiders: [fn() -> Actor; 5] =
        [other_vendor, vendor_without_id, shopper, auditor, analyst];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in [Cmd::Close, Cmd::UpdateProfile, Cmd::UpdateProfileEmpty] {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

// ---------------------------------------------------------------------------------------------
// What the events do to the state

#[test]
fn applying_records_the_profile_and_the_applicant() {
    let vendor: Vendor = given(success(Cmd::Apply, &shopper()));
    let state = vendor.state().expect("exists after applying");
    assert_eq!(state.id, VENDOR_ID);
    assert_eq!(state.status, Applied);
    assert_eq!(state.profile, profile());
    assert_eq!(state.applicant_id, "shopper-1");
    assert_eq!(state.status_reason, None);
}

#[test]
fn applying_twice_is_refused() {
    let vendor = vendor_in(Some(Applied));
    let result = vendor.decide(command(Cmd::Apply, shopper()));
    assert_eq!(result, Err(DomainError::AlreadyExists { kind: "vendor" }));
}

#[test]
fn commands_on_a_vendor_that_never_applied_are_not_found() {
    let vendor = Vendor::default();
    for cmd in [Cmd::Approve, Cmd::Close, Cmd::UpdateProfile] {
        assert_eq!(
            vendor.decide(command(cmd, admin())),
            Err(DomainError::NotFound { kind: "vendor" }),
            "{cmd:?}"
        );
    }
}

#[test]
fn status_reasons_follow_the_last_status_change() {
    let rejected = vendor_in(Some(Rejected));
    assert_eq!(
        rejected.state().unwrap().status_reason.as_deref(),
        Some(REJECT_REASON)
    );

    let suspended = vendor_in(Some(Suspended));
    assert_eq!(
        suspended.state().unwrap().status_reason.as_deref(),
        Some(SUSPEND_REASON)
    );

    let reinstated = after(&suspended, &[VendorEvent::VendorReinstated]);
    assert_eq!(reinstated.state().unwrap().status, Approved);
    assert_eq!(reinstated.state().unwrap().status_reason, None);

    let closed_silently = after(&suspended, &[VendorEvent::VendorClosed { reason: None }]);
    assert_eq!(closed_silently.state().unwrap().status, Closed);
    assert_eq!(closed_silently.state().unwrap().status_reason, None);
}

#[test]
fn a_profile_patch_changes_only_the_fields_it_names() {
    let vendor = vendor_in(Some(Approved));
    let events = vendor
        .decide(command(Cmd::UpdateProfile, owner()))
        .expect("the vendor may change its own profile");
    let updated = after(&vendor, &events);
    let expected = VendorProfile {
        name_en: Some("Tha Sawang Silk".to_string()),
        email: Some(Email::parse("email", "silk@example.co.th").unwrap()),
        ..profile()
    };
    assert_eq!(updated.state().unwrap().profile, expected);
    assert_eq!(updated.state().unwrap().status, Approved);
}

#[test]
fn events_for_a_vendor_that_never_applied_are_ignored_on_replay() {
    let mut vendor = Vendor::default();
    vendor.apply(VendorEvent::VendorApproved);
    vendor.apply(VendorEvent::VendorClosed { reason: None });
    assert_eq!(vendor, Vendor::default());
}

#[test]
fn a_full_life_cycle() {
    let steps: Vec<(VendorCommand, VendorStatus)> = vec![
        (command(Cmd::Apply, shopper()), Applied),
        (command(Cmd::Approve, admin()), Approved),
        (command(Cmd::UpdateProfile, owner()), Approved),
        (command(Cmd::Suspend, admin()), Suspended),
        (command(Cmd::Reinstate, system()), Approved),
        (command(Cmd::Suspend, admin()), Suspended),
        (command(Cmd::Close, owner()), Closed),
    ];
    let mut vendor = Vendor::default();
    for (step, (cmd, status)) in steps.into_iter().enumerate() {
        let events = vendor
            .decide(cmd)
            .unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert_eq!(events.len(), 1, "step {step}");
        vendor = after(&vendor, &events);
        assert_eq!(vendor.status(), Some(status), "step {step}");
    }
}

// ---------------------------------------------------------------------------------------------
// The `handle` path through cqrs-es

#[test]
fn test_framework_sync_path() {
    TestFramework::<Vendor>::with(())
        .given_no_previous_events()
        .when(command(Cmd::Apply, shopper()))
        .then_expect_events(vec![applied()]);

    TestFramework::<Vendor>::with(())
        .given(history(Applied))
        .when(command(Cmd::Apply, shopper()))
        .then_expect_error(DomainError::AlreadyExists { kind: "vendor" });
}

#[tokio::test]
async fn test_framework_async_path() {
    TestFramework::<Vendor>::with(())
        .given(history(Applied))
        .when_async(command(Cmd::Approve, admin()))
        .await
        .then_expect_events(vec![VendorEvent::VendorApproved]);

    TestFramework::<Vendor>::with(())
        .given(vec![applied()])
        .and(vec![VendorEvent::VendorApproved])
        .when_async(command(Cmd::Suspend, admin()))
        .await
        .then_expect_events(success(Cmd::Suspend, &admin()));

    let refused = TestFramework::<Vendor>::with(())
        .given(history(Applied))
        .when_async(command(Cmd::Approve, owner()))
        .await
        .inspect_result();
    assert!(
        matches!(refused, Err(DomainError::Forbidden(_))),
        "{refused:?}"
    );

    let refused = TestFramework::<Vendor>::with(())
        .given(history(Closed))
        .when_async(command(Cmd::Close, owner()))
        .await
        .inspect_result();
    assert!(
        matches!(refused, Err(DomainError::InvalidTransition(_))),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Serialisation of the state is lossless

fn any_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(admin()),
        Just(system()),
        Just(owner()),
        Just(other_vendor()),
        Just(shopper()),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\PC{1,24}", any::<String>()]
}

fn any_patch() -> impl Strategy<Value = VendorProfilePatch> {
    (
        proptest::option::of(any_text()),
        proptest::option::of(any_text()),
        proptest::option::of(1u32..=17),
        proptest::option::of(prop_oneof![
            Just(ProducerType::CommunityGroup),
            Just(ProducerType::SoleOwner),
            Just(ProducerType::Sme),
        ]),
        proptest::option::of("0[0-9]{8,9}"),
        proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.th"),
        proptest::option::of("[0-9]{13}"),
    )
        .prop_map(
            |(name_th, name_en, district, producer_type, phone, email, payout)| {
                VendorProfilePatch {
                    name_th,
                    name_en,
                    district_code: district
                        .map(|n| DistrictCode::parse("d", &format!("32{n:02}")).unwrap()),
                    producer_type,
                    phone: phone.map(|p| Phone::parse("p", &p).unwrap()),
                    email: email.map(|e| Email::parse("e", &e).unwrap()),
                    payout_promptpay: payout.map(|p| PromptPayId::parse("pp", &p).unwrap()),
                }
            },
        )
}

fn any_command() -> impl Strategy<Value = VendorCommand> {
    prop_oneof![
        (
            any_actor(),
            prop_oneof![Just(VENDOR_ID), Just(OTHER_VENDOR_ID)]
        )
            .prop_map(|(actor, vendor_id)| VendorCommand::Apply {
                vendor_id,
                profile: profile(),
                actor,
            }),
        any_actor().prop_map(|actor| VendorCommand::Approve { actor }),
        (any_actor(), any_text())
            .prop_map(|(actor, reason)| VendorCommand::Reject { actor, reason }),
        (any_actor(), any_text())
            .prop_map(|(actor, reason)| VendorCommand::Suspend { actor, reason }),
        any_actor().prop_map(|actor| VendorCommand::Reinstate { actor }),
        (any_actor(), proptest::option::of(any_text()))
            .prop_map(|(actor, reason)| VendorCommand::Close { actor, reason }),
        (any_actor(), any_patch())
            .prop_map(|(actor, patch)| VendorCommand::UpdateProfile { actor, patch }),
    ]
}

proptest! {
    #[test]
    fn vendor_state_survives_a_json_round_trip(
        commands in proptest::collection::vec(any_command(), 1..40)
    ) {
        let mut original = Vendor::default();
        for command in commands {
            let mut copy: Vendor = json_round_trip(&original);
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
