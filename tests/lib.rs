//! The end-to-end harness: start the whole system (embedded SQLite or PostgreSQL) on free ports,
//! and call it only through its public gRPC APIs.
use std::{sync::Arc, time::Duration};

use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use yeyak::{Addresses, Databases, System, SystemConfig};
use yeyak_kit::{
    CancellationToken,
    auth::{Claims, Role},
    clock::ControlledClock,
};
use yeyak_notifications::{Delivery, app::channels::ProviderConfig, testing::ProviderDouble};
use yeyak_proto::{
    catalog::v1::catalog_service_client::CatalogServiceClient,
    notifications::v1::notifications_service_client::NotificationsServiceClient,
    reservations::v1::reservations_service_client::ReservationsServiceClient,
    settlement::v1::settlement_service_client::SettlementServiceClient,
};

/// Secret of every test system (tests only; real secrets come from the environment).
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";
/// The account of the operator the harness acts as; seeded partners make it their owner.
pub const OPERATOR: &str = "operator-1";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

pub mod cluster;
pub mod seeding;

/// A running system under test: in this process, or as one process per service.
pub struct Harness {
    pub system: Option<System>,
    pub cluster: Option<cluster::Cluster>,
    pub addresses: Addresses,
    /// The business clock of an in-process system: it stands still until a test moves it. (A
    /// cluster of processes runs on the system clock.)
    pub clock: Arc<ControlledClock>,
    /// The business-messaging provider the notifications deliver to: a real HTTP server on
    /// loopback that dedupes by idempotency key and records every request.
    pub provider: Arc<ProviderDouble>,
    /// Each service's database, for a system in this process.
    pub databases: Option<Databases>,
    auth: yeyak_kit::auth::Authenticator,
    _dir: Option<std::path::PathBuf>,
    /// Held by a system on PostgreSQL while it runs: four services' pools (eighty-odd
    /// connections in-process or as processes) fit the test server's 100 only one system at a
    /// time.
    _on_postgres: Option<tokio::sync::SemaphorePermit<'static>>,
}

/// One system on PostgreSQL at a time in a test binary (see `Harness::_on_postgres`).
static ON_POSTGRES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn postgres_turn() -> tokio::sync::SemaphorePermit<'static> {
    ON_POSTGRES.acquire().await.expect("never closed")
}

/// Which storage the system runs on.
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    EmbeddedSqlite,
    Postgres,
}

