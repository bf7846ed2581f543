//! partner → product → booking → confirm → the partner's notification → completion → settlement.
use uuid::Uuid;
use yeyak_e2e::{Authed, Harness, Storage, reason, until};
use yeyak_proto::{
    catalog::events::v1::{ConfirmationMode, PaymentMode},
    notifications::{
        events::v1::MessageKind,
        v1::{
            ListPartnerMessagesRequest, PartnerMessage,
            notifications_service_client::NotificationsServiceClient,
        },
    },
    reservations::v1::{
        CancelPaymentOnlyRequest, CompleteRequest, ConfirmRequest, GetReservationRequest,
        ReservationState, SetCompletionCodeRequest,
    },
    settlement::v1::{
        ListSettlementLinesRequest, SettlementLine,
        settlement_service_client::SettlementServiceClient,
    },
};

use crate::support::{book, reservation_when, seed};

/// `None` while the service answers that it has not learned the partner yet; any other failure
/// fails the test.
fn not_known_yet<T>(answer: Result<T, tonic::Status>) -> Option<T> {
    match answer {
        Err(e) if reason(&e) == "PARTNER_NOT_KNOWN_YET" => None,
        other => Some(other.expect("answered")),
    }
}

/// The partner's messages, once `ready` holds for them.
async fn messages_when(
    client: &NotificationsServiceClient<Authed>,
    partner: Uuid,
    ready: impl Fn(&[PartnerMessage]) -> bool,
) -> Option<Vec<PartnerMessage>> {
    let list = client
        .clone()
        .list_partner_messages(ListPartnerMessagesRequest {
            partner_id: partner.to_string(),
        })
        .await;
    // Until the service has learned the partner's operators from the catalog, it says so.
    let list = not_known_yet(list)?.into_inner();
    ready(&list.messages).then_some(list.messages)
}

/// The partner's settlement lines, once `ready` holds for them.
async fn lines_when(
    client: &SettlementServiceClient<Authed>,
    partner: Uuid,
    ready: impl Fn(&[SettlementLine]) -> bool,
) -> Option<Vec<SettlementLine>> {
    let list = client
        .clone()
        .list_settlement_lines(ListSettlementLinesRequest {
            partner_id: partner.to_string(),
        })
        .await;
    let list = not_known_yet(list)?.into_inner();
    ready(&list.lines).then_some(list.lines)
}

