//! yeyak settlement: the ledger a partner is paid from. The reservations' payments, refunds,
//! completions and payment-only cancels become entries per reservation line; completed lines
//! are paid out daily on the next business day, less the commission by payment method; the
//! balance (충전금), statements, reconciliation and KYC; the partners' operators, learned from
//! the catalog's events, decide who sees it.
//!
//! Layers: [`domain`] (pure rules), [`app`] (load → decide → append through the kit's runner;
//! the consumers, the payout batch and sender, the queries), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;

use tokio::net::TcpListener;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    CancellationToken,
    access::OperatorDirectory,
    auth::{Authenticated, Authenticator},
    clock::SharedClock,
    server::Consumer,
};
use yeyak_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use yeyak_transport::{LogTailTransport, Transport, rebuild::ReadModel};

use app::payout_provider::{PayoutProvider, SimulatedPayouts};
use domain::CommissionTable;

/// The settlement's name as an event source (and the namespace of its event ids).
pub const SOURCE: &str = "settlement";
/// The reservations' name as an event source (completions and refunds).
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The catalog's name as an event source (the partners' operators).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone settlement service listens on by default.
pub const DEFAULT_PORT: u16 = 50054;

/// How the settlement charges and pays.
#[derive(Clone)]
pub struct Settings {
    /// Commission rates by payment method, with effective dates.
    pub rates: CommissionTable,
    /// Where payouts are transferred.
    pub provider: Arc<dyn PayoutProvider>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rates: CommissionTable::default(),
            provider: Arc::new(SimulatedPayouts::from_env()),
        }
    }
}

/// The settlement's settings from the command line or the environment.
#[derive(clap::Args, Debug, Clone)]
pub struct SettlementArgs {
    /// Commission by payment method: `method=bps@YYYY-MM-DD,...` for kakao_pay_card,
    /// kakao_pay_money, credit_card and points; the rate in force on the completion date applies.
    #[arg(long, env = "YEYAK_COMMISSION_RATES", default_value = domain::commission::DEFAULT_RATES)]
    pub commission_rates: String,
}

impl SettlementArgs {
    /// The settings, with the simulated payout provider (configured by `YEYAK_PAYOUTS_*`).
    pub fn settings(&self) -> Result<Settings, domain::SettlementError> {
        Ok(Settings {
            rates: CommissionTable::parse(&self.commission_rates)?,
            provider: Arc::new(SimulatedPayouts::from_env()),
        })
    }
}

/// This service's read models over `log`, each with the consumer of this service's own log that
/// keeps it (`yeyak admin rebuild` builds them over the log's shadow); `indexed` is told when
/// payout rows were written.
pub fn read_models(log: Arc<dyn EventStore>, indexed: Arc<tokio::sync::Notify>) -> Vec<ReadModel> {
    let runner = yeyak_kit::command::Runner::new(
        log,
        yeyak_kit::clock::system(),
        app::Settlement::NAMESPACE,
    );
    vec![ReadModel {
        handler: Arc::new(app::index::SettlementIndex::new(runner, indexed)),
        projections: &[
            app::index::ENTRIES,
            app::index::PARTNERS,
            app::index::PAYOUT_QUEUE,
            app::index::PAYOUT_DAYS,
        ],
    }]
}

/// Serves the settlement API, consumes the reservations' and the catalog's events (both
/// delivered by `transport`), keeps the read models over its own log, and runs the payout batch
/// and sender, until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    settings: Settings,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Settlement::new(
        log.clone(),
        clock,
        settings.rates.clone(),
        settings.provider,
    );
    let runner = app.runner().clone();
    let indexed = Arc::new(tokio::sync::Notify::new());
    let own: Arc<dyn Transport> =
        Arc::new(LogTailTransport::new(log.clone()).with_source(SOURCE, log.clone()));
    let mut consumers = vec![
        Consumer::new(
            transport.clone(),
            RESERVATIONS_SOURCE,
            Arc::new(app::consumer::ReservationConsumer::new(
                runner.clone(),
                settings.rates,
            )),
        ),
        Consumer::new(
            transport,
            CATALOG_SOURCE,
            Arc::new(OperatorDirectory::new(runner.clone(), SOURCE)),
        ),
    ];
    consumers.extend(Consumer::of_read_models(
        &own,
        SOURCE,
        read_models(log.clone(), indexed.clone()),
    ));
    let payouts = tokio::spawn(app.payouts().run(shutdown.clone(), indexed));
    let api = SettlementServiceServer::new(api::SettlementApi::new(app));
    let served = yeyak_kit::server::serve_with_consumers(
        listener,
        Authenticated::new(api, auth.clone(), &api::POLICY),
        consumers,
        auth,
        log,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    payouts.await?;
    served
}
