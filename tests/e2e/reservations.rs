//! The reservation lifecycle end to end: an approval request nobody answers expires by itself,
//! a partner rejects, a customer cancel pays the snapshot policy's tiered fee, a reservation of
//! two prices is cancelled by line.
use tonic::Code;
use yeyak_e2e::{Harness, Storage, until};
use yeyak_proto::{
    catalog::events::v1::{
        CancellationDeadline, CancellationKind, CancellationPolicy, ConfirmationMode, FeeTier,
        PaymentMode, cancellation_deadline,
    },
    catalog::v1::PriceInput,
    reservations::v1::{
        CancelRequest, GetDashboardRequest, GetReservationHistoryRequest, GetReservationRequest,
        RejectRequest, ReservationState, SetDefaultRejectTextRequest,
    },
    reservations::{
        events::v1::PaymentMethod,
        v1::{BookLine, BookRequest},
    },
};

use crate::support::{
    book, book_request, product_input, refused, reservation_when, rid, seed_with,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_and_a_partner_rejects_with_a_reason() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    // A slot starting in two hours: an unanswered request expires at the usage start.
    let mut input = product_input(
        &h,
        ConfirmationMode::Approval,
        PaymentMode::PayAtBooking,
        4,
        20_000,
    );
    let soon = h.now_us() + 2 * 3_600_000_000;
    input.schedules[0].starts_at = Some(yeyak_proto::time::from_micros(soon));
    let seeded = seed_with(&h, input).await;
    let unit = seeded.schedule_id();
    let waiting = book(&h, "hana", &unit, 2, &rid()).await;
    let rejected = book(&h, "hana", &unit, 1, &rid()).await;
    assert_eq!(waiting.state, ReservationState::Requested as i32);

    let operator = h.operator(seeded.partner_id, None);
    let mut partner = h.reservations(operator).await;
    let answer = partner
        .reject(RejectRequest {
            request_id: rid(),
            reservation_id: rejected.reservation_id.clone(),
            reason: "그날은 휴무입니다".into(),
        })
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(answer.state, ReservationState::Rejected as i32);
    assert_eq!(
        answer.refunded_krw, 20_000,
        "a rejection refunds the payment"
    );

    // Without a reason, the partner's default reject text is used; without one, refused.
    let quiet = book(&h, "hana", &unit, 1, &rid()).await;
    let reject_quietly = RejectRequest {
        request_id: rid(),
        reservation_id: quiet.reservation_id.clone(),
        reason: String::new(),
    };
    refused(
        partner.reject(reject_quietly.clone()).await,
        Code::InvalidArgument,
        "REASON_REQUIRED",
    );
    partner
        .set_default_reject_text(SetDefaultRejectTextRequest {
            request_id: rid(),
            partner_id: seeded.partner_id.to_string(),
            text: "죄송합니다. 예약이 마감되었습니다.".into(),
        })
        .await
        .expect("default reject text");
    let quietly = partner
        .reject(RejectRequest {
            request_id: rid(),
            ..reject_quietly
        })
        .await
        .expect("rejected with the default text")
        .into_inner();
    assert_eq!(quietly.state, ReservationState::Rejected as i32);

    // Its history, and its state as it was before the rejection.
    let history = partner
        .get_reservation_history(GetReservationHistoryRequest {
            reservation_id: rejected.reservation_id.clone(),
        })
        .await
        .expect("history")
        .into_inner();
    let types: Vec<&str> = history
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "yeyak.reservations.events.v1.ReservationBooked",
            "yeyak.reservations.events.v1.ReservationRejected"
        ]
    );
    let then = partner
        .get_reservation(GetReservationRequest {
            reservation_id: rejected.reservation_id.clone(),
            as_of: history.events[0].recorded_at,
        })
        .await
        .expect("as of the booking")
        .into_inner();
    assert_eq!(then.state, ReservationState::Requested as i32);

    // 예약현황: the request waiting for an answer is among the latest Requested.
    until("the dashboard to list the request", || {
        let mut p = partner.clone();
        let partner_id = seeded.partner_id.to_string();
        let waiting = waiting.reservation_id.clone();
        async move {
            let d = p
                .get_dashboard(GetDashboardRequest {
                    partner_id,
                    place_id: String::new(),
                })
                .await
                .expect("dashboard")
                .into_inner();
            d.latest_requested
                .iter()
                .any(|r| r.reservation_id == waiting)
                .then_some(())
        }
    })
    .await;

    // The business clock reaches the usage start: the scheduler wakes and expires the request.
    h.clock.set(soon);
    let customer = h.reservations(h.customer("hana")).await;
    let expired = until("the request to expire at the usage start", || {
        reservation_when(&customer, &waiting.reservation_id, |r| {
            r.state == ReservationState::Expired as i32
        })
    })
    .await;
    assert_eq!(expired.refunded_krw, 40_000, "expiry refunds the payment");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancel_pays_the_tiered_fee_of_the_policy_at_booking() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let mut input = product_input(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        4,
        30_000,
    );
    input.cancellation_policy = Some(thirty_percent_within_three_days());
    let seeded = seed_with(&h, input).await;
    let booked = book(&h, "jun", &seeded.schedule_id(), 2, &rid()).await;
    assert_eq!(booked.paid_krw, 60_000);
    assert_eq!(
        booked.cancellation_policy.as_ref().map(|p| p.tiers.len()),
        Some(1),
        "the reservation carries its policy"
    );
    let mut jun = h.reservations(h.customer("jun")).await;
    refused(
        jun.cancel(CancelRequest {
            request_id: rid(),
            reservation_id: booked.reservation_id.clone(),
            adjustment: Some(yeyak_proto::reservations::v1::cancel_request::Adjustment::FeeBps(0)),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "PARTNER_ONLY",
    );
    let cancelled = jun
        .cancel(CancelRequest {
            request_id: rid(),
            reservation_id: booked.reservation_id.clone(),
            reason: "일정 변경".into(),
            ..Default::default()
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.state, ReservationState::Cancelled as i32);
    assert_eq!(cancelled.cancellation_fee_krw, 18_000);
    assert_eq!(cancelled.refunded_krw, 42_000, "refund = paid − fee");
    assert!(!cancelled.ex_officio);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_of_two_prices_is_cancelled_by_line() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let mut input = product_input(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        4,
        30_000,
    );
    input.prices.push(PriceInput {
        name: "아동".into(),
        amount_krw: 10_000,
        payment_mode: PaymentMode::PayAtBooking as i32,
        ..Default::default()
    });
    input.cancellation_policy = Some(thirty_percent_within_three_days());
    let seeded = seed_with(&h, input).await;
    let unit_of = |price: i64| {
        seeded
            .product
            .reservation_schedules
            .iter()
            .find(|u| u.price_krw == price)
            .expect("a unit per price")
            .reservation_schedule_id
            .clone()
    };
    let (adult, child) = (unit_of(30_000), unit_of(10_000));
    let booked = book_request(
        &h,
        "mina",
        BookRequest {
            request_id: rid(),
            lines: vec![
                BookLine {
                    reservation_schedule_id: adult.clone(),
                    quantity: 2,
                },
                BookLine {
                    reservation_schedule_id: child.clone(),
                    quantity: 1,
                },
            ],
            payment_method: PaymentMethod::KakaoPayCard as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!((booked.quantity, booked.paid_krw), (3, 70_000));
    assert_eq!(booked.lines.len(), 2);
    let mut mina = h.reservations(h.customer("mina")).await;
    refused(
        mina.book(BookRequest {
            request_id: rid(),
            reservation_schedule_id: adult.clone(),
            quantity: 1,
            lines: vec![BookLine {
                reservation_schedule_id: child.clone(),
                quantity: 1,
            }],
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "EXCLUSIVE",
    );
    let partial = mina
        .cancel(CancelRequest {
            request_id: rid(),
            reservation_id: booked.reservation_id.clone(),
            reason: "아이가 못 가요".into(),
            line_numbers: vec![2],
            ..Default::default()
        })
        .await
        .expect("partial cancel")
        .into_inner();
    assert_eq!(partial.state, ReservationState::Confirmed as i32);
    assert_eq!(partial.quantity, 2, "the adults stay");
    assert!(partial.lines[1].cancelled && !partial.lines[0].cancelled);
    assert_eq!(partial.refunded_krw, 7_000, "10 000 less the 30 % tier");
    refused(
        mina.cancel(CancelRequest {
            request_id: rid(),
            reservation_id: booked.reservation_id.clone(),
            line_numbers: vec![2],
            ..Default::default()
        })
        .await,
        Code::FailedPrecondition,
        "LINE_ALREADY_CANCELLED",
    );
    h.stop().await;
}

/// Fee tiers: 30 % within three days of use (the seeded slot is about a day away); cancellable
/// until an hour before.
pub fn thirty_percent_within_three_days() -> CancellationPolicy {
    CancellationPolicy {
        kind: CancellationKind::Tiered as i32,
        deadline: Some(CancellationDeadline {
            kind: Some(cancellation_deadline::Kind::MinutesBeforeUse(60)),
        }),
        tiers: vec![FeeTier {
            within_minutes_before_use: 3 * 24 * 60,
            fee_bps: 3_000,
        }],
        full_refund_minutes_after_booking: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancels_a_second_before_a_fixed_deadline_and_is_refused_at_it() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    // Use on the third day from now at 18:00 KST; cancelling is possible until 00:00 KST that
    // day (a fixed deadline, exclusive).
    let kst = yeyak_kit::kst::kst();
    let day = yeyak_kit::kst::date_of(h.now_us())
        .expect("today")
        .checked_add(jiff::Span::new().days(3))
        .expect("a date");
    let at = |hour| {
        kst.to_timestamp(day.at(hour, 0, 0, 0))
            .expect("an instant")
            .as_microsecond()
    };
    let (usage, deadline) = (at(18), at(0));
    let mut input = product_input(
        &h,
        ConfirmationMode::Instant,
        PaymentMode::PayAtBooking,
        4,
        25_000,
    );
    input.schedules[0].starts_at = Some(yeyak_proto::time::from_micros(usage));
    input.schedules[0].ends_at = None;
    input.cancellation_policy = Some(CancellationPolicy {
        kind: CancellationKind::FullRefundUntilDeadline as i32,
        deadline: Some(CancellationDeadline {
            kind: Some(cancellation_deadline::Kind::FixedKst(format!(
                "{day}T00:00"
            ))),
        }),
        ..Default::default()
    });
    let seeded = seed_with(&h, input).await;
    let first = book(&h, "min", &seeded.schedule_id(), 1, &rid()).await;
    let second = book(&h, "min", &seeded.schedule_id(), 1, &rid()).await;
    let mut customer = h.reservations(h.customer("min")).await;
    let cancel = |id: &str| CancelRequest {
        request_id: rid(),
        reservation_id: id.to_string(),
        ..Default::default()
    };

    h.clock.set(deadline - 1_000_000);
    let cancelled = customer
        .cancel(cancel(&first.reservation_id))
        .await
        .expect("a second before the deadline")
        .into_inner();
    assert_eq!(cancelled.state, ReservationState::Cancelled as i32);
    assert_eq!(
        cancelled.refunded_krw, 25_000,
        "a full refund until the deadline"
    );

    h.clock.set(deadline);
    refused(
        customer.cancel(cancel(&second.reservation_id)).await,
        Code::FailedPrecondition,
        "PAST_CANCELLATION_DEADLINE",
    );
    h.stop().await;
}
