//! yeyak notifications: messages to partners, reacting to the reservations' events.
//!
//! Layers: [`domain`] (which fact becomes which message; mandatory kinds), [`app`] (the
//! consumer, preferences, queries), [`api`] (gRPC).

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
use yeyak_proto::notifications::v1::notifications_service_server::NotificationsServiceServer;
use yeyak_transport::Transport;

/// The notifications' name as an event source.
pub const SOURCE: &str = "notifications";
/// The reservations' name as an event source.
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The port a standalone notifications service listens on by default.
pub const DEFAULT_PORT: u16 = 50053;

/// Serves the notifications API and consumes the reservations' events until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Notifications::new(log);
    let consumer = Arc::new(app::ReservationConsumer::new(app.clone()));
    let service = Authenticated::new(
        NotificationsServiceServer::new(api::NotificationsApi::new(app)),
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
