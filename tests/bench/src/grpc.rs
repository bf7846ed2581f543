//! Bookings through the public gRPC API (`../shared/bench/workloads.md`): the whole system in
//! this process on the embedded default or on PostgreSQL, clients over several HTTP/2
//! connections. `spread`: 20,000 one-seat bookings on 1,000 reservation schedules chosen by the
//! workload's SplitMix64 (seed 20261128), by 32 and by 8 concurrent clients; `hot`: 500 bookings
//! released together on one schedule of capacity 20.
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tonic::Code;
use yeyak_e2e::{
    Authed, Harness, Storage, reason,
    seeding::{product_input, seed_with},
};
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, PaymentMode},
        v1::ScheduleInput,
    },
    reservations::v1::{BookRequest, reservations_service_client::ReservationsServiceClient},
};

use crate::Row;

/// The workload's seed.
pub const SEED: u64 = 20_261_128;
/// HTTP/2 connections the clients share.
const CONNECTIONS: usize = 4;

/// SplitMix64 with the reference constants.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A request id: two draws as a canonical UUID v4.
    pub fn uuid(&mut self) -> String {
        let hi = self.next() & 0xFFFF_FFFF_FFFF_0FFF | 0x4000;
        let lo = self.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000;
        uuid::Uuid::from_u64_pair(hi, lo).to_string()
    }
}

/// The spread commands: (slot, request id) for i = 0…n−1.
pub fn spread_commands(n: usize) -> Vec<(usize, String)> {
    let mut prng = SplitMix64::new(SEED);
    (0..n)
        .map(|_| {
            let slot = (prng.next() % 1_000) as usize;
            (slot, prng.uuid())
        })
        .collect()
}

/// The hot commands' request ids.
pub fn hot_commands(n: usize) -> Vec<String> {
    let mut prng = SplitMix64::new(SEED);
    (0..n).map(|_| prng.uuid()).collect()
}

/// A product of `schedules` one-hour slots of `capacity`, one free price, confirmed at once,
/// live; its reservation schedule ids in start order, once every one is bookable.
async fn product(h: &Harness, schedules: usize, capacity: u32) -> Vec<String> {
    let hour = 3_600 * 1_000_000;
    let mut input = product_input(
        h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        capacity,
        0,
    );
    let first = h.now_us() + 24 * hour;
    input.schedules = (0..schedules as i64)
        .map(|i| ScheduleInput {
            starts_at: Some(yeyak_proto::time::from_micros(first + i * hour)),
            ..Default::default()
        })
        .collect();
    let seeded = seed_with(h, input).await;
    let mut units: Vec<_> = seeded
        .product
        .reservation_schedules
        .iter()
        .map(|u| {
            let at = u.starts_at.as_ref().map_or(0, |t| t.seconds);
            (at, u.reservation_schedule_id.clone())
        })
        .collect();
    units.sort();
    let ids: Vec<String> = units.into_iter().map(|(_, id)| id).collect();
    // The last schedule bookable means the reservations service learned the product.
    let probe = h.reservations(h.customer("bench-warm-up")).await;
    let last = ids.last().cloned().unwrap_or_default();
    yeyak_e2e::until("the reservations service to learn the schedules", || {
        let mut client = probe.clone();
        let last = last.clone();
        async move {
            client
                .book(BookRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    reservation_schedule_id: last,
                    quantity: 1,
                    ..Default::default()
                })
                .await
                .ok()
                .map(|_| ())
        }
    })
    .await;
    ids
}

async fn clients(h: &Harness, customer: &str) -> Vec<ReservationsServiceClient<Authed>> {
    let mut out = Vec::new();
    for _ in 0..CONNECTIONS {
        out.push(h.reservations(h.customer(customer)).await);
    }
    out
}

/// One booking until it is answered; ABORTED (a lost race) is tried again. (latency, code, tries)
async fn book(
    client: &mut ReservationsServiceClient<Authed>,
    request: BookRequest,
) -> (Duration, Code, u32) {
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        match client.book(request.clone()).await {
            Ok(_) => return (start.elapsed(), Code::Ok, tries),
            Err(s) if s.code() == Code::Aborted && tries < 10 => continue,
            Err(s) => {
                if reason(&s) != "SOLD_OUT" {
                    eprintln!("booking refused: {s:?}");
                }
                return (start.elapsed(), s.code(), tries);
            }
        }
    }
}

/// What a load did.
pub struct Load {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub by_code: BTreeMap<String, usize>,
    pub retries: u32,
}

/// `tasks` clients share a counter over `commands` on `slots`.
async fn spread(h: &Harness, slots: &[String], commands: &[(usize, String)], tasks: usize) -> Load {
    let clients = clients(h, &format!("bench-spread-{tasks}")).await;
    let next = Arc::new(AtomicUsize::new(0));
    let commands = Arc::new(commands.to_vec());
    let slots = Arc::new(slots.to_vec());
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let mut client = clients[t % clients.len()].clone();
        let (next, commands, slots) = (next.clone(), commands.clone(), slots.clone());
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((slot, request_id)) = commands.get(i) else {
                    return out;
                };
                let request = BookRequest {
                    request_id: request_id.clone(),
                    reservation_schedule_id: slots[*slot].clone(),
                    quantity: 1,
                    ..Default::default()
                };
                out.push(book(&mut client, request).await);
            }
        }));
    }
    collect(start, handles).await
}

