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
use yeyak_proto::catalog::events::v1::ConfirmationMode;
use yeyak_reservations::{
    app::Reservations,
    testing::{book, open_prices, open_schedule},
};

mod grpc;
mod pgbench;
mod rebuild;
mod system;

struct Row {
    backend: &'static str,
    case: String,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// What the gRPC rows' answers were, for the report.
static NOTES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
/// The PostgreSQL spread rates, to set against the database's ceiling.
static SPREAD: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());
/// Every row printed, for the report files.
static REPORT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl Row {
    fn print(&self) {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        // Nearest rank: sorted[ceil(q·n) − 1].
        let pct = |q: f64| {
            let rank = ((q * l.len() as f64).ceil() as usize).clamp(1, l.len().max(1));
            l.get(rank - 1).copied().unwrap_or_default()
        };
        let rate = self.ops as f64 / self.elapsed.as_secs_f64();
        let line = format!(
            "| {:<8} | {:<46} | {:>8} | {:>10.0} | {:>8.2} | {:>8.2} |",
            self.backend,
            self.case,
            self.ops,
            rate,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
        println!("{line}");
        let json = format!(
            "{{\"backend\":\"{}\",\"case\":\"{}\",\"ops\":{},\"elapsed_s\":{:.3},\"ops_per_s\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.backend,
            self.case.replace('"', "'"),
            self.ops,
            self.elapsed.as_secs_f64(),
            rate,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
        REPORT.lock().expect("report").push(line + "\u{0}" + &json);
    }
}

/// The machine, the commit and the command, for the report.
fn machine() -> (String, String, String) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.trim_start_matches("MemTotal:").trim().to_string())
        })
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    (
        format!("{cores} cores ({cpu}), {memory} memory"),
        commit,
        command(),
    )
}

/// The command that made this run, with the variables that shape it.
fn command() -> String {
    let mut command = String::new();
    for var in ["YEYAK_BENCH_ONLY", "YEYAK_BENCH_BOOKINGS"] {
        if let Ok(value) = std::env::var(var) {
            command.push_str(&format!("{var}={value} "));
        }
    }
    command + "make bench"
}

