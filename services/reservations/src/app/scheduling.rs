//! Durable scheduled work, done exactly once even across restarts and replicas: unanswered
//! `Requested` reservations expire; free and reservation-only reservations complete the day
//! after their use; refunds go through the payment gateway, retried for up to 3 business days.
//!
//! - [`DueIndex`], a consumer of this service's own log, files the work each event implies
//!   ([`crate::domain::due_work`]) under the UTC hour it is due in, with its inbox row: the
//!   index survives restarts and never files one twice. It files into the bucket of the later of
//!   the due time and its own clock, never at or before the last closed bucket, and its append
//!   checks that the cursor did not move since it decided: work filed while a scheduler closes
//!   buckets is filed again after them, never into a closed one. A bucket closes
//!   [`CLOSE_GRACE_US`] after its hour.
//! - [`Scheduler`] reads the buckets from the first one not yet done (the cursor) up to the
//!   current hour and does what is due, through the command runner with origins derived from the
//!   work, so two schedulers, or one that restarts mid-way, cannot do it twice. A bucket whose
//!   hour has passed and whose work is all handled is marked done, unless work was filed into it
//!   since the scheduler read it (the close checks every bucket it closes unchanged).
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    CancellationToken,
    command::{Command, Decision, Error as Failed, Origin, Reads, Runner},
    events::{DecodeError, EventSet, decode_as, derived_id},
    wake::Wake,
};
use yeyak_proto::{
    reservations::events::v1::{
        DueBucketDone, RefundFailed, RefundRequested, ReservationBooked, ScheduledWork, WorkKind,
    },
    time::{from_micros, to_micros},
};
use yeyak_transport::{EventHandler, HandlerError};

use super::{Error, Reservations, streams};
use crate::domain::{ReservationError, due_work, reservation::ReservationCommand};

const HOUR_US: i64 = 3_600_000_000;
/// How far back a scheduler that has never marked a bucket done looks: longer than any wait.
const FIRST_LOOKBACK_HOURS: i64 = 8 * 24;
/// The longest a scheduler waits between two looks at the current bucket.
const TICK: Duration = Duration::from_secs(1);
/// A bucket is closed only this long after its hour ended.
pub const CLOSE_GRACE_US: i64 = 10 * 60 * 1_000_000;

fn bucket_of(us: i64) -> i64 {
    us.div_euclid(HOUR_US)
}

/// Files work into hour buckets, after whatever they hold.
struct File {
    work: Vec<ScheduledWork>,
}

#[async_trait::async_trait]
impl Command for File {
    /// The last bucket a scheduler closed.
    type State = Option<DueBucketDone>;
    type Output = ();
    type Error = ReservationError;

    /// The cursor is read, so the append checks it: a scheduler that closes buckets between
    /// this decision and its append makes it decide again.
    async fn load(
        &self,
        reads: &mut Reads<'_>,
    ) -> Result<Option<DueBucketDone>, Failed<ReservationError>> {
        Ok(reads.latest::<DueBucketDone>(streams::DUE_CURSOR).await?)
    }

    fn decide(
        &self,
        closed: Option<DueBucketDone>,
        now_us: i64,
    ) -> Result<Decision<()>, Failed<ReservationError>> {
        let first_open = closed.map_or(i64::MIN, |d| d.bucket + 1);
        Ok(self.work.iter().fold(Decision::new(()), |d, item| {
            let due = item.due_at.as_ref().and_then(to_micros).unwrap_or(0);
            // Never into a closed bucket, nor one whose hour has passed (a scheduler may close
            // it). The bucket only decides when the work is read; `due_at` still says when it
            // is due.
            let bucket = bucket_of(due.max(now_us)).max(first_open);
            d.emit_unordered(streams::due(bucket), item)
        }))
    }
}

/// Files the work each booking and refund implies under the hour it is due in.
pub struct DueIndex {
    runner: Runner,
}

