//! A deletion and a reservation learned at the same moment: the deletion must not win on a
//! decision that missed the reservation. The store below lets a reservation fact land between
//! the deletion's decision and its append, as the reservations consumer could.
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tonic::Code;
use uuid::Uuid;
use yeyak_catalog::{
    api::domain_status,
    app::{Catalog, ProductView},
    domain::{
        access::Action,
        definition::{self, PriceSpec, ProductSpec, ScheduleSpec},
        partner, place, product,
    },
};
use yeyak_eventlog::{AppendError, AppendRequest, EventStore, ExpectedVersion, testing};
use yeyak_kit::{
    auth::{Caller, PlaceScope, Role},
    events::{Cause, EventSet},
};
use yeyak_proto::catalog::events::v1::{
    ConfirmationMode, InventoryMode, PaymentMode, ProductDeleted, ProductStatus,
    ReservationTracked, ReservationType, TrackedState,
};

/// Before the first append that deletes a product, appends a reservation of that product, once.
struct RaceOnDelete {
    raced: AtomicBool,
}

#[async_trait::async_trait]
impl testing::BeforeAppend for RaceOnDelete {
    async fn before_append(
        &self,
        inner: &dyn EventStore,
        request: &AppendRequest,
    ) -> Result<(), AppendError> {
        let deleting = request
            .streams
            .iter()
            .flat_map(|s| &s.events)
            .find(|e| e.event_type == <ProductDeleted as prost::Name>::full_name());
        let Some(deletion) = deleting else {
            return Ok(());
        };
        if self.raced.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let product_id = <ProductDeleted as prost::Message>::decode(deletion.payload.as_slice())
            .expect("decodes")
            .product_id;
        let fact = product::BookingsEvent::Tracked(ReservationTracked {
            product_id: product_id.clone(),
            reservation_id: Uuid::new_v4().to_string(),
            reservation_schedule_id: "unit".into(),
            quantity: 1,
            state: TrackedState::Active as i32,
            ..Default::default()
        });
        let cause = Cause::command("service:test".into(), Uuid::new_v4(), 0);
        inner
            .append(AppendRequest::single(
                format!("product-bookings-{product_id}"),
                ExpectedVersion::Any,
                vec![fact.encode(Uuid::new_v4(), &cause)],
            ))
            .await?;
        Ok(())
    }
}

fn ops() -> Caller {
    Caller {
        subject: "ops-1".into(),
        role: Role::PlatformOps,
        partner_id: None,
        places: PlaceScope::All,
    }
}

fn manage(place: &str) -> Action<'_> {
    Action::ManagePlace(place)
}

fn spec(now: i64) -> ProductSpec {
    ProductSpec {
        name: "n".into(),
        reservation_type: ReservationType::DateTime,
        confirmation_mode: ConfirmationMode::Instant,
        inventory_mode: InventoryMode::PerReservationSchedule,
        prices: vec![PriceSpec {
            name: "성인".into(),
            amount_krw: 0,
            payment_mode: PaymentMode::ReservationOnly,
            max_quantity: 0,
            sale_starts_us: None,
            sale_ends_us: None,
        }],
        schedules: vec![ScheduleSpec {
            starts_us: now + 86_400_000_000,
            ends_us: None,
            min_headcount: 0,
            max_headcount: 0,
            headcount_multiple: 0,
        }],
        capacity: 5,
        booking_window: None,
        cancellation_policy: None,
        custom_questions: vec![],
        request_expiry_minutes: 0,
        class_product: false,
    }
}

/// A live product set to `Ended` (displayed `Unavailable`) with no reservation yet.
async fn unavailable_product(app: &Catalog) -> Uuid {
    let caller = ops();
    let partner_id = Uuid::new_v4();
    app.register_partner(
        &caller,
        Uuid::new_v4(),
        partner::RegisterPartner {
            partner_id,
            name: "p".into(),
            business_registration_number: "1234567891".into(),
            channel_id: "c".into(),
            channel_business_verified: true,
            industry: "restaurant".into(),
            channel_has_home_card: false,
            channel_has_custom_menu: false,
            owner_operator_id: "owner".into(),
        },
    )
    .await
    .expect("partner");
    let place_id = app
        .register_place(
            &caller,
            Uuid::new_v4(),
            place::RegisterPlace {
                place_id: Uuid::new_v4(),
                partner_id,
                name: "pl".into(),
                address: "a".into(),
            },
        )
        .await
        .expect("place");
    app.on_place(&caller, Uuid::new_v4(), place_id, manage, place::submit)
        .await
        .expect("submit place");
    app.on_place(&caller, Uuid::new_v4(), place_id, manage, |p| {
        place::review(p, true, "")
    })
    .await
    .expect("approve place");
    let product_id = Uuid::new_v4();
    let now = jiff::Timestamp::now().as_microsecond();
    let def = definition::build(&product_id.to_string(), spec(now), None, now)
        .map_err(domain_status)
        .expect("definition");
    app.register_product(&caller, Uuid::new_v4(), product_id, place_id, def)
        .await
        .expect("product");
    let steps: [fn(&ProductView) -> _; 3] = [
        |v| product::submit(&v.product),
        |v| product::review(&v.product, true, String::new()),
        |v| product::set_status(&v.product, ProductStatus::Ended),
    ];
    for decide in steps {
        app.on_product(&caller, Uuid::new_v4(), product_id, manage, decide)
            .await
            .expect("to Unavailable");
    }
    product_id
}

#[tokio::test]
async fn a_reservation_learned_between_decision_and_append_blocks_the_deletion() {
    let inner = yeyak_eventlog::connect(&testing::fresh_sqlite_url("delete-race"))
        .await
        .expect("store");
    let store = Arc::new(testing::Intercepted {
        inner,
        hook: RaceOnDelete {
            raced: AtomicBool::new(false),
        },
    });
    let app = Catalog::new(store.clone());
    let product_id = unavailable_product(&app).await;

    // The decision sees no reservation; one lands before the append.
    let refusal = app
        .on_product(&ops(), Uuid::new_v4(), product_id, manage, |v| {
            product::delete(&v.product, v.displayed, &v.bookings)
        })
        .await
        .expect_err("the deletion decides again and sees the reservation");
    assert!(store.hook.raced.load(Ordering::SeqCst), "the race happened");
    assert_eq!(refusal.code(), Code::FailedPrecondition);
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("ACTIVE_RESERVATIONS")
    );
    let (state, _) = app.product(product_id).await.expect("product");
    assert!(
        !state.deleted,
        "nothing of the refused deletion was written"
    );
    assert_eq!(
        app.bookings(product_id).await.expect("bookings").0.active(),
        1
    );
}
