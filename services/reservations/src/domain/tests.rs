//! Scenario tests of the reservation rules, on folded state only (no infrastructure).
use std::collections::BTreeMap;

use yeyak_kit::command::testing::given;
use yeyak_proto::{
    catalog::events::v1::{
        CancellationDeadline, CancellationKind, CancellationPolicy, FeeTier, ProductStatus,
        cancellation_deadline,
    },
    reservations::events::v1::{
        InventoryOpened, InventoryReserved, PaymentMethod, PaymentMode, ProductAvailabilityChanged,
        ReservationBooked,
    },
    time::from_micros,
};

use super::{
    ReservationError,
    booking::{self, Availability, Book, Booking, MAX_QUANTITY},
    cancellation::{Adjustment, Cancel, Cancelled, Canceller, cancel},
    completion::{Completion, cancel_payment_only, code_hash, complete, mark_no_show, valid_code},
    events::{InventoryEvent, ReservationEvent},
    expiry::{expire, expires_at},
    inventory::{Inventory, Pool},
    policy::{self, Quote},
    reservation::{
        Releases, Reservation, ReservationCommand, ReservationContext, ReservationDecision, State,
        confirm, micros,
    },
};

/// Whether `result` was refused with `reason`.
macro_rules! refused {
    ($result:expr, $reason:literal) => {
        matches!(&$result, Err(e) if e.reason() == $reason)
    };
}

/// A rejection without the partner's default text.
fn reject(
    r: &Reservation,
    reason: String,
) -> Result<
    (
        yeyak_proto::reservations::events::v1::ReservationRejected,
        Releases,
    ),
    ReservationError,
> {
    super::reservation::reject(r, reason, None)
}

/// A cancel of `lines` (none: the whole reservation).
fn cancel_lines(
    r: &Reservation,
    by: Canceller,
    reason: String,
    adjustment: Option<Adjustment>,
    lines: &[u32],
    now_us: i64,
) -> Result<(Cancelled, Releases), ReservationError> {
    super::cancellation::cancel_lines(
        r,
        Cancel {
            by,
            reason,
            adjustment,
            line_numbers: lines.to_vec(),
        },
        now_us,
    )
}

/// The pool a unit of these tests shares, named `name` (its product is `prod`).
fn shared_pool(name: &str) -> Pool {
    Pool::Shared {
        product_id: "prod".into(),
        key: name.into(),
    }
}

/// The price cap named `name` of the product `prod`.
fn capped_price(name: &str) -> Pool {
    Pool::PriceCap {
        product_id: "prod".into(),
        price_id: name.into(),
    }
}

const NOW: i64 = 1_800_000_000_000_000;
const HOUR: i64 = 3600 * 1_000_000;

/// Gives back what a decision releases, in the one inventory of these tests.
fn release(inv: &mut Inventory, released: Releases) {
    assert!(!released.is_empty(), "something is given back");
    for (_, r) in released {
        inv.apply(InventoryEvent::Released(r));
    }
}

/// Books lines of units (each folded from its own stream), with the `shared` quantities.
fn book_at(
    lines: &[(&Inventory, u32)],
    shared: &[(Pool, &Inventory)],
    availability: &Availability,
    answers: Vec<String>,
    now_us: i64,
) -> Result<Booking, ReservationError> {
    let units = lines
        .iter()
        .map(|(u, _)| {
            let id = u.opened.as_ref().map(|o| o.reservation_schedule_id.clone());
            (id.unwrap_or_default(), (*u).clone())
        })
        .collect();
    let context = ReservationContext {
        now_us,
        units,
        shared: shared
            .iter()
            .map(|(k, v)| (k.clone(), (*v).clone()))
            .collect(),
        availability: availability.clone(),
        ..Default::default()
    };
    let cmd = Book {
        reservation_id: uuid::Uuid::new_v4(),
        customer_id: "c".into(),
        lines: lines
            .iter()
            .map(|(u, q)| {
                let id = u.opened.as_ref().map(|o| o.reservation_schedule_id.clone());
                (id.unwrap_or_else(|| "unknown".into()), *q)
            })
            .collect(),
        answers,
        method: PaymentMethod::KakaoPayCard,
    };
    booking::book(&Reservation::default(), cmd, &context)
}

/// Books one line of `inv`, with `shared` quantities.
fn book_one(
    inv: &Inventory,
    shared: &[(Pool, &Inventory)],
    availability: &Availability,
    quantity: u32,
    answers: Vec<String>,
    now_us: i64,
) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
    book_at(&[(inv, quantity)], shared, availability, answers, now_us)
        .map(|b| (b.holds[0].1.clone(), b.booked))
}

fn given_inventory(capacity: u32, approval: bool, payment: PaymentMode) -> Inventory {
    let mut inv = Inventory::default();
    inv.apply(InventoryEvent::Opened(InventoryOpened {
        reservation_schedule_id: "rs".into(),
        product_id: "prod".into(),
        partner_id: "partner".into(),
        place_id: "place".into(),
        starts_at: Some(yeyak_proto::time::from_micros(NOW + 24 * HOUR)),
        capacity,
        price_krw: 30_000,
        requires_approval: approval,
        payment_mode: payment as i32,
        visible: true,
        ..Default::default()
    }));
    inv
}

fn when_booking(
    inv: &Inventory,
    quantity: u32,
) -> Result<(InventoryReserved, ReservationBooked), ReservationError> {
    book_one(inv, &[], &Availability::default(), quantity, vec![], NOW)
}

fn booked(approval: bool) -> (Inventory, Reservation) {
    let mut inv = given_inventory(10, approval, PaymentMode::PayAtBooking);
    let (held, event) = when_booking(&inv, 2).unwrap();
    inv.apply(InventoryEvent::Reserved(held));
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(event));
    (inv, r)
}

#[test]
fn instant_mode_books_straight_to_confirmed() {
    let (_, r) = booked(false);
    assert_eq!(r.state, Some(State::Confirmed));
}

#[test]
fn approval_mode_books_to_requested() {
    let (_, r) = booked(true);
    assert_eq!(r.state, Some(State::Requested));
}

#[test]
fn pay_at_booking_pays_price_times_quantity() {
    let (_, r) = booked(false);
    assert_eq!(r.booked.unwrap().paid_krw, 60_000);
    let inv = given_inventory(10, false, PaymentMode::ReservationOnly);
    assert_eq!(when_booking(&inv, 2).unwrap().1.paid_krw, 0);
}

