//! Capacity is never oversold, whatever the concurrency: many customers race for one schedule.
use std::sync::Arc;

use tonic::Code;
use yeyak_eventlog::{EventStore, testing};
use yeyak_kit::clock::ControlledClock;
use yeyak_reservations::{
    api::refusal::failure,
    app::{Reservations, streams},
    domain::inventory::Pool,
    testing::{book, customer, open_schedule},
};

const CAPACITY: u32 = 20;
const CUSTOMERS: usize = 500;

async fn many_customers_race_for_one_schedule(log: Arc<dyn EventStore>) {
    let app = Reservations::new(log.clone(), ControlledClock::starting_now());
    let schedule = open_schedule(&app, CAPACITY).await;
    let mut tasks = Vec::new();
    for n in 0..CUSTOMERS {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            book(&app, &customer(&format!("customer-{n}")), &[(schedule, 1)]).await
        }));
    }
    let (mut booked, mut sold_out) = (0, 0);
    for task in tasks {
        match task.await.expect("task").map_err(failure) {
            Ok(_) => booked += 1,
            Err(s)
                if s.code() == Code::FailedPrecondition
                    && yeyak_kit::status::reason(&s).as_deref() == Some("SOLD_OUT") =>
            {
                sold_out += 1
            }
            Err(s) => panic!("unexpected refusal {s:?}"),
        }
    }
    assert_eq!(booked, CAPACITY as usize, "exactly the capacity is booked");
    assert_eq!(
        sold_out,
        CUSTOMERS - CAPACITY as usize,
        "every other booking is a clear sold out"
    );
    let unit = Pool::Unit(schedule.to_string());
    let inventory = app.inventory(&unit).await.expect("inventory");
    assert_eq!(inventory.held(), CAPACITY);
    let reserved = log
        .read_stream(&streams::pool(&unit), 1, 1000)
        .await
        .expect("read");
    assert_eq!(
        reserved.len(),
        1 + CAPACITY as usize,
        "opened + one reservation per seat, nothing more"
    );
}

/// Two application instances (two replicas) over one log: they meet only at the expected-version
/// check of the inventory stream, which alone must prevent overselling. Each is built on its own
/// (clones of one instance would share its booking lanes, which queue bookings in-process).
async fn two_replicas_race_for_one_schedule(log: Arc<dyn EventStore>) {
    let clock = ControlledClock::starting_now();
    let replicas = [
        Reservations::new(log.clone(), clock.clone()),
        Reservations::new(log.clone(), clock),
    ];
    let schedule = open_schedule(&replicas[0], CAPACITY).await;
    let mut tasks = Vec::new();
    for n in 0..60 {
        let app = replicas[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            book(&app, &customer(&format!("c-{n}")), &[(schedule, 1)]).await
        }));
    }
    let mut booked = 0;
    for task in tasks {
        match task.await.expect("task").map_err(failure) {
            Ok(_) => booked += 1,
            Err(s) => {
                let why = yeyak_kit::status::reason(&s).unwrap_or_default();
                assert!(
                    why == "SOLD_OUT" || why == "CONCURRENCY_CONFLICT",
                    "unexpected refusal {s:?}"
                );
            }
        }
    }
    let inventory = replicas[0]
        .inventory(&Pool::Unit(schedule.to_string()))
        .await
        .expect("inventory");
    assert!(
        booked <= CAPACITY as usize,
        "never more bookings than seats: {booked}"
    );
    assert_eq!(
        inventory.held() as usize,
        booked,
        "every success holds exactly its seat"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn booking_past_capacity_is_refused_under_concurrency_on_sqlite() {
    let log = yeyak_eventlog::connect(&testing::fresh_sqlite_url("oversell"))
        .await
        .expect("store");
    many_customers_race_for_one_schedule(log.clone()).await;
    two_replicas_race_for_one_schedule(log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn booking_past_capacity_is_refused_under_concurrency_on_postgres() {
    let Some(url) = testing::fresh_postgres_url("oversell").await else {
        return;
    };
    let log = yeyak_eventlog::connect(&url).await.expect("store");
    many_customers_race_for_one_schedule(log.clone()).await;
    two_replicas_race_for_one_schedule(log).await;
}
