//! The rebuild workload (`../shared/bench/workloads.md`), scaled: `SCHEDULES` reservation
//! schedules of capacity 100, each fully booked by 100 one-seat bookings, seeded in bulk with the
//! events the API writes (one booking through the application is the template; each seeded
//! booking is its `ReservationBooked` with its own ids, and its seats' `InventoryReserved`).
//! Then every inventory stream is folded, and the reservation list rebuilt from position 0.
//!
//! The growth workload shares the seeding: when the log holds 1,000, 10,000 and 100,000 prior
//! bookings of the one product, `GROWTH_BOOKINGS` more are booked through the application on
//! another schedule of that product, and the reservation list (caught up) takes the events they
//! wrote: the cost of a booking and of a downstream event at each level, which must stay flat.
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
use yeyak_proto::{
    catalog::events::v1::ConfirmationMode,
    reservations::events::v1::{InventoryOpened, InventoryReserved, ReservationBooked},
};
use yeyak_reservations::{
    app::{
        Reservations,
        listing::{PROJECTION, ReservationList},
    },
    domain::{events::InventoryEvent, inventory::Inventory},
    testing::{book, open_prices},
};
use yeyak_transport::EventHandler;

use crate::Row;

/// Schedules seeded (the workload's 10,000 at a tenth of the scale, to keep `make bench` short).
pub const SCHEDULES: usize = 1_000;
const SEATS: usize = 100;
/// The growth levels: prior bookings of the one product.
pub const GROWTH: [usize; 3] = [1_000, 10_000, 100_000];
/// Bookings measured at each growth level.
const GROWTH_BOOKINGS: usize = 200;

/// What one booking wrote, the template of every seeded one, and a second schedule of the same
/// product (capacity 10,000) for the growth bookings.
struct Template {
    opened: RecordedEvent,
    booked: RecordedEvent,
    reserved: RecordedEvent,
    app: Reservations,
    growth_unit: Uuid,
}