#[test]
fn booking_past_capacity_is_refused_as_sold_out() {
    let mut inv = given_inventory(3, false, PaymentMode::ReservationOnly);
    let (held, _) = when_booking(&inv, 2).unwrap();
    inv.apply(InventoryEvent::Reserved(held));
    let err = when_booking(&inv, 2).unwrap_err();
    assert!(err.reason() == "SOLD_OUT", "{err:?}");
    assert!(
        when_booking(&inv, 1).is_ok(),
        "the last seat is still bookable"
    );
}

#[test]
fn quantity_is_one_to_fifty() {
    let inv = given_inventory(100, false, PaymentMode::ReservationOnly);
    assert!(refused!(when_booking(&inv, 0), "OUT_OF_RANGE"));
    assert!(refused!(when_booking(&inv, 51), "OUT_OF_RANGE"));
}

#[test]
fn a_started_schedule_is_not_bookable() {
    let inv = given_inventory(5, false, PaymentMode::ReservationOnly);
    let late = book_one(
        &inv,
        &[],
        &Availability::default(),
        1,
        vec![],
        NOW + 25 * HOUR,
    );
    assert!(refused!(late, "SCHEDULE_STARTED"));
}

#[test]
fn an_unknown_schedule_is_not_found() {
    assert!(refused!(
        when_booking(&Inventory::default(), 1),
        "SCHEDULE_NOT_FOUND"
    ));
}

#[test]
fn only_a_requested_reservation_is_confirmed_or_rejected() {
    let (_, mut r) = booked(true);
    r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
    assert_eq!(r.state, Some(State::Confirmed));
    assert!(refused!(confirm(&r), "INVALID_STATE"));
    assert!(refused!(reject(&r, "full".into()), "INVALID_STATE"));
}

#[test]
fn rejecting_releases_the_seats_and_refunds_the_payment() {
    let (mut inv, mut r) = booked(true);
    let (rejected, released) = reject(&r, "closed that day".into()).unwrap();
    assert_eq!(rejected.refunded_krw, 60_000);
    release(&mut inv, released);
    r.apply(ReservationEvent::Rejected(rejected));
    assert_eq!(r.state, Some(State::Rejected));
    assert_eq!(inv.remaining(), 10);
}

#[test]
fn cancelling_releases_the_seats_and_a_cancelled_reservation_stays_cancelled() {
    let (mut inv, mut r) = booked(false);
    assert_eq!(inv.remaining(), 8);
    let (cancelled, released) =
        cancel(&r, Canceller::Customer, "plans changed".into(), None, NOW).unwrap();
    assert_eq!(cancelled.cancelled_by, "customer");
    release(&mut inv, released);
    r.apply(ReservationEvent::Cancelled(cancelled));
    assert_eq!(inv.remaining(), 10);
    assert!(cancel(&r, Canceller::Partner, "x".into(), None, NOW).is_err());
    assert!(
        complete(
            &r,
            Completion::Partner {
                code: String::new()
            },
            None,
            NOW
        )
        .is_err()
    );
}

#[test]
fn only_a_confirmed_reservation_is_completed_and_keeps_its_payment() {
    let (_, mut r) = booked(true);
    assert!(
        complete(
            &r,
            Completion::Partner {
                code: String::new()
            },
            None,
            NOW
        )
        .is_err(),
        "a Requested reservation is not completed"
    );
    r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
    let done = complete(
        &r,
        Completion::Partner {
            code: String::new(),
        },
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(done.paid_krw, 60_000);
    assert_eq!(done.partner_id, "partner");
    r.apply(ReservationEvent::Completed(done));
    assert_eq!(r.state, Some(State::Completed));
}

fn unit(f: impl FnOnce(&mut InventoryOpened)) -> Inventory {
    let mut inv = given_inventory(10, false, PaymentMode::PayAtBooking);
    let mut opened = inv.opened.clone().unwrap();
    f(&mut opened);
    inv.apply(InventoryEvent::Opened(opened));
    inv
}

fn refusal(inv: &Inventory, availability: &Availability, quantity: u32) -> &'static str {
    book_one(inv, &[], availability, quantity, vec![], NOW)
        .unwrap_err()
        .reason()
}

#[test]
fn booking_outside_the_booking_window_is_refused_with_the_time() {
    let early = unit(|o| o.booking_opens_at = Some(from_micros(NOW + HOUR)));
    assert_eq!(
        refusal(&early, &Availability::default(), 1),
        "BOOKING_NOT_OPEN_YET"
    );
    let late = unit(|o| o.booking_closes_at = Some(from_micros(NOW)));
    assert_eq!(
        refusal(&late, &Availability::default(), 1),
        "BOOKING_CLOSED"
    );
    let open = unit(|o| {
        o.booking_opens_at = Some(from_micros(NOW));
        o.booking_closes_at = Some(from_micros(NOW + 1));
    });
    assert!(
        when_booking(&open, 1).is_ok(),
        "open from its start, closed at its end"
    );
}

#[test]
fn a_product_not_displayed_as_open_is_refused_with_the_reason() {
    let inv = given_inventory(10, false, PaymentMode::ReservationOnly);
    let with = |f: fn(&mut ProductAvailabilityChanged)| {
        let mut p = ProductAvailabilityChanged::default();
        f(&mut p);
        Availability {
            product: Some(p),
            place_paused: false,
        }
    };
    assert_eq!(
        refusal(&inv, &with(|p| p.deleted = true), 1),
        "PRODUCT_DELETED"
    );
    assert_eq!(
        refusal(&inv, &with(|p| p.sanctioned = true), 1),
        "PRODUCT_SANCTIONED"
    );
    assert_eq!(
        refusal(&inv, &with(|p| p.status = ProductStatus::Ended as i32), 1),
        "PRODUCT_ENDED"
    );
    assert_eq!(
        refusal(&inv, &with(|p| p.status = ProductStatus::Closed as i32), 1),
        "PRODUCT_CLOSED"
    );
    let paused = Availability {
        product: None,
        place_paused: true,
    };
    assert_eq!(refusal(&inv, &paused, 1), "PLACE_PAUSED");
    let hidden = unit(|o| o.visible = false);
    assert_eq!(
        refusal(&hidden, &Availability::default(), 1),
        "SCHEDULE_HIDDEN"
    );
}

