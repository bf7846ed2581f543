//! yeyak reservations: the event-sourced core. A reservation exists only as its event stream.
//!
//! Layers: [`domain`] (pure rules), [`app`] (load → decide → append; the catalog consumer),
//! [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;
pub mod listing;
pub mod payments;
pub mod scheduled;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use tokio::net::TcpListener;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    CancellationToken,
    auth::{Authenticated, Authenticator},
};
use yeyak_proto::reservations::v1::reservations_service_server::ReservationsServiceServer;
use yeyak_transport::{EventHandler, LogTailTransport, Transport};

/// The reservations' name as an event source.
pub const SOURCE: &str = "reservations";
/// The catalog's name as an event source (this crate does not depend on the catalog crate).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone reservations service listens on by default.
pub const DEFAULT_PORT: u16 = 50052;

/// Serves the reservations API on `listener`, consumes the catalog's events through
/// `transport`, and runs the scheduler, its index and the reservation list over this service's
/// own log, until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    // This service's own log feeds its scheduled-work index and its reservation list.
    let own: Arc<dyn Transport> =
        Arc::new(LogTailTransport::new(log.clone()).with_source(SOURCE, log.clone()));
    let own_consumers: [Arc<dyn EventHandler>; 2] = [
        Arc::new(scheduled::DueIndex::new(log.clone())),
        Arc::new(listing::ReservationList::new(log.clone())),
    ];
    let indexing: Vec<_> = own_consumers
        .into_iter()
        .map(|handler| {
            let (own, shutdown) = (own.clone(), shutdown.clone());
            tokio::spawn(async move {
                let result = own.consume(SOURCE, handler, shutdown.clone()).await;
                shutdown.cancel();
                result
            })
        })
        .collect();
    // The simulated payment provider, with failures from the environment; a real provider
    // implements `payments::PaymentGateway`.
    let gateway: Arc<dyn payments::PaymentGateway> =
        Arc::new(payments::SimulatedGateway::from_env());
    let app = app::Reservations::with_gateway(log.clone(), gateway);
    let scheduling = tokio::spawn(
        scheduled::Scheduler::with_app(log.clone(), app.clone()).run(shutdown.clone()),
    );
    let consumer = Arc::new(app::CatalogConsumer::new(log.clone()));
    let api = ReservationsServiceServer::new(api::ReservationsApi::new(app));
    let service = Authenticated::new(api, auth.clone(), &api::POLICY);
    let served = yeyak_kit::server::serve_with_consumer(
        listener,
        service,
        transport,
        CATALOG_SOURCE,
        consumer,
        auth,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    for task in indexing {
        task.await??;
    }
    scheduling.await??;
    served
}
