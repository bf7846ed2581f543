//! Test and benchmark support: open a reservation schedule the way the catalog's event would.
use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::{EventStore, Metadata, Position, RecordedEvent};
use yeyak_proto::catalog::events::v1::{
    ConfirmationMode, PaymentMode, ProductRegistered, ReservationSchedule,
};
use yeyak_transport::EventHandler;

use crate::app::CatalogConsumer;

/// Feeds the catalog consumer a `ProductRegistered` with one free, instantly confirmed schedule
/// of `capacity` seats starting in an hour; returns the schedule id.
pub async fn open_schedule(log: Arc<dyn EventStore>, capacity: u32) -> Uuid {
    let schedule = Uuid::new_v4();
    let product = ProductRegistered {
        product_id: Uuid::new_v4().to_string(),
        partner_id: Uuid::new_v4().to_string(),
        place_id: Uuid::new_v4().to_string(),
        name: "hot".into(),
        confirmation_mode: ConfirmationMode::Instant as i32,
        payment_mode: PaymentMode::ReservationOnly as i32,
        reservation_schedules: vec![ReservationSchedule {
            reservation_schedule_id: schedule.to_string(),
            starts_at: Some(yeyak_proto::time::from_micros(
                jiff::Timestamp::now().as_microsecond() + 3_600_000_000,
            )),
            capacity,
            price_krw: 0,
        }],
    };
    let event = RecordedEvent {
        position: Position::START,
        event_id: Uuid::new_v4(),
        stream_id: format!("product-{}", product.product_id),
        stream_version: 1,
        event_type: <ProductRegistered as prost::Name>::full_name(),
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
    schedule
}
