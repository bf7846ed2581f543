//! What the settlement's crate tests share: the service over a fresh SQLite log, catalog and
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
use yeyak_proto::{
    catalog::events::v1::{OperatorAccepted, OperatorInvited},
    reservations::events::v1::{PaymentMode, ReservationCompleted},
    settlement::v1::{
        ListSettlementLinesRequest, SettlementLine, settlement_service_server::SettlementService,
    },
};
use yeyak_settlement::{
    api::SettlementApi,
    app::{Settlement, consumer::ReservationConsumer},
    domain::CommissionRate,
};
use yeyak_transport::EventHandler;

pub const PARTNER: Uuid = Uuid::from_u128(0x1);
pub const OTHER_PARTNER: Uuid = Uuid::from_u128(0x2);
pub const PLACE_A: Uuid = Uuid::from_u128(0xa);
pub const NOW_US: i64 = 1_800_000_000_000_000;
/// The rate the tests' service charges: 3 %.
pub const BPS: u32 = 300;

/// The settlement over one log, with its consumers at hand.
pub struct Service {
    pub log: Arc<dyn EventStore>,
    pub api: SettlementApi,
    pub directory: OperatorDirectory,
    pub ledger: ReservationConsumer,
}

impl Service {
    /// Wired as `serve` wires it.
    pub async fn new() -> Self {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("settlement");
        let log = yeyak_eventlog::connect(&url).await.expect("log");
        let rate = CommissionRate::from_bps(BPS).expect("a valid rate");
        let app = Settlement::new(log.clone(), ControlledClock::at(NOW_US), rate);
        Self {
            log,
            directory: OperatorDirectory::new(app.runner().clone(), yeyak_settlement::SOURCE),
            ledger: ReservationConsumer::new(app.runner().clone(), app.rate()),
            api: SettlementApi::new(app),
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
        let invited = OperatorInvited {
            partner_id: partner.to_string(),
            operator_id: operator.into(),
            role: role as i32,
            all_places: places.is_none(),
            place_ids: places.into_iter().flatten().map(Uuid::to_string).collect(),
        };
        let event = recorded(&format!("partner-{partner}"), &invited);
        self.directory.handle(&event).await.expect("learns");
    }

    /// The invited `operator` accepted.
    pub async fn accepted(&self, partner: Uuid, operator: &str) {
        let accepted = OperatorAccepted {
            partner_id: partner.to_string(),
            operator_id: operator.into(),
        };
        let event = recorded(&format!("partner-{partner}"), &accepted);
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

    /// Delivers a reservations' event to the ledger consumer.
    pub async fn deliver(&self, event: &RecordedEvent) {
        self.ledger.handle(event).await.expect("handled");
    }

    pub async fn lines(
        &self,
        caller: &Caller,
        partner: Uuid,
    ) -> Result<Vec<SettlementLine>, Status> {
        let list = ListSettlementLinesRequest {
            partner_id: partner.to_string(),
        };
        Ok(self
            .api
            .list_settlement_lines(request(caller, list))
            .await?
            .into_inner()
            .lines)
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
            actor: "operator:owner".into(),
            occurred_at_us: NOW_US,
            trace_context: None,
        },
        recorded_at_us: NOW_US,
    }
}

/// A reservation of `partner` completed after `paid_krw` was paid at booking.
pub fn completed(partner: Uuid, reservation_id: &str, paid_krw: i64) -> RecordedEvent {
    let completed = ReservationCompleted {
        reservation_id: reservation_id.into(),
        partner_id: partner.to_string(),
        place_id: PLACE_A.to_string(),
        paid_krw,
        payment_mode: PaymentMode::PayAtBooking as i32,
        ..Default::default()
    };
    recorded(&format!("reservation-{reservation_id}"), &completed)
}
