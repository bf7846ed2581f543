//! Scheduled work happens exactly once: a `Requested` reservation nobody answers expires across a
//! scheduler restart, with racing schedulers, and with its index handled twice; a free
//! reservation completes by itself the day after use; work filed while a scheduler closes its
//! bucket is still done. On SQLite and PostgreSQL. The schedulers
//! read the app's clock, which the tests set: nothing waits for time to pass.
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use uuid::Uuid;
use yeyak_eventlog::{AppendError, AppendRequest, EventStore, Position, testing};
use yeyak_kit::clock::ControlledClock;
use yeyak_proto::catalog::events::v1::ConfirmationMode;
use yeyak_reservations::{
    app::{
        Reservations,
        scheduling::{DueIndex, Scheduler},
        streams,
    },
    domain::{
        inventory::Pool,
        reservation::{ReservationCommand, State},
    },
    testing::{act, book, customer, open_schedule_with, ops},
};
use yeyak_transport::EventHandler;

/// A reservation booked over `log`, with the app, its clock and the unit.
struct Booked {
    app: Reservations,
    clock: Arc<ControlledClock>,
    unit: Uuid,
    booked: yeyak_proto::reservations::events::v1::ReservationBooked,
}

/// Opens a unit in `mode` and books `quantity` seats of it as `customer`.
async fn booked(
    log: &Arc<dyn EventStore>,
    mode: ConfirmationMode,
    who: &str,
    quantity: u32,
) -> Booked {
    let clock = ControlledClock::starting_now();
    let app = Reservations::new(log.clone(), clock.clone());
    let unit = open_schedule_with(&app, 5, mode).await;
    let (r, _) = book(&app, &customer(who), &[(unit, quantity)])
        .await
        .expect("booked");
    Booked {
        app,
        clock,
        unit,
        booked: r.booked.expect("booked"),
    }
}

/// Runs the due-work index over the whole log, twice (a redelivery must change nothing).
async fn index(app: &Reservations) {
    let index = DueIndex::new(app.runner().clone());
    let events = app
        .log()
        .read_all(Position::START, 10_000)
        .await
        .expect("read");
    for _ in 0..2 {
        for e in &events {
            index.handle(e).await.expect("indexed");
        }
    }
}

async fn expires_exactly_once_across_restarts(log: Arc<dyn EventStore>) {
    let Booked {
        app,
        clock,
        unit,
        booked: b,
    } = booked(&log, ConfirmationMode::Approval, "c-1", 2).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    index(&app).await;

    // Before it is due nothing happens; the scheduler then stops (a restart).
    clock.set(due - 1);
    let mut first = Scheduler::new(app.clone());
    assert_eq!(first.tick().await.expect("tick"), 0);
    drop(first);

    // Two schedulers (a restarted one and a replica) race once it is due: one expiry.
    clock.set(due);
    let (mut a, mut b2) = (Scheduler::new(app.clone()), Scheduler::new(app.clone()));
    let (x, y) = tokio::join!(a.tick(), b2.tick());
    assert_eq!(
        x.expect("tick") + y.expect("tick"),
        1,
        "expired exactly once"
    );
    clock.set(due + 3_600_000_000);
    assert_eq!(a.tick().await.expect("tick"), 0);

    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Expired));
    let inventory = app
        .inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory");
    assert_eq!(inventory.remaining(), 5, "the seats came back");
    let expired = log
        .read_stream(&streams::reservation(id), 1, 100)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.event_type.ends_with("ReservationExpired"))
        .count();
    assert_eq!(expired, 1);
}

async fn an_answered_request_does_not_expire(log: Arc<dyn EventStore>) {
    let Booked {
        app,
        clock,
        booked: b,
        ..
    } = booked(&log, ConfirmationMode::Approval, "c-2", 1).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    act(&app, &ops(), id, ReservationCommand::Confirm)
        .await
        .expect("confirmed");
    index(&app).await;
    clock.set(due);
    assert_eq!(Scheduler::new(app.clone()).tick().await.expect("tick"), 0);
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Confirmed));
}

async fn a_free_reservation_completes_the_day_after_use(log: Arc<dyn EventStore>) {
    let Booked {
        app,
        clock,
        booked: b,
        ..
    } = booked(&log, ConfirmationMode::Instant, "c-3", 1).await;
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    let start = yeyak_proto::time::to_micros(b.starts_at.as_ref().unwrap()).unwrap();
    index(&app).await;
    let next_day = yeyak_kit::kst::date_of(start).unwrap().tomorrow().unwrap();
    let due = yeyak_kit::kst::kst()
        .to_timestamp(next_day.to_datetime(jiff::civil::Time::midnight()))
        .unwrap()
        .as_microsecond();
    let mut scheduler = Scheduler::new(app.clone());
    clock.set(due - 1);
    assert_eq!(
        scheduler.tick().await.expect("tick"),
        0,
        "not before the day after use"
    );
    clock.set(due);
    assert_eq!(scheduler.tick().await.expect("tick"), 1);
    clock.set(due + 1);
    assert_eq!(Scheduler::new(app.clone()).tick().await.expect("tick"), 0);
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Completed));
}

/// Before the due index's first append, moves the clock two hours past the work's due time and
/// lets a scheduler tick: it closes every bucket up to then, the one the work was decided into
/// among them, while the filing is between its decision and its append.
struct ClosesBeforeTheFiling {
    scheduler: tokio::sync::Mutex<Scheduler>,
    clock: Arc<ControlledClock>,
    late: i64,
    fired: AtomicBool,
}

