//! The PostgreSQL ceiling, measured in the same run: `pgbench` running a booking-shaped
//! transaction (an event insert, a dedupe-row insert, a commit) at 8 and 32 clients on a fresh
//! database of the same server, and yeyak's spread rates as a fraction of it.
use std::time::Duration;

use yeyak_eventlog::testing::fresh_postgres_url;

use crate::{NOTES, Row};

/// How long each pgbench run lasts.
const RUN: Duration = Duration::from_secs(10);

const SCRIPT: &str = "BEGIN;
INSERT INTO ceiling_events (stream_id, payload) VALUES ('inventory-' || :client_id, repeat('x', 200));
INSERT INTO ceiling_inbox (consumer, request_id) VALUES ('customer-' || :client_id, gen_random_uuid());
COMMIT;
";

/// Runs pgbench at 8 and 32 clients; `spread` are yeyak's PostgreSQL spread rates by case.
pub async fn ceiling(spread: &[(String, f64)]) {
    let Some(url) = fresh_postgres_url("bench_ceiling").await else {
        println!("(PostgreSQL unreachable: the ceiling skipped)");
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.expect("ceiling database");
    for sql in [
        "CREATE TABLE ceiling_events (position BIGSERIAL PRIMARY KEY, stream_id TEXT NOT NULL, payload TEXT NOT NULL)",
        "CREATE TABLE ceiling_inbox (consumer TEXT NOT NULL, request_id UUID NOT NULL, PRIMARY KEY (consumer, request_id))",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;
    let script = std::env::temp_dir().join(format!("yeyak-ceiling-{}.sql", std::process::id()));
    std::fs::write(&script, SCRIPT).expect("pgbench script");
    let mut rates = Vec::new();
    for clients in [8, 32] {
        let (script, url) = (script.clone(), url.clone());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("pgbench")
                .args(["-n", "-j", "2", "-c", &clients.to_string()])
                .args(["-T", &RUN.as_secs().to_string(), "-f"])
                .arg(&script)
                .arg(&url)
                .output()
        })
        .await
        .expect("pgbench task");
        let tps = output.ok().and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("tps = "))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|t| t.parse::<f64>().ok())
        });
        let Some(tps) = tps else {
            println!("(pgbench did not run: the ceiling skipped)");
            return;
        };
        Row {
            backend: "postgres",
            case: format!("ceiling: pgbench, 2 inserts + commit, {clients} clients"),
            ops: (tps * RUN.as_secs_f64()) as usize,
            elapsed: RUN,
            latencies: Vec::new(),
        }
        .print();
        rates.push((clients, tps));
    }
    let _ = std::fs::remove_file(&script);
    for (case, rate) in spread {
        let clients = if case.contains("32") { 32 } else { 8 };
        if let Some((_, tps)) = rates.iter().find(|(c, _)| *c == clients) {
            let note = format!(
                "postgres, {case}: {rate:.0} bookings/s, {:.1} % of the ceiling at {clients} clients ({tps:.0} transactions/s)",
                100.0 * rate / tps
            );
            println!("  {note}");
            NOTES.lock().expect("notes").push(note);
        }
    }
}
