//! Events stored before the public schema stopped naming storage streams: their facts are read
//! back from the retired fields. Until then `InventoryOpened` named the streams a unit shared
//! (fields 20 and 21), and `ReservationBooked` and its lines the streams they held seats in
//! (fields 18 and 6). The stream names were `pool-<product>-<key>`, `price-cap-<product>-<price>`
//! and `inventory-<unit>`.
use yeyak_eventlog::RecordedEvent;
use yeyak_proto::reservations::events::v1::{ReservationBooked, ReservationLine};

use crate::domain::events::{InventoryEvent, ReservationEvent};

#[derive(Clone, PartialEq, prost::Message)]
struct RetiredOpened {
    #[prost(string, tag = "20")]
    pool_stream: String,
    #[prost(string, tag = "21")]
    price_cap_stream: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetiredBooked {
    #[prost(string, repeated, tag = "18")]
    held_streams: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    lines: Vec<RetiredLine>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetiredLine {
    #[prost(string, repeated, tag = "6")]
    held_streams: Vec<String>,
}

/// The pool key and the capped price named by retired stream names of a product's units.
fn facts(product_id: &str, streams: &[String]) -> (String, String) {
    let named = |prefix: &str| {
        let prefix = format!("{prefix}{product_id}-");
        streams
            .iter()
            .find_map(|s| s.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_default()
    };
    (named("pool-"), named("price-cap-"))
}

fn decode<M: prost::Message + Default>(raw: &RecordedEvent) -> M {
    M::decode(raw.payload.as_slice()).unwrap_or_default()
}

pub fn inventory(event: InventoryEvent, raw: &RecordedEvent) -> InventoryEvent {
    match event {
        InventoryEvent::Opened(mut o)
            if o.shared_inventory_key.is_empty() && o.capped_price_id.is_empty() =>
        {
            let retired: RetiredOpened = decode(raw);
            let streams = [retired.pool_stream, retired.price_cap_stream];
            (o.shared_inventory_key, o.capped_price_id) = facts(&o.product_id, &streams);
            InventoryEvent::Opened(o)
        }
        other => other,
    }
}

pub fn reservation(event: ReservationEvent, raw: &RecordedEvent) -> ReservationEvent {
    match event {
        ReservationEvent::Booked(b) => ReservationEvent::Booked(booked(b, raw)),
        other => other,
    }
}

fn booked(mut b: ReservationBooked, raw: &RecordedEvent) -> ReservationBooked {
    let retired: RetiredBooked = decode(raw);
    if retired.held_streams.is_empty() && retired.lines.iter().all(|l| l.held_streams.is_empty()) {
        return b;
    }
    if b.lines.is_empty() {
        // A one-line booking from before lines existed.
        b.lines.push(ReservationLine {
            line_number: 1,
            reservation_schedule_id: b.reservation_schedule_id.clone(),
            quantity: b.quantity,
            unit_price_krw: b.unit_price_krw,
            paid_krw: b.paid_krw,
            ..Default::default()
        });
        (b.lines[0].shared_inventory_key, b.lines[0].capped_price_id) =
            facts(&b.product_id, &retired.held_streams);
        return b;
    }
    for (line, old) in b.lines.iter_mut().zip(&retired.lines) {
        if line.shared_inventory_key.is_empty() && line.capped_price_id.is_empty() {
            (line.shared_inventory_key, line.capped_price_id) =
                facts(&b.product_id, &old.held_streams);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use uuid::Uuid;
    use yeyak_proto::reservations::events::v1::{InventoryOpened, InventoryReserved};

    use super::*;
    use crate::domain::inventory::{Pool, pools_of, pools_of_line};

    fn stored<M: Message + prost::Name>(new: &M, retired: &impl Message) -> RecordedEvent {
        // An old payload: today's fields and the retired ones in one message.
        let mut payload = new.encode_to_vec();
        payload.extend(retired.encode_to_vec());
        RecordedEvent {
            position: Default::default(),
            event_id: Uuid::new_v4(),
            stream_id: "s".into(),
            stream_version: 1,
            event_type: M::full_name(),
            schema_version: 1,
            payload,
            metadata: yeyak_eventlog::Metadata {
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                actor: "x".into(),
                occurred_at_us: 0,
                trace_context: None,
            },
            recorded_at_us: 0,
        }
    }

    fn decoded<E: yeyak_kit::events::EventSet>(raw: &RecordedEvent) -> E {
        yeyak_kit::command::decode_strict(raw).expect("decodes")
    }

    #[test]
    fn a_unit_stored_with_stream_names_shares_the_same_pool_and_price_cap() {
        let opened = InventoryOpened {
            reservation_schedule_id: "u1".into(),
            product_id: "p1".into(),
            ..Default::default()
        };
        let raw = stored(
            &opened,
            &RetiredOpened {
                pool_stream: "pool-p1-date-2026-12-24".into(),
                price_cap_stream: "price-cap-p1-adult".into(),
            },
        );
        let InventoryEvent::Opened(o) = inventory(decoded(&raw), &raw) else {
            panic!("opened")
        };
        assert_eq!(
            pools_of(&o),
            [
                Pool::Shared {
                    product_id: "p1".into(),
                    key: "date-2026-12-24".into()
                },
                Pool::PriceCap {
                    product_id: "p1".into(),
                    price_id: "adult".into()
                }
            ]
        );
        let own = stored(&opened, &RetiredOpened::default());
        let InventoryEvent::Opened(o) = inventory(decoded(&own), &own) else {
            panic!("opened")
        };
        assert_eq!(pools_of(&o), [Pool::Unit("u1".into())]);
        let other = stored(&InventoryReserved::default(), &RetiredOpened::default());
        assert!(matches!(
            inventory(decoded(&other), &other),
            InventoryEvent::Reserved(_)
        ));
    }

    #[test]
    fn a_booking_stored_with_stream_names_gives_back_where_it_held() {
        let booked = ReservationBooked {
            reservation_id: "r".into(),
            product_id: "p1".into(),
            reservation_schedule_id: "u1".into(),
            quantity: 2,
            ..Default::default()
        };
        let raw = stored(
            &booked,
            &RetiredBooked {
                held_streams: vec!["pool-p1-slot".into()],
                lines: vec![],
            },
        );
        let ReservationEvent::Booked(b) = reservation(decoded(&raw), &raw) else {
            panic!("booked")
        };
        assert_eq!(b.lines.len(), 1, "the one line of an old booking");
        assert_eq!(
            pools_of_line("p1", &b.lines[0]),
            [Pool::Shared {
                product_id: "p1".into(),
                key: "slot".into()
            }]
        );
        // A line stored with its own retired field 6, inside field 20 of the booking.
        let line = [
            ReservationLine {
                line_number: 1,
                reservation_schedule_id: "u1".into(),
                quantity: 2,
                ..Default::default()
            }
            .encode_to_vec(),
            RetiredLine {
                held_streams: vec!["price-cap-p1-adult".into()],
            }
            .encode_to_vec(),
        ]
        .concat();
        let mut raw = stored(&booked, &RetiredBooked::default());
        prost::encoding::encode_key(
            20,
            prost::encoding::WireType::LengthDelimited,
            &mut raw.payload,
        );
        prost::encoding::encode_varint(line.len() as u64, &mut raw.payload);
        raw.payload.extend(line);
        let ReservationEvent::Booked(b) = reservation(decoded(&raw), &raw) else {
            panic!("booked")
        };
        assert_eq!(
            pools_of_line("p1", &b.lines[0]),
            [Pool::PriceCap {
                product_id: "p1".into(),
                price_id: "adult".into()
            }]
        );
    }
}
