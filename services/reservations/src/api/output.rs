//! Domain state to replies: a reservation and its payment as the API shows them.
use yeyak_proto::reservations::v1::{self as pb, ReservationState};

use crate::domain::{
    payment::Payment,
    reservation::{Reservation, State},
};

pub fn state_pb(state: Option<State>) -> ReservationState {
    match state {
        None => ReservationState::Unspecified,
        Some(State::Requested) => ReservationState::Requested,
        Some(State::Confirmed) => ReservationState::Confirmed,
        Some(State::Rejected) => ReservationState::Rejected,
        Some(State::Cancelled) => ReservationState::Cancelled,
        Some(State::Completed) => ReservationState::Completed,
        Some(State::Expired) => ReservationState::Expired,
    }
}

/// A reservation as the API shows it.
pub fn view((r, version): (Reservation, u64)) -> pb::Reservation {
    let lines = r
        .lines()
        .into_iter()
        .map(|l| pb::ReservationLineView {
            cancelled: r.cancelled_lines.contains(&l.line_number),
            line_number: l.line_number,
            reservation_schedule_id: l.reservation_schedule_id,
            quantity: l.quantity,
            unit_price_krw: l.unit_price_krw,
            paid_krw: l.paid_krw,
        })
        .collect();
    let quantity = r.live_quantity();
    let b = r.booked.unwrap_or_default();
    pb::Reservation {
        reservation_id: b.reservation_id,
        state: state_pb(r.state) as i32,
        customer_id: b.customer_id,
        partner_id: b.partner_id,
        place_id: b.place_id,
        product_id: b.product_id,
        reservation_schedule_id: b.reservation_schedule_id,
        starts_at: b.starts_at,
        quantity,
        unit_price_krw: b.unit_price_krw,
        paid_krw: b.paid_krw,
        refunded_krw: r.refunded_krw,
        payment_mode: b.payment_mode,
        version,
        cancellation_policy: b.cancellation_policy,
        answers: b.answers,
        booked_at: b.booked_at,
        cancellation_fee_krw: r.cancellation.as_ref().map_or(0, |c| c.fee_krw),
        ex_officio: r.cancellation.as_ref().is_some_and(|c| c.ex_officio),
        expires_at: b.expires_at,
        payment_cancelled: r.payment_cancelled,
        no_show: r.no_show,
        payment: None,
        lines,
        partial_cancel_restricted: b.partial_cancel_restricted,
    }
}

/// The payment as the API shows it.
pub fn payment_view(p: &Payment) -> Option<pb::Payment> {
    let captured = p.captured.as_ref()?;
    Some(pb::Payment {
        method: captured.method,
        captured_krw: captured.amount_krw,
        refunded_krw: p.refunded_krw,
        refund_pending_krw: p.pending_krw(),
        credited_krw: p.credited_krw,
    })
}

/// A state asked for in a query.
pub fn state_of(state: ReservationState) -> Option<State> {
    match state {
        ReservationState::Unspecified => None,
        ReservationState::Requested => Some(State::Requested),
        ReservationState::Confirmed => Some(State::Confirmed),
        ReservationState::Rejected => Some(State::Rejected),
        ReservationState::Cancelled => Some(State::Cancelled),
        ReservationState::Completed => Some(State::Completed),
        ReservationState::Expired => Some(State::Expired),
    }
}
