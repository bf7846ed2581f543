use jiff::civil::date;
use yeyak_kit::kst::kst;
use yeyak_proto::{
    notifications::events::v1::ReservationNoted,
    reservations::events::v1::{
        ReservationBooked, ReservationCancelled, ReservationConfirmed, ReservationRejected,
    },
    time::{from_micros, to_micros},
};

use super::*;
use crate::domain::{
    preferences::Preferences,
    template::{BUILT_IN, placeholders, render},
};

fn kst_us(d: i8, h: i8, m: i8, s: i8) -> i64 {
    kst()
        .to_timestamp(date(2026, 12, d).at(h, m, s, 0))
        .unwrap()
        .as_microsecond()
}

/// A reservation for 24 December 19:00 KST, booked on the 20th at noon.
fn booked(approval: bool) -> ReservationFact {
    ReservationFact::Booked(ReservationBooked {
        reservation_id: "r1".into(),
        customer_id: "customer-1".into(),
        partner_id: "p".into(),
        place_id: "place-a".into(),
        quantity: 2,
        requires_approval: approval,
        starts_at: Some(from_micros(kst_us(24, 19, 0, 0))),
        expires_at: approval.then(|| from_micros(kst_us(21, 12, 0, 0))),
        ..Default::default()
    })
}

fn file_of(fact: &ReservationFact) -> ReservationFile {
    ReservationFile::default().with(fact).unwrap().0
}

fn planned(
    fact: &ReservationFact,
    file: &ReservationFile,
    preferences: &Preferences,
    now_us: i64,
) -> Vec<MessageQueued> {
    plan(
        fact,
        &Context {
            file,
            preferences,
            operators: &["admin".to_string(), "member".to_string()],
            timing: Timing::default(),
            now_us,
            fact_at_us: now_us,
            source_event_id: "e1",
        },
    )
}

fn kinds(messages: &[MessageQueued]) -> Vec<(MessageKind, String)> {
    messages
        .iter()
        .map(|m| {
            (
                MessageKind::try_from(m.kind).unwrap(),
                m.recipient_id.clone(),
            )
        })
        .collect()
}

fn due(m: &MessageQueued) -> i64 {
    to_micros(m.due_at.as_ref().unwrap()).unwrap()
}

#[test]
fn a_request_alerts_every_operator_of_the_place_warns_before_expiry_and_tells_the_customer() {
    let fact = booked(true);
    let now = kst_us(20, 12, 0, 0);
    let out = planned(&fact, &file_of(&fact), &Preferences::default(), now);
    assert_eq!(
        kinds(&out),
        [
            (MessageKind::ReservationRequested, "admin".into()),
            (MessageKind::ReservationRequested, "member".into()),
            (MessageKind::ExpiryWarning, "admin".into()),
            (MessageKind::ExpiryWarning, "member".into()),
            (MessageKind::ReservationBooked, "customer-1".into()),
        ]
    );
    assert!(out[0].mandatory && out[0].night_rule_applies);
    assert_eq!(due(&out[0]), now);
    assert_eq!(
        due(&out[2]),
        kst_us(21, 11, 0, 0),
        "an hour before the expiry"
    );
    assert!(
        !out[4].night_rule_applies,
        "the customer's messages are not the partner's setting"
    );
    assert_eq!(
        out[4].channels,
        [Channel::Alimtalk as i32, Channel::Sms as i32],
        "a customer the first channel refuses gets a text"
    );
}

#[test]
fn the_requested_alert_goes_out_with_the_alerts_switched_off_and_the_new_reservation_alert_does_not()
 {
    let off = Preferences {
        alerts_off: true,
        ..Default::default()
    };
    let now = kst_us(20, 12, 0, 0);
    let requested = booked(true);
    let out = planned(&requested, &file_of(&requested), &off, now);
    assert!(kinds(&out).contains(&(MessageKind::ReservationRequested, "admin".into())));
    let instant = booked(false);
    let out = planned(&instant, &file_of(&instant), &off, now);
    assert_eq!(
        kinds(&out),
        [
            (MessageKind::ReservationBooked, "customer-1".into()),
            (MessageKind::UsageReminder, "customer-1".into()),
        ],
        "the switch silences the partner's alerts, never the customer's messages"
    );
}

#[test]
fn the_reminder_is_due_the_day_before_the_usage_at_10_00_kst_and_only_while_that_is_ahead() {
    let fact = booked(false);
    let file = file_of(&fact);
    let at = |now| {
        planned(&fact, &file, &Preferences::default(), now)
            .into_iter()
            .find(|m| m.kind == MessageKind::UsageReminder as i32)
            .map(|m| due(&m))
    };
    assert_eq!(at(kst_us(23, 9, 59, 59)), Some(kst_us(23, 10, 0, 0)));
    assert_eq!(
        at(kst_us(23, 10, 0, 0)),
        None,
        "booked at the reminder time: no reminder"
    );
    let two_days_at_18 = Timing {
        reminder_days_before: 2,
        reminder_at: (18, 30),
        ..Timing::default()
    };
    assert_eq!(
        two_days_at_18.due_at(Due::Reminder, &file, kst_us(20, 12, 0, 0)),
        Some(kst_us(22, 18, 30, 0))
    );
    let same_day_late = Timing {
        reminder_days_before: 0,
        reminder_at: (20, 0),
        ..Timing::default()
    };
    assert_eq!(
        same_day_late.due_at(Due::Reminder, &file, kst_us(20, 12, 0, 0)),
        None,
        "a reminder after the usage start is none"
    );
}

