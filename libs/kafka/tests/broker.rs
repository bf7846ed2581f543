//! The Kafka claims, against a real Kafka-API broker on loopback (tansu, `scripts/install-tansu.sh`).
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, RecordedEvent,
    testing::{event, eventually, fresh_postgres_url, fresh_sqlite_url},
};
use yeyak_kafka::{
    KafkaConfig, consumer::KafkaTransport, record, relay::Relay, testing::Broker, topics,
};
use yeyak_transport::{EventHandler, HandlerError, Transport};

const SOURCE: &str = "orders";

/// A consumer whose effect is an event in its own log, written with its inbox row. It also
/// remembers the order in which it saw each stream's versions.
struct Recorder {
    own: Arc<dyn EventStore>,
    seen: Mutex<Vec<(String, u64)>>,
}

impl Recorder {
    fn new(own: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self {
            own,
            seen: Mutex::new(Vec::new()),
        })
    }

    async fn effects(&self) -> Vec<String> {
        let events = self.own.read_stream("effects", 1, 100_000).await.unwrap();
        events
            .into_iter()
            .map(|e| String::from_utf8(e.payload).unwrap())
            .collect()
    }
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    async fn handle(&self, e: &RecordedEvent) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push((e.stream_id.clone(), e.stream_version));
        let effect = AppendRequest::single(
            "effects",
            ExpectedVersion::Any,
            vec![event("Effect", &e.payload)],
        )
        .with_inbox("recorder", e.event_id);
        HandlerError::from_append(self.own.append(effect).await)
    }
}

fn config(broker: &Broker) -> KafkaConfig {
    let mut config = KafkaConfig::new(broker.bootstrap());
    config.partitions = 3;
    config.message_timeout = Duration::from_secs(5);
    config
}

async fn publish(log: &Arc<dyn EventStore>, stream: &str, payload: &str) {
    log.append(AppendRequest::single(
        stream,
        ExpectedVersion::Any,
        vec![event("Order", payload.as_bytes())],
    ))
    .await
    .expect("append");
}

fn spawn_relay(
    log: &Arc<dyn EventStore>,
    config: &KafkaConfig,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let relay = Relay::new(log.clone(), config.clone(), SOURCE).batch_size(20);
    let token = stop.clone();
    (
        stop,
        tokio::spawn(async move { relay.run(token).await.expect("relay") }),
    )
}

fn spawn_consumer(
    config: &KafkaConfig,
    recorder: &Arc<Recorder>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let transport = KafkaTransport::new(config.clone()).expect("transport");
    let (handler, token) = (recorder.clone() as Arc<dyn EventHandler>, stop.clone());
    (
        stop,
        tokio::spawn(async move {
            transport
                .consume(SOURCE, handler, token)
                .await
                .expect("consumer")
        }),
    )
}

async fn wait_for_effects(recorder: &Recorder, n: usize) {
    eventually(Duration::from_secs(60), &format!("{n} effects"), || async {
        recorder.effects().await.len() >= n
    })
    .await;
}

