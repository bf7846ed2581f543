//! Messages planned from reservation facts and delivered to a real HTTP provider on loopback
//! (the provider double), on a controlled clock: each once, at its time, held for the night,
//! withdrawn when it no longer holds, retried after a retryable failure, resent harmlessly
//! after a crash between the send and its record.
mod support;

use std::{sync::Arc, time::Duration};

use jiff::civil::date;
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, Position, RecordedEvent};
use yeyak_kit::{
    access::{OperatorDirectory, OperatorRole},
    clock::{Clock, ControlledClock},
    command::{Origin, Runner, aggregate},
    events::Cause,
    kst::kst,
};
use yeyak_notifications::{
    api::NotificationsApi,
    app::{
        Notifications,
        channels::{HttpSender, ProviderConfig, RetryPolicy, SmsSender},
        inquiries::ChannelLearner,
        listing::MessageIndex,
        planning::{MessagePlanner, PlanMessages},
        sending::{Channels, DeliverySettings, Sender, StartAttempt},
        streams, templates,
    },
    domain::{
        delivery::{Message, MessageState},
        rules::Timing,
    },
    testing::ProviderDouble,
};
use yeyak_proto::{
    notifications::{
        events::v1::{MessageKind, PartnerPreferencesChanged},
        v1::{self as pb, notifications_service_server::NotificationsService},
    },
    reservations::events::v1::{ReservationBooked, ReservationCancelled},
    time::from_micros,
};
use yeyak_transport::EventHandler;

use support::{PARTNER, PLACE_A, PLACE_B, recorded};

fn kst_us(d: i8, h: i8, m: i8, s: i8) -> i64 {
    kst()
        .to_timestamp(date(2026, 12, d).at(h, m, s, 0))
        .unwrap()
        .as_microsecond()
}

const LEASE: Duration = Duration::from_secs(60);

/// The notifications' planning and sending over one log, a provider and a controlled clock.
struct Desk {
    api: NotificationsApi,
    log: Arc<dyn EventStore>,
    clock: Arc<ControlledClock>,
    runner: Runner,
    planner: MessagePlanner,
    due: MessageIndex,
    sender: Sender,
    provider: ProviderDouble,
    seen: std::sync::Mutex<Position>,
}

impl Desk {
    async fn at(now_us: i64) -> Self {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("notifications-delivery");
        let log = yeyak_eventlog::connect(&url).await.expect("log");
        let clock = ControlledClock::at(now_us);
        let runner = Runner::new(log.clone(), clock.clone(), yeyak_notifications::SOURCE);
        let provider = ProviderDouble::start().await;
        let config = ProviderConfig::new(provider.base_url()).with_timeout(Duration::from_secs(5));
        let channels = Channels {
            alimtalk: Arc::new(HttpSender::new(config.clone()).unwrap()),
            sms: Some(Arc::new(SmsSender::new(config).unwrap())),
        };
        let settings = DeliverySettings {
            lease: LEASE,
            retry: RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            },
            ..DeliverySettings::default()
        };
        templates::register_built_in(&runner, true)
            .await
            .expect("templates");
        let desk = Self {
            api: NotificationsApi::new(Notifications::new(log.clone(), clock.clone())),
            planner: MessagePlanner::new(runner.clone(), Timing::default()),
            due: MessageIndex::new(runner.clone()),
            sender: Sender::new(runner.clone(), channels, settings),
            log,
            clock,
            runner,
            provider,
            seen: std::sync::Mutex::new(Position::default()),
        };
        let directory = OperatorDirectory::new(desk.runner.clone(), yeyak_notifications::SOURCE);
        for e in [
            support::operator_invited(PARTNER, "owner", OperatorRole::Admin, None),
            support::operator_accepted(PARTNER, "owner"),
            support::operator_invited(PARTNER, "member-b", OperatorRole::Member, Some(&[PLACE_B])),
            support::operator_accepted(PARTNER, "member-b"),
        ] {
            directory.handle(&e).await.expect("learns");
        }
        desk
    }

    /// A catalog fact delivered to the channel learner.
    async fn learn_catalog(&self, event: &RecordedEvent) {
        ChannelLearner::new(self.runner.clone())
            .handle(event)
            .await
            .expect("learned");
    }

    /// A reservations' fact delivered to the planner, and the due index brought up to date.
    async fn learn(&self, event: &RecordedEvent) {
        self.planner.handle(event).await.expect("planned");
        self.index().await;
    }

    /// The due index catches up on this service's log.
    async fn index(&self) {
        loop {
            let after = *self.seen.lock().unwrap();
            let events = self.log.read_all(after, 500).await.expect("reads");
            let Some(last) = events.last() else { return };
            *self.seen.lock().unwrap() = last.position;
            for e in &events {
                self.due.handle(e).await.expect("indexed");
            }
        }
    }

    /// The sender looks once, and the index catches up on what it recorded.
    async fn send_due(&self) -> usize {
        let sent = self.sender.tick().await.expect("tick");
        self.index().await;
        sent
    }

    async fn message(&self, id: &str) -> Message {
        aggregate::<Message>(&*self.log, &streams::message(id))
            .await
            .expect("message")
            .0
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<_> = self
            .provider
            .accepted()
            .into_iter()
            .map(|r| r.idempotency_key)
            .collect();
        keys.sort();
        keys
    }
}

