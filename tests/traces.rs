//! Traces follow the OpenTelemetry conventions, end to end, collected by an in-memory exporter:
//! the catalog and the reservations in this process, each on its own log, talking over a real
//! Kafka-API broker. One call makes one tree:
//!
//!   `yeyak.catalog.v1.CatalogService/RegisterPartner` (server, `rpc.*`)
//!     └ `append <Command>` (client, `db.*`)
//!         └ `send yeyak.catalog.v1` (producer, `messaging.*`; the record's `traceparent`)
//!             └ `process yeyak.catalog.v1` (consumer, in the reservations)
//!
//! A failing call carries its code and, for a server error, an error status; health checks are
//! not traced. One test per file: the exporter is the process's global subscriber.
use std::sync::Arc;

use opentelemetry::{
    KeyValue,
    trace::{SpanKind, Status, TracerProvider as _},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;
use yeyak_e2e::{Bearer, TEST_SECRET, bearer, channel};
use yeyak_kafka::{KafkaConfig, testing::Broker};
use yeyak_kit::{
    CancellationToken,
    auth::{Authenticator, Claims, Role},
    clock,
};
use yeyak_proto::{
    catalog::v1::{RegisterPartnerRequest, catalog_service_client::CatalogServiceClient},
    settlement::v1::{GetBalanceRequest, settlement_service_client::SettlementServiceClient},
};

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> String {
    attribute(span, key)
        .map(|v| v.as_str().to_string())
        .unwrap_or_default()
}

fn child_of<'a>(spans: &'a [SpanData], parent: &SpanData, kind: SpanKind) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| {
            s.parent_span_id == parent.span_context.span_id()
                && s.span_context.trace_id() == parent.span_context.trace_id()
                && s.span_kind == kind
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_call_is_one_tree_grpc_append_relay_kafka_consumer_following_the_conventions() {
    let Some(broker) = Broker::start_in_memory().await else {
        return;
    };
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("yeyak-test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let stop = CancellationToken::new();
    let auth = Arc::new(Authenticator::new(TEST_SECRET).unwrap());
    let config = KafkaConfig::new(broker.bootstrap());
    let catalog_log =
        yeyak_eventlog::connect(&yeyak_eventlog::testing::fresh_sqlite_url("trace-cat"))
            .await
            .unwrap();
    let reservations_log =
        yeyak_eventlog::connect(&yeyak_eventlog::testing::fresh_sqlite_url("trace-res"))
            .await
            .unwrap();
    let (catalog_transport, catalog_relay) = yeyak_kafka::start(
        config.clone(),
        catalog_log.clone(),
        yeyak_catalog::SOURCE,
        &[
            yeyak_catalog::RESERVATIONS_SOURCE,
            yeyak_catalog::SETTLEMENT_SOURCE,
        ],
        stop.clone(),
    )
    .await
    .expect("catalog on Kafka");
    let (reservations_transport, reservations_relay) = yeyak_kafka::start(
        config,
        reservations_log.clone(),
        yeyak_reservations::SOURCE,
        &[yeyak_reservations::CATALOG_SOURCE],
        stop.clone(),
    )
    .await
    .expect("reservations on Kafka");
    let catalog_listener = yeyak_kit::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reservations_listener = yeyak_kit::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let catalog_addr = catalog_listener.local_addr().unwrap();
    let catalog = tokio::spawn(yeyak_catalog::serve(
        catalog_log,
        catalog_transport,
        auth.clone(),
        catalog_listener,
        clock::system(),
        stop.clone(),
    ));
    let reservations = tokio::spawn(yeyak_reservations::serve(
        reservations_log,
        reservations_transport,
        auth.clone(),
        reservations_listener,
        clock::system(),
        stop.clone(),
    ));

    let ops: Bearer = bearer(
        &auth
            .issue(&Claims::new("ops-1", Role::PlatformOps, 600))
            .unwrap(),
    );
    let mut client = CatalogServiceClient::with_interceptor(channel(catalog_addr).await, ops);
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(channel(catalog_addr).await);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health");
    let registered = RegisterPartnerRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        name: "서울 테이블".into(),
        business_registration_number: "123-45-67891".into(),
        channel_id: "_seoultable".into(),
        channel_business_verified: true,
        industry: "restaurant".into(),
        owner_operator_id: "operator-1".into(),
        ..Default::default()
    };
    client
        .register_partner(registered.clone())
        .await
        .expect("registered");
    let refused = client
        .register_partner(RegisterPartnerRequest {
            name: String::new(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..registered
        })
        .await
        .expect_err("a partner without a name is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let unimplemented = SettlementServiceClient::new(channel(catalog_addr).await)
        .get_balance(GetBalanceRequest::default())
        .await
        .expect_err("the catalog does not serve the settlement");
    assert_eq!(unimplemented.code(), tonic::Code::Unimplemented);

    // Wait for the consumer's span, the tree's last.
    let spans = yeyak_e2e::until("the reservations to process the partner's event", || {
        let exporter = exporter.clone();
        async move {
            let spans = exporter.get_finished_spans().unwrap();
            spans
                .iter()
                .any(|s| s.span_kind == SpanKind::Consumer && s.name == "process yeyak.catalog.v1")
                .then_some(spans)
        }
    })
    .await;

    let calls: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let names: Vec<&str> = calls.iter().map(|s| s.name.as_ref()).collect();
    assert!(
        !calls
            .iter()
            .any(|s| text(s, "rpc.service").starts_with("grpc.")),
        "health or reflection was traced: {names:?}"
    );
    let call = calls
        .iter()
        .find(|s| {
            s.name == "yeyak.catalog.v1.CatalogService/RegisterPartner"
                && attribute(s, "rpc.grpc.status_code").is_some_and(|c| c.as_str() == "0")
        })
        .unwrap_or_else(|| panic!("no successful RegisterPartner server span among {names:?}"));
    assert_eq!(text(call, "rpc.system"), "grpc");
    assert_eq!(text(call, "rpc.service"), "yeyak.catalog.v1.CatalogService");
    assert_eq!(text(call, "rpc.method"), "RegisterPartner");
    assert_eq!(call.status, Status::Unset);

    let append = child_of(&spans, call, SpanKind::Client);
    let append = append
        .iter()
        .find(|s| s.name.starts_with("append "))
        .unwrap_or_else(|| panic!("no append span below the call: {append:?}"));
    assert_eq!(text(append, "db.system.name"), "sqlite");
    assert_eq!(text(append, "db.operation.name"), "append");

    let sends = child_of(&spans, append, SpanKind::Producer);
    let send = sends
        .iter()
        .find(|s| s.name == "send yeyak.catalog.v1")
        .unwrap_or_else(|| panic!("no producer span below the append: {sends:?}"));
    assert_eq!(text(send, "messaging.system"), "kafka");
    assert_eq!(text(send, "messaging.operation.type"), "send");
    assert_eq!(text(send, "messaging.destination.name"), "yeyak.catalog.v1");
    assert!(text(send, "messaging.kafka.message.key").starts_with("partner-"));

    let processed = child_of(&spans, send, SpanKind::Consumer);
    let process = processed
        .iter()
        .find(|s| s.name == "process yeyak.catalog.v1")
        .unwrap_or_else(|| panic!("no consumer span below the producer: {processed:?}"));
    assert_eq!(text(process, "messaging.system"), "kafka");
    assert_eq!(text(process, "messaging.operation.type"), "process");
    assert!(!text(process, "messaging.consumer.group.name").is_empty());
    assert_eq!(
        text(process, "messaging.message.id"),
        text(send, "messaging.message.id"),
        "the consumer processed the record the producer sent"
    );

    let refused = calls
        .iter()
        .find(|s| attribute(s, "rpc.grpc.status_code").is_some_and(|c| c.as_str() == "3"))
        .unwrap_or_else(|| panic!("no INVALID_ARGUMENT span among {names:?}"));
    assert_eq!(
        refused.status,
        Status::Unset,
        "a refused request is the caller's error, not the server's"
    );
    let failed = calls
        .iter()
        .find(|s| s.name == "yeyak.settlement.v1.SettlementService/GetBalance")
        .unwrap_or_else(|| panic!("no span of the unserved call among {names:?}"));
    assert_eq!(text(failed, "rpc.grpc.status_code"), "12");
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "UNIMPLEMENTED is the server's error: {:?}",
        failed.status
    );

    stop.cancel();
    catalog.await.unwrap().unwrap();
    reservations.await.unwrap().unwrap();
    catalog_relay.await.unwrap().unwrap();
    reservations_relay.await.unwrap().unwrap();
}
