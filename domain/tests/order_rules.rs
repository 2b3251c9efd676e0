//! Given/when/then rules of the Order aggregate: every command from "not existing" and from
//! each of the 11 statuses, every authorization refusal, payments, cancellations and refunds.

mod common;

use common::{
    after, assert_forbidden, assert_invalid, assert_transition, check, given, json_round_trip,
    Cell, Subject,
};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use otop_domain::order::{OrderLine, ShippingAddress, MAX_ORDER_LINES};
use otop_domain::values::{Phone, Satang, MAX_SATANG};
use otop_domain::{Actor, DomainError, Order, OrderCommand, OrderEvent, OrderStatus, Role};
use proptest::prelude::*;
use uuid::Uuid;

use Cell::{
    AlreadyExists as AE, Forbidden as F, NotFound as NF, Nothing as N, To, Transition as T,
};
use OrderStatus::{
    Accepted, AwaitingPayment, Cancelled, Delivered, Expired, Packed, Paid, Pending, Refunded,
    Rejected, Shipped,
};

const ORDER_ID: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0001);
const CHECKOUT_ID: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0002);
const VENDOR_ID: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0010);
const OTHER_VENDOR_ID: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0011);
const LISTING_1: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0101);
const LISTING_2: Uuid = Uuid::from_u128(0x0003_0000_0000_0000_0000_0000_0000_0102);

const SHOPPER_ID: &str = "shopper-1";
/// 2 x 350.00 THB + 1 x 120.00 THB.
const TOTAL: u64 = 2 * 35_000 + 12_000;
const PAYMENT_REF: &str = "PAY-0001";
const CARRIER: &str = "Thailand Post";
const TRACKING: &str = "EF123456789TH";

impl Subject for Order {
    type Status = OrderStatus;

    fn status(&self) -> Option<OrderStatus> {
        self.state().map(|state| state.status)
    }

    fn status_name(status: OrderStatus) -> &'static str {
        status.as_str()
    }

    fn decide_command(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        self.decide(command)
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

fn shopper() -> Actor {
    Actor::new(SHOPPER_ID, Role::Shopper)
}

fn other_shopper() -> Actor {
    Actor::new("shopper-2", Role::Shopper)
}

/// A vendor-role actor whose id happens to be the shopper's: still not the shopper.
fn vendor_named_like_the_shopper() -> Actor {
    Actor::vendor(SHOPPER_ID, OTHER_VENDOR_ID)
}

/// A user of the order's vendor.
fn vendor() -> Actor {
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

fn auditor() -> Actor {
    Actor::new("auditor-1", Role::Auditor)
}

fn analyst() -> Actor {
    Actor::new("analyst-1", Role::Analyst)
}

fn satang(amount: u64) -> Satang {
    Satang::parse("amount", amount as i64).unwrap()
}

fn line(listing_id: Uuid, quantity: u32, unit_price: u64) -> OrderLine {
    OrderLine {
        listing_id,
        quantity,
        unit_price: satang(unit_price),
    }
}

fn lines() -> Vec<OrderLine> {
    vec![line(LISTING_1, 2, 35_000), line(LISTING_2, 1, 12_000)]
}

fn address() -> ShippingAddress {
    ShippingAddress {
        name: "สมหญิง ใจดี".to_string(),
        phone: Phone::parse("phone", "0812345678").unwrap(),
        line1: "99 ถนนหลักเมือง".to_string(),
        line2: None,
        subdistrict: Some("ในเมือง".to_string()),
        district: Some("เมืองสุรินทร์".to_string()),
        province: "สุรินทร์".to_string(),
        postcode: "32000".to_string(),
    }
}

fn place_with(actor: Actor, lines: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::Place {
        order_id: ORDER_ID,
        checkout_id: CHECKOUT_ID,
        actor,
        shopper_id: SHOPPER_ID.to_string(),
        vendor_id: VENDOR_ID,
        lines,
        shipping_address: address(),
    }
}

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        order_id: ORDER_ID,
        checkout_id: CHECKOUT_ID,
        shopper_id: SHOPPER_ID.to_string(),
        vendor_id: VENDOR_ID,
        lines: lines(),
        shipping_address: address(),
        total: satang(TOTAL),
    }
}