/// A reservation on 24 December 19:00 KST of `PARTNER` at `PLACE_A`, awaiting approval until
/// `expires_at` when `approval`.
fn booked(approval: bool, expires_at: i64) -> (RecordedEvent, String) {
    let id = Uuid::new_v4().to_string();
    let booked = ReservationBooked {
        reservation_id: id.clone(),
        customer_id: "customer-1".into(),
        partner_id: PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        quantity: 2,
        requires_approval: approval,
        starts_at: Some(from_micros(kst_us(24, 19, 0, 0))),
        expires_at: approval.then(|| from_micros(expires_at)),
        ..Default::default()
    };
    (recorded(&format!("reservation-{id}"), &booked), id)
}

/// The partner refused night delivery at 21:00 KST on the 20th.
async fn refuse_night(desk: &Desk) {
    let refuse = PartnerPreferencesChanged {
        partner_id: PARTNER.to_string(),
        night_delivery_refused: true,
        ..Default::default()
    };
    let cause = Cause::command(
        "operator:owner".into(),
        Uuid::new_v4(),
        kst_us(20, 21, 0, 0),
    );
    desk.log
        .append(AppendRequest::single(
            streams::preferences(PARTNER),
            ExpectedVersion::Any,
            vec![yeyak_kit::events::encode(Uuid::new_v4(), &refuse, &cause)],
        ))
        .await
        .expect("refused");
}

fn cancelled(reservation_id: &str) -> RecordedEvent {
    let cancelled = ReservationCancelled {
        reservation_id: reservation_id.into(),
        partner_id: PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        fee_krw: 3_000,
        refunded_krw: 27_000,
        cancelled_by: "customer".into(),
        ..Default::default()
    };
    recorded(&format!("reservation-{reservation_id}"), &cancelled)
}

#[tokio::test]
async fn a_request_sends_the_partners_alert_and_the_customers_message_once_however_often_it_is_delivered()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (event, id) = booked(true, kst_us(21, 12, 0, 0));
    desk.learn(&event).await;
    desk.learn(&event).await;
    let (a, b) = tokio::join!(desk.sender.tick(), desk.sender.tick());
    assert_eq!(a.unwrap() + b.unwrap(), 2, "two senders, each message once");
    desk.index().await;
    assert_eq!(desk.send_due().await, 0, "nothing is due twice");
    assert_eq!(
        desk.keys(),
        [
            format!("reservation-requested:{id}:customer"),
            format!("reservation-requested:{id}:operator:owner"),
        ]
    );
    assert_eq!(desk.provider.requests(), 2, "no second request either");
    let to_partner = desk
        .provider
        .accepted()
        .into_iter()
        .find(|r| r.recipient == "owner")
        .unwrap();
    assert!(
        to_partner.text.contains("예약신청(2명)"),
        "{}",
        to_partner.text
    );
    assert!(
        to_partner.text.contains("2026-12-21 12:00 KST"),
        "{}",
        to_partner.text
    );
}

