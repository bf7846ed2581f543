//! Payments through the gateway: a declined payment books nothing; a failed refund is retried
//! and, after 3 business days, credited to the customer's balance; an outage that ends refunds
//! once.
use std::sync::Arc;

use tonic::Code;
use uuid::Uuid;
use yeyak_eventlog::{EventStore, Position, testing};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_proto::{catalog::events::v1::ConfirmationMode, reservations::events::v1::PaymentMethod};
use yeyak_reservations::{
    app::{Action, Reservations, payment_stream, reservation_stream},
    payments::{self, SimulatedFailures, SimulatedGateway},
    scheduled::{DueIndex, Scheduler},
    testing::open_unit,
};
use yeyak_transport::EventHandler;

fn customer() -> Caller {
    Caller {
        subject: "c-1".into(),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    }
}

async fn store() -> Arc<dyn EventStore> {
    yeyak_eventlog::connect(&testing::fresh_sqlite_url("payments"))
        .await
        .expect("store")
}

async fn index(log: &Arc<dyn EventStore>) {
    let index = DueIndex::new(log.clone());
    for e in log.read_all(Position::START, 10_000).await.expect("read") {
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
    let app = Reservations::with_gateway(log.clone(), gateway.clone());
    let unit = open_unit(log.clone(), 3, ConfirmationMode::Instant, 20_000).await;
    let request = Uuid::new_v4();
    let refusal = app
        .book(
            &customer(),
            request,
            &[(unit, 2)],
            vec![],
            PaymentMethod::Points,
        )
        .await
        .expect_err("declined");
    assert_eq!(refusal.code(), Code::FailedPrecondition);
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("PAYMENT_DECLINED")
    );
    let missing = app
        .book(
            &customer(),
            Uuid::new_v4(),
            &[(unit, 1)],
            vec![],
            PaymentMethod::Unspecified,
        )
        .await
        .expect_err("no method");
    assert_eq!(
        yeyak_kit::status::reason(&missing).as_deref(),
        Some("PAYMENT_METHOD_REQUIRED")
    );
    let (inventory, _) = app.inventory(&unit.to_string()).await.expect("inventory");
    assert_eq!(inventory.held(), 0, "no capacity held");
    let reservation_id = yeyak_kit::events::created_id("reservation", &customer().actor(), request);
    for stream in [
        reservation_stream(reservation_id),
        payment_stream(reservation_id),
    ] {
        assert!(
            log.read_stream(&stream, 1, 10)
                .await
                .expect("read")
                .is_empty(),
            "{stream} has nothing"
        );
    }
    let (booked, _) = app
        .book(
            &customer(),
            request,
            &[(unit, 2)],
            vec![],
            PaymentMethod::KakaoPayCard,
        )
        .await
        .expect("paid by card");
    let (payment, _) = app
        .payment(Uuid::parse_str(&booked.booked.unwrap().reservation_id).unwrap())
        .await
        .expect("payment");
    assert_eq!(payment.captured.map(|c| c.amount_krw), Some(40_000));
    assert_eq!(gateway.moved(), (1, 0));
}

/// A confirmed, paid reservation cancelled by its customer: a full refund is owed.
async fn cancelled_paid(app: &Reservations, log: &Arc<dyn EventStore>) -> (Uuid, i64) {
    let unit = open_unit(log.clone(), 3, ConfirmationMode::Instant, 15_000).await;
    let (booked, _) = app
        .book(
            &customer(),
            Uuid::new_v4(),
            &[(unit, 1)],
            vec![],
            PaymentMethod::KakaoPayMoney,
        )
        .await
        .expect("booked");
    let id = Uuid::parse_str(&booked.booked.unwrap().reservation_id).unwrap();
    app.act(
        &customer(),
        Uuid::new_v4(),
        id,
        Action::Cancel {
            reason: String::new(),
            adjustment: None,
            line_numbers: vec![],
        },
    )
    .await
    .expect("cancelled");
    let (payment, _) = app.payment(id).await.expect("payment");
    let requested = payment
        .owed
        .values()
        .next()
        .expect("a refund is owed")
        .requested_at_us;
    (id, requested)
}

/// A paid reservation cancelled while every refund fails.
async fn cancelled_during_a_refund_outage() -> (
    Arc<dyn EventStore>,
    Arc<SimulatedGateway>,
    Reservations,
    Uuid,
    i64,
) {
    let log = store().await;
    let gateway = Arc::new(SimulatedGateway::new(SimulatedFailures {
        refunds_unavailable: true,
        ..Default::default()
    }));
    let app = Reservations::with_gateway(log.clone(), gateway.clone());
    let (id, requested) = cancelled_paid(&app, &log).await;
    (log, gateway, app, id, requested)
}

