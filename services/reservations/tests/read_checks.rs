//! A booking is decided on what the service knew of its product when it read it, and commits only
//! while that is still all the service knows: the append checks the streams the decision read
//! (the product's availability among them) unchanged. A fact recorded in between makes the
//! booking decide again, on the fact.
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use prost::Name;
use uuid::Uuid;
use yeyak_eventlog::{
    AppendError, AppendRequest, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent,
    testing,
};
use yeyak_kit::{clock::ControlledClock, command::Error, events::Cause};
use yeyak_proto::{
    catalog::events::v1::{ProductStatus, ProductStatusSet},
    reservations::events::v1::{PaymentMethod, ProductAvailabilityChanged, ReservationBooked},
};
use yeyak_reservations::{
    app::{Reservations, catalog_consumer::CatalogConsumer, streams},
    domain::inventory::Pool,
    testing::{book, customer, open_schedule, request},
};
use yeyak_transport::EventHandler;

const CAPACITY: u32 = 5;

/// The reason code of a refused booking (anything but a refusal fails the test).
fn refused(e: yeyak_reservations::app::Error) -> &'static str {
    match e {
        Error::Refused(e) => e.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The product of a unit, as the reservations service opened it.
async fn product_of(app: &Reservations, unit: Uuid) -> String {
    app.inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory")
        .opened
        .expect("the unit is open")
        .product_id
}

/// Before the first append that books a reservation, records that the product ended (the
/// reservations' own availability fact, as the catalog consumer would), once.
struct EndsBeforeTheBooking {
    product_id: String,
    fired: AtomicBool,
}

#[async_trait::async_trait]
impl testing::BeforeAppend for EndsBeforeTheBooking {
    async fn before_append(
        &self,
        inner: &dyn EventStore,
        request: &AppendRequest,
    ) -> Result<(), AppendError> {
        let booking = request
            .streams
            .iter()
            .flat_map(|s| &s.events)
            .any(|e| e.event_type == ReservationBooked::full_name());
        if !booking || self.fired.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let ended = ProductAvailabilityChanged {
            product_id: self.product_id.clone(),
            status: ProductStatus::Ended as i32,
            ..Default::default()
        };
        let cause = Cause::command("service:test".into(), Uuid::new_v4(), 0);
        inner
            .append(AppendRequest::single(
                streams::product(&self.product_id),
                ExpectedVersion::Any,
                vec![yeyak_kit::events::encode(Uuid::new_v4(), &ended, &cause)],
            ))
            .await?;
        Ok(())
    }
}

async fn a_booking_decided_before_the_product_ended_is_decided_again(inner: Arc<dyn EventStore>) {
    let clock = ControlledClock::starting_now();
    // The unit is opened straight on the store; the booking goes through the hooked one.
    let opener = Reservations::new(inner.clone(), clock.clone());
    let unit = open_schedule(&opener, CAPACITY).await;
    let product_id = product_of(&opener, unit).await;
    let hook = Arc::new(testing::Intercepted {
        inner: inner.clone(),
        hook: EndsBeforeTheBooking {
            product_id,
            fired: AtomicBool::new(false),
        },
    });
    let log: Arc<dyn EventStore> = hook.clone();
    let app = Reservations::new(log, clock);
    let caller = customer("c-1");
    let (origin, request_id) = request(&caller, "book");
    // The booking reads the product's availability (nothing said: bookable) and decides; the end
    // is recorded before its append. Without the read-version check the append would commit —
    // the unit's and the reservation's streams did not move — although the service had recorded
    // the end before the booking committed. With it, the append conflicts and the booking is
    // decided again, on the end.
    let outcome = app
        .book(
            &caller,
            &origin,
            request_id,
            vec![(unit, 1)],
            vec![],
            PaymentMethod::KakaoPayCard,
        )
        .await;
    assert!(
        hook.hook.fired.load(Ordering::SeqCst),
        "the end was recorded between the booking's decision and its append"
    );
    assert_eq!(refused(outcome.expect_err("refused")), "PRODUCT_ENDED");
    let reservation_id = yeyak_kit::events::created_id("reservation", &caller.actor(), request_id);
    assert!(
        inner
            .read_stream(&streams::reservation(reservation_id), 1, 10)
            .await
            .expect("read")
            .is_empty(),
        "nothing was booked"
    );
    let inventory = app
        .inventory(&Pool::Unit(unit.to_string()))
        .await
        .expect("inventory");
    assert_eq!(
        (inventory.held(), inventory.remaining()),
        (0, CAPACITY),
        "the unit's seats are untouched"
    );
}

#[tokio::test]
async fn a_booking_decided_before_the_product_ended_is_decided_again_and_refused() {
    let sqlite = yeyak_eventlog::connect(&testing::fresh_sqlite_url("read-checks"))
        .await
        .expect("sqlite store");
    a_booking_decided_before_the_product_ended_is_decided_again(sqlite).await;
    if let Some(url) = testing::fresh_postgres_url("read-checks").await {
        let postgres = yeyak_eventlog::connect(&url).await.expect("postgres store");
        a_booking_decided_before_the_product_ended_is_decided_again(postgres).await;
    }
}

/// The catalog's `ProductStatusSet` as the catalog consumer receives it.
fn catalog_event(product_id: &str, status: ProductStatus) -> RecordedEvent {
    let message = ProductStatusSet {
        product_id: product_id.to_string(),
        status: status as i32,
    };
    RecordedEvent {
        position: Position::START,
        event_id: Uuid::new_v4(),
        stream_id: format!("product-{product_id}"),
        stream_version: 2,
        event_type: ProductStatusSet::full_name(),
        schema_version: yeyak_kit::events::SCHEMA_VERSION,
        payload: prost::Message::encode_to_vec(&message),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_racing_the_end_of_the_product_never_commit_after_it() {
    const ROUNDS: usize = 30;
    let Some(url) = testing::fresh_postgres_url("read-checks-race").await else {
        return;
    };
    let log = yeyak_eventlog::connect(&url).await.expect("store");
    let app = Reservations::new(log.clone(), ControlledClock::starting_now());
    let consumer = Arc::new(CatalogConsumer::new(app.runner().clone()));
    let (mut booked_first, mut refused_after) = (0, 0);
    for round in 0..ROUNDS {
        let unit = open_schedule(&app, CAPACITY).await;
        let product_id = product_of(&app, unit).await;
        let ended = catalog_event(&product_id, ProductStatus::Ended);
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let booking = tokio::spawn({
            let (app, start) = (app.clone(), start.clone());
            async move {
                start.wait().await;
                book(&app, &customer(&format!("c-{round}")), &[(unit, 1)]).await
            }
        });
        // The end arrives after `round / 3` round trips to the log: across the rounds it lands
        // before the booking reads, between its read and its commit, and after it commits.
        let ending = tokio::spawn({
            let (consumer, start, log) = (consumer.clone(), start.clone(), log.clone());
            let product = streams::product(&product_id);
            async move {
                start.wait().await;
                for _ in 0..round / 3 {
                    log.read_stream(&product, 1, 1).await.expect("read");
                }
                consumer.handle(&ended).await
            }
        });
        let booking = booking.await.expect("booking task");
        ending
            .await
            .expect("ending task")
            .expect("the end is recorded");
        // The log in commit order, once a reader sees the end and the booking: a reader never
        // reads past a transaction still open anywhere on the server (another test's held
        // append), so it may see a committed event a moment later.
        let product = streams::product(&product_id);
        let is_end = |e: &yeyak_eventlog::RecordedEvent| {
            e.stream_id == product && e.event_type == ProductAvailabilityChanged::full_name()
        };
        let booked_stream = booking.as_ref().ok().map(|(r, _)| {
            let id = r.booked.as_ref().expect("booked").reservation_id.as_str();
            streams::reservation(Uuid::parse_str(id).unwrap())
        });
        let events = yeyak_eventlog::testing::until(
            std::time::Duration::from_secs(30),
            "the product's end and the booking to be readable in commit order",
            || {
                let log = log.clone();
                let booked_stream = booked_stream.clone();
                async move {
                    let events = log.read_all(Position::START, 100_000).await.expect("read");
                    let booked =
                        booked_stream.is_none_or(|b| events.iter().any(|e| e.stream_id == b));
                    (events.iter().any(is_end) && booked).then_some(events)
                }
            },
        )
        .await;
        let index_of = |stream: &str, event_type: &str| {
            events
                .iter()
                .position(|e| e.stream_id == stream && e.event_type == event_type)
        };
        let ended_at = events
            .iter()
            .position(is_end)
            .expect("the product's end is in the log");
        match booking {
            Ok((r, _)) => {
                let id = Uuid::parse_str(&r.booked.expect("booked").reservation_id).unwrap();
                let booked_at =
                    index_of(&streams::reservation(id), &ReservationBooked::full_name())
                        .expect("the booking is in the log");
                assert!(
                    booked_at < ended_at,
                    "round {round}: a booking committed after the product's end ({booked_at} > {ended_at})"
                );
                booked_first += 1;
            }
            Err(e) => {
                assert_eq!(refused(e), "PRODUCT_ENDED", "round {round}");
                refused_after += 1;
            }
        }
    }
    eprintln!("{booked_first} bookings committed before the end, {refused_after} refused after it");
}
