//! Durable scheduled work: unanswered `Requested` reservations expire exactly once, even across
//! restarts and replicas.
//!
//! - [`ExpiryIndex`], a consumer of this service's own log, files every `ReservationBooked` that
//!   carries an expiry under the UTC hour it is due in (`expiries-<YYYYMMDDHH>`), with its inbox
//!   row: the index survives restarts and never files one twice.
//! - [`Scheduler`] reads the buckets from the first one not yet done (`expiry-cursor`) up to the
//!   current hour and expires what is due. Expiring appends to the reservation stream with its
//!   expected version and an event id derived from the reservation, so two schedulers, or one
//!   that restarts mid-way, cannot expire a reservation twice; an answered reservation is left
//!   alone. A bucket whose hour has passed and whose expiries are all handled is marked done.
use std::{collections::HashMap, sync::Arc, time::Duration};

use tonic::Status;
use uuid::Uuid;
use yeyak_eventlog::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use yeyak_kit::{
    CancellationToken,
    events::{Cause, decode_as, derived_id, encode, expected},
    status::from_store,
};
use yeyak_proto::{
    reservations::events::v1::{ExpiryBucketDone, ExpiryPending, ReservationBooked},
    time::{from_micros, to_micros},
};
use yeyak_transport::{EventHandler, HandlerError};

use crate::app::Reservations;

const HOUR_US: i64 = 3_600_000_000;
/// How far back a scheduler that has never marked a bucket done looks: longer than any expiry.
const FIRST_LOOKBACK_HOURS: i64 = 8 * 24;
/// The longest a scheduler waits between two looks at the current bucket.
const TICK: Duration = Duration::from_secs(1);

fn bucket_of(us: i64) -> i64 {
    us.div_euclid(HOUR_US)
}

/// `expiries-<YYYYMMDDHH>` of an hour bucket.
pub fn bucket_stream(bucket: i64) -> String {
    let label = jiff::Timestamp::from_microsecond(bucket * HOUR_US)
        .map(|t| t.strftime("%Y%m%d%H").to_string())
        .unwrap_or_else(|_| bucket.to_string());
    format!("expiries-{label}")
}

const CURSOR: &str = "expiry-cursor";

/// Files each expiring reservation under the hour it is due in.
pub struct ExpiryIndex {
    log: Arc<dyn EventStore>,
}

impl ExpiryIndex {
    pub const NAME: &'static str = "reservations-expiry-index";

    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self { log }
    }
}

#[async_trait::async_trait]
impl EventHandler for ExpiryIndex {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(booked) = decode_as::<ReservationBooked>(event)
            .map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        let Some(due) = booked.expires_at.as_ref().and_then(to_micros) else {
            return Ok(());
        };
        let pending = ExpiryPending {
            reservation_id: booked.reservation_id,
            due_at: Some(from_micros(due)),
        };
        let cause = Cause::reaction(Self::NAME, event);
        let id = derived_id(Self::NAME, &event.event_id.to_string(), 0);
        let request = AppendRequest::single(
            bucket_stream(bucket_of(due)),
            ExpectedVersion::Any,
            vec![encode(id, &pending, &cause)],
        )
        .with_inbox(Self::NAME, event.event_id);
        HandlerError::from_append(self.log.append(request).await)
    }
}

/// Expires what is due.
pub struct Scheduler {
    app: Reservations,
    log: Arc<dyn EventStore>,
    /// Expiries read per bucket, and how far each bucket was read.
    read: HashMap<i64, (Vec<ExpiryPending>, u64)>,
}

impl Scheduler {
    pub fn new(log: Arc<dyn EventStore>) -> Self {
        Self {
            app: Reservations::new(log.clone()),
            log,
            read: HashMap::new(),
        }
    }

    /// The first bucket not marked done, and the cursor stream's version.
    async fn cursor(&self, now_us: i64) -> Result<(i64, Option<u64>), Status> {
        let (done, version) = self.app.latest::<ExpiryBucketDone>(CURSOR).await?;
        Ok((
            done.map_or(bucket_of(now_us) - FIRST_LOOKBACK_HOURS, |d| d.bucket + 1),
            version,
        ))
    }

    async fn refresh(&mut self, bucket: i64) -> Result<&[ExpiryPending], Status> {
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
                    decode_as::<ExpiryPending>(e).map_err(|e| Status::internal(e.to_string()))?
                {
                    pending.push(p);
                }
            }
            if page.len() < 512 {
                return Ok(pending);
            }
        }
    }

    /// Expires every reservation due by `now_us`; returns how many this call expired. Moves the
    /// cursor past the buckets whose hour has passed and whose expiries are all handled.
    pub async fn tick(&mut self, now_us: i64) -> Result<usize, Status> {
        let (first, cursor_version) = self.cursor(now_us).await?;
        let current = bucket_of(now_us);
        let mut expired = 0;
        let mut done = None;
        let mut all_handled = true;
        for bucket in first..=current {
            let due: Vec<String> = self
                .refresh(bucket)
                .await?
                .iter()
                .filter(|p| {
                    p.due_at
                        .as_ref()
                        .and_then(to_micros)
                        .is_some_and(|d| d <= now_us)
                })
                .map(|p| p.reservation_id.clone())
                .collect();
            for id in due {
                match self
                    .app
                    .expire(Uuid::parse_str(&id).unwrap_or_default(), now_us)
                    .await
                {
                    Ok(true) => expired += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(reservation_id = %id, error = %e, "expiry failed; retried on the next tick");
                        all_handled = false;
                    }
                }
            }
            if bucket < current && all_handled {
                done = Some(bucket);
                self.read.remove(&bucket);
            }
        }
        if let Some(bucket) = done {
            let cause = Cause::command("service:expiry".into(), Uuid::nil(), now_us);
            let id = derived_id(CURSOR, &bucket.to_string(), 0);
            let request = AppendRequest::single(
                CURSOR,
                expected(cursor_version),
                vec![encode(id, &ExpiryBucketDone { bucket }, &cause)],
            );
            // Another scheduler may have moved it first: the next tick reads it again.
            if let Err(e) = self.log.append(request).await {
                tracing::debug!(error = %e, "expiry cursor not moved");
            }
        }
        Ok(expired)
    }

    /// Ticks until `shutdown`: on every commit to the log, and at least every second.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Status> {
        let mut commits = self.log.commits();
        loop {
            if let Err(e) = self.tick(jiff::Timestamp::now().as_microsecond()).await {
                tracing::warn!(error = %e, "expiry tick failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = commits.changed() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}
