//! The reservation list is a projection: filtered by state, paged, and rebuilt from position 0
//! to the same result. On SQLite and PostgreSQL.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::clock::ControlledClock;
use yeyak_proto::catalog::events::v1::ConfirmationMode;
use yeyak_reservations::{
    app::{
        Reservations,
        listing::{self, Filter, ReservationList},
    },
    domain::{
        cancellation::{Cancel, Canceller},
        reservation::{ReservationCommand, State},
    },
    testing::{act, book, customer, open_schedule_with, ops},
};
use yeyak_transport::EventHandler;

/// Runs the list's consumer over the whole log, from position 0.
async fn project(app: &Reservations) {
    let list = ReservationList::new(app.clone());
    for e in app
        .log()
        .read_all(Position::START, 10_000)
        .await
        .expect("read")
    {
        list.handle(&e).await.expect("projected");
    }
}

/// The reservation id of a list row.
fn id_of(row: &(yeyak_reservations::domain::reservation::Reservation, u64)) -> &str {
    &row.0
        .booked
        .as_ref()
        .expect("a listed reservation is booked")
        .reservation_id
}

async fn rebuilding_the_list_from_position_0_gives_the_same_list(log: Arc<dyn EventStore>) {
    let clock = ControlledClock::starting_now();
    let app = Reservations::new(log.clone(), clock.clone());
    let unit = open_schedule_with(&app, 10, ConfirmationMode::Approval).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        // A second between bookings: the list orders by the time booked.
        clock.advance(1_000_000);
        let (r, _) = book(&app, &customer(&format!("c-{n}")), &[(unit, 1)])
            .await
            .expect("booked");
        ids.push(r.booked.expect("booked"));
    }
    let id = |n: usize| Uuid::parse_str(&ids[n].reservation_id).unwrap();
    act(&app, &ops(), id(0), ReservationCommand::Confirm)
        .await
        .expect("confirm");
    act(
        &app,
        &ops(),
        id(1),
        ReservationCommand::Cancel(Cancel {
            by: Canceller::Partner,
            reason: String::new(),
            adjustment: None,
            line_numbers: vec![],
        }),
    )
    .await
    .expect("cancel");
    let partner_id = Uuid::parse_str(&ids[0].partner_id).unwrap();
    let all = Filter {
        partner_id,
        limit: 100,
        ..Default::default()
    };
    project(&app).await;
    let (before, _) = app.list(&all).await.expect("list");
    assert_eq!(before.len(), 5);
    assert_eq!(
        before.first().map(id_of),
        Some(ids[4].reservation_id.as_str()),
        "newest booking first"
    );
    let by_state = |state| Filter {
        state: Some(state),
        ..all.clone()
    };
    let (requested, _) = app.list(&by_state(State::Requested)).await.expect("list");
    assert_eq!(requested.len(), 3);
    let (confirmed, _) = app.list(&by_state(State::Confirmed)).await.expect("list");
    assert_eq!(id_of(&confirmed[0]), ids[0].reservation_id);

    // Paging: two, two, one.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = app
            .list(&Filter {
                limit: 2,
                after: after.clone(),
                ..all.clone()
            })
            .await
            .expect("page");
        pages.push(page.len());
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages.iter().sum::<usize>(), 5);

    // Drop the read model and its checkpoint, rebuild from position 0: the same list.
    log.reset_projection(listing::PROJECTION, &ReservationList::checkpoint())
        .await
        .expect("reset");
    assert!(app.list(&all).await.expect("list").0.is_empty());
    project(&app).await;
    let (after, _) = app.list(&all).await.expect("list");
    assert_eq!(after, before, "rebuilding gives identical results");
}

#[tokio::test]
async fn listing_on_sqlite() {
    let log = yeyak_eventlog::connect(&testing::fresh_sqlite_url("listing"))
        .await
        .expect("store");
    rebuilding_the_list_from_position_0_gives_the_same_list(log).await;
}

#[tokio::test]
async fn listing_on_postgres() {
    let Some(url) = testing::fresh_postgres_url("listing").await else {
        return;
    };
    let log = yeyak_eventlog::connect(&url).await.expect("store");
    rebuilding_the_list_from_position_0_gives_the_same_list(log).await;
}
