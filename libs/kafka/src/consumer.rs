//! The Kafka transport: consumer groups with manual offsets.
//!
//! A record's effect and its inbox row are committed by the handler in one database transaction;
//! only then is the record's offset stored (and committed in the background). A crash between
//! the two redelivers the record, and the inbox makes the redelivery a no-op.
use std::{sync::Arc, time::Duration};

use rdkafka::{
    ClientContext, Message, Offset, Statistics, TopicPartitionList,
    consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer},
    error::KafkaError,
    message::{BorrowedMessage, Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use yeyak_transport::{
    EventHandler, Outcome, Transport, TransportError, apply, consume_span, lag, wait_or_shutdown,
};

use crate::{KafkaConfig, record};

/// Test support: with `YEYAK_FAILPOINT=crash-after-effect:<event type>` a consumer aborts the
/// process after the effect of an event of that type committed and before its offset is stored.
pub const FAILPOINT_ENV: &str = "YEYAK_FAILPOINT";

/// Reports consumer lag from librdkafka's statistics (computed on its own thread, so the async
/// consumer loop never blocks on a watermark query).
pub struct LagContext {
    group: String,
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in statistics.topics {
            let partitions: Vec<(i32, i64)> = t
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.desired && p.consumer_lag >= 0)
                .map(|p| (p.partition, p.consumer_lag))
                .collect();
            lag::replace(&self.group, &topic, &partitions);
        }
    }
}

impl ConsumerContext for LagContext {}

/// Delivers each source service's topic to handlers, one consumer group per handler.
pub struct KafkaTransport {
    config: KafkaConfig,
    dead_letters: FutureProducer,
}

impl KafkaTransport {
    pub fn new(config: KafkaConfig) -> Result<Self, KafkaError> {
        let dead_letters = config
            .client("yeyak-dead-letters")
            .set("acks", "all")
            .create()?;
        Ok(Self {
            config,
            dead_letters,
        })
    }

    fn consumer(&self, group: &str) -> Result<StreamConsumer<LagContext>, KafkaError> {
        self.config
            .client(&format!("yeyak-{group}"))
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Long-poll at most 100 ms, so a quiet topic's new record is not held back.
            .set("fetch.wait.max.ms", "100")
            .set("statistics.interval.ms", "1000")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            // Also the rebalance timeout: how long a rebalance waits for a member that died.
            .set("max.poll.interval.ms", "20000")
            .create_with_context(LagContext {
                group: group.to_string(),
            })
    }

