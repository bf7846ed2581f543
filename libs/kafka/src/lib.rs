//! Kafka between yeyak services (rdkafka).
//!
//! - [`relay::Relay`]: one per service; publishes committed log events to `yeyak.<service>.v1`
//!   in gap-safe log order, key = stream id, CloudEvents binary-mode headers, idempotent producer;
//!   its checkpoint lives in the service's own log and moves only after the broker acknowledged.
//! - [`consumer::KafkaTransport`]: the [`yeyak_transport::Transport`] for the distributed mode.
//! - [`topics::ensure`]: creates missing topics (and their dead-letter topics) at start-up.
//! - [`record`]: the record format analytics consumers read.

pub mod consumer;
pub mod inspect;
pub mod record;
pub mod relay;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topics;

use std::{collections::HashMap, time::Duration};

use rdkafka::ClientConfig;

/// How to reach the brokers and name the topics.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Topic per source service; defaults to `yeyak.<service>.v1`.
    pub topic_overrides: HashMap<String, String>,
    pub partitions: i32,
    pub replication: i32,
    /// Whether the service creates its missing topics at start-up; off where an operator (the
    /// Strimzi Topic Operator) owns them and the service's Kafka user may not create topics.
    pub create_topics: bool,
    /// How long a produced record may wait for its acknowledgement.
    pub message_timeout: Duration,
    /// Further librdkafka properties for every client (`security.protocol`, `ssl.*`,
    /// `sasl.*`, …), from `YEYAK_RDKAFKA_*`; they override yeyak's own settings.
    pub properties: Vec<(String, String)>,
}

/// The prefix of environment variables passed to librdkafka: `YEYAK_RDKAFKA_SECURITY_PROTOCOL=SSL`
/// sets `security.protocol=SSL`.
pub const PROPERTY_PREFIX: &str = "YEYAK_RDKAFKA_";

/// The librdkafka properties among `vars`: the name after [`PROPERTY_PREFIX`], lower-cased,
/// `_` read as `.`.
pub fn properties_from(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(PROPERTY_PREFIX)?;
            (!name.is_empty()).then(|| (name.to_lowercase().replace('_', "."), v))
        })
        .collect();
    out.sort();
    out
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_overrides: HashMap::new(),
            partitions: 3,
            replication: 1,
            create_topics: true,
            message_timeout: Duration::from_secs(30),
            properties: Vec::new(),
        }
    }

    /// The topic that carries the events of service `source`.
    pub fn topic(&self, source: &str) -> String {
        self.topic_overrides
            .get(source)
            .cloned()
            .unwrap_or_else(|| default_topic(source))
    }

    /// Parses `service=topic,service=topic` overrides.
    pub fn with_topic_overrides(mut self, spec: &str) -> Result<Self, String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, topic) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not service=topic"))?;
            self.topic_overrides
                .insert(service.trim().to_string(), topic.trim().to_string());
        }
        Ok(self)
    }

    /// A client configuration for these brokers.
    pub fn client(&self, client_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", client_id)
            .set("reconnect.backoff.max.ms", "2000");
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        config
    }
}

/// Kafka settings of a service process (flags or `YEYAK_KAFKA_*`).
#[derive(clap::Args, Debug, Clone)]
pub struct KafkaArgs {
    /// Bootstrap servers. When set, the service publishes its events through a relay and
    /// consumes other services' events from Kafka; when unset, it tails their logs directly.
    #[arg(long, env = "YEYAK_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Partitions of topics this service creates.
    #[arg(long, env = "YEYAK_KAFKA_PARTITIONS", default_value_t = 3)]
    pub kafka_partitions: i32,
    /// Replication factor of topics this service creates.
    #[arg(long, env = "YEYAK_KAFKA_REPLICATION", default_value_t = 1)]
    pub kafka_replication: i32,
    /// Topic overrides, `service=topic,…` (default `yeyak.<service>.v1`).
    #[arg(long, env = "YEYAK_KAFKA_TOPICS", default_value = "")]
    pub kafka_topics: String,
    /// Create missing topics at start-up (`false` where the topics are managed elsewhere).
    #[arg(long, env = "YEYAK_KAFKA_CREATE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_create_topics: bool,
}

