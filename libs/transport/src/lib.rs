//! How events travel from the service that owns them to the services that react to them.
//!
//! A consumer is an [`EventHandler`]: it writes its effect and its inbox row `(consumer, event_id)`
//! in one transaction of its own store, so a second delivery of the same event has no second
//! effect. A [`Transport`] delivers a source service's events to a handler at least once, in the
//! source's log order, and only moves its durable position after the handler returned.
//!
//! Two transports fit this contract: [`LogTailTransport`] (the embedded default: tail the
//! producing service's log) and the Kafka transport (the distributed mode). Services only see
//! `Arc<dyn Transport>`, so the choice is made by the process wiring.

pub mod rebuild;
pub mod redrive;
#[cfg(feature = "testing")]
pub mod testing;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent,
    StoreError, Subscription,
};

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure (database down, conflict): the same event is delivered again.
    #[error("transient: {0}")]
    Retry(String),
    /// The event can never be applied (undecodable, unknown type or version): it is set aside in
    /// a dead-letter stream with the reason, and the events after it are still delivered.
    #[error("poison: {0}")]
    Poison(String),
}

impl HandlerError {
    /// The outcome of a consumer's append: storage trouble and races are retried; a request the
    /// log refuses as such can never succeed and is poison.
    pub fn from_append(
        result: Result<yeyak_eventlog::AppendResult, yeyak_eventlog::AppendError>,
    ) -> Result<(), HandlerError> {
        use yeyak_eventlog::AppendError;
        match result {
            Ok(_) => Ok(()),
            Err(e @ (AppendError::Store(_) | AppendError::Conflict { .. })) => {
                Err(HandlerError::Retry(e.to_string()))
            }
            Err(e) => Err(HandlerError::Poison(e.to_string())),
        }
    }
}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        HandlerError::Retry(e.to_string())
    }
}

/// A consumer of another service's events.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Stable name: the inbox key, the checkpoint name and the consumer group.
    fn name(&self) -> &str;

    /// Applies one event: effect and inbox row in one transaction. Must be idempotent per
    /// `event.event_id`.
    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError>;

    /// How many events of different [`EventHandler::ordering_key`]s the log tail may apply
    /// at once (1: one at a time, in the source's order). A handler whose effects on one key
    /// never touch another's opts in; its appends then share group commits.
    fn concurrency(&self) -> usize {
        1
    }

    /// Events with the same key are applied in the source's order. By default the key is the
    /// entity the stream is about: streams are named `<kind>-<id>`, so the facts of one
    /// reservation on its several streams (`reservation-<id>`, `payment-<id>`) share a key.
    fn ordering_key<'e>(&self, event: &'e RecordedEvent) -> &'e str {
        event
            .stream_id
            .split_once('-')
            .map_or(event.stream_id.as_str(), |(_, id)| id)
    }

    /// Whether [`EventHandler::handle_batch`] applies a batch at a lower cost than one event at
    /// a time (a read model that writes a batch's rows in one transaction says so).
    fn batches(&self) -> bool {
        false
    }

    /// Applies a batch of events, in source order; `Ok` means every one of them was applied.
    /// On an error the transport hands the batch over again one event at a time, so a poison
    /// event is found and set aside alone: the effects must be idempotent, as for `handle`.
    async fn handle_batch(&self, events: &[RecordedEvent]) -> Result<(), HandlerError> {
        for event in events {
            self.handle(event).await?;
        }
        Ok(())
    }
}

/// Delivers events of named source services to handlers.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Runs `handler` on every event of `source` (e.g. `"catalog"`) until `shutdown` is
    /// cancelled. Returns after the last handled event's position is saved.
    async fn consume(
        &self,
        source: &str,
        handler: Arc<dyn EventHandler>,
        shutdown: CancellationToken,
    ) -> Result<(), TransportError>;
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no event source named {0:?} is configured")]
    UnknownSource(String),
    #[error("broker: {0}")]
    Broker(String),
    #[error("dead letter not stored: {0}")]
    DeadLetter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The embedded transport: the consumer tails the producing service's log directly, keeping its
/// position as a checkpoint in its own store (`<handler>@<source>`).
pub struct LogTailTransport {
    sources: HashMap<String, Arc<dyn EventStore>>,
    /// The consumer's own store: checkpoints and dead letters live here.
    own: Arc<dyn EventStore>,
    poll: Duration,
    redrive: Duration,
}