#[tokio::test]
async fn a_refund_failing_for_three_business_days_is_credited_to_the_balance() {
    let (log, gateway, app, id, requested) = cancelled_during_a_refund_outage().await;
    let mut scheduler = Scheduler::with_app(log.clone(), app.clone());
    index(&log).await;
    assert_eq!(scheduler.tick(requested).await.expect("tick"), 1);
    index(&log).await;
    let retry = payments::next_attempt(requested, 1);
    assert_eq!(scheduler.tick(retry).await.expect("tick"), 1, "tried again");
    let (payment, _) = app.payment(id).await.expect("payment");
    assert_eq!((payment.refunded_krw, payment.pending_krw()), (0, 15_000));
    index(&log).await;
    let deadline = payments::business_days_after(requested, 3);
    assert_eq!(scheduler.tick(deadline).await.expect("tick"), 1);
    let (payment, _) = app.payment(id).await.expect("payment");
    assert_eq!(
        (payment.credited_krw, payment.pending_krw()),
        (15_000, 0),
        "환불적립 after 3 business days"
    );
    index(&log).await;
    assert_eq!(scheduler.tick(deadline + 1).await.expect("tick"), 0);
    assert_eq!(
        gateway.moved().1,
        0,
        "no money moved back through the gateway"
    );
}

#[tokio::test]
async fn an_outage_that_ends_refunds_exactly_once() {
    let (log, gateway, app, id, requested) = cancelled_during_a_refund_outage().await;
    index(&log).await;
    let mut scheduler = Scheduler::with_app(log.clone(), app.clone());
    scheduler.tick(requested).await.expect("tick");
    gateway.set_failures(SimulatedFailures::default());
    index(&log).await;
    let retry = payments::next_attempt(requested, 1);
    let mut replica = Scheduler::with_app(log.clone(), app.clone());
    let (a, b) = tokio::join!(scheduler.tick(retry), replica.tick(retry));
    assert_eq!(a.expect("tick") + b.expect("tick"), 1, "refunded once");
    let (payment, _) = app.payment(id).await.expect("payment");
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
    let app = Reservations::new(log.clone());
    let unit = open_unit(log.clone(), 3, ConfirmationMode::Instant, 20_000).await;
    let (request, who, lines) = (Uuid::new_v4(), customer(), [(unit, 2)]);
    let book = || app.book(&who, request, &lines, vec![], PaymentMethod::KakaoPayCard);
    book().await.expect_err("the append failed");
    let (inventory, _) = app.inventory(&unit.to_string()).await.expect("inventory");
    assert_eq!(inventory.held(), 0, "no seat is held");
    let reservation_id = yeyak_kit::events::created_id("reservation", &customer().actor(), request);
    assert_eq!(
        app.reservation(reservation_id).await.expect("read").1,
        None,
        "no reservation"
    );
    let (payment, _) = app.payment(reservation_id).await.expect("payment");
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
    let retry = book().await.expect_err("refused");
    assert_eq!(
        yeyak_kit::status::reason(&retry).as_deref(),
        Some("BOOKING_FAILED_REFUNDED")
    );
    let (again, _) = app.payment(reservation_id).await.expect("payment");
    assert_eq!(again, payment, "the retry recorded nothing");
    let owed = payment
        .owed
        .keys()
        .next()
        .cloned()
        .expect("a refund request");
    assert!(
        app.refund(
            reservation_id,
            &owed,
            jiff::Timestamp::now().as_microsecond()
        )
        .await
        .expect("refund")
    );
    let (refunded, _) = app.payment(reservation_id).await.expect("payment");
    assert_eq!(refunded.refunded_krw, 40_000);
}

#[tokio::test]
async fn a_capture_that_fails_voids_its_authorisation_and_books_nothing() {
    let log = store().await;
    let gateway = Arc::new(SimulatedGateway::new(SimulatedFailures {
        captures_unavailable: true,
        ..Default::default()
    }));
    let app = Reservations::with_gateway(log.clone(), gateway.clone());
    let unit = open_unit(log.clone(), 3, ConfirmationMode::Instant, 20_000).await;
    let refusal = app
        .book(
            &customer(),
            Uuid::new_v4(),
            &[(unit, 1)],
            vec![],
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
    let (inventory, _) = app.inventory(&unit.to_string()).await.expect("inventory");
    assert_eq!(inventory.held(), 0);
}
