//! Health says what it knows: a service whose own database cannot be reached is `NOT_SERVING`
//! (the others, on their own databases, stay `SERVING`), and serves again once it can reach it.
//! The database is cut off for real: the reservations reach PostgreSQL through a TCP proxy on
//! loopback that the test closes and opens again.
use std::{net::SocketAddr, time::Duration};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use yeyak::{Databases, System, SystemConfig};
use yeyak_e2e::{TEST_SECRET, channel, until};
use yeyak_eventlog::testing::fresh_postgres_url;

/// A TCP proxy on a fixed loopback port to `target`, which can be cut (every connection closed,
/// nothing accepted) and opened again on the same port.
struct Proxy {
    port: u16,
    target: SocketAddr,
    open: Option<CancellationToken>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let mut proxy = Proxy {
            port: yeyak_kafka::testing::free_port(),
            target,
            open: None,
        };
        proxy.reopen().await;
        proxy
    }

    async fn reopen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port");
        let open = CancellationToken::new();
        let (token, target) = (open.clone(), self.target);
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => accepted.expect("accept"),
                };
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        self.open = Some(open);
    }

    fn cut(&mut self) {
        if let Some(open) = self.open.take() {
            open.cancel();
        }
    }
}

async fn status(addr: SocketAddr) -> Option<ServingStatus> {
    let mut health = HealthClient::new(channel(addr).await);
    let answer = health
        .check(HealthCheckRequest::default())
        .await
        .ok()?
        .into_inner();
    ServingStatus::try_from(answer.status).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_not_serving_while_its_own_database_is_unreachable_and_serves_again_after() {
    let mut urls = Vec::new();
    for service in ["catalog", "reservations", "notifications", "settlement"] {
        let Some(url) = fresh_postgres_url(&format!("health_{service}")).await else {
            return;
        };
        urls.push(url);
    }
    // The reservations' URL through the proxy: postgres://user@127.0.0.1:<proxy>/db.
    let server: SocketAddr = "127.0.0.1:5432".parse().expect("PostgreSQL");
    let mut proxy = Proxy::start(server).await;
    let through_proxy = urls[1].replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(through_proxy, urls[1], "the URL goes through the proxy");
    let databases = Databases {
        catalog: urls[0].clone(),
        reservations: through_proxy,
        notifications: urls[2].clone(),
        settlement: urls[3].clone(),
    };
    let shutdown = CancellationToken::new();
    let system = System::start(
        SystemConfig::new(databases, TEST_SECRET.to_string()),
        shutdown.clone(),
    )
    .await
    .expect("the system");
    let a = system.addresses;
    assert_eq!(status(a.reservations).await, Some(ServingStatus::Serving));

    proxy.cut();
    let wait = Duration::from_secs(30);
    yeyak_eventlog::testing::until(wait, "the reservations to say NOT_SERVING", || async {
        (status(a.reservations).await == Some(ServingStatus::NotServing)).then_some(())
    })
    .await;
    assert_eq!(
        status(a.catalog).await,
        Some(ServingStatus::Serving),
        "a service on its own reachable database keeps serving"
    );

    proxy.reopen().await;
    until("the reservations to serve again", || async {
        (status(a.reservations).await == Some(ServingStatus::Serving)).then_some(())
    })
    .await;
    system.shutdown().await.expect("stopped");
}
