//! The log-tail transport: every event delivered in order, a redelivery has no second effect,
//! a poison event is set aside without stopping the consumer, and a restart resumes.
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, RecordedEvent,
    testing::{event, eventually, fresh_sqlite_url},
};
use yeyak_transport::{
    DEAD_LETTER_TYPE, DeadLetter, EventHandler, HandlerError, LogTailTransport, Transport,
    dead_letter_stream,
};

/// A consumer whose effect is an event in its own log, written with its inbox row.
struct Recorder {
    own: Arc<dyn EventStore>,
    /// Every call, including the ones whose effect the inbox suppressed.
    calls: Mutex<Vec<String>>,
    /// Takes whole batches (and fails one that holds a poison event).
    batching: bool,
    concurrency: usize,
    /// The size of every batch handed over whole.
    batches: Mutex<Vec<usize>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Recorder {
    fn new(own: Arc<dyn EventStore>) -> Self {
        Self {
            own,
            calls: Mutex::new(Vec::new()),
            batching: false,
            concurrency: 1,
            batches: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn batches(&self) -> bool {
        self.batching
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }

    async fn handle_batch(&self, events: &[RecordedEvent]) -> Result<(), HandlerError> {
        self.batches.lock().unwrap().push(events.len());
        if events.iter().any(|e| e.event_type == "Poison") {
            return Err(HandlerError::Retry("a poison event in the batch".into()));
        }
        for e in events {
            self.handle(e).await?;
        }
        Ok(())
    }

    async fn handle(&self, e: &RecordedEvent) -> Result<(), HandlerError> {
        self.calls
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&e.payload).into_owned());
        if e.event_type == "Poison" {
            return Err(HandlerError::Poison("cannot decode".into()));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let effect = AppendRequest::single(
            "effects",
            ExpectedVersion::Any,
            vec![event("Effect", &e.payload)],
        )
        .with_inbox("recorder", e.event_id);
        let appended = self.own.append(effect).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        appended.map_err(|e| HandlerError::Retry(e.to_string()))?;
        Ok(())
    }
}

async fn effects(own: &Arc<dyn EventStore>) -> Vec<String> {
    own.read_stream("effects", 1, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.payload).unwrap())
        .collect()
}

async fn publish(source: &Arc<dyn EventStore>, kind: &str, payload: &str) {
    source
        .append(AppendRequest::single(
            format!("s-{payload}"),
            ExpectedVersion::Any,
            vec![event(kind, payload.as_bytes())],
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_applied_once_in_order_poison_is_set_aside_and_a_restart_resumes() {
    let (source, own, transport) = sources().await;
    for n in ["1", "2"] {
        publish(&source, "Good", n).await;
    }
    publish(&source, "Poison", "bad").await;
    publish(&source, "Good", "3").await;

    let recorder = Arc::new(Recorder::new(own.clone()));
    let (shutdown, running) = start(&transport, &recorder);
    eventually(
        Duration::from_secs(10),
        "the events before and after the poison",
        || async { effects(&own).await.len() == 3 },
    )
    .await;
    assert_eq!(
        effects(&own).await,
        ["1", "2", "3"],
        "applied in log order, the poison skipped"
    );
    let dead = own
        .read_stream(&dead_letter_stream("recorder"), 1, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_type, DEAD_LETTER_TYPE);
    let letter = DeadLetter::decode(&dead[0]).expect("a dead letter");
    assert!(
        letter.reason.contains("cannot decode"),
        "the reason is kept"
    );
    assert_eq!(
        letter.consumer, "recorder",
        "the consumer that failed is named"
    );
    assert_eq!(
        (
            letter.stream_id.as_str(),
            letter.stream_version,
            letter.event_type.as_str()
        ),
        ("s-bad", 1, "Poison"),
        "the original key (stream) and type are kept"
    );
    assert_eq!(letter.payload, b"bad", "the original payload, untouched");
    shutdown.cancel();
    running.await.unwrap().unwrap();

    // Simulate a crash after the effect committed but before the position was saved: rewind the
    // checkpoint, so the transport delivers everything again.
    own.save_checkpoint("recorder@src", yeyak_eventlog::Position::START)
        .await
        .unwrap();
    publish(&source, "Good", "4").await;
    let (shutdown, running) = start(&transport, &recorder);
    eventually(
        Duration::from_secs(10),
        "the event published while stopped",
        || async { effects(&own).await.len() == 4 },
    )
    .await;
    assert!(
        recorder.calls.lock().unwrap().len() >= 8,
        "everything was delivered a second time"
    );
    assert_eq!(
        effects(&own).await,
        ["1", "2", "3", "4"],
        "a redelivery has no second effect"
    );
    assert_eq!(
        own.read_stream(&dead_letter_stream("recorder"), 1, 10)
            .await
            .unwrap()
            .len(),
        1,
        "the poison is set aside once"
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

async fn sources() -> (
    Arc<dyn EventStore>,
    Arc<dyn EventStore>,
    Arc<LogTailTransport>,
) {
    let source = yeyak_eventlog::connect(&fresh_sqlite_url("source"))
        .await
        .unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let transport = Arc::new(
        LogTailTransport::new(own.clone())
            .with_source("src", source.clone())
            .poll_interval(Duration::from_millis(20)),
    );
    (source, own, transport)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_consumer_takes_a_batch_whole_and_a_failed_batch_one_event_at_a_time() {
    let (source, own, transport) = sources().await;
    for n in ["1", "2", "3"] {
        publish(&source, "Good", n).await;
    }
    let mut recorder = Recorder::new(own.clone());
    recorder.batching = true;
    let recorder = Arc::new(recorder);
    let (shutdown, running) = start(&transport, &recorder);
    eventually(Duration::from_secs(10), "the first batch", || async {
        effects(&own).await.len() == 3
    })
    .await;
    assert_eq!(
        *recorder.batches.lock().unwrap(),
        [3],
        "the events published before the start came as one batch"
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
    for (kind, n) in [("Good", "4"), ("Poison", "bad"), ("Good", "5")] {
        publish(&source, kind, n).await;
    }
    let (shutdown, running) = start(&transport, &recorder);
    eventually(
        Duration::from_secs(10),
        "the events around the poison",
        || async { effects(&own).await.len() == 5 },
    )
    .await;
    assert_eq!(effects(&own).await, ["1", "2", "3", "4", "5"]);
    let dead = own
        .read_stream(&dead_letter_stream("recorder"), 1, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the poison event alone is set aside");
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_different_keys_are_applied_at_once_and_each_key_in_order() {
    let (source, own, transport) = sources().await;
    // Two entities, their events interleaved; entity `a`'s on two streams of its own
    // (`reservation-a`, `payment-a`), which share its key.
    for n in 1..=6 {
        let a = if n % 2 == 0 {
            "payment-a"
        } else {
            "reservation-a"
        };
        for (stream, entity) in [(a, "a"), ("b", "b")] {
            source
                .append(AppendRequest::single(
                    stream,
                    ExpectedVersion::Any,
                    vec![event("Good", format!("{entity}{n}").as_bytes())],
                ))
                .await
                .unwrap();
        }
    }
    let mut recorder = Recorder::new(own.clone());
    recorder.concurrency = 4;
    let recorder = Arc::new(recorder);
    let (shutdown, running) = start(&transport, &recorder);
    eventually(Duration::from_secs(10), "every event", || async {
        effects(&own).await.len() == 12
    })
    .await;
    let applied = effects(&own).await;
    for stream in ["a", "b"] {
        let of_key: Vec<&String> = applied.iter().filter(|e| e.starts_with(stream)).collect();
        let expected: Vec<String> = (1..=6).map(|n| format!("{stream}{n}")).collect();
        assert_eq!(
            of_key,
            expected.iter().collect::<Vec<_>>(),
            "{stream} in order"
        );
    }
    assert!(
        recorder.most_in_flight.load(Ordering::SeqCst) > 1,
        "events of different keys were applied at once"
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        own.load_checkpoint("recorder@src").await.unwrap(),
        source.head().await.unwrap(),
        "the checkpoint is at the batch's last event"
    );
}

#[tokio::test]
async fn an_unknown_source_is_an_error() {
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let transport = LogTailTransport::new(own.clone());
    let recorder = Arc::new(Recorder::new(own));
    let result = transport
        .consume("nowhere", recorder, yeyak_transport_shutdown())
        .await;
    assert!(matches!(
        result,
        Err(yeyak_transport::TransportError::UnknownSource(_))
    ));
}

type Running = tokio::task::JoinHandle<Result<(), yeyak_transport::TransportError>>;

/// Runs the recorder on the source `src` until the returned token is cancelled.
fn start(
    transport: &Arc<LogTailTransport>,
    recorder: &Arc<Recorder>,
) -> (tokio_util::sync::CancellationToken, Running) {
    let shutdown = yeyak_transport_shutdown();
    let (t, r, s) = (transport.clone(), recorder.clone(), shutdown.clone());
    (
        shutdown,
        tokio::spawn(async move { t.consume("src", r, s).await }),
    )
}

fn yeyak_transport_shutdown() -> tokio_util::sync::CancellationToken {
    tokio_util::sync::CancellationToken::new()
}