#[tokio::test]
async fn a_crash_between_the_send_and_its_record_resends_with_the_same_key_and_has_one_effect() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    let key = format!("reservation-booked:{id}:customer");
    let message_id = yeyak_notifications::domain::rules::message_id(&key);
    // A sender takes the attempt and sends, then dies before it records the outcome.
    let start = StartAttempt {
        message_id: message_id.clone(),
        settings: DeliverySettings {
            lease: LEASE,
            ..DeliverySettings::default()
        },
    };
    let attempt = desk
        .runner
        .run(&Origin::command("test", Uuid::new_v4(), &[]), &start)
        .await
        .expect("taken")
        .decided()
        .flatten()
        .expect("an attempt");
    desk.sender.send(&attempt).await;
    desk.index().await;
    // Until its lease ends, nobody else sends it (the partner's alert goes meanwhile), even a
    // sender that asks for it by name.
    desk.send_due().await;
    assert_eq!(desk.sender.attempt(&message_id).await.expect("asked"), None);
    assert_eq!(desk.message(&message_id).await.state, MessageState::Sending);
    let requests_for = |desk: &Desk| {
        desk.provider
            .raw_requests()
            .iter()
            .filter(|r| r.header("idempotency-key") == Some(key.as_str()))
            .count()
    };
    assert_eq!(requests_for(&desk), 1);
    desk.clock.advance(LEASE.as_micros() as i64);
    desk.send_due().await;
    assert_eq!(requests_for(&desk), 2, "sent again when the lease ended");
    let accepted: Vec<_> = desk
        .provider
        .accepted()
        .into_iter()
        .filter(|r| r.idempotency_key == key)
        .collect();
    assert_eq!(accepted.len(), 1, "the provider did it once");
    let message = desk.message(&message_id).await;
    assert_eq!(message.state, MessageState::Sent);
    assert_eq!(message.attempts, 2);
    assert_eq!(message.provider_message_id, accepted[0].message_id);
}

#[tokio::test]
async fn a_partner_refusing_night_delivery_gets_its_night_alerts_at_09_00_and_the_customer_at_once()
{
    let desk = Desk::at(kst_us(20, 22, 0, 0)).await;
    refuse_night(&desk).await;
    let (event, id) = booked(true, kst_us(21, 22, 0, 0));
    desk.learn(&event).await;
    assert_eq!(desk.send_due().await, 1);
    assert_eq!(
        desk.keys(),
        [format!("reservation-requested:{id}:customer")]
    );
    desk.clock.set(kst_us(21, 8, 59, 59));
    assert_eq!(desk.send_due().await, 0, "held until 09:00");
    desk.clock.set(kst_us(21, 9, 0, 0));
    assert_eq!(desk.send_due().await, 1);
    assert!(
        desk.keys()
            .contains(&format!("reservation-requested:{id}:operator:owner"))
    );
}

#[tokio::test]
async fn a_held_alert_about_a_reservation_cancelled_in_the_night_is_withdrawn_and_the_cancel_goes_out_at_09_00()
 {
    let desk = Desk::at(kst_us(20, 22, 0, 0)).await;
    refuse_night(&desk).await;
    let (event, id) = booked(true, kst_us(21, 22, 0, 0));
    desk.learn(&event).await;
    desk.send_due().await;
    desk.clock.set(kst_us(20, 23, 0, 0));
    desk.learn(&cancelled(&id)).await;
    desk.send_due().await;
    desk.clock.set(kst_us(21, 9, 0, 0));
    desk.send_due().await;
    let keys = desk.keys();
    assert!(keys.contains(&format!("reservation-cancelled:{id}:operator:owner")));
    assert!(!keys.contains(&format!("reservation-requested:{id}:operator:owner")));
    let held = yeyak_notifications::domain::rules::message_id(&format!(
        "reservation-requested:{id}:operator:owner"
    ));
    assert_eq!(desk.message(&held).await.state, MessageState::Withdrawn);
}

