//! When a worker over a log looks again (a scheduler, a sender): on every commit to the log,
//! when the business clock jumps (a test's controlled clock), and at least every `tick`.
use std::time::Duration;

use tokio::sync::watch;
use yeyak_eventlog::EventStore;

use crate::{CancellationToken, clock::Clock};

/// The signals a worker wakes on.
pub struct Wake {
    commits: watch::Receiver<u64>,
    jumps: Option<watch::Receiver<i64>>,
    tick: Duration,
}

impl Wake {
    pub fn new(log: &dyn EventStore, clock: &dyn Clock, tick: Duration) -> Self {
        Self {
            commits: log.commits(),
            jumps: clock.jumps(),
            tick,
        }
    }

    /// Waits for the next look; `false` once `shutdown` is cancelled.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> bool {
        let jumped = async {
            match self.jumps.as_mut() {
                Some(j) => {
                    let _ = j.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = self.commits.changed() => true,
            _ = jumped => true,
            _ = tokio::time::sleep(self.tick) => true,
        }
    }
}