async fn collect(
    start: Instant,
    handles: Vec<tokio::task::JoinHandle<Vec<(Duration, Code, u32)>>>,
) -> Load {
    let mut load = Load {
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        by_code: BTreeMap::new(),
        retries: 0,
    };
    for handle in handles {
        for (latency, code, tries) in handle.await.expect("client task") {
            load.latencies.push(latency);
            *load.by_code.entry(format!("{code:?}")).or_default() += 1;
            load.retries += tries - 1;
        }
    }
    load.elapsed = start.elapsed();
    load
}

/// 500 bookings on one schedule of capacity 20, released together.
async fn hot(h: &Harness, slot: &str, n: usize) -> Load {
    let clients = clients(h, "bench-hot").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut handles = Vec::new();
    for (i, request_id) in hot_commands(n).into_iter().enumerate() {
        let mut client = clients[i % clients.len()].clone();
        let barrier = barrier.clone();
        let request = BookRequest {
            request_id,
            reservation_schedule_id: slot.to_string(),
            quantity: 1,
            ..Default::default()
        };
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            vec![book(&mut client, request).await]
        }));
    }
    barrier.wait().await;
    collect(Instant::now(), handles).await
}

fn row(backend: &'static str, case: String, load: &Load) -> Row {
    Row {
        backend,
        case,
        ops: load.latencies.len(),
        elapsed: load.elapsed,
        latencies: load.latencies.clone(),
    }
}

/// How long every consumer may take to catch up after a load before the run moves on.
const CATCH_UP: Duration = Duration::from_secs(120);

/// The fixed-rate workload: bookings per second, for how long.
const RATE: u64 = 1_000;
/// The workload's 20 s, halved: at yeyak's rate the 20,000 bookings would take two minutes
/// to answer, and `make bench` must stay under ten.
const RATE_FOR: Duration = Duration::from_secs(10);

/// What one phase measured, for the report.
pub struct Phase {
    pub row: Row,
    pub by_code: BTreeMap<String, usize>,
    pub retries: u32,
    /// Further facts: the downstream, memory.
    pub notes: Vec<String>,
}

/// A fresh system on `storage` with a product of `schedules` × `capacity`, idle, its
/// databases checkpointed: the system, its logs and the schedule ids.
async fn fresh(
    storage: Storage,
    schedules: usize,
    capacity: u32,
) -> Option<(Harness, crate::system::Logs, Vec<String>)> {
    let h = Harness::start(storage).await?;
    let slots = product(&h, schedules, capacity).await;
    let databases = h.databases.clone().expect("an in-process system");
    let logs = crate::system::Logs::open(&databases).await;
    if let Err(behind) = logs.caught_up(CATCH_UP).await {
        eprintln!("the set-up did not settle: {behind:?}");
    }
    crate::system::Logs::checkpoint(&databases).await;
    Some((h, logs, slots))
}