pub async fn one_reservation_flows_through_all_four_services(h: &Harness) {
    let seeded = seed(
        h,
        ConfirmationMode::Approval,
        PaymentMode::PayAtBooking,
        5,
        30_000,
    )
    .await;
    let request_id = Uuid::new_v4().to_string();
    let booked = book(h, "customer-7", &seeded.schedule_id(), 2, &request_id).await;
    assert_eq!(
        booked.state,
        ReservationState::Requested as i32,
        "Approval mode books to Requested"
    );
    assert_eq!(booked.paid_krw, 60_000);
    assert_eq!(booked.customer_id, "customer-7");

    let operator = h.operator(seeded.partner_id, Some(vec![seeded.place_id]));
    let mut partner_reservations = h.reservations(operator.clone()).await;
    let confirmed = partner_reservations
        .confirm(ConfirmRequest {
            request_id: Uuid::new_v4().to_string(),
            reservation_id: booked.reservation_id.clone(),
        })
        .await
        .expect("confirm")
        .into_inner();
    assert_eq!(confirmed.state, ReservationState::Confirmed as i32);

    let notifications = h.notifications(operator.clone()).await;
    let messages = until("the partner's messages", || {
        messages_when(&notifications, seeded.partner_id, |m| m.len() >= 2)
    })
    .await;
    assert_eq!(messages[0].kind, MessageKind::ReservationRequested as i32);
    assert!(messages[0].mandatory, "the Requested message is mandatory");
    assert_eq!(messages[0].reservation_id, booked.reservation_id);
    assert_eq!(messages[1].kind, MessageKind::ReservationConfirmed as i32);

    // The partner's completion code guards 이용완료.
    h.reservations(h.operator(seeded.partner_id, None))
        .await
        .set_completion_code(SetCompletionCodeRequest {
            request_id: Uuid::new_v4().to_string(),
            partner_id: seeded.partner_id.to_string(),
            code: "4821".into(),
        })
        .await
        .expect("set the completion code");
    let complete = |code: &str| CompleteRequest {
        request_id: Uuid::new_v4().to_string(),
        reservation_id: booked.reservation_id.clone(),
        completion_code: code.into(),
    };
    let wrong = partner_reservations
        .complete(complete("1111"))
        .await
        .expect_err("a wrong code");
    assert_eq!(reason(&wrong), "COMPLETION_CODE_MISMATCH");
    let completed = partner_reservations
        .complete(complete("4821"))
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(completed.state, ReservationState::Completed as i32);

    // Settlement is the Admin's (granted every place).
    let settlement = h.settlement(h.operator(seeded.partner_id, None)).await;
    let lines = until("the settlement line", || {
        lines_when(&settlement, seeded.partner_id, |l| !l.is_empty())
    })
    .await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].reservation_id, booked.reservation_id);
    assert_eq!(
        (
            lines[0].gross_krw,
            lines[0].commission_krw,
            lines[0].net_krw
        ),
        (60_000, 1_800, 58_200)
    );

    // 결제만 취소: the reservation stays Completed; settlement reverses, the partner is told.
    let refunded = partner_reservations
        .cancel_payment_only(CancelPaymentOnlyRequest {
            request_id: Uuid::new_v4().to_string(),
            reservation_id: booked.reservation_id.clone(),
            reason: "고객 요청".into(),
        })
        .await
        .expect("cancel payment only")
        .into_inner();
    assert_eq!(refunded.state, ReservationState::Completed as i32);
    assert!(refunded.payment_cancelled);
    assert_eq!(refunded.refunded_krw, 60_000);
    let lines = until("the reversing settlement line", || {
        lines_when(&settlement, seeded.partner_id, |l| l.len() == 2)
    })
    .await;
    let reversal = lines
        .iter()
        .find(|l| l.gross_krw < 0)
        .expect("a reversing line");
    assert_eq!(
        (
            reversal.gross_krw,
            reversal.commission_krw,
            reversal.net_krw
        ),
        (-60_000, -1_800, -58_200)
    );
    until("the payment-cancelled message", || {
        messages_when(&notifications, seeded.partner_id, |m| {
            m.iter()
                .any(|m| m.kind == MessageKind::PaymentCancelled as i32)
        })
    })
    .await;

    // The payment, separate from the reservation: captured by card, refunded by the scheduler.
    let payment = until("the refund through the payment gateway", || {
        reservation_when(&partner_reservations, &booked.reservation_id, |r| {
            r.payment.as_ref().is_some_and(|p| p.refunded_krw == 60_000)
        })
    })
    .await
    .payment
    .expect("a payment");
    assert_eq!(
        (payment.captured_krw, payment.refund_pending_krw),
        (60_000, 0)
    );

    // The reservation read back is the fold of its four events.
    let read = partner_reservations
        .get_reservation(GetReservationRequest {
            reservation_id: booked.reservation_id.clone(),
            as_of: None,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.state, ReservationState::Completed as i32);
    assert_eq!(read.version, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_flow_on_the_embedded_default() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("embedded always starts");
    one_reservation_flows_through_all_four_services(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_flow_with_every_service_on_postgres() {
    let Some(h) = Harness::start(Storage::Postgres).await else {
        return;
    };
    one_reservation_flows_through_all_four_services(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_flow_with_every_service_as_its_own_process_over_kafka() {
    let Some(h) = Harness::distributed(&[]).await else {
        return;
    };
    one_reservation_flows_through_all_four_services(&h).await;
    h.stop().await;
}