#[test]
fn the_headcount_of_a_booking_stays_within_the_slots_minimum_and_maximum() {
    let pair = unit(|o| {
        o.min_headcount = 2;
        o.max_headcount = 2;
    });
    assert_eq!(
        refusal(&pair, &Availability::default(), 1),
        "HEADCOUNT_OUT_OF_RANGE"
    );
    assert_eq!(
        refusal(&pair, &Availability::default(), 3),
        "HEADCOUNT_OUT_OF_RANGE"
    );
    assert!(when_booking(&pair, 2).is_ok());
}

fn tiered() -> CancellationPolicy {
    CancellationPolicy {
        kind: CancellationKind::Tiered as i32,
        deadline: Some(CancellationDeadline {
            kind: Some(cancellation_deadline::Kind::MinutesBeforeUse(60)),
        }),
        tiers: vec![FeeTier {
            within_minutes_before_use: 24 * 60 + 1,
            fee_bps: 3_000,
        }],
        full_refund_minutes_after_booking: 0,
    }
}

/// A confirmed, paid reservation of 2 × 30 000 won starting in 24 h, under `policy`.
fn confirmed_under(policy: CancellationPolicy) -> Reservation {
    let inv = unit(|o| o.cancellation_policy = Some(policy));
    let (_, event) = when_booking(&inv, 2).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(event));
    r
}

#[test]
fn the_reservation_keeps_a_snapshot_of_the_policy_at_booking() {
    let r = confirmed_under(tiered());
    assert_eq!(r.booked.unwrap().cancellation_policy, Some(tiered()));
}

#[test]
fn a_customer_cancel_follows_the_snapshot_fee_tiers_and_refunds_paid_minus_fee() {
    let r = confirmed_under(tiered());
    let (c, released) = cancel(&r, Canceller::Customer, String::new(), None, NOW).unwrap();
    assert_eq!(
        (c.fee_krw, c.refunded_krw, c.fee_bps),
        (18_000, 42_000, 3_000)
    );
    assert!(!c.ex_officio && !released.is_empty());
    let late = cancel(
        &r,
        Canceller::Customer,
        String::new(),
        None,
        NOW + 23 * HOUR,
    );
    assert_eq!(late.unwrap_err().reason(), "PAST_CANCELLATION_DEADLINE");
}

#[test]
fn a_requested_reservation_is_cancelled_for_free() {
    let inv = unit(|o| {
        o.cancellation_policy = Some(tiered());
        o.requires_approval = true;
    });
    let (_, event) = when_booking(&inv, 2).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(event));
    let (c, _) = cancel(&r, Canceller::Customer, String::new(), None, NOW).unwrap();
    assert_eq!((c.fee_krw, c.refunded_krw), (0, 60_000));
}

#[test]
fn an_adjusted_cancel_never_charges_more_than_the_rule_and_a_deviation_is_ex_officio() {
    let r = confirmed_under(tiered());
    let over = cancel(
        &r,
        Canceller::Partner,
        String::new(),
        Some(Adjustment::Rate { fee_bps: 3_001 }),
        NOW,
    );
    assert_eq!(over.unwrap_err().reason(), "FEE_ABOVE_DEFAULT");
    let (c, _) = cancel(
        &r,
        Canceller::Partner,
        String::new(),
        Some(Adjustment::Amount { fee_krw: 5_000 }),
        NOW,
    )
    .unwrap();
    assert_eq!((c.fee_krw, c.refunded_krw), (5_000, 55_000));
    assert!(
        c.adjusted && c.ex_officio,
        "a fee off the rule is ex officio"
    );
    let (plain, _) = cancel(&r, Canceller::Partner, String::new(), None, NOW).unwrap();
    assert!(!plain.ex_officio, "the rule's own fee is not ex officio");
    assert_eq!(
        cancel(
            &r,
            Canceller::Customer,
            String::new(),
            Some(Adjustment::Rate { fee_bps: 0 }),
            NOW
        )
        .unwrap_err()
        .reason(),
        "PARTNER_ONLY"
    );
}

#[test]
fn cancelling_a_non_cancellable_or_completed_reservation_is_ex_officio() {
    let locked = confirmed_under(CancellationPolicy {
        kind: CancellationKind::NotCancellable as i32,
        ..Default::default()
    });
    assert_eq!(
        cancel(&locked, Canceller::Customer, String::new(), None, NOW)
            .unwrap_err()
            .reason(),
        "NOT_CANCELLABLE"
    );
    let (c, _) = cancel(
        &locked,
        Canceller::Partner,
        String::new(),
        Some(Adjustment::Rate { fee_bps: 0 }),
        NOW,
    )
    .unwrap();
    assert!(c.ex_officio);
    assert_eq!(c.refunded_krw, 60_000);
    let mut used = confirmed_under(tiered());
    used.apply(ReservationEvent::Completed(
        complete(
            &used,
            Completion::Partner {
                code: String::new(),
            },
            None,
            NOW,
        )
        .unwrap(),
    ));
    let (after, released) = cancel(&used, Canceller::Partner, String::new(), None, NOW).unwrap();
    assert!(
        after.ex_officio && released.is_empty(),
        "used seats are not given back"
    );
    assert_eq!(after.fee_bps, policy::FULL_BPS);
}

#[test]
fn an_unanswered_request_expires_after_24_hours_or_at_the_usage_start_whichever_is_first() {
    assert_eq!(expires_at(NOW, 0, NOW + 48 * HOUR), NOW + 24 * HOUR);
    assert_eq!(expires_at(NOW, 0, NOW + 3 * HOUR), NOW + 3 * HOUR);
    assert_eq!(expires_at(NOW, 60, NOW + 3 * HOUR), NOW + HOUR);
    let (mut inv, mut r) = booked(true);
    let due = micros(&r.booked.as_ref().unwrap().expires_at);
    assert_eq!(due, NOW + 24 * HOUR, "the usage starts in 24 h too");
    assert_eq!(expire(&r, due - 1).unwrap_err().reason(), "NOT_DUE");
    let (expired, released) = expire(&r, due).unwrap();
    assert_eq!(expired.refunded_krw, 60_000);
    release(&mut inv, released);
    r.apply(ReservationEvent::Expired(expired));
    assert_eq!((r.state, inv.remaining()), (Some(State::Expired), 10));
    assert_eq!(expire(&r, due).unwrap_err().reason(), "INVALID_STATE");
}

#[test]
fn an_answered_request_never_expires() {
    let (_, mut r) = booked(true);
    r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
    assert_eq!(
        expire(&r, NOW + 100 * HOUR).unwrap_err().reason(),
        "INVALID_STATE"
    );
    let (_, instant) = booked(false);
    assert!(instant.booked.unwrap().expires_at.is_none());
}

