//! The rebuild workload (`../shared/bench/workloads.md`), scaled: `SCHEDULES` reservation
//! schedules of capacity 100, each fully booked by 100 one-seat bookings, seeded in bulk with the
//! events the API writes (one booking through the application is the template; each seeded
//! booking is its `ReservationBooked` with its own ids, and its seats' `InventoryReserved`).
//! Then every inventory stream is folded, and the reservation list rebuilt from position 0.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use prost::Message;
use uuid::Uuid;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
};
use yeyak_kit::command::{Aggregate, decode_strict, fold_stream};
use yeyak_proto::reservations::events::v1::{InventoryReserved, ReservationBooked};
use yeyak_reservations::{
    app::{
        Reservations,
        listing::{PROJECTION, ReservationList},
    },
    domain::{events::InventoryEvent, inventory::Inventory},
    testing::{book, open_schedule},
};
use yeyak_transport::EventHandler;

use crate::Row;

/// Schedules seeded (the workload's 10,000 at a tenth of the scale, to keep `make bench` short).
pub const SCHEDULES: usize = 1_000;
const SEATS: usize = 100;

/// The template: the events one booking wrote, `(stream, event)`.
async fn template(store: &Arc<dyn EventStore>) -> (RecordedEvent, RecordedEvent, RecordedEvent) {
    let app = Reservations::new(store.clone(), yeyak_kit::clock::system());
    let unit = open_schedule(&app, SEATS as u32).await;
    let before = store.head().await.expect("head");
    book(&app, &crate::customer(0), &[(unit, 1)])
        .await
        .expect("the template booking");
    let written = store.read_all(before, 100).await.expect("read");
    let find = |suffix: &str| {
        written
            .iter()
            .find(|e| e.event_type.ends_with(suffix))
            .cloned()
            .unwrap_or_else(|| panic!("the template booking wrote no {suffix}"))
    };
    let booked = find("ReservationBooked");
    let reserved = find("InventoryReserved");
    let opened = store
        .read_stream(&reserved.stream_id, 1, 1)
        .await
        .expect("read")
        .remove(0);
    (opened, booked, reserved)
}

fn new_event(template: &RecordedEvent, payload: Vec<u8>) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: template.event_type.clone(),
        schema_version: template.schema_version,
        payload,
        metadata: template.metadata.clone(),
    }
}

/// One schedule's inventory stream and its bookings' reservation streams, in one append.
fn schedule(
    (opened, booked, reserved): &(RecordedEvent, RecordedEvent, RecordedEvent),
    unit: &str,
) -> AppendRequest {
    let template = ReservationBooked::decode(&booked.payload[..]).expect("template booking");
    let old_unit = template.reservation_schedule_id.clone();
    let inventory = reserved.stream_id.replace(&old_unit, unit);
    let mut seats = vec![new_event(opened, opened.payload.clone())];
    let mut request = AppendRequest::default();
    for seat in 0..SEATS {
        let reservation_id = Uuid::new_v4().to_string();
        let mut b = template.clone();
        b.reservation_id = reservation_id.clone();
        b.customer_id = format!("customer-{seat}");
        b.reservation_schedule_id = unit.to_string();
        for line in &mut b.lines {
            line.reservation_schedule_id = unit.to_string();
        }
        let stream = booked
            .stream_id
            .replace(&template.reservation_id, &reservation_id);
        request = request.and(
            stream,
            ExpectedVersion::NoStream,
            vec![new_event(booked, b.encode_to_vec())],
        );
        let held = InventoryReserved {
            reservation_id,
            quantity: 1,
        };
        seats.push(new_event(reserved, held.encode_to_vec()));
    }
    request.and(inventory, ExpectedVersion::NoStream, seats)
}

/// Seeds `schedules` schedules; answers their inventory streams.
async fn seed(store: &Arc<dyn EventStore>, schedules: usize) -> Vec<String> {
    let template = Arc::new(template(store).await);
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (store, template) = (store.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            let mut streams = Vec::new();
            for _ in (t..schedules).step_by(4) {
                let request = schedule(&template, &Uuid::new_v4().to_string());
                streams.push(request.streams.last().expect("inventory").stream_id.clone());
                store.append(request).await.expect("seeding");
            }
            streams
        }));
    }
    let mut streams = Vec::new();
    for task in tasks {
        streams.extend(task.await.expect("seeder"));
    }
    streams
}

