//! What the notifications' crate tests share: the service over a fresh SQLite log, catalog and
//! reservation facts as a transport delivers them, and callers as the `Authenticated` wrapper
//! hands them to the API.
#![allow(dead_code)] // each test binary uses some of it

use std::sync::Arc;

use prost::{Message, Name};
use tonic::{Code, Request, Status};
use uuid::Uuid;
use yeyak_eventlog::{EventStore, Metadata, RecordedEvent};
use yeyak_kit::{
    access::{OperatorDirectory, OperatorRole},
    auth::{Caller, PlaceScope, Role},
    clock::ControlledClock,
    events::SCHEMA_VERSION,
};
use yeyak_notifications::{
    api::NotificationsApi,
    app::{Notifications, consumer::ReservationConsumer},
};
use yeyak_proto::{
    catalog::events::v1::{OperatorAccepted, OperatorInvited},
    notifications::{
        events::v1::MessageKind,
        v1::{
            ListPartnerMessagesRequest, PartnerMessage, PartnerPreferences,
            SetPartnerPreferencesRequest, notifications_service_server::NotificationsService,
        },
    },
    reservations::events::v1::ReservationBooked,
};
use yeyak_transport::EventHandler;

pub const PARTNER: Uuid = Uuid::from_u128(0x1);
pub const OTHER_PARTNER: Uuid = Uuid::from_u128(0x2);
pub const PLACE_A: Uuid = Uuid::from_u128(0xa);
pub const PLACE_B: Uuid = Uuid::from_u128(0xb);
pub const NOW_US: i64 = 1_800_000_000_000_000;

/// The notifications over one log, with their consumers at hand.
pub struct Service {
    pub log: Arc<dyn EventStore>,
    pub api: NotificationsApi,
    pub directory: OperatorDirectory,
    pub messages: ReservationConsumer,
}

impl Service {
    pub async fn new() -> Self {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("notifications");
        Self::over(yeyak_eventlog::connect(&url).await.expect("log"))
    }

    /// The service over `log` (an intercepted one, say), wired as `serve` wires it.
    pub fn over(log: Arc<dyn EventStore>) -> Self {
        let app = Notifications::new(log.clone(), ControlledClock::at(NOW_US));
        Self {
            log,
            directory: OperatorDirectory::new(app.runner().clone(), yeyak_notifications::SOURCE),
            messages: ReservationConsumer::new(app.runner().clone()),
            api: NotificationsApi::new(app),
        }
    }

    /// The catalog invited `operator` to `partner` as `role` for `places` (`None`: all).
    pub async fn invited(
        &self,
        partner: Uuid,
        operator: &str,
        role: OperatorRole,
        places: Option<&[Uuid]>,
    ) {
        let event = operator_invited(partner, operator, role, places);
        self.directory.handle(&event).await.expect("learns");
    }

    /// The invited `operator` accepted.
    pub async fn accepted(&self, partner: Uuid, operator: &str) {
        let event = operator_accepted(partner, operator);
        self.directory.handle(&event).await.expect("learns");
    }

    /// An active operator: invited and accepted.
    pub async fn operator(
        &self,
        partner: Uuid,
        operator: &str,
        role: OperatorRole,
        places: Option<&[Uuid]>,
    ) {
        self.invited(partner, operator, role, places).await;
        self.accepted(partner, operator).await;
    }

    /// Delivers a reservations' event to the messages consumer.
    pub async fn deliver(&self, event: &RecordedEvent) {
        self.messages.handle(event).await.expect("handled");
    }

    pub async fn list(
        &self,
        caller: &Caller,
        partner: Uuid,
    ) -> Result<Vec<PartnerMessage>, Status> {
        let list = ListPartnerMessagesRequest {
            partner_id: partner.to_string(),
        };
        Ok(self
            .api
            .list_partner_messages(request(caller, list))
            .await?
            .into_inner()
            .messages)
    }

