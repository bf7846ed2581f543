//! Structured JSON logs, and OpenTelemetry traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set. W3C `traceparent` is the propagation format.
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, metrics::ObservableGauge};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator,
    trace::SdkTracerProvider,
};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Keeps the exporters alive; flushes spans and metrics when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    meters: Option<SdkMeterProvider>,
    _lag: ObservableGauge<i64>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("trace exporter shutdown: {e}");
        }
        if let Some(meters) = self.meters.take()
            && let Err(e) = meters.shutdown()
        {
            eprintln!("metric exporter shutdown: {e}");
        }
    }
}

/// Installs logging (filter from `RUST_LOG`, default `info`) and, when configured, OTLP traces.
/// Safe to call more than once: later calls keep the first subscriber.
/// The `service.name` the telemetry carries: `OTEL_SERVICE_NAME` when set (the
/// OpenTelemetry convention, so a deployment can name its instances), else the service's own.
pub fn resource_name(service_name: &str) -> String {
    named(std::env::var("OTEL_SERVICE_NAME").ok(), service_name)
}

fn named(configured: Option<String>, service_name: &str) -> String {
    configured
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| service_name.to_string())
}

pub fn init(service_name: &'static str) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let service_name = resource_name(service_name);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);
    let provider = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|_| {
            match opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
            {
                Ok(exporter) => Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(
                            Resource::builder()
                                .with_service_name(service_name.clone())
                                .build(),
                        )
                        .build(),
                ),
                Err(e) => {
                    eprintln!("OTLP exporter not started: {e}");
                    None
                }
            }
        });
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name.clone())));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(otel)
        .try_init();
    if let Some(p) = &provider {
        opentelemetry::global::set_tracer_provider(p.clone());
    }
    let meters =
        provider.as_ref().and_then(|_| {
            match opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build()
            {
                Ok(exporter) => Some(
                    SdkMeterProvider::builder()
                        .with_periodic_exporter(exporter)
                        .with_resource(
                            Resource::builder()
                                .with_service_name(service_name.clone())
                                .build(),
                        )
                        .build(),
                ),
                Err(e) => {
                    eprintln!("OTLP metric exporter not started: {e}");
                    None
                }
            }
        });
    if let Some(m) = &meters {
        opentelemetry::global::set_meter_provider(m.clone());
    }
    Telemetry {
        provider,
        meters,
        _lag: consumer_lag_gauge(),
    }
}

/// `yeyak.consumer.lag`: records behind the end, per consumer, topic and partition.
fn consumer_lag_gauge() -> ObservableGauge<i64> {
    opentelemetry::global::meter("yeyak")
        .i64_observable_gauge("yeyak.consumer.lag")
        .with_description(
            "Records between a consumer's position and the end of its topic partition",
        )
        .with_callback(|observer| {
            for (consumer, topic, partition, lag) in yeyak_transport::lag::snapshot() {
                let attributes = [
                    KeyValue::new("consumer", consumer),
                    KeyValue::new("topic", topic),
                    KeyValue::new("partition", i64::from(partition)),
                ];
                observer.observe(lag, &attributes);
            }
        })
        .build()
}

/// The OpenTelemetry server span of one incoming gRPC call, continuing the caller's trace from
/// `traceparent`: named `<package.Service>/<Method>`, kind server, `rpc.system`, `rpc.service`,
/// `rpc.method`; [`record_status`] adds the outcome. Health checks and reflection are not traced.
pub fn grpc_span(request: &http::Request<()>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let (service, method) = crate::server::service_and_method(request.uri().path());
    if crate::metrics::unmeasured(service) {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "grpc",
        otel.name = %format!("{service}/{method}"),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// Records a call's status on its server span: `rpc.grpc.status_code` always, and an error
/// status for the codes the RPC conventions count as the server's errors (UNKNOWN,
/// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS); a refused request
/// (INVALID_ARGUMENT, NOT_FOUND, …) is the caller's error and leaves the status unset.
pub fn record_status(span: &tracing::Span, code: tonic::Code, message: &str) {
    use tonic::Code::*;
    span.record("rpc.grpc.status_code", code as i64);
    if matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    ) {
        span.record("otel.status_code", "error");
        span.record("otel.status_message", message);
    }
}

/// The W3C `traceparent` of the current span, when it belongs to a sampled OpenTelemetry trace.
pub fn current_traceparent() -> Option<String> {
    yeyak_transport::traceparent_of(&tracing::Span::current())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_service_name_when_set_names_the_service_in_telemetry() {
        assert_eq!(
            named(Some("reservations-canary".into()), "reservations"),
            "reservations-canary"
        );
        assert_eq!(named(Some(" ".into()), "reservations"), "reservations");
        assert_eq!(named(None, "reservations"), "reservations");
    }
}
