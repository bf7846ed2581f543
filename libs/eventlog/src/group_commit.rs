//! Group commit: appends that arrive while a write transaction is busy share the next one, and
//! so one commit and one WAL flush.
//!
//! A batch runs in two phases inside one transaction (`common.rs`): first every member's checks
//! (dedupe row, stored event ids, stream locks, versions — each member sees the versions the
//! members before it will write), then every accepted member's writes. A member is answered
//! `Committed` only after the transaction that holds its events committed; when anything in the
//! batch fails (a write, the commit), every member that wrote is sent back to run alone in a
//! transaction of its own, which tells a commit that did happen (its event ids are stored) from
//! one that did not. A member whose checks fail (a version conflict, a reused request id) gets
//! its own refusal and never fails another member. Every member is answered once the batch's
//! transaction has ended, so one that retries after a conflict reads what the batch committed.
//!
//! Each committer has its own queue, and an append joins the queue of its first written
//! stream's committer ([`Group`]), so appends to one busy stream (a product's bookings, a
//! partner's messages) are batched together rather than spread over transactions that would
//! each wait for that stream's lock.
use std::{
    hash::{Hash, Hasher},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};

use crate::{AppendError, AppendRequest, AppendResult};

/// The most appends one transaction takes.
pub(crate) const MAX_BATCH: usize = 64;

/// Appends waiting for a committer; callers wait for their answer, so the queue stays short.
const QUEUE: usize = 4 * MAX_BATCH;

/// One append waiting for a batch.
pub(crate) struct Member {
    pub request: AppendRequest,
    pub reply: oneshot::Sender<Reply>,
}

/// A batch's answer to one member.
pub(crate) enum Reply {
    /// Final: committed with the batch, or refused by its checks.
    Done(Result<AppendResult, AppendError>),
    /// Run it alone, in a transaction of its own.
    Alone(AppendRequest),
}

impl Member {
    /// Answers the member; one that stopped waiting (its caller went away) needs no answer.
    pub fn answer(self, reply: Reply) {
        let _ = self.reply.send(reply);
    }

    pub fn alone(self) {
        let Member { request, reply } = self;
        let _ = reply.send(Reply::Alone(request));
    }
}

/// The committers' queues, one each. An append goes to the committer of the first stream it
/// writes (in stream order, the order it locks in): appends that would wait for each other's
/// lock on that stream share that committer's batches instead of contending across
/// transactions (a batch only tries its locks, so a member that finds one held runs alone).
pub(crate) struct Group {
    queues: Vec<mpsc::Sender<Member>>,
    stats: Arc<Stats>,
}

impl Group {
    /// `committers` queues, and for each the batches its committer takes.
    pub fn new(committers: usize) -> (Self, Vec<Batches>) {
        let stats = Arc::new(Stats::default());
        let (queues, batches) = (0..committers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                (
                    tx,
                    Batches {
                        rx,
                        stats: stats.clone(),
                    },
                )
            })
            .unzip();
        (Self { queues, stats }, batches)
    }

    /// Queues `member` for its committer.
    pub async fn send(&self, member: Member) -> Result<(), mpsc::error::SendError<Member>> {
        let queue = &self.queues[route(&member.request, self.queues.len())];
        queue.send(member).await
    }

    pub fn stats(&self) -> GroupCommits {
        self.stats.read()
    }

    /// Counts an append a batch sent back to run alone.
    pub fn ran_alone(&self) {
        self.stats.alone.fetch_add(1, Ordering::Relaxed);
    }
}

/// The committer of `request`: by its first written stream (its first read one when it
/// writes none).
fn route(request: &AppendRequest, committers: usize) -> usize {
    let first = request
        .streams
        .iter()
        .map(|s| s.stream_id.as_str())
        .min()
        .or_else(|| request.reads.iter().map(|r| r.stream_id.as_str()).min())
        .unwrap_or_default();
    let mut hasher = std::hash::DefaultHasher::new();
    first.hash(&mut hasher);
    (hasher.finish() % committers as u64) as usize
}

/// What one committer takes its batches from.
pub(crate) struct Batches {
    rx: mpsc::Receiver<Member>,
    stats: Arc<Stats>,
}

impl Batches {
    /// The next batch: waits for one append, then takes every one already waiting, up to
    /// [`MAX_BATCH`]. No linger: an append that finds the committer idle starts at once.
    pub async fn next(&mut self) -> Option<Vec<Member>> {
        let first = self.rx.recv().await?;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(member) => batch.push(member),
                Err(_) => break,
            }
        }
        self.stats.record(batch.len());
        Some(batch)
    }
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    appends: AtomicU64,
    largest: AtomicU64,
    alone: AtomicU64,
}

impl Stats {
    fn record(&self, size: usize) {
        let size = size as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.appends.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
        metrics::histogram!("yeyak_group_commit_batch_size").record(size as f64);
    }

    fn read(&self) -> GroupCommits {
        GroupCommits {
            batches: self.batches.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            alone: self.alone.load(Ordering::Relaxed),
        }
    }
}

/// How a store's appends were grouped so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommits {
    /// Transactions the committers opened.
    pub batches: u64,
    /// Appends they took.
    pub appends: u64,
    /// The most appends one transaction took.
    pub largest: u64,
    /// Appends a batch sent back to run in a transaction of their own (a lock held elsewhere,
    /// a repeated id, a batch that failed).
    pub alone: u64,
}
