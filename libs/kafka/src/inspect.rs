//! What operations ask the brokers (`yeyak admin positions` and `dead-letters` with Kafka):
//! each consumer group's committed offsets against the end of each partition (its lag), the
//! records the consumers set aside in the dead-letter topics (`<topic>.dlq`), and sending them
//! back to their topic (a redrive).
use std::time::{Duration, Instant};

use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use rdkafka::error::KafkaError;

use crate::{KafkaConfig, record};

/// The suffix of a dead-letter topic.
pub const DEAD_LETTER_SUFFIX: &str = ".dlq";
/// The header a redriven record carries: where in the dead-letter topic it was.
pub const REDRIVEN_FROM: &str = "yeyak_redriven_from";

/// How far one consumer group is on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The next offset the group will read (`None`: nothing committed on this partition).
    pub committed: Option<i64>,
    /// The partition's end (its high watermark).
    pub end: i64,
    /// The partition's first offset still kept.
    pub start: i64,
}

impl GroupLag {
    /// Records on the partition the group has not consumed.
    pub fn behind(&self) -> i64 {
        (self.end - self.committed.unwrap_or(self.start)).max(0)
    }
}

fn inspector(config: &KafkaConfig, group: &str) -> Result<BaseConsumer, KafkaError> {
    config
        .client("yeyak-admin")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
}

/// The consumer groups the brokers know (Kafka's ListGroups), but yeyak's read-only tails
/// (`yeyak-tail-*`). The test broker (tansu 0.6) does not answer ListGroups: name the groups
/// there.
pub fn consumer_groups(config: &KafkaConfig, timeout: Duration) -> Result<Vec<String>, KafkaError> {
    let consumer = inspector(config, "yeyak-admin")?;
    let list = consumer.fetch_group_list(None, timeout)?;
    let mut groups: Vec<String> = list
        .groups()
        .iter()
        .map(|g| g.name().to_string())
        .filter(|g| !g.starts_with("yeyak-tail-") && g != "yeyak-admin")
        .collect();
    groups.sort();
    Ok(groups)
}

/// The topics the brokers hold, but their internal ones and the dead-letter topics.
fn event_topics(
    consumer: &BaseConsumer,
    timeout: Duration,
) -> Result<Vec<(String, i32)>, KafkaError> {
    let metadata = consumer.fetch_metadata(None, timeout)?;
    let mut topics: Vec<(String, i32)> = metadata
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__"))
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect();
    topics.sort();
    Ok(topics)
}

/// Each group's lag on every partition of every topic it committed offsets on.
pub fn group_lag(
    config: &KafkaConfig,
    groups: &[String],
    timeout: Duration,
) -> Result<Vec<GroupLag>, KafkaError> {
    let mut out = Vec::new();
    let probe = inspector(config, "yeyak-admin")?;
    let topics: Vec<_> = event_topics(&probe, timeout)?
        .into_iter()
        .filter(|(t, _)| !t.ends_with(DEAD_LETTER_SUFFIX))
        .collect();
    for group in groups {
        let consumer = inspector(config, group)?;
        for (topic, partitions) in &topics {
            let mut list = TopicPartitionList::new();
            for p in 0..*partitions {
                list.add_partition(topic, p);
            }
            let committed = consumer.committed_offsets(list, timeout)?;
            let committed: Vec<(i32, Option<i64>)> = committed
                .elements()
                .iter()
                .map(|e| match e.offset() {
                    Offset::Offset(o) => (e.partition(), Some(o)),
                    _ => (e.partition(), None),
                })
                .collect();
            if committed.iter().all(|(_, c)| c.is_none()) {
                continue;
            }
            for (partition, committed) in committed {
                let (start, end) = consumer.fetch_watermarks(topic, partition, timeout)?;
                out.push(GroupLag {
                    group: group.clone(),
                    topic: topic.to_string(),
                    partition,
                    committed,
                    end,
                    start,
                });
            }
        }
    }
    Ok(out)
}

/// A record of a dead-letter topic: where it is, and the original record's key, payload and
/// headers with the consumer's (`yeyak_dlq_consumer`, `yeyak_dlq_reason`, `yeyak_dlq_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
}

impl DeadRecord {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The topic the record was set aside from.
    pub fn origin_topic(&self) -> &str {
        self.topic
            .strip_suffix(DEAD_LETTER_SUFFIX)
            .unwrap_or(&self.topic)
    }
}

/// Every record of every dead-letter topic, read from the start to the end each partition had
/// when asked. Nothing is committed: reading changes no group.
pub fn dead_records(
    config: &KafkaConfig,
    timeout: Duration,
) -> Result<Vec<DeadRecord>, KafkaError> {
    let consumer = inspector(config, "yeyak-admin")?;
    let mut wanted = TopicPartitionList::new();
    let mut ends = std::collections::HashMap::new();
    for (topic, partitions) in event_topics(&consumer, timeout)? {
        if !topic.ends_with(DEAD_LETTER_SUFFIX) {
            continue;
        }
        for p in 0..partitions {
            let (start, end) = consumer.fetch_watermarks(&topic, p, timeout)?;
            if end > start {
                wanted.add_partition_offset(&topic, p, Offset::Offset(start))?;
                ends.insert((topic.clone(), p), end);
            }
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return Ok(out);
    }
    consumer.assign(&wanted)?;
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let at = (message.topic().to_string(), message.partition());
        if ends
            .get(&at)
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&at);
        }
        out.push(DeadRecord {
            topic: at.0,
            partition: at.1,
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: record::header_pairs(message.headers()),
        });
    }
    if !ends.is_empty() {
        return Err(KafkaError::MessageConsumption(
            rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
        ));
    }
    out.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    Ok(out)
}

/// Sends each record back to the topic it was set aside from, with its original key, payload and
/// headers (the consumer's `yeyak_dlq_*` ones left out) and [`REDRIVEN_FROM`]. Every consumer
/// group reads it again: the ones that applied it have it in their inbox (no second effect),
/// and the one that set it aside tries again.
pub async fn redrive(config: &KafkaConfig, records: &[DeadRecord]) -> Result<usize, KafkaError> {
    let producer: FutureProducer = config
        .client("yeyak-admin-redrive")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()?;
    for r in records {
        let from = format!("{}/{}/{}", r.topic, r.partition, r.offset);
        let mut headers = OwnedHeaders::new();
        for (key, value) in r
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("yeyak_dlq_"))
        {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        headers = headers.insert(Header {
            key: REDRIVEN_FROM,
            value: Some(from.as_bytes()),
        });
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(r.origin_topic()).headers(headers);
        if let Some(key) = &r.key {
            record = record.key(key);
        }
        if let Some(payload) = &r.payload {
            record = record.payload(payload);
        }
        producer
            .send(record, Timeout::After(config.message_timeout))
            .await
            .map_err(|(e, _)| e)?;
    }
    Ok(records.len())
}
