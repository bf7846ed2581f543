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
    api::refusal::failure,
    app::{Catalog, OnPartner, OnPlace, OnProduct, PartnerAuth},
    domain::{
        access::Action,
        bookings::BookingsEvent,
        definition::{PriceSpec, ProductSpec},
        partner::{PartnerCommand, RegisterPartner},
        place::{PlaceCommand, RegisterPlace},
        product::ProductCommand,
        schedule::ScheduleSpec,
    },
};
use yeyak_eventlog::{AppendError, AppendRequest, EventStore, ExpectedVersion, testing};
use yeyak_kit::{
    clock::ControlledClock,
    command::Origin,
    events::{Cause, EventSet},
    testing::ops,
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
        let fact = BookingsEvent::Tracked(ReservationTracked {
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

fn manage(place: &str) -> Action<'_> {
    Action::ManagePlace(place)
}

fn delete(place: &str) -> Action<'_> {
    Action::DeleteProduct(place)
}

/// A new request of platform operations.
fn request() -> Origin {
    Origin::command(ops().actor(), Uuid::new_v4(), b"")
}

const NOW: i64 = 1_800_000_000_000_000;

fn spec() -> ProductSpec {
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
            starts_us: NOW + 86_400_000_000,
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
    let (partner_id, place_id, product_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let register = OnPartner {
        caller: ops(),
        partner_id,
        auth: PartnerAuth::Policy,
        command: PartnerCommand::Register(RegisterPartner {
            partner_id,
            name: "p".into(),
            business_registration_number: "1234567891".into(),
            channel_id: "c".into(),
            channel_business_verified: true,
            industry: "restaurant".into(),
            channel_has_home_card: false,
            channel_has_custom_menu: false,
            owner_operator_id: "owner".into(),
        }),
    };
    app.run(&request(), &register).await.expect("partner");
    let on_place = |command| OnPlace {
        caller: ops(),
        place_id,
        action: manage,
        command,
    };
    for command in [
        PlaceCommand::Register(RegisterPlace {
            place_id,
            partner_id,
            name: "pl".into(),
            address: "a".into(),
        }),
        PlaceCommand::Submit,
        PlaceCommand::Review {
            approve: true,
            reason: String::new(),
        },
    ] {
        app.run(&request(), &on_place(command))
            .await
            .expect("place");
    }
    for command in [
        ProductCommand::Register {
            product_id: product_id.to_string(),
            spec: spec(),
        },
        ProductCommand::Submit,
        ProductCommand::Review {
            approve: true,
            reason: String::new(),
        },
        ProductCommand::SetStatus(ProductStatus::Ended),
    ] {
        let step = OnProduct {
            caller: ops(),
            product_id,
            place_id: Some(place_id),
            action: manage,
            command,
        };
        app.run(&request(), &step).await.expect("to Unavailable");
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
    let app = Catalog::new(store.clone(), ControlledClock::at(NOW));
    let product_id = unavailable_product(&app).await;

    // The decision sees no reservation; one lands before the append.
    let deletion = OnProduct {
        caller: ops(),
        product_id,
        place_id: None,
        action: delete,
        command: ProductCommand::Delete,
    };
    let refusal = failure(
        app.run(&request(), &deletion)
            .await
            .expect_err("the deletion decides again and sees the reservation"),
    );
    assert!(store.hook.raced.load(Ordering::SeqCst), "the race happened");
    assert_eq!(refusal.code(), Code::FailedPrecondition);
    assert_eq!(
        yeyak_kit::status::reason(&refusal).as_deref(),
        Some("ACTIVE_RESERVATIONS")
    );
    let state = app.product(product_id).await.expect("product");
    assert!(
        !state.deleted,
        "nothing of the refused deletion was written"
    );
    assert_eq!(
        app.bookings(product_id).await.expect("bookings").active(),
        1
    );
}
