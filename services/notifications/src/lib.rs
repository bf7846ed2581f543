//! yeyak notifications: messages to partners, reacting to the reservations' events; the
//! partners' operators, learned from the catalog's events, decide who reads and changes them.
//!
//! Layers: [`domain`] (pure rules: which fact becomes which message, mandatory kinds, who may
//! do what), [`app`] (load → decide → append through the kit's runner; the consumer, the
//! queries), [`api`] (gRPC).

pub mod api;
pub mod app;
pub mod domain;
pub mod settings;
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
use yeyak_transport::{LogTailTransport, Transport, rebuild::ReadModel};

pub use settings::{Delivery, DeliveryArgs};

/// The notifications' name as an event source (and the namespace of their event ids).
pub const SOURCE: &str = "notifications";
/// The reservations' name as an event source (the facts partners hear about).
pub const RESERVATIONS_SOURCE: &str = "reservations";
/// The catalog's name as an event source (the partners' operators).
pub const CATALOG_SOURCE: &str = "catalog";
/// The port a standalone notifications service listens on by default.
pub const DEFAULT_PORT: u16 = 50053;

/// This service's read models over `log`, each with the consumer of this service's own log that
/// keeps it (`yeyak admin rebuild` builds them over the log's shadow).
pub fn read_models(log: Arc<dyn EventStore>) -> Vec<ReadModel> {
    let runner = yeyak_kit::command::Runner::new(
        log,
        yeyak_kit::clock::system(),
        app::Notifications::NAMESPACE,
    );
    vec![ReadModel {
        handler: Arc::new(app::listing::MessageIndex::new(runner)),
        projections: &[app::listing::DUE, app::listing::LIST],
    }]
}

/// Serves the notifications API, consumes the reservations' and the catalog's events (both
/// delivered by `transport`), keeps the due index over this service's own log and sends due
/// messages by `delivery`, until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    clock: SharedClock,
    delivery: Delivery,
    shutdown: CancellationToken,
) -> Result<(), yeyak_kit::config::BoxError> {
    let app = app::Notifications::new(log.clone(), clock);
    let runner = app.runner().clone();
    app::templates::register_built_in(&runner, delivery.approve_built_in).await?;
    let own: Arc<dyn Transport> =
        Arc::new(LogTailTransport::new(log.clone()).with_source(SOURCE, log.clone()));
    let mut consumers = vec![
        Consumer::new(
            transport.clone(),
            RESERVATIONS_SOURCE,
            Arc::new(app::consumer::ReservationConsumer::new(runner.clone())),
        ),
        Consumer::new(
            transport.clone(),
            RESERVATIONS_SOURCE,
            Arc::new(app::planning::MessagePlanner::new(
                runner.clone(),
                delivery.timing,
            )),
        ),
        Consumer::new(
            transport.clone(),
            CATALOG_SOURCE,
            Arc::new(OperatorDirectory::new(runner.clone(), SOURCE)),
        ),
        Consumer::new(
            transport,
            CATALOG_SOURCE,
            Arc::new(app::inquiries::ChannelLearner::new(runner.clone())),
        ),
    ];
    consumers.extend(Consumer::of_read_models(
        &own,
        SOURCE,
        read_models(log.clone()),
    ));
    let sender = app::sending::Sender::new(runner, delivery.channels, delivery.settings);
    let sending = tokio::spawn(sender.run(shutdown.clone()));
    let api = NotificationsServiceServer::new(api::NotificationsApi::new(app));
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
    sending.await?;
    served
}
