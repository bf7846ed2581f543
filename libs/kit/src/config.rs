//! Configuration shared by every service process, read from flags or `YEYAK_*` variables.
use std::{net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use yeyak_eventlog::EventStore;

use crate::auth::Authenticator;

/// What every service process needs.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonConfig {
    /// Address the gRPC server binds (default: the service's own port on 0.0.0.0).
    #[arg(long, env = "YEYAK_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// The service's own event log: `postgres://…` or `sqlite://…`.
    #[arg(long, env = "YEYAK_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// HS256 secret that signs bearer tokens, at least 32 bytes (never stored in the repository).
    #[arg(long, env = "YEYAK_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Address `GET /metrics` (Prometheus text) is served on.
    #[arg(long, env = "YEYAK_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
    /// The longest lifetime (exp − iat, seconds) a token may have.
    #[arg(long, env = "YEYAK_JWT_MAX_LIFETIME_SECS", default_value_t = crate::auth::DEFAULT_MAX_LIFETIME_SECS,
          value_parser = clap::value_parser!(i64).range(60..))]
    pub jwt_max_lifetime_secs: i64,
}

/// The parts of a running service process, ready to wire.
pub struct Process {
    pub log: Arc<dyn EventStore>,
    pub auth: Arc<Authenticator>,
    pub listener: TcpListener,
    /// The system clock: a service process never runs on another.
    pub clock: crate::clock::SharedClock,
    pub shutdown: CancellationToken,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl CommonConfig {
    /// Opens (and migrates) the service's log, prepares authentication, binds the port, serves
    /// the metrics and installs the shutdown signal handler.
    pub async fn start(&self, default_port: u16) -> Result<Process, BoxError> {
        let auth = Arc::new(
            Authenticator::new(&self.jwt_secret)?.with_max_lifetime(self.jwt_max_lifetime_secs),
        );
        let log = yeyak_eventlog::connect(&self.database_url).await?;
        let addr = self
            .grpc_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)));
        let listener = crate::server::bind(addr).await?;
        let shutdown = crate::server::shutdown_on_signal();
        let metrics = crate::metrics::bind(self.metrics_addr).await?;
        tokio::spawn(crate::metrics::serve(metrics, shutdown.clone()));
        Ok(Process {
            log,
            auth,
            listener,
            clock: crate::clock::system(),
            shutdown,
        })
    }
}
