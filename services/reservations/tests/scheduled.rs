//! Scheduled work happens exactly once: a `Requested` reservation nobody answers expires across a
//! scheduler restart, with racing schedulers, and with its index handled twice; a free
//! reservation completes by itself the day after use. On SQLite and PostgreSQL.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_proto::catalog::events::v1::ConfirmationMode;
use yeyak_reservations::{
    app::{Reservations, reservation_stream},
    domain::reservation::State,
    scheduled::{DueIndex, Scheduler},
    testing::open_schedule_with,
};
use yeyak_transport::EventHandler;

/// Opens a unit in `mode` and books `quantity` seats of it as `customer`.
async fn booked(
    log: &Arc<dyn EventStore>,
    mode: ConfirmationMode,
    customer: &str,
    quantity: u32,
) -> (
    Reservations,
    Uuid,
    yeyak_proto::reservations::events::v1::ReservationBooked,
) {
    let unit = open_schedule_with(log.clone(), 5, mode).await;
    let app = Reservations::new(log.clone());
    let caller = Caller {
        subject: customer.into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    };
    let (r, _) = app
        .book(
            &caller,
            Uuid::new_v4(),
            &[(unit, quantity)],
            vec![],
            yeyak_proto::reservations::events::v1::PaymentMethod::Unspecified,
        )
        .await
        .expect("booked");
    (app, unit, r.booked.expect("booked"))
}

/// Runs the expiry index over the whole log, twice (a redelivery must change nothing).
async fn index(log: &Arc<dyn EventStore>) {
    let index = DueIndex::new(log.clone());
    let events = log.read_all(Position::START, 10_000).await.expect("read");
    for _ in 0..2 {
        for e in &events {
            index.handle(e).await.expect("indexed");
        }
    }
}

async fn expires_exactly_once_across_restarts(log: Arc<dyn EventStore>) {
    let (app, unit, b) = booked(&log, ConfirmationMode::Approval, "c-1", 2).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    index(&log).await;

    // Before it is due nothing happens; the scheduler then stops (a restart).
    let mut first = Scheduler::new(log.clone());
    assert_eq!(first.tick(due - 1).await.expect("tick"), 0);
    drop(first);

    // Two schedulers (a restarted one and a replica) race once it is due: one expiry.
    let (mut a, mut b2) = (Scheduler::new(log.clone()), Scheduler::new(log.clone()));
    let (x, y) = tokio::join!(a.tick(due), b2.tick(due));
    assert_eq!(
        x.expect("tick") + y.expect("tick"),
        1,
        "expired exactly once"
    );
    assert_eq!(a.tick(due + 3_600_000_000).await.expect("tick"), 0);

    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Expired));
    let (inventory, _) = app.inventory(&unit.to_string()).await.expect("inventory");
    assert_eq!(inventory.remaining(), 5, "the seats came back");
    let expired = log
        .read_stream(&reservation_stream(id), 1, 100)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.event_type.ends_with("ReservationExpired"))
        .count();
    assert_eq!(expired, 1);
}

async fn an_answered_request_does_not_expire(log: Arc<dyn EventStore>) {
    let (app, _, b) = booked(&log, ConfirmationMode::Approval, "c-2", 1).await;
    let due = yeyak_proto::time::to_micros(b.expires_at.as_ref().unwrap()).unwrap();
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    let ops = Caller {
        subject: "ops".into(),
        role: Role::PlatformOps,
        partner_id: None,
        places: PlaceScope::All,
    };
    app.act(
        &ops,
        Uuid::new_v4(),
        id,
        yeyak_reservations::app::Action::Confirm,
    )
    .await
    .expect("confirmed");
    index(&log).await;
    assert_eq!(
        Scheduler::new(log.clone()).tick(due).await.expect("tick"),
        0
    );
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Confirmed));
}

async fn a_free_reservation_completes_the_day_after_use(log: Arc<dyn EventStore>) {
    let (app, _, b) = booked(&log, ConfirmationMode::Instant, "c-3", 1).await;
    let id = Uuid::parse_str(&b.reservation_id).unwrap();
    let start = yeyak_proto::time::to_micros(b.starts_at.as_ref().unwrap()).unwrap();
    index(&log).await;
    let next_day = yeyak_kit::kst::date_of(start).unwrap().tomorrow().unwrap();
    let due = yeyak_kit::kst::kst()
        .to_timestamp(next_day.to_datetime(jiff::civil::Time::midnight()))
        .unwrap()
        .as_microsecond();
    let mut scheduler = Scheduler::new(log.clone());
    assert_eq!(
        scheduler.tick(due - 1).await.expect("tick"),
        0,
        "not before the day after use"
    );
    assert_eq!(scheduler.tick(due).await.expect("tick"), 1);
    assert_eq!(
        Scheduler::new(log.clone())
            .tick(due + 1)
            .await
            .expect("tick"),
        0
    );
    let (r, _) = app.reservation(id).await.expect("reservation");
    assert_eq!(r.state, Some(State::Completed));
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
}
