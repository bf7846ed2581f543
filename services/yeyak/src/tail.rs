//! `yeyak tail`: a small consumer of the event stream for analytics users. It reads a topic and
//! prints each event as one JSON line, its protobuf payload decoded with the published schemas.
use std::time::Duration;

use prost_reflect::{DescriptorPool, DynamicMessage};
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
};
use serde_json::{Value, json};
use yeyak_kafka::{KafkaConfig, record};

/// Decodes records with the schemas compiled into this binary.
pub struct Printer {
    pool: DescriptorPool,
}

impl Default for Printer {
    fn default() -> Self {
        Self {
            pool: DescriptorPool::decode(yeyak_proto::FILE_DESCRIPTOR_SET)
                .expect("the embedded descriptor set is valid"),
        }
    }
}

impl Printer {
    /// One record as JSON: the envelope's fields and the decoded payload under `data`.
    pub fn to_json(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        pairs: &[(String, String)],
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
    ) -> Value {
        let at = json!({ "topic": topic, "partition": partition, "offset": offset });
        let event = match record::event_from(pairs, key, payload) {
            Ok(event) => event,
            Err(e) => return json!({ "record": at, "error": e.to_string(), "headers": pairs }),
        };
        let source = pairs
            .iter()
            .find(|(k, _)| k == "ce_source")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let mut out = self.event_json(&event);
        out["record"] = at;
        out["source"] = json!(source);
        out
    }

    /// A payload decoded with the published schema of `event_type`, as JSON.
    pub fn payload_json(&self, event_type: &str, payload: &[u8]) -> Result<Value, String> {
        let descriptor = self
            .pool
            .get_message_by_name(event_type)
            .ok_or_else(|| format!("no published schema names {event_type}"))?;
        let message = DynamicMessage::decode(descriptor, payload).map_err(|e| e.to_string())?;
        serde_json::to_value(&message).map_err(|e| e.to_string())
    }

    /// One event of a log as JSON: its envelope and its payload decoded under `data` (or why it
    /// could not be).
    pub fn event_json(&self, event: &yeyak_eventlog::RecordedEvent) -> Value {
        let data = self
            .payload_json(&event.event_type, &event.payload)
            .unwrap_or_else(|e| json!({ "undecodable": e }));
        let time = |us: i64| {
            jiff::Timestamp::from_microsecond(us)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        json!({
            "id": event.event_id,
            "type": event.event_type,
            "schema_version": event.schema_version,
            "stream": event.stream_id,
            "stream_version": event.stream_version,
            "position": event.position.position,
            "time": time(event.metadata.occurred_at_us),
            "recorded_time": time(event.recorded_at_us),
            "correlation_id": event.metadata.correlation_id,
            "causation_id": event.metadata.causation_id,
            "actor": event.metadata.actor,
            "traceparent": event.metadata.trace_context,
            "data": data,
        })
    }
}

/// Options of `yeyak tail`.
#[derive(clap::Args, Debug, Clone)]
pub struct TailArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "YEYAK_KAFKA_BROKERS")]
    pub brokers: String,
    /// The topic to read, e.g. `yeyak.reservations.v1`.
    #[arg(long)]
    pub topic: String,
    /// Start at the beginning of the topic instead of its end.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max: Option<usize>,
    /// Stop after this long without a record.
    #[arg(long, value_parser = humantime_secs)]
    pub idle_timeout: Option<Duration>,
}

fn humantime_secs(s: &str) -> Result<Duration, String> {
    s.trim_end_matches('s')
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{s:?} is not a number of seconds"))
}

/// Reads the topic and writes one JSON line per record to `out`. It never commits offsets: a
/// tail is a read-only observer.
pub async fn tail(
    args: &TailArgs,
    out: &mut (dyn std::io::Write + Send),
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let mut config = KafkaConfig::new(args.brokers.clone());
    config.properties = yeyak_kafka::properties_from(std::env::vars());
    let consumer: StreamConsumer = config
        .client("yeyak-tail")
        .set(
            "group.id",
            format!("yeyak-tail-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set(
            "auto.offset.reset",
            if args.from_beginning {
                "earliest"
            } else {
                "latest"
            },
        )
        .create()?;
    consumer.subscribe(&[&args.topic])?;
    let printer = Printer::default();
    let mut printed = 0;
    while args.max.is_none_or(|max| printed < max) {
        let next = match args.idle_timeout {
            Some(idle) => match tokio::time::timeout(idle, consumer.recv()).await {
                Ok(m) => m,
                Err(_) => break,
            },
            None => consumer.recv().await,
        };
        let m = next?;
        let pairs = record::header_pairs(m.headers());
        let line = printer.to_json(
            m.topic(),
            m.partition(),
            m.offset(),
            &pairs,
            m.key(),
            m.payload(),
        );
        writeln!(out, "{line}")?;
        printed += 1;
    }
    Ok(printed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use yeyak_eventlog::{Metadata, Position, RecordedEvent};
    use yeyak_proto::reservations::events::v1::ReservationConfirmed;

    #[test]
    fn events_print_as_json_with_their_decoded_payload() {
        let payload = ReservationConfirmed {
            reservation_id: "r-1".into(),
            partner_id: "p-1".into(),
            place_id: "pl-1".into(),
            product_id: "pr-1".into(),
        };
        let event = RecordedEvent {
            position: Position {
                commit: 0,
                position: 7,
            },
            event_id: uuid::Uuid::new_v4(),
            stream_id: "reservation-r-1".into(),
            stream_version: 2,
            event_type: "yeyak.reservations.events.v1.ReservationConfirmed".into(),
            schema_version: 1,
            payload: payload.encode_to_vec(),
            metadata: Metadata {
                correlation_id: uuid::Uuid::new_v4(),
                causation_id: None,
                actor: "operator:op".into(),
                occurred_at_us: 1_800_000_000_000_000,
                trace_context: None,
            },
            recorded_at_us: 1_800_000_000_000_001,
        };
        let pairs = record::header_pairs(Some(&record::headers("reservations", &event, None)));
        let json = Printer::default().to_json(
            "yeyak.reservations.v1",
            0,
            3,
            &pairs,
            Some(event.stream_id.as_bytes()),
            Some(&event.payload),
        );
        assert_eq!(
            json["type"],
            "yeyak.reservations.events.v1.ReservationConfirmed"
        );
        assert_eq!(json["source"], "/yeyak/reservations");
        assert_eq!(json["stream_version"], 2);
        assert_eq!(json["data"]["reservationId"], "r-1");
        assert_eq!(json["data"]["partnerId"], "p-1");
        let broken = Printer::default().to_json("t", 0, 0, &[], None, Some(b"x"));
        assert!(broken["error"].as_str().unwrap().contains("ce_specversion"));
    }
}
