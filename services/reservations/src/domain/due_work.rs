//! The work a reservation leaves for later, and when it is due: an unanswered request's expiry,
//! a free or reservation-only reservation's completion the day after its use, and each refund
//! the customer is owed.
use yeyak_proto::{
    reservations::events::v1::{RefundFailed, RefundRequested, ReservationBooked, WorkKind},
    time::to_micros,
};

use super::completion::day_after_use;

/// The work a booking implies: its expiry while `Requested`, and, when nothing was paid, its
/// completion at 00:00 KST the day after its use ends.
pub fn of_booking(booked: &ReservationBooked) -> Vec<(WorkKind, i64)> {
    let mut work = Vec::new();
    if let Some(due) = booked.expires_at.as_ref().and_then(to_micros) {
        work.push((WorkKind::Expire, due));
    }
    if booked.paid_krw == 0 && booked.starts_at.is_some() {
        work.push((WorkKind::AutoComplete, day_after_use(booked)));
    }
    work
}

/// A refund request is due at once.
pub fn of_refund_request(r: &RefundRequested) -> i64 {
    r.requested_at.as_ref().and_then(to_micros).unwrap_or(0)
}

/// A failed refund attempt is tried again at its next attempt.
pub fn of_failed_refund(f: &RefundFailed) -> i64 {
    f.next_attempt_at.as_ref().and_then(to_micros).unwrap_or(0)
}
