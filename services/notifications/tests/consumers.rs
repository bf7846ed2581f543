//! The reservations consumer: each fact becomes one message for its partner, once, decided on
//! the partner's preferences as they stand when the message is appended.
mod support;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use uuid::Uuid;
use yeyak_eventlog::{
    AppendError, AppendRequest, EventStore, ExpectedVersion,
    testing::{BeforeAppend, Intercepted},
};
use yeyak_kit::{access::OperatorRole, events::Cause};
use yeyak_notifications::app::streams;
use yeyak_proto::{
    notifications::events::v1::{MessageKind, PartnerPreferencesChanged},
    reservations::events::v1::{ReservationCompleted, ReservationConfirmed},
};
use yeyak_transport::{EventHandler, HandlerError};

use support::*;

#[tokio::test]
async fn the_partners_messages_page_oldest_first_and_every_message_is_listed_once() {
    let service = Service::new().await;
    let mut delivered = Vec::new();
    for _ in 0..5 {
        let booked = requested(PARTNER, Some(PLACE_A));
        delivered.push(
            booked
                .stream_id
                .trim_start_matches("reservation-")
                .to_string(),
        );
        service.deliver(&booked).await;
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (messages, next) = service
            .list_page(&ops(), PARTNER, 2, &token)
            .await
            .expect("a page");
        assert!(messages.len() <= 2, "a page holds at most its size");
        listed.extend(reservations(&messages).into_iter().map(str::to_string));
        pages += 1;
        if next.is_empty() {
            break;
        }
        token = next;
    }
    assert_eq!(listed, delivered, "every message once, oldest first");
    assert_eq!(pages, 3);
    let too_big = service.list_page(&ops(), PARTNER, 101, "").await;
    assert_eq!(
        too_big.expect_err("refused").code(),
        tonic::Code::InvalidArgument
    );
    let forged = service.list_page(&ops(), PARTNER, 2, "not-a-token").await;
    assert_eq!(
        forged.expect_err("refused").code(),
        tonic::Code::InvalidArgument
    );
}

#[tokio::test]
async fn a_redelivered_reservation_event_records_nothing_twice() {
    let service = Service::new().await;
    let booked = requested(PARTNER, Some(PLACE_A));
    service.deliver(&booked).await;
    service.deliver(&booked).await;
    let messages = service.list(&ops(), PARTNER).await.expect("listed");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].kind, MessageKind::ReservationRequested as i32);
    assert!(messages[0].mandatory);
    assert_eq!(messages[0].reservation_id, reservation_of(&booked));
    let stored = service
        .log
        .read_stream(&streams::messages(PARTNER), 1, 10)
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].metadata.causation_id, Some(booked.event_id));
}

#[tokio::test]
async fn a_switched_off_kind_is_not_recorded_but_the_requested_message_always_is() {
    let service = Service::new().await;
    service
        .operator(PARTNER, "owner", OperatorRole::Admin, None)
        .await;
    let owner = operator("owner", PARTNER);
    service
        .set(
            &owner,
            PARTNER,
            &[MessageKind::ReservationCompleted],
            Uuid::new_v4(),
        )
        .await
        .expect("muted");
    let completed = ReservationCompleted {
        reservation_id: "r-1".into(),
        partner_id: PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        ..Default::default()
    };
    service
        .deliver(&recorded("reservation-r-1", &completed))
        .await;
    service.deliver(&requested(PARTNER, Some(PLACE_A))).await;
    let kinds: Vec<i32> = service
        .list(&owner, PARTNER)
        .await
        .expect("listed")
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds, vec![MessageKind::ReservationRequested as i32]);
}

#[tokio::test]
async fn a_fact_naming_no_partner_is_set_aside() {
    let service = Service::new().await;
    let nameless = recorded("reservation-r-1", &ReservationConfirmed::default());
    let outcome = service.messages.handle(&nameless).await;
    assert!(
        matches!(outcome, Err(HandlerError::Poison(_))),
        "{outcome:?}"
    );
}

/// Before the first append of a message, the partner switches confirmations off.
struct MuteBeforeTheMessage {
    muted: AtomicBool,
}

#[async_trait::async_trait]
impl BeforeAppend for MuteBeforeTheMessage {
    async fn before_append(
        &self,
        inner: &dyn EventStore,
        request: &AppendRequest,
    ) -> Result<(), AppendError> {
        let messages = streams::messages(PARTNER);
        if !request.streams.iter().any(|s| s.stream_id == messages)
            || self.muted.swap(true, Ordering::SeqCst)
        {
            return Ok(());
        }
        let change = PartnerPreferencesChanged {
            partner_id: PARTNER.to_string(),
            muted: vec![MessageKind::ReservationConfirmed as i32],
            ..Default::default()
        };
        let cause = Cause::command("operator:owner".into(), Uuid::new_v4(), NOW_US);
        inner
            .append(AppendRequest::single(
                streams::preferences(PARTNER),
                ExpectedVersion::Any,
                vec![yeyak_kit::events::encode(Uuid::new_v4(), &change, &cause)],
            ))
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_preference_change_that_lands_before_the_message_is_decided_on() {
    let url = yeyak_eventlog::testing::fresh_sqlite_url("notifications-race");
    let log: Arc<dyn EventStore> = Arc::new(Intercepted {
        inner: yeyak_eventlog::connect(&url).await.expect("log"),
        hook: MuteBeforeTheMessage {
            muted: AtomicBool::new(false),
        },
    });
    let service = Service::over(log);
    let confirmed = ReservationConfirmed {
        reservation_id: "r-1".into(),
        partner_id: PARTNER.to_string(),
        place_id: PLACE_A.to_string(),
        ..Default::default()
    };
    service
        .deliver(&recorded("reservation-r-1", &confirmed))
        .await;
    assert_eq!(
        service.list(&ops(), PARTNER).await.expect("listed"),
        vec![],
        "decided again on the muted preferences"
    );
    let changes = service
        .log
        .read_stream(&streams::preferences(PARTNER), 1, 10)
        .await
        .expect("read");
    assert_eq!(changes.len(), 1, "the change landed before the message");
}