fn paid() -> OrderEvent {
    OrderEvent::OrderPaid {
        commission_bps: 0,
        amount: satang(TOTAL),
        reference: PAYMENT_REF.to_string(),
    }
}

fn shipped() -> OrderEvent {
    OrderEvent::OrderShipped {
        carrier: CARRIER.to_string(),
        tracking_number: TRACKING.to_string(),
    }
}

fn refunded(amount: u64) -> OrderEvent {
    OrderEvent::OrderRefunded {
        amount: satang(amount),
        reason: "damaged in transit".to_string(),
    }
}

/// The events that bring an order into `status`.
fn history(status: OrderStatus) -> Vec<OrderEvent> {
    let happy_path = [
        placed(),
        OrderEvent::OrderConfirmed,
        paid(),
        OrderEvent::OrderAccepted,
        OrderEvent::OrderPacked,
        shipped(),
        OrderEvent::OrderDelivered,
    ];
    let prefix = |n: usize| happy_path[..n].to_vec();
    let then = |mut events: Vec<OrderEvent>, event: OrderEvent| {
        events.push(event);
        events
    };
    match status {
        Pending => prefix(1),
        AwaitingPayment => prefix(2),
        Paid => prefix(3),
        Accepted => prefix(4),
        Packed => prefix(5),
        Shipped => prefix(6),
        Delivered => prefix(7),
        Refunded => then(prefix(7), refunded(TOTAL)),
        // Cancelled after payment, so that the paid amount went back to the shopper.
        Cancelled => then(
            prefix(3),
            OrderEvent::OrderCancelled {
                reason: "changed my mind".to_string(),
                by_role: Role::Shopper,
                refund_satang: TOTAL,
            },
        ),
        Expired => then(prefix(2), OrderEvent::OrderExpired),
        Rejected => then(
            prefix(1),
            OrderEvent::OrderRejected {
                reason: "out of stock".to_string(),
                failed_listings: vec![LISTING_2],
            },
        ),
    }
}

/// Given: an order in `status`, or one that does not exist.
fn order_in(status: Option<OrderStatus>) -> Order {
    let order: Order = given(status.map(history).unwrap_or_default());
    assert_eq!(order.status(), status, "given");
    order
}

/// The columns of every table: not existing, then the 11 statuses.
const STATES: [Option<OrderStatus>; 12] = [
    None,
    Some(Pending),
    Some(AwaitingPayment),
    Some(Paid),
    Some(Accepted),
    Some(Packed),
    Some(Shipped),
    Some(Delivered),
    Some(Refunded),
    Some(Cancelled),
    Some(Expired),
    Some(Rejected),
];

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Place,
    Confirm,
    Reject,
    /// A payment with a reference the order has not seen.
    Pay,
    /// A payment with the reference of the order's (earlier) payment.
    PayAgain,
    PayWrongAmount,
    Accept,
    Pack,
    Ship,
    Deliver,
    Cancel,
    Expire,
    RefundPart,
    RefundAll,
    RefundTooMuch,
}

fn command(cmd: Cmd, actor: Actor) -> OrderCommand {
    match cmd {
        Cmd::Place => place_with(actor, lines()),
        Cmd::Confirm => OrderCommand::Confirm { actor },
        Cmd::Reject => OrderCommand::Reject {
            actor,
            reason: "listing sold out".to_string(),
            failed_listings: vec![LISTING_1],
        },
        Cmd::Pay => OrderCommand::RecordPayment {
            commission_bps: 0,
            actor,
            amount: satang(TOTAL),
            reference: "PAY-0002".to_string(),
        },
        Cmd::PayAgain => OrderCommand::RecordPayment {
            commission_bps: 0,
            actor,
            amount: satang(TOTAL),
            reference: PAYMENT_REF.to_string(),
        },
        Cmd::PayWrongAmount => OrderCommand::RecordPayment {
            commission_bps: 0,
            actor,
            amount: satang(TOTAL - 1),
            reference: "PAY-0003".to_string(),
        },
        Cmd::Accept => OrderCommand::Accept { actor },
        Cmd::Pack => OrderCommand::Pack { actor },
        Cmd::Ship => OrderCommand::Ship {
            actor,
            carrier: CARRIER.to_string(),
            tracking_number: TRACKING.to_string(),
        },
        Cmd::Deliver => OrderCommand::Deliver { actor },
        Cmd::Cancel => OrderCommand::Cancel {
            actor,
            reason: "cannot fulfil".to_string(),
        },
        Cmd::Expire => OrderCommand::Expire { actor },
        Cmd::RefundPart => OrderCommand::Refund {
            actor,
            amount: satang(1_000),
            reason: "one scarf stained".to_string(),
        },
        Cmd::RefundAll => OrderCommand::Refund {
            actor,
            amount: satang(TOTAL),
            reason: "never arrived".to_string(),
        },
        Cmd::RefundTooMuch => OrderCommand::Refund {
            actor,
            amount: satang(TOTAL + 1),
            reason: "too generous".to_string(),
        },
    }
}

