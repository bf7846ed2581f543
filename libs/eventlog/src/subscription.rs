//! Following the whole log: catch up from a position, then wait for commits.
use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{EventStore, Position, RecordedEvent, StoreError};

/// A catch-up subscription to a log. It wakes on the store's commit signal and polls as a
/// fallback, so events committed by other processes are seen even without a signal.
pub struct Subscription {
    store: Arc<dyn EventStore>,
    after: Position,
    commits: watch::Receiver<u64>,
    poll: Duration,
    batch: usize,
}

impl Subscription {
    pub fn new(store: Arc<dyn EventStore>, after: Position) -> Self {
        let commits = store.commits();
        Self {
            store,
            after,
            commits,
            poll: Duration::from_millis(250),
            batch: 256,
        }
    }

    /// How often to look for new events when no commit signal arrives.
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The most events one [`Subscription::next_batch`] returns.
    pub fn batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The most events one batch holds: a batch shorter than this read up to the log's head.
    pub fn batch_limit(&self) -> usize {
        self.batch
    }

    /// The position after the last event returned.
    pub fn position(&self) -> Position {
        self.after
    }

    /// The next committed events, waiting until there is at least one.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        // After a commit signal, the events may still be invisible: on PostgreSQL, readers wait
        // for every older transaction in the cluster to end. Until something arrives, look again
        // soon instead of waiting for the next signal.
        let mut signalled = false;
        loop {
            // Mark the signal seen before reading, so a commit during the read wakes the next wait.
            self.commits.borrow_and_update();
            let batch = self.store.read_all(self.after, self.batch).await?;
            if let Some(last) = batch.last() {
                self.after = last.position;
                return Ok(batch);
            }
            let wait = if signalled {
                SIGNALLED_RETRY.min(self.poll)
            } else {
                self.poll
            };
            match tokio::time::timeout(wait, self.commits.changed()).await {
                Ok(Ok(())) => signalled = true,
                Err(_) => {}
                // The signal's sender is gone: keep polling on the interval.
                Ok(Err(_)) => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// How soon to look again when a commit was signalled but nothing was visible yet.
const SIGNALLED_RETRY: Duration = Duration::from_millis(20);
