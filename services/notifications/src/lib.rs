//! yeyak notifications: messages to partners, reacting to the reservations' events; the
//! partners' operators, learned from the catalog's events, decide who reads and changes them.
//!
//! Layers: [`domain`] (pure rules: which fact becomes which message, mandatory kinds, who may
//! do what), [`app`] (load → decide → append through the kit's runner; the consumer, the
//! queries), [`api`] (gRPC).

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
use yeyak_proto::notifications::v1::notifications_service_server::NotificationsServiceServer;
use yeyak_transport::Transport;

/// The notifications' name as an event source (and the namespace of their event ids).
pub const SOURCE: &str = "notifications";
/// The reservations' name as an event source (the facts partners hear about).
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The catalog's name as an event source (the partners' operators).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone notifications service listens on by default.
pub const DEFAULT_PORT: u16 = 50053;

/// Serves the notifications API and consumes the reservations' and the catalog's events, both
/// delivered by `transport`, until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Notifications::new(log, clock);
    let messages = Arc::new(app::consumer::ReservationConsumer::new(
        app.runner().clone(),
    ));
    let operators = Arc::new(OperatorDirectory::new(app.runner().clone(), SOURCE));
    let api = NotificationsServiceServer::new(api::NotificationsApi::new(app));
    yeyak_kit::server::serve_with_consumers(
        listener,
        Authenticated::new(api, auth.clone(), &api::POLICY),
        vec![
            Consumer::new(transport.clone(), RESERVATIONS_SOURCE, messages),
            Consumer::new(transport, CATALOG_SOURCE, operators),
        ],
        auth,
        shutdown,
    )
    .await
}
