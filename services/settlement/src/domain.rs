//! Settlement rules: a completed reservation becomes one ledger line, and 결제만 취소 one
//! reversing line; the reservation-management fee (commission) is charged only when the customer
//! paid. Pure; no I/O.
use yeyak_proto::{
    reservations::events::v1::{PaymentMode, ReservationCompleted},
    settlement::events::v1::SettlementLineRecorded,
};

/// Highest commission rate accepted in configuration: 30 %.
pub const MAX_COMMISSION_BPS: u32 = 3_000;

/// Whether the customer paid through the platform (pay at booking or a deposit).
fn paid_online(payment_mode: i32) -> bool {
    payment_mode == PaymentMode::PayAtBooking as i32 || payment_mode == PaymentMode::Deposit as i32
}

/// Commission on `paid_krw` at `bps` basis points, rounded half up to the won.
pub fn commission(paid_krw: i64, payment_mode: i32, bps: u32) -> i64 {
    if !paid_online(payment_mode) || paid_krw <= 0 {
        return 0;
    }
    (paid_krw * i64::from(bps) + 5_000) / 10_000
}

/// The ledger line for a completed reservation.
pub fn line(
    completed: &ReservationCompleted,
    line_id: String,
    source_event_id: String,
    bps: u32,
) -> SettlementLineRecorded {
    let gross = if paid_online(completed.payment_mode) {
        completed.paid_krw.max(0)
    } else {
        0
    };
    let fee = commission(gross, completed.payment_mode, bps);
    ledger_line(
        &completed.partner_id,
        &completed.reservation_id,
        (gross, fee, bps),
        line_id,
        source_event_id,
    )
}

/// A ledger line of `gross` with `fee` charged at `bps` (both negative on a reversal).
fn ledger_line(
    partner_id: &str,
    reservation_id: &str,
    (gross, fee, bps): (i64, i64, u32),
    line_id: String,
    source_event_id: String,
) -> SettlementLineRecorded {
    SettlementLineRecorded {
        line_id,
        partner_id: partner_id.to_string(),
        reservation_id: reservation_id.to_string(),
        gross_krw: gross,
        commission_krw: fee,
        net_krw: gross - fee,
        commission_bps: if fee != 0 { bps } else { 0 },
        source_event_id,
    }
}

/// The reversing ledger line of money given back after completion (결제만 취소, or a cancel after
/// 이용완료): the refunded amount leaves the partner's gross and the commission charged on it is
/// given back.
pub fn reversal(
    (partner_id, reservation_id, refunded_krw, payment_mode): (&str, &str, i64, i32),
    line_id: String,
    source_event_id: String,
    bps: u32,
) -> SettlementLineRecorded {
    let refunded = if paid_online(payment_mode) {
        refunded_krw.max(0)
    } else {
        0
    };
    let fee = commission(refunded, payment_mode, bps);
    ledger_line(
        partner_id,
        reservation_id,
        (-refunded, -fee, bps),
        line_id,
        source_event_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(paid: i64, mode: PaymentMode) -> ReservationCompleted {
        ReservationCompleted {
            reservation_id: "r".into(),
            partner_id: "p".into(),
            place_id: "pl".into(),
            paid_krw: paid,
            payment_mode: mode as i32,
            product_id: "prod".into(),
            automatic: false,
        }
    }

    #[test]
    fn commission_is_charged_only_on_paid_reservations() {
        let paid = line(
            &completed(60_000, PaymentMode::PayAtBooking),
            "l".into(),
            "e".into(),
            300,
        );
        assert_eq!(
            (
                paid.gross_krw,
                paid.commission_krw,
                paid.net_krw,
                paid.commission_bps
            ),
            (60_000, 1_800, 58_200, 300)
        );
        let free = line(
            &completed(0, PaymentMode::ReservationOnly),
            "l".into(),
            "e".into(),
            300,
        );
        assert_eq!(
            (
                free.gross_krw,
                free.commission_krw,
                free.net_krw,
                free.commission_bps
            ),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn cancel_payment_only_reverses_the_gross_and_gives_the_commission_back() {
        let line = reversal(
            ("p", "r", 60_000, PaymentMode::PayAtBooking as i32),
            "l".into(),
            "e".into(),
            300,
        );
        assert_eq!(
            (line.gross_krw, line.commission_krw, line.net_krw),
            (-60_000, -1_800, -58_200)
        );
    }

    #[test]
    fn a_deposit_is_paid_at_booking_and_carries_commission() {
        let deposit = line(
            &completed(10_000, PaymentMode::Deposit),
            "l".into(),
            "e".into(),
            300,
        );
        assert_eq!((deposit.gross_krw, deposit.commission_krw), (10_000, 300));
    }

    #[test]
    fn commission_rounds_half_up_to_the_won() {
        assert_eq!(commission(15, PaymentMode::PayAtBooking as i32, 3_333), 5);
        assert_eq!(commission(1, PaymentMode::PayAtBooking as i32, 5_000), 1);
        assert_eq!(commission(1, PaymentMode::PayAtBooking as i32, 4_999), 0);
    }

    proptest::proptest! {
        #[test]
        fn net_plus_commission_is_gross(paid in 0i64..1_000_000_000, bps in 0u32..=MAX_COMMISSION_BPS) {
            let l = line(&completed(paid, PaymentMode::PayAtBooking), "l".into(), "e".into(), bps);
            proptest::prop_assert_eq!(l.net_krw + l.commission_krw, l.gross_krw);
            proptest::prop_assert!(l.commission_krw >= 0 && l.commission_krw <= l.gross_krw);
        }
    }
}
