//! Capacity is never oversold, whatever the concurrency: many customers race for one schedule.
use std::sync::Arc;

use tonic::Code;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, testing};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_reservations::{app::Reservations, testing::open_schedule};

const CAPACITY: u32 = 20;
const CUSTOMERS: usize = 500;

async fn many_customers_race_for_one_schedule(log: Arc<dyn EventStore>) {
    let schedule = open_schedule(log.clone(), CAPACITY).await;
    let app = Reservations::new(log.clone());
    let mut tasks = Vec::new();
    for n in 0..CUSTOMERS {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let caller = Caller {
                subject: format!("customer-{n}"),
                role: Role::Customer,
                partner_id: None,
                places: PlaceScope::All,
            };
            app.book(
                &caller,
                Uuid::new_v4(),
                &[(schedule, 1)],
                vec![],
                yeyak_proto::reservations::events::v1::PaymentMethod::Unspecified,
            )
            .await
        }));
    }
    let (mut booked, mut sold_out) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
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
    let (inventory, _) = app
        .inventory(&schedule.to_string())
        .await
        .expect("inventory");
    assert_eq!(inventory.held(), CAPACITY);
    let reserved = log
        .read_stream(&format!("inventory-{schedule}"), 1, 1000)
        .await
        .expect("read");
    assert_eq!(
        reserved.len(),
        1 + CAPACITY as usize,
        "opened + one reservation per seat, nothing more"
    );
}

/// Two application instances (two replicas) over one log: they meet only at the expected-version
/// check of the inventory stream, which alone must prevent overselling.
async fn two_replicas_race_for_one_schedule(log: Arc<dyn EventStore>) {
    let schedule = open_schedule(log.clone(), CAPACITY).await;
    let replicas = [
        Reservations::new(log.clone()),
        Reservations::new(log.clone()),
    ];
    let mut tasks = Vec::new();
    for n in 0..60 {
        let app = replicas[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            let caller = Caller {
                subject: format!("c-{n}"),
                role: Role::Customer,
                partner_id: None,
                places: PlaceScope::All,
            };
            app.book(
                &caller,
                Uuid::new_v4(),
                &[(schedule, 1)],
                vec![],
                yeyak_proto::reservations::events::v1::PaymentMethod::Unspecified,
            )
            .await
        }));
    }
    let mut booked = 0;
    for task in tasks {
        match task.await.expect("task") {
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
    let (inventory, _) = replicas[0]
        .inventory(&schedule.to_string())
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