fn confirmed_paid() -> Reservation {
    let (_, mut r) = booked(true);
    r.apply(ReservationEvent::Confirmed(confirm(&r).unwrap()));
    r
}

#[test]
fn completion_needs_the_partners_code_when_one_is_set() {
    let r = confirmed_paid();
    let hash = code_hash("partner", "4821");
    let with = |code: &str| {
        complete(
            &r,
            Completion::Partner { code: code.into() },
            Some(hash.as_str()),
            NOW,
        )
    };
    assert_eq!(
        with("1234").unwrap_err().reason(),
        "COMPLETION_CODE_MISMATCH"
    );
    assert_eq!(with("").unwrap_err().reason(), "COMPLETION_CODE_MISMATCH");
    assert!(with("4821").is_ok());
    assert!(
        complete(
            &r,
            Completion::Partner {
                code: String::new()
            },
            Some(""),
            NOW
        )
        .is_ok(),
        "a removed code asks for nothing"
    );
    assert!(valid_code("0042") && valid_code("") && !valid_code("42") && !valid_code("12a4"));
}

#[test]
fn a_class_cannot_be_completed_before_its_usage_date() {
    let inv = unit(|o| {
        o.class_product = true;
        o.requires_approval = false;
    });
    let (_, event) = when_booking(&inv, 1).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(event));
    let partner = || Completion::Partner {
        code: String::new(),
    };
    assert_eq!(
        complete(&r, partner(), None, NOW).unwrap_err().reason(),
        "CLASS_BEFORE_USAGE_DATE"
    );
    assert!(complete(&r, partner(), None, NOW + 24 * HOUR).is_ok());
}

#[test]
fn only_unpaid_reservations_complete_by_themselves_and_only_the_day_after_use() {
    let r = confirmed_paid();
    assert_eq!(
        complete(&r, Completion::Automatic, None, NOW + 100 * HOUR)
            .unwrap_err()
            .reason(),
        "NOT_DUE",
        "a paid reservation waits for the partner"
    );
    let inv = given_inventory(5, false, PaymentMode::ReservationOnly);
    let (_, event) = when_booking(&inv, 1).unwrap();
    let mut free = Reservation::default();
    free.apply(ReservationEvent::Booked(event));
    assert!(complete(&free, Completion::Automatic, None, NOW + 24 * HOUR).is_err());
    let done = complete(&free, Completion::Automatic, None, NOW + 48 * HOUR).unwrap();
    assert!(done.automatic);
}

#[test]
fn cancel_payment_only_refunds_a_completed_reservation_that_stays_completed() {
    let mut r = confirmed_paid();
    assert_eq!(
        cancel_payment_only(&r, String::new()).unwrap_err().reason(),
        "INVALID_STATE"
    );
    r.apply(ReservationEvent::Completed(
        complete(
            &r,
            Completion::Partner {
                code: String::new(),
            },
            None,
            NOW,
        )
        .unwrap(),
    ));
    let e = cancel_payment_only(&r, "환불 요청".into()).unwrap();
    assert_eq!(e.refunded_krw, 60_000);
    r.apply(ReservationEvent::PaymentCancelled(e));
    assert_eq!(
        (r.state, r.payment_cancelled),
        (Some(State::Completed), true)
    );
    assert_eq!(
        cancel_payment_only(&r, String::new()).unwrap_err().reason(),
        "NOTHING_TO_REFUND"
    );
}

#[test]
fn a_no_show_is_marked_or_unmarked_only_after_the_usage_time() {
    let mut r = confirmed_paid();
    assert_eq!(
        mark_no_show(&r, true, NOW).unwrap_err().reason(),
        "BEFORE_USAGE_TIME"
    );
    let after = NOW + 25 * HOUR;
    let marked = mark_no_show(&r, true, after).unwrap().unwrap();
    r.apply(ReservationEvent::NoShow(marked));
    assert!(r.no_show);
    assert_eq!(
        mark_no_show(&r, true, after).unwrap(),
        None,
        "marking twice changes nothing"
    );
    r.apply(ReservationEvent::NoShow(
        mark_no_show(&r, false, after).unwrap().unwrap(),
    ));
    assert!(!r.no_show);
}

#[test]
fn units_sharing_a_pool_or_a_price_cap_are_sold_out_together() {
    let pooled = |cap: &str| {
        unit(|o| {
            o.payment_mode = PaymentMode::ReservationOnly as i32;
            o.shared_inventory_key = "pool".into();
            o.capped_price_id = cap.into();
        })
    };
    let (only_pool, capped) = (pooled(""), pooled("cap"));
    let mut pool = Inventory::default();
    pool.apply(InventoryEvent::PoolCapacity(
        yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 3 },
    ));
    let mut cap = Inventory::default();
    cap.apply(InventoryEvent::PoolCapacity(
        yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 2 },
    ));
    let with = |unit: &Inventory, pool: &Inventory, quantity| {
        book_one(
            unit,
            &[(shared_pool("pool"), pool), (capped_price("cap"), &cap)],
            &Availability::default(),
            quantity,
            vec![],
            NOW,
        )
    };
    assert!(with(&only_pool, &pool, 3).is_ok());
    assert_eq!(with(&only_pool, &pool, 4).unwrap_err().reason(), "SOLD_OUT");
    assert_eq!(
        with(&capped, &pool, 3).unwrap_err().reason(),
        "SOLD_OUT",
        "the price cap binds too"
    );
    let (held, _) = with(&only_pool, &pool, 2).unwrap();
    pool.apply(InventoryEvent::Reserved(held));
    assert_eq!(with(&only_pool, &pool, 2).unwrap_err().reason(), "SOLD_OUT");
}

/// Two prices (adult 30 000, child 10 000) of one schedule, with their own quantities.
fn two_prices(f: impl Fn(&mut InventoryOpened)) -> (Inventory, Inventory) {
    let adult = unit(|o| {
        o.reservation_schedule_id = "adult".into();
        f(o);
    });
    let child = unit(|o| {
        o.reservation_schedule_id = "child".into();
        o.price_krw = 10_000;
        f(o);
    });
    (adult, child)
}

fn book_lines(
    lines: &[(&Inventory, u32)],
    shared: &BTreeMap<Pool, Inventory>,
) -> Result<Booking, ReservationError> {
    let shared: Vec<(Pool, &Inventory)> = shared.iter().map(|(k, v)| (k.clone(), v)).collect();
    book_at(lines, &shared, &Availability::default(), vec![], NOW)
}

