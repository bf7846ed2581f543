//! Completing (이용완료) — by the partner, with its 4-digit code when one is set, or by itself the
//! day after use when nothing was paid — and what follows it: 결제만 취소 (cancel payment only)
//! and no-show marks.
use yeyak_kit::kst::{start_of_day, start_of_next_day};
use yeyak_proto::reservations::events::v1::{
    NoShowMarked, ReservationBooked, ReservationCompleted, ReservationPaymentCancelled,
};

use super::{
    ReservationError,
    reservation::{Reservation, State, micros},
};

/// The partner's completion code as kept: SHA-256 of the partner id and the code, in hex.
pub fn code_hash(partner_id: &str, code: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{partner_id}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a completion code: four digits, or empty to remove it.
pub fn valid_code(code: &str) -> bool {
    code.is_empty() || (code.len() == 4 && code.chars().all(|c| c.is_ascii_digit()))
}

/// Who completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The partner, with the code it typed (checked when the partner has set one).
    Partner { code: String },
    /// The scheduler, the day after use, for a reservation nothing was paid for.
    Automatic,
}

/// 00:00 KST of the reservation's usage date.
fn usage_date_starts(b: &ReservationBooked) -> i64 {
    start_of_day(micros(&b.starts_at))
}

/// Marks a `Confirmed` reservation used (이용완료); seats stay taken. The partner gives its
/// completion code when one is set (`code_sha256`); a class is completed only from its usage
/// date (KST). The scheduler completes a reservation nothing was paid for from the day after use.
pub fn complete(
    r: &Reservation,
    by: Completion,
    code_sha256: Option<&str>,
    now_us: i64,
) -> Result<ReservationCompleted, ReservationError> {
    let b = r.require(&[State::Confirmed], "complete")?;
    if b.class_product && now_us < usage_date_starts(b) {
        return Err(ReservationError::ClassBeforeUsageDate);
    }
    let automatic = match &by {
        Completion::Partner { code } => {
            if let Some(expected) = code_sha256.filter(|h| !h.is_empty())
                && code_hash(&b.partner_id, code) != expected
            {
                return Err(ReservationError::invalid(
                    "completion_code",
                    "COMPLETION_CODE_MISMATCH",
                    "the partner's 4-digit completion code is required and did not match",
                ));
            }
            false
        }
        Completion::Automatic => {
            // The day after the use ends (the last day of a pass), 00:00 KST.
            if r.no_show {
                return Err(ReservationError::NoShow);
            }
            if b.paid_krw != 0 || now_us < day_after_use(b) {
                return Err(ReservationError::NotDue(
                    "only free and reservation-only reservations complete by themselves, the day after use",
                ));
            }
            true
        }
    };
    Ok(ReservationCompleted {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        // What was paid for the lines used (not for lines cancelled before).
        paid_krw: b.paid_krw - r.cancelled_paid_krw,
        payment_mode: b.payment_mode,
        automatic,
    })
}

/// 결제만 취소: refunds what is left of the payment of a `Completed` reservation, which stays
/// `Completed`.
pub fn cancel_payment_only(
    r: &Reservation,
    reason: String,
) -> Result<ReservationPaymentCancelled, ReservationError> {
    let b = r.require(&[State::Completed], "cancel the payment of")?;
    let left = r.paid_left();
    if left <= 0 {
        return Err(ReservationError::NothingToRefund);
    }
    Ok(ReservationPaymentCancelled {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        refunded_krw: left,
        reason,
        payment_mode: b.payment_mode,
    })
}

/// Marks or unmarks a no-show of a `Confirmed` reservation, once its usage time has come.
/// Marking what is already marked changes nothing.
pub fn mark_no_show(
    r: &Reservation,
    no_show: bool,
    now_us: i64,
) -> Result<Option<NoShowMarked>, ReservationError> {
    let b = r.require(&[State::Confirmed], "mark a no-show of")?;
    if now_us < micros(&b.starts_at) {
        return Err(ReservationError::BeforeUsageTime);
    }
    Ok((r.no_show != no_show).then(|| NoShowMarked {
        reservation_id: b.reservation_id.clone(),
        partner_id: b.partner_id.clone(),
        place_id: b.place_id.clone(),
        product_id: b.product_id.clone(),
        no_show,
    }))
}

/// 00:00 KST the day after the use ends (after the last day of a pass over several days): when a
/// reservation nothing was paid for completes by itself.
pub fn day_after_use(b: &ReservationBooked) -> i64 {
    let last_moment = match &b.ends_at {
        Some(end) => micros(&Some(*end)) - 1,
        None => micros(&b.starts_at),
    };
    start_of_next_day(last_moment).unwrap_or(i64::MAX)
}
