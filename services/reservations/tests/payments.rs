//! Payments through the gateway: a declined payment books nothing; a failed refund is retried
//! and, after 3 business days, credited to the customer's balance; an outage that ends refunds
//! once. The schedulers and refunds read the app's clock, which the tests set.
use std::sync::Arc;

use tonic::Code;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::{auth::Caller, clock::ControlledClock, command::Origin};
use yeyak_proto::{catalog::events::v1::ConfirmationMode, reservations::events::v1::PaymentMethod};
use yeyak_reservations::{
    api::refusal::failure,
    app::{
        Reservations,
        gateway::{SimulatedFailures, SimulatedGateway},
        scheduling::{DueIndex, Scheduler},
        streams,
    },
    domain::{
        cancellation::{Cancel, Canceller},
        inventory::Pool,
        payment::{business_days_after, next_attempt},
        reservation::ReservationCommand,
    },
    testing::{act, open_unit},
};
use yeyak_transport::EventHandler;

fn customer() -> Caller {
    yeyak_reservations::testing::customer("c-1")
}

async fn store() -> Arc<dyn EventStore> {
    yeyak_eventlog::connect(&testing::fresh_sqlite_url("payments"))
        .await
        .expect("store")
}

/// Books `lines` for the customer as request `request_id`, paid by `method`; `what` stands for
/// the request's body (a request with another body is another fingerprint).
async fn book(
    app: &Reservations,
    request_id: Uuid,
    what: &str,
    lines: &[(Uuid, u32)],
    method: PaymentMethod,
) -> Result<(yeyak_reservations::domain::reservation::Reservation, u64), tonic::Status> {
    let origin = Origin::command(customer().actor(), request_id, what.as_bytes());
    app.book(
        &customer(),
        &origin,
        request_id,
        lines.to_vec(),
        vec![],
        method,
    )
    .await
    .map_err(failure)
}

async fn index(app: &Reservations) {
    let index = DueIndex::new(app.runner().clone());
    for e in app
        .log()
        .read_all(Position::START, 10_000)
        .await
        .expect("read")
    {
        index.handle(&e).await.expect("indexed");
    }
}

#[tokio::test]
async fn a_declined_payment_leaves_no_reservation_and_holds_no_capacity() {
    let log = store().await;
    let gateway = Arc::new(SimulatedGateway::new(SimulatedFailures {
        declined_methods: [PaymentMethod::Points].into(),
        ..Default::default()
    }));
    let app = Reservations::with_gateway(
        log.clone(),
        ControlledClock::starting_now(),
        gateway.clone(),
    );
    let unit = open_unit(&app, 3, ConfirmationMode::Instant, 20_000).await;
    let request = Uuid::new_v4();
    let refusal = book(
        &app,
        request,
        "2 by points",
        &[(unit, 2)],
        PaymentMethod::Points,
    )
    .await
    .expect_err("declined");
    assert_eq!(refusal.code(), Code::FailedPrecondition);
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("PAYMENT_DECLINED")
    );
    let missing = book(
        &app,
        Uuid::new_v4(),
        "1 unpaid",
        &[(unit, 1)],
        PaymentMethod::Unspecified,
    )
    .await
    .expect_err("no method");
    assert_eq!(
        yeyak_kit::status::reason(&missing).as_deref(),
        Some("PAYMENT_METHOD_REQUIRED")
    );
    let inventory = app
        .inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory");
    assert_eq!(inventory.held(), 0, "no capacity held");
    let reservation_id = yeyak_kit::events::created_id("reservation", &customer().actor(), request);
    for stream in [
        streams::reservation(reservation_id),
        streams::payment(reservation_id),
    ] {
        assert!(
            log.read_stream(&stream, 1, 10)
                .await
                .expect("read")
                .is_empty(),
            "{stream} has nothing"
        );
    }
    let (booked, _) = book(
        &app,
        request,
        "2 by card",
        &[(unit, 2)],
        PaymentMethod::KakaoPayCard,
    )
    .await
    .expect("paid by card");
    let payment = app
        .payment(Uuid::parse_str(&booked.booked.unwrap().reservation_id).unwrap())
        .await
        .expect("payment");
    assert_eq!(payment.captured.map(|c| c.amount_krw), Some(40_000));
    assert_eq!(gateway.moved(), (1, 0));
}

