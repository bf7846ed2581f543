use jiff::civil::date;
use yeyak_kit::{command::testing::given, kst::kst};
use yeyak_proto::notifications::events::v1::{TemplateRegistered, TemplateReviewed};

use super::*;
use crate::domain::template::TemplateEvent;

const LEASE: i64 = 30_000_000;

fn kst_us(d: i8, h: i8, m: i8, s: i8) -> i64 {
    kst()
        .to_timestamp(date(2026, 12, d).at(h, m, s, 0))
        .unwrap()
        .as_microsecond()
}

fn queued(due_at: i64, partners: bool) -> MessageQueued {
    MessageQueued {
        message_id: "m".into(),
        template_code: "partner-reservation-requested".into(),
        channels: vec![Channel::Alimtalk as i32, Channel::Sms as i32],
        due_at: Some(from_micros(due_at)),
        idempotency_key: "reservation-requested:r:operator:o".into(),
        night_rule_applies: partners,
        variables: [("예약번호".to_string(), "r".to_string())].into(),
        ..Default::default()
    }
}

fn start(now_us: i64, night_refused: bool) -> DeliveryCommand {
    DeliveryCommand::Start {
        now_us,
        lease_us: LEASE,
        withdrawn: None,
        night_refused,
        night: NightWindow::default(),
    }
}

fn started(attempt: u32, now_us: i64) -> DeliveryEvent {
    MessageAttemptStarted {
        message_id: "m".into(),
        attempt,
        channel: Channel::Alimtalk as i32,
        lease_until: Some(from_micros(now_us + LEASE)),
    }
    .into()
}

fn finish(attempt: u32, outcome: Outcome, now_us: i64, delay: Option<i64>) -> DeliveryCommand {
    DeliveryCommand::Finish {
        attempt,
        outcome,
        now_us,
        retry_delay_us: delay,
    }
}

fn retryable() -> Outcome {
    Outcome::Retryable {
        channel: Channel::Alimtalk,
        reason: "503".into(),
    }
}

fn sent() -> Outcome {
    Outcome::Sent {
        channel: Channel::Alimtalk,
        provider_message_id: "pm-1".into(),
        delivered: false,
    }
}

#[test]
fn a_message_is_queued_once_and_goes_out_at_its_due_time_not_before() {
    let at = kst_us(24, 12, 0, 0);
    given::<Message>([queued(at, true).into()])
        .when(DeliveryCommand::Queue(Box::new(queued(at + 1, true))), &())
        .then_expect(vec![]);
    given::<Message>([queued(at, true).into()])
        .when(start(at - 1, false), &())
        .then_expect(vec![]);
    given::<Message>([queued(at, true).into()])
        .when(start(at, false), &())
        .then_expect(vec![started(1, at)]);
}

#[test]
fn a_partners_message_due_in_the_night_is_held_until_09_00_when_it_refuses_night_delivery() {
    let before = kst_us(24, 20, 59, 59);
    given::<Message>([queued(before, true).into()])
        .when(start(before, true), &())
        .then_expect(vec![started(1, before)]);
    let night = kst_us(24, 21, 0, 0);
    let release = kst_us(25, 9, 0, 0);
    let held = given::<Message>([queued(night, true).into()]).when(start(night, true), &());
    assert_eq!(held.then_state().state, MessageState::Held);
    assert_eq!(held.then_state().next_at_us, release);
    given::<Message>([queued(night, false).into()])
        .when(start(night, true), &())
        .then_expect(vec![started(1, night)]);
    given::<Message>([queued(night, true).into()])
        .when(start(night, false), &())
        .then_expect(vec![started(1, night)]);
}

#[test]
fn held_messages_stay_held_until_09_00_whatever_the_partner_switches_meanwhile() {
    let night = kst_us(24, 23, 0, 0);
    let release = kst_us(25, 9, 0, 0);
    let held: DeliveryEvent = MessageHeld {
        message_id: "m".into(),
        release_at: Some(from_micros(release)),
    }
    .into();
    let history = [queued(night, true).into(), held];
    given::<Message>(history.clone())
        .when(start(release - 1, false), &())
        .then_expect(vec![]);
    given::<Message>(history.clone())
        .when(start(release, true), &())
        .then_expect(vec![started(1, release)]);
    given::<Message>(history)
        .when(start(release, false), &())
        .then_expect(vec![started(1, release)]);
}