impl LogTailTransport {
    pub fn new(own: Arc<dyn EventStore>) -> Self {
        Self {
            sources: HashMap::new(),
            own,
            poll: Duration::from_millis(250),
            redrive: redrive::REDRIVE_INTERVAL,
        }
    }

    /// How often a consumer looks for redrive requests of its dead letters ([`redrive`]).
    pub fn redrive_interval(mut self, every: Duration) -> Self {
        self.redrive = every;
        self
    }

    /// Makes the log of service `name` available to consumers.
    pub fn with_source(mut self, name: impl Into<String>, log: Arc<dyn EventStore>) -> Self {
        self.sources.insert(name.into(), log);
        self
    }

    /// How often to look for events that no commit signal announced.
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
}

#[async_trait::async_trait]
impl Transport for LogTailTransport {
    async fn consume(
        &self,
        source: &str,
        handler: Arc<dyn EventHandler>,
        shutdown: CancellationToken,
    ) -> Result<(), TransportError> {
        let log = self
            .sources
            .get(source)
            .ok_or_else(|| TransportError::UnknownSource(source.to_string()))?
            .clone();
        let checkpoint = format!("{}@{source}", handler.name());
        // Its own database may be down when the consumer starts: wait for it like any other
        // storage failure.
        let Some(start) = until_stored(&shutdown, &checkpoint, "read", || {
            self.own.load_checkpoint(&checkpoint)
        })
        .await
        else {
            return Ok(());
        };
        tracing::info!(
            consumer = handler.name(),
            source,
            ?start,
            "consumer started"
        );
        let source_log = log.clone();
        let mut subscription = Subscription::new(log, start).poll_interval(self.poll);
        let limit = subscription.batch_limit();
        // Redrive requests are looked for at start and then every `redrive` (between batches:
        // `next_batch` moves its position only when it returns a batch).
        let mut redrive_at = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(redrive_at) => {
                    redrive_at = tokio::time::Instant::now() + self.redrive;
                    match redrive::handle_requests(&*self.own, &*source_log, source, &*handler, &shutdown).await {
                        Ok(true) => {}
                        Ok(false) => return Ok(()),
                        Err(e) => tracing::warn!(consumer = handler.name(), error = %e,
                            "redrive requests not handled; looking again later"),
                    }
                    continue;
                }
                batch = subscription.next_batch() => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(consumer = handler.name(), source, error = %e, "reading the source log failed; retrying");
                    if wait_or_shutdown(&shutdown, Duration::from_secs(1)).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            // One checkpoint write per batch: every effect is idempotent (the runner's inbox,
            // upserted read models, one dead letter per event), so events of a batch applied
            // again after a crash have no second effect.
            // A handler that opted in takes the batch whole, or its keys at once.
            let whole = if handler.batches() && apply_batch(&*handler, &batch).await {
                true
            } else if handler.concurrency() > 1 && batch.len() > 1 {
                if !deliver_by_key(&*handler, &*self.own, source, &batch, &shutdown).await? {
                    return Ok(());
                }
                true
            } else {
                false
            };
            if whole {
                if let Some(last) = batch.last() {
                    if !save_position(&*self.own, &checkpoint, last.position, &shutdown).await {
                        return Ok(());
                    }
                    observe(
                        &*source_log,
                        handler.name(),
                        source,
                        last.position,
                        &batch,
                        limit,
                    )
                    .await;
                }
                continue;
            }
            let mut applied = None;
            for event in &batch {
                if !deliver(&*handler, &*self.own, source, event, &shutdown).await? {
                    if let Some(position) = applied {
                        save_position(&*self.own, &checkpoint, position, &shutdown).await;
                    }
                    return Ok(());
                }
                applied = Some(event.position);
            }
            if let Some(position) = applied {
                if !save_position(&*self.own, &checkpoint, position, &shutdown).await {
                    return Ok(());
                }
                observe(
                    &*source_log,
                    handler.name(),
                    source,
                    position,
                    &batch,
                    limit,
                )
                .await;
            }
        }
    }
}

/// Saves a consumer's position, retrying while its own database fails: a consumer outlives a
/// database outage (its service's health says `NOT_SERVING` meanwhile). `false` when shutdown
/// came first: the events after the last saved position are applied again, without effect.
async fn save_position(
    own: &dyn EventStore,
    name: &str,
    at: Position,
    shutdown: &CancellationToken,
) -> bool {
    until_stored(shutdown, name, "saved", || own.save_checkpoint(name, at))
        .await
        .is_some()
}

