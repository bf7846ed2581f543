//! `make bench`: throughput and latency of the event log and of bookings, on SQLite and on the
//! local PostgreSQL. Prints one table; the figures in the README come from this program.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use uuid::Uuid;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, Position,
    testing::{event, fresh_postgres_url, fresh_sqlite_url},
};
use yeyak_kit::auth::{Caller, PlaceScope, Role};
use yeyak_reservations::{app::Reservations, testing::open_schedule};

struct Row {
    backend: &'static str,
    case: String,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Row {
    fn print(&self) {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "| {:<8} | {:<46} | {:>8} | {:>10.0} | {:>8.2} | {:>8.2} |",
            self.backend,
            self.case,
            self.ops,
            self.ops as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

/// `writers` tasks each append `per_writer` single-event transactions to their own stream.
async fn appends(
    store: Arc<dyn EventStore>,
    writers: usize,
    per_writer: usize,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("bench-{w}-{}", Uuid::new_v4());
            let mut latencies = Vec::with_capacity(per_writer);
            for n in 0..per_writer {
                let expected = if n == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(n as u64)
                };
                let t = Instant::now();
                store
                    .append(AppendRequest::single(
                        stream.clone(),
                        expected,
                        vec![event("Bench", &[0u8; 200])],
                    ))
                    .await
                    .expect("append");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer"));
    }
    (start.elapsed(), all)
}

/// Reads the whole log from the start in pages of 1000.
async fn catch_up(store: &Arc<dyn EventStore>) -> (usize, Duration) {
    let start = Instant::now();
    let mut after = Position::START;
    let mut n = 0;
    loop {
        let page = store.read_all(after, 1000).await.expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
        n += page.len();
    }
    (n, start.elapsed())
}

fn customer(n: usize) -> Caller {
    Caller {
        subject: format!("customer-{n}"),
        role: Role::Customer,
        partner_id: None,
        places: PlaceScope::All,
    }
}

/// `bookings` bookings by `concurrency` tasks, spread over `schedules` schedules.
async fn bookings(
    store: Arc<dyn EventStore>,
    schedules: usize,
    bookings: usize,
    concurrency: usize,
) -> (Duration, Vec<Duration>, usize) {
    let mut ids = Vec::new();
    for _ in 0..schedules {
        ids.push(open_schedule(store.clone(), 10_000).await);
    }
    let app = Reservations::new(store);
    let ids = Arc::new(ids);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (app, ids) = (app.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = c;
            while n < bookings {
                let t = Instant::now();
                app.book(&customer(n), Uuid::new_v4(), ids[n % ids.len()], 1)
                    .await
                    .expect("book");
                latencies.push(t.elapsed());
                n += concurrency;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("booker"));
    }
    (start.elapsed(), all, bookings)
}

/// `customers` concurrent bookings for one schedule of `capacity` seats.
async fn hot_schedule(
    store: Arc<dyn EventStore>,
    capacity: u32,
    customers: usize,
) -> (Duration, Vec<Duration>, usize) {
    let schedule = open_schedule(store.clone(), capacity).await;
    let app = Reservations::new(store);
    let start = Instant::now();
    let tasks: Vec<_> = (0..customers)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let ok = app
                    .book(&customer(n), Uuid::new_v4(), schedule, 1)
                    .await
                    .is_ok();
                (t.elapsed(), ok)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut booked = 0;
    for t in tasks {
        let (l, ok) = t.await.expect("booker");
        latencies.push(l);
        booked += usize::from(ok);
    }
    assert_eq!(
        booked, capacity as usize,
        "the hot schedule sold exactly its capacity"
    );
    (start.elapsed(), latencies, customers)
}

async fn run(backend: &'static str, url: String) {
    let store = yeyak_eventlog::connect(&url).await.expect("store");
    let mut rows = Vec::new();
    let (elapsed, latencies) = appends(store.clone(), 1, 1_000).await;
    rows.push(Row {
        backend,
        case: "append, 1 writer, 1 event/tx".into(),
        ops: 1_000,
        elapsed,
        latencies,
    });
    let (elapsed, latencies) = appends(store.clone(), 8, 500).await;
    rows.push(Row {
        backend,
        case: "append, 8 writers, 1 event/tx".into(),
        ops: 4_000,
        elapsed,
        latencies,
    });
    let (n, elapsed) = catch_up(&store).await;
    rows.push(Row {
        backend,
        case: "read_all catch-up, pages of 1000".into(),
        ops: n,
        elapsed,
        latencies: vec![],
    });
    let (elapsed, latencies, n) = bookings(store.clone(), 50, 2_000, 16).await;
    rows.push(Row {
        backend,
        case: "book, 50 schedules, 16 concurrent".into(),
        ops: n,
        elapsed,
        latencies,
    });
    let (elapsed, latencies, n) = hot_schedule(store.clone(), 20, 500).await;
    rows.push(Row {
        backend,
        case: "hot schedule: 500 concurrent, 20 seats".into(),
        ops: n,
        elapsed,
        latencies,
    });
    for row in rows {
        row.print();
    }
}

#[tokio::main]
async fn main() {
    println!(
        "| backend  | case                                           |      ops |    ops/s   |  p50 ms  |  p99 ms  |"
    );
    println!(
        "|----------|------------------------------------------------|---------:|-----------:|---------:|---------:|"
    );
    run("sqlite", fresh_sqlite_url("bench")).await;
    match fresh_postgres_url("bench").await {
        Some(url) => run("postgres", url).await,
        None => println!("(PostgreSQL unreachable: skipped)"),
    }
}
