//! What the benchmark reads off the running system: how far every consumer of every service is
//! behind, the process's memory, and PostgreSQL's `CHECKPOINT` before a measured phase.
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use yeyak::Databases;
use yeyak_eventlog::{EventStore, Position};

/// The four logs of a system, by the source name its consumers' checkpoints use
/// (`<consumer>@<source>`).
pub struct Logs {
    logs: Vec<(&'static str, Arc<dyn EventStore>)>,
}

impl Logs {
    pub async fn open(databases: &Databases) -> Logs {
        let mut logs = Vec::new();
        for (source, url) in [
            ("catalog", &databases.catalog),
            ("reservations", &databases.reservations),
            ("notifications", &databases.notifications),
            ("settlement", &databases.settlement),
        ] {
            let store = yeyak_eventlog::connect(url).await.expect("a service's log");
            logs.push((source, store));
        }
        Logs { logs }
    }

    /// Every consumer checkpoint not yet at the head of its source: `name → events behind`
    /// (at least 1; counted up to 10,000).
    pub async fn behind(&self) -> BTreeMap<String, usize> {
        let mut heads = BTreeMap::new();
        let mut behind = BTreeMap::new();
        for (source, store) in &self.logs {
            match store.head().await {
                Ok(head) => {
                    heads.insert(*source, head);
                }
                Err(e) => {
                    behind.insert(format!("(the head of {source}: {e})"), 1);
                }
            }
        }
        for (source, store) in &self.logs {
            let checkpoints = match store.checkpoints().await {
                Ok(checkpoints) => checkpoints,
                Err(e) => {
                    behind.insert(format!("(the checkpoints of {source}: {e})"), 1);
                    continue;
                }
            };
            for (name, at) in checkpoints {
                let Some((_, source)) = name.rsplit_once('@') else {
                    continue;
                };
                let Some(head) = heads.get(source) else {
                    continue;
                };
                if at < *head {
                    let source_log = &self.logs.iter().find(|(s, _)| s == &source).expect("log").1;
                    behind.insert(name, count_after(&**source_log, at).await);
                }
            }
        }
        behind
    }

    /// Consumer checkpoints this system keeps.
    pub async fn consumers(&self) -> usize {
        let mut n = 0;
        for (_, store) in &self.logs {
            n += store
                .checkpoints()
                .await
                .unwrap_or_default()
                .iter()
                .filter(|(name, _)| name.contains('@'))
                .count();
        }
        n
    }

    /// Waits until every consumer of every service has handled every event of its source (at
    /// most `deadline`): how long that took, or what was still behind.
    pub async fn caught_up(&self, deadline: Duration) -> Result<Duration, BTreeMap<String, usize>> {
        let start = Instant::now();
        let mut shown = 0;
        loop {
            let behind = self.behind().await;
            if behind.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= deadline {
                return Err(behind);
            }
            if start.elapsed().as_secs() / 5 != shown {
                shown = start.elapsed().as_secs() / 5;
                eprintln!(
                    "waiting {:?} for the downstream: {behind:?}",
                    start.elapsed()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// PostgreSQL's `CHECKPOINT` (SQLite: the WAL checkpointed into the database), on every
    /// log, so a measured phase does not pay for the set-up's writes.
    pub async fn checkpoint(databases: &Databases) {
        for url in [
            &databases.catalog,
            &databases.reservations,
            &databases.notifications,
            &databases.settlement,
        ] {
            Self::checkpoint_url(url).await;
        }
    }

    /// [`Logs::checkpoint`] of one log.
    pub async fn checkpoint_url(url: &str) {
        let statement = if url.starts_with("postgres") {
            "CHECKPOINT"
        } else {
            "PRAGMA wal_checkpoint(TRUNCATE)"
        };
        let result = if url.starts_with("postgres") {
            match sqlx::PgPool::connect(url).await {
                Ok(pool) => sqlx::query(statement).execute(&pool).await.map(|_| ()),
                Err(e) => Err(e),
            }
        } else {
            match sqlx::SqlitePool::connect(url).await {
                Ok(pool) => sqlx::query(statement).execute(&pool).await.map(|_| ()),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            eprintln!("{statement} failed: {e}");
        }
    }
}

/// Events after `at`, up to 10,000 (at least 1: the checkpoint is behind its head).
async fn count_after(log: &dyn EventStore, at: Position) -> usize {
    yeyak::admin::events_after(log, at, 10_000)
        .await
        .unwrap_or(0)
        .max(1)
}

/// This process's resident memory now and at its peak, in MiB (`/proc/self/status`).
pub fn rss_mib() -> (f64, f64) {
    process_rss_mib("self")
}

/// A process's resident memory now and at its peak, in MiB (`/proc/<pid>/status`).
pub fn process_rss_mib(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