#[tokio::test]
async fn a_reminder_goes_out_the_day_before_at_10_00_and_one_about_a_cancelled_reservation_is_withdrawn()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (kept, kept_id) = booked(false, 0);
    let (dropped, dropped_id) = booked(false, 0);
    desk.learn(&kept).await;
    desk.learn(&dropped).await;
    desk.send_due().await;
    desk.learn(&cancelled(&dropped_id)).await;
    desk.send_due().await;
    let reminders = |desk: &Desk| {
        desk.keys()
            .into_iter()
            .filter(|k| k.starts_with("usage-reminder"))
            .collect::<Vec<_>>()
    };
    desk.clock.set(kst_us(23, 9, 59, 59));
    desk.send_due().await;
    assert!(
        reminders(&desk).is_empty(),
        "not before 10:00 the day before"
    );
    desk.clock.set(kst_us(23, 10, 0, 0));
    desk.send_due().await;
    assert_eq!(
        reminders(&desk),
        [format!("usage-reminder:{kept_id}:customer")]
    );
    let withdrawn = yeyak_notifications::domain::rules::message_id(&format!(
        "usage-reminder:{dropped_id}:customer"
    ));
    let message = desk.message(&withdrawn).await;
    assert_eq!(message.state, MessageState::Withdrawn);
    assert_eq!(message.reason, "the reservation was closed");
}

#[tokio::test]
async fn a_retryable_failure_is_retried_after_its_back_off_and_gives_up_after_the_last_attempt() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    desk.provider.fail_next(2, 503);
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    desk.send_due().await;
    let key = format!("reservation-booked:{id}:customer");
    let message_id = yeyak_notifications::domain::rules::message_id(&key);
    let failed = desk.message(&message_id).await;
    assert_eq!(failed.state, MessageState::RetryScheduled);
    let wait = failed.next_at_us - desk.clock.now_us();
    assert!(
        (30_000_000..=60_000_000).contains(&wait),
        "the first back-off is 30–60 s: {wait} µs"
    );
    desk.clock.set(failed.next_at_us - 1);
    desk.send_due().await;
    assert_eq!(
        desk.message(&message_id).await.attempts,
        1,
        "not before its time"
    );
    desk.clock.set(failed.next_at_us);
    desk.send_due().await;
    let retried = desk.message(&message_id).await;
    assert!(retried.attempts >= 2);
    // Every later failure until the last of 3 attempts: then it gives up.
    desk.provider.fail_next(10, 503);
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    let message_id = yeyak_notifications::domain::rules::message_id(&format!(
        "reservation-booked:{id}:customer"
    ));
    for _ in 0..3 {
        desk.send_due().await;
        let m = desk.message(&message_id).await;
        if m.state == MessageState::GaveUp {
            break;
        }
        desk.clock.set(m.next_at_us);
    }
    let gave_up = desk.message(&message_id).await;
    assert_eq!(gave_up.state, MessageState::GaveUp);
    assert_eq!(gave_up.attempts, 3);
    assert!(
        gave_up.reason.starts_with("attempts exhausted"),
        "{}",
        gave_up.reason
    );
}

fn customer(subject: &str) -> yeyak_kit::auth::Caller {
    yeyak_kit::auth::Caller {
        subject: subject.into(),
        role: yeyak_kit::auth::Role::Customer,
        partner_id: None,
        places: yeyak_kit::auth::PlaceScope::All,
    }
}

