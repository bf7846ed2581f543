//! `yeyak admin` against a running system's logs, on the embedded default and on PostgreSQL:
//! a stream decoded, a log verified (and a gap and an undecodable event found), every position
//! and how far behind it is, the dead letters with their original key and payload, and every read
//! model rebuilt from position 0 while the system runs.
use yeyak::admin::{AdminCommand, Logs, run};
use yeyak_e2e::{Harness, Storage, until};
use yeyak_eventlog::{AppendRequest, ExpectedVersion, NewEvent};
use yeyak_proto::catalog::events::v1::{ConfirmationMode, PaymentMode};

use crate::support::{book, rid, seed};

fn logs(h: &Harness) -> Logs {
    if let Some(cluster) = &h.cluster {
        let url = |s: &str| Some(cluster.database_urls[s].clone());
        return Logs {
            data_dir: std::env::temp_dir(),
            catalog_log: url("catalog"),
            reservations_log: url("reservations"),
            notifications_log: url("notifications"),
            settlement_log: url("settlement"),
        };
    }
    let d = h.databases.clone().expect("an in-process system");
    Logs {
        data_dir: std::env::temp_dir(),
        catalog_log: Some(d.catalog),
        reservations_log: Some(d.reservations),
        notifications_log: Some(d.notifications),
        settlement_log: Some(d.settlement),
    }
}

/// JSON lines of a command's output.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `yeyak admin <args>` on the system's logs: whether what it checked holds, and its output.
async fn admin(h: &Harness, args: &[&str]) -> (bool, String) {
    use clap::{FromArgMatches, Subcommand};
    let mut argv = vec!["admin"];
    argv.extend_from_slice(args);
    let cli = AdminCommand::augment_subcommands(clap::Command::new("admin").no_binary_name(true));
    let matches = cli
        .try_get_matches_from(&argv[1..])
        .expect("the arguments parse");
    let mut command = AdminCommand::from_arg_matches(&matches).expect("a command");
    let logs = logs(h);
    match &mut command {
        AdminCommand::Stream(a) => a.logs = logs,
        AdminCommand::Verify(a) => a.logs = logs,
        AdminCommand::Positions(a) => {
            a.logs = logs;
            a.brokers.kafka_brokers = brokers(h);
        }
        AdminCommand::DeadLetters(a) => {
            a.logs = logs;
            a.brokers.kafka_brokers = brokers(h);
        }
        AdminCommand::Rebuild(a) => a.logs = logs,
        AdminCommand::Reconcile(_) => {}
    }
    let mut out = Vec::new();
    let holds = run(command, &mut out).await.expect("the command ran");
    (holds, String::from_utf8(out).expect("text"))
}

/// The broker of a distributed system (an in-process one has none, whatever the environment).
fn brokers(h: &Harness) -> Option<String> {
    h.cluster.as_ref().map(|c| c.broker.bootstrap())
}