async fn template(store: &Arc<dyn EventStore>) -> Template {
    let app = Reservations::new(store.clone(), yeyak_kit::clock::system());
    let units = open_prices(&app, 10_000, ConfirmationMode::Instant, &[0, 0]).await;
    let (unit, growth_unit) = (units[0], units[1]);
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
    Template {
        opened,
        booked,
        reserved,
        app,
        growth_unit,
    }
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
fn schedule(t: &Template, unit: &str) -> AppendRequest {
    let (opened, booked, reserved) = (&t.opened, &t.booked, &t.reserved);
    let template = ReservationBooked::decode(&booked.payload[..]).expect("template booking");
    let old_unit = template.reservation_schedule_id.clone();
    let inventory = reserved.stream_id.replace(&old_unit, unit);
    let mut opening = InventoryOpened::decode(&opened.payload[..]).expect("template opening");
    opening.reservation_schedule_id = unit.to_string();
    opening.capacity = SEATS as u32;
    let mut seats = vec![new_event(opened, opening.encode_to_vec())];
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

/// Seeds `schedules` more schedules; answers their inventory streams.
async fn seed(
    store: &Arc<dyn EventStore>,
    template: &Arc<Template>,
    schedules: usize,
) -> Vec<String> {
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
async fn rebuild_list(store: &Arc<dyn EventStore>, list: &ReservationList) -> (usize, Duration) {
    store
        .reset_projection(PROJECTION, &ReservationList::checkpoint())
        .await
        .expect("reset");
    let start = Instant::now();
    let events = list_after(store, list, Position::START).await;
    (events, start.elapsed())
}

/// The reservation list takes every event after `after`, a page of 1,000 at a time: how many.
async fn list_after(
    store: &Arc<dyn EventStore>,
    list: &ReservationList,
    mut after: Position,
) -> usize {
    let mut events = 0;
    loop {
        let page = store.read_all(after, 1_000).await.expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
        events += page.len();
        list.handle_batch(&page)
            .await
            .expect("the list takes the page");
    }
    events
}

/// At `prior` bookings of the product: `GROWTH_BOOKINGS` bookings, 8 at a time, on the growth
/// schedule, then the (caught-up) reservation list takes the events they wrote.
async fn growth(
    backend: &'static str,
    url: &str,
    store: &Arc<dyn EventStore>,
    template: &Template,
    list: &ReservationList,
    prior: usize,
) -> [Row; 2] {
    settle(url).await;
    let wal = Wal::start(url).await;
    let before = store.head().await.expect("head");
    let start = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (app, unit) = (template.app.clone(), template.growth_unit);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (t..GROWTH_BOOKINGS).step_by(8) {
                    let began = Instant::now();
                    book(&app, &crate::customer(prior + n), &[(unit, 1)])
                        .await
                        .expect("a growth booking");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("booker"));
    }
    let booked = start.elapsed();
    if let Some(wal) = wal {
        wal.note(backend, prior).await;
    }
    let start = Instant::now();
    let events = list_after(store, list, before).await;
    [
        Row {
            backend,
            case: format!("growth: book, {prior} seeded bookings of the product"),
            ops: GROWTH_BOOKINGS,
            elapsed: booked,
            latencies,
        },
        Row {
            backend,
            case: format!("growth: list the new events, {prior} seeded"),
            ops: events,
            elapsed: start.elapsed(),
            latencies: Vec::new(),
        },
    ]
}

/// The rebuild rows on `store`, with `schedules` schedules seeded, and the growth rows at each
/// of `levels` (prior bookings) up to `schedules` × 100; the last level after the rebuild.
pub async fn rows(
    backend: &'static str,
    url: &str,
    schedules: usize,
    levels: &[usize],
) -> Vec<Row> {
    let store = yeyak_eventlog::connect(url).await.expect("the log");
    let template = Arc::new(template(&store).await);
    let list = ReservationList::new(template.app.clone());
    let mut streams = Vec::new();
    let mut growth_rows = Vec::new();
    let seeding = Instant::now();
    for &prior in levels.iter().filter(|&&n| n < schedules * SEATS) {
        streams.extend(seed(&store, &template, prior / SEATS - streams.len()).await);
        list_after(&store, &list, list_position(&store).await).await;
        growth_rows.extend(growth(backend, url, &store, &template, &list, prior).await);
    }
    streams.extend(seed(&store, &template, schedules - streams.len()).await);
    eprintln!(
        "{backend}: seeded {schedules} schedules × {SEATS} bookings in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let (folded, took) = fold_inventories(&store, streams).await;
    let mut rows = vec![Row {
        backend,
        case: format!("rebuild: fold {schedules} inventories ({folded} events)"),
        ops: folded,
        elapsed: took,
        latencies: Vec::new(),
    }];
    let (events, took) = rebuild_list(&store, &list).await;
    rows.push(Row {
        backend,
        case: format!("rebuild: reservation list from 0 ({events} events)"),
        ops: events,
        elapsed: took,
        latencies: Vec::new(),
    });
    if let Some(&prior) = levels.iter().find(|&&n| n == schedules * SEATS) {
        growth_rows.extend(growth(backend, url, &store, &template, &list, prior).await);
    }
    rows.extend(growth_rows);
    rows
}

/// After the seeding, before a measure (as the workloads ask): the database checkpointed and,
/// on PostgreSQL, its statistics brought up to date (`ANALYZE`, which autovacuum would do a
/// little later), so the measure sees the steady state, not the bulk load's aftermath.
async fn settle(url: &str) {
    crate::system::Logs::checkpoint_url(url).await;
    if url.starts_with("postgres")
        && let Ok(pool) = sqlx::PgPool::connect(url).await
        && let Err(e) = sqlx::query("ANALYZE").execute(&pool).await
    {
        eprintln!("ANALYZE failed: {e}");
    }
}

/// The PostgreSQL write-ahead log written while the growth bookings ran (exact, from the WAL
/// itself by `pg_walinspect`): how much of it is full-page images, which the first change of a
/// page after a checkpoint writes, and which grow with the indexes a booking touches at random.
struct Wal {
    pool: sqlx::PgPool,
    from: String,
}

impl Wal {
    async fn start(url: &str) -> Option<Wal> {
        if !url.starts_with("postgres") {
            return None;
        }
        let pool = sqlx::PgPool::connect(url).await.ok()?;
        if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            .execute(&pool)
            .await
        {
            eprintln!("(no pg_walinspect, the growth rows carry no WAL figures: {e})");
            return None;
        }
        let from = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&pool)
            .await
            .ok()?;
        Some(Wal { pool, from })
    }

    /// Adds the WAL per booking to the report's notes.
    async fn note(self, backend: &str, prior: usize) {
        let figures: Result<(Option<i64>, Option<i64>), _> = sqlx::query_as(
            "SELECT sum(combined_size)::int8, sum(fpi_size)::int8 \
             FROM pg_get_wal_stats($1::pg_lsn, pg_current_wal_lsn(), false)",
        )
        .bind(&self.from)
        .fetch_one(&self.pool)
        .await;
        let Ok((Some(total), Some(fpi))) = figures else {
            return;
        };
        // Which tables and indexes the full-page images were of, the most first.
        let by_relation: Vec<(String, i64)> = sqlx::query_as(
            "SELECT c.relname::text, count(*) FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_lsn()) r, \
             regexp_matches(r.block_ref, 'rel \\d+/\\d+/(\\d+) fork \\w+ blk \\d+ \\(FPW\\)', 'g') m \
             JOIN pg_class c ON c.relfilenode = m[1]::oid GROUP BY 1 ORDER BY 2 DESC LIMIT 4",
        )
        .bind(&self.from)
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        let per = |bytes: i64| bytes as f64 / GROWTH_BOOKINGS as f64 / 1024.0;
        let note = format!(
            "{backend}, growth at {prior} seeded bookings: {:.1} KiB of WAL per booking, {:.1} KiB of it full-page images ({})",
            per(total),
            per(fpi),
            by_relation
                .iter()
                .map(|(relation, n)| format!("{relation} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  {note}");
        crate::NOTES.lock().expect("notes").push(note);
    }
}

/// Where the reservation list has got to.
async fn list_position(store: &Arc<dyn EventStore>) -> Position {
    store
        .load_checkpoint(&ReservationList::checkpoint())
        .await
        .expect("the list's checkpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rebuild_folds_every_seeded_seat_and_lists_every_booking() {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("bench_rebuild_test");
        let store = yeyak_eventlog::connect(&url).await.expect("sqlite");
        let rows = rows("sqlite", &url, 3, &[100, 300]).await;
        // Each schedule: its opening and 100 seats held; the template's schedule besides.
        assert_eq!(rows[0].ops, 3 * (SEATS + 1));
        // Two growth levels, each its bookings and the list taking what they wrote.
        assert_eq!(rows.len(), 2 + 2 * 2);
        assert!(rows[2].case.contains("100 seeded") && rows[4].case.contains("300 seeded"));
        assert_eq!(rows[2].ops, GROWTH_BOOKINGS);
        assert!(
            rows[3].ops >= GROWTH_BOOKINGS,
            "each booking wrote its events"
        );
        // The list holds the template booking, every seeded one and every growth booking.
        let listed = store
            .query_rows(&yeyak_eventlog::ProjectionQuery {
                projection: PROJECTION.into(),
                partition: partner(&store).await,
                filters: Vec::new(),
                after: None,
                limit: 10_000,
            })
            .await
            .expect("list");
        assert_eq!(listed.len(), 3 * SEATS + 1 + 2 * GROWTH_BOOKINGS);
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
