//! `GET /metrics`: what an operator scrapes, after a booking and a refused one — every RPC by
//! method and code with its latency, the appends, the bookings by outcome, the consumers' lag
//! and progress; the probes themselves not counted.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use yeyak_e2e::{Harness, Storage, until};
use yeyak_proto::{
    catalog::events::v1::{ConfirmationMode, PaymentMode},
    reservations::v1::BookRequest,
};

use crate::support::{book, rid, seed};

/// The metrics page of `addr`, over plain HTTP/1.1.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: yeyak\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).await.expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("content-type: text/plain"),
        "{head}"
    );
    body.to_string()
}

/// The value of the series named `name` whose labels include every one of `labels`.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_shows_rpcs_appends_bookings_and_consumers() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let metrics = h.system.as_ref().expect("in process").metrics;
    let seeded = seed(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        5,
        10_000,
    )
    .await;
    book(&h, "customer-metrics", &seeded.schedule_id(), 1, &rid()).await;
    let mut reservations = h.reservations(h.customer("customer-metrics")).await;
    let refused = reservations
        .book(BookRequest {
            request_id: rid(),
            reservation_schedule_id: seeded.schedule_id(),
            quantity: 0,
            ..Default::default()
        })
        .await;
    assert!(refused.is_err());
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        yeyak_e2e::channel(h.addresses.reservations).await,
    );
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("serving");

    let page = until(
        "the consumers' progress on the metrics page",
        || async move {
            let page = scrape(metrics).await;
            value(&page, "yeyak_consumer_events_total", &[]).map(|_| page)
        },
    )
    .await;
    let booked = [("service", "reservations"), ("method", "Book")];
    assert!(
        value(
            &page,
            "yeyak_rpc_requests_total",
            &[booked[0], booked[1], ("code", "OK")]
        )
        .is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert!(
        value(
            &page,
            "yeyak_rpc_requests_total",
            &[booked[0], booked[1], ("code", "INVALID_ARGUMENT")]
        )
        .is_some_and(|n| n >= 1.0),
        "errors are counted by code"
    );
    assert!(
        value(
            &page,
            "yeyak_rpc_duration_seconds_bucket",
            &[booked[0], booked[1], ("le", "+Inf")]
        )
        .is_some_and(|n| n >= 2.0),
        "every call's latency is in the histogram"
    );
    assert!(
        !page.contains("method=\"Check\""),
        "health checks are not measured"
    );
    assert!(
        value(
            &page,
            "yeyak_appends_total",
            &[("backend", "sqlite"), ("outcome", "committed")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(value(&page, "yeyak_bookings_total", &[("outcome", "ok")]).is_some_and(|n| n >= 1.0));
    assert!(value(&page, "yeyak_group_commit_batch_size_count", &[]).is_some_and(|n| n >= 1.0));
    assert!(
        value(&page, "yeyak_consumer_lag", &[("topic", "reservations")]).is_some(),
        "each consumer's lag, by source"
    );
    h.stop().await;
}
