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
    child: Option<Child>,
    storage: &'static str,
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
        Self::start_with("sqlite://broker.db").await
    }

    /// A broker that keeps everything in memory (faster; loses it all on restart).
    pub async fn start_in_memory() -> Option<Broker> {
        Self::start_with("memory://tansu/").await
    }

    async fn start_with(storage: &'static str) -> Option<Broker> {
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
        let mut broker = Broker {
            binary,
            dir,
            port: free_port(),
            child: None,
            storage,
        };
        broker.spawn().await;
        Some(broker)
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("broker.log")).expect("broker log");
        let child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .args(["broker", "--storage-engine", self.storage])
            .args(["--listener-url", &format!("tcp://127.0.0.1:{}", self.port)])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{}", self.port),
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
