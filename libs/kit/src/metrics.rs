//! Metrics as Prometheus text on a port of its own (`GET /metrics`), for every service process
//! (and once for the whole of `yeyak run`). Prometheus text rather than OTLP metrics: a
//! Kubernetes cluster scrapes pods without a collector in the path, a scrape needs no credential
//! and the port carries no business data (the gRPC port stays behind authentication). The OTLP
//! exporter, when configured, keeps sending the consumer-lag gauge.
//!
//! The code records through the `metrics` facade (libraries included: the event log counts its
//! appends, the transport its dead letters); this module installs the one recorder of the
//! process and serves what it holds. What is measured, by name:
//!
//! - `yeyak_rpc_requests_total{service,method,code}` and `yeyak_rpc_duration_seconds{service,method}`:
//!   every RPC but health and reflection (rate, errors by code, latency);
//! - `yeyak_appends_total{backend,outcome}` (committed, duplicate, already_handled, conflict,
//!   refused, failed) and `yeyak_group_commit_batch_size{backend}`;
//! - `yeyak_command_retries_total{command}`: a command run again after losing a race;
//! - `yeyak_relay_backlog_events{topic}` (committed, not yet published) and
//!   `yeyak_relay_publish_seconds{topic}` (commit to the broker's acknowledgement);
//! - `yeyak_consumer_lag{consumer,topic,partition}`, `yeyak_consumer_events_total{consumer,outcome}`
//!   and `yeyak_dead_letters_total{consumer}` (a projection is a consumer of its own log: its
//!   lag is its projection lag);
//! - `yeyak_bookings_total{outcome}`, `yeyak_cancellations_total{outcome}` and
//!   `yeyak_notifications_total{channel,outcome}`: the business by outcome.
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::OnceLock,
    time::{Duration, Instant},
};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    body::Body,
    codegen::{Service, http},
};

/// Latency buckets, in seconds: half a millisecond to ten seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("yeyak_group_commit_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
                )
            })
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics stays empty");
        }
        handle
    })
}

/// Binds the metrics port (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    let handle = handle();
    // Histograms keep their samples until drained: drain them when nobody scrapes too.
    let upkeep = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !yeyak_transport::wait_or_shutdown(&shutdown, Duration::from_secs(5)).await {
                handle.run_upkeep();
            }
        })
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics at /metrics");
    }
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                handle.render(),
            )
        }),
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    upkeep.abort();
    served
}

/// How a command RPC ended, as a label: `ok`, else the refusal's reason code (`SOLD_OUT`, …) or,
/// without one, the status code's name.
pub fn outcome<T>(result: &Result<T, tonic::Status>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(status) => crate::status::reason(status).unwrap_or_else(|| code_name(status.code())),
    }
}

/// gRPC services whose calls are not measured: the probes and the tools, not the product.
pub(crate) fn unmeasured(service: &str) -> bool {
    service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection.")
}

/// A status code as Prometheus labels it: `OK`, `INVALID_ARGUMENT`, …
pub fn code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Measures every call of a port: its rate, errors by code and latency.
#[derive(Clone)]
pub struct Metered<S> {
    inner: S,
}

/// Wraps a port's routes in [`Metered`].
#[derive(Clone, Copy, Default)]
pub struct MeteredLayer;

impl<S> tower_layer::Layer<S> for MeteredLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered { inner }
    }
}

impl<S, B> Service<http::Request<B>> for Metered<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (service, method) = crate::server::service_and_method(request.uri().path());
        let (service, method) = (service.to_string(), method.to_string());
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if !unmeasured(&service) {
                // An error is answered in the headers (trailers-only); a unary success carries its
                // status in the trailers, after a body this layer does not wait for.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32);
                let message = response
                    .headers()
                    .get("grpc-message")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                crate::telemetry::record_status(&tracing::Span::current(), code, message);
                let short = service.rsplit('.').nth(2).unwrap_or(&service).to_string();
                metrics::counter!("yeyak_rpc_requests_total",
                    "service" => short.clone(), "method" => method.clone(), "code" => code_name(code))
                .increment(1);
                metrics::histogram!("yeyak_rpc_duration_seconds",
                    "service" => short, "method" => method)
                .record(started.elapsed().as_secs_f64());
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_labelled_as_grpc_names_them() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(
            code_name(tonic::Code::FailedPrecondition),
            "FAILED_PRECONDITION"
        );
    }

    #[test]
    fn health_and_reflection_calls_are_not_measured() {
        assert!(unmeasured("grpc.health.v1.Health"));
        assert!(unmeasured("grpc.reflection.v1.ServerReflection"));
        assert!(unmeasured("grpc.reflection.v1alpha.ServerReflection"));
        assert!(!unmeasured("yeyak.reservations.v1.ReservationsService"));
    }
}
