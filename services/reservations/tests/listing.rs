//! The reservation list is a projection: filtered by state, paged, and rebuilt from position 0
//! to the same result. On SQLite and PostgreSQL.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_proto::{catalog::events::v1::ConfirmationMode, reservations::v1::ReservationState};
use yeyak_reservations::{
    app::{Action, Reservations},
    listing::{self, Filter, ReservationList},
    testing::open_schedule_with,
};
use yeyak_transport::EventHandler;

/// Runs the list's consumer over the whole log, from position 0.
async fn project(log: &Arc<dyn EventStore>) {
    let list = ReservationList::new(log.clone());
    for e in log.read_all(Position::START, 10_000).await.expect("read") {
        list.handle(&e).await.expect("projected");
    }
}

async fn rebuilding_the_list_from_position_0_gives_the_same_list(log: Arc<dyn EventStore>) {
    let unit = open_schedule_with(log.clone(), 10, ConfirmationMode::Approval).await;
    let app = Reservations::new(log.clone());
    let ops = Caller {
        subject: "ops".into(),
        role: Role::PlatformOps,
        partner_id: None,
        places: PlaceScope::All,
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        let customer = Caller {
            subject: format!("c-{n}"),
            role: Role::Customer,
            partner_id: None,
            places: PlaceScope::All,
        };
        let (r, _) = app
            .book(
                &customer,
                Uuid::new_v4(),
                &[(unit, 1)],
                vec![],
                yeyak_proto::reservations::events::v1::PaymentMethod::Unspecified,
            )
            .await
            .expect("booked");
        ids.push(r.booked.expect("booked"));
    }
    let id = |n: usize| Uuid::parse_str(&ids[n].reservation_id).unwrap();
    app.act(&ops, Uuid::new_v4(), id(0), Action::Confirm)
        .await
        .expect("confirm");
    app.act(
        &ops,
        Uuid::new_v4(),
        id(1),
        Action::Cancel {
            reason: String::new(),
            adjustment: None,
            line_numbers: vec![],
        },
    )
    .await
    .expect("cancel");
    let partner_id = Uuid::parse_str(&ids[0].partner_id).unwrap();
    let all = Filter {
        partner_id,
        limit: 100,
        ..Default::default()
    };
    project(&log).await;
    let (before, _) = listing::list(&*log, &all).await.expect("list");
    assert_eq!(before.len(), 5);
    assert_eq!(
        before.first().map(|r| r.reservation_id.as_str()),
        Some(ids[4].reservation_id.as_str()),
        "newest booking first"
    );
    let by_state = |state| Filter {
        state: Some(state),
        ..all.clone()
    };
    let (requested, _) = listing::list(&*log, &by_state(ReservationState::Requested))
        .await
        .expect("list");
    assert_eq!(requested.len(), 3);
    let (confirmed, _) = listing::list(&*log, &by_state(ReservationState::Confirmed))
        .await
        .expect("list");
    assert_eq!(confirmed[0].reservation_id, ids[0].reservation_id);

    // Paging: two, two, one.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = listing::list(
            &*log,
            &Filter {
                limit: 2,
                after: after.clone(),
                ..all.clone()
            },
        )
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
    assert!(listing::list(&*log, &all).await.expect("list").0.is_empty());
    project(&log).await;
    let (after, _) = listing::list(&*log, &all).await.expect("list");
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
