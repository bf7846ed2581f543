//! What the notifications' crate tests share: the service over a fresh SQLite log, catalog and
//! reservation facts as a transport delivers them, and callers as the `Authenticated` wrapper
//! hands them to the API.
#![allow(dead_code)] // each test binary uses some of it

use std::sync::Arc;

use prost::Message;
use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, RecordedEvent};
use yeyak_kit::{
    access::{OperatorDirectory, OperatorRole},
    auth::Caller,
    clock::ControlledClock,
};
use yeyak_notifications::{
    api::NotificationsApi,
    app::{Notifications, consumer::ReservationConsumer},
};
use yeyak_proto::{
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

#[allow(unused_imports)] // each test binary uses some of it
pub use yeyak_kit::testing::{
    NOW_US, operator, operator_accepted, operator_invited, operator_of_places, ops, recorded,
    refused, request,
};

pub const PARTNER: Uuid = Uuid::from_u128(0x1);
pub const OTHER_PARTNER: Uuid = Uuid::from_u128(0x2);
pub const PLACE_A: Uuid = Uuid::from_u128(0xa);
pub const PLACE_B: Uuid = Uuid::from_u128(0xb);

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
            ..Default::default()
        };
        Ok(self
            .api
            .list_partner_messages(request(caller, list))
            .await?
            .into_inner()
            .messages)
    }

    /// One page of the partner's messages: the messages and the next page's token.
    pub async fn list_page(
        &self,
        caller: &Caller,
        partner: Uuid,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<PartnerMessage>, String), Status> {
        let list = ListPartnerMessagesRequest {
            partner_id: partner.to_string(),
            page_size,
            page_token: page_token.to_string(),
        };
        let page = self
            .api
            .list_partner_messages(request(caller, list))
            .await?
            .into_inner();
        Ok((page.messages, page.next_page_token))
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