#[async_trait::async_trait]
impl testing::BeforeAppend for ClosesBeforeTheFiling {
    async fn before_append(
        &self,
        _inner: &dyn EventStore,
        request: &AppendRequest,
    ) -> Result<(), AppendError> {
        let filing = request
            .streams
            .iter()
            .any(|s| s.stream_id.starts_with("due-"));
        if !filing || self.fired.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.clock.set(self.late);
        let done = self.scheduler.lock().await.tick().await.expect("tick");
        assert_eq!(done, 0, "nothing was filed yet");
        Ok(())
    }
}

async fn work_filed_while_a_scheduler_closes_its_bucket_is_still_done(log: Arc<dyn EventStore>) {
    let Booked {
        app,
        clock,
        booked: b,
        ..
    } = booked(&log, ConfirmationMode::Approval, "c-4", 1).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    let hook = Arc::new(testing::Intercepted {
        inner: log.clone(),
        hook: ClosesBeforeTheFiling {
            scheduler: tokio::sync::Mutex::new(Scheduler::new(app.clone())),
            clock: clock.clone(),
            late: due + 2 * 3_600_000_000,
            fired: AtomicBool::new(false),
        },
    });
    let hooked: Arc<dyn EventStore> = hook.clone();
    let filing = Reservations::new(hooked, clock.clone());
    index(&filing).await;
    assert!(
        hook.hook.fired.load(Ordering::SeqCst),
        "the scheduler closed the buckets between the filing's decision and its append"
    );
    // Without the cursor check the work sits in a closed bucket that no scheduler reads again.
    assert_eq!(
        Scheduler::new(app.clone()).tick().await.expect("tick"),
        1,
        "the work filed late is done"
    );
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Expired));
}

/// Before the scheduler's close of the buckets, files the work into one of them (a replica of
/// the index whose clock is behind): after the scheduler read the bucket, before it closed it.
struct FiledBeforeTheClose {
    filing: Reservations,
    fired: AtomicBool,
}

#[async_trait::async_trait]
impl testing::BeforeAppend for FiledBeforeTheClose {
    async fn before_append(
        &self,
        _inner: &dyn EventStore,
        request: &AppendRequest,
    ) -> Result<(), AppendError> {
        let closing = request
            .streams
            .iter()
            .any(|s| s.stream_id == streams::DUE_CURSOR);
        if closing && !self.fired.swap(true, Ordering::SeqCst) {
            index(&self.filing).await;
        }
        Ok(())
    }
}

async fn work_filed_after_the_scheduler_read_its_bucket_is_not_closed_away(
    log: Arc<dyn EventStore>,
) {
    let Booked { booked: b, .. } = booked(&log, ConfirmationMode::Approval, "c-5", 1).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    let (late, behind) = (
        ControlledClock::starting_now(),
        ControlledClock::starting_now(),
    );
    late.set(due + 2 * 3_600_000_000);
    behind.set(due);
    let hook = Arc::new(testing::Intercepted {
        inner: log.clone(),
        hook: FiledBeforeTheClose {
            filing: Reservations::new(log.clone(), behind),
            fired: AtomicBool::new(false),
        },
    });
    let hooked: Arc<dyn EventStore> = hook.clone();
    let scheduling = Reservations::new(hooked, late);
    let mut scheduler = Scheduler::new(scheduling);
    assert_eq!(
        scheduler.tick().await.expect("tick"),
        0,
        "nothing filed yet"
    );
    assert!(
        hook.hook.fired.load(Ordering::SeqCst),
        "the work was filed between the scheduler's read of its bucket and the close"
    );
    // Without the close's check the cursor moves past the bucket the work is in.
    assert_eq!(
        scheduler.tick().await.expect("tick"),
        1,
        "the work filed before the close is done"
    );
    let app = Reservations::new(log.clone(), ControlledClock::starting_now());
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Expired));
}

#[tokio::test]
async fn scheduled_work_on_sqlite() {
    let fresh = || async {
        yeyak_eventlog::connect(&testing::fresh_sqlite_url("scheduled"))
            .await
            .expect("store")
    };
    expires_exactly_once_across_restarts(fresh().await).await;
    an_answered_request_does_not_expire(fresh().await).await;
    a_free_reservation_completes_the_day_after_use(fresh().await).await;
    work_filed_while_a_scheduler_closes_its_bucket_is_still_done(fresh().await).await;
    work_filed_after_the_scheduler_read_its_bucket_is_not_closed_away(fresh().await).await;
}

#[tokio::test]
async fn scheduled_work_on_postgres() {
    let fresh = || async {
        let url = testing::fresh_postgres_url("scheduled").await?;
        Some(yeyak_eventlog::connect(&url).await.expect("store"))
    };
    let Some(log) = fresh().await else {
        return;
    };
    expires_exactly_once_across_restarts(log).await;
    an_answered_request_does_not_expire(fresh().await.expect("postgres")).await;
    a_free_reservation_completes_the_day_after_use(fresh().await.expect("postgres")).await;
    work_filed_while_a_scheduler_closes_its_bucket_is_still_done(fresh().await.expect("postgres"))
        .await;
    work_filed_after_the_scheduler_read_its_bucket_is_not_closed_away(
        fresh().await.expect("postgres"),
    )
    .await;
}
