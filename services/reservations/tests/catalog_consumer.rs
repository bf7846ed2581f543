//! What the reservations service makes of the catalog's product events.
use prost::Name;
use uuid::Uuid;
use yeyak_eventlog::{Metadata, Position, RecordedEvent, testing};
use yeyak_kit::{
    auth::{Caller, PlaceScope, Role},
    clock::ControlledClock,
};
use yeyak_proto::catalog::events::v1::{
    CapacityChanged, ConfirmationMode, InventoryMode, PaymentMode, PlacePaused, PlaceResumed,
    ProductApproved, ProductDefinition, ProductStatus, ProductStatusSet, ReservationSchedule,
    SchedulesAdded, UnitVisibility, VisibilitySet,
};
use yeyak_reservations::{
    api::refusal::failure,
    app::{Reservations, catalog_consumer::CatalogConsumer},
    domain::{
        cancellation::{Cancel, Canceller},
        inventory::Pool,
        reservation::{Reservation, ReservationCommand, State},
    },
    testing::{act, book, ops, request},
};
use yeyak_transport::EventHandler;

/// The time the tests' clocks show (2026-06-01T00:00:00Z); schedules start an hour later.
const NOW_US: i64 = 1_780_272_000_000_000;

fn recorded<M: prost::Message + Name>(message: &M) -> RecordedEvent {
    RecordedEvent {
        position: Position::START,
        event_id: Uuid::new_v4(),
        stream_id: "product-x".into(),
        stream_version: 1,
        event_type: M::full_name(),
        schema_version: yeyak_kit::events::SCHEMA_VERSION,
        payload: message.encode_to_vec(),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "operator:test".into(),
            occurred_at_us: 0,
            trace_context: None,
        },
        recorded_at_us: 0,
    }
}

fn unit(id: Uuid, capacity: u32, price: i64) -> ReservationSchedule {
    ReservationSchedule {
        reservation_schedule_id: id.to_string(),
        starts_at: Some(yeyak_proto::time::from_micros(NOW_US + 3_600_000_000)),
        capacity,
        price_krw: price,
        payment_mode: PaymentMode::ReservationOnly as i32,
        visible: true,
        inventory_key: id.to_string(),
        ..Default::default()
    }
}

fn approved(
    mode: InventoryMode,
    revision: u32,
    units: Vec<ReservationSchedule>,
) -> ProductApproved {
    ProductApproved {
        product_id: "p".into(),
        partner_id: "pa".into(),
        place_id: "pl".into(),
        revision,
        definition: Some(ProductDefinition {
            confirmation_mode: ConfirmationMode::Instant as i32,
            inventory_mode: mode as i32,
            reservation_schedules: units,
            ..Default::default()
        }),
    }
}

fn customer(n: u32) -> Caller {
    yeyak_reservations::testing::customer(&format!("c-{n}"))
}

/// Books `quantity` seats of a free unit as customer `n`, with a fresh request id.
async fn book_free(
    app: &Reservations,
    n: u32,
    unit: Uuid,
    quantity: u32,
) -> Result<(Reservation, u64), tonic::Status> {
    book(app, &customer(n), &[(unit, quantity)])
        .await
        .map_err(failure)
}

/// A reservations service over a fresh log, its clock at [`NOW_US`], and its catalog consumer.
async fn service() -> (CatalogConsumer, Reservations) {
    let log = yeyak_eventlog::connect(&testing::fresh_sqlite_url("catalog-consumer"))
        .await
        .expect("store");
    let app = Reservations::new(log, ControlledClock::at(NOW_US));
    (CatalogConsumer::new(app.runner().clone()), app)
}

/// The reason code of a failed command.
fn reason(e: yeyak_reservations::app::Error) -> String {
    yeyak_kit::status::reason(&failure(e)).unwrap_or_default()
}

/// The partner cancels `line_numbers` (all lines when empty), by the rule.
fn partner_cancel(line_numbers: Vec<u32>) -> ReservationCommand {
    ReservationCommand::Cancel(Cancel {
        by: Canceller::Partner,
        reason: String::new(),
        adjustment: None,
        line_numbers,
    })
}