/// Each stream's versions were seen in increasing order (duplicates allowed, never going back
/// past a version already applied for the first time).
fn assert_stream_order(seen: &[(String, u64)]) {
    let mut highest: HashMap<&str, u64> = HashMap::new();
    for (stream, version) in seen {
        let top = highest.entry(stream).or_insert(0);
        assert!(
            *version <= *top || *version == *top + 1,
            "stream {stream}: version {version} after {top}"
        );
        *top = (*top).max(*version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_publishes_in_log_order_with_cloudevents_headers_keyed_by_stream() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let config = config(&broker);
    topics::ensure(&config, &[config.topic(SOURCE)])
        .await
        .expect("topics");
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("relay"))
        .await
        .unwrap();
    for n in 0..30 {
        publish(&log, &format!("order-{}", n % 4), &n.to_string()).await;
    }
    let (stop, relay) = spawn_relay(&log, &config);

    let consumer: StreamConsumer = config
        .client("raw")
        .set("group.id", "raw")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&config.topic(SOURCE)]).unwrap();
    let mut per_stream: HashMap<String, Vec<u64>> = HashMap::new();
    for _ in 0..30 {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a record")
            .expect("ok");
        let pairs = record::header_pairs(m.headers());
        let header = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("ce_specversion"), "1.0");
        assert_eq!(header("ce_source"), "/yeyak/orders");
        assert_eq!(header("content-type"), "application/protobuf");
        assert!(
            !header("ce_id").is_empty()
                && !header("ce_time").is_empty()
                && header("ce_type") == "Order"
        );
        assert!(
            header("traceparent").starts_with("00-"),
            "the trace context travels"
        );
        assert_eq!(m.headers().map(|h| h.count()).unwrap_or(0), pairs.len());
        let e = record::event_from(&pairs, m.key(), m.payload()).expect("a yeyak event");
        assert_eq!(m.key(), Some(e.stream_id.as_bytes()), "key = stream id");
        per_stream
            .entry(e.stream_id)
            .or_default()
            .push(e.stream_version);
    }
    for (stream, versions) in per_stream {
        assert_eq!(
            versions,
            (1..=versions.len() as u64).collect::<Vec<_>>(),
            "{stream} in order"
        );
    }
    eventually(
        Duration::from_secs(10),
        "the relay checkpoint to reach the end",
        || async {
            log.load_checkpoint(&yeyak_kafka::relay::checkpoint_name(&config.topic(SOURCE)))
                .await
                .unwrap()
                .position
                == 30
        },
    )
    .await;
    stop.cancel();
    relay.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_stopped_mid_stream_and_restarted_loses_no_event() {
    let Some(mut broker) = Broker::start().await else {
        return;
    };
    let config = config(&broker);
    topics::ensure(&config, &[config.topic(SOURCE)])
        .await
        .expect("topics");
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("source"))
        .await
        .unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let recorder = Recorder::new(own);
    let (stop_relay, relay) = spawn_relay(&log, &config);
    let (stop_consumer, consumer) = spawn_consumer(&config, &recorder);

    for n in 0..40 {
        publish(&log, &format!("order-{}", n % 5), &format!("a{n}")).await;
    }
    wait_for_effects(&recorder, 10).await;
    broker.kill();
    // Committed while the broker is down: they wait in the log.
    for n in 0..40 {
        publish(&log, &format!("order-{}", n % 5), &format!("b{n}")).await;
    }
    broker.restart().await;
    wait_for_effects(&recorder, 80).await;

    let effects = recorder.effects().await;
    let unique: HashSet<_> = effects.iter().collect();
    assert_eq!(effects.len(), 80, "every event has exactly one effect");
    assert_eq!(unique.len(), 80);
    assert_stream_order(&recorder.seen.lock().unwrap());
    stop_relay.cancel();
    stop_consumer.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_stream_order_and_no_effect_happens_twice() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let Some(url) = fresh_postgres_url("two_relays").await else {
        return;
    };
    let config = config(&broker);
    topics::ensure(&config, &[config.topic(SOURCE)])
        .await
        .expect("topics");
    // Two replicas of one service: two connections to one log, two relays.
    let replica_a = yeyak_eventlog::connect(&url).await.unwrap();
    let replica_b = yeyak_eventlog::connect(&url).await.unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let recorder = Recorder::new(own);
    let (stop_a, relay_a) = spawn_relay(&replica_a, &config);
    let (stop_b, relay_b) = spawn_relay(&replica_b, &config);
    let (stop_consumer, consumer) = spawn_consumer(&config, &recorder);

    let writers: Vec<_> = (0..4)
        .map(|w| {
            let log = if w % 2 == 0 {
                replica_a.clone()
            } else {
                replica_b.clone()
            };
            tokio::spawn(async move {
                for n in 0..25 {
                    publish(&log, &format!("order-{}", n % 3), &format!("{w}:{n}")).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    wait_for_effects(&recorder, 50).await;
    // The active relay's replica goes away; the other takes over its lease and goes on.
    stop_a.cancel();
    relay_a.await.unwrap();
    for n in 0..20 {
        publish(
            &replica_b,
            &format!("order-{}", n % 3),
            &format!("late:{n}"),
        )
        .await;
    }
    wait_for_effects(&recorder, 120).await;

    let effects = recorder.effects().await;
    assert_eq!(effects.len(), 120, "no effect twice, none missing");
    assert_eq!(effects.iter().collect::<HashSet<_>>().len(), 120);
    assert_stream_order(&recorder.seen.lock().unwrap());
    stop_b.cancel();
    stop_consumer.cancel();
    relay_b.await.unwrap();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_undecodable_record_goes_to_the_dead_letter_topic_and_the_next_events_are_processed() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let config = config(&broker);
    let topic = config.topic(SOURCE);
    topics::ensure(&config, std::slice::from_ref(&topic))
        .await
        .expect("topics");
    let producer: FutureProducer = config.client("garbage").create().unwrap();
    // Same key as the valid events, so it sits before them in their partition.
    let garbage = FutureRecord::to(&topic)
        .key("order-1".as_bytes())
        .payload(b"\xff\x00not a yeyak event".as_slice());
    producer
        .send(garbage, Timeout::After(Duration::from_secs(10)))
        .await
        .map_err(|(e, _)| e)
        .expect("produce");

    let log = yeyak_eventlog::connect(&fresh_sqlite_url("source"))
        .await
        .unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let recorder = Recorder::new(own);
    for n in 0..5 {
        publish(&log, "order-1", &n.to_string()).await;
    }
    let (stop_relay, relay) = spawn_relay(&log, &config);
    let (stop_consumer, consumer) = spawn_consumer(&config, &recorder);
    wait_for_effects(&recorder, 5).await;
    assert_eq!(recorder.effects().await, ["0", "1", "2", "3", "4"]);

    let dlq: StreamConsumer = config
        .client("dlq")
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    let m = tokio::time::timeout(Duration::from_secs(30), dlq.recv())
        .await
        .expect("a dead letter")
        .expect("ok");
    let pairs = record::header_pairs(m.headers());
    let reason = pairs
        .iter()
        .find(|(k, _)| k == "yeyak_dlq_reason")
        .map(|(_, v)| v.clone())
        .expect("a reason");
    assert!(reason.contains("ce_specversion"), "{reason}");
    assert!(
        pairs
            .iter()
            .any(|(k, v)| k == "yeyak_dlq_consumer" && v == "recorder")
    );
    assert_eq!(
        m.payload(),
        Some(b"\xff\x00not a yeyak event".as_slice()),
        "the original record is kept"
    );
    stop_relay.cancel();
    stop_consumer.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}