    pub async fn set(
        &self,
        caller: &Caller,
        partner: Uuid,
        muted: &[MessageKind],
        request_id: Uuid,
    ) -> Result<PartnerPreferences, Status> {
        let set = SetPartnerPreferencesRequest {
            request_id: request_id.to_string(),
            partner_id: partner.to_string(),
            muted: muted.iter().map(|k| *k as i32).collect(),
            ..Default::default()
        };
        Ok(self
            .api
            .set_partner_preferences(request(caller, set))
            .await?
            .into_inner())
    }
}

/// A request as it reaches the API behind `Authenticated`: the verified caller in its extensions.
pub fn request<T>(caller: &Caller, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(caller.clone());
    request
}

/// An operator token of `partner` for all its places.
pub fn operator(subject: &str, partner: Uuid) -> Caller {
    Caller {
        subject: subject.into(),
        role: Role::PartnerOperator,
        partner_id: Some(partner),
        places: PlaceScope::All,
    }
}

/// An operator token of `partner` for `places` only.
pub fn operator_of_places(subject: &str, partner: Uuid, places: &[Uuid]) -> Caller {
    Caller {
        places: PlaceScope::Only(places.iter().copied().collect()),
        ..operator(subject, partner)
    }
}

/// A platform operations token.
pub fn ops() -> Caller {
    Caller {
        subject: "ops-1".into(),
        role: Role::PlatformOps,
        partner_id: None,
        places: PlaceScope::All,
    }
}

/// `result` is refused with `code` and the reason code `reason`.
pub fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, reason: &str) {
    let status = result.expect_err("refused");
    assert_eq!(
        (status.code(), yeyak_kit::status::reason(&status).as_deref()),
        (code, Some(reason)),
        "{status:?}"
    );
}

/// The catalog's event: `operator` invited to `partner` as `role` for `places` (`None`: all).
pub fn operator_invited(
    partner: Uuid,
    operator: &str,
    role: OperatorRole,
    places: Option<&[Uuid]>,
) -> RecordedEvent {
    let invited = OperatorInvited {
        partner_id: partner.to_string(),
        operator_id: operator.into(),
        role: role as i32,
        all_places: places.is_none(),
        place_ids: places.into_iter().flatten().map(Uuid::to_string).collect(),
    };
    recorded(&format!("partner-{partner}"), &invited)
}

/// The catalog's event: the invited `operator` accepted.
pub fn operator_accepted(partner: Uuid, operator: &str) -> RecordedEvent {
    let accepted = OperatorAccepted {
        partner_id: partner.to_string(),
        operator_id: operator.into(),
    };
    recorded(&format!("partner-{partner}"), &accepted)
}

/// Another service's event as a transport delivers it.
pub fn recorded<M: Message + Name>(stream: &str, message: &M) -> RecordedEvent {
    RecordedEvent {
        position: Default::default(),
        event_id: Uuid::new_v4(),
        stream_id: stream.into(),
        stream_version: 1,
        event_type: M::full_name(),
        schema_version: SCHEMA_VERSION,
        payload: message.encode_to_vec(),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "customer:c-1".into(),
            occurred_at_us: NOW_US,
            trace_context: None,
        },
        recorded_at_us: NOW_US,
    }
}

/// A reservation of `partner` at `place` (`None`: a fact naming no place) awaiting approval.
pub fn requested(partner: Uuid, place: Option<Uuid>) -> RecordedEvent {
    let reservation_id = Uuid::new_v4().to_string();
    let booked = ReservationBooked {
        reservation_id: reservation_id.clone(),
        partner_id: partner.to_string(),
        place_id: place.map(|p| p.to_string()).unwrap_or_default(),
        quantity: 2,
        requires_approval: true,
        ..Default::default()
    };
    recorded(&format!("reservation-{reservation_id}"), &booked)
}

/// The reservation ids of `messages`, in order.
pub fn reservations(messages: &[PartnerMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.reservation_id.as_str()).collect()
}

/// The reservation id an event of [`requested`] books.
pub fn reservation_of(event: &RecordedEvent) -> String {
    ReservationBooked::decode(event.payload.as_slice())
        .expect("a booking")
        .reservation_id
}