    /// Sends an unusable record to `<topic>.dlq` with its original key, value and headers, and
    /// the reason.
    async fn dead_letter(
        &self,
        consumer: &str,
        message: &BorrowedMessage<'_>,
        reason: &str,
    ) -> Result<(), KafkaError> {
        let topic = format!("{}.dlq", message.topic());
        let mut headers = OwnedHeaders::new();
        for (key, value) in record::header_pairs(message.headers()) {
            headers = headers.insert(Header {
                key: &key,
                value: Some(value.as_bytes()),
            });
        }
        let origin = format!(
            "{}/{}/{}",
            message.topic(),
            message.partition(),
            message.offset()
        );
        for (key, value) in [
            ("yeyak_dlq_reason", reason),
            ("yeyak_dlq_consumer", consumer),
            ("yeyak_dlq_origin", origin.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        self.dead_letters
            .send(record, Timeout::After(self.config.message_timeout))
            .await
            .map_err(|(e, _)| e)?;
        tracing::error!(consumer, %origin, reason, dlq = %topic, "poison record sent to the dead-letter topic");
        Ok(())
    }
}

impl KafkaTransport {
    /// Sends a poison record to the dead-letter topic, retrying while the broker refuses.
    /// Returns `false` when shutdown came first (the record stays unacknowledged).
    async fn set_aside(
        &self,
        group: &str,
        message: &BorrowedMessage<'_>,
        reason: &str,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.dead_letter(group, message, reason).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!(consumer = group, error = %e, "dead-letter send failed; retrying")
                }
            }
            if wait_or_shutdown(shutdown, backoff).await {
                return false;
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

fn assigned(consumer: &StreamConsumer<LagContext>, topic: &str, partition: i32) -> bool {
    consumer
        .assignment()
        .map(|a| a.find_partition(topic, partition).is_some())
        .unwrap_or(false)
}

#[async_trait::async_trait]
impl Transport for KafkaTransport {
    async fn consume(
        &self,
        source: &str,
        handler: Arc<dyn EventHandler>,
        shutdown: CancellationToken,
    ) -> Result<(), TransportError> {
        let topic = self.config.topic(source);
        let group = handler.name().to_string();
        let kafka = |e: KafkaError| TransportError::Broker(e.to_string());
        let consumer = self.consumer(&group).map_err(kafka)?;
        consumer.subscribe(&[&topic]).map_err(kafka)?;
        let crash_after = std::env::var(FAILPOINT_ENV)
            .ok()
            .and_then(|v| v.strip_prefix("crash-after-effect:").map(str::to_string));
        tracing::info!(consumer = %group, %topic, "kafka consumer started");
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => break,
                message = consumer.recv() => message,
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(consumer = %group, error = %e, "kafka receive failed; retrying");
                    if wait_or_shutdown(&shutdown, Duration::from_millis(500)).await {
                        break;
                    }
                    continue;
                }
            };
            // A record fetched before a rebalance took its partition away belongs to another
            // member now: leave it to them.
            if !assigned(&consumer, &topic, message.partition()) {
                continue;
            }
            let pairs = record::header_pairs(message.headers());
            match record::event_from(&pairs, message.key(), message.payload()) {
                Err(reason) => {
                    if !self
                        .set_aside(&group, &message, &reason.to_string(), &shutdown)
                        .await
                    {
                        break;
                    }
                }
                Ok(event) => {
                    let outcome = apply(&*handler, &event, &shutdown)
                        .instrument(consume_span("kafka", &topic, &group, &event))
                        .await;
                    match outcome {
                        Outcome::Applied => {}
                        Outcome::Poison(reason) => {
                            if !self.set_aside(&group, &message, &reason, &shutdown).await {
                                break;
                            }
                        }
                        Outcome::Interrupted => break,
                    }
                    if crash_after.as_deref() == Some(event.event_type.as_str()) {
                        tracing::error!(consumer = %group, "failpoint crash-after-effect: aborting before the offset is stored");
                        std::process::abort();
                    }
                }
            }
            // A partition revoked since the check refuses the store: the record is delivered
            // again to its new owner, and the inbox makes that a no-op.
            if assigned(&consumer, &topic, message.partition())
                && let Err(e) = consumer.store_offset_from_message(&message)
            {
                tracing::warn!(consumer = %group, error = %e, "offset not stored; the record will be redelivered");
            }
        }
        // The stored offsets go out without waiting for the broker (with it down, a synchronous
        // commit, then leaving the group, could outlast the pod's grace period): an offset
        // not committed only means a record delivered again, which the inbox makes a no-op.
        let committed = consumer.commit_consumer_state(CommitMode::Async);
        close_within(consumer, CLOSE_WITHIN).await;
        match committed {
            Ok(())
            | Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) => {
                tracing::warn!(consumer = %group, error = %e, "offsets not committed at shutdown; their records will be delivered again");
                Ok(())
            }
        }
    }
}

/// How long a consumer's close (its last commit, leaving its group) may take at shutdown.
pub const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// Closes `consumer` on a thread of its own, waiting at most `within`: librdkafka's close blocks
/// while the broker is unreachable, and the process must still exit in time.
async fn close_within<C: Send + 'static>(consumer: C, within: Duration) {
    let (done, closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        drop(consumer);
        let _ = done.send(());
    });
    if tokio::time::timeout(within, closed).await.is_err() {
        tracing::warn!(
            within_ms = within.as_millis() as u64,
            "the Kafka consumer did not close in time; exiting without it"
        );
    }
}

/// The committed offsets of a consumer group on a topic (for tests and tooling).
pub fn committed(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<i64>, KafkaError> {
    let consumer: StreamConsumer = config
        .client("yeyak-inspect")
        .set("group.id", group)
        .create()?;
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(list, Duration::from_secs(5))?;
    Ok(committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect())
}
