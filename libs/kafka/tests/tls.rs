//! Kafka over TLS: the test broker cannot serve TLS itself, so it sits behind a TLS-terminating
//! proxy (`testing::TlsProxy`, the test CA's certificate for 127.0.0.1) and advertises only the
//! proxy's address. The relay and a consumer configured with `security.protocol=ssl` through
//! [`KafkaConfig::properties`] (`YEYAK_RDKAFKA_*` in a service) publish and consume; a broker
//! certificate from another CA is refused; SASL SCRAM over TLS is compiled in.
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    producer::BaseProducer,
};
use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, ExpectedVersion, RecordedEvent,
    testing::{event, eventually, fresh_sqlite_url},
};
use yeyak_kafka::{
    KafkaConfig,
    consumer::KafkaTransport,
    relay::Relay,
    testing::{Broker, test_certificates},
    topics,
};
use yeyak_transport::{EventHandler, HandlerError, Transport};

/// `brokers`' configuration with the librdkafka properties a service would read from these
/// `YEYAK_RDKAFKA_*` variables.
fn configured(brokers: String, variables: &[(&str, &str)]) -> KafkaConfig {
    let mut config = KafkaConfig::new(brokers);
    config.properties = yeyak_kafka::properties_from(
        variables
            .iter()
            .map(|(k, v)| (format!("YEYAK_RDKAFKA_{k}"), v.to_string())),
    );
    config
}

/// `broker`'s configuration over TLS, trusting the CA file `ca`.
fn over_tls(broker: &Broker, ca: &str) -> KafkaConfig {
    configured(
        broker.bootstrap(),
        &[("SECURITY_PROTOCOL", "ssl"), ("SSL_CA_LOCATION", ca)],
    )
}

struct Counter(AtomicUsize);

#[async_trait::async_trait]
impl EventHandler for Counter {
    fn name(&self) -> &str {
        "tls-counter"
    }

    async fn handle(&self, _: &RecordedEvent) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_publishes_and_a_consumer_consumes_over_tls_verified_by_the_ca() {
    let Some(broker) = Broker::start_behind_tls().await else {
        return;
    };
    let certificates = test_certificates().expect("certificates");
    let config = over_tls(&broker, certificates.join("ca.crt").to_str().unwrap());
    topics::ensure(&config, &[config.topic("secured")])
        .await
        .expect("topics created over TLS");
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("tls"))
        .await
        .unwrap();
    for n in 0..3 {
        log.append(AppendRequest::single(
            format!("s-{n}"),
            ExpectedVersion::NoStream,
            vec![event("Requested", b"over tls")],
        ))
        .await
        .unwrap();
    }

    let stop = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(log, config.clone(), "secured").run(stop.clone()));
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    let transport = KafkaTransport::new(config).unwrap();
    let consumer = {
        let (handler, stop) = (counter.clone() as Arc<dyn EventHandler>, stop.clone());
        tokio::spawn(async move { transport.consume("secured", handler, stop).await })
    };
    eventually(
        Duration::from_secs(60),
        "three events consumed over TLS",
        || async { counter.0.load(Ordering::SeqCst) == 3 },
    )
    .await;
    assert!(
        broker.tls_sessions() >= 2,
        "the clients did not go through TLS ({} sessions)",
        broker.tls_sessions()
    );
    stop.cancel();
    relay.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let Some(broker) = Broker::start_behind_tls().await else {
        return;
    };
    let certificates = test_certificates().expect("certificates");
    let config = over_tls(&broker, certificates.join("other-ca.crt").to_str().unwrap());
    let consumer: BaseConsumer = config
        .client("tls-distrust")
        .set("group.id", "tls-distrust")
        .create()
        .expect("a client");
    let metadata = tokio::task::spawn_blocking(move || {
        consumer
            .fetch_metadata(None, Duration::from_secs(5))
            .map(|m| m.brokers().len())
    })
    .await
    .unwrap();
    assert!(
        metadata.is_err(),
        "metadata fetched through an untrusted certificate: {metadata:?}"
    );
    assert_eq!(
        broker.tls_sessions(),
        0,
        "a TLS session was completed with a distrusted certificate"
    );
}

#[test]
fn sasl_scram_over_tls_is_available_to_every_client() {
    let config = configured(
        "127.0.0.1:9".to_string(),
        &[
            ("SECURITY_PROTOCOL", "SASL_SSL"),
            ("SASL_MECHANISMS", "SCRAM-SHA-512"),
            ("SASL_USERNAME", "yeyak"),
            ("SASL_PASSWORD", "not-a-secret"),
        ],
    );
    let producer: Result<BaseProducer, _> = config.client("sasl-check").create();
    assert!(
        producer.is_ok(),
        "librdkafka cannot do SASL_SSL/SCRAM: {:?}",
        producer.err()
    );
}
