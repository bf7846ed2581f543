//! Test support: reservation facts as the settlement hears them.
use yeyak_proto::reservations::events::v1::{
    PaymentMethod, PaymentMode, ReservationBooked, ReservationLine,
};

/// A booking of `reservation_id` for `partner_id` paid by `method`, one line per amount in `paid`
/// (numbered from 1); reservation-only when nothing is paid.
pub fn booked(
    reservation_id: &str,
    partner_id: &str,
    method: PaymentMethod,
    paid: &[i64],
) -> ReservationBooked {
    let total: i64 = paid.iter().sum();
    ReservationBooked {
        reservation_id: reservation_id.into(),
        partner_id: partner_id.into(),
        paid_krw: total,
        payment_mode: if total > 0 {
            PaymentMode::PayAtBooking
        } else {
            PaymentMode::ReservationOnly
        } as i32,
        payment_method: method as i32,
        lines: paid
            .iter()
            .enumerate()
            .map(|(i, p)| ReservationLine {
                line_number: i as u32 + 1,
                paid_krw: *p,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
