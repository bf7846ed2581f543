//! yeyak reservations: the event-sourced core. A reservation exists only as its event stream.
//!
//! Layers: [`domain`] (pure rules), [`app`] (which streams each command reads and writes, run by
//! the kit's command runner; the consumers), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;
#[cfg(feature = "testing")]
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
use yeyak_proto::reservations::v1::reservations_service_server::ReservationsServiceServer;
use yeyak_transport::{LogTailTransport, Transport, rebuild::ReadModel};

use app::{
    Reservations, catalog_consumer::CatalogConsumer, gateway, listing::ReservationList, scheduling,
};

/// The reservations' name as an event source.
pub const SOURCE: &str = "reservations";
/// The catalog's name as an event source (this crate does not depend on the catalog crate).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone reservations service listens on by default.
pub const DEFAULT_PORT: u16 = 50052;

/// This service's read models over `log`, each with the consumer of this service's own log that
/// keeps it (`yeyak admin rebuild` builds them over the log's shadow).
pub fn read_models(log: Arc<dyn EventStore>) -> Vec<ReadModel> {
    let app = Reservations::new(log, yeyak_kit::clock::system());
    vec![ReadModel {
        handler: Arc::new(ReservationList::new(app)),
        projections: &[app::listing::PROJECTION],
    }]
}

/// Serves the reservations API on `listener`, consumes the catalog's events through
/// `transport` (inventory and operators), and runs the scheduler, its index and the reservation
/// list over this service's own log, until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    // The simulated payment provider, with failures from the environment; a real provider
    // implements `gateway::PaymentGateway`.
    let gateway: Arc<dyn gateway::PaymentGateway> = Arc::new(gateway::SimulatedGateway::from_env());
    let app = Reservations::with_gateway(log.clone(), clock, gateway);
    // This service's own log feeds its scheduled-work index and its reservation list.
    let own: Arc<dyn Transport> =
        Arc::new(LogTailTransport::new(log.clone()).with_source(SOURCE, log.clone()));
    let runner = app.runner().clone();
    let mut consumers = vec![
        Consumer::new(
            transport.clone(),
            CATALOG_SOURCE,
            Arc::new(CatalogConsumer::new(runner.clone())),
        ),
        Consumer::new(
            transport,
            CATALOG_SOURCE,
            Arc::new(OperatorDirectory::new(runner.clone(), SOURCE)),
        ),
        Consumer::new(
            own.clone(),
            SOURCE,
            Arc::new(scheduling::DueIndex::new(runner)),
        ),
    ];
    consumers.extend(Consumer::of_read_models(
        &own,
        SOURCE,
        read_models(log.clone()),
    ));
    let scheduling = tokio::spawn(scheduling::Scheduler::new(app.clone()).run(shutdown.clone()));
    let api = ReservationsServiceServer::new(api::ReservationsApi::new(app));
    let service = Authenticated::new(api, auth.clone(), &api::POLICY);
    let served = yeyak_kit::server::serve_with_consumers(
        listener,
        service,
        consumers,
        auth,
        log,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    scheduling.await??;
    served
}
