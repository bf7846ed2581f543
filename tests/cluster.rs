//! The distributed mode under test: each service as its own process (the `yeyak-<service>`
//! binaries), each on its own PostgreSQL database, talking through a real Kafka-API broker.
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use yeyak::Addresses;
use yeyak_eventlog::testing::{fresh_postgres_url, until};
use yeyak_kafka::testing::{Broker, free_port};

use crate::TEST_SECRET;

pub const SERVICES: [&str; 4] = ["catalog", "reservations", "notifications", "settlement"];

struct Process {
    child: Option<Child>,
    port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
}

/// Four service processes, their databases and the broker.
pub struct Cluster {
    pub broker: Broker,
    processes: HashMap<&'static str, Process>,
    bin_dir: PathBuf,
    pub database_urls: HashMap<&'static str, String>,
}

/// `target/<profile>`: where cargo put the service binaries (`cargo build --bins`), beside a
/// binary of the workspace or one level above a test executable (`target/<profile>/deps`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().expect("the executable's directory");
    if dir.join(format!("yeyak-{}", SERVICES[0])).exists() {
        return dir.to_path_buf();
    }
    dir.parent().expect("target dir").to_path_buf()
}

impl Cluster {
    /// Starts the broker and the four services. `extra` adds `(service, variable, value)`.
    pub async fn start(extra: &[(&str, &str, &str)]) -> Option<Cluster> {
        let bin_dir = bin_dir();
        for service in SERVICES {
            let binary = bin_dir.join(format!("yeyak-{service}"));
            assert!(
                binary.exists(),
                "{} is missing: run `cargo build --bins` first (make test does)",
                binary.display()
            );
        }
        let broker = Broker::start().await?;
        let mut database_urls = HashMap::new();
        for service in SERVICES {
            database_urls.insert(
                service,
                fresh_postgres_url(&format!("proc_{service}")).await?,
            );
        }
        let mut processes = HashMap::new();
        for service in SERVICES {
            let mut env = vec![
                (
                    "YEYAK_DATABASE_URL".to_string(),
                    database_urls[service].clone(),
                ),
                ("YEYAK_JWT_SECRET".to_string(), TEST_SECRET.to_string()),
                ("YEYAK_KAFKA_BROKERS".to_string(), broker.bootstrap()),
                ("YEYAK_KAFKA_PARTITIONS".to_string(), "3".to_string()),
                (
                    "YEYAK_METRICS_ADDR".to_string(),
                    format!("127.0.0.1:{}", free_port()),
                ),
                ("RUST_LOG".to_string(), "info".to_string()),
            ];
            for (s, k, v) in extra {
                if *s == service {
                    env.push((k.to_string(), v.to_string()));
                }
            }
            let log = std::env::temp_dir().join(format!(
                "yeyak-{service}-{}.log",
                uuid::Uuid::new_v4().simple()
            ));
            processes.insert(
                service,
                Process {
                    child: None,
                    port: free_port(),
                    env,
                    log,
                },
            );
        }
        let mut cluster = Cluster {
            broker,
            processes,
            bin_dir,
            database_urls,
        };
        for service in SERVICES {
            cluster.spawn(service).await;
        }
        Some(cluster)
    }

    async fn spawn(&mut self, service: &'static str) {
        let binary = self.bin_dir.join(format!("yeyak-{service}"));
        let p = self.processes.get_mut(service).expect("known service");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p.log)
            .expect("log file");
        let child = Command::new(binary)
            .envs(p.env.iter().cloned())
            .env("YEYAK_GRPC_ADDR", format!("127.0.0.1:{}", p.port))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start a service process");
        p.child = Some(child);
        let (port, log) = (p.port, p.log.clone());
        let processes = &mut self.processes;
        let listening = format!("{service} to listen");
        until(Duration::from_secs(60), &listening, || {
            if let Some(status) = processes
                .get_mut(service)
                .and_then(|p| p.child.as_mut())
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{service} exited with {status}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
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

    pub fn addresses(&self) -> Addresses {
        let addr = |s: &str| SocketAddr::from(([127, 0, 0, 1], self.processes[s].port));
        Addresses {
            catalog: addr("catalog"),
            reservations: addr("reservations"),
            notifications: addr("notifications"),
            settlement: addr("settlement"),
        }
    }

    /// Waits (with a deadline) for a service process to end by itself, and returns how it ended.
    pub async fn wait_for_exit(&mut self, service: &str) -> ExitStatus {
        let child = self
            .processes
            .get_mut(service)
            .and_then(|p| p.child.as_mut())
            .expect("running");
        let exited = format!("{service} to exit");
        until(Duration::from_secs(60), &exited, || {
            let status = child.try_wait().expect("wait");
            async move { status }
        })
        .await
    }

    /// Restarts a service on the same port and database, with variables removed.
    pub async fn restart_without(&mut self, service: &'static str, remove: &[&str]) {
        let p = self.processes.get_mut(service).expect("known service");
        if let Some(mut child) = p.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        p.env.retain(|(k, _)| !remove.contains(&k.as_str()));
        self.spawn(service).await;
    }

    /// Each running service's process id.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        SERVICES
            .iter()
            .filter_map(|s| Some((*s, self.processes[s].child.as_ref()?.id())))
            .collect()
    }

    /// A service's output so far.
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(&self.processes[service].log).unwrap_or_default()
    }

    /// Stops every process (SIGKILL; the tests own their databases).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.processes.values_mut() {
            if let Some(mut child) = p.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