/// Writes `bench/report.md` and `bench/report.json`.
fn write_report(started: jiff::Timestamp) {
    let (machine, commit, command) = machine();
    let rows = REPORT.lock().expect("report").clone();
    let (lines, json): (Vec<_>, Vec<_>) = rows
        .iter()
        .map(|r| r.split_once('\u{0}').unwrap_or((r, "{}")))
        .unzip();
    let took = (jiff::Timestamp::now() - started).as_secs_f64();
    let md = format!(
        "# yeyak benchmark report\n\n- started: {started}\n- took: {took:.0} s (the release build before it not counted)\n- machine: {machine}\n- commit: {commit}\n- command: `{command}`\n\n| backend  | case                                           |      ops |    ops/s   |  p50 ms  |  p99 ms  |\n|----------|------------------------------------------------|---------:|-----------:|---------:|---------:|\n{}\n\n{}\n",
        lines.join("\n"),
        NOTES
            .lock()
            .expect("notes")
            .iter()
            .map(|n| format!("- {n}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let json = format!(
        "{{\"started\":\"{started}\",\"took_s\":{took:.1},\"machine\":\"{}\",\"commit\":\"{commit}\",\"command\":\"{command}\",\"rows\":[{}]}}\n",
        machine.replace('"', "'"),
        json.join(",")
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench");
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join("report.md"), md))
        .and_then(|_| std::fs::write(dir.join("report.json"), json))
    {
        eprintln!("the report could not be written: {e}");
    } else {
        println!("\nreport: bench/report.md, bench/report.json");
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

/// `bookings` bookings by `concurrency` tasks, spread over `schedules` schedules; each books one
/// seat of each of the schedule's `lines` prices (a reservation of that many lines).
async fn bookings(
    store: Arc<dyn EventStore>,
    schedules: usize,
    lines: usize,
    bookings: usize,
    concurrency: usize,
) -> (Duration, Vec<Duration>, usize) {
    let app = Reservations::new(store, yeyak_kit::clock::system());
    let mut ids = Vec::new();
    for _ in 0..schedules {
        let units = open_prices(&app, 10_000, ConfirmationMode::Instant, &vec![0; lines]).await;
        ids.push(units.into_iter().map(|u| (u, 1)).collect::<Vec<_>>());
    }
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
                book(&app, &customer(n), &ids[n % ids.len()])
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
    let app = Reservations::new(store, yeyak_kit::clock::system());
    let schedule = open_schedule(&app, capacity).await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..customers)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let ok = book(&app, &customer(n), &[(schedule, 1)]).await.is_ok();
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
    let (elapsed, latencies, n) = bookings(store.clone(), 50, 1, 2_000, 16).await;
    rows.push(Row {
        backend,
        case: "book, 50 schedules, 16 concurrent".into(),
        ops: n,
        elapsed,
        latencies,
    });
    let (elapsed, latencies, n) = bookings(store.clone(), 50, 2, 2_000, 16).await;
    rows.push(Row {
        backend,
        case: "book 2 lines, 50 schedules, 16 concurrent".into(),
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

/// Records, for each event, the time from its commit to its effect in the consumer.
struct Stopwatch {
    own: Arc<dyn EventStore>,
    latencies: std::sync::Mutex<Vec<Duration>>,
}

#[async_trait::async_trait]
impl yeyak_transport::EventHandler for Stopwatch {
    fn name(&self) -> &str {
        "bench-stopwatch"
    }

    async fn handle(
        &self,
        e: &yeyak_eventlog::RecordedEvent,
    ) -> Result<(), yeyak_transport::HandlerError> {
        let effect = AppendRequest::single(
            "effects",
            ExpectedVersion::Any,
            vec![event("Effect", &e.payload)],
        )
        .with_inbox("bench", e.event_id);
        yeyak_transport::HandlerError::from_append(self.own.append(effect).await)?;
        let since_commit = jiff::Timestamp::now().as_microsecond() - e.recorded_at_us;
        self.latencies
            .lock()
            .unwrap()
            .push(Duration::from_micros(since_commit.max(0) as u64));
        Ok(())
    }
}

/// Relay throughput (a backlog of events published from the log) and commit-to-effect latency
/// (events appended at a steady rate while relay and consumer run), over a real broker.
async fn kafka(url: String) -> Vec<Row> {
    use yeyak_kafka::{
        KafkaConfig, consumer::KafkaTransport, relay::Relay, testing::Broker, topics,
    };
    use yeyak_transport::Transport;
    let Some(broker) = Broker::start().await else {
        return vec![];
    };
    let mut config = KafkaConfig::new(broker.bootstrap());
    config.partitions = 3;
    let topic = config.topic("bench");
    topics::ensure(&config, std::slice::from_ref(&topic))
        .await
        .expect("topics");
    let log = yeyak_eventlog::connect(&url).await.expect("log");
    let backlog = 2_000;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for n in 0..backlog / 8 {
                    let request = AppendRequest::single(
                        format!("s-{w}-{}", n % 50),
                        ExpectedVersion::Any,
                        vec![event("Bench", &[0u8; 200])],
                    );
                    log.append(request).await.expect("append");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("bench-effects"))
        .await
        .expect("own");
    let stopwatch = Arc::new(Stopwatch {
        own: own.clone(),
        latencies: Default::default(),
    });
    let transport = KafkaTransport::new(config.clone()).expect("transport");
    let consumer = {
        let (handler, stop) = (
            stopwatch.clone() as Arc<dyn yeyak_transport::EventHandler>,
            stop.clone(),
        );
        tokio::spawn(async move { transport.consume("bench", handler, stop).await })
    };
    let start = Instant::now();
    let relay = tokio::spawn(Relay::new(log.clone(), config.clone(), "bench").run(stop.clone()));
    let checkpoint = yeyak_kafka::relay::checkpoint_name(&topic);
    while log
        .load_checkpoint(&checkpoint)
        .await
        .expect("checkpoint")
        .position
        < backlog as u64
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let relay_elapsed = start.elapsed();
    // The consumer drains the backlog (joining its group first); then only fresh events count.
    while stopwatch.latencies.lock().unwrap().len() < backlog {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_elapsed = start.elapsed();
    stopwatch.latencies.lock().unwrap().clear();
    let live = 1_000;
    let start = Instant::now();
    for n in 0..live {
        log.append(AppendRequest::single(
            format!("live-{}", n % 20),
            ExpectedVersion::Any,
            vec![event("Bench", &[0u8; 200])],
        ))
        .await
        .expect("append");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    while stopwatch.latencies.lock().unwrap().len() < live {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let live_elapsed = start.elapsed();
    stop.cancel();
    relay.await.expect("relay").expect("relay ran");
    consumer.await.expect("consumer").expect("consumer ran");
    let latencies = stopwatch.latencies.lock().unwrap().clone();
    vec![
        Row {
            backend: "kafka",
            case: format!("relay: backlog of {backlog} events to the broker"),
            ops: backlog,
            elapsed: relay_elapsed,
            latencies: vec![],
        },
        Row {
            backend: "kafka",
            case: "relay + consume the backlog (incl. group join)".into(),
            ops: backlog,
            elapsed: drain_elapsed,
            latencies: vec![],
        },
        Row {
            backend: "kafka",
            case: "commit → consumer effect, paced appends".into(),
            ops: live,
            elapsed: live_elapsed,
            latencies,
        },
    ]
}

/// Prints a gRPC phase's row and notes, and keeps them for the report.
fn report_phase(backend: &str, phase: grpc::Phase) {
    phase.row.print();
    let mut notes = vec![format!(
        "{backend}, {}: answers {:?}, retries {}",
        phase.row.case, phase.by_code, phase.retries
    )];
    if backend == "postgres" && phase.row.case.ends_with("clients") {
        let rate = phase.row.ops as f64 / phase.row.elapsed.as_secs_f64();
        SPREAD
            .lock()
            .expect("spread")
            .push((phase.row.case.clone(), rate));
    }
    notes.extend(
        phase
            .notes
            .iter()
            .map(|n| format!("{backend}, {}: {n}", phase.row.case)),
    );
    for note in notes {
        println!("  {note}");
        NOTES.lock().expect("notes").push(note);
    }
}

/// The groups of rows `make bench` runs, in order; `YEYAK_BENCH_ONLY` (a comma-separated list of
/// them) runs some, for a profile or a quick look.
const GROUPS: [&str; 8] = [
    "grpc-sqlite",
    "grpc-postgres",
    "distributed",
    "ceiling",
    "log",
    "rebuild-sqlite",
    "rebuild-postgres",
    "kafka",
];

/// Whether `group` runs: every group unless `YEYAK_BENCH_ONLY` names others. A group that runs
/// is timed from here to the next group's start (or the report, [`end_timing`]), and the report
/// notes it.
fn runs(group: &'static str) -> bool {
    let runs = match std::env::var("YEYAK_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|g| g.trim() == group),
        _ => true,
    };
    end_timing();
    if runs {
        *TIMING.lock().expect("timing") = Some((group, Instant::now()));
    }
    runs
}

/// Notes how long the group that was running took, if one was.
fn end_timing() {
    if let Some((group, since)) = TIMING.lock().expect("timing").take() {
        NOTES.lock().expect("notes").push(format!(
            "group {group} took {:.0} s",
            since.elapsed().as_secs_f64()
        ));
    }
}

/// The group running, and since when.
static TIMING: std::sync::Mutex<Option<(&'static str, Instant)>> = std::sync::Mutex::new(None);

#[tokio::main]
async fn main() {
    let started = jiff::Timestamp::now();
    if let Ok(only) = std::env::var("YEYAK_BENCH_ONLY")
        && let Some(unknown) = only
            .split(',')
            .map(str::trim)
            .find(|g| !g.is_empty() && !GROUPS.contains(g))
    {
        eprintln!(
            "YEYAK_BENCH_ONLY: no group {unknown:?}; the groups are {}",
            GROUPS.join(", ")
        );
        std::process::exit(2);
    }
    println!(
        "| backend  | case                                           |      ops |    ops/s   |  p50 ms  |  p99 ms  |"
    );
    println!(
        "|----------|------------------------------------------------|---------:|-----------:|---------:|---------:|"
    );
    let bookings = std::env::var("YEYAK_BENCH_BOOKINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    for (backend, storage) in [
        ("sqlite", yeyak_e2e::Storage::EmbeddedSqlite),
        ("postgres", yeyak_e2e::Storage::Postgres),
    ] {
        let group = if backend == "sqlite" {
            "grpc-sqlite"
        } else {
            "grpc-postgres"
        };
        if !runs(group) {
            continue;
        }
        match grpc::rows(backend, storage, bookings).await {
            Some(phases) => {
                for phase in phases {
                    report_phase(backend, phase);
                }
            }
            None => println!("(PostgreSQL unreachable: gRPC cases skipped)"),
        }
    }
    if runs("distributed") {
        match grpc::distributed(&grpc::spread_commands(bookings.div_ceil(4))).await {
            Some(phase) => report_phase("postgres", phase),
            None => {
                println!("(PostgreSQL or the broker unavailable: the distributed case skipped)")
            }
        }
    }
    if runs("ceiling") {
        let spread = SPREAD.lock().expect("spread").clone();
        pgbench::ceiling(&spread).await;
    }
    if runs("log") {
        run("sqlite", fresh_sqlite_url("bench")).await;
        match fresh_postgres_url("bench").await {
            Some(url) => run("postgres", url).await,
            None => println!("(PostgreSQL unreachable: skipped)"),
        }
    }
    if runs("rebuild-sqlite") {
        for row in rebuild::rows(
            "sqlite",
            &fresh_sqlite_url("bench_rebuild"),
            rebuild::SCHEDULES,
            &rebuild::GROWTH,
        )
        .await
        {
            row.print();
        }
    }
    if runs("rebuild-postgres") {
        match fresh_postgres_url("bench_rebuild").await {
            Some(url) => {
                for row in
                    rebuild::rows("postgres", &url, rebuild::SCHEDULES, &rebuild::GROWTH).await
                {
                    row.print();
                }
            }
            None => println!("(PostgreSQL unreachable: rebuild skipped)"),
        }
    }
    if runs("kafka") {
        match fresh_postgres_url("bench_kafka").await {
            Some(url) => {
                let rows = kafka(url).await;
                if rows.is_empty() {
                    println!("(no Kafka-API broker installed: Kafka cases skipped)");
                }
                for row in rows {
                    row.print();
                }
            }
            None => println!("(PostgreSQL unreachable: Kafka cases skipped)"),
        }
    }
    end_timing();
    write_report(started);
}