/// A unit of `capacity` seats opened by an approval, with two of its seats booked.
async fn opened_with_two_held(capacity: u32, price: i64) -> (CatalogConsumer, Reservations, Uuid) {
    let (consumer, app) = service().await;
    let id = Uuid::new_v4();
    consumer
        .handle(&recorded(&approved(
            InventoryMode::PerReservationSchedule,
            1,
            vec![unit(id, capacity, price)],
        )))
        .await
        .expect("opened");
    book_free(&app, 1, id, 2).await.expect("booked");
    (consumer, app, id)
}

#[tokio::test]
async fn an_approval_opens_units_and_a_revision_changes_terms_but_keeps_what_is_held() {
    let (consumer, app, id) = opened_with_two_held(3, 10_000).await;
    consumer
        .handle(&recorded(&approved(
            InventoryMode::PerReservationSchedule,
            2,
            vec![unit(id, 3, 12_000)],
        )))
        .await
        .expect("revised");
    let inventory = app
        .inventory(&Pool::Unit(id.to_string()))
        .await
        .expect("inventory");
    let opened = inventory.opened.clone().expect("open");
    assert_eq!((opened.price_krw, opened.revision), (12_000, 2));
    assert_eq!(inventory.held(), 2, "the revision keeps the seats held");
}

#[tokio::test]
async fn a_capacity_change_applies_and_lowering_it_below_what_is_held_closes_the_unit() {
    let (consumer, app, id) = opened_with_two_held(5, 0).await;
    consumer
        .handle(&recorded(&CapacityChanged {
            product_id: "p".into(),
            inventory_key: id.to_string(),
            capacity: 1,
        }))
        .await
        .expect("changed");
    let inventory = app
        .inventory(&Pool::Unit(id.to_string()))
        .await
        .expect("inventory");
    assert_eq!((inventory.held(), inventory.remaining()), (2, 0));
    let refusal = book_free(&app, 2, id, 1).await.expect_err("closed");
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("SOLD_OUT")
    );
}

#[tokio::test]
async fn schedules_of_a_draft_open_nothing() {
    let (consumer, app) = service().await;
    let drafted = Uuid::new_v4();
    consumer
        .handle(&recorded(&SchedulesAdded {
            product_id: "p".into(),
            reservation_schedules: vec![unit(drafted, 5, 0)],
            live: false,
            inventory_mode: InventoryMode::PerReservationSchedule as i32,
            ..Default::default()
        }))
        .await
        .expect("handled");
    let inventory = app
        .inventory(&Pool::Unit(drafted.to_string()))
        .await
        .expect("inventory");
    assert!(
        inventory.opened.is_none(),
        "a draft's schedule stays closed"
    );
}

#[tokio::test]
async fn status_pause_and_visibility_from_the_catalog_gate_bookings() {
    let (consumer, app, id) = opened_with_two_held(10, 0).await;
    let refused = |app: Reservations| async move {
        let s = book_free(&app, 9, id, 1).await.expect_err("refused");
        yeyak_kit::status::reason(&s).unwrap_or_default()
    };
    let handle = |m: RecordedEvent| {
        let consumer = &consumer;
        async move { consumer.handle(&m).await.expect("handled") }
    };
    handle(recorded(&ProductStatusSet {
        product_id: "p".into(),
        status: ProductStatus::Ended as i32,
    }))
    .await;
    assert_eq!(refused(app.clone()).await, "PRODUCT_ENDED");
    handle(recorded(&ProductStatusSet {
        product_id: "p".into(),
        status: ProductStatus::Open as i32,
    }))
    .await;
    handle(recorded(&PlacePaused {
        place_id: "pl".into(),
    }))
    .await;
    assert_eq!(refused(app.clone()).await, "PLACE_PAUSED");
    handle(recorded(&PlaceResumed {
        place_id: "pl".into(),
    }))
    .await;
    handle(recorded(&VisibilitySet {
        product_id: "p".into(),
        units: vec![UnitVisibility {
            reservation_schedule_id: id.to_string(),
            visible: false,
        }],
        ..Default::default()
    }))
    .await;
    assert_eq!(refused(app.clone()).await, "SCHEDULE_HIDDEN");
}

