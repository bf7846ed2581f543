//! Cancelling (예약취소), whole or by line (부분취소): the fee by the policy snapshot the
//! reservation keeps, an adjusted fee (조정 후 취소) never above the rule's, and the 직권취소 (ex
//! officio) flag for cancels off the rule.
use std::collections::BTreeSet;

use yeyak_proto::{
    catalog::events::v1::CancellationKind,
    reservations::events::v1::{ReservationCancelled, ReservationLine, ReservationLinesCancelled},
};

use super::{
    ReservationError,
    policy::{self, Quote},
    reservation::{Releases, Reservation, State, micros, releases},
};

/// Who cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    Customer,
    Partner,
}

impl Canceller {
    fn name(self) -> String {
        match self {
            Canceller::Customer => "customer",
            Canceller::Partner => "partner",
        }
        .to_string()
    }
}

/// The fee a partner sets in an adjusted cancel (조정 후 취소).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    Rate { fee_bps: u32 },
    Amount { fee_krw: i64 },
}

/// Command: cancel a reservation, or some of its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancel {
    pub by: Canceller,
    pub reason: String,
    pub adjustment: Option<Adjustment>,
    /// 부분취소: these lines only; empty: the whole reservation.
    pub line_numbers: Vec<u32>,
}

/// A cancel's fee, decided on `paid` by the snapshot policy, and the rule's own rate.
fn quote(
    r: &Reservation,
    by: Canceller,
    adjustment: Option<Adjustment>,
    paid: i64,
    now_us: i64,
) -> Result<(Quote, u32), ReservationError> {
    let b = r.booked()?;
    let state = r.state.expect("a booked reservation has a state");
    let policy = b.cancellation_policy.clone().unwrap_or_default();
    let (booked_at, usage) = (micros(&b.booked_at), micros(&b.starts_at));
    // Nothing was confirmed yet: cancelling a request costs nothing.
    let default_bps = match state {
        State::Requested => 0,
        State::Completed => policy::FULL_BPS,
        _ => policy::default_rate(&policy, booked_at, usage, now_us),
    };
    let quote = match (by, adjustment) {
        (Canceller::Customer, Some(_)) => {
            return Err(ReservationError::invalid(
                "adjustment",
                "PARTNER_ONLY",
                "only the partner sets an adjusted fee",
            ));
        }
        (Canceller::Customer, None) if state == State::Requested => Quote::at_rate(paid, 0),
        (Canceller::Customer, None) => Quote::at_rate(
            paid,
            policy::customer_rate(&policy, booked_at, usage, now_us)?,
        ),
        (Canceller::Partner, None) => Quote::at_rate(paid, default_bps),
        (Canceller::Partner, Some(adj)) => {
            let quote = match adj {
                Adjustment::Rate { fee_bps } => Quote::at_rate(paid, fee_bps),
                Adjustment::Amount { fee_krw } => Quote::at_amount(paid, fee_krw),
            };
            let cap = Quote::at_rate(paid, default_bps).fee_krw;
            if quote.fee_krw < 0 || quote.fee_krw > cap || quote.fee_bps > default_bps {
                return Err(ReservationError::invalid(
                    "adjustment",
                    "FEE_ABOVE_DEFAULT",
                    format!(
                        "an adjusted fee is 0 to the rule's fee ({cap} won, {default_bps} bps)"
                    ),
                ));
            }
            quote
        }
    };
    Ok((quote, default_bps))
}

/// 직권취소 by the fee: a non-cancellable reservation, or a fee off the rule.
fn ex_officio_by_fee(r: &Reservation, quote: &Quote, default_bps: u32) -> bool {
    let state = r.state.expect("a booked reservation has a state");
    let not_cancellable = r
        .booked
        .as_ref()
        .and_then(|b| b.cancellation_policy.as_ref())
        .is_some_and(|p| p.kind() == CancellationKind::NotCancellable);
    (state != State::Requested && not_cancellable) || quote.fee_bps != default_bps
}

