//! yeyak catalog: partners, operators, places and products with their reservation schedules,
//! review lifecycle and policies; it learns each product's reservations from the reservations'
//! events.
//!
//! Layers: [`domain`] (pure rules), [`app`] (load → decide → append), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;

use std::sync::Arc;

use tokio::net::TcpListener;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    CancellationToken,
    auth::{Authenticated, Authenticator},
    clock::SharedClock,
    server::Consumer,
};
use yeyak_proto::catalog::v1::catalog_service_server::CatalogServiceServer;
use yeyak_transport::Transport;

/// The catalog's name as an event source.
pub const SOURCE: &str = "catalog";
/// The reservations' name as an event source (the catalog learns a product's reservations).
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The settlement's name as an event source (whether a partner may sell paid products).
pub const SETTLEMENT_SOURCE: &str = "settlement";
/// The port a standalone catalog listens on by default.
pub const DEFAULT_PORT: u16 = 50051;

/// Serves the catalog on `listener` and consumes the reservations' and the settlement's events
/// until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Catalog::new(log.clone(), clock);
    let bookings = Arc::new(app::bookings::ReservationConsumer::new(
        app.runner().clone(),
    ));
    let sellers = Arc::new(app::sellers::SellerConsumer::new(app.runner().clone()));
    let api = CatalogServiceServer::new(api::CatalogApi::new(app));
    yeyak_kit::server::serve_with_consumers(
        listener,
        Authenticated::new(api, auth.clone(), &api::POLICY),
        vec![
            Consumer::new(transport.clone(), RESERVATIONS_SOURCE, bookings),
            Consumer::new(transport, SETTLEMENT_SOURCE, sellers),
        ],
        auth,
        log,
        shutdown,
    )
    .await
}