fn pooled_unit(id: Uuid, key: &str, price_id: &str) -> ReservationSchedule {
    ReservationSchedule {
        inventory_key: key.into(),
        price_id: price_id.into(),
        ..unit(id, 100, 0)
    }
}

#[tokio::test]
async fn units_sharing_a_pool_never_oversell_it_and_a_cancel_gives_back_to_the_pool() {
    let (consumer, app) = service().await;
    let (adult, child) = (Uuid::new_v4(), Uuid::new_v4());
    let mut product = approved(
        InventoryMode::PerDateTime,
        1,
        vec![
            pooled_unit(adult, "slot-1", "adult"),
            pooled_unit(child, "slot-1", "child"),
        ],
    );
    let def = product.definition.as_mut().unwrap();
    def.inventory_pools = vec![yeyak_proto::catalog::events::v1::InventoryPool {
        inventory_key: "slot-1".into(),
        capacity: 5,
    }];
    consumer.handle(&recorded(&product)).await.expect("opened");
    let mut tasks = Vec::new();
    for n in 0..40u32 {
        let app = app.clone();
        let unit = if n % 2 == 0 { adult } else { child };
        tasks.push(tokio::spawn(
            async move { book_free(&app, n, unit, 1).await },
        ));
    }
    let mut sold = Vec::new();
    for t in tasks {
        if let Ok((r, _)) = t.await.expect("task") {
            sold.push(r.booked.expect("booked"));
        }
    }
    assert_eq!(sold.len(), 5, "two prices share the slot's 5 seats");
    act(
        &app,
        &ops(),
        Uuid::parse_str(&sold[0].reservation_id).unwrap(),
        partner_cancel(vec![]),
    )
    .await
    .expect("cancelled");
    book_free(&app, 99, child, 1)
        .await
        .expect("the seat came back to the pool");
}

#[tokio::test]
async fn reservations_of_several_lines_never_oversell_a_shared_pool_and_a_partial_cancel_gives_back_its_line()
 {
    let (consumer, app) = service().await;
    let (adult, child) = (Uuid::new_v4(), Uuid::new_v4());
    let starts_at = Some(yeyak_proto::time::from_micros(NOW_US + 3_600_000_000));
    let paid = |id, key: &str, price_id: &str, price| ReservationSchedule {
        starts_at,
        payment_mode: PaymentMode::PayAtBooking as i32,
        price_krw: price,
        ..pooled_unit(id, key, price_id)
    };
    let mut product = approved(
        InventoryMode::PerDateTime,
        1,
        vec![
            paid(adult, "slot-1", "adult", 30_000),
            paid(child, "slot-1", "child", 10_000),
        ],
    );
    product.definition.as_mut().unwrap().inventory_pools =
        vec![yeyak_proto::catalog::events::v1::InventoryPool {
            inventory_key: "slot-1".into(),
            capacity: 10,
        }];
    consumer.handle(&recorded(&product)).await.expect("opened");
    // 30 families of 2 adults and 1 child race for 10 seats: 3 families fit.
    let mut tasks = Vec::new();
    for n in 0..30u32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            // Paid by Kakao Pay card.
            book(&app, &customer(n), &[(adult, 2), (child, 1)]).await
        }));
    }
    let (mut sold, mut refusals) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.expect("task") {
            Ok((r, _)) => sold.push(r),
            Err(e) => refusals.push(reason(e)),
        }
    }
    assert_eq!(sold.len(), 3, "3 × 3 seats of 10: {refusals:?}");
    assert!(refusals.iter().all(|r| r == "SOLD_OUT"), "{refusals:?}");
    let pool = Pool::Shared {
        product_id: "p".into(),
        key: "slot-1".into(),
    };
    let held = || async { app.inventory(&pool).await.expect("pool").held() };
    assert_eq!(held().await, 9);
    let family = sold[0].booked.clone().expect("booked");
    assert_eq!((family.lines.len(), family.paid_krw), (2, 70_000));
    // The partner cancels the child's line only: its seat and its 10 000 won come back.
    let reservation_id = Uuid::parse_str(&family.reservation_id).unwrap();
    let (request, _) = request(&ops(), "cancel line 2");
    let cancel_child = || partner_cancel(vec![2]);
    let (after, version) = app
        .act(&ops(), &request, reservation_id, cancel_child())
        .await
        .expect("partial cancel");
    assert_eq!(after.state, Some(State::Confirmed));
    assert_eq!((after.live_quantity(), after.refunded_krw), (2, 10_000));
    assert_eq!(held().await, 8, "only the child's seat came back");
    let payment = app.payment(reservation_id).await.expect("payment");
    assert_eq!(
        payment.owed.values().map(|o| o.amount_krw).sum::<i64>(),
        10_000,
        "the cancelled line's payment is refunded"
    );
    // A retry of the same request appends nothing.
    let (_, again) = app
        .act(&ops(), &request, reservation_id, cancel_child())
        .await
        .expect("retry");
    assert_eq!(again, version);
    assert_eq!(held().await, 8);
}

