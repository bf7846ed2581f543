//! Durable scheduled work, done exactly once even across restarts and replicas: unanswered
//! `Requested` reservations expire; free and reservation-only reservations complete the day
//! after their use; refunds go through the payment gateway, retried for up to 3 business days.
//!
//! - [`DueIndex`], a consumer of this service's own log, files the work every `ReservationBooked`
//!   implies under the UTC hour it is due in (`due-<YYYYMMDDHH>`), with its inbox row: the index
//!   survives restarts and never files one twice.
//! - [`Scheduler`] reads the buckets from the first one not yet done (`due-cursor`) up to the
//!   current hour and does what is due. Doing it appends to the reservation stream with its
//!   expected version and an event id derived from the reservation, so two schedulers, or one
//!   that restarts mid-way, cannot do it twice; a reservation that moved on is left alone. A
//!   bucket whose hour has passed and whose work is all handled is marked done.
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use yeyak_kit::{
    CancellationToken,
    events::{Cause, decode_as, derived_id, encode, expected},
    status::from_store,
};
use yeyak_proto::{
    reservations::events::v1::{
        DueBucketDone, RefundFailed, RefundRequested, ReservationBooked, ScheduledWork, WorkKind,
    },
    time::{from_micros, to_micros},
};
use yeyak_transport::{EventHandler, HandlerError};

use crate::app::Reservations;

const HOUR_US: i64 = 3_600_000_000;
/// How far back a scheduler that has never marked a bucket done looks: longer than any wait.
const FIRST_LOOKBACK_HOURS: i64 = 8 * 24;
/// The longest a scheduler waits between two looks at the current bucket.
const TICK: Duration = Duration::from_secs(1);
/// A bucket is closed only this long after its hour ended, so work the index files late (it files
/// under the later of the due time and its own clock) still lands in an open bucket.
const CLOSE_GRACE_US: i64 = 10 * 60 * 1_000_000;

fn bucket_of(us: i64) -> i64 {
    us.div_euclid(HOUR_US)
}

/// `due-<YYYYMMDDHH>` of an hour bucket.
pub fn bucket_stream(bucket: i64) -> String {
    let label = jiff::Timestamp::from_microsecond(bucket * HOUR_US)
        .map(|t| t.strftime("%Y%m%d%H").to_string())
        .unwrap_or_else(|_| bucket.to_string());
    format!("due-{label}")
}

const CURSOR: &str = "due-cursor";

/// Files the work each booking implies under the hour it is due in.
pub struct DueIndex {
    log: Arc<dyn EventStore>,
}

impl DueIndex {
    pub const NAME: &'static str = "reservations-due-index";

    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }
}

#[async_trait::async_trait]
impl EventHandler for DueIndex {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let poison = |e: yeyak_kit::events::DecodeError| HandlerError::Poison(e.to_string());
        // (reservation, kind, due, reference) for each piece of work this event implies.
        let work: Vec<(String, WorkKind, i64, String)> =
            if let Some(booked) = decode_as::<ReservationBooked>(event).map_err(poison)? {
                work(&booked)
                    .into_iter()
                    .map(|(kind, due)| (booked.reservation_id.clone(), kind, due, String::new()))
                    .collect()
            } else if let Some(r) = decode_as::<RefundRequested>(event).map_err(poison)? {
                let due = r.requested_at.as_ref().and_then(to_micros).unwrap_or(0);
                vec![(
                    r.reservation_id,
                    WorkKind::Refund,
                    due,
                    event.event_id.to_string(),
                )]
            } else if let Some(f) = decode_as::<RefundFailed>(event).map_err(poison)? {
                let due = f.next_attempt_at.as_ref().and_then(to_micros).unwrap_or(0);
                vec![(f.reservation_id, WorkKind::Refund, due, f.request_id)]
            } else {
                return Ok(());
            };
        let cause = Cause::reaction(Self::NAME, event);
        let mut request = AppendRequest::default().with_inbox(Self::NAME, event.event_id);
        for (n, (reservation_id, kind, due, reference)) in work.into_iter().enumerate() {
            let item = ScheduledWork {
                reservation_id,
                due_at: Some(from_micros(due)),
                kind: kind as i32,
                reference,
            };
            let id = derived_id(Self::NAME, &event.event_id.to_string(), n as u32);
            // Never into a bucket whose hour has passed: a scheduler may have closed it. The
            // bucket only decides when the work is read; `due_at` still says when it is due.
            let filed_at = due.max(jiff::Timestamp::now().as_microsecond());
            request = request.and(
                bucket_stream(bucket_of(filed_at)),
                ExpectedVersion::Any,
                vec![encode(id, &item, &cause)],
            );
        }
        if request.streams.is_empty() {
            return Ok(());
        }
        HandlerError::from_append(self.log.append(request).await)
    }
}

/// The work a booking implies: its expiry while `Requested`, and, when nothing was paid, its
/// completion at 00:00 KST the day after its usage date.
pub fn work(booked: &ReservationBooked) -> Vec<(WorkKind, i64)> {
    let mut work = Vec::new();
    if let Some(due) = booked.expires_at.as_ref().and_then(to_micros) {
        work.push((WorkKind::Expire, due));
    }
    // The day after the use ends (a pass over several days completes after its last day).
    let last_moment = booked
        .ends_at
        .as_ref()
        .and_then(to_micros)
        .map(|end| end - 1)
        .or_else(|| booked.starts_at.as_ref().and_then(to_micros));
    if booked.paid_krw == 0
        && let Some(due) = last_moment.and_then(day_after_use)
    {
        work.push((WorkKind::AutoComplete, due));
    }
    work
}