impl KafkaArgs {
    /// The Kafka configuration, when brokers are configured.
    pub fn config(&self) -> Result<Option<KafkaConfig>, String> {
        let Some(brokers) = self.kafka_brokers.clone().filter(|b| !b.trim().is_empty()) else {
            return Ok(None);
        };
        let mut config = KafkaConfig::new(brokers).with_topic_overrides(&self.kafka_topics)?;
        config.partitions = self.kafka_partitions.max(1);
        config.replication = self.kafka_replication.max(1);
        config.create_topics = self.kafka_create_topics;
        config.properties = properties_from(std::env::vars());
        Ok(Some(config))
    }
}

/// The running relay of a service.
pub type RelayTask = tokio::task::JoinHandle<Result<(), relay::RelayError>>;

/// Connects a service to Kafka: creates the topics it writes and reads (and their dead-letter
/// topics) when missing (unless [`KafkaConfig::create_topics`] is off), starts the relay of its own log, and returns the transport its
/// consumers use.
pub async fn start(
    config: KafkaConfig,
    log: std::sync::Arc<dyn yeyak_eventlog::EventStore>,
    source: &str,
    consumes: &[&str],
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(std::sync::Arc<consumer::KafkaTransport>, RelayTask), rdkafka::error::KafkaError> {
    let topics: Vec<String> = std::iter::once(source)
        .chain(consumes.iter().copied())
        .map(|s| config.topic(s))
        .collect();
    if config.create_topics {
        topics::ensure(&config, &topics).await?;
    } else {
        tracing::info!(?topics, "topics managed elsewhere: not creating them");
    }
    let transport = std::sync::Arc::new(consumer::KafkaTransport::new(config.clone())?);
    let relay = relay::Relay::new(log, config, source);
    Ok((transport, tokio::spawn(relay.run(shutdown))))
}

/// How a service process reaches other services' events: Kafka when configured (with the relay
/// of its own log), else the log tail of each source's database (`events_urls`, in the order of
/// `consumes`). Returns the transport and, with Kafka, the relay task to await at shutdown.
pub async fn wire(
    kafka: &KafkaArgs,
    log: std::sync::Arc<dyn yeyak_eventlog::EventStore>,
    source: &str,
    consumes: &[(&str, Option<String>)],
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<
    (
        std::sync::Arc<dyn yeyak_transport::Transport>,
        Option<RelayTask>,
    ),
    Box<dyn std::error::Error + Send + Sync>,
> {
    if let Some(config) = kafka.config()? {
        let names: Vec<&str> = consumes.iter().map(|(name, _)| *name).collect();
        let (transport, relay) = start(config, log, source, &names, shutdown).await?;
        return Ok((transport, Some(relay)));
    }
    let mut transport = yeyak_transport::LogTailTransport::new(log);
    for (name, url) in consumes {
        let url = url
            .as_deref()
            .ok_or_else(|| format!("set YEYAK_KAFKA_BROKERS, or the events URL of {name}"))?;
        transport = transport.with_source(*name, yeyak_eventlog::connect(url).await?);
    }
    Ok((std::sync::Arc::new(transport), None))
}

/// `yeyak.<service>.v1`.
pub fn default_topic(source: &str) -> String {
    format!("yeyak.{source}.v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yeyak_rdkafka_variables_become_librdkafka_properties() {
        let vars = [
            ("YEYAK_RDKAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("YEYAK_RDKAFKA_SASL_MECHANISMS", "SCRAM-SHA-512"),
            ("YEYAK_RDKAFKA_", "ignored"),
            ("YEYAK_KAFKA_BROKERS", "not a property"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            properties_from(vars),
            [
                ("sasl.mechanisms".to_string(), "SCRAM-SHA-512".to_string()),
                ("security.protocol".to_string(), "SASL_SSL".to_string())
            ]
        );
        let mut config = KafkaConfig::new("b:9092");
        config.properties = vec![("security.protocol".into(), "SSL".into())];
        assert_eq!(config.client("c").get("security.protocol"), Some("SSL"));
        assert_eq!(config.client("c").get("broker.address.family"), None);
    }

    #[test]
    fn topics_default_to_the_versioned_service_name_and_can_be_overridden() {
        let config = KafkaConfig::new("b:9092")
            .with_topic_overrides("catalog=cat-events, settlement = s")
            .unwrap();
        assert_eq!(config.topic("catalog"), "cat-events");
        assert_eq!(config.topic("settlement"), "s");
        assert_eq!(config.topic("reservations"), "yeyak.reservations.v1");
        assert!(
            KafkaConfig::new("b")
                .with_topic_overrides("nonsense")
                .is_err()
        );
    }
}