/// A confirmed reservation of 2 adults and 1 child under `policy`.
fn family(f: impl Fn(&mut InventoryOpened)) -> (Reservation, Booking) {
    let (adult, child) = two_prices(f);
    let booking = book_lines(&[(&adult, 2), (&child, 1)], &BTreeMap::new()).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(booking.booked.clone()));
    (r, booking)
}

#[test]
fn a_reservation_has_numbered_lines_each_with_its_price_and_seats() {
    let (r, booking) = family(|_| {});
    let lines = r.lines();
    assert_eq!(
        lines
            .iter()
            .map(|l| (
                l.line_number,
                l.reservation_schedule_id.as_str(),
                l.quantity,
                l.paid_krw
            ))
            .collect::<Vec<_>>(),
        [(1, "adult", 2, 60_000), (2, "child", 1, 10_000)]
    );
    let b = r.booked.as_ref().unwrap();
    assert_eq!((b.quantity, b.paid_krw), (3, 70_000));
    assert_eq!(
        booking
            .holds
            .iter()
            .map(|(s, h)| (s.clone(), h.quantity))
            .collect::<Vec<_>>(),
        [
            (Pool::Unit("adult".into()), 2),
            (Pool::Unit("child".into()), 1)
        ],
        "each line holds its seats in its own unit"
    );
}

#[test]
fn lines_are_prices_of_one_schedule_each_once_and_within_the_headcount() {
    let (adult, child) = two_prices(|_| {});
    let none = BTreeMap::new();
    let refused = |lines: &[(&Inventory, u32)]| book_lines(lines, &none).unwrap_err().reason();
    assert_eq!(refused(&[(&adult, 1), (&adult, 1)]), "DUPLICATE_LINE");
    let later = unit(|o| {
        o.reservation_schedule_id = "later".into();
        o.starts_at = Some(from_micros(NOW + 48 * HOUR));
    });
    assert_eq!(
        refused(&[(&adult, 1), (&later, 1)]),
        "LINES_NOT_ONE_SCHEDULE"
    );
    let free = unit(|o| {
        o.reservation_schedule_id = "free".into();
        o.payment_mode = PaymentMode::ReservationOnly as i32;
    });
    assert_eq!(refused(&[(&adult, 1), (&free, 1)]), "LINES_MIXED_PAYMENT");
    assert_eq!(
        refused(&[(&adult, 30), (&child, 21)]),
        "OUT_OF_RANGE",
        "at most 50 seats in all"
    );
    let (small_a, small_c) = two_prices(|o| o.max_headcount = 4);
    assert_eq!(
        refused(&[(&small_a, 3), (&small_c, 2)]),
        "HEADCOUNT_OUT_OF_RANGE",
        "the headcount counts every line of the schedule"
    );
    let (pair_a, pair_c) = two_prices(|o| o.headcount_multiple = 2);
    assert_eq!(
        refused(&[(&pair_a, 2), (&pair_c, 1)]),
        "HEADCOUNT_NOT_MULTIPLE"
    );
    assert!(book_lines(&[(&pair_a, 3), (&pair_c, 1)], &none).is_ok());
}

#[test]
fn lines_sharing_a_pool_are_counted_together() {
    let (adult, child) = two_prices(|o| o.shared_inventory_key = "pool".into());
    let mut pool = Inventory::default();
    pool.apply(InventoryEvent::PoolCapacity(
        yeyak_proto::reservations::events::v1::PoolCapacitySet { capacity: 3 },
    ));
    let shared = BTreeMap::from([(shared_pool("pool"), pool)]);
    assert_eq!(
        book_lines(&[(&adult, 2), (&child, 2)], &shared)
            .unwrap_err()
            .reason(),
        "SOLD_OUT",
        "2 + 2 of a pool of 3"
    );
    let booking = book_lines(&[(&adult, 2), (&child, 1)], &shared).unwrap();
    assert_eq!(
        booking
            .holds
            .iter()
            .map(|(s, h)| (s.clone(), h.quantity))
            .collect::<Vec<_>>(),
        [(shared_pool("pool"), 3)],
        "one hold per quantity, for every line in it"
    );
}

#[test]
fn a_partial_cancel_refunds_the_cancelled_lines_by_the_rule_and_gives_back_their_seats() {
    let (mut r, _) = family(|o| o.cancellation_policy = Some(tiered()));
    let (adult, mut child) = two_prices(|_| {});
    child.apply(InventoryEvent::Reserved(InventoryReserved {
        reservation_id: r.booked.as_ref().unwrap().reservation_id.clone(),
        quantity: 1,
    }));
    let (outcome, released) =
        cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW).unwrap();
    let Cancelled::Lines(partial) = outcome else {
        panic!("one of two lines is a partial cancel");
    };
    // 24 h before use: the 30 % tier, on the child line's 10 000.
    assert_eq!(
        (partial.fee_krw, partial.refunded_krw, partial.quantity),
        (3_000, 7_000, 1)
    );
    assert!(!partial.ex_officio);
    assert_eq!(
        released
            .iter()
            .map(|(s, h)| (s.clone(), h.quantity))
            .collect::<Vec<_>>(),
        [(Pool::Unit("child".into()), 1)],
        "only the cancelled line's seats come back"
    );
    for (_, h) in released {
        child.apply(InventoryEvent::Released(h));
    }
    assert_eq!((adult.remaining(), child.remaining()), (10, 10));
    r.apply(ReservationEvent::LinesCancelled(partial));
    assert_eq!(r.state, Some(State::Confirmed), "the rest stays confirmed");
    assert_eq!((r.live_quantity(), r.paid_left()), (2, 60_000));
    assert_eq!(
        cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW)
            .unwrap_err()
            .reason(),
        "LINE_ALREADY_CANCELLED"
    );
    assert_eq!(
        cancel_lines(&r, Canceller::Customer, String::new(), None, &[7], NOW)
            .unwrap_err()
            .reason(),
        "UNKNOWN_LINE"
    );
    // The last live line: the whole reservation, on what is left of the payment.
    let (outcome, released) =
        cancel_lines(&r, Canceller::Customer, String::new(), None, &[1], NOW).unwrap();
    let Cancelled::Whole(whole) = outcome else {
        panic!("the last line cancels the reservation");
    };
    assert_eq!((whole.fee_krw, whole.refunded_krw), (18_000, 42_000));
    assert_eq!(
        released
            .iter()
            .map(|(s, h)| (s.clone(), h.quantity))
            .collect::<Vec<_>>(),
        [(Pool::Unit("adult".into()), 2)]
    );
    r.apply(ReservationEvent::Cancelled(whole));
    assert_eq!(r.state, Some(State::Cancelled));
    assert_eq!(r.refunded_krw, 49_000);
}