#[test]
fn a_message_that_no_longer_holds_is_withdrawn_before_it_goes_out_and_never_after() {
    let at = kst_us(24, 12, 0, 0);
    let withdraw = DeliveryCommand::Start {
        now_us: at,
        lease_us: LEASE,
        withdrawn: Some("the reservation was closed"),
        night_refused: false,
        night: NightWindow::default(),
    };
    let then = given::<Message>([queued(at, true).into()]).when(withdraw.clone(), &());
    assert_eq!(then.then_state().state, MessageState::Withdrawn);
    assert_eq!(then.then_state().reason, "the reservation was closed");
    let out = given::<Message>([queued(at, true).into(), started(1, at)]);
    out.when(withdraw, &()).then_expect(vec![]);
    let sent_already = given::<Message>([
        queued(at, true).into(),
        started(1, at),
        MessageSent {
            message_id: "m".into(),
            attempt: 1,
            ..Default::default()
        }
        .into(),
    ]);
    sent_already
        .when(
            DeliveryCommand::Withdraw {
                reason: "late".into(),
            },
            &(),
        )
        .then_expect(vec![]);
}

#[test]
fn one_sender_holds_an_attempt_until_its_lease_ends_then_another_sends_again_with_the_same_key() {
    let at = kst_us(24, 12, 0, 0);
    let taken = [queued(at, true).into(), started(1, at)];
    given::<Message>(taken.clone())
        .when(start(at + LEASE - 1, false), &())
        .then_expect(vec![]);
    let after_crash = given::<Message>(taken.clone()).when(start(at + LEASE, false), &());
    assert_eq!(after_crash.then_state().attempts, 2);
    assert_eq!(
        after_crash
            .then_state()
            .queued
            .as_ref()
            .unwrap()
            .idempotency_key,
        "reservation-requested:r:operator:o",
        "the resend carries the key the provider dedupes on"
    );
    // The first sender comes back late: its outcome is not recorded.
    given::<Message>([
        queued(at, true).into(),
        started(1, at),
        started(2, at + LEASE),
    ])
    .when(finish(1, sent(), at + LEASE + 1, None), &())
    .then_expect(vec![]);
}

#[test]
fn a_retryable_failure_is_retried_after_its_delay_and_gives_up_when_attempts_are_exhausted() {
    let at = kst_us(24, 12, 0, 0);
    let taken = [queued(at, false).into(), started(1, at)];
    let failed =
        given::<Message>(taken.clone()).when(finish(1, retryable(), at + 5, Some(60_000_000)), &());
    assert_eq!(failed.then_state().state, MessageState::RetryScheduled);
    assert_eq!(failed.then_state().next_at_us, at + 5 + 60_000_000);
    let mut history = taken.to_vec();
    history.extend(failed.decision());
    given::<Message>(history.clone())
        .when(start(at + 5 + 60_000_000 - 1, false), &())
        .then_expect(vec![]);
    given::<Message>(history)
        .when(start(at + 5 + 60_000_000, false), &())
        .then_expect(vec![started(2, at + 5 + 60_000_000)]);
    let exhausted = given::<Message>(taken.clone()).when(finish(1, retryable(), at + 5, None), &());
    assert_eq!(exhausted.then_state().state, MessageState::GaveUp);
    assert_eq!(exhausted.then_state().reason, "attempts exhausted: 503");
    let permanent = given::<Message>(taken).when(
        finish(
            1,
            Outcome::Permanent {
                reason: "400".into(),
            },
            at + 5,
            Some(1),
        ),
        &(),
    );
    assert_eq!(
        permanent.then_state().state,
        MessageState::GaveUp,
        "a permanent failure is not retried"
    );
}

#[test]
fn operations_retry_only_a_message_that_gave_up_and_it_starts_a_new_round_of_attempts() {
    let at = kst_us(24, 12, 0, 0);
    let gave_up = [
        queued(at, false).into(),
        started(1, at),
        MessageGaveUp {
            message_id: "m".into(),
            attempt: 1,
            reason: "400".into(),
        }
        .into(),
    ];
    let retried =
        given::<Message>(gave_up.clone()).when(DeliveryCommand::Retry { by: "ops".into() }, &());
    assert_eq!(retried.then_state().state, MessageState::Queued);
    assert_eq!(retried.then_state().attempts_in_round, 0);
    assert_eq!(
        retried.then_state().attempts,
        1,
        "the attempts in all are kept"
    );
    given::<Message>([queued(at, false).into()])
        .when(DeliveryCommand::Retry { by: "ops".into() }, &())
        .then_refused(NotificationsError::MessageNotGivenUp);
    given::<Message>([])
        .when(DeliveryCommand::Retry { by: "ops".into() }, &())
        .then_refused(NotificationsError::MessageNotFound);
}

