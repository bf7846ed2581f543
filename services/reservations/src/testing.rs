//! Test and benchmark support: open a reservation schedule the way the catalog's event would, and
//! callers and requests to drive the application with.
use uuid::Uuid;
use yeyak_eventlog::{Metadata, Position, RecordedEvent};
use yeyak_proto::catalog::events::v1::{
    ConfirmationMode, InventoryMode, PaymentMode, ProductApproved, ProductDefinition,
    ReservationSchedule,
};
use yeyak_transport::EventHandler;

use crate::app::{Reservations, catalog_consumer::CatalogConsumer};

/// Feeds the catalog consumer a `ProductApproved` with one free, instantly confirmed schedule
/// of `capacity` seats starting an hour after the app's clock; returns the schedule id.
pub async fn open_schedule(app: &Reservations, capacity: u32) -> Uuid {
    open_schedule_with(app, capacity, ConfirmationMode::Instant).await
}

/// Like [`open_schedule`], with the given confirmation mode.
pub async fn open_schedule_with(app: &Reservations, capacity: u32, mode: ConfirmationMode) -> Uuid {
    open_unit(app, capacity, mode, 0).await
}

/// Like [`open_schedule_with`], at `price_krw` paid at booking (free when 0).
pub async fn open_unit(
    app: &Reservations,
    capacity: u32,
    mode: ConfirmationMode,
    price_krw: i64,
) -> Uuid {
    open_prices(app, capacity, mode, &[price_krw]).await[0]
}

/// One schedule starting an hour after the app's clock with a unit per price (each `capacity`
/// seats of its own), as one product's approval; returns the units' ids, in the prices' order.
pub async fn open_prices(
    app: &Reservations,
    capacity: u32,
    mode: ConfirmationMode,
    prices_krw: &[i64],
) -> Vec<Uuid> {
    let starts_at = Some(yeyak_proto::time::from_micros(app.now_us() + 3_600_000_000));
    let units: Vec<ReservationSchedule> = prices_krw
        .iter()
        .map(|&price_krw| {
            let id = Uuid::new_v4().to_string();
            ReservationSchedule {
                reservation_schedule_id: id.clone(),
                starts_at,
                capacity,
                price_krw,
                payment_mode: if price_krw > 0 {
                    PaymentMode::PayAtBooking as i32
                } else {
                    PaymentMode::ReservationOnly as i32
                },
                visible: true,
                inventory_key: id,
                ..Default::default()
            }
        })
        .collect();
    let ids = units
        .iter()
        .map(|u| Uuid::parse_str(&u.reservation_schedule_id).expect("uuid"))
        .collect();
    let product_id = Uuid::new_v4().to_string();
    let product = ProductApproved {
        product_id: product_id.clone(),
        partner_id: Uuid::new_v4().to_string(),
        place_id: Uuid::new_v4().to_string(),
        revision: 1,
        definition: Some(ProductDefinition {
            name: "hot".into(),
            confirmation_mode: mode as i32,
            inventory_mode: InventoryMode::PerReservationSchedule as i32,
            reservation_schedules: units,
            ..Default::default()
        }),
    };
    let event = RecordedEvent {
        position: Position::START,
        event_id: Uuid::new_v4(),
        stream_id: format!("product-{product_id}"),
        stream_version: 1,
        event_type: <ProductApproved as prost::Name>::full_name(),
        schema_version: yeyak_kit::events::SCHEMA_VERSION,
        payload: prost::Message::encode_to_vec(&product),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "ops:test".into(),
            occurred_at_us: 0,
            trace_context: None,
        },
        recorded_at_us: 0,
    };
    CatalogConsumer::new(app.runner().clone())
        .handle(&event)
        .await
        .expect("inventory opened");
    ids
}

/// A customer.
pub fn customer(subject: &str) -> yeyak_kit::auth::Caller {
    caller(subject, yeyak_kit::auth::Role::Customer)
}

/// Platform operations staff.
pub fn ops() -> yeyak_kit::auth::Caller {
    caller("ops-1", yeyak_kit::auth::Role::PlatformOps)
}

fn caller(subject: &str, role: yeyak_kit::auth::Role) -> yeyak_kit::auth::Caller {
    yeyak_kit::auth::Caller {
        subject: subject.into(),
        role,
        partner_id: None,
        places: yeyak_kit::auth::PlaceScope::All,
    }
}

/// A new request of `caller` (its request id fresh, what it asks named by `what`).
pub fn request(caller: &yeyak_kit::auth::Caller, what: &str) -> (yeyak_kit::command::Origin, Uuid) {
    let request_id = Uuid::new_v4();
    let origin = yeyak_kit::command::Origin::command(caller.actor(), request_id, what.as_bytes());
    (origin, request_id)
}

/// Books `lines` for `caller` with a new request id, paid by Kakao Pay card when paid.
pub async fn book(
    app: &Reservations,
    caller: &yeyak_kit::auth::Caller,
    lines: &[(Uuid, u32)],
) -> Result<(crate::domain::reservation::Reservation, u64), crate::app::Error> {
    let (origin, request_id) = request(caller, "book");
    app.book(
        caller,
        &origin,
        request_id,
        lines.to_vec(),
        vec![],
        yeyak_proto::reservations::events::v1::PaymentMethod::KakaoPayCard,
    )
    .await
}

/// A lifecycle command by `caller` with a new request id.
pub async fn act(
    app: &Reservations,
    caller: &yeyak_kit::auth::Caller,
    reservation_id: Uuid,
    command: crate::domain::reservation::ReservationCommand,
) -> Result<(crate::domain::reservation::Reservation, u64), crate::app::Error> {
    let (origin, _) = request(caller, &format!("{command:?}"));
    app.act(caller, &origin, reservation_id, command).await
}
