//! A `Requested` reservation nobody answers expires exactly once: across a scheduler restart,
//! with racing schedulers, and with its index handled twice. On SQLite and PostgreSQL.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_proto::catalog::events::v1::ConfirmationMode;
use yeyak_reservations::{
    app::{Reservations, reservation_stream},
    domain::reservation::State,
    expiry::{ExpiryIndex, Scheduler},
    testing::open_schedule_with,
};
use yeyak_transport::EventHandler;

/// Runs the expiry index over the whole log, twice (a redelivery must change nothing).
async fn index(log: &Arc<dyn EventStore>) {
    let index = ExpiryIndex::new(log.clone());
    let events = log.read_all(Position::START, 10_000).await.expect("read");
    for _ in 0..2 {
        for e in &events {
            index.handle(e).await.expect("indexed");
        }
    }
}

async fn expires_exactly_once_across_restarts(log: Arc<dyn EventStore>) {
    let unit = open_schedule_with(log.clone(), 5, ConfirmationMode::Approval).await;
    let app = Reservations::new(log.clone());
    let customer = Caller {
        subject: "c-1".into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    };
    let (booked, _) = app
        .book(&customer, Uuid::new_v4(), unit, 2, vec![])
        .await
        .expect("booked");
    assert_eq!(booked.state, Some(State::Requested));
    let b = booked.booked.clone().unwrap();
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
    let unit = open_schedule_with(log.clone(), 5, ConfirmationMode::Approval).await;
    let app = Reservations::new(log.clone());
    let customer = Caller {
        subject: "c-2".into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    };
    let (booked, _) = app
        .book(&customer, Uuid::new_v4(), unit, 1, vec![])
        .await
        .expect("booked");
    let b = booked.booked.unwrap();
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

#[tokio::test]
async fn expiry_on_sqlite() {
    let log = yeyak_eventlog::connect(&testing::fresh_sqlite_url("expiry"))
        .await
        .expect("store");
    expires_exactly_once_across_restarts(log.clone()).await;
    an_answered_request_does_not_expire(log).await;
}

#[tokio::test]
async fn expiry_on_postgres() {
    let Some(url) = testing::fresh_postgres_url("expiry").await else {
        return;
    };
    let log = yeyak_eventlog::connect(&url).await.expect("store");
    expires_exactly_once_across_restarts(log.clone()).await;
    an_answered_request_does_not_expire(log).await;
}