#[test]
fn a_minimum_fixed_or_multiple_quantity_allows_no_partial_cancel_but_the_partners_is_ex_officio() {
    for restrict in [
        (|o: &mut InventoryOpened| o.min_headcount = 2) as fn(&mut InventoryOpened),
        |o| {
            o.min_headcount = 3;
            o.max_headcount = 3;
        },
        |o| o.headcount_multiple = 3,
    ] {
        let (r, _) = family(restrict);
        assert!(r.booked.as_ref().unwrap().partial_cancel_restricted);
        assert_eq!(
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[2], NOW)
                .unwrap_err()
                .reason(),
            "PARTIAL_CANCEL_NOT_ALLOWED"
        );
        let (outcome, _) =
            cancel_lines(&r, Canceller::Partner, String::new(), None, &[2], NOW).unwrap();
        let Cancelled::Lines(partial) = outcome else {
            panic!("a partial cancel");
        };
        assert!(partial.ex_officio, "직권취소");
        assert!(
            cancel_lines(&r, Canceller::Customer, String::new(), None, &[1, 2], NOW).is_ok(),
            "cancelling every line is a whole cancel, always allowed"
        );
    }
    let (free, _) = family(|_| {});
    assert!(!free.booked.unwrap().partial_cancel_restricted);
}

#[test]
fn completing_after_a_partial_cancel_settles_only_the_lines_used() {
    let (mut r, _) = family(|_| {});
    let (outcome, _) =
        cancel_lines(&r, Canceller::Partner, String::new(), None, &[1], NOW).unwrap();
    let Cancelled::Lines(partial) = outcome else {
        panic!("a partial cancel");
    };
    r.apply(ReservationEvent::LinesCancelled(partial));
    let done = complete(
        &r,
        Completion::Partner {
            code: String::new(),
        },
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(done.paid_krw, 10_000, "the child line only");
}

#[test]
fn a_pass_completes_by_itself_after_its_last_day_and_a_no_show_never_does() {
    let inv = unit(|o| {
        o.payment_mode = PaymentMode::ReservationOnly as i32;
        o.ends_at = Some(from_micros(NOW + 24 * HOUR + 72 * HOUR));
    });
    let (_, event) = when_booking(&inv, 1).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(event));
    assert_eq!(
        complete(&r, Completion::Automatic, None, NOW + 72 * HOUR)
            .unwrap_err()
            .reason(),
        "NOT_DUE",
        "not the day after its first day"
    );
    assert!(complete(&r, Completion::Automatic, None, NOW + 5 * 24 * HOUR).is_ok());
    let marked = mark_no_show(&r, true, NOW + 30 * HOUR).unwrap().unwrap();
    r.apply(ReservationEvent::NoShow(marked));
    assert_eq!(
        complete(&r, Completion::Automatic, None, NOW + 5 * 24 * HOUR)
            .unwrap_err()
            .reason(),
        "NO_SHOW"
    );
}

#[test]
fn fees_never_overflow_and_refunds_never_go_negative() {
    let q = Quote::at_rate(i64::MAX, u32::MAX);
    assert_eq!(q.fee_bps, policy::FULL_BPS);
    assert_eq!(q.refund_krw, 0);
    assert_eq!(Quote::at_amount(1_000, i64::MIN).fee_krw, 0);
}