/// Samples this process's resident memory until `stop`, answering the largest.
fn sample_rss(stop: tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            peak = peak.max(crate::system::rss_mib().0);
            tokio::select! {
                _ = stop.cancelled() => return peak,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
}

/// A spread load on a fresh system, and the memory idle and under load; with `downstream`,
/// also how long every consumer then took to catch up.
async fn spread_phase(
    backend: &'static str,
    storage: Storage,
    commands: &[(usize, String)],
    tasks: usize,
    downstream: bool,
) -> Option<Phase> {
    let (h, logs, slots) = fresh(storage, 1_000, 10_000).await?;
    let idle = crate::system::rss_mib().0;
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = sample_rss(stop.clone());
    let load = spread(&h, &slots, commands, tasks).await;
    let mut notes = Vec::new();
    if downstream {
        let consumers = logs.consumers().await;
        match logs.caught_up(CATCH_UP).await {
            Ok(took) => notes.push(format!(
                "downstream: every consumer ({consumers} checkpoints) caught up {:.1} s after the load",
                took.as_secs_f64()
            )),
            Err(behind) => notes.push(format!(
                "downstream: not caught up {} s after the load; still behind (events): {behind:?}",
                CATCH_UP.as_secs()
            )),
        }
    }
    stop.cancel();
    let peak = sampler.await.unwrap_or_default();
    notes.push(format!(
        "memory: the whole system in one process, {idle:.0} MiB idle before the load, {peak:.0} MiB at most during the load{}",
        if downstream { " and the catch-up" } else { "" }
    ));
    h.stop().await;
    let case = format!("gRPC Book, spread, {tasks} clients");
    Some(Phase {
        row: row(backend, case, &load),
        by_code: load.by_code,
        retries: load.retries,
        notes,
    })
}

/// Bookings started at a fixed rate whatever the answers; a booking's latency runs from when
/// it was due, so a generator that falls behind shows in the figures.
async fn fixed_rate(h: &Harness, slots: &[String], commands: &[(usize, String)]) -> Load {
    let clients = clients(h, "bench-rate").await;
    let due = (RATE * RATE_FOR.as_secs()) as usize;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(due);
    for (i, (slot, request_id)) in commands.iter().take(due).enumerate() {
        ticker.tick().await;
        let scheduled = start + Duration::from_micros(i as u64 * 1_000_000 / RATE);
        let mut client = clients[i % clients.len()].clone();
        let request = BookRequest {
            request_id: request_id.clone(),
            reservation_schedule_id: slots[*slot].clone(),
            quantity: 1,
            ..Default::default()
        };
        handles.push(tokio::spawn(async move {
            let (_, code, tries) = book(&mut client, request).await;
            vec![(scheduled.elapsed(), code, tries)]
        }));
    }
    collect(start, handles).await
}

/// The distributed mode (each service its own process on its own PostgreSQL database, Kafka
/// between them): `bookings` of the spread commands by 32 clients, and each process's memory idle
/// and at its peak (`VmHWM`) after the load and a settling period. `None` without PostgreSQL or
/// the broker.
pub async fn distributed(commands: &[(usize, String)]) -> Option<Phase> {
    let h = Harness::distributed(&[]).await?;
    let slots = product(&h, 1_000, 10_000).await;
    let cluster = h.cluster.as_ref().expect("a cluster of processes");
    let databases = yeyak::Databases {
        catalog: cluster.database_urls["catalog"].clone(),
        reservations: cluster.database_urls["reservations"].clone(),
        notifications: cluster.database_urls["notifications"].clone(),
        settlement: cluster.database_urls["settlement"].clone(),
    };
    crate::system::Logs::checkpoint(&databases).await;
    let pids = cluster.pids();
    let idle: Vec<_> = pids
        .iter()
        .map(|(s, pid)| (*s, crate::system::process_rss_mib(&pid.to_string()).0))
        .collect();
    let load = spread(&h, &slots, commands, 32).await;
    // The consumers over Kafka go on after the load; their peak is read after they had time
    // to take the backlog (their lag is the broker's, not in the logs' checkpoints).
    tokio::time::sleep(SETTLE).await;
    let mut notes = Vec::new();
    for ((service, pid), (_, idle)) in pids.iter().zip(idle) {
        let (now, peak) = crate::system::process_rss_mib(&pid.to_string());
        notes.push(format!(
            "memory: {service} {idle:.0} MiB idle, {peak:.0} MiB at most, {now:.0} MiB {} s after the load",
            SETTLE.as_secs()
        ));
    }
    let row = row(
        "postgres",
        "gRPC Book, spread, 32 clients, one process per service".into(),
        &load,
    );
    drop(h);
    Some(Phase {
        row,
        by_code: load.by_code,
        retries: load.retries,
        notes,
    })
}

/// How long the distributed phase lets the consumers work after the load before it reads the
/// processes' memory.
const SETTLE: Duration = Duration::from_secs(15);

/// The gRPC phases on `storage` (`None` when it is unavailable), each on fresh databases.
pub async fn rows(backend: &'static str, storage: Storage, bookings: usize) -> Option<Vec<Phase>> {
    let commands = spread_commands(bookings);
    // The downstream's catch-up is measured where its target is, on PostgreSQL.
    let downstream = matches!(storage, Storage::Postgres);
    let mut out = vec![spread_phase(backend, storage, &commands, 32, downstream).await?];
    // Eight clients book the first eighth of the commands: at yeyak's rate the whole list
    // would take two minutes a backend, and `make bench` must stay under ten.
    let eighth = &commands[..bookings.div_ceil(8)];
    out.push(spread_phase(backend, storage, eighth, 8, false).await?);
    // Capacity 21: the set-up's probe booking takes one seat, 20 remain for the 500.
    let (h, _, hot_slot) = fresh(storage, 1, 21).await?;
    let load = hot(&h, &hot_slot[0], 500).await;
    h.stop().await;
    out.push(Phase {
        row: row(
            backend,
            "gRPC Book, hot slot: 500 at once for 20 seats".into(),
            &load,
        ),
        by_code: load.by_code,
        retries: load.retries,
        notes: Vec::new(),
    });
    if matches!(storage, Storage::Postgres) {
        let (h, _, slots) = fresh(storage, 1_000, 10_000).await?;
        let load = fixed_rate(&h, &slots, &commands).await;
        h.stop().await;
        let case = format!(
            "gRPC Book, fixed rate {RATE}/s for {} s",
            RATE_FOR.as_secs()
        );
        out.push(Phase {
            row: row(backend, case, &load),
            by_code: load.by_code,
            retries: load.retries,
            notes: Vec::new(),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_are_the_workloads() {
        let spread = spread_commands(1);
        assert_eq!(
            spread[0],
            (131, "2304b63d-7450-4eed-bc60-2fffe172686a".to_string())
        );
    }
}