impl Harness {
    /// Starts the system; `None` when PostgreSQL is wanted but unreachable outside CI.
    pub async fn start(storage: Storage) -> Option<Harness> {
        let clock = ControlledClock::starting_now();
        let on_postgres = match storage {
            Storage::Postgres => Some(postgres_turn().await),
            Storage::EmbeddedSqlite => None,
        };
        let (databases, dir) = match storage {
            Storage::EmbeddedSqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("yeyak-e2e-{}", uuid::Uuid::new_v4().simple()));
                (Databases::sqlite_in(&dir), Some(dir))
            }
            Storage::Postgres => {
                use yeyak_eventlog::testing::fresh_postgres_url;
                (
                    Databases {
                        catalog: fresh_postgres_url("e2e_catalog").await?,
                        reservations: fresh_postgres_url("e2e_reservations").await?,
                        notifications: fresh_postgres_url("e2e_notifications").await?,
                        settlement: fresh_postgres_url("e2e_settlement").await?,
                    },
                    None,
                )
            }
        };
        let provider = Arc::new(ProviderDouble::start().await);
        let mut delivery =
            Delivery::provider(ProviderConfig::new(provider.base_url())).expect("provider");
        // No provider reviews the test system's templates.
        delivery.approve_built_in = true;
        let config = SystemConfig {
            clock: clock.clone(),
            delivery,
            ..SystemConfig::new(databases.clone(), TEST_SECRET.to_string())
        };
        let system = System::start(config, CancellationToken::new())
            .await
            .expect("system starts");
        Some(Harness {
            addresses: system.addresses,
            system: Some(system),
            cluster: None,
            clock,
            provider,
            databases: Some(databases),
            auth: test_auth(),
            _dir: dir,
            _on_postgres: on_postgres,
        })
    }

    /// Every service as its own process on its own PostgreSQL database, with Kafka (a real
    /// broker) between them. `env` adds variables per service, e.g. a failpoint. `None` when
    /// PostgreSQL or the broker is unavailable outside CI.
    pub async fn distributed(env: &[(&str, &str, &str)]) -> Option<Harness> {
        let provider = Arc::new(ProviderDouble::start().await);
        let url = provider.base_url().to_string();
        let mut env = env.to_vec();
        env.push(("notifications", "YEYAK_MESSAGING_URL", &url));
        env.push((
            "notifications",
            "YEYAK_MESSAGING_APPROVE_BUILT_IN_TEMPLATES",
            "true",
        ));
        let on_postgres = postgres_turn().await;
        let cluster = cluster::Cluster::start(&env).await?;
        Some(Harness {
            addresses: cluster.addresses(),
            system: None,
            cluster: Some(cluster),
            clock: ControlledClock::starting_now(),
            provider,
            databases: None,
            auth: test_auth(),
            _dir: None,
            _on_postgres: Some(on_postgres),
        })
    }

    /// Whether the system runs in this process, on the controlled clock.
    pub fn in_process(&self) -> bool {
        self.cluster.is_none()
    }

    /// Business time now, microseconds since the Unix epoch: the controlled clock in process,
    /// the system clock for a cluster of processes.
    pub fn now_us(&self) -> i64 {
        use yeyak_kit::clock::Clock;
        match self.cluster {
            Some(_) => yeyak_kit::clock::SystemClock.now_us(),
            None => self.clock.now_us(),
        }
    }

    pub fn token(&self, claims: &Claims) -> String {
        self.auth.issue(claims).expect("token")
    }

    pub fn internal(&self) -> Bearer {
        bearer(&self.token(&Claims::new("settlement", Role::InternalService, 600)))
    }

    pub fn ops(&self) -> Bearer {
        bearer(&self.token(&Claims::new("ops-1", Role::PlatformOps, 600)))
    }

    pub fn customer(&self, id: &str) -> Bearer {
        bearer(&self.token(&Claims::new(id, Role::Customer, 600)))
    }

    /// The harness's operator ([`OPERATOR`]) of `partner`, granted `places` (`None` = all).
    pub fn operator(&self, partner: uuid::Uuid, places: Option<Vec<uuid::Uuid>>) -> Bearer {
        self.operator_as(OPERATOR, partner, places)
    }

    /// An operator account `subject` of `partner`, granted `places` (`None` = all).
    pub fn operator_as(
        &self,
        subject: &str,
        partner: uuid::Uuid,
        places: Option<Vec<uuid::Uuid>>,
    ) -> Bearer {
        bearer(&self.token(&Claims::operator(subject, partner, places, 600)))
    }

    pub async fn catalog(&self, who: Bearer) -> CatalogServiceClient<Authed> {
        CatalogServiceClient::with_interceptor(channel(self.addresses.catalog).await, who)
    }

    pub async fn reservations(&self, who: Bearer) -> ReservationsServiceClient<Authed> {
        ReservationsServiceClient::with_interceptor(channel(self.addresses.reservations).await, who)
    }

    pub async fn notifications(&self, who: Bearer) -> NotificationsServiceClient<Authed> {
        NotificationsServiceClient::with_interceptor(
            channel(self.addresses.notifications).await,
            who,
        )
    }

    pub async fn settlement(&self, who: Bearer) -> SettlementServiceClient<Authed> {
        SettlementServiceClient::with_interceptor(channel(self.addresses.settlement).await, who)
    }

    pub async fn stop(mut self) {
        if let Some(system) = self.system.take() {
            system.shutdown().await.expect("clean shutdown");
        }
        if let Some(cluster) = self.cluster.take() {
            cluster.stop();
        }
    }
}

fn test_auth() -> yeyak_kit::auth::Authenticator {
    yeyak_kit::auth::Authenticator::new(TEST_SECRET).expect("test secret")
}

pub fn bearer(token: &str) -> Bearer {
    Bearer(Some(
        format!("Bearer {token}").parse().expect("ascii token"),
    ))
}

pub async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect")
}

/// The reason code carried by a status.
pub fn reason(status: &Status) -> String {
    yeyak_kit::status::reason(status).unwrap_or_default()
}

/// Waits until `probe` yields a value, failing after 30 s. Used to wait for the asynchronous
/// consumers (the system is eventually consistent between services).
pub async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    yeyak_eventlog::testing::until(Duration::from_secs(30), what, probe).await
}