/// Cancels a reservation. The customer cancels a `Requested` reservation for free and a
/// `Confirmed` one by the snapshot policy (fee tiers, full-refund window, exclusive deadline).
/// The partner cancels `Requested` or `Confirmed` any time, and `Completed` (ex officio), at the
/// rule's fee or, adjusted, at a fee never above it. Refund = max(0, paid − fee). Seats come back
/// unless the reservation was already used.
pub fn cancel(
    r: &Reservation,
    by: Canceller,
    reason: String,
    adjustment: Option<Adjustment>,
    now_us: i64,
) -> Result<(ReservationCancelled, Releases), ReservationError> {
    let allowed: &[State] = match by {
        Canceller::Customer => &[State::Requested, State::Confirmed],
        Canceller::Partner => &[State::Requested, State::Confirmed, State::Completed],
    };
    let b = r.require(allowed, "cancel")?;
    let state = r.state.expect("a booked reservation has a state");
    let (quote, default_bps) = quote(r, by, adjustment, r.paid_left(), now_us)?;
    let ex_officio = state == State::Completed || ex_officio_by_fee(r, &quote, default_bps);
    let released = if state == State::Completed {
        vec![]
    } else {
        releases(b, &r.live_lines())
    };
    Ok((
        ReservationCancelled {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            cancelled_by: by.name(),
            reason,
            refunded_krw: quote.refund_krw,
            fee_krw: quote.fee_krw,
            fee_bps: quote.fee_bps,
            default_fee_bps: default_bps,
            ex_officio,
            adjusted: adjustment.is_some(),
            after_completion: state == State::Completed,
            payment_mode: b.payment_mode,
        },
        released,
    ))
}

/// What a cancel by line came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// Every remaining line: the whole reservation.
    Whole(ReservationCancelled),
    /// Some lines; the reservation stays in its state.
    Lines(ReservationLinesCancelled),
}

/// 부분취소: cancels some lines of a `Requested` or `Confirmed` reservation by the same rules as
/// a whole cancel, on what was paid for those lines; their seats come back. Naming no line, or
/// every remaining line, cancels the reservation ([`cancel`]). A reservation whose quantity had a
/// minimum, a fixed size or a multiple allows no partial cancel: the customer is refused, the
/// partner's is 직권취소.
pub fn cancel_lines(
    r: &Reservation,
    cmd: Cancel,
    now_us: i64,
) -> Result<(Cancelled, Releases), ReservationError> {
    let Cancel {
        by,
        reason,
        adjustment,
        line_numbers,
    } = cmd;
    if line_numbers.is_empty() {
        let (whole, released) = cancel(r, by, reason, adjustment, now_us)?;
        return Ok((Cancelled::Whole(whole), released));
    }
    let b = r.require(&[State::Requested, State::Confirmed], "cancel lines of")?;
    let asked: BTreeSet<u32> = line_numbers.iter().copied().collect();
    let lines = r.lines();
    if let Some(unknown) = asked
        .iter()
        .find(|n| !lines.iter().any(|l| l.line_number == **n))
    {
        return Err(ReservationError::invalid(
            "line_numbers",
            "UNKNOWN_LINE",
            format!("the reservation has no line {unknown}"),
        ));
    }
    if let Some(gone) = asked.iter().find(|n| r.cancelled_lines.contains(n)) {
        return Err(ReservationError::LineAlreadyCancelled(*gone));
    }
    let live = r.live_lines();
    if live.iter().all(|l| asked.contains(&l.line_number)) {
        let (whole, released) = cancel(r, by, reason, adjustment, now_us)?;
        return Ok((Cancelled::Whole(whole), released));
    }
    if b.partial_cancel_restricted && by == Canceller::Customer {
        return Err(ReservationError::PartialCancelNotAllowed);
    }
    let cancelled: Vec<ReservationLine> = live
        .into_iter()
        .filter(|l| asked.contains(&l.line_number))
        .collect();
    let paid: i64 = cancelled.iter().map(|l| l.paid_krw).sum();
    let (quote, default_bps) = quote(r, by, adjustment, paid, now_us)?;
    let ex_officio = b.partial_cancel_restricted || ex_officio_by_fee(r, &quote, default_bps);
    Ok((
        Cancelled::Lines(ReservationLinesCancelled {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            cancelled_by: by.name(),
            reason,
            line_numbers: cancelled.iter().map(|l| l.line_number).collect(),
            quantity: cancelled.iter().map(|l| l.quantity).sum(),
            refunded_krw: quote.refund_krw,
            fee_krw: quote.fee_krw,
            fee_bps: quote.fee_bps,
            default_fee_bps: default_bps,
            ex_officio,
            adjusted: adjustment.is_some(),
            payment_mode: b.payment_mode,
        }),
        releases(b, &cancelled),
    ))
}
