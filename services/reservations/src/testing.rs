//! Test and benchmark support: open a reservation schedule the way the catalog's event would.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Metadata, Position, RecordedEvent};
use yeyak_proto::catalog::events::v1::{
    ConfirmationMode, InventoryMode, PaymentMode, ProductApproved, ProductDefinition,
    ReservationSchedule,
};
use yeyak_transport::EventHandler;

use crate::app::CatalogConsumer;

/// Feeds the catalog consumer a `ProductApproved` with one free, instantly confirmed schedule
/// of `capacity` seats starting in an hour; returns the schedule id.
pub async fn open_schedule(log: Arc<dyn EventStore>, capacity: u32) -> Uuid {
    open_schedule_with(log, capacity, ConfirmationMode::Instant).await
}

/// Like [`open_schedule`], with the given confirmation mode.
pub async fn open_schedule_with(
    log: Arc<dyn EventStore>,
    capacity: u32,
    mode: ConfirmationMode,
) -> Uuid {
    open_unit(log, capacity, mode, 0).await
}

/// Like [`open_schedule_with`], at `price_krw` paid at booking (free when 0).
pub async fn open_unit(
    log: Arc<dyn EventStore>,
    capacity: u32,
    mode: ConfirmationMode,
    price_krw: i64,
) -> Uuid {
    open_prices(log, capacity, mode, &[price_krw]).await[0]
}

/// One schedule starting in an hour with a unit per price (each `capacity` seats of its own),
/// as one product's approval; returns the units' ids, in the prices' order.
pub async fn open_prices(
    log: Arc<dyn EventStore>,
    capacity: u32,
    mode: ConfirmationMode,
    prices_krw: &[i64],
) -> Vec<Uuid> {
    let starts_at = Some(yeyak_proto::time::from_micros(
        jiff::Timestamp::now().as_microsecond() + 3_600_000_000,
    ));
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
    CatalogConsumer::new(log)
        .handle(&event)
        .await
        .expect("inventory opened");
    ids
}
