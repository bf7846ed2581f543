//! Notifications end to end, through gRPC only: every message a partner and a customer expect
//! for a booking that is requested, confirmed and cancelled with a fee, and for another that is
//! completed and then payment-cancelled, each delivered exactly once to the provider (a real
//! HTTP server on loopback).
use std::collections::BTreeSet;

use yeyak_e2e::{Harness, OPERATOR, Storage, until};
use yeyak_proto::{
    catalog::events::v1::{ConfirmationMode, PaymentMode},
    notifications::v1::{
        DeliveryState, ListMyNotificationsRequest, ListPartnerNotificationsRequest,
    },
    reservations::v1::{CancelPaymentOnlyRequest, CancelRequest, CompleteRequest, ConfirmRequest},
};

use crate::{
    reservations::thirty_percent_within_three_days,
    support::{book, product_input, rid, seed_with},
};

/// Moves the controlled clock to the next attempt of any of these recipients' notifications that
/// failed and waits for a retry.
async fn retry_when_due(h: &Harness, partner: uuid::Uuid, customers: &[&str]) {
    let mut all = h
        .notifications(h.ops())
        .await
        .list_partner_notifications(ListPartnerNotificationsRequest {
            partner_id: partner.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().notifications)
        .unwrap_or_default();
    for c in customers {
        let mine = h
            .notifications(h.customer(c))
            .await
            .list_my_notifications(ListMyNotificationsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().notifications)
            .unwrap_or_default();
        all.extend(mine);
    }
    let next = all
        .iter()
        .filter(|n| n.state() == DeliveryState::FailedWillRetry)
        .filter_map(|n| n.next_at.as_ref().and_then(yeyak_proto::time::to_micros))
        .min();
    if let Some(at) = next
        && at > h.now_us()
    {
        h.clock.set(at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_party_hears_of_each_step_of_two_bookings_exactly_once() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let mut input = product_input(
        &h,
        ConfirmationMode::Approval,
        PaymentMode::PayAtBooking,
        6,
        30_000,
    );
    input.cancellation_policy = Some(thirty_percent_within_three_days());
    let seeded = seed_with(&h, input).await;
    let admin = h.operator(seeded.partner_id, None);
    let mut partner = h.reservations(admin.clone()).await;

    // Requested, confirmed, cancelled by the customer with the policy's fee.
    let first = book(&h, "jun", &seeded.schedule_id(), 2, &rid()).await;
    partner
        .confirm(ConfirmRequest {
            request_id: rid(),
            reservation_id: first.reservation_id.clone(),
        })
        .await
        .expect("confirm");
    let cancelled = h
        .reservations(h.customer("jun"))
        .await
        .cancel(CancelRequest {
            request_id: rid(),
            reservation_id: first.reservation_id.clone(),
            reason: "일정 변경".into(),
            ..Default::default()
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.cancellation_fee_krw, 18_000);

    // Requested, confirmed, completed, then its payment cancelled (결제만 취소).
    let second = book(&h, "mina", &seeded.schedule_id(), 1, &rid()).await;
    partner
        .confirm(ConfirmRequest {
            request_id: rid(),
            reservation_id: second.reservation_id.clone(),
        })
        .await
        .expect("confirm");
    partner
        .complete(CompleteRequest {
            request_id: rid(),
            reservation_id: second.reservation_id.clone(),
            completion_code: String::new(),
        })
        .await
        .expect("complete");
    partner
        .cancel_payment_only(CancelPaymentOnlyRequest {
            request_id: rid(),
            reservation_id: second.reservation_id.clone(),
            reason: "고객 요청".into(),
        })
        .await
        .expect("cancel payment only");

    let (a, b) = (&first.reservation_id, &second.reservation_id);
    let to_partner = |fact: &str, id: &str| format!("{fact}:{id}:operator:{OPERATOR}");
    let to_customer = |fact: &str, id: &str| format!("{fact}:{id}:customer");
    let expected: BTreeSet<String> = [
        to_partner("reservation-requested", a),
        to_customer("reservation-requested", a),
        to_partner("reservation-confirmed", a),
        to_customer("reservation-confirmed", a),
        to_partner("reservation-cancelled", a),
        to_customer("reservation-cancelled", a),
        to_partner("reservation-requested", b),
        to_customer("reservation-requested", b),
        to_partner("reservation-confirmed", b),
        to_customer("reservation-confirmed", b),
        to_customer("reservation-completed", b),
        to_partner("payment-cancelled", b),
        to_customer("payment-cancelled", b),
    ]
    .into();
    let missing_before = std::sync::Mutex::new(BTreeSet::new());
    let accepted = until("every message at the provider", || async {
        let accepted = h.provider.accepted();
        let keys: BTreeSet<String> = accepted.iter().map(|r| r.idempotency_key.clone()).collect();
        if expected.is_subset(&keys) {
            return Some(accepted);
        }
        // What a timeout leaves missing, in the test's output.
        let missing: BTreeSet<String> = expected.difference(&keys).cloned().collect();
        {
            let mut before = missing_before.lock().expect("missing");
            if *before != missing {
                eprintln!("still missing at the provider: {missing:?}");
                *before = missing;
            }
        }
        // A send that failed in a way worth retrying (a loaded machine) waits for its back-off
        // on the business clock, which stands still here: move it there.
        retry_when_due(&h, seeded.partner_id, &["jun", "mina"]).await;
        None
    })
    .await;
    let at_once: Vec<_> = accepted
        .iter()
        .filter(|r| expected.contains(&r.idempotency_key))
        .collect();
    assert_eq!(at_once.len(), expected.len(), "each message once");
    assert_eq!(
        h.provider.requests(),
        h.provider.accepted().len(),
        "no message was even sent twice"
    );
    let fee = at_once
        .iter()
        .find(|r| r.idempotency_key == to_customer("reservation-cancelled", a))
        .unwrap();
    assert!(
        fee.text.contains("취소수수료: 18,000원") && fee.text.contains("환불금액: 42,000원"),
        "{}",
        fee.text
    );
    let review = at_once
        .iter()
        .find(|r| r.idempotency_key == to_customer("reservation-completed", b))
        .unwrap();
    assert!(
        review.text.contains("리뷰"),
        "an invitation to review: {}",
        review.text
    );

    // The same through the notifications API, with each message's delivery state.
    let mut notifications = h.notifications(admin).await;
    let partners = notifications
        .list_partner_notifications(ListPartnerNotificationsRequest {
            partner_id: seeded.partner_id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("the partner's")
        .into_inner()
        .notifications;
    let sent: BTreeSet<_> = partners
        .iter()
        .filter(|n| n.state() == DeliveryState::Sent)
        .map(|n| n.idempotency_key.clone())
        .collect();
    for key in expected.iter().filter(|k| k.contains(":operator:")) {
        assert!(sent.contains(key), "{key} is listed as sent");
    }
    let mine = h
        .notifications(h.customer("jun"))
        .await
        .list_my_notifications(ListMyNotificationsRequest::default())
        .await
        .expect("jun's")
        .into_inner()
        .notifications;
    assert!(
        mine.iter().all(|n| n.reservation_id == *a),
        "jun sees only jun's"
    );
    assert!(mine.iter().any(|n| n.state() == DeliveryState::Sent));
    h.stop().await;
}
