//! The partner's ledger: a completed reservation becomes one line, and money given back after
//! completion (결제만 취소, or a cancel after 이용완료) one reversing line; the
//! reservation-management fee (commission) is charged only when the customer paid.
use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    reservations::events::v1::{
        PaymentMode, ReservationCancelled, ReservationCompleted, ReservationPaymentCancelled,
    },
    settlement::events::v1::SettlementLineRecorded,
};

use super::SettlementError;

/// Highest commission rate accepted in configuration: 30 %.
pub const MAX_COMMISSION_BPS: u32 = 3_000;

yeyak_kit::event_set! {
    /// What happens on a partner's ledger.
    pub enum LedgerEvent {
        LineRecorded(SettlementLineRecorded),
    }
}

/// The reservation-management fee rate, in basis points (300 = 3 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommissionRate(u32);

impl CommissionRate {
    /// A rate of `bps` basis points, at most [`MAX_COMMISSION_BPS`].
    pub fn from_bps(bps: u32) -> Result<Self, SettlementError> {
        if bps > MAX_COMMISSION_BPS {
            return Err(SettlementError::CommissionAboveMaximum(bps));
        }
        Ok(Self(bps))
    }

    pub fn bps(self) -> u32 {
        self.0
    }
}

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

yeyak_kit::event_set! {
    /// A reservation fact settlement hears of.
    pub enum SettlementFact {
        /// 이용완료: settlement is driven by completion, not by payment.
        Completed(ReservationCompleted),
        /// 결제만 취소.
        PaymentCancelled(ReservationPaymentCancelled),
        /// A cancel; only one after completion has a line to reverse.
        Cancelled(ReservationCancelled),
    }
}

impl SettlementFact {
    /// The partner whose ledger the fact is on.
    pub fn partner_id(&self) -> &str {
        match self {
            SettlementFact::Completed(e) => &e.partner_id,
            SettlementFact::PaymentCancelled(e) => &e.partner_id,
            SettlementFact::Cancelled(e) => &e.partner_id,
        }
    }
}

/// What the partner's ledger is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerCommand {
    /// Settle a fact as line `line_id`; `source_event_id` is the fact's event.
    Record {
        fact: SettlementFact,
        line_id: String,
        source_event_id: String,
    },
}

/// The partner's ledger as its stream folds: its lines, oldest first. A decision on it needs
/// none of its past (each fact is settled once, by the consumer's inbox, in any order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub lines: Vec<SettlementLineRecorded>,
}

impl Aggregate for Ledger {
    type Event = LedgerEvent;
    type Command = LedgerCommand;
    /// The rate the service charges.
    type Context = CommissionRate;
    type Decision = Vec<LedgerEvent>;
    type Error = SettlementError;

    fn evolve(&mut self, event: LedgerEvent) {
        let LedgerEvent::LineRecorded(line) = event;
        self.lines.push(line);
    }

    fn decide(
        &self,
        command: LedgerCommand,
        rate: &CommissionRate,
    ) -> Result<Vec<LedgerEvent>, SettlementError> {
        let LedgerCommand::Record {
            fact,
            line_id,
            source_event_id,
        } = command;
        let bps = rate.bps();
        let recorded = match fact {
            SettlementFact::Completed(c) => line(&c, line_id, source_event_id, bps),
            SettlementFact::PaymentCancelled(c) => {
                let facts = (
                    &*c.partner_id,
                    &*c.reservation_id,
                    c.refunded_krw,
                    c.payment_mode,
                );
                reversal(facts, line_id, source_event_id, bps)
            }
            SettlementFact::Cancelled(c) if c.after_completion && c.refunded_krw > 0 => {
                let facts = (
                    &*c.partner_id,
                    &*c.reservation_id,
                    c.refunded_krw,
                    c.payment_mode,
                );
                reversal(facts, line_id, source_event_id, bps)
            }
            // Before completion nothing was settled, so nothing is reversed.
            SettlementFact::Cancelled(_) => return Ok(vec![]),
        };
        Ok(vec![recorded.into()])
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;

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

    fn record(fact: SettlementFact) -> LedgerCommand {
        LedgerCommand::Record {
            fact,
            line_id: "l".into(),
            source_event_id: "e".into(),
        }
    }

    fn rate(bps: u32) -> CommissionRate {
        CommissionRate::from_bps(bps).expect("a valid rate")
    }

    fn cancelled(after_completion: bool, refunded_krw: i64) -> SettlementFact {
        SettlementFact::Cancelled(ReservationCancelled {
            reservation_id: "r".into(),
            partner_id: "p".into(),
            after_completion,
            refunded_krw,
            payment_mode: PaymentMode::PayAtBooking as i32,
            ..Default::default()
        })
    }

    #[test]
    fn a_completed_reservation_is_settled_as_one_line_at_the_services_rate() {
        let paid = completed(60_000, PaymentMode::PayAtBooking);
        given::<Ledger>([])
            .when(record(SettlementFact::Completed(paid.clone())), &rate(300))
            .then_expect(vec![LedgerEvent::LineRecorded(line(
                &paid,
                "l".into(),
                "e".into(),
                300,
            ))]);
    }

    #[test]
    fn only_a_cancel_after_completion_with_a_refund_is_reversed() {
        given::<Ledger>([])
            .when(record(cancelled(false, 60_000)), &rate(300))
            .then_expect(vec![]);
        given::<Ledger>([])
            .when(record(cancelled(true, 0)), &rate(300))
            .then_expect(vec![]);
        let reversed = given::<Ledger>([])
            .when(record(cancelled(true, 60_000)), &rate(300))
            .decision();
        let [LedgerEvent::LineRecorded(l)] = reversed.as_slice() else {
            panic!("{reversed:?}")
        };
        assert_eq!((l.gross_krw, l.commission_krw), (-60_000, -1_800));
    }

    #[test]
    fn the_ledger_keeps_its_lines_in_order() {
        let lines = [
            line(
                &completed(1, PaymentMode::PayAtBooking),
                "1".into(),
                "e".into(),
                0,
            ),
            line(
                &completed(2, PaymentMode::PayAtBooking),
                "2".into(),
                "e".into(),
                0,
            ),
        ];
        let ledger = given::<Ledger>(lines.clone().map(LedgerEvent::from)).state;
        assert_eq!(ledger.lines, lines);
    }

    #[test]
    fn a_rate_above_thirty_percent_is_refused() {
        assert_eq!(rate(MAX_COMMISSION_BPS).bps(), 3_000);
        assert_eq!(
            CommissionRate::from_bps(MAX_COMMISSION_BPS + 1),
            Err(SettlementError::CommissionAboveMaximum(3_001))
        );
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
