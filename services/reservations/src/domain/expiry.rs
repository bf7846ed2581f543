//! An unanswered 예약신청 expires: after the product's expiry (24 hours by default), or at the
//! usage start, whichever comes first. Kakao documents no expiry; peers do (domain.md §4.4).
use yeyak_proto::reservations::events::v1::ReservationExpired;

use super::{
    ReservationError,
    reservation::{Releases, Reservation, State, micros, releases},
};

/// How long a `Requested` reservation waits for the partner by default: 24 h.
pub const DEFAULT_EXPIRY_MINUTES: u32 = 24 * 60;

/// When a `Requested` reservation booked at `now_us` expires: after the product's expiry (24 h
/// by default), or at the usage start, whichever comes first.
pub fn expires_at(now_us: i64, expiry_minutes: u32, usage_start_us: i64) -> i64 {
    let minutes = if expiry_minutes == 0 {
        DEFAULT_EXPIRY_MINUTES
    } else {
        expiry_minutes
    };
    (now_us + i64::from(minutes) * 60_000_000).min(usage_start_us)
}

/// A `Requested` reservation the partner has not answered by its expiry expires: the seats come
/// back and any payment is refunded. Anything else (answered, not yet due) is left alone.
pub fn expire(
    r: &Reservation,
    now_us: i64,
) -> Result<(ReservationExpired, Releases), ReservationError> {
    let b = r.require(&[State::Requested], "expire")?;
    if b.expires_at.is_none() || now_us < micros(&b.expires_at) {
        return Err(ReservationError::NotDue(
            "the reservation has not reached its expiry",
        ));
    }
    Ok((
        ReservationExpired {
            reservation_id: b.reservation_id.clone(),
            partner_id: b.partner_id.clone(),
            place_id: b.place_id.clone(),
            product_id: b.product_id.clone(),
            refunded_krw: r.paid_left(),
        },
        releases(b, &r.live_lines()),
    ))
}