impl DueIndex {
    pub const NAME: &'static str = "reservations-due-index";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

yeyak_kit::event_set! {
    /// The events that leave work for later.
    enum Leaves {
        Booked(ReservationBooked),
        RefundRequested(RefundRequested),
        RefundFailed(RefundFailed),
    }
}

/// The work `event` leaves, each item due when [`due_work`] says.
fn work_of(event: &RecordedEvent) -> Result<Vec<ScheduledWork>, DecodeError> {
    let item = |reservation_id: &str, kind: WorkKind, due: i64, reference: String| ScheduledWork {
        reservation_id: reservation_id.to_string(),
        due_at: Some(from_micros(due)),
        kind: kind as i32,
        reference,
    };
    Ok(match Leaves::decode(event)? {
        Some(Leaves::Booked(booked)) => due_work::of_booking(&booked)
            .into_iter()
            .map(|(kind, due)| item(&booked.reservation_id, kind, due, String::new()))
            .collect(),
        // A refund request is known by its event id.
        Some(Leaves::RefundRequested(r)) => vec![item(
            &r.reservation_id,
            WorkKind::Refund,
            due_work::of_refund_request(&r),
            event.event_id.to_string(),
        )],
        Some(Leaves::RefundFailed(f)) => vec![item(
            &f.reservation_id,
            WorkKind::Refund,
            due_work::of_failed_refund(&f),
            f.request_id.clone(),
        )],
        None => vec![],
    })
}

#[async_trait::async_trait]
impl EventHandler for DueIndex {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// Filing appends after whatever a bucket holds and reads only the cursor: the events of
    /// different reservations (the default ordering key) are filed at once.
    fn concurrency(&self) -> usize {
        16
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let work = work_of(event).map_err(|e| HandlerError::Poison(e.to_string()))?;
        if work.is_empty() {
            return Ok(());
        }
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &File { work })
            .await?;
        Ok(())
    }
}

/// Marks a bucket done, and every one before it; the cursor only moves forward.
struct Close {
    bucket: i64,
    /// Each bucket it closes, with the version the scheduler read it at: one filed into since
    /// is not closed (its append checks each bucket unchanged since this command read it).
    seen: Vec<(i64, u64)>,
}

#[async_trait::async_trait]
impl Command for Close {
    /// The last bucket closed, and whether any bucket to close was filed into since the
    /// scheduler read it.
    type State = (Option<DueBucketDone>, bool);
    type Output = ();
    type Error = ReservationError;

    async fn load(
        &self,
        reads: &mut Reads<'_>,
    ) -> Result<(Option<DueBucketDone>, bool), Failed<ReservationError>> {
        let done = reads.latest::<DueBucketDone>(streams::DUE_CURSOR).await?;
        let mut moved = false;
        for (bucket, seen) in &self.seen {
            let stream = streams::due(*bucket);
            reads.fold(&stream, (), |_, _| Ok(())).await?;
            moved |= reads.version(&stream).flatten().unwrap_or(0) > *seen;
        }
        Ok((done, moved))
    }

    fn decide(
        &self,
        (done, moved): (Option<DueBucketDone>, bool),
        _now_us: i64,
    ) -> Result<Decision<()>, Failed<ReservationError>> {
        if moved || done.is_some_and(|d| d.bucket >= self.bucket) {
            return Ok(Decision::new(()));
        }
        let done = DueBucketDone {
            bucket: self.bucket,
        };
        Ok(Decision::new(()).emit(streams::DUE_CURSOR, &done))
    }
}

type WorkKey = (String, i32, String, i64);

/// Does what is due.
pub struct Scheduler {
    app: Reservations,
    /// Work read per bucket, and how far each bucket was read.
    read: HashMap<i64, (Vec<ScheduledWork>, u64)>,
    /// Per open bucket, the work this scheduler already saw through (done, or nothing left).
    handled: HashMap<i64, HashSet<WorkKey>>,
}

impl Scheduler {
    /// A scheduler working through `app` (its clock and its payment gateway).
    pub fn new(app: Reservations) -> Self {
        Self {
            app,
            read: HashMap::new(),
            handled: HashMap::new(),
        }
    }

