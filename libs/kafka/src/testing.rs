//! Test support: a real Kafka-API broker (tansu, pinned by `scripts/install-tansu.sh`) on a free
//! loopback port, with its data in a SQLite file so it survives `kill -9` and restarts.
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The broker binary: `YEYAK_TANSU_BIN`, else the project's cache.
pub fn broker_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("YEYAK_TANSU_BIN") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME")?;
    let cached = PathBuf::from(home).join(".cache/yeyak/tansu-0.6.0/bin/tansu");
    cached.exists().then_some(cached)
}

/// A broker process owned by a test; killed on drop.
pub struct Broker {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The port clients are told to use (the TLS proxy's, when there is one).
    advertised: u16,
    child: Option<Child>,
    storage: &'static str,
    tls: Option<TlsProxy>,
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Broker {
    /// Starts a broker, or returns `None` (the test is skipped) when no broker binary is
    /// installed, unless `CI=true`, where that fails the test.
    pub async fn start() -> Option<Broker> {
        Self::start_with("sqlite://broker.db", None).await
    }

    /// A broker that keeps everything in memory (faster; loses it all on restart).
    pub async fn start_in_memory() -> Option<Broker> {
        Self::start_with("memory://tansu/", None).await
    }

    /// A broker on `storage`; behind a TLS proxy serving the certificates in `tls`, if any.
    async fn start_with(storage: &'static str, tls: Option<PathBuf>) -> Option<Broker> {
        let Some(binary) = broker_binary().filter(|b| b.exists()) else {
            assert!(
                !yeyak_eventlog::testing::infrastructure_required(),
                "the Kafka-API broker is required (CI=true): run scripts/install-tansu.sh or set YEYAK_TANSU_BIN"
            );
            eprintln!("skipped: no Kafka-API broker installed (scripts/install-tansu.sh)");
            return None;
        };
        let dir =
            std::env::temp_dir().join(format!("yeyak-broker-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("broker dir");
        let port = free_port();
        let tls = match tls {
            Some(certificates) => Some(TlsProxy::start(&certificates, port).await),
            None => None,
        };
        let mut broker = Broker {
            binary,
            dir,
            port,
            advertised: tls.as_ref().map_or(port, |t| t.port),
            child: None,
            storage,
            tls,
        };
        broker.spawn().await;
        Some(broker)
    }

    /// A broker reachable only through a TLS-terminating proxy (the broker itself cannot serve
    /// TLS): the broker advertises the proxy's address, so every client connection, the
    /// bootstrap and each one the metadata names, is TLS with the certificate of
    /// [`test_certificates`]. `None` when the broker or the certificates are missing (outside CI).
    pub async fn start_behind_tls() -> Option<Broker> {
        let Some(certificates) = test_certificates() else {
            assert!(
                !yeyak_eventlog::testing::infrastructure_required(),
                "the test certificates are required (CI=true): run scripts/ensure-postgres-tls.sh"
            );
            eprintln!("skipped: no test certificates (scripts/ensure-postgres-tls.sh)");
            return None;
        };
        Self::start_with("memory://tansu/", Some(certificates)).await
    }

    /// `127.0.0.1:<port>`: where clients bootstrap (the TLS proxy, when there is one).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// How many TLS sessions the proxy has completed (0 without one).
    pub fn tls_sessions(&self) -> usize {
        self.tls.as_ref().map_or(0, |t| t.sessions())
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("broker.log")).expect("broker log");
        let child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .args(["broker", "--storage-engine", self.storage])
            .args(["--listener-url", &format!("tcp://127.0.0.1:{}", self.port)])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{}", self.advertised),
            ])
            .env("RUST_LOG", "warn")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the broker");
        self.child = Some(child);
        self.wait_until_listening().await;
    }

    async fn wait_until_listening(&mut self) {
        let (port, dir) = (self.port, self.dir.clone());
        let child = &mut self.child;
        yeyak_eventlog::testing::until(Duration::from_secs(30), "the broker to listen", || {
            if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = std::fs::read_to_string(dir.join("broker.log")).unwrap_or_default();
                panic!("the broker exited with {status}: {log}");
            }
            async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ())
            }
        })
        .await;
    }

    /// `kill -9`: the broker stops at once, keeping what it had written.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and data.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// The broker's own log, for diagnosing a failed test.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test CA and server certificate `scripts/ensure-postgres-tls.sh` makes (a server
/// certificate for `localhost` and `127.0.0.1`), from `YEYAK_TEST_TLS_DIR` or
/// `~/.cache/yeyak/test-tls`; `None` when they are missing.
pub fn test_certificates() -> Option<PathBuf> {
    let dir = std::env::var_os("YEYAK_TEST_TLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/yeyak/test-tls"))
        })?;
    ["ca.crt", "server.crt", "server.key", "other-ca.crt"]
        .iter()
        .all(|f| dir.join(f).exists())
        .then_some(dir)
}

/// A TLS-terminating TCP proxy on a free loopback port: each connection's TLS is accepted with
/// the test server certificate and its plaintext relayed to `upstream`. Stops on drop.
pub struct TlsProxy {
    port: u16,
    sessions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsProxy {
    /// Listens with `dir`'s `server.crt` and `server.key`, relaying to `127.0.0.1:upstream`.
    pub async fn start(dir: &std::path::Path, upstream: u16) -> TlsProxy {
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let identity = tokio_native_tls::native_tls::Identity::from_pkcs8(
            &read("server.crt"),
            &read("server.key"),
        )
        .expect("the test server certificate");
        let acceptor = tokio_native_tls::TlsAcceptor::from(
            tokio_native_tls::native_tls::TlsAcceptor::new(identity).expect("a TLS acceptor"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sessions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = sessions.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    // A client that does not speak TLS (or distrusts the certificate) ends here.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(mut broker) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                    }
                });
            }
        });
        TlsProxy {
            port,
            sessions,
            task,
        }
    }

    /// TLS sessions accepted so far.
    pub fn sessions(&self) -> usize {
        self.sessions.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