async fn every_admin_command_works_on(storage: Storage) {
    let Some(h) = Harness::start(storage).await else {
        return;
    };
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        5,
        10_000,
    )
    .await;
    let reservation = book(&h, "customer-admin", &seeded.schedule_id(), 1, &rid()).await;
    let id = reservation.reservation_id.clone();

    let (_, text) = admin(
        &h,
        &[
            "stream",
            "--service",
            "reservations",
            &format!("reservation-{id}"),
        ],
    )
    .await;
    assert!(
        text.contains("yeyak.reservations.events.v1.ReservationBooked"),
        "{text}"
    );
    assert!(text.contains(&id), "the payload is decoded: {text}");
    let (_, json) = admin(
        &h,
        &[
            "stream",
            "--service",
            "reservations",
            "--json",
            &format!("reservation-{id}"),
        ],
    )
    .await;
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a line")).expect("JSON");
    assert_eq!(first["stream_version"], 1);
    assert_eq!(first["data"]["reservationId"], id.as_str());

    // Every consumer catches up: each position is 0 behind.
    let system = &h;
    until("every position caught up", || async move {
        let (_, text) = admin(system, &["positions", "--json"]).await;
        let rows: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let consumers = rows
            .iter()
            .filter(|r| r["name"].as_str().is_some_and(|n| n.contains('@')));
        (consumers.clone().count() >= 4 && consumers.clone().all(|r| r["behind"] == 0))
            .then_some(())
    })
    .await;

    // The live reservation list is wrong (a row no event explains, the reservation's row
    // dropped): a rebuild, while the system runs, gives it rows computed from position 0.
    let reservations = yeyak_eventlog::connect(&h.databases.clone().expect("dbs").reservations)
        .await
        .expect("the reservations' log");
    let list = yeyak_reservations::app::listing::PROJECTION;
    let listed = |partition: String| yeyak_eventlog::ProjectionQuery {
        projection: list.into(),
        partition,
        limit: 10,
        ..Default::default()
    };
    let ghost = yeyak_eventlog::ProjectionRow {
        key: "ghost".into(),
        partition: reservation.partner_id.clone(),
        ..Default::default()
    };
    reservations
        .reset_projection(list, "no consumer")
        .await
        .expect("the list dropped");
    reservations
        .upsert_rows(list, vec![ghost])
        .await
        .expect("a ghost row");
    let (holds, text) = admin(&h, &["rebuild", "--service", "reservations"]).await;
    assert!(holds, "{text}");
    assert!(
        text.contains("rebuilt reservation-list.v2 from position 0"),
        "{text}"
    );
    let keys: Vec<String> = reservations
        .query_rows(&listed(reservation.partner_id.clone()))
        .await
        .expect("the list")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, std::slice::from_ref(&id), "the rebuilt list");
    for (service, projection) in [
        ("notifications", "notification-list.v1"),
        ("settlement", "settlement-entries.v1"),
    ] {
        let (holds, text) = admin(&h, &["rebuild", "--service", service, "--json"]).await;
        assert!(holds, "{text}");
        let done: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
        assert!(done["events"].as_u64().is_some_and(|n| n > 0), "{done}");
        assert!(
            done["projections"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == projection)),
            "{done}"
        );
    }

    let (holds, text) = admin(&h, &["verify"]).await;
    assert!(holds, "{text}");
    assert_eq!(
        text.matches("every stream contiguous, every event decodable")
            .count(),
        4,
        "{text}"
    );

    // A catalog event no consumer can decode: the log no longer verifies, and each consumer of
    // the catalog sets it aside with its stream and payload.
    let catalog = yeyak_eventlog::connect(&h.databases.clone().expect("dbs").catalog)
        .await
        .expect("the catalog's log");
    catalog
        .append(AppendRequest::single(
            "product-broken",
            ExpectedVersion::NoStream,
            vec![NewEvent {
                event_id: uuid::Uuid::new_v4(),
                event_type: "yeyak.catalog.events.v1.ProductApproved".into(),
                schema_version: 1,
                payload: vec![0xff, 0xff, 0xff],
                metadata: yeyak_eventlog::Metadata {
                    correlation_id: uuid::Uuid::new_v4(),
                    causation_id: None,
                    actor: "ops:test".into(),
                    occurred_at_us: 0,
                    trace_context: None,
                },
            }],
        ))
        .await
        .expect("appended");
    let (holds, text) = admin(&h, &["verify", "--service", "catalog"]).await;
    assert!(!holds, "{text}");
    assert!(
        text.contains("product-broken version 1") && text.contains("DOES NOT VERIFY"),
        "{text}"
    );
    let letters = until("the consumers to set the event aside", || async move {
        let (_, text) = admin(system, &["dead-letters", "--json"]).await;
        let letters: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|l: &serde_json::Value| l["stream"] == "product-broken")
            .collect();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    for letter in &letters {
        assert_eq!(letter["type"], "yeyak.catalog.events.v1.ProductApproved");
        assert_eq!(letter["source"], "catalog");
        assert!(letter["consumer"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(letter["data"]["undecodable"].is_string(), "{letter}");
    }
    // Redriven, each consumer applies the event again; still undecodable, each attempt fails and
    // says so.
    let (holds, text) = admin(&h, &["dead-letters", "--redrive"]).await;
    assert!(holds, "{text}");
    assert!(text.contains("redrive requested"), "{text}");
    until("every consumer to try the event again", || async move {
        let (_, text) = admin(system, &["dead-letters", "--json"]).await;
        let redriven: Vec<_> = json_lines(&text)
            .into_iter()
            .filter(|l| l["stream"] == "product-broken")
            .map(|l| l["redrive"].as_str().unwrap_or_default().to_string())
            .collect();
        (!redriven.is_empty() && redriven.iter().all(|r| r.starts_with("set aside again")))
            .then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_works_on_the_embedded_default() {
    every_admin_command_works_on(Storage::EmbeddedSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_works_on_postgres() {
    every_admin_command_works_on(Storage::Postgres).await;
}

#[tokio::test]
async fn verify_finds_a_gap_in_a_streams_versions() {
    let dir = std::env::temp_dir().join(format!("yeyak-verify-{}", uuid::Uuid::new_v4()));
    let mut out = Vec::new();
    yeyak::migrate::run(
        yeyak::migrate::MigrateArgs {
            urls: vec![],
            data_dir: dir.clone(),
            service_role: None,
        },
        &mut out,
    )
    .await
    .expect("the embedded logs");
    // Written behind the log's back: version 2 of a stream with no version 1.
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("settlement.db").display()))
            .await
            .expect("the file");
    sqlx::query(
        "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, payload, \
         correlation_id, actor, occurred_at_us, recorded_at_us) \
         VALUES (randomblob(16), 'ledger-gap', 2, 'yeyak.settlement.events.v1.PayoutTransferred', 1, x'', randomblob(16), 'x', 0, 0)",
    )
    .execute(&pool)
    .await
    .expect("inserted");
    let mut out = Vec::new();
    let args = yeyak::admin::AdminCommand::Verify(yeyak::admin::VerifyArgs {
        logs: Logs {
            data_dir: dir,
            ..Default::default()
        },
        service: Some(yeyak::admin::Service::Settlement),
    });
    let holds = run(args, &mut out).await.expect("ran");
    let text = String::from_utf8(out).expect("text");
    assert!(!holds, "{text}");
    assert!(
        text.contains("ledger-gap version 2") && text.contains("expected 1"),
        "{text}"
    );
}

/// The distributed mode: the services' PostgreSQL logs and the broker. Each Kafka consumer
/// group's lag per partition, the dead-letter topics' records decoded, a redrive that the
/// consumer reads again, and a read model rebuilt while the processes run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_works_on_postgres_and_kafka() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let Some(h) = Harness::distributed(&[]).await else {
        return;
    };
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::ReservationOnly,
        5,
        0,
    )
    .await;
    let reservation = book(&h, "customer-admin", &seeded.schedule_id(), 1, &rid()).await;
    let system = &h;
    let groups = [
        "--group",
        "reservations-inventory",
        "--group",
        "notifications-messages",
    ];
    until("both groups caught up on Kafka", || async move {
        let mut args = vec!["positions", "--json"];
        args.extend_from_slice(&groups);
        let (_, text) = admin(system, &args).await;
        let kafka: Vec<_> = json_lines(&text)
            .into_iter()
            .filter(|r| r["log"] == "kafka")
            .collect();
        let caught_up = |g: &str| {
            kafka.iter().any(|r| r["group"] == g)
                && kafka
                    .iter()
                    .filter(|r| r["group"] == g)
                    .all(|r| r["behind"] == 0)
        };
        (caught_up("reservations-inventory") && caught_up("notifications-messages")).then_some(())
    })
    .await;

    // A record no consumer can decode on the catalog's topic: each consumer of it sets it
    // aside in the dead-letter topic, with the original key and payload.
    let config = yeyak_kafka::KafkaConfig::new(brokers(&h).expect("a broker"));
    let topic = config.topic("catalog");
    let producer: FutureProducer = config.client("garbage").create().expect("a producer");
    producer
        .send(
            FutureRecord::to(&topic)
                .key("product-broken".as_bytes())
                .payload(b"\xff\xff".as_slice()),
            std::time::Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produced");
    let set_aside = |consumer: &'static str| async move {
        let (_, text) = admin(system, &["dead-letters", "--json", "--consumer", consumer]).await;
        json_lines(&text)
            .into_iter()
            .filter(|l| l["log"] == "kafka" && l["stream"] == "product-broken")
            .count()
    };
    until("the inventory consumer to set the record aside", || async {
        (set_aside("reservations-inventory").await == 1).then_some(())
    })
    .await;
    let (_, text) = admin(
        &h,
        &[
            "dead-letters",
            "--json",
            "--consumer",
            "reservations-inventory",
        ],
    )
    .await;
    let letter = json_lines(&text)
        .into_iter()
        .find(|l| l["log"] == "kafka")
        .expect("a Kafka dead letter");
    assert_eq!(
        letter["record"]
            .as_str()
            .map(|r| r.starts_with(&format!("{topic}.dlq/"))),
        Some(true),
        "{letter}"
    );
    assert!(
        letter["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{letter}"
    );
    assert!(
        letter["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with(&topic)),
        "{letter}"
    );

    // Redriven, the record is read again; still undecodable, it is set aside a second time.
    let (holds, text) = admin(
        &h,
        &[
            "dead-letters",
            "--json",
            "--consumer",
            "reservations-inventory",
            "--redrive",
        ],
    )
    .await;
    assert!(holds, "{text}");
    assert!(text.contains(r#"{"redriven":1}"#), "{text}");
    until("the redriven record set aside again", || async {
        (set_aside("reservations-inventory").await == 2).then_some(())
    })
    .await;

    let (holds, text) = admin(&h, &["rebuild", "--service", "reservations"]).await;
    assert!(holds, "{text}");
    assert!(text.contains("rebuilt reservation-list.v2"), "{text}");
    let (_, text) = admin(
        &h,
        &[
            "stream",
            "--service",
            "reservations",
            &format!("reservation-{}", reservation.reservation_id),
        ],
    )
    .await;
    assert!(text.contains("ReservationBooked"), "{text}");
    h.stop().await;
}