#[test]
fn the_expiry_warning_is_due_an_hour_before_the_expiry_and_none_when_less_is_left() {
    let fact = booked(true);
    let file = file_of(&fact);
    let timing = Timing::default();
    assert_eq!(
        timing.due_at(Due::BeforeExpiry, &file, kst_us(21, 10, 59, 59)),
        Some(kst_us(21, 11, 0, 0))
    );
    assert_eq!(
        timing.due_at(Due::BeforeExpiry, &file, kst_us(21, 11, 0, 0)),
        None
    );
}

#[test]
fn every_delivery_of_a_fact_plans_the_same_messages_keyed_by_the_business_fact() {
    let fact = booked(true);
    let file = file_of(&fact);
    let confirmed = ReservationFact::Confirmed(ReservationConfirmed {
        reservation_id: "r1".into(),
        partner_id: "p".into(),
        ..Default::default()
    });
    let (after, _) = file.with(&confirmed).unwrap();
    let now = kst_us(20, 13, 0, 0);
    let first = planned(&confirmed, &after, &Preferences::default(), now);
    let again = planned(&confirmed, &after, &Preferences::default(), now);
    assert_eq!(first, again);
    let keys: Vec<_> = first.iter().map(|m| m.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "reservation-confirmed:r1:operator:admin",
            "reservation-confirmed:r1:operator:member",
            "reservation-confirmed:r1:customer",
            "usage-reminder:r1:customer",
        ]
    );
    assert_eq!(
        first[2].message_id,
        message_id("reservation-confirmed:r1:customer")
    );
    let mut ids: Vec<_> = first.iter().map(|m| &m.message_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), first.len(), "one message per recipient");
}

#[test]
fn a_reminder_no_longer_holds_once_the_reservation_closes_a_warning_once_it_is_answered_and_a_held_alert_once_it_is_called_off()
 {
    let fact = booked(true);
    let file = file_of(&fact);
    let out = planned(&fact, &file, &Preferences::default(), kst_us(20, 12, 0, 0));
    let warning = out
        .iter()
        .find(|m| m.kind == MessageKind::ExpiryWarning as i32)
        .unwrap();
    let requested = &out[0];
    assert_eq!(no_longer_holds(warning, false, &file), None);
    let (answered, _) = file
        .with(&ReservationFact::Confirmed(ReservationConfirmed::default()))
        .unwrap();
    assert_eq!(
        no_longer_holds(warning, false, &answered),
        Some("the request was answered")
    );
    assert_eq!(
        no_longer_holds(requested, true, &answered),
        None,
        "answered, not closed"
    );
    let (cancelled, _) = answered
        .with(&ReservationFact::Cancelled(ReservationCancelled::default()))
        .unwrap();
    assert_eq!(
        no_longer_holds(requested, true, &cancelled),
        Some("the reservation was called off while the message was held")
    );
    assert_eq!(
        no_longer_holds(requested, false, &cancelled),
        None,
        "an alert not held goes out: the partner hears of the request, then of its cancel"
    );
    let (completed, _) = answered
        .with(&ReservationFact::Completed(Default::default()))
        .unwrap();
    assert_eq!(
        no_longer_holds(requested, true, &completed),
        None,
        "used, not called off"
    );
    assert_eq!(
        no_longer_holds(warning, false, &completed),
        Some("the reservation was closed")
    );
    let cancel_alert = planned(
        &ReservationFact::Cancelled(ReservationCancelled::default()),
        &cancelled,
        &Preferences::default(),
        kst_us(20, 14, 0, 0),
    );
    assert!(
        cancel_alert
            .iter()
            .all(|m| no_longer_holds(m, true, &cancelled).is_none()),
        "the news of a cancel always holds"
    );
}

#[test]
fn a_rejection_tells_the_customer_its_reason_and_the_partner_nothing() {
    let fact = booked(true);
    let rejected = ReservationFact::Rejected(ReservationRejected {
        reservation_id: "r1".into(),
        reason: "만석입니다".into(),
        refunded_krw: 30_000,
        ..Default::default()
    });
    let (file, _) = file_of(&fact).with(&rejected).unwrap();
    let out = planned(
        &rejected,
        &file,
        &Preferences::default(),
        kst_us(20, 13, 0, 0),
    );
    assert_eq!(
        kinds(&out),
        [(MessageKind::ReservationRejected, "customer-1".into())]
    );
    assert_eq!(out[0].variables["거절사유"], "만석입니다");
    assert_eq!(out[0].variables["환불금액"], "30,000원");
}

