//! The log-tail transport: every event delivered in order, a redelivery has no second effect,
//! a poison event is set aside without stopping the consumer, and a restart resumes.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use yeyak_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, RecordedEvent,
    testing::{event, eventually, fresh_sqlite_url},
};
use yeyak_transport::{
    DEAD_LETTER_TYPE, EventHandler, HandlerError, LogTailTransport, Transport, dead_letter_stream,
};

/// A consumer whose effect is an event in its own log, written with its inbox row.
struct Recorder {
    own: Arc<dyn EventStore>,
    /// Every call, including the ones whose effect the inbox suppressed.
    calls: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    async fn handle(&self, e: &RecordedEvent) -> Result<(), HandlerError> {
        self.calls
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&e.payload).into_owned());
        if e.event_type == "Poison" {
            return Err(HandlerError::Poison("cannot decode".into()));
        }
        let effect = AppendRequest::single(
            "effects",
            ExpectedVersion::Any,
            vec![event("Effect", &e.payload)],
        )
        .with_inbox("recorder", e.event_id);
        self.own
            .append(effect)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
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
    let source = yeyak_eventlog::connect(&fresh_sqlite_url("source"))
        .await
        .unwrap();
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    for n in ["1", "2"] {
        publish(&source, "Good", n).await;
    }
    publish(&source, "Poison", "bad").await;
    publish(&source, "Good", "3").await;

    let transport = Arc::new(
        LogTailTransport::new(own.clone())
            .with_source("src", source.clone())
            .poll_interval(Duration::from_millis(20)),
    );
    let recorder = Arc::new(Recorder {
        own: own.clone(),
        calls: Mutex::new(Vec::new()),
    });
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
    assert!(
        String::from_utf8_lossy(&dead[0].payload).contains("cannot decode"),
        "the reason is kept"
    );
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

#[tokio::test]
async fn an_unknown_source_is_an_error() {
    let own = yeyak_eventlog::connect(&fresh_sqlite_url("own"))
        .await
        .unwrap();
    let transport = LogTailTransport::new(own.clone());
    let recorder = Arc::new(Recorder {
        own,
        calls: Mutex::new(Vec::new()),
    });
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