/// The events `cmd` by `actor` produces when accepted on an order in `status`.
fn success(cmd: Cmd, actor: &Actor, status: Option<OrderStatus>) -> Vec<OrderEvent> {
    match cmd {
        Cmd::Place => vec![placed()],
        Cmd::Confirm => vec![OrderEvent::OrderConfirmed],
        Cmd::Reject => vec![OrderEvent::OrderRejected {
            reason: "listing sold out".to_string(),
            failed_listings: vec![LISTING_1],
        }],
        Cmd::Pay => vec![OrderEvent::OrderPaid {
            commission_bps: 0,
            amount: satang(TOTAL),
            reference: "PAY-0002".to_string(),
        }],
        Cmd::PayAgain => vec![paid()],
        Cmd::PayWrongAmount => vec![],
        Cmd::Accept => vec![OrderEvent::OrderAccepted],
        Cmd::Pack => vec![OrderEvent::OrderPacked],
        Cmd::Ship => vec![shipped()],
        Cmd::Deliver => vec![OrderEvent::OrderDelivered],
        Cmd::Cancel => vec![OrderEvent::OrderCancelled {
            reason: "cannot fulfil".to_string(),
            by_role: actor.role,
            // Everything paid goes back; nothing was paid before payment.
            refund_satang: match status {
                Some(Paid | Accepted | Packed) => TOTAL,
                _ => 0,
            },
        }],
        Cmd::Expire => vec![OrderEvent::OrderExpired],
        Cmd::RefundPart => vec![OrderEvent::OrderRefunded {
            amount: satang(1_000),
            reason: "one scarf stained".to_string(),
        }],
        Cmd::RefundAll => vec![OrderEvent::OrderRefunded {
            amount: satang(TOTAL),
            reason: "never arrived".to_string(),
        }],
        Cmd::RefundTooMuch => vec![],
    }
}

type Row = (Cmd, fn() -> Actor, [Cell<OrderStatus>; 12]);