#[tokio::test]
async fn a_price_maximum_caps_the_price_across_schedules() {
    let (consumer, app) = service().await;
    let (monday, tuesday) = (Uuid::new_v4(), Uuid::new_v4());
    let mut product = approved(
        InventoryMode::PerDate,
        1,
        vec![
            pooled_unit(monday, "date-mon", "adult"),
            pooled_unit(tuesday, "date-tue", "adult"),
        ],
    );
    let def = product.definition.as_mut().unwrap();
    def.inventory_pools = ["date-mon", "date-tue"]
        .map(|k| yeyak_proto::catalog::events::v1::InventoryPool {
            inventory_key: k.into(),
            capacity: 10,
        })
        .to_vec();
    def.prices = vec![yeyak_proto::catalog::events::v1::Price {
        price_id: "adult".into(),
        max_quantity: 3,
        ..Default::default()
    }];
    consumer.handle(&recorded(&product)).await.expect("opened");
    book_free(&app, 1, monday, 2).await.expect("two on monday");
    let refusal = book_free(&app, 2, tuesday, 2)
        .await
        .expect_err("the price's maximum is 3 across days");
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("SOLD_OUT")
    );
    book_free(&app, 3, tuesday, 1).await.expect("the third");
    // Capacity changes of a pool land on the pool.
    consumer
        .handle(&recorded(&CapacityChanged {
            product_id: "p".into(),
            inventory_key: "date-mon".into(),
            capacity: 2,
        }))
        .await
        .expect("changed");
    let pool = app
        .inventory(&Pool::Shared {
            product_id: "p".into(),
            key: "date-mon".into(),
        })
        .await
        .expect("pool");
    assert_eq!((pool.capacity(), pool.remaining()), (2, 0));
}

#[tokio::test]
async fn a_unit_a_revision_drops_is_switched_off() {
    let (consumer, app) = service().await;
    let (kept, dropped) = (Uuid::new_v4(), Uuid::new_v4());
    consumer
        .handle(&recorded(&approved(
            InventoryMode::PerReservationSchedule,
            1,
            vec![unit(kept, 5, 0), unit(dropped, 5, 0)],
        )))
        .await
        .expect("opened");
    consumer
        .handle(&recorded(&approved(
            InventoryMode::PerReservationSchedule,
            2,
            vec![unit(kept, 5, 0)],
        )))
        .await
        .expect("revised");
    let refusal = book_free(&app, 1, dropped, 1).await.expect_err("dropped");
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("SCHEDULE_HIDDEN")
    );
    book_free(&app, 2, kept, 1)
        .await
        .expect("the kept unit is bookable");
}

