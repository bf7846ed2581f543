//! Kafka between yeyak services (rdkafka).
//!
//! - [`relay::Relay`]: one per service; publishes committed log events to `yeyak.<service>.v1`
//!   in gap-safe log order, key = stream id, CloudEvents binary-mode headers, idempotent producer;
//!   its checkpoint lives in the service's own log and moves only after the broker acknowledged.
//! - [`consumer::KafkaTransport`]: the [`yeyak_transport::Transport`] for the distributed mode.
//! - [`topics::ensure`]: creates missing topics (and their dead-letter topics) at start-up.
//! - [`record`]: the record format analytics consumers read.

pub mod consumer;
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
    /// How long a produced record may wait for its acknowledgement.
    pub message_timeout: Duration,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_overrides: HashMap::new(),
            partitions: 3,
            replication: 1,
            message_timeout: Duration::from_secs(30),
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
            .set("broker.address.family", "v4")
            .set("reconnect.backoff.max.ms", "2000");
        config
    }
}

/// `yeyak.<service>.v1`.
pub fn default_topic(source: &str) -> String {
    format!("yeyak.{source}.v1")
}

#[cfg(test)]
mod tests {
    use super::*;

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