fn run_table(rows: &[Row]) {
    for (cmd, actor, cells) in rows {
        for (state, cell) in STATES.iter().zip(cells) {
            let actor = actor();
            let context = format!("{cmd:?} by {} on {state:?}", actor.id);
            let events = success(*cmd, &actor, *state);
            check(
                &order_in(*state),
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
    const INV: Cell<OrderStatus> = Cell::Invalid("amount_satang");
    const CANCEL_INSTEAD: Cell<OrderStatus> = Cell::TransitionSaying("cancel the order");
    const C: Cell<OrderStatus> = To(Cancelled);
    #[rustfmt::skip]
    let rows: &[Row] = &[
        //                                  none            pending      awaiting        paid           accepted       packed         shipped        delivered      refunded cancelled expired rejected
        (Cmd::Place,          shopper, [To(Pending),    AE,          AE,             AE,            AE,            AE,            AE,            AE,            AE,      AE,       AE,     AE]),
        (Cmd::Place,          system,  [To(Pending),    AE,          AE,             AE,            AE,            AE,            AE,            AE,            AE,      AE,       AE,     AE]),
        (Cmd::Confirm,        system,  [NF, To(AwaitingPayment),     T,              T,             T,             T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Reject,         system,  [NF, To(Rejected),            T,              T,             T,             T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Pay,            system,  [NF,             T,           To(Paid),       T,             T,             T,             T,             T,             T,       T,        T,      T]),
        // A callback repeated with the reference already recorded changes nothing, whatever
        // happened to the order since.
        (Cmd::PayAgain,       system,  [NF,             T,           To(Paid),       N,             N,             N,             N,             N,             N,       N,        T,      T]),
        (Cmd::PayWrongAmount, system,  [NF,             T,           Cell::Invalid("amount_satang"), T, T,         T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Accept,         vendor,  [NF,             T,           T,              To(Accepted),  T,             T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Pack,           vendor,  [NF,             T,           T,              T,             To(Packed),    T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Ship,           vendor,  [NF,             T,           T,              T,             T,             To(Shipped),   T,             T,             T,       T,        T,      T]),
        (Cmd::Deliver,        shopper, [NF,             T,           T,              T,             T,             T,             To(Delivered), T,             T,       T,        T,      T]),
        (Cmd::Deliver,        vendor,  [NF,             T,           T,              T,             T,             T,             To(Delivered), T,             T,       T,        T,      T]),
        // The shopper may cancel until the vendor accepts; the vendor and admins until it
        // ships; nobody after.
        (Cmd::Cancel,         shopper, [NF,             C,           C,              C,             T,             T,             T,             T,             T,       T,        T,      T]),
        (Cmd::Cancel,         vendor,  [NF,             C,           C,              C,             C,             C,             T,             T,             T,       T,        T,      T]),
        (Cmd::Cancel,         admin,   [NF,             C,           C,              C,             C,             C,             T,             T,             T,       T,        T,      T]),
        (Cmd::Cancel,         system,  [NF,             C,           C,              C,             C,             C,             T,             T,             T,       T,        T,      T]),
        (Cmd::Expire,         system,  [NF,             To(Expired), To(Expired),    T,             T,             T,             T,             T,             T,       T,        T,      T]),
        (Cmd::RefundPart,     vendor,  [NF,             T,           T,              To(Paid),      To(Accepted),  To(Packed),    To(Shipped),   To(Delivered), T,       T,        T,      T]),
        (Cmd::RefundPart,     admin,   [NF,             T,           T,              To(Paid),      To(Accepted),  To(Packed),    To(Shipped),   To(Delivered), T,       T,        T,      T]),
        (Cmd::RefundAll,      vendor,  [NF,             T,           T,              CANCEL_INSTEAD, CANCEL_INSTEAD, CANCEL_INSTEAD, To(Refunded), To(Refunded), T,      T,        T,      T]),
        (Cmd::RefundAll,      admin,   [NF,             T,           T,              CANCEL_INSTEAD, CANCEL_INSTEAD, CANCEL_INSTEAD, To(Refunded), To(Refunded), T,      T,        T,      T]),
        (Cmd::RefundTooMuch,  admin,   [NF,             T,           T,              INV,           INV,           INV,           INV,           INV,           T,       T,        T,      T]),
    ];
    run_table(rows);
}

#[test]
fn platform_commands_are_refused_to_everyone_but_the_platform() {
    let outsiders: [fn() -> Actor; 6] = [admin, shopper, vendor, other_vendor, auditor, analyst];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in [
        Cmd::Confirm,
        Cmd::Reject,
        Cmd::Pay,
        Cmd::PayAgain,
        Cmd::Expire,
    ] {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F, F, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

#[test]
fn fulfilment_is_refused_to_everyone_but_the_orders_vendor() {
    let outsiders: [fn() -> Actor; 6] = [
        shopper,
        other_vendor,
        vendor_without_id,
        admin,
        system,
        auditor,
    ];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in [Cmd::Accept, Cmd::Pack, Cmd::Ship] {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F, F, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

#[test]
fn delivery_is_refused_to_everyone_but_the_shopper_and_the_vendor() {
    let outsiders: [fn() -> Actor; 6] = [
        other_shopper,
        vendor_named_like_the_shopper,
        other_vendor,
        admin,
        system,
        auditor,
    ];
    let rows: Vec<Row> = outsiders
        .into_iter()
        .map(|actor| (Cmd::Deliver, actor, [NF, F, F, F, F, F, F, F, F, F, F, F]))
        .collect();
    run_table(&rows);
}

#[test]
fn cancellation_is_refused_to_everyone_but_shopper_vendor_and_admin() {
    let outsiders: [fn() -> Actor; 6] = [
        other_shopper,
        vendor_named_like_the_shopper,
        other_vendor,
        vendor_without_id,
        auditor,
        analyst,
    ];
    let rows: Vec<Row> = outsiders
        .into_iter()
        .map(|actor| (Cmd::Cancel, actor, [NF, F, F, F, F, F, F, F, F, F, F, F]))
        .collect();
    run_table(&rows);
}

#[test]
fn refunds_are_refused_to_everyone_but_the_vendor_and_admins() {
    let outsiders: [fn() -> Actor; 5] = [
        shopper,
        other_shopper,
        other_vendor,
        vendor_without_id,
        auditor,
    ];
    let mut rows: Vec<Row> = Vec::new();
    for cmd in [Cmd::RefundPart, Cmd::RefundAll, Cmd::RefundTooMuch] {
        for actor in outsiders {
            rows.push((cmd, actor, [NF, F, F, F, F, F, F, F, F, F, F, F]));
        }
    }
    run_table(&rows);
}

// ---------------------------------------------------------------------------------------------
// Placing an order

#[test]
fn placing_records_the_order_as_pending_with_its_total() {
    let order: Order = given([placed()]);
    let state = order.state().expect("exists once placed");
    assert_eq!(state.id, ORDER_ID);
    assert_eq!(state.checkout_id, CHECKOUT_ID);
    assert_eq!(state.shopper_id, SHOPPER_ID);
    assert_eq!(state.vendor_id, VENDOR_ID);
    assert_eq!(state.lines, lines());
    assert_eq!(state.shipping_address, address());
    assert_eq!(state.total, satang(TOTAL));
    assert_eq!(state.status, Pending);
    assert_eq!((state.paid_satang, state.refunded_satang), (0, 0));
    assert_eq!(state.payment_reference, None);
    assert_eq!(
        (state.carrier.as_deref(), state.tracking_number.as_deref()),
        (None, None)
    );
    assert_eq!(state.status_reason, None);
}

#[test]
fn the_total_is_the_sum_of_quantity_times_unit_price() {
    let cases: Vec<(Vec<OrderLine>, u64)> = vec![
        (vec![line(LISTING_1, 1, 1)], 1),
        (vec![line(LISTING_1, 3, 12_345)], 37_035),
        (lines(), TOTAL),
        (
            (1..=MAX_ORDER_LINES as u128)
                .map(|n| line(Uuid::from_u128(n), n as u32, 100))
                .collect(),
            100 * (100 * 101 / 2),
        ),
        (vec![line(LISTING_1, 1, MAX_SATANG)], MAX_SATANG),
    ];
    for (lines, total) in cases {
        let events = Order::default()
            .decide(place_with(shopper(), lines.clone()))
            .unwrap_or_else(|e| panic!("{total}: {e}"));
        match events.as_slice() {
            [OrderEvent::OrderPlaced {
                total: t, lines: l, ..
            }] => {
                assert_eq!(t.get(), total);
                assert_eq!(l, &lines);
            }
            other => panic!("expected one OrderPlaced, got {other:?}"),
        }
    }
}

#[test]
fn placing_refuses_bad_lines() {
    let too_many: Vec<OrderLine> = (0..=MAX_ORDER_LINES as u128)
        .map(|n| line(Uuid::from_u128(n + 1), 1, 100))
        .collect();
    let overflowing: Vec<OrderLine> = (0..5u128)
        .map(|n| line(Uuid::from_u128(n + 1), u32::MAX, MAX_SATANG))
        .collect();
    let cases: Vec<(&str, Vec<OrderLine>, &str)> = vec![
        ("no lines", vec![], "lines"),
        ("too many lines", too_many, "lines"),
        (
            "zero quantity",
            vec![line(LISTING_1, 0, 35_000), line(LISTING_2, 1, 12_000)],
            "lines[0].quantity",
        ),
        (
            "the same listing twice",
            vec![line(LISTING_1, 1, 35_000), line(LISTING_1, 2, 35_000)],
            "lines[1].listing_id",
        ),
        (
            "a total above the maximum",
            vec![line(LISTING_1, 1, MAX_SATANG), line(LISTING_2, 1, 1)],
            "lines",
        ),
        ("a total that overflows", overflowing, "lines"),
    ];
    for (name, lines, field) in cases {
        assert_invalid(
            Order::default().decide(place_with(shopper(), lines)),
            field,
            name,
        );
    }
}

#[test]
fn only_the_shopper_itself_or_the_platform_can_place_an_order() {
    for actor in [system(), shopper()] {
        assert_eq!(
            Order::default().decide(place_with(actor.clone(), lines())),
            Ok(vec![placed()]),
            "{actor:?}"
        );
    }
    for actor in [
        other_shopper(),
        vendor_named_like_the_shopper(),
        vendor(),
        admin(),
        auditor(),
        analyst(),
    ] {
        let result = Order::default().decide(place_with(actor.clone(), lines()));
        assert_forbidden(result, &format!("{actor:?}"));
    }
}

#[test]
fn placing_twice_is_refused_and_other_commands_need_an_order() {
    assert_eq!(
        order_in(Some(Pending)).decide(command(Cmd::Place, shopper())),
        Err(DomainError::AlreadyExists { kind: "order" })
    );
    assert_eq!(
        Order::default().decide(command(Cmd::Cancel, admin())),
        Err(DomainError::NotFound { kind: "order" })
    );
}

// ---------------------------------------------------------------------------------------------
// Confirmation, rejection, payment and fulfilment

#[test]
fn rejection_records_the_reason() {
    let order = order_in(Some(Rejected));
    assert_eq!(
        order.state().unwrap().status_reason.as_deref(),
        Some("out of stock")
    );
}

#[test]
fn payment_must_match_the_total() {
    let order = order_in(Some(AwaitingPayment));
    for amount in [1, TOTAL - 1, TOTAL + 1, MAX_SATANG] {
        let result = order.decide(OrderCommand::RecordPayment {
            commission_bps: 0,
            actor: system(),
            amount: satang(amount),
            reference: "PAY-X".to_string(),
        });
        assert_invalid(result, "amount_satang", &format!("{amount}"));
    }
}

#[test]
fn payment_is_recorded_once() {
    let order = order_in(Some(AwaitingPayment));
    let events = order.decide(command(Cmd::PayAgain, system())).unwrap();
    assert_eq!(events, vec![paid()]);
    let order = after(&order, &events);
    let state = order.state().unwrap();
    assert_eq!(state.status, Paid);
    assert_eq!(state.paid_satang, TOTAL);
    assert_eq!(state.payment_reference.as_deref(), Some(PAYMENT_REF));
    // The provider calls back again with the same reference: nothing happens.
    assert_eq!(order.decide(command(Cmd::PayAgain, system())), Ok(vec![]));
    // Another payment for the same order is refused.
    assert_transition(
        order.decide(command(Cmd::Pay, system())),
        "paid",
        "second payment",
    );
    // Even a repeat needs the platform.
    assert_forbidden(order.decide(command(Cmd::PayAgain, admin())), "admin");
}

#[test]
fn shipping_records_carrier_and_tracking_number() {
    let order = order_in(Some(Shipped));
    let state = order.state().unwrap();
    assert_eq!(state.carrier.as_deref(), Some(CARRIER));
    assert_eq!(state.tracking_number.as_deref(), Some(TRACKING));
}

// ---------------------------------------------------------------------------------------------
// Cancellation and refunds

#[test]
fn cancellation_records_who_cancelled_and_returns_what_was_paid() {
    let cases = [
        (Pending, shopper(), Role::Shopper, 0),
        (AwaitingPayment, vendor(), Role::Vendor, 0),
        (Paid, shopper(), Role::Shopper, TOTAL),
        (Accepted, admin(), Role::Admin, TOTAL),
        (Packed, system(), Role::System, TOTAL),
    ];
    for (status, actor, role, refund) in cases {
        let order = order_in(Some(status));
        let events = order
            .decide(OrderCommand::Cancel {
                actor,
                reason: "no longer needed".to_string(),
            })
            .unwrap_or_else(|e| panic!("{status:?}: {e}"));
        assert_eq!(
            events,
            vec![OrderEvent::OrderCancelled {
                reason: "no longer needed".to_string(),
                by_role: role,
                refund_satang: refund,
            }],
            "{status:?}"
        );
        let state = after(&order, &events).state().unwrap().clone();
        assert_eq!(state.status, Cancelled);
        assert_eq!(state.refunded_satang, refund, "{status:?}");
        assert_eq!(state.status_reason.as_deref(), Some("no longer needed"));
    }
}

#[test]
fn partial_refunds_accumulate_and_never_exceed_what_was_paid() {
    let refund = |order: &Order, amount: u64| {
        order.decide(OrderCommand::Refund {
            actor: vendor(),
            amount: satang(amount),
            reason: "partial".to_string(),
        })
    };
    let order = order_in(Some(Paid));
    let order = after(&order, &refund(&order, 30_000).unwrap());
    assert_eq!(order.state().unwrap().refunded_satang, 30_000);
    assert_eq!(order.status(), Some(Paid));
    let order = after(&order, &refund(&order, 30_000).unwrap());
    assert_eq!(order.state().unwrap().refunded_satang, 60_000);
    assert_eq!(order.status(), Some(Paid));

    let left = TOTAL - 60_000;
    assert_invalid(
        refund(&order, left + 1),
        "amount_satang",
        "more than is left",
    );
    // Refunding the rest before shipping would be a full refund: cancel instead.
    assert_transition(refund(&order, left), "cancel", "the rest before shipping");
    let cancelled = order
        .decide(command(Cmd::Cancel, shopper()))
        .expect("the shopper may still cancel a paid order");
    match cancelled.as_slice() {
        [OrderEvent::OrderCancelled { refund_satang, .. }] => assert_eq!(*refund_satang, left),
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert_eq!(
        after(&order, &cancelled).state().unwrap().refunded_satang,
        TOTAL
    );

    // After shipping, refunding the rest completes the refund.
    let order = after(
        &order,
        &[
            OrderEvent::OrderAccepted,
            OrderEvent::OrderPacked,
            shipped(),
        ],
    );
    let events = refund(&order, left).unwrap();
    let order = after(&order, &events);
    let state = order.state().unwrap();
    assert_eq!(state.status, Refunded);
    assert_eq!(state.refunded_satang, TOTAL);
    assert_eq!(state.status_reason.as_deref(), Some("partial"));
    // Nothing is left: no further refund, whatever the amount.
    assert_transition(refund(&order, 1), "refunded", "after the full refund");
}

#[test]
fn a_full_refund_after_delivery_refunds_the_order() {
    let order = order_in(Some(Delivered));
    let events = order.decide(command(Cmd::RefundAll, admin())).unwrap();
    let state = after(&order, &events).state().unwrap().clone();
    assert_eq!(state.status, Refunded);
    assert_eq!((state.paid_satang, state.refunded_satang), (TOTAL, TOTAL));
    assert_eq!(state.status_reason.as_deref(), Some("never arrived"));
}

// ---------------------------------------------------------------------------------------------
// The `handle` path through cqrs-es

#[test]
fn test_framework_sync_path() {
    TestFramework::<Order>::with(())
        .given_no_previous_events()
        .when(command(Cmd::Place, shopper()))
        .then_expect_events(vec![placed()]);

    TestFramework::<Order>::with(())
        .given(history(Paid))
        .when(command(Cmd::PayAgain, system()))
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn test_framework_async_path() {
    TestFramework::<Order>::with(())
        .given(history(Packed))
        .when_async(command(Cmd::Ship, vendor()))
        .await
        .then_expect_events(vec![shipped()]);

    TestFramework::<Order>::with(())
        .given(history(Pending))
        .when_async(command(Cmd::Expire, system()))
        .await
        .then_expect_events(vec![OrderEvent::OrderExpired]);

    TestFramework::<Order>::with(())
        .given_no_previous_events()
        .when_async(command(Cmd::Confirm, system()))
        .await
        .then_expect_error(DomainError::NotFound { kind: "order" });

    let refused = TestFramework::<Order>::with(())
        .given(history(Shipped))
        .when_async(command(Cmd::Cancel, admin()))
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
        Just(shopper()),
        Just(vendor()),
        Just(system()),
        Just(admin()),
        Just(other_shopper()),
        Just(other_vendor()),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\PC{1,24}", any::<String>()]
}

fn any_lines() -> impl Strategy<Value = Vec<OrderLine>> {
    proptest::collection::vec((1u128..6, 0u32..5, 1u64..100_000), 0..4).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(listing, quantity, price)| line(Uuid::from_u128(listing), quantity, price))
            .collect()
    })
}

/// An amount near the order's total most of the time, so that payments and refunds go through.
fn any_amount() -> impl Strategy<Value = Satang> {
    prop_oneof![
        Just(satang(TOTAL)),
        (1u64..=TOTAL).prop_map(satang),
        (1u64..=MAX_SATANG).prop_map(satang),
    ]
}

/// Mostly `preferred` (the actor the command needs), so that random sequences get far along
/// the order's life; sometimes anyone.
fn actor_or_any(preferred: fn() -> Actor) -> impl Strategy<Value = Actor> {
    prop_oneof![4 => Just(preferred()), 1 => any_actor()]
}

fn any_command() -> impl Strategy<Value = OrderCommand> {
    let address =
        (any_text(), proptest::option::of(any_text())).prop_map(|(line1, line2)| ShippingAddress {
            line1,
            line2,
            ..address()
        });
    prop_oneof![
        1 => (actor_or_any(shopper), prop_oneof![3 => Just(lines()), 1 => any_lines()], address)
            .prop_map(|(actor, lines, shipping_address)| OrderCommand::Place {
                order_id: ORDER_ID,
                checkout_id: CHECKOUT_ID,
                actor,
                shopper_id: SHOPPER_ID.to_string(),
                vendor_id: VENDOR_ID,
                lines,
                shipping_address,
            }),
        2 => actor_or_any(system).prop_map(|actor| OrderCommand::Confirm { actor }),
        1 => (actor_or_any(system), any_text(), proptest::collection::vec(1u128..6, 0..3))
            .prop_map(|(actor, reason, failed)| OrderCommand::Reject {
                actor,
                reason,
                failed_listings: failed.into_iter().map(Uuid::from_u128).collect(),
            }),
        2 => (
            actor_or_any(system),
            any_amount(),
            prop_oneof![Just(PAYMENT_REF.to_string()), any_text()],
        )
            .prop_map(|(actor, amount, reference)| OrderCommand::RecordPayment {
                commission_bps: 0,
                actor,
                amount,
                reference,
            }),
        2 => actor_or_any(vendor).prop_map(|actor| OrderCommand::Accept { actor }),
        2 => actor_or_any(vendor).prop_map(|actor| OrderCommand::Pack { actor }),
        2 => (actor_or_any(vendor), any_text(), any_text()).prop_map(
            |(actor, carrier, tracking_number)| OrderCommand::Ship {
                actor,
                carrier,
                tracking_number,
            }
        ),
        2 => actor_or_any(shopper).prop_map(|actor| OrderCommand::Deliver { actor }),
        1 => (any_actor(), any_text())
            .prop_map(|(actor, reason)| OrderCommand::Cancel { actor, reason }),
        1 => actor_or_any(system).prop_map(|actor| OrderCommand::Expire { actor }),
        3 => (actor_or_any(vendor), any_amount(), any_text()).prop_map(
            |(actor, amount, reason)| OrderCommand::Refund {
                actor,
                amount,
                reason,
            }
        ),
    ]
}

/// The happy path, as commands: place, confirm, pay, accept, pack, ship, deliver.
fn happy_path() -> Vec<OrderCommand> {
    [
        (Cmd::Place, shopper()),
        (Cmd::Confirm, system()),
        (Cmd::PayAgain, system()),
        (Cmd::Accept, vendor()),
        (Cmd::Pack, vendor()),
        (Cmd::Ship, vendor()),
        (Cmd::Deliver, shopper()),
    ]
    .into_iter()
    .map(|(cmd, actor)| command(cmd, actor))
    .collect()
}

proptest! {
    #[test]
    fn order_state_survives_a_json_round_trip(
        // Some way along the happy path first, so that every status is reached often.
        head in 0..=7usize,
        tail in proptest::collection::vec(any_command(), 1..60),
    ) {
        let commands = happy_path().into_iter().take(head).chain(tail);
        let mut original = Order::default();
        for command in commands {
            let mut copy: Order = json_round_trip(&original);
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
            if let Some(state) = original.state() {
                // Refunds never exceed what was paid.
                prop_assert!(state.refunded_satang <= state.paid_satang);
            }
        }
    }
}