#[tokio::test]
async fn operators_are_learned_from_the_catalog_and_checked_on_every_operator_call() {
    use tonic::Code;
    use yeyak_kit::access::OperatorDirectory;
    use yeyak_proto::catalog::events::v1::{OperatorAccepted, OperatorInvited, OperatorRole};
    let (consumer, app) = service().await;
    // The operators are learned by the kit's directory, a consumer of the catalog's events.
    let directory = OperatorDirectory::new(app.runner().clone(), yeyak_reservations::SOURCE);
    let (partner, place, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // A request waiting for the partner at each of two of its places.
    let mut requested = Vec::new();
    for (product_id, place_id) in [("p", place), ("p-other", other)] {
        let id = Uuid::new_v4();
        let mut product = ProductApproved {
            product_id: product_id.into(),
            partner_id: partner.to_string(),
            place_id: place_id.to_string(),
            ..approved(
                InventoryMode::PerReservationSchedule,
                1,
                vec![unit(id, 5, 0)],
            )
        };
        product.definition.as_mut().unwrap().confirmation_mode = ConfirmationMode::Approval as i32;
        consumer.handle(&recorded(&product)).await.expect("opened");
        let (r, _) = book_free(&app, 1, id, 1).await.expect("requested");
        requested.push(Uuid::parse_str(&r.booked.expect("booked").reservation_id).unwrap());
    }
    let (at_place, at_other) = (requested[0], requested[1]);
    let operator = Caller {
        subject: "mina".into(),
        role: Role::PartnerOperator,
        partner_id: Some(partner),
        places: PlaceScope::All,
    };
    // Confirming handles a reservation; reading it is checked the same way.
    let confirm = |id| act(&app, &operator, id, ReservationCommand::Confirm);
    let read = |id| app.get(&operator, id, None);
    let refusal = |r: Result<(Reservation, u64), yeyak_reservations::app::Error>| {
        let s = failure(r.expect_err("refused"));
        (s.code(), yeyak_kit::status::reason(&s).unwrap_or_default())
    };
    let not_known = (Code::Unavailable, "PARTNER_NOT_KNOWN_YET".to_string());
    assert_eq!(
        refusal(confirm(at_place).await),
        not_known,
        "not learned yet: retry"
    );
    assert_eq!(refusal(read(at_place).await), not_known);
    directory
        .handle(&recorded(&OperatorInvited {
            partner_id: partner.to_string(),
            operator_id: "mina".into(),
            role: OperatorRole::Member as i32,
            all_places: false,
            place_ids: vec![place.to_string()],
        }))
        .await
        .expect("invited");
    let inactive = (Code::PermissionDenied, "NOT_AN_ACTIVE_OPERATOR".to_string());
    assert_eq!(
        refusal(confirm(at_place).await),
        inactive,
        "active from acceptance"
    );
    assert_eq!(refusal(read(at_place).await), inactive);
    directory
        .handle(&recorded(&OperatorAccepted {
            partner_id: partner.to_string(),
            operator_id: "mina".into(),
        }))
        .await
        .expect("accepted");
    let (confirmed, _) = confirm(at_place)
        .await
        .expect("an active member handles its place");
    assert_eq!(confirmed.state, Some(State::Confirmed));
    read(at_place).await.expect("and reads it");
    let elsewhere = (Code::PermissionDenied, "PLACE_NOT_GRANTED".to_string());
    assert_eq!(refusal(confirm(at_other).await), elsewhere);
    assert_eq!(refusal(read(at_other).await), elsewhere);
}

#[tokio::test]
async fn a_hot_pool_shared_by_ten_units_sells_exactly_its_seats_and_every_refusal_is_sold_out() {
    let (consumer, app) = service().await;
    let units: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let mut product = approved(
        InventoryMode::PerDate,
        1,
        units
            .iter()
            .enumerate()
            .map(|(n, id)| pooled_unit(*id, "date-1", &format!("price-{n}")))
            .collect(),
    );
    product.definition.as_mut().unwrap().inventory_pools =
        vec![yeyak_proto::catalog::events::v1::InventoryPool {
            inventory_key: "date-1".into(),
            capacity: 20,
        }];
    consumer.handle(&recorded(&product)).await.expect("opened");
    let tasks: Vec<_> = (0..200u32)
        .map(|n| {
            let (app, unit) = (app.clone(), units[n as usize % units.len()]);
            tokio::spawn(async move { book_free(&app, n, unit, 1).await })
        })
        .collect();
    let (mut sold, mut refusals) = (0, Vec::new());
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => sold += 1,
            Err(s) => refusals.push(yeyak_kit::status::reason(&s).unwrap_or_default()),
        }
    }
    assert_eq!(sold, 20);
    assert!(
        refusals.iter().all(|r| r == "SOLD_OUT"),
        "bookings of units sharing a pool queue together instead of exhausting their retries: {:?}",
        refusals
            .iter()
            .filter(|r| *r != "SOLD_OUT")
            .collect::<Vec<_>>()
    );
}