/// A confirmed, paid reservation cancelled by its customer: a full refund is owed.
async fn cancelled_paid(app: &Reservations) -> (Uuid, i64) {
    let unit = open_unit(app, 3, ConfirmationMode::Instant, 15_000).await;
    let (booked, _) = book(
        app,
        Uuid::new_v4(),
        "1 by money",
        &[(unit, 1)],
        PaymentMethod::KakaoPayMoney,
    )
    .await
    .expect("booked");
    let id = Uuid::parse_str(&booked.booked.unwrap().reservation_id).unwrap();
    act(
        app,
        &customer(),
        id,
        ReservationCommand::Cancel(Cancel {
            by: Canceller::Customer,
            reason: String::new(),
            adjustment: None,
            line_numbers: vec![],
        }),
    )
    .await
    .expect("cancelled");
    let payment = app.payment(id).await.expect("payment");
    let requested = payment
        .owed
        .values()
        .next()
        .expect("a refund is owed")
        .requested_at_us;
    (id, requested)
}

/// A paid reservation cancelled while every refund fails.
struct Outage {
    clock: Arc<ControlledClock>,
    gateway: Arc<SimulatedGateway>,
    app: Reservations,
    id: Uuid,
    requested: i64,
}

async fn cancelled_during_a_refund_outage() -> Outage {
    let log = store().await;
    let gateway = Arc::new(SimulatedGateway::new(SimulatedFailures {
        refunds_unavailable: true,
        ..Default::default()
    }));
    let clock = ControlledClock::starting_now();
    let app = Reservations::with_gateway(log, clock.clone(), gateway.clone());
    let (id, requested) = cancelled_paid(&app).await;
    Outage {
        clock,
        gateway,
        app,
        id,
        requested,
    }
}

#[tokio::test]
async fn a_refund_failing_for_three_business_days_is_credited_to_the_balance() {
    let Outage {
        clock,
        gateway,
        app,
        id,
        requested,
    } = cancelled_during_a_refund_outage().await;
    let mut scheduler = Scheduler::new(app.clone());
    index(&app).await;
    clock.set(requested);
    assert_eq!(scheduler.tick().await.expect("tick"), 1);
    index(&app).await;
    clock.set(next_attempt(requested, 1));
    assert_eq!(scheduler.tick().await.expect("tick"), 1, "tried again");
    let payment = app.payment(id).await.expect("payment");
    assert_eq!((payment.refunded_krw, payment.pending_krw()), (0, 15_000));
    index(&app).await;
    let deadline = business_days_after(requested, 3);
    clock.set(deadline);
    assert_eq!(scheduler.tick().await.expect("tick"), 1);
    let payment = app.payment(id).await.expect("payment");
    assert_eq!(
        (payment.credited_krw, payment.pending_krw()),
        (15_000, 0),
        "환불적립 after 3 business days"
    );
    index(&app).await;
    clock.set(deadline + 1);
    assert_eq!(scheduler.tick().await.expect("tick"), 0);
    assert_eq!(
        gateway.moved().1,
        0,
        "no money moved back through the gateway"
    );
}

#[tokio::test]
async fn an_outage_that_ends_refunds_exactly_once() {
    let Outage {
        clock,
        gateway,
        app,
        id,
        requested,
    } = cancelled_during_a_refund_outage().await;
    index(&app).await;
    let mut scheduler = Scheduler::new(app.clone());
    clock.set(requested);
    scheduler.tick().await.expect("tick");
    gateway.set_failures(SimulatedFailures::default());
    index(&app).await;
    clock.set(next_attempt(requested, 1));
    let mut replica = Scheduler::new(app.clone());
    let (a, b) = tokio::join!(scheduler.tick(), replica.tick());
    assert_eq!(a.expect("tick") + b.expect("tick"), 1, "refunded once");
    let payment = app.payment(id).await.expect("payment");
    assert_eq!((payment.refunded_krw, payment.pending_krw()), (15_000, 0));
    assert_eq!(gateway.moved().1, 1);
}