/// Folds every inventory stream, 8 at a time: (events, elapsed).
async fn fold_inventories(store: &Arc<dyn EventStore>, streams: Vec<String>) -> (usize, Duration) {
    let start = Instant::now();
    let streams = Arc::new(streams);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (store, streams) = (store.clone(), streams.clone());
        tasks.push(tokio::spawn(async move {
            let mut events = 0;
            for stream in streams.iter().skip(t).step_by(8) {
                let (inventory, version) =
                    fold_stream(&*store, stream, Inventory::default(), |inv, e| {
                        inv.evolve(decode_strict::<InventoryEvent>(e)?);
                        Ok(())
                    })
                    .await
                    .expect("fold");
                assert_eq!(inventory.held() as usize, SEATS, "every seat is held");
                events += version.unwrap_or(0) as usize;
            }
            events
        }));
    }
    let mut events = 0;
    for task in tasks {
        events += task.await.expect("folder");
    }
    (events, start.elapsed())
}

/// Rebuilds the reservation list from position 0, a page of 1,000 events at a time.
async fn rebuild_list(store: &Arc<dyn EventStore>) -> (usize, Duration) {
    let app = Reservations::new(store.clone(), yeyak_kit::clock::system());
    let list = ReservationList::new(app);
    store
        .reset_projection(PROJECTION, &ReservationList::checkpoint())
        .await
        .expect("reset");
    let start = Instant::now();
    let mut after = Position::START;
    let mut events = 0;
    loop {
        let page = store.read_all(after, 1_000).await.expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
        events += page.len();
        list.handle_batch(&page).await.expect("rebuild");
    }
    (events, start.elapsed())
}

/// The rebuild rows on `store`, with `schedules` schedules seeded.
pub async fn rows(backend: &'static str, store: Arc<dyn EventStore>, schedules: usize) -> Vec<Row> {
    let seeding = Instant::now();
    let streams = seed(&store, schedules).await;
    let seeded = seeding.elapsed();
    eprintln!(
        "{backend}: seeded {schedules} schedules × {SEATS} bookings in {:.1} s",
        seeded.as_secs_f64()
    );
    let (folded, took) = fold_inventories(&store, streams).await;
    let mut rows = vec![Row {
        backend,
        case: format!("rebuild: fold {schedules} inventories ({folded} events)"),
        ops: folded,
        elapsed: took,
        latencies: Vec::new(),
    }];
    let (events, took) = rebuild_list(&store).await;
    rows.push(Row {
        backend,
        case: format!("rebuild: reservation list from 0 ({events} events)"),
        ops: events,
        elapsed: took,
        latencies: Vec::new(),
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rebuild_folds_every_seeded_seat_and_lists_every_booking() {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("bench_rebuild_test");
        let store = yeyak_eventlog::connect(&url).await.expect("sqlite");
        let rows = rows("sqlite", store.clone(), 3).await;
        // Each schedule: its opening and 100 seats held; the template's schedule besides.
        assert_eq!(rows[0].ops, 3 * (SEATS + 1));
        // The list holds the template booking and every seeded one.
        let listed = store
            .query_rows(&yeyak_eventlog::ProjectionQuery {
                projection: PROJECTION.into(),
                partition: partner(&store).await,
                filters: Vec::new(),
                after: None,
                limit: 1_000,
            })
            .await
            .expect("list");
        assert_eq!(listed.len(), 3 * SEATS + 1);
    }

    /// The partner of the template booking (every seeded booking's).
    async fn partner(store: &Arc<dyn EventStore>) -> String {
        let all = store.read_all(Position::START, 10_000).await.expect("read");
        let booked = all
            .iter()
            .find(|e| e.event_type.ends_with("ReservationBooked"))
            .expect("a booking");
        ReservationBooked::decode(&booked.payload[..])
            .expect("booking")
            .partner_id
    }
}
