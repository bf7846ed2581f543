//! The whole yeyak system in one process: the embedded default (`yeyak run`) and the test harness.
//!
//! Each service keeps its own event log (its own SQLite file or PostgreSQL database) and learns
//! about the others only through their events, delivered by the log-tail transport.
pub mod admin;
pub mod migrate;
pub mod probe;
pub mod schema;
pub mod tail;

use std::{net::SocketAddr, path::Path, sync::Arc};

use tokio::task::JoinHandle;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    CancellationToken,
    auth::Authenticator,
    clock::{self, SharedClock},
    config::BoxError,
};
use yeyak_transport::LogTailTransport;

/// Where each service keeps its event log.
#[derive(Debug, Clone)]
pub struct Databases {
    pub catalog: String,
    pub reservations: String,
    pub notifications: String,
    pub settlement: String,
}

impl Databases {
    /// One SQLite file per service under `dir`.
    pub fn sqlite_in(dir: &Path) -> Self {
        let url = |name: &str| format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        Self {
            catalog: url("catalog"),
            reservations: url("reservations"),
            notifications: url("notifications"),
            settlement: url("settlement"),
        }
    }
}

/// How to start the system.
#[derive(Clone)]
pub struct SystemConfig {
    pub databases: Databases,
    /// Host to bind; each service gets `base_port + n` (0 = any free port).
    pub host: std::net::IpAddr,
    pub base_port: u16,
    pub jwt_secret: String,
    /// How the settlement charges and pays.
    pub settlement: yeyak_settlement::Settings,
    /// The business clock every service decides by: the system clock, a test's controlled one,
    /// or (development only) one started at another instant. Tokens are always judged by the
    /// system clock.
    pub clock: SharedClock,
    /// How the notifications deliver: the log, unless a provider is configured.
    pub delivery: yeyak_notifications::Delivery,
}

impl SystemConfig {
    /// The system on `databases`, on the system clock.
    pub fn new(databases: Databases, jwt_secret: String) -> Self {
        Self {
            databases,
            host: [127, 0, 0, 1].into(),
            base_port: 0,
            jwt_secret,
            settlement: yeyak_settlement::Settings::default(),
            clock: clock::system(),
            delivery: yeyak_notifications::Delivery::log_sink(),
        }
    }
}

/// The addresses of a running system.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub catalog: SocketAddr,
    pub reservations: SocketAddr,
    pub notifications: SocketAddr,
    pub settlement: SocketAddr,
}

/// A running system: stop it with [`System::shutdown`].
pub struct System {
    pub addresses: Addresses,
    /// Where `GET /metrics` answers for the whole system (`base_port + 4`).
    pub metrics: SocketAddr,
    pub auth: Arc<Authenticator>,
    pub logs: [Arc<dyn EventStore>; 4],
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), BoxError>>>,
}

impl System {
    /// Opens the four logs, binds the four ports and starts serving and consuming.
    pub async fn start(
        config: SystemConfig,
        shutdown: CancellationToken,
    ) -> Result<System, BoxError> {
        let auth = Arc::new(Authenticator::new(&config.jwt_secret)?);
        let catalog = yeyak_eventlog::connect(&config.databases.catalog).await?;
        let reservations = yeyak_eventlog::connect(&config.databases.reservations).await?;
        let notifications = yeyak_eventlog::connect(&config.databases.notifications).await?;
        let settlement = yeyak_eventlog::connect(&config.databases.settlement).await?;
        let port = |n: u16| {
            if config.base_port == 0 {
                0
            } else {
                config.base_port + n
            }
        };
        let bind = |n: u16| yeyak_kit::server::bind(SocketAddr::new(config.host, port(n)));
        let (l_catalog, l_reservations, l_notifications, l_settlement) = (
            bind(0).await?,
            bind(1).await?,
            bind(2).await?,
            bind(3).await?,
        );
        let addresses = Addresses {
            catalog: l_catalog.local_addr()?,
            reservations: l_reservations.local_addr()?,
            notifications: l_notifications.local_addr()?,
            settlement: l_settlement.local_addr()?,
        };
        let mut tasks: Vec<JoinHandle<Result<(), BoxError>>> = Vec::new();
        let l_metrics = yeyak_kit::metrics::bind(SocketAddr::new(config.host, port(4))).await?;
        let metrics = l_metrics.local_addr()?;
        {
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                yeyak_kit::metrics::serve(l_metrics, shutdown).await?;
                Ok(())
            }));
        }
        {
            let transport = Arc::new(
                LogTailTransport::new(catalog.clone())
                    .with_source(yeyak_reservations::SOURCE, reservations.clone())
                    .with_source(yeyak_settlement::SOURCE, settlement.clone()),
            );
            let (log, auth, shutdown) = (catalog.clone(), auth.clone(), shutdown.clone());
            tasks.push(tokio::spawn(yeyak_catalog::serve(
                log,
                transport,
                auth,
                l_catalog,
                config.clock.clone(),
                shutdown,
            )));
        }
        {
            let transport = Arc::new(
                LogTailTransport::new(reservations.clone())
                    .with_source(yeyak_catalog::SOURCE, catalog.clone()),
            );
            let (log, auth, shutdown) = (reservations.clone(), auth.clone(), shutdown.clone());
            tasks.push(tokio::spawn(yeyak_reservations::serve(
                log,
                transport,
                auth,
                l_reservations,
                config.clock.clone(),
                shutdown,
            )));
        }
        {
            let transport = Arc::new(
                LogTailTransport::new(notifications.clone())
                    .with_source(yeyak_reservations::SOURCE, reservations.clone())
                    .with_source(yeyak_catalog::SOURCE, catalog.clone()),
            );
            let (log, auth, shutdown) = (notifications.clone(), auth.clone(), shutdown.clone());
            tasks.push(tokio::spawn(yeyak_notifications::serve(
                log,
                transport,
                auth,
                l_notifications,
                config.clock.clone(),
                config.delivery.clone(),
                shutdown,
            )));
        }
        {
            let transport = Arc::new(
                LogTailTransport::new(settlement.clone())
                    .with_source(yeyak_reservations::SOURCE, reservations.clone())
                    .with_source(yeyak_catalog::SOURCE, catalog.clone()),
            );
            let (log, auth, shutdown, settings) = (
                settlement.clone(),
                auth.clone(),
                shutdown.clone(),
                config.settlement.clone(),
            );
            tasks.push(tokio::spawn(yeyak_settlement::serve(
                log,
                transport,
                auth,
                l_settlement,
                settings,
                config.clock.clone(),
                shutdown,
            )));
        }
        Ok(System {
            addresses,
            metrics,
            auth,
            logs: [catalog, reservations, notifications, settlement],
            shutdown,
            tasks,
        })
    }

    /// Stops serving (draining in-flight calls) and consuming; returns the first error.
    pub async fn shutdown(self) -> Result<(), BoxError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until every service stopped (after the shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), BoxError> {
        let mut first = Ok(());
        for task in self.tasks {
            let result = task
                .await
                .map_err(|e| Box::new(e) as BoxError)
                .and_then(|r| r);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

/// Reads the development JWT secret from `path`, creating a random one (mode 0600) if missing.
pub fn dev_secret(path: &Path) -> std::io::Result<String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        return Ok(secret.trim().to_string());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, secret.as_bytes())?;
    Ok(secret)
}