#[tokio::test]
async fn partners_and_customers_list_their_notifications_with_their_delivery_state_and_nobody_elses()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (event, id) = booked(true, kst_us(21, 12, 0, 0));
    desk.learn(&event).await;
    desk.send_due().await;
    let owner = support::operator("owner", PARTNER);
    let listed = desk
        .api
        .list_partner_notifications(support::request(
            &owner,
            pb::ListPartnerNotificationsRequest {
                partner_id: PARTNER.to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    let mut states: Vec<_> = listed
        .notifications
        .iter()
        .map(|n| (n.kind(), n.state(), n.recipient_id.as_str()))
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            (
                MessageKind::ReservationRequested,
                pb::DeliveryState::Sent,
                "owner"
            ),
            (
                MessageKind::ExpiryWarning,
                pb::DeliveryState::Queued,
                "owner"
            ),
        ],
        "the alert went out; the warning waits for its time"
    );
    assert!(listed.notifications.iter().all(|n| n.reservation_id == id));
    let member_b = support::operator_of_places("member-b", PARTNER, &[PLACE_B]);
    let theirs = desk
        .api
        .list_partner_notifications(support::request(
            &member_b,
            pb::ListPartnerNotificationsRequest {
                partner_id: PARTNER.to_string(),
                place_id: PLACE_B.to_string(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(theirs.notifications.is_empty(), "another place's");
    support::refused(
        desk.api
            .list_partner_notifications(support::request(
                &member_b,
                pb::ListPartnerNotificationsRequest {
                    partner_id: PARTNER.to_string(),
                    place_id: PLACE_A.to_string(),
                    ..Default::default()
                },
            ))
            .await,
        tonic::Code::PermissionDenied,
        "PLACE_NOT_GRANTED",
    );
    let mine = desk
        .api
        .list_my_notifications(support::request(
            &customer("customer-1"),
            pb::ListMyNotificationsRequest::default(),
        ))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(mine.notifications.len(), 1);
    let message_id = mine.notifications[0].message_id.clone();
    assert!(mine.notifications[0].variables["이용일시"].contains("2026-12-24 19:00"));
    let others = desk
        .api
        .list_my_notifications(support::request(
            &customer("customer-2"),
            pb::ListMyNotificationsRequest::default(),
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(others.notifications.is_empty());
    support::refused(
        desk.api
            .get_notification(support::request(
                &customer("customer-2"),
                pb::GetNotificationRequest { message_id },
            ))
            .await,
        tonic::Code::NotFound,
        "MESSAGE_NOT_FOUND",
    );
}

#[tokio::test]
async fn switching_off_the_requested_alert_is_refused_and_the_preferences_of_any_instant_can_be_read()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let owner = support::operator("owner", PARTNER);
    let set = |requested: Option<bool>, alerts: Option<bool>, night: Option<bool>| {
        support::request(
            &owner,
            pb::SetPartnerPreferencesRequest {
                request_id: Uuid::new_v4().to_string(),
                partner_id: PARTNER.to_string(),
                requested_alerts: requested,
                confirm_cancel_alerts: alerts,
                night_delivery_allowed: night,
                ..Default::default()
            },
        )
    };
    let before = desk
        .log
        .read_all(Position::default(), 10_000)
        .await
        .unwrap()
        .len();
    support::refused(
        desk.api
            .set_partner_preferences(set(Some(false), Some(false), None))
            .await,
        tonic::Code::FailedPrecondition,
        "MANDATORY_MESSAGE",
    );
    assert_eq!(
        desk.log
            .read_all(Position::default(), 10_000)
            .await
            .unwrap()
            .len(),
        before,
        "a refused change appends nothing"
    );
    let changed_at = desk.clock.now_us();
    let after = desk
        .api
        .set_partner_preferences(set(None, Some(false), Some(false)))
        .await
        .expect("set")
        .into_inner();
    assert!(
        after.requested_alerts && !after.confirm_cancel_alerts && !after.night_delivery_allowed
    );
    let at = |us: i64| {
        support::request(
            &owner,
            pb::GetPartnerPreferencesRequest {
                partner_id: PARTNER.to_string(),
                as_of: Some(from_micros(us)),
            },
        )
    };
    let then = desk
        .api
        .get_partner_preferences(at(changed_at - 1))
        .await
        .unwrap()
        .into_inner();
    assert!(
        then.confirm_cancel_alerts && then.night_delivery_allowed,
        "before the change"
    );
    let now = desk
        .api
        .get_partner_preferences(at(changed_at))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !now.confirm_cancel_alerts && !now.night_delivery_allowed,
        "from the moment it is made"
    );
}

#[tokio::test]
async fn operations_list_the_messages_that_gave_up_and_retry_them() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    desk.provider.fail_next(1, 400);
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    desk.send_due().await;
    let ops = support::ops();
    let dead = desk
        .api
        .list_gave_up_notifications(support::request(
            &ops,
            pb::ListGaveUpNotificationsRequest::default(),
        ))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(
        dead.notifications.len(),
        1,
        "a bad request is not retried: it gives up"
    );
    let message = &dead.notifications[0];
    assert!(
        message
            .idempotency_key
            .starts_with(&format!("reservation-booked:{id}:")),
        "{}",
        message.idempotency_key
    );
    assert_eq!(message.state(), pb::DeliveryState::GaveUp);
    let retried = desk
        .api
        .retry_notification(support::request(
            &ops,
            pb::RetryNotificationRequest {
                request_id: Uuid::new_v4().to_string(),
                message_id: message.message_id.clone(),
            },
        ))
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(retried.state(), pb::DeliveryState::Queued);
    desk.index().await;
    desk.send_due().await;
    assert!(desk.keys().contains(&message.idempotency_key));
    support::refused(
        desk.api
            .retry_notification(support::request(
                &ops,
                pb::RetryNotificationRequest {
                    request_id: Uuid::new_v4().to_string(),
                    message_id: message.message_id.clone(),
                },
            ))
            .await,
        tonic::Code::FailedPrecondition,
        "MESSAGE_NOT_GIVEN_UP",
    );
}

fn channel(one_to_one_chat: bool, chatbot_with_chat: bool) -> RecordedEvent {
    recorded(
        &format!("partner-{PARTNER}"),
        &yeyak_proto::catalog::events::v1::ChannelSettingsRecorded {
            partner_id: PARTNER.to_string(),
            one_to_one_chat,
            chatbot_with_chat,
        },
    )
}

#[tokio::test]
async fn an_inquiry_opens_only_on_a_channel_with_one_to_one_chat_and_no_chatbot_with_it() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    desk.learn_catalog(&recorded(
        &format!("partner-{PARTNER}"),
        &yeyak_proto::catalog::events::v1::PartnerRegistered {
            partner_id: PARTNER.to_string(),
            channel_id: "_seoultable".into(),
            ..Default::default()
        },
    ))
    .await;
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    let open = |who: &str, reservation: &str| {
        support::request(
            &customer(who),
            pb::OpenInquiryRequest {
                request_id: Uuid::new_v4().to_string(),
                reservation_id: reservation.to_string(),
                ..Default::default()
            },
        )
    };
    support::refused(
        desk.api.open_inquiry(open("customer-1", &id)).await,
        tonic::Code::FailedPrecondition,
        "ONE_TO_ONE_CHAT_OFF",
    );
    desk.learn_catalog(&channel(true, true)).await;
    support::refused(
        desk.api.open_inquiry(open("customer-1", &id)).await,
        tonic::Code::FailedPrecondition,
        "CHATBOT_WITH_CHAT",
    );
    desk.learn_catalog(&channel(true, false)).await;
    let inquiry = desk
        .api
        .open_inquiry(open("customer-1", &id))
        .await
        .expect("opened")
        .into_inner();
    assert_eq!(
        inquiry.channel_id, "_seoultable",
        "the channel registered with the partner"
    );
    assert_eq!(inquiry.reservation_id, id);
    support::refused(
        desk.api.open_inquiry(open("customer-2", &id)).await,
        tonic::Code::NotFound,
        "RESERVATION_NOT_FOUND",
    );
}

#[tokio::test]
async fn a_consult_request_sends_the_customer_its_message_and_opens_only_when_that_customer_accepts()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    desk.learn_catalog(&channel(true, false)).await;
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    let member_b = support::operator_of_places("member-b", PARTNER, &[PLACE_B]);
    let ask = |who: &yeyak_kit::auth::Caller, topic: &str| {
        support::request(
            who,
            pb::RequestConsultRequest {
                request_id: Uuid::new_v4().to_string(),
                reservation_id: id.clone(),
                topic: topic.into(),
            },
        )
    };
    support::refused(
        desk.api.request_consult(ask(&member_b, "usage")).await,
        tonic::Code::PermissionDenied,
        "PLACE_NOT_GRANTED",
    );
    let owner = support::operator("owner", PARTNER);
    support::refused(
        desk.api.request_consult(ask(&owner, "weather")).await,
        tonic::Code::InvalidArgument,
        "UNKNOWN_CONSULT_TOPIC",
    );
    let consult = desk
        .api
        .request_consult(ask(&owner, "cancellation"))
        .await
        .expect("asked")
        .into_inner();
    desk.index().await;
    desk.send_due().await;
    let to_customer = desk
        .provider
        .accepted()
        .into_iter()
        .find(|r| r.idempotency_key == format!("consult-request:{}:customer", consult.consult_id))
        .expect("the consult-request message");
    assert_eq!(to_customer.recipient, "customer-1");
    assert!(to_customer.text.contains("상담"), "{}", to_customer.text);
    let accept = |who: &str| {
        support::request(
            &customer(who),
            pb::AcceptConsultRequest {
                request_id: Uuid::new_v4().to_string(),
                consult_id: consult.consult_id.clone(),
            },
        )
    };
    support::refused(
        desk.api.accept_consult(accept("customer-2")).await,
        tonic::Code::PermissionDenied,
        "NOT_THE_CUSTOMER",
    );
    let accepted = desk
        .api
        .accept_consult(accept("customer-1"))
        .await
        .expect("accepted")
        .into_inner();
    assert!(accepted.accepted);
}

#[tokio::test]
async fn operations_register_and_review_templates_the_approved_text_staying_in_force_and_a_delivery_report_marks_a_message_delivered()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let ops = support::ops();
    let registered = desk
        .api
        .register_template(support::request(
            &ops,
            pb::RegisterTemplateRequest {
                request_id: Uuid::new_v4().to_string(),
                code: "customer-usage-reminder".into(),
                text: "내일 #{이용일시} 예약이 있습니다. 예약번호 #{예약번호}".into(),
            },
        ))
        .await
        .expect("registered")
        .into_inner();
    assert_eq!(
        registered.state(),
        yeyak_proto::notifications::events::v1::TemplateState::PendingReview
    );
    assert_eq!(registered.variables, ["이용일시", "예약번호"]);
    support::refused(
        desk.api
            .register_template(support::request(
                &ops,
                pb::RegisterTemplateRequest {
                    request_id: Uuid::new_v4().to_string(),
                    code: "Bad Code".into(),
                    text: "x".into(),
                },
            ))
            .await,
        tonic::Code::InvalidArgument,
        "BAD_TEMPLATE_CODE",
    );
    // While the new text waits for review, the approved one stays in force.
    let (event, id) = booked(false, 0);
    desk.learn(&event).await;
    desk.clock.set(kst_us(23, 10, 0, 0));
    desk.send_due().await;
    let reminder = desk
        .provider
        .accepted()
        .into_iter()
        .find(|r| r.idempotency_key == format!("usage-reminder:{id}:customer"))
        .expect("the reminder went out");
    assert!(reminder.text.contains("잊지 마세요"), "{}", reminder.text);
    desk.api
        .review_template(support::request(
            &ops,
            pb::ReviewTemplateRequest {
                request_id: Uuid::new_v4().to_string(),
                code: "customer-usage-reminder".into(),
                approved: true,
                reason: String::new(),
            },
        ))
        .await
        .expect("approved");
    // The booking's confirmation went out; the provider reports it delivered.
    let booked_id = yeyak_notifications::domain::rules::message_id(&format!(
        "reservation-booked:{id}:customer"
    ));
    let internal = yeyak_kit::auth::Caller {
        subject: "gateway".into(),
        role: yeyak_kit::auth::Role::InternalService,
        partner_id: None,
        places: yeyak_kit::auth::PlaceScope::All,
    };
    let delivered = desk
        .api
        .report_delivery(support::request(
            &internal,
            pb::ReportDeliveryRequest {
                request_id: Uuid::new_v4().to_string(),
                message_id: booked_id,
            },
        ))
        .await
        .expect("reported")
        .into_inner();
    assert_eq!(delivered.state(), pb::DeliveryState::Delivered);
}

