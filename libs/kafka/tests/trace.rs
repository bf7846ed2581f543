//! A trace started by a request continues across Kafka into the consumer's work: the relay sends
//! the event's `traceparent`, and the consumer's span is its child.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use tokio_util::sync::CancellationToken;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use yeyak_eventlog::{
    AppendRequest, ExpectedVersion, RecordedEvent,
    testing::{event, eventually, fresh_sqlite_url},
};
use yeyak_kafka::{KafkaConfig, consumer::KafkaTransport, relay::Relay, testing::Broker, topics};
use yeyak_transport::{EventHandler, HandlerError, Transport};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Remembers the trace id of the span it runs in.
struct TraceWitness(Mutex<Option<String>>);

#[async_trait::async_trait]
impl EventHandler for TraceWitness {
    fn name(&self) -> &str {
        "trace-witness"
    }

    async fn handle(&self, _: &RecordedEvent) -> Result<(), HandlerError> {
        let context = tracing::Span::current().context();
        *self.0.lock().unwrap() = Some(context.span().span_context().trace_id().to_string());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_continues_the_trace_of_the_request_that_caused_the_event() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // Global: the consumer runs on other worker threads. This file holds one test for that reason.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let config = KafkaConfig::new(broker.bootstrap());
    topics::ensure(&config, &[config.topic("traced")])
        .await
        .expect("topics");
    let log = yeyak_eventlog::connect(&fresh_sqlite_url("traced"))
        .await
        .unwrap();
    let mut caused = event("Traced", b"t");
    caused.metadata.trace_context = Some(format!("00-{TRACE_ID}-00f067aa0ba902b7-01"));
    log.append(AppendRequest::single(
        "s",
        ExpectedVersion::NoStream,
        vec![caused],
    ))
    .await
    .unwrap();

    let stop = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(log, config.clone(), "traced").run(stop.clone()));
    let witness = Arc::new(TraceWitness(Mutex::new(None)));
    let transport = KafkaTransport::new(config).unwrap();
    let consumer = {
        let (handler, stop) = (witness.clone() as Arc<dyn EventHandler>, stop.clone());
        tokio::spawn(async move { transport.consume("traced", handler, stop).await })
    };
    eventually(
        Duration::from_secs(30),
        "the event to be consumed",
        || async { witness.0.lock().unwrap().is_some() },
    )
    .await;
    assert_eq!(
        witness.0.lock().unwrap().as_deref(),
        Some(TRACE_ID),
        "the consumer's span belongs to the request's trace"
    );
    stop.cancel();
    relay.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
}