#[test]
fn a_fact_about_a_reservation_never_noted_plans_nothing() {
    let confirmed = ReservationFact::Confirmed(ReservationConfirmed::default());
    assert!(
        planned(
            &confirmed,
            &ReservationFile::default(),
            &Preferences::default(),
            0
        )
        .is_empty()
    );
}

#[test]
fn every_template_the_table_names_is_built_in_and_renders_with_its_facts_variables() {
    let noted = ReservationFile {
        noted: Some(ReservationNoted {
            reservation_id: "r1".into(),
            starts_at: Some(from_micros(kst_us(24, 19, 0, 0))),
            expires_at: Some(from_micros(kst_us(21, 12, 0, 0))),
            ..Default::default()
        }),
        quantity: 2,
        ..Default::default()
    };
    let facts = [
        booked(true),
        booked(false),
        ReservationFact::Confirmed(Default::default()),
        ReservationFact::Rejected(Default::default()),
        ReservationFact::Cancelled(Default::default()),
        ReservationFact::LinesCancelled(Default::default()),
        ReservationFact::Expired(Default::default()),
        ReservationFact::Completed(Default::default()),
        ReservationFact::PaymentCancelled(Default::default()),
    ];
    for rule in RULES {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(code, _)| *code == rule.template)
            .unwrap_or_else(|| panic!("{} is not built in", rule.template));
        placeholders(text).unwrap();
        let fact = facts.iter().find(|f| f.kind() == rule.fact).unwrap();
        let rendered = render(text, &fact.variables(&noted))
            .unwrap_or_else(|e| panic!("{}: {e}", rule.template));
        assert!(rendered.contains("r1"), "{}", rule.template);
    }
}

#[test]
fn the_alerts_switch_covers_exactly_the_confirmation_and_cancellation_alerts() {
    let switched: Vec<_> = RULES
        .iter()
        .filter(|r| r.switch == Switch::ConfirmCancelAlerts)
        .map(|r| r.kind)
        .collect();
    for kind in [
        MessageKind::NewReservation,
        MessageKind::ReservationConfirmed,
        MessageKind::ReservationCancelled,
        MessageKind::ReservationExpired,
        MessageKind::PaymentCancelled,
    ] {
        assert!(switched.contains(&kind), "{kind:?}");
    }
    assert!(is_mandatory(MessageKind::ReservationRequested));
    assert!(!silenced_by_alerts_switch(
        MessageKind::ReservationRequested
    ));
    assert!(
        RULES
            .iter()
            .filter(|r| r.audience == Audience::Customer)
            .all(|r| r.switch == Switch::None),
        "no partner switch silences a customer"
    );
}

proptest::proptest! {
    #[test]
    fn any_booking_plans_distinct_messages_each_due_no_earlier_than_it_is_learned(
        approval in proptest::bool::ANY,
        quantity in 0u32..60,
        starts_in_h in -48i64..24 * 200,
        expires_in_h in -48i64..72,
        now_h in 0i64..24 * 30,
        operators in proptest::collection::vec("[a-z0-9-]{1,12}", 0..4),
    ) {
        let now = kst_us(1, 0, 0, 0) + now_h * 3_600_000_000;
        let fact = ReservationFact::Booked(ReservationBooked {
            reservation_id: "r".into(),
            customer_id: "c".into(),
            partner_id: "p".into(),
            quantity,
            requires_approval: approval,
            starts_at: Some(from_micros(now + starts_in_h * 3_600_000_000)),
            expires_at: approval.then(|| from_micros(now + expires_in_h * 3_600_000_000)),
            ..Default::default()
        });
        let file = file_of(&fact);
        let mut operators = operators;
        operators.sort();
        operators.dedup();
        let out = plan(&fact, &Context {
            file: &file,
            preferences: &Preferences::default(),
            operators: &operators,
            timing: Timing::default(),
            now_us: now,
            fact_at_us: now,
            source_event_id: "e",
        });
        let mut ids: Vec<_> = out.iter().map(|m| m.message_id.clone()).collect();
        ids.sort();
        ids.dedup();
        proptest::prop_assert_eq!(ids.len(), out.len());
        for m in &out {
            proptest::prop_assert!(due(m) >= now);
        }
    }
}

#[test]
fn a_fact_learned_more_than_a_day_after_it_happened_makes_no_message_due_at_once() {
    let fact = booked(false);
    let file = file_of(&fact);
    let plan_at = |fact_at_us: i64, now_us: i64| {
        plan(
            &fact,
            &Context {
                file: &file,
                preferences: &Preferences::default(),
                operators: &["admin".to_string()],
                timing: Timing::default(),
                now_us,
                fact_at_us,
                source_event_id: "e",
            },
        )
    };
    let happened = kst_us(20, 12, 0, 0);
    let day = 24 * 3_600_000_000;
    assert_eq!(
        plan_at(happened, happened + day).len(),
        3,
        "a day late is still news"
    );
    let late = plan_at(happened, happened + day + 1);
    assert_eq!(
        kinds(&late),
        [(MessageKind::UsageReminder, "customer-1".into())],
        "only what is still ahead"
    );
}