/// Fails the first append that books a reservation, after the payment was taken.
struct FailFirstBooking(std::sync::atomic::AtomicBool);

#[async_trait::async_trait]
impl testing::BeforeAppend for FailFirstBooking {
    async fn before_append(
        &self,
        _inner: &dyn EventStore,
        request: &yeyak_eventlog::AppendRequest,
    ) -> Result<(), yeyak_eventlog::AppendError> {
        let booking = request.streams.iter().flat_map(|s| &s.events).any(|e| {
            e.event_type
                == <yeyak_proto::reservations::events::v1::ReservationBooked as prost::Name>::full_name()
        });
        if booking && !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(yeyak_eventlog::AppendError::Store(
                yeyak_eventlog::StoreError::Corrupt("injected: the database went away".into()),
            ));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_booking_that_fails_after_its_payment_holds_nothing_and_the_money_goes_back() {
    let inner = store().await;
    let log: Arc<dyn EventStore> = Arc::new(testing::Intercepted {
        inner,
        hook: FailFirstBooking(Default::default()),
    });
    let app = Reservations::new(log.clone(), ControlledClock::starting_now());
    let unit = open_unit(&app, 3, ConfirmationMode::Instant, 20_000).await;
    let (request, lines) = (Uuid::new_v4(), [(unit, 2)]);
    let attempt = || {
        book(
            &app,
            request,
            "2 by card",
            &lines,
            PaymentMethod::KakaoPayCard,
        )
    };
    attempt().await.expect_err("the append failed");
    let inventory = app
        .inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory");
    assert_eq!(inventory.held(), 0, "no seat is held");
    let reservation_id = yeyak_kit::events::created_id("reservation", &customer().actor(), request);
    assert_eq!(
        app.reservation(reservation_id).await.expect("read").1,
        None,
        "no reservation"
    );
    let payment = app.payment(reservation_id).await.expect("payment");
    assert_eq!(
        payment.captured.as_ref().map(|c| c.amount_krw),
        Some(40_000)
    );
    assert_eq!(
        payment.owed.values().map(|o| o.amount_krw).sum::<i64>(),
        40_000,
        "what was taken is owed back, durably"
    );
    // A retry of the same request is told to book anew, and is not charged twice.
    let retry = attempt().await.expect_err("refused");
    assert_eq!(
        yeyak_kit::status::reason(&retry).as_deref(),
        Some("BOOKING_FAILED_REFUNDED")
    );
    let again = app.payment(reservation_id).await.expect("payment");
    assert_eq!(again, payment, "the retry recorded nothing");
    let owed = payment
        .owed
        .keys()
        .next()
        .cloned()
        .expect("a refund request");
    assert!(app.refund(reservation_id, &owed).await.expect("refund"));
    let refunded = app.payment(reservation_id).await.expect("payment");
    assert_eq!(refunded.refunded_krw, 40_000);
}

#[tokio::test]
async fn a_capture_that_fails_voids_its_authorisation_and_books_nothing() {
    let log = store().await;
    let gateway = Arc::new(SimulatedGateway::new(SimulatedFailures {
        captures_unavailable: true,
        ..Default::default()
    }));
    let app = Reservations::with_gateway(log, ControlledClock::starting_now(), gateway.clone());
    let unit = open_unit(&app, 3, ConfirmationMode::Instant, 20_000).await;
    let refusal = book(
        &app,
        Uuid::new_v4(),
        "1 by credit card",
        &[(unit, 1)],
        PaymentMethod::CreditCard,
    )
    .await
    .expect_err("not captured");
    assert_eq!(refusal.code(), Code::Unavailable);
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("PAYMENT_UNAVAILABLE")
    );
    assert_eq!(
        gateway.open_authorizations(),
        0,
        "no money stays held for a booking that did not happen"
    );
    assert_eq!(gateway.moved(), (0, 0));
    let inventory = app
        .inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory");
    assert_eq!(inventory.held(), 0);
}
