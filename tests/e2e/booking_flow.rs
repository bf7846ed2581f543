//! partner → product → booking → confirm → the partner's notification → completion →
//! settlement → the payout on the next business day → 결제만 취소 → the balance deducted.
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
    settlement::{
        events::v1::EntryKind,
        v1::{
            Balance, GetBalanceRequest, GetPayoutBatchRequest, ListLedgerEntriesRequest,
            ListPayoutsRequest, Payout, PayoutState, ReconcileRequest, Reconciliation,
            settlement_service_client::SettlementServiceClient,
        },
    },
};
use yeyak_settlement::domain::payout_day;

use crate::support::{book, reservation_when, seed};

/// `None` while the service answers that it has not learned the partner yet (or has learned the
/// owner's invitation but not yet its acceptance); any other failure fails the test.
fn not_known_yet<T>(answer: Result<T, tonic::Status>) -> Option<T> {
    match answer {
        Err(e)
            if ["PARTNER_NOT_KNOWN_YET", "NOT_AN_ACTIVE_OPERATOR"]
                .contains(&reason(&e).as_str()) =>
        {
            None
        }
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
            ..Default::default()
        })
        .await;
    // Until the service has learned the partner's operators from the catalog, it says so.
    let list = not_known_yet(list)?.into_inner();
    ready(&list.messages).then_some(list.messages)
}

/// The partner's balance, once `ready` holds for it.
async fn balance_when(
    client: &SettlementServiceClient<Authed>,
    partner: Uuid,
    ready: impl Fn(&Balance) -> bool,
) -> Option<Balance> {
    let balance = client
        .clone()
        .get_balance(GetBalanceRequest {
            partner_id: partner.to_string(),
        })
        .await;
    let balance = not_known_yet(balance)?.into_inner();
    ready(&balance).then_some(balance)
}

/// The partner's payout of `day`, once the scheduler's batch (from 10:00 KST) has instructed it
/// and the provider answered, as the partner lists it.
async fn paid_out(
    settlement: &SettlementServiceClient<Authed>,
    day: jiff::civil::Date,
    partner: Uuid,
) -> Payout {
    until("the day's batch to pay the partner", || {
        let mut s = settlement.clone();
        async move {
            let list = s
                .list_payouts(ListPayoutsRequest {
                    partner_id: partner.to_string(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            list.payouts.into_iter().find(|p| {
                p.day == day.to_string()
                    && ![
                        PayoutState::Scheduled as i32,
                        PayoutState::Instructed as i32,
                    ]
                    .contains(&p.state)
            })
        }
    })
    .await
}

/// Reconciles every partner from the start of the flow's month to the day after `to`.
async fn reconciled(h: &Harness, to: jiff::civil::Date) -> Reconciliation {
    h.settlement(h.ops())
        .await
        .reconcile(ReconcileRequest {
            partner_id: String::new(),
            from: "2026-01-01".into(),
            to: to.tomorrow().unwrap().to_string(),
        })
        .await
        .expect("reconciled")
        .into_inner()
        .total
        .expect("a total")
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

    // Settlement is the Admin's (granted every place): the line is payable the next business
    // day less the commission of its method (Kakao Pay card, 3.3 %).
    let settlement = h.settlement(h.operator(seeded.partner_id, None)).await;
    let completed_on = payout_day::day_of(h.now_us());
    let payday = payout_day::payable_on(completed_on);
    until("the completed line to be payable", || {
        balance_when(&settlement, seeded.partner_id, |b| b.payable_krw == 58_020)
    })
    .await;
    // The ledger's entries of the payout day, per reservation line (read model: waited for).
    let entries = until("the payout day's entries", || {
        let mut s = settlement.clone();
        let partner_id = seeded.partner_id.to_string();
        async move {
            let entries = s
                .list_ledger_entries(ListLedgerEntriesRequest {
                    partner_id,
                    payable_on: payday.to_string(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .entries;
            (entries.len() == 2).then_some(entries)
        }
    })
    .await;
    let mut kinds: Vec<_> = entries
        .iter()
        .map(|e| (e.kind, e.line_number, e.amount_krw))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::Completion as i32, 1, 60_000),
            (EntryKind::Commission as i32, 1, -1_980)
        ]
    );
    let in_process = h.in_process();
    if in_process {
        // The day's batch runs by itself from 10:00 KST on the payout day: the partner is paid.
        h.clock.set(payout_day::batch_opens_at(payday));
        let payout = paid_out(&settlement, payday, seeded.partner_id).await;
        assert_eq!(
            (payout.state, payout.amount_krw, payout.day.as_str()),
            (
                PayoutState::Transferred as i32,
                58_020,
                payday.to_string().as_str()
            )
        );
        assert!(reconciled(h, payday).await.holds);
    }

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
    // The reversal gives the commission back: −60,000 + 1,980.
    let expected_payable = if in_process { -58_020 } else { 0 };
    until("the reversal on the ledger", || {
        balance_when(&settlement, seeded.partner_id, |b| {
            b.payable_krw == expected_payable
        })
    })
    .await;
    if in_process {
        // Nothing to net against on the next payout day: 충전금 차감, a negative balance.
        let next = payout_day::payable_on(payout_day::day_of(h.now_us()));
        h.clock.set(payout_day::batch_opens_at(next));
        until("the refund deducted from the balance", || {
            balance_when(&settlement, seeded.partner_id, |b| b.balance_krw == -58_020)
        })
        .await;
        // Operations see the day's batch: run, with nothing paid out.
        let ops = h.settlement(h.ops()).await;
        let batch = until("the day's batch to be recorded", || {
            let mut ops = ops.clone();
            async move {
                ops.get_payout_batch(GetPayoutBatchRequest {
                    day: next.to_string(),
                })
                .await
                .ok()
                .map(|b| b.into_inner())
                .filter(|b| b.run)
            }
        })
        .await;
        assert!(batch.payouts.is_empty(), "{batch:?}");
        let total = reconciled(h, next).await;
        assert!(total.holds, "{total:?}");
        assert_eq!(total.transferred_krw, 58_020);
    }
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
