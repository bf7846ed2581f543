//! The relay: publishes a service's committed log events to its Kafka topic, in gap-safe log
//! order, and moves its checkpoint only after the broker acknowledged them.
use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use rdkafka::{
    error::KafkaError,
    producer::{FutureProducer, FutureRecord, Producer},
    util::Timeout,
};
use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{EventStore, RecordedEvent, StoreError, Subscription};
use yeyak_transport::wait_or_shutdown;

use crate::{KafkaConfig, record};

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// Publishes the events of one service's log to its topic. Several replicas may run one each:
/// a lease on the log makes exactly one of them work at a time.
pub struct Relay {
    log: Arc<dyn EventStore>,
    config: KafkaConfig,
    source: String,
    topic: String,
    batch: usize,
}

/// The checkpoint (and lease) name of the relay of `topic`.
pub fn checkpoint_name(topic: &str) -> String {
    format!("relay:{topic}")
}

impl Relay {
    pub fn new(log: Arc<dyn EventStore>, config: KafkaConfig, source: &str) -> Self {
        let topic = config.topic(source);
        Self {
            log,
            config,
            source: source.to_string(),
            topic,
            batch: 500,
        }
    }

    /// Events per produce batch (and per checkpoint save).
    pub fn batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    fn producer(&self) -> Result<FutureProducer, KafkaError> {
        self.config
            .client(&format!("yeyak-{}-relay", self.source))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                self.config.message_timeout.as_millis().to_string(),
            )
            .create()
    }

    /// Runs until `shutdown`. While the broker is unreachable the events wait in the log; the
    /// relay backs off and resumes from its checkpoint by itself.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RelayError> {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.work(&shutdown).await {
                Ok(()) => return Ok(()),
                // The service's database failed (restart, failover): stand down, let the lease go,
                // and try again; the events wait in the log.
                Err(RelayError::Store(e)) => {
                    tracing::warn!(topic = %self.topic, error = %e, retry_in_ms = backoff.as_millis() as u64,
                        "the event log failed; the relay stands down and retries");
                    if wait_or_shutdown(&shutdown, backoff).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Holds the lease and publishes until shutdown (`Ok`) or a storage failure.
    async fn work(&self, shutdown: &CancellationToken) -> Result<(), RelayError> {
        let name = checkpoint_name(&self.topic);
        loop {
            let Some(mut lease) = self.acquire(&name, shutdown).await? else {
                return Ok(());
            };
            tracing::info!(topic = %self.topic, "relay active");
            let mut producer = self.producer()?;
            let mut subscription =
                Subscription::new(self.log.clone(), self.log.load_checkpoint(&name).await?)
                    .batch_size(self.batch);
            let mut backoff = Duration::from_millis(100);
            loop {
                if !lease.is_held().await {
                    tracing::warn!(topic = %self.topic, "relay lease lost; standing by");
                    break;
                }
                let batch = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    batch = subscription.next_batch() => batch?,
                };
                // At shutdown an unacknowledged batch is left to the next run (its events stay in
                // the log; consumers dedupe what the broker got twice).
                let published = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    published = self.publish(&producer, &batch) => published,
                };
                match published {
                    Ok(()) => {
                        let last = batch.last().expect("batches are never empty").position;
                        self.log.save_checkpoint(&name, last).await?;
                        self.observe(&batch).await;
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, error = %e, retry_in_ms = backoff.as_millis() as u64,
                            "publishing failed; the events wait in the log");
                        if wait_or_shutdown(shutdown, backoff).await {
                            return Ok(());
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        if producer.client().fatal_error().is_some() {
                            producer = self.producer()?;
                        }
                        // Resend from the last acknowledged position: the broker may hold some of
                        // the batch already; consumers dedupe on the event id.
                        subscription = Subscription::new(
                            self.log.clone(),
                            self.log.load_checkpoint(&name).await?,
                        )
                        .batch_size(self.batch);
                    }
                }
            }
        }
    }

    /// After a published batch: each event's time from its commit to the broker's
    /// acknowledgement (`yeyak_relay_publish_seconds`), and the events committed but not yet
    /// published (`yeyak_relay_backlog_events`, a position count, asked of the log only after a
    /// full batch).
    async fn observe(&self, batch: &[RecordedEvent]) {
        let now_us = jiff::Timestamp::now().as_microsecond();
        let latency =
            metrics::histogram!("yeyak_relay_publish_seconds", "topic" => self.topic.clone());
        for event in batch {
            latency.record((now_us - event.recorded_at_us).max(0) as f64 / 1e6);
        }
        // A batch shorter than the read's limit reached the head when it was read: nothing
        // left, without asking the log.
        let backlog = match batch.last() {
            Some(_) if batch.len() < self.batch => Some(0),
            Some(last) => self
                .log
                .head()
                .await
                .ok()
                .map(|head| head.position.saturating_sub(last.position.position)),
            None => None,
        };
        if let Some(backlog) = backlog {
            metrics::gauge!("yeyak_relay_backlog_events", "topic" => self.topic.clone())
                .set(backlog as f64);
        }
    }

    async fn acquire(
        &self,
        name: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<Box<dyn yeyak_eventlog::Lease>>, StoreError> {
        loop {
            if let Some(lease) = self.log.try_lease(name).await? {
                return Ok(Some(lease));
            }
            if wait_or_shutdown(shutdown, Duration::from_secs(1)).await {
                return Ok(None);
            }
        }
    }

    /// Sends a batch and waits for every acknowledgement. Records are queued in log order; the
    /// idempotent producer keeps that order per partition, and the key keeps a stream on one
    /// partition.
    async fn publish(
        &self,
        producer: &FutureProducer,
        batch: &[RecordedEvent],
    ) -> Result<(), KafkaError> {
        use tracing::Instrument;
        let sends = batch.iter().map(|event| {
            let span = send_span(&self.topic, event);
            let record = FutureRecord::to(&self.topic)
                .key(event.stream_id.as_bytes())
                .payload(event.payload.as_slice())
                .timestamp(event.recorded_at_us / 1_000)
                .headers(record::headers(
                    &self.source,
                    event,
                    yeyak_transport::traceparent_of(&span).as_deref(),
                ));
            let sent = producer.send(record, Timeout::After(self.config.message_timeout));
            async move {
                let result = sent.await;
                if let Err((e, _)) = &result {
                    tracing::Span::current()
                        .record("otel.status_code", "error")
                        .record("otel.status_message", e.to_string());
                }
                result
            }
            .instrument(span)
        });
        for result in join_all(sends).await {
            result.map_err(|(e, _)| e)?;
        }
        Ok(())
    }
}

/// The OpenTelemetry producer span of publishing `event` to `topic` (`send <topic>`,
/// `messaging.*` attributes), a child of the event's trace; the record carries this span as its
/// `traceparent`, so the consumer's span is its child.
fn send_span(topic: &str, event: &RecordedEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = %format!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = topic,
        messaging.message.id = %event.event_id,
        messaging.kafka.message.key = %event.stream_id,
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
    );
    yeyak_transport::continue_trace(&span, event.metadata.trace_context.as_deref());
    span
}
