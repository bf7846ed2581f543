//! The reservations consumer: each completion, and each refund after one, is settled once on
//! its partner's ledger.
mod support;

use yeyak_proto::reservations::events::v1::{
    PaymentMode, ReservationCancelled, ReservationCompleted, ReservationPaymentCancelled,
};
use yeyak_settlement::app::streams;
use yeyak_transport::{EventHandler, HandlerError};

use support::*;

#[tokio::test]
async fn a_redelivered_completion_is_settled_once() {
    let service = Service::new().await;
    let done = completed(PARTNER, "r-1", 60_000);
    service.deliver(&done).await;
    service.deliver(&done).await;
    let lines = service.lines(&ops(), PARTNER).await.expect("listed");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            lines[0].gross_krw,
            lines[0].commission_krw,
            lines[0].net_krw,
            lines[0].commission_bps
        ),
        (60_000, 1_800, 58_200, BPS)
    );
    let stored = service
        .log
        .read_stream(&streams::ledger(PARTNER), 1, 10)
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].metadata.causation_id, Some(done.event_id));
}

#[tokio::test]
async fn money_given_back_after_completion_is_reversed_and_a_cancel_before_is_not() {
    let service = Service::new().await;
    service.deliver(&completed(PARTNER, "r-1", 60_000)).await;
    let before = ReservationCancelled {
        reservation_id: "r-2".into(),
        partner_id: PARTNER.to_string(),
        refunded_krw: 30_000,
        payment_mode: PaymentMode::PayAtBooking as i32,
        after_completion: false,
        ..Default::default()
    };
    service.deliver(&recorded("reservation-r-2", &before)).await;
    let payment_only = ReservationPaymentCancelled {
        reservation_id: "r-1".into(),
        partner_id: PARTNER.to_string(),
        refunded_krw: 60_000,
        payment_mode: PaymentMode::PayAtBooking as i32,
        ..Default::default()
    };
    let refund = recorded("reservation-r-1", &payment_only);
    service.deliver(&refund).await;
    service.deliver(&refund).await;
    let lines = service.lines(&ops(), PARTNER).await.expect("listed");
    let settled: Vec<_> = lines
        .iter()
        .map(|l| (l.reservation_id.as_str(), l.gross_krw, l.commission_krw))
        .collect();
    assert_eq!(
        settled,
        vec![("r-1", 60_000, 1_800), ("r-1", -60_000, -1_800)]
    );
}

#[tokio::test]
async fn a_fact_naming_no_partner_is_set_aside() {
    let service = Service::new().await;
    let nameless = recorded("reservation-r-1", &ReservationCompleted::default());
    let outcome = service.ledger.handle(&nameless).await;
    assert!(
        matches!(outcome, Err(HandlerError::Poison(_))),
        "{outcome:?}"
    );
}