#[test]
fn a_delivery_report_is_recorded_once_and_only_for_a_message_on_its_way() {
    let at = kst_us(24, 12, 0, 0);
    given::<Message>([queued(at, false).into()])
        .when(DeliveryCommand::Delivered, &())
        .then_refused(NotificationsError::MessageNotSent);
    let taken = [queued(at, false).into(), started(1, at)];
    // The provider may report before the sender records the send: the report stands.
    let early = given::<Message>(taken.clone()).when(DeliveryCommand::Delivered, &());
    let mut reported = early.then_state();
    assert_eq!(reported.state, MessageState::Delivered);
    reported.evolve(
        MessageSent {
            message_id: "m".into(),
            attempt: 1,
            ..Default::default()
        }
        .into(),
    );
    assert_eq!(
        reported.state,
        MessageState::Delivered,
        "not undone by the later record"
    );
    let sent_events = given::<Message>(taken.clone()).when(finish(1, sent(), at + 1, None), &());
    assert_eq!(sent_events.then_state().state, MessageState::Sent);
    let mut history = taken.to_vec();
    history.extend(sent_events.decision());
    let delivered = given::<Message>(history.clone()).when(DeliveryCommand::Delivered, &());
    assert_eq!(delivered.then_state().state, MessageState::Delivered);
    history.extend(delivered.decision());
    given::<Message>(history)
        .when(DeliveryCommand::Delivered, &())
        .then_expect(vec![]);
}

#[test]
fn only_an_approved_template_composes_a_message() {
    let message = queued(0, false);
    let mut template = Template::default();
    assert!(
        compose(&message, &template)
            .unwrap_err()
            .reason()
            .starts_with("TEMPLATE_NOT_FOUND")
    );
    template.evolve(TemplateEvent::Registered(TemplateRegistered {
        code: message.template_code.clone(),
        text: "예약번호 #{예약번호}".into(),
        variables: vec!["예약번호".into()],
    }));
    assert!(
        compose(&message, &template)
            .unwrap_err()
            .reason()
            .starts_with("TEMPLATE_NOT_APPROVED")
    );
    template.evolve(TemplateEvent::Reviewed(TemplateReviewed {
        approved: true,
        ..Default::default()
    }));
    assert_eq!(compose(&message, &template), Ok("예약번호 r".to_string()));
    let mut missing = message.clone();
    missing.variables.clear();
    assert!(
        compose(&missing, &template)
            .unwrap_err()
            .reason()
            .starts_with("MISSING_VARIABLE")
    );
    // A new text under review leaves the approved one in force.
    template.evolve(TemplateEvent::Registered(TemplateRegistered {
        code: message.template_code.clone(),
        text: "새 문구 #{예약번호}".into(),
        variables: vec!["예약번호".into()],
    }));
    assert_eq!(compose(&message, &template), Ok("예약번호 r".to_string()));
    let mut never = Template::default();
    never.evolve(TemplateEvent::Registered(TemplateRegistered {
        code: message.template_code.clone(),
        text: "x".into(),
        variables: vec![],
    }));
    assert!(
        matches!(
            compose(&message, &never),
            Err(Uncomposable::NotApprovedYet(_))
        ),
        "waits for its first review"
    );
    never.evolve(TemplateEvent::Reviewed(TemplateReviewed {
        approved: false,
        reason: "광고".into(),
        ..Default::default()
    }));
    assert!(
        matches!(compose(&message, &never), Err(Uncomposable::Never(_))),
        "rejected, never approved"
    );
}

#[test]
fn a_resend_after_a_lost_attempt_is_withdrawn_when_the_message_no_longer_holds() {
    let at = kst_us(24, 10, 0, 0);
    let lost = [queued(at, false).into(), started(1, at)];
    let resend = DeliveryCommand::Start {
        now_us: at + LEASE,
        lease_us: LEASE,
        withdrawn: Some("the reservation was closed"),
        night_refused: false,
        night: NightWindow::default(),
    };
    let then = given::<Message>(lost.clone()).when(resend.clone(), &());
    assert_eq!(then.then_state().state, MessageState::Withdrawn);
    let DeliveryCommand::Start { now_us, .. } = &resend else {
        unreachable!()
    };
    assert_eq!(*now_us, at + LEASE);
    given::<Message>(lost)
        .when(
            DeliveryCommand::Start {
                now_us: at + LEASE - 1,
                lease_us: LEASE,
                withdrawn: Some("the reservation was closed"),
                night_refused: false,
                night: NightWindow::default(),
            },
            &(),
        )
        .then_expect(vec![]);
}