    /// The first bucket not marked done.
    async fn cursor(&self, now_us: i64) -> Result<i64, Error> {
        let done = Reads::new(&**self.app.log())
            .latest::<DueBucketDone>(streams::DUE_CURSOR)
            .await?;
        Ok(done.map_or(bucket_of(now_us) - FIRST_LOOKBACK_HOURS, |d| d.bucket + 1))
    }

    async fn refresh(&mut self, bucket: i64) -> Result<&[ScheduledWork], Error> {
        let (pending, seen) = self.read.entry(bucket).or_default();
        loop {
            let page = self
                .app
                .log()
                .read_stream(&streams::due(bucket), *seen + 1, 512)
                .await?;
            for e in &page {
                *seen = e.stream_version;
                if let Some(p) = decode_as::<ScheduledWork>(e).map_err(|e| Error::Load(e.into()))? {
                    pending.push(p);
                }
            }
            if page.len() < 512 {
                return Ok(pending);
            }
        }
    }

    /// Does all work due by the clock's now; returns how much this call did. Moves the cursor
    /// past the buckets whose hour has passed and whose work is all handled.
    pub async fn tick(&mut self) -> Result<usize, Error> {
        let now_us = self.app.now_us();
        let first = self.cursor(now_us).await?;
        let current = bucket_of(now_us);
        let closable = bucket_of(now_us - CLOSE_GRACE_US);
        let mut done_now = 0;
        let mut done = None;
        let mut closing = Vec::new();
        let mut all_handled = true;
        for bucket in first..=current {
            let handled = self.handled.get(&bucket).cloned().unwrap_or_default();
            let due: Vec<WorkKey> = self
                .refresh(bucket)
                .await?
                .iter()
                .filter_map(|p| {
                    let at = p.due_at.as_ref().and_then(to_micros)?;
                    (at <= now_us)
                        .then(|| (p.reservation_id.clone(), p.kind, p.reference.clone(), at))
                })
                .filter(|key| !handled.contains(key))
                .collect();
            for key in due {
                let reservation = Uuid::parse_str(&key.0).unwrap_or_default();
                let outcome = match WorkKind::try_from(key.1).unwrap_or_default() {
                    WorkKind::AutoComplete => {
                        self.app
                            .by_scheduler(reservation, ReservationCommand::AutoComplete)
                            .await
                    }
                    WorkKind::Refund => self.app.refund(reservation, &key.2).await,
                    _ => {
                        self.app
                            .by_scheduler(reservation, ReservationCommand::Expire)
                            .await
                    }
                };
                match outcome {
                    Ok(did) => {
                        done_now += usize::from(did);
                        self.handled.entry(bucket).or_default().insert(key);
                    }
                    Err(e) => {
                        tracing::warn!(reservation_id = %key.0, error = %e, "scheduled work failed; retried on the next tick");
                        all_handled = false;
                    }
                }
            }
            if bucket < closable && all_handled {
                done = Some(bucket);
                let seen = self.read.remove(&bucket).map_or(0, |(_, seen)| seen);
                closing.push((bucket, seen));
                self.handled.remove(&bucket);
            }
        }
        if let Some(bucket) = done {
            let origin = Origin::command(
                "service:scheduler",
                derived_id(streams::DUE_CURSOR, &bucket.to_string(), 0),
                b"",
            );
            // Another scheduler may have moved it first, or work was filed since it was read:
            // the next tick reads it again.
            let close = Close {
                bucket,
                seen: closing,
            };
            if let Err(e) = self.app.runner().run(&origin, &close).await {
                tracing::debug!(error = %e, "due cursor not moved");
            }
        }
        Ok(done_now)
    }

    /// Ticks until `shutdown`: on every commit to the log, when the clock jumps (a test's), and
    /// at least every second.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let runner = self.app.runner().clone();
        let mut wake = Wake::new(&**runner.log(), &**runner.clock(), TICK);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "scheduler tick failed; retrying");
            }
            if !wake.next(&shutdown).await {
                return Ok(());
            }
        }
    }
}
