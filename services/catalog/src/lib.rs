//! yeyak catalog: partners, places and products with their reservation schedules.
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
};
use yeyak_proto::catalog::v1::catalog_service_server::CatalogServiceServer;

/// The catalog's name as an event source.
pub const SOURCE: &str = "catalog";
/// The port a standalone catalog listens on by default.
pub const DEFAULT_PORT: u16 = 50051;

/// Serves the catalog on `listener` until `shutdown`.
pub async fn serve(
    log: Arc<dyn EventStore>,
    auth: Arc<Authenticator>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let api = CatalogServiceServer::new(api::CatalogApi::new(app::Catalog::new(log)));
    yeyak_kit::server::serve(
        listener,
        Authenticated::new(api, auth.clone(), &api::POLICY),
        auth,
        shutdown,
    )
    .await
}
