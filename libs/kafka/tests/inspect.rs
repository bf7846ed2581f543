//! What operations ask the broker, against a real one (tansu): a consumer group's lag per
//! partition, the dead-letter topics' records, and a redrive that a fixed consumer applies once.
use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion,
    testing::{event, eventually, fresh_sqlite_url, until},
};
use yeyak_kafka::{
    KafkaConfig, consumer::KafkaTransport, inspect, relay::Relay, testing::Broker, topics,
};
use yeyak_transport::{EventHandler, Transport, testing::Fixable};

const SOURCE: &str = "orders";
const WAIT: Duration = Duration::from_secs(60);
const ASK: Duration = Duration::from_secs(10);

async fn publish(log: &Arc<dyn EventStore>, payload: &str) {
    log.append(AppendRequest::single(
        format!("order-{payload}"),
        ExpectedVersion::Any,
        vec![event("Order", payload.as_bytes())],
    ))
    .await
    .expect("append");
}

/// The group's records behind, over every partition of `topic`.
fn behind(config: &KafkaConfig, group: &str, topic: &str) -> Option<i64> {
    let lag = inspect::group_lag(config, &[group.to_string()], ASK).ok()?;
    let on_topic: Vec<_> = lag.iter().filter(|l| l.topic == topic).collect();
    (!on_topic.is_empty()).then(|| on_topic.iter().map(|l| l.behind()).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_groups_lag_is_what_it_has_not_consumed_and_a_redriven_record_is_applied_once() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let mut config = KafkaConfig::new(broker.bootstrap());
    config.message_timeout = Duration::from_secs(5);
    let topic = config.topic(SOURCE);
    topics::ensure(&config, std::slice::from_ref(&topic))
        .await
        .expect("topics");
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("inspect-source"))
        .await
        .unwrap();
    let handler = Fixable::new(
        yeyak_eventlog::connect(&fresh_sqlite_url("inspect-own"))
            .await
            .unwrap(),
        false,
    );
    let stop = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(log.clone(), config.clone(), SOURCE).run(stop.clone()));
    let consume = |stop: CancellationToken| {
        let transport = KafkaTransport::new(config.clone()).expect("transport");
        let handler = handler.clone() as Arc<dyn EventHandler>;
        tokio::spawn(async move { transport.consume(SOURCE, handler, stop).await })
    };
    let consuming = CancellationToken::new();
    let consumer = consume(consuming.clone());
    for n in ["1", "2", "3"] {
        publish(&log, n).await;
    }
    eventually(WAIT, "three effects", || async {
        handler.effects().await.len() == 3
    })
    .await;
    eventually(WAIT, "the group caught up", || async {
        behind(&config, "fixable", &topic) == Some(0)
    })
    .await;

    // With the consumer stopped, two more events: the group is two behind.
    consuming.cancel();
    consumer.await.unwrap().unwrap();
    publish(&log, "4").await;
    publish(&log, "5").await;
    eventually(WAIT, "the group two behind", || async {
        behind(&config, "fixable", &topic) == Some(2)
    })
    .await;

    // The consumer, broken, sets event 6 aside; fixed, it applies the redriven record once,
    // however many times it is redriven.
    handler.set_broken(true);
    let consuming = CancellationToken::new();
    let consumer = consume(consuming.clone());
    publish(&log, "6").await;
    let dead = until(WAIT, "events set aside", || async {
        let records = inspect::dead_records(&config, ASK).ok()?;
        (records.len() == 3).then_some(records)
    })
    .await;
    assert!(
        dead.iter()
            .all(|r| r.header("yeyak_dlq_consumer") == "fixable")
    );
    assert!(dead.iter().all(|r| r.origin_topic() == topic));
    let six: Vec<_> = dead
        .into_iter()
        .filter(|r| r.payload.as_deref() == Some(b"6".as_slice()))
        .collect();
    assert_eq!(six.len(), 1, "the record's payload is kept");
    assert_eq!(six[0].key.as_deref(), Some(b"order-6".as_slice()));
    handler.set_broken(false);
    for _ in 0..2 {
        inspect::redrive(&config, &six).await.expect("redrive");
    }
    eventually(WAIT, "the redriven event applied", || async {
        handler.effects().await.contains(&"6".to_string())
    })
    .await;
    eventually(WAIT, "the group caught up again", || async {
        behind(&config, "fixable", &topic) == Some(0)
    })
    .await;
    let effects = handler.effects().await;
    assert_eq!(
        effects.iter().filter(|e| *e == "6").count(),
        1,
        "no second effect: {effects:?}"
    );
    consuming.cancel();
    stop.cancel();
    consumer.await.unwrap().unwrap();
    relay.await.unwrap().unwrap();
}