#[tokio::test]
async fn the_partner_is_warned_an_hour_before_an_unanswered_request_expires_and_not_once_it_is_answered()
 {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (waiting, waiting_id) = booked(true, kst_us(21, 12, 0, 0));
    let (answered, answered_id) = booked(true, kst_us(21, 12, 0, 0));
    desk.learn(&waiting).await;
    desk.learn(&answered).await;
    desk.send_due().await;
    let confirmed = yeyak_proto::reservations::events::v1::ReservationConfirmed {
        reservation_id: answered_id.clone(),
        partner_id: PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        ..Default::default()
    };
    desk.learn(&recorded(&format!("reservation-{answered_id}"), &confirmed))
        .await;
    desk.send_due().await;
    let warnings = |desk: &Desk| {
        desk.keys()
            .into_iter()
            .filter(|k| k.starts_with("expiry-warning"))
            .collect::<Vec<_>>()
    };
    desk.clock.set(kst_us(21, 10, 59, 59));
    desk.send_due().await;
    assert!(warnings(&desk).is_empty(), "not before the hour");
    desk.clock.set(kst_us(21, 11, 0, 0));
    desk.send_due().await;
    assert_eq!(
        warnings(&desk),
        [format!("expiry-warning:{waiting_id}:operator:owner")]
    );
    let withdrawn = yeyak_notifications::domain::rules::message_id(&format!(
        "expiry-warning:{answered_id}:operator:owner"
    ));
    assert_eq!(
        desk.message(&withdrawn).await.state,
        MessageState::Withdrawn
    );
}

