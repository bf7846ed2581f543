//! What the settlement's crate tests share: the service over a fresh SQLite log, catalog and
//! reservation facts as a transport delivers them, and callers as the `Authenticated` wrapper
//! hands them to the API.
#![allow(dead_code)] // each test binary uses some of it

use std::sync::Arc;

use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, RecordedEvent};
use yeyak_kit::{
    access::{OperatorDirectory, OperatorRole},
    auth::Caller,
    clock::ControlledClock,
};
use yeyak_proto::{
    reservations::events::v1::{PaymentMode, ReservationCompleted},
    settlement::v1::{
        LedgerEntry, ListLedgerEntriesRequest, settlement_service_server::SettlementService,
    },
};
use yeyak_settlement::{
    api::SettlementApi,
    app::{
        Settlement, consumer::ReservationConsumer, index::SettlementIndex,
        payout_provider::SimulatedPayouts, payouts::Payouts,
    },
    domain::CommissionTable,
};
use yeyak_transport::EventHandler;

#[allow(unused_imports)] // each test binary uses some of it
pub use yeyak_kit::testing::{
    NOW_US, operator, operator_accepted, operator_invited, ops, recorded, refused, request,
};

pub const PARTNER: Uuid = Uuid::from_u128(0x1);
pub const OTHER_PARTNER: Uuid = Uuid::from_u128(0x2);
pub const PLACE_A: Uuid = Uuid::from_u128(0xa);
/// The rate the tests' service charges for every method: 3 %.
pub const BPS: u32 = 300;
pub const RATES: &str = "kakao_pay_card=300@2026-01-01,kakao_pay_money=300@2026-01-01,credit_card=300@2026-01-01,points=300@2026-01-01";

/// The settlement over one log, with its consumers and workers at hand.
pub struct Service {
    pub log: Arc<dyn EventStore>,
    pub api: SettlementApi,
    pub directory: OperatorDirectory,
    pub ledger: ReservationConsumer,
    pub index: SettlementIndex,
    pub payouts: Payouts,
    pub provider: Arc<SimulatedPayouts>,
    pub clock: Arc<ControlledClock>,
}

impl Service {
    /// Wired as `serve` wires it.
    pub async fn new() -> Self {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("settlement");
        let log = yeyak_eventlog::connect(&url).await.expect("log");
        let rates = CommissionTable::parse(RATES).expect("valid rates");
        let provider = Arc::new(SimulatedPayouts::default());
        let clock = ControlledClock::at(NOW_US);
        let app = Settlement::new(log.clone(), clock.clone(), rates.clone(), provider.clone());
        Self {
            log,
            directory: OperatorDirectory::new(app.runner().clone(), yeyak_settlement::SOURCE),
            ledger: ReservationConsumer::new(app.runner().clone(), rates),
            index: SettlementIndex::new(app.runner().clone(), Default::default()),
            payouts: app.payouts(),
            api: SettlementApi::new(app),
            provider,
            clock,
        }
    }

    /// The index catches up with the whole log (its upserts converge on a replay).
    pub async fn index_all(&self) {
        let mut after = Position::START;
        loop {
            let events = self.log.read_all(after, 500).await.expect("read");
            let Some(last) = events.last() else {
                return;
            };
            after = last.position;
            for e in &events {
                self.index.handle(e).await.expect("indexed");
            }
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

    /// Delivers a reservations' event to the ledger consumer.
    pub async fn deliver(&self, event: &RecordedEvent) {
        self.ledger.handle(event).await.expect("handled");
    }

    /// The partner's ledger entries, as the API lists them (the index caught up first).
    pub async fn entries(
        &self,
        caller: &Caller,
        partner: Uuid,
    ) -> Result<Vec<LedgerEntry>, Status> {
        self.index_all().await;
        let list = ListLedgerEntriesRequest {
            partner_id: partner.to_string(),
            page_size: 100,
            ..Default::default()
        };
        Ok(self
            .api
            .list_ledger_entries(request(caller, list))
            .await?
            .into_inner()
            .entries)
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