/// 00:00 KST of the day after the KST date of `usage_start_us`.
fn day_after_use(usage_start_us: i64) -> Option<i64> {
    let next = yeyak_kit::kst::date_of(usage_start_us)?.tomorrow().ok()?;
    Some(
        yeyak_kit::kst::kst()
            .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
            .ok()?
            .as_microsecond(),
    )
}

/// Does what is due.
pub struct Scheduler {
    app: Reservations,
    log: Arc<dyn EventStore>,
    /// Work read per bucket, and how far each bucket was read.
    read: HashMap<i64, (Vec<ScheduledWork>, u64)>,
    /// Per open bucket, the work this scheduler already saw through (done, or nothing left).
    handled: HashMap<i64, HashSet<(String, i32, String, i64)>>,
}

impl Scheduler {
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self::with_app(log.clone(), Reservations::new(log))
    }

    /// A scheduler working through `app` (and its payment gateway).
    pub fn with_app(log: Arc<dyn EventStore>, app: Reservations) -> Self {
        Self {
            app,
            log,
            read: HashMap::new(),
            handled: HashMap::new(),
        }
    }

    /// The first bucket not marked done, and the cursor stream's version.
    async fn cursor(&self, now_us: i64) -> Result<(i64, Option<u64>), Status> {
        let (done, version) = self.app.latest::<DueBucketDone>(CURSOR).await?;
        Ok((
            done.map_or(bucket_of(now_us) - FIRST_LOOKBACK_HOURS, |d| d.bucket + 1),
            version,
        ))
    }

    async fn refresh(&mut self, bucket: i64) -> Result<&[ScheduledWork], Status> {
        let (pending, seen) = self.read.entry(bucket).or_default();
        loop {
            let page = self
                .log
                .read_stream(&bucket_stream(bucket), *seen + 1, 512)
                .await
                .map_err(from_store)?;
            for e in &page {
                *seen = e.stream_version;
                if let Some(p) =
                    decode_as::<ScheduledWork>(e).map_err(|e| Status::internal(e.to_string()))?
                {
                    pending.push(p);
                }
            }
            if page.len() < 512 {
                return Ok(pending);
            }
        }
    }

    /// Does all work due by `now_us`; returns how much this call did. Moves the cursor past the
    /// buckets whose hour has passed and whose work is all handled.
    pub async fn tick(&mut self, now_us: i64) -> Result<usize, Status> {
        let (first, cursor_version) = self.cursor(now_us).await?;
        let current = bucket_of(now_us);
        let closable = bucket_of(now_us - CLOSE_GRACE_US);
        let mut done_now = 0;
        let mut done = None;
        let mut all_handled = true;
        for bucket in first..=current {
            let due: Vec<(String, WorkKind, String, i64)> = self
                .refresh(bucket)
                .await?
                .iter()
                .filter(|p| {
                    p.due_at
                        .as_ref()
                        .and_then(to_micros)
                        .is_some_and(|d| d <= now_us)
                })
                .map(|p| {
                    (
                        p.reservation_id.clone(),
                        p.kind(),
                        p.reference.clone(),
                        p.due_at.as_ref().and_then(to_micros).unwrap_or(0),
                    )
                })
                .collect();
            let due: Vec<_> = due
                .into_iter()
                .filter(|(id, kind, reference, at)| {
                    !self.handled.get(&bucket).is_some_and(|h| {
                        h.contains(&(id.clone(), *kind as i32, reference.clone(), *at))
                    })
                })
                .collect();
            for (id, kind, reference, at) in due {
                let reservation = Uuid::parse_str(&id).unwrap_or_default();
                let done = match kind {
                    WorkKind::AutoComplete => self.app.auto_complete(reservation, now_us).await,
                    WorkKind::Refund => self.app.refund(reservation, &reference, now_us).await,
                    _ => self.app.expire(reservation, now_us).await,
                };
                if done.is_ok() {
                    self.handled.entry(bucket).or_default().insert((
                        id.clone(),
                        kind as i32,
                        reference.clone(),
                        at,
                    ));
                }
                match done {
                    Ok(true) => done_now += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(reservation_id = %id, error = %e, "scheduled work failed; retried on the next tick");
                        all_handled = false;
                    }
                }
            }
            if bucket < closable && all_handled {
                done = Some(bucket);
                self.read.remove(&bucket);
                self.handled.remove(&bucket);
            }
        }
        if let Some(bucket) = done {
            let cause = Cause::command("service:scheduler".into(), Uuid::nil(), now_us);
            let id = derived_id(CURSOR, &bucket.to_string(), 0);
            let request = AppendRequest::single(
                CURSOR,
                expected(cursor_version),
                vec![encode(id, &DueBucketDone { bucket }, &cause)],
            );
            // Another scheduler may have moved it first: the next tick reads it again.
            if let Err(e) = self.log.append(request).await {
                tracing::debug!(error = %e, "due cursor not moved");
            }
        }
        Ok(done_now)
    }

    /// Ticks until `shutdown`: on every commit to the log, and at least every second.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Status> {
        let mut commits = self.log.commits();
        loop {
            if let Err(e) = self.tick(jiff::Timestamp::now().as_microsecond()).await {
                tracing::warn!(error = %e, "scheduler tick failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = commits.changed() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}