/// Runs a storage call on a consumer's position until it succeeds, backing off (200 ms doubling
/// to 5 s) while the database fails; `None` when shutdown came first.
async fn until_stored<T, Fut>(
    shutdown: &CancellationToken,
    checkpoint: &str,
    what: &str,
    mut call: impl FnMut() -> Fut,
) -> Option<T>
where
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut backoff = Duration::from_millis(200);
    loop {
        match call().await {
            Ok(value) => return Some(value),
            Err(e) => {
                tracing::warn!(%checkpoint, error = %e, retry_in_ms = backoff.as_millis() as u64,
                    "the consumer's position was not {what}; retrying");
                if wait_or_shutdown(shutdown, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// After a batch: the events a log-tail consumer applied, and how far behind its source's head
/// it still is (`yeyak_consumer_lag`, partition 0). A batch shorter than the read's `limit`
/// reached the head when it was read: 0 behind, without asking; after a full one, the head is
/// asked (a position count, so gaps in positions count as events).
async fn observe(
    source_log: &dyn EventStore,
    consumer: &str,
    source: &str,
    at: Position,
    batch: &[RecordedEvent],
    limit: usize,
) {
    metrics::counter!("yeyak_consumer_events_total", "consumer" => consumer.to_string())
        .increment(batch.len() as u64);
    let behind = if batch.len() < limit {
        Some(0)
    } else {
        source_log
            .head()
            .await
            .ok()
            .map(|head| head.position.saturating_sub(at.position))
    };
    if let Some(behind) = behind {
        lag::record(consumer, source, 0, behind as i64);
    }
}

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler applied the event (or had already: the inbox said so).
    Applied,
    /// The event can never be applied; the transport sets it aside with this reason.
    Poison(String),
    /// Shutdown came while a transient failure was being retried: the event stays unacknowledged.
    Interrupted,
}

/// Hands one event to the handler, retrying transient failures with backoff (50 ms doubling to
/// 5 s) until it is applied, found poison, or shutdown comes.
pub async fn apply(
    handler: &dyn EventHandler,
    event: &RecordedEvent,
    shutdown: &CancellationToken,
) -> Outcome {
    let mut backoff = Duration::from_millis(50);
    loop {
        match handler.handle(event).await {
            Ok(()) => return Outcome::Applied,
            Err(HandlerError::Poison(reason)) => return Outcome::Poison(reason),
            Err(HandlerError::Retry(reason)) => {
                tracing::warn!(consumer = handler.name(), event_id = %event.event_id, %reason,
                    retry_in_ms = backoff.as_millis() as u64, "event not applied; retrying");
                if wait_or_shutdown(shutdown, backoff).await {
                    return Outcome::Interrupted;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Applies a whole batch in one call (see [`EventHandler::handle_batch`]); `false` when it
/// failed, and the events are to be applied one at a time.
async fn apply_batch(handler: &dyn EventHandler, batch: &[RecordedEvent]) -> bool {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "consume batch",
        consumer = handler.name(),
        events = batch.len()
    );
    match handler.handle_batch(batch).instrument(span).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(consumer = handler.name(), events = batch.len(), error = ?e,
                "batch not applied; applying its events one at a time");
            false
        }
    }
}

/// A span for applying one event, continuing the trace of the request that caused it: an
/// OpenTelemetry consumer span (`process <destination>`, `messaging.*` attributes) whose parent
/// is the event's `traceparent` (over Kafka, the relay's producer span).
pub fn consume_span(
    system: &str,
    destination: &str,
    consumer: &str,
    event: &RecordedEvent,
) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        otel.name = %format!("process {destination}"),
        otel.kind = "consumer",
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = destination,
        messaging.consumer.group.name = consumer,
        messaging.message.id = %event.event_id,
        messaging.kafka.message.key = %event.stream_id,
        consumer,
        event_type = %event.event_type,
    );
    continue_trace(&span, event.metadata.trace_context.as_deref());
    span
}

/// Makes `span` a child of the W3C `traceparent`, when there is one.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if let Some(traceparent) = traceparent {
        let carrier: HashMap<String, String> =
            [("traceparent".to_string(), traceparent.to_string())].into();
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
        let _ = span.set_parent(parent);
    }
}

/// The W3C `traceparent` of `span`, when it belongs to a valid OpenTelemetry trace.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = span.context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Applies one event from the log tail; a poison event goes to the consumer's dead-letter stream.
/// Returns `false` when shutdown interrupted a retry.
async fn deliver(
    handler: &dyn EventHandler,
    own: &dyn EventStore,
    source: &str,
    event: &RecordedEvent,
    shutdown: &CancellationToken,
) -> Result<bool, TransportError> {
    use tracing::Instrument;
    match apply(handler, event, shutdown)
        .instrument(consume_span("yeyak-log", source, handler.name(), event))
        .await
    {
        Outcome::Applied => Ok(true),
        Outcome::Interrupted => Ok(false),
        Outcome::Poison(reason) => {
            tracing::error!(consumer = handler.name(), source, event_id = %event.event_id,
                event_type = %event.event_type, %reason, "poison event set aside");
            // Setting aside must not fail for good: retry storage trouble until shutdown.
            let mut backoff = Duration::from_millis(200);
            while let Err(e) = dead_letter(own, handler.name(), source, event, &reason).await {
                tracing::warn!(consumer = handler.name(), error = %e, "dead letter not stored; retrying");
                if wait_or_shutdown(shutdown, backoff).await {
                    return Ok(false);
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Ok(true)
        }
    }
}

/// Applies a batch with events of different keys at once (at most the handler's
/// concurrency), each key's events in order. `false` when shutdown interrupted it: the
/// checkpoint is not moved, and what was applied is applied again, without effect, next time.
async fn deliver_by_key(
    handler: &dyn EventHandler,
    own: &dyn EventStore,
    source: &str,
    batch: &[RecordedEvent],
    shutdown: &CancellationToken,
) -> Result<bool, TransportError> {
    use futures::{FutureExt, StreamExt};
    let mut keys: Vec<&str> = Vec::new();
    let mut by_key: HashMap<&str, Vec<&RecordedEvent>> = HashMap::new();
    for event in batch {
        let key = handler.ordering_key(event);
        let events = by_key.entry(key).or_insert_with(|| {
            keys.push(key);
            Vec::new()
        });
        events.push(event);
    }
    // Boxed: the futures borrow the batch, which an unboxed `async` closure cannot name.
    let runs: Vec<futures::future::BoxFuture<'_, Result<bool, TransportError>>> = keys
        .into_iter()
        .map(|key| {
            let events = by_key.remove(key).unwrap_or_default();
            async move {
                for event in events {
                    if !deliver(handler, own, source, event, shutdown).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            .boxed()
        })
        .collect();
    let mut all = futures::stream::iter(runs).buffer_unordered(handler.concurrency());
    let mut complete = true;
    while let Some(run) = all.next().await {
        complete &= run?;
    }
    Ok(complete)
}

/// Type of the event recorded in a consumer's dead-letter stream.
pub const DEAD_LETTER_TYPE: &str = "yeyak.transport.DeadLetter";

/// The consumer's dead-letter stream name.
pub fn dead_letter_stream(consumer: &str) -> String {
    format!("dead-letters-{consumer}")
}

/// A poison event as the consumer's dead-letter stream keeps it: which consumer failed, the
/// original event's source, type, stream (its key) and version, why, and its payload untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub consumer: String,
    pub source: String,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub reason: String,
    pub payload: Vec<u8>,
}

impl DeadLetter {
    /// The record's payload (schema 2): `name: value` header lines, a blank line, the original
    /// payload's bytes.
    fn encode(&self) -> Vec<u8> {
        let line = |v: &str| v.replace(['\n', '\r'], " ");
        let mut out = format!(
            "source: {}\ntype: {}\nstream: {}\nversion: {}\nreason: {}\n\n",
            line(&self.source),
            line(&self.event_type),
            line(&self.stream_id),
            self.stream_version,
            line(&self.reason)
        )
        .into_bytes();
        out.extend_from_slice(&self.payload);
        out
    }

    /// A dead-letter record read back (`None` for another event). Schema 1 (before the stream
    /// was kept) held `source`, `type` and `reason` lines, then the payload.
    pub fn decode(record: &RecordedEvent) -> Option<DeadLetter> {
        if record.event_type != DEAD_LETTER_TYPE {
            return None;
        }
        let consumer = record.stream_id.strip_prefix("dead-letters-")?.to_string();
        let event_id = record.metadata.causation_id.unwrap_or_default();
        let bytes = &record.payload;
        if record.schema_version < 2 {
            let mut parts = bytes.splitn(4, |b| *b == b'\n');
            let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).to_string();
            let (source, event_type, reason) = (text(), text(), text());
            return Some(DeadLetter {
                consumer,
                source,
                event_id,
                event_type,
                stream_id: String::new(),
                stream_version: 0,
                reason,
                payload: parts.next().unwrap_or_default().to_vec(),
            });
        }
        let end = bytes.windows(2).position(|w| w == b"\n\n")?;
        let head = String::from_utf8_lossy(&bytes[..end]);
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
                .unwrap_or_default()
                .to_string()
        };
        Some(DeadLetter {
            consumer,
            source: field("source"),
            event_id,
            event_type: field("type"),
            stream_id: field("stream"),
            stream_version: field("version").parse().unwrap_or_default(),
            reason: field("reason"),
            payload: bytes[end + 2..].to_vec(),
        })
    }
}

/// Records a poison event in the consumer's own log, once per (consumer, event).
async fn dead_letter(
    own: &dyn EventStore,
    consumer: &str,
    source: &str,
    event: &RecordedEvent,
    reason: &str,
) -> Result<(), TransportError> {
    let payload = DeadLetter {
        consumer: consumer.to_string(),
        source: source.to_string(),
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
        reason: reason.to_string(),
        payload: event.payload.clone(),
    }
    .encode();
    let request = AppendRequest::single(
        dead_letter_stream(consumer),
        ExpectedVersion::Any,
        vec![NewEvent {
            event_id: uuid::Uuid::new_v5(&event.event_id, consumer.as_bytes()),
            event_type: DEAD_LETTER_TYPE.to_string(),
            schema_version: 2,
            payload,
            metadata: Metadata {
                correlation_id: event.metadata.correlation_id,
                causation_id: Some(event.event_id),
                actor: format!("service:{consumer}"),
                occurred_at_us: event.recorded_at_us,
                trace_context: event.metadata.trace_context.clone(),
            },
        }],
    )
    .with_inbox(consumer, event.event_id);
    own.append(request).await.map_err(dead_letters_unwritten)?;
    metrics::counter!("yeyak_dead_letters_total", "consumer" => consumer.to_string()).increment(1);
    Ok(())
}

/// Why an append to a dead-letter stream failed: the store's error as it is, anything else as
/// a dead letter not stored.
fn dead_letters_unwritten(e: yeyak_eventlog::AppendError) -> TransportError {
    match e {
        yeyak_eventlog::AppendError::Store(s) => TransportError::Store(s),
        other => TransportError::DeadLetter(other.to_string()),
    }
}

/// Waits `delay` unless shutdown comes first; returns whether shutdown came.
pub async fn wait_or_shutdown(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

/// Consumer lag, per consumer, topic (or source) and partition: exported as the
/// `yeyak.consumer.lag` gauge and served by the admin API.
pub mod lag {
    use std::{
        collections::BTreeMap,
        sync::{LazyLock, Mutex},
    };

    type Key = (String, String, i32);
    static LAG: LazyLock<Mutex<BTreeMap<Key, i64>>> = LazyLock::new(Default::default);

    /// Records how many events a consumer is behind on one partition.
    pub fn record(consumer: &str, topic: &str, partition: i32, behind: i64) {
        gauge(consumer, topic, partition, behind);
        LAG.lock()
            .expect("lag registry")
            .insert((consumer.to_string(), topic.to_string(), partition), behind);
    }

    /// `yeyak_consumer_lag{consumer,topic,partition}`.
    fn gauge(consumer: &str, topic: &str, partition: i32, behind: i64) {
        metrics::gauge!("yeyak_consumer_lag", "consumer" => consumer.to_string(),
            "topic" => topic.to_string(), "partition" => partition.to_string())
        .set(behind as f64);
    }

    /// Replaces what a consumer reports for a topic: partitions it no longer holds drop out.
    pub fn replace(consumer: &str, topic: &str, partitions: &[(i32, i64)]) {
        let mut lag = LAG.lock().expect("lag registry");
        lag.retain(|(c, t, _), _| c != consumer || t != topic);
        for (partition, behind) in partitions {
            gauge(consumer, topic, *partition, *behind);
            lag.insert(
                (consumer.to_string(), topic.to_string(), *partition),
                *behind,
            );
        }
    }

    /// Every recorded lag: `(consumer, topic, partition, behind)`.
    pub fn snapshot() -> Vec<(String, String, i32, i64)> {
        LAG.lock()
            .expect("lag registry")
            .iter()
            .map(|((c, t, p), l)| (c.clone(), t.clone(), *p, *l))
            .collect()
    }
}

/// The position a consumer has reached in a source, for lag reporting.
pub async fn consumer_position(
    own: &dyn EventStore,
    consumer: &str,
    source: &str,
) -> Result<Position, StoreError> {
    own.load_checkpoint(&format!("{consumer}@{source}")).await
}