#[test]
fn the_customer_answers_each_of_the_products_questions() {
    let asks = unit(|o| o.question_count = 2);
    let with =
        |answers: Vec<String>| book_one(&asks, &[], &Availability::default(), 1, answers, NOW);
    assert_eq!(
        with(vec!["없음".into()]).unwrap_err().reason(),
        "ANSWERS_MISMATCH"
    );
    let (_, booked) = with(vec!["없음".into(), "창가 자리".into()]).unwrap();
    assert_eq!(booked.answers, ["없음", "창가 자리"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// Arbitrary lines, headcount rules and partial cancels: a booking holds exactly its
    /// seats or nothing; every cancel refunds at most what was paid for its lines and gives
    /// back exactly their seats; in the end every seat held came back once.
    #[test]
    fn lines_hold_and_give_back_exactly_their_seats_and_money(
        quantities in proptest::collection::vec(1u32..12, 1..5),
        prices in proptest::collection::vec(0i64..200_000, 4),
        min in 0u32..3,
        multiple in 0u32..3,
        capacity in 5u32..40,
        order in proptest::collection::vec(1u32..6, 0..6),
        partner in proptest::bool::ANY,
    ) {
        let units: Vec<Inventory> = quantities
            .iter()
            .enumerate()
            .map(|(n, _)| {
                unit(|o| {
                    o.reservation_schedule_id = format!("u{n}");
                    o.price_krw = prices[n % prices.len()];
                    o.capacity = capacity;
                    o.min_headcount = min;
                    o.headcount_multiple = multiple;
                    o.cancellation_policy = Some(tiered());
                })
            })
            .collect();
        let lines: Vec<(&Inventory, u32)> =
            units.iter().zip(&quantities).map(|(u, q)| (u, *q)).collect();
        let booking = match book_lines(&lines, &BTreeMap::new()) {
            Ok(booking) => booking,
            Err(e) => {
                proptest::prop_assert!(
                    ["SOLD_OUT", "HEADCOUNT_OUT_OF_RANGE", "HEADCOUNT_NOT_MULTIPLE"]
                        .contains(&e.reason()),
                    "{e:?}"
                );
                return Ok(());
            }
        };
        let total: u32 = quantities.iter().sum();
        proptest::prop_assert!(total <= MAX_QUANTITY && quantities.iter().all(|q| *q <= capacity));
        proptest::prop_assert_eq!(booking.holds.iter().map(|(_, h)| h.quantity).sum::<u32>(), total);
        let paid = booking.booked.paid_krw;
        let mut r = Reservation::default();
        r.apply(ReservationEvent::Booked(booking.booked));
        let by = if partner { Canceller::Partner } else { Canceller::Customer };
        let mut released = 0u32;
        for line in order {
            let Ok((outcome, back)) = cancel_lines(&r, by, String::new(), None, &[line], NOW) else {
                continue;
            };
            released += back.iter().map(|(_, h)| h.quantity).sum::<u32>();
            match outcome {
                Cancelled::Lines(e) => {
                    proptest::prop_assert!(e.refunded_krw >= 0 && e.fee_krw >= 0);
                    r.apply(ReservationEvent::LinesCancelled(e));
                }
                Cancelled::Whole(e) => {
                    proptest::prop_assert!(e.refunded_krw >= 0);
                    r.apply(ReservationEvent::Cancelled(e));
                }
            }
            proptest::prop_assert!(r.refunded_krw <= paid && r.paid_left() >= 0);
        }
        if r.state == Some(State::Cancelled) {
            proptest::prop_assert_eq!(released, total, "every seat came back once");
        } else {
            proptest::prop_assert_eq!(released + r.live_quantity(), total);
        }
    }
}

// --- given / when / then, through the aggregate ------------------------------------------------

/// The events of a booking of 2 seats of `given_inventory(10, approval, pay at booking)`.
fn booking_events(approval: bool) -> Vec<ReservationEvent> {
    let (_, r) = booked(approval);
    vec![ReservationEvent::Booked(r.booked.unwrap())]
}

fn at(now_us: i64) -> ReservationContext {
    ReservationContext {
        now_us,
        ..Default::default()
    }
}

#[test]
fn given_a_request_when_the_partner_confirms_then_it_is_confirmed_and_nothing_moves() {
    let booked = booking_events(true);
    let ReservationEvent::Booked(b) = &booked[0] else {
        unreachable!()
    };
    let confirmed = yeyak_proto::reservations::events::v1::ReservationConfirmed {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
    };
    given::<Reservation>(booked.clone())
        .when(ReservationCommand::Confirm, &at(NOW))
        .then_expect(ReservationDecision {
            event: Some(ReservationEvent::Confirmed(confirmed.clone())),
            ..Default::default()
        });
    given::<Reservation>(
        booked
            .into_iter()
            .chain([ReservationEvent::Confirmed(confirmed)]),
    )
    .when(ReservationCommand::Confirm, &at(NOW))
    .then_refused(ReservationError::InvalidState {
        action: "confirm",
        state: State::Confirmed,
    });
}

#[test]
fn given_a_request_its_expiry_is_refused_a_microsecond_before_and_decided_at_the_instant() {
    let booked = booking_events(true);
    let ReservationEvent::Booked(b) = &booked[0] else {
        unreachable!()
    };
    let (due, reservation_id) = (micros(&b.expires_at), b.reservation_id.clone());
    given::<Reservation>(booked.clone())
        .when(ReservationCommand::Expire, &at(due - 1))
        .then_refused_as(|e| e.reason() == "NOT_DUE");
    let decision = given::<Reservation>(booked)
        .when(ReservationCommand::Expire, &at(due))
        .decision();
    assert!(matches!(decision.event, Some(ReservationEvent::Expired(_))));
    assert_eq!(decision.refund_krw, 60_000, "what was paid is owed back");
    assert_eq!(
        decision.releases,
        vec![(
            Pool::Unit("rs".into()),
            yeyak_proto::reservations::events::v1::InventoryReleased {
                reservation_id,
                quantity: 2
            }
        )]
    );
}

#[test]
fn given_a_fixed_deadline_a_customer_cancels_a_second_before_it_and_is_refused_at_it() {
    // Use 2026-11-21 18:00 KST; deadline fixed at 2026-11-21 00:00 KST (S1).
    let usage = yeyak_kit::kst::kst()
        .to_timestamp(jiff::civil::date(2026, 11, 21).at(18, 0, 0, 0))
        .unwrap()
        .as_microsecond();
    let mut events = booking_events(false);
    let ReservationEvent::Booked(b) = &mut events[0] else {
        unreachable!()
    };
    b.starts_at = Some(from_micros(usage));
    b.booked_at = Some(from_micros(usage - 30 * 24 * HOUR));
    b.cancellation_policy = Some(CancellationPolicy {
        kind: CancellationKind::FullRefundUntilDeadline as i32,
        deadline: Some(CancellationDeadline {
            kind: Some(cancellation_deadline::Kind::FixedKst(
                "2026-11-21T00:00".into(),
            )),
        }),
        ..Default::default()
    });
    let deadline = usage - 18 * HOUR;
    let cancel = || {
        ReservationCommand::Cancel(Cancel {
            by: Canceller::Customer,
            reason: String::new(),
            adjustment: None,
            line_numbers: vec![],
        })
    };
    let before = given::<Reservation>(events.clone())
        .when(cancel(), &at(deadline - 1_000_000))
        .decision();
    assert_eq!(
        before.refund_krw, 60_000,
        "a full refund until the deadline"
    );
    given::<Reservation>(events)
        .when(cancel(), &at(deadline))
        .then_refused(ReservationError::PastCancellationDeadline(deadline));
}

#[test]
fn given_no_booking_when_booking_past_the_last_seat_then_it_is_sold_out() {
    let mut unit = given_inventory(3, false, PaymentMode::ReservationOnly);
    unit.apply(InventoryEvent::Reserved(InventoryReserved {
        reservation_id: "other".into(),
        quantity: 2,
    }));
    let context = ReservationContext {
        now_us: NOW,
        units: BTreeMap::from([("rs".to_string(), unit)]),
        ..Default::default()
    };
    let book = |quantity| {
        ReservationCommand::Book(Book {
            reservation_id: uuid::Uuid::from_u128(1),
            customer_id: "c".into(),
            lines: vec![("rs".into(), quantity)],
            answers: vec![],
            method: PaymentMethod::Unspecified,
        })
    };
    given::<Reservation>([])
        .when(book(2), &context)
        .then_refused(ReservationError::SoldOut {
            remaining: 1,
            capacity: 3,
            asked: 2,
        });
    let last = given::<Reservation>([]).when(book(1), &context).decision();
    assert_eq!(
        last.holds
            .iter()
            .map(|(p, h)| (p.clone(), h.quantity))
            .collect::<Vec<_>>(),
        [(Pool::Unit("rs".into()), 1)]
    );
}

// --- every time rule at its boundary ---------------------------------------------------------

/// A confirmed reservation of `unit` (booked at `NOW`), as events.
fn confirmed_events(unit: Inventory) -> Vec<ReservationEvent> {
    let (_, booked) = when_booking(&unit, 1).unwrap();
    let mut r = Reservation::default();
    r.apply(ReservationEvent::Booked(booked.clone()));
    let mut events = vec![ReservationEvent::Booked(booked)];
    if r.state == Some(State::Requested) {
        events.push(ReservationEvent::Confirmed(confirm(&r).unwrap()));
    }
    events
}

fn usage_of(events: &[ReservationEvent]) -> i64 {
    let ReservationEvent::Booked(b) = &events[0] else {
        unreachable!()
    };
    micros(&b.starts_at)
}

#[test]
fn a_schedule_is_bookable_until_the_microsecond_it_starts() {
    let inv = given_inventory(5, false, PaymentMode::ReservationOnly);
    let starts = micros(&inv.opened.as_ref().unwrap().starts_at);
    assert!(book_one(&inv, &[], &Availability::default(), 1, vec![], starts - 1).is_ok());
    assert!(refused!(
        book_one(&inv, &[], &Availability::default(), 1, vec![], starts),
        "SCHEDULE_STARTED"
    ));
}

#[test]
fn a_no_show_is_marked_from_the_usage_time_on() {
    let events = confirmed_events(given_inventory(5, false, PaymentMode::PayAtBooking));
    let starts = usage_of(&events);
    let mark = || ReservationCommand::MarkNoShow { no_show: true };
    given::<Reservation>(events.clone())
        .when(mark(), &at(starts - 1))
        .then_refused(ReservationError::BeforeUsageTime);
    let marked = given::<Reservation>(events)
        .when(mark(), &at(starts))
        .decision();
    assert!(matches!(marked.event, Some(ReservationEvent::NoShow(_))));
}

#[test]
fn a_class_is_completed_from_00_00_kst_of_its_usage_date() {
    let events = confirmed_events(unit(|o| {
        o.class_product = true;
        o.requires_approval = false;
    }));
    let day_starts = yeyak_kit::kst::start_of_day(usage_of(&events));
    let complete = || ReservationCommand::Complete {
        code: String::new(),
    };
    given::<Reservation>(events.clone())
        .when(complete(), &at(day_starts - 1))
        .then_refused(ReservationError::ClassBeforeUsageDate);
    let done = given::<Reservation>(events)
        .when(complete(), &at(day_starts))
        .decision();
    assert!(matches!(done.event, Some(ReservationEvent::Completed(_))));
}

#[test]
fn a_free_reservation_completes_by_itself_from_00_00_kst_the_day_after_use() {
    let events = confirmed_events(given_inventory(5, false, PaymentMode::ReservationOnly));
    let ReservationEvent::Booked(b) = &events[0] else {
        unreachable!()
    };
    let due = super::completion::day_after_use(b);
    assert_eq!(
        due,
        yeyak_kit::kst::start_of_next_day(usage_of(&events)).unwrap()
    );
    given::<Reservation>(events.clone())
        .when(ReservationCommand::AutoComplete, &at(due - 1))
        .then_refused_as(|e| e.reason() == "NOT_DUE");
    let done = given::<Reservation>(events)
        .when(ReservationCommand::AutoComplete, &at(due))
        .decision();
    assert!(matches!(done.event, Some(ReservationEvent::Completed(ref c)) if c.automatic));
}

#[test]
fn the_full_refund_window_after_booking_ends_at_its_last_microsecond() {
    let policy = CancellationPolicy {
        full_refund_minutes_after_booking: 30,
        ..tiered()
    };
    // Booked at NOW, 24 h before use: the 30 % tier applies once the window is over.
    let r = confirmed_under(policy);
    let window_end = NOW + 30 * 60_000_000;
    let fee = |now| {
        cancel(&r, Canceller::Customer, String::new(), None, now)
            .unwrap()
            .0
            .fee_bps
    };
    assert_eq!(fee(window_end - 1), 0, "inside the window: free");
    assert_eq!(fee(window_end), 3_000, "at its end: the tier's fee");
}

#[test]
fn a_fee_tier_applies_from_strictly_less_than_its_minutes_before_use() {
    let policy = CancellationPolicy {
        tiers: vec![FeeTier {
            within_minutes_before_use: 12 * 60,
            fee_bps: 5_000,
        }],
        ..tiered()
    };
    let r = confirmed_under(policy);
    let usage = NOW + 24 * HOUR;
    let tier_starts = usage - 12 * HOUR;
    let fee = |now| {
        cancel(&r, Canceller::Customer, String::new(), None, now)
            .unwrap()
            .0
            .fee_bps
    };
    assert_eq!(
        fee(tier_starts - 60_000_000),
        0,
        "a whole minute before the tier"
    );
    assert_eq!(
        fee(tier_starts),
        0,
        "exactly 12 h before: not yet within 12 h"
    );
    assert_eq!(
        fee(tier_starts + 1),
        5_000,
        "a microsecond later: within 12 h"
    );
}

#[test]
fn a_failed_refund_is_credited_from_the_third_business_day_on() {
    use super::payment::{
        Payment, PaymentCommand, PaymentFact, REFUND_RETRY_BUSINESS_DAYS, RefundOutcome,
        business_days_after,
    };
    use yeyak_proto::reservations::events::v1::{PaymentCaptured, RefundRequested};
    let requested = NOW;
    let facts = vec![
        PaymentFact {
            event_id: "capture".into(),
            event: super::events::PaymentEvent::Captured(PaymentCaptured {
                reservation_id: "r".into(),
                amount_krw: 10_000,
                ..Default::default()
            }),
        },
        PaymentFact {
            event_id: "request".into(),
            event: super::events::PaymentEvent::RefundRequested(RefundRequested {
                reservation_id: "r".into(),
                amount_krw: 10_000,
                reason: "cancel".into(),
                requested_at: Some(from_micros(requested)),
            }),
        },
    ];
    let failed = || PaymentCommand::RecordRefund {
        reservation_id: "r".into(),
        request_id: "request".into(),
        attempt: 1,
        outcome: RefundOutcome::Failed {
            reason: "issuer down".into(),
        },
    };
    let credit_from = business_days_after(requested, REFUND_RETRY_BUSINESS_DAYS);
    let before = given::<Payment>(facts.clone())
        .when(failed(), &(credit_from - 1))
        .decision();
    assert!(matches!(
        before[..],
        [super::events::PaymentEvent::RefundFailed(_)]
    ));
    let at_deadline = given::<Payment>(facts)
        .when(failed(), &credit_from)
        .decision();
    assert!(matches!(
        at_deadline[..],
        [super::events::PaymentEvent::Credited(_)]
    ));
}
