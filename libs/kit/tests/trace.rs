//! A gRPC call's `traceparent` becomes the trace of its handler, and the events it appends carry
//! it, so consumers continue the same trace.
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;
use yeyak_kit::{
    events::{Cause, encode},
    telemetry::grpc_span,
};

#[test]
fn events_appended_by_a_traced_call_carry_its_trace() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber in this file");

    let request = http::Request::builder()
        .uri("/yeyak.reservations.v1.ReservationsService/Book")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(())
        .unwrap();
    let span = grpc_span(&request);
    let event = span.in_scope(|| {
        let cause = Cause::command("customer:c".into(), uuid::Uuid::new_v4(), 0);
        encode(
            uuid::Uuid::new_v4(),
            &prost_types::Timestamp::default(),
            &cause,
        )
    });
    let trace = event.metadata.trace_context.expect("a trace context");
    assert!(
        trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{trace}"
    );
    assert!(
        !trace.contains("00f067aa0ba902b7"),
        "the event's parent is the handler's span, a child of the caller's"
    );
}
