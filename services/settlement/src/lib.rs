//! yeyak settlement: the ledger of completed reservations, with commission on paid ones; the
//! partners' operators, learned from the catalog's events, decide who sees it.
//!
//! Layers: [`domain`] (pure rules: commission, lines, who sees them), [`app`] (load → decide →
//! append through the kit's runner; the consumer, the queries), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;

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
use yeyak_transport::Transport;

use domain::CommissionRate;

/// The settlement's name as an event source (and the namespace of its event ids).
pub const SOURCE: &str = "settlement";
/// The reservations' name as an event source (completions and refunds).
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The catalog's name as an event source (the partners' operators).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone settlement service listens on by default.
pub const DEFAULT_PORT: u16 = 50054;
/// Default reservation-management fee: 3 % (no public rate exists; configure it).
pub const DEFAULT_COMMISSION_BPS: u32 = 300;

/// Serves the settlement API and consumes the reservations' and the catalog's events, both
/// delivered by `transport`, until `shutdown`. A commission above
/// [`domain::MAX_COMMISSION_BPS`] is refused before anything starts.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    commission_bps: u32,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Settlement::new(log, clock, CommissionRate::from_bps(commission_bps)?);
    let ledger = Arc::new(app::consumer::ReservationConsumer::new(
        app.runner().clone(),
        app.rate(),
    ));
    let operators = Arc::new(OperatorDirectory::new(app.runner().clone(), SOURCE));
    let api = SettlementServiceServer::new(api::SettlementApi::new(app));
    yeyak_kit::server::serve_with_consumers(
        listener,
        Authenticated::new(api, auth.clone(), &api::POLICY),
        vec![
            Consumer::new(transport.clone(), RESERVATIONS_SOURCE, ledger),
            Consumer::new(transport, CATALOG_SOURCE, operators),
        ],
        auth,
        shutdown,
    )
    .await
}