#[tokio::test]
async fn a_fact_replayed_by_another_consumer_queues_nothing_new_and_sends_nothing_again() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let (event, _) = booked(false, 0);
    desk.learn(&event).await;
    desk.send_due().await;
    let sent = desk.provider.requests();
    let events = desk
        .log
        .read_all(Position::default(), 10_000)
        .await
        .unwrap()
        .len();
    let fact = yeyak_kit::events::EventSet::decode(&event)
        .unwrap()
        .unwrap();
    let replay = PlanMessages {
        fact,
        source_event_id: event.event_id.to_string(),
        fact_at_us: event.metadata.occurred_at_us,
        timing: Timing::default(),
    };
    desk.runner
        .run(&Origin::reaction("a-rebuilt-planner", &event), &replay)
        .await
        .expect("replayed");
    desk.index().await;
    desk.send_due().await;
    assert_eq!(desk.provider.requests(), sent);
    let after = desk
        .log
        .read_all(Position::default(), 10_000)
        .await
        .unwrap()
        .len();
    assert_eq!(after, events, "not even a message queued again");
}

#[tokio::test]
async fn a_fact_is_told_by_the_preferences_in_force_when_it_happened_not_when_it_is_learned() {
    let desk = Desk::at(kst_us(20, 12, 0, 1)).await;
    let owner = support::operator("owner", PARTNER);
    desk.api
        .set_partner_preferences(support::request(
            &owner,
            pb::SetPartnerPreferencesRequest {
                request_id: Uuid::new_v4().to_string(),
                partner_id: PARTNER.to_string(),
                confirm_cancel_alerts: Some(false),
                ..Default::default()
            },
        ))
        .await
        .expect("switched off at 12:00:01");
    let (mut before, before_id) = booked(false, 0);
    before.metadata.occurred_at_us = kst_us(20, 12, 0, 0);
    let (mut after, after_id) = booked(false, 0);
    after.metadata.occurred_at_us = kst_us(20, 12, 0, 1);
    desk.clock.set(kst_us(20, 12, 0, 5));
    desk.learn(&before).await;
    desk.learn(&after).await;
    desk.send_due().await;
    let keys = desk.keys();
    assert!(keys.contains(&format!("reservation-booked:{before_id}:operator:owner")));
    assert!(!keys.contains(&format!("reservation-booked:{after_id}:operator:owner")));
    assert!(keys.contains(&format!("reservation-booked:{after_id}:customer")));
}

#[tokio::test]
async fn a_fact_waits_ten_minutes_for_the_partners_operators_then_tells_the_customer_alone() {
    let desk = Desk::at(kst_us(20, 12, 0, 0)).await;
    let id = Uuid::new_v4().to_string();
    let booked = ReservationBooked {
        reservation_id: id.clone(),
        customer_id: "customer-9".into(),
        partner_id: support::OTHER_PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        quantity: 1,
        starts_at: Some(from_micros(kst_us(24, 19, 0, 0))),
        ..Default::default()
    };
    let mut event = recorded(&format!("reservation-{id}"), &booked);
    event.metadata.occurred_at_us = kst_us(20, 12, 0, 0);
    let waited = desk.planner.handle(&event).await;
    assert!(
        matches!(waited, Err(yeyak_transport::HandlerError::Retry(_))),
        "the operators may still come: {waited:?}"
    );
    desk.clock.set(kst_us(20, 12, 10, 0));
    desk.learn(&event).await;
    desk.send_due().await;
    assert_eq!(
        desk.keys()
            .into_iter()
            .filter(|k| k.contains(&id))
            .collect::<Vec<_>>(),
        [format!("reservation-booked:{id}:customer")]
    );
}
