//! partner → product → booking → confirm → the partner's notification → completion → settlement.
use uuid::Uuid;
use yeyak_e2e::{Harness, Storage, until};
use yeyak_proto::{
    catalog::events::v1::{ConfirmationMode, PaymentMode},
    notifications::{events::v1::MessageKind, v1::ListPartnerMessagesRequest},
    reservations::v1::{CompleteRequest, ConfirmRequest, GetReservationRequest, ReservationState},
    settlement::v1::ListSettlementLinesRequest,
};

use crate::support::{book, seed};

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
        let mut n = notifications.clone();
        let partner_id = seeded.partner_id.to_string();
        async move {
            let list = n
                .list_partner_messages(ListPartnerMessagesRequest { partner_id })
                .await
                .expect("list")
                .into_inner();
            (list.messages.len() >= 2).then_some(list.messages)
        }
    })
    .await;
    assert_eq!(messages[0].kind, MessageKind::ReservationRequested as i32);
    assert!(messages[0].mandatory, "the Requested message is mandatory");
    assert_eq!(messages[0].reservation_id, booked.reservation_id);
    assert_eq!(messages[1].kind, MessageKind::ReservationConfirmed as i32);

    let completed = partner_reservations
        .complete(CompleteRequest {
            request_id: Uuid::new_v4().to_string(),
            reservation_id: booked.reservation_id.clone(),
        })
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(completed.state, ReservationState::Completed as i32);

    let settlement = h.settlement(operator.clone()).await;
    let lines = until("the settlement line", || {
        let mut s = settlement.clone();
        let partner_id = seeded.partner_id.to_string();
        async move {
            let list = s
                .list_settlement_lines(ListSettlementLinesRequest { partner_id })
                .await
                .expect("list")
                .into_inner();
            (!list.lines.is_empty()).then_some(list.lines)
        }
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

    // The reservation read back is the fold of its three events.
    let read = partner_reservations
        .get_reservation(GetReservationRequest {
            reservation_id: booked.reservation_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.state, ReservationState::Completed as i32);
    assert_eq!(read.version, 3);
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
