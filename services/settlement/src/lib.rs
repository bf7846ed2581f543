//! yeyak settlement: the ledger of completed reservations, with commission on paid ones.
//!
//! Layers: [`domain`] (commission and lines), [`app`] (the consumer, queries), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;

use std::sync::Arc;

use tokio::net::TcpListener;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    CancellationToken,
    auth::{Authenticated, Authenticator},
};
use yeyak_proto::settlement::v1::settlement_service_server::SettlementServiceServer;
use yeyak_transport::Transport;

/// The settlement's name as an event source.
pub const SOURCE: &str = "settlement";
/// The reservations' name as an event source.
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The port a standalone settlement service listens on by default.
pub const DEFAULT_PORT: u16 = 50054;
/// Default reservation-management fee: 3 % (no public rate exists; configure it).
pub const DEFAULT_COMMISSION_BPS: u32 = 300;

/// Serves the settlement API and consumes the reservations' events until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    commission_bps: u32,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Settlement::new(log, commission_bps);
    let consumer = Arc::new(app::ReservationConsumer::new(app.clone()));
    let service = Authenticated::new(
        SettlementServiceServer::new(api::SettlementApi::new(app)),
        auth.clone(),
        &api::POLICY,
    );
    yeyak_kit::server::serve_with_consumer(
        listener,
        service,
        transport,
        RESERVATIONS_SOURCE,
        consumer,
        auth,
        shutdown,
    )
    .await
}
