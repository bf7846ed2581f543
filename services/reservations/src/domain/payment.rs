//! A reservation's payment, kept apart from its state: captured at booking, refunds owed
//! (rejection, cancel, expiry, 결제만 취소, a booking that failed after its payment), and each
//! refund attempt's outcome — refunded; failed and tried again with back-off; or, after 3
//! business days of failures, credited to the customer's balance (환불적립).
use std::collections::BTreeMap;

use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    reservations::events::v1::{
        PaymentCaptured, PaymentRefunded, RefundCreditedAsBalance, RefundFailed,
    },
    time::{from_micros, to_micros},
};

use super::{ReservationError, events::PaymentEvent};

/// A refund owed, as the payment stream folds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owed {
    pub amount_krw: i64,
    pub requested_at_us: i64,
    pub attempts: u32,
    /// After a failed attempt: not before then.
    pub next_attempt_us: i64,
    /// Refunded or credited: nothing more to do.
    pub settled: bool,
}

/// A payment event with its event id (a refund request is known by it).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentFact {
    pub event_id: String,
    pub event: PaymentEvent,
}

/// The folded `payment-<reservation_id>` stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payment {
    pub captured: Option<PaymentCaptured>,
    pub refunded_krw: i64,
    pub credited_krw: i64,
    /// Refund requests by their event id.
    pub owed: BTreeMap<String, Owed>,
}

impl Payment {
    pub fn apply(&mut self, fact: PaymentFact) {
        match fact.event {
            PaymentEvent::Captured(e) => self.captured = Some(e),
            PaymentEvent::RefundRequested(e) => {
                let id = fact.event_id;
                self.owed.insert(
                    id,
                    Owed {
                        amount_krw: e.amount_krw,
                        requested_at_us: e.requested_at.as_ref().and_then(to_micros).unwrap_or(0),
                        ..Default::default()
                    },
                );
            }
            PaymentEvent::Refunded(e) => {
                self.refunded_krw += e.amount_krw;
                if let Some(o) = self.owed.get_mut(&e.request_id) {
                    o.settled = true;
                }
            }
            PaymentEvent::RefundFailed(e) => {
                if let Some(o) = self.owed.get_mut(&e.request_id) {
                    o.attempts = e.attempt;
                    o.next_attempt_us = e.next_attempt_at.as_ref().and_then(to_micros).unwrap_or(0);
                }
            }
            PaymentEvent::Credited(e) => {
                self.credited_krw += e.amount_krw;
                if let Some(o) = self.owed.get_mut(&e.request_id) {
                    o.settled = true;
                }
            }
        }
    }

    /// Owed and not yet refunded or credited.
    pub fn pending_krw(&self) -> i64 {
        self.owed
            .values()
            .filter(|o| !o.settled)
            .map(|o| o.amount_krw)
            .sum()
    }
}

/// How many business days a failed refund is retried.
pub const REFUND_RETRY_BUSINESS_DAYS: u32 = 3;

/// `days` Korean business days after `from_us` (weekends and public holidays skipped, the
/// kit's calendar).
pub use yeyak_kit::business_days::business_days_after;

/// When to try a failed refund again: 1, 2, 4, … minutes after the attempt, at most an hour.
pub fn next_attempt(now_us: i64, attempt: u32) -> i64 {
    let minutes = 1i64 << attempt.min(6);
    now_us + minutes.min(60) * 60_000_000
}

/// What a refund attempt through the payment provider came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded { refund_id: String },
    Failed { reason: String },
}

/// What is asked of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// Record the outcome of attempt `attempt` at refunding request `request_id`.
    RecordRefund {
        reservation_id: String,
        request_id: String,
        attempt: u32,
        outcome: RefundOutcome,
    },
}

impl Payment {
    /// The refund request `request_id` when an attempt at it is due at `now_us`: owed, not
    /// settled, not backing off.
    pub fn refund_due(&self, request_id: &str, now_us: i64) -> Option<&Owed> {
        self.captured.as_ref()?;
        self.owed
            .get(request_id)
            .filter(|o| !o.settled && now_us >= o.next_attempt_us)
    }
}

impl Aggregate for Payment {
    type Event = PaymentFact;
    type Command = PaymentCommand;
    /// The time.
    type Context = i64;
    type Decision = Vec<PaymentEvent>;
    type Error = ReservationError;

    fn evolve(&mut self, fact: PaymentFact) {
        self.apply(fact);
    }

    /// An attempt's outcome is recorded once, in order: an attempt already recorded (or a
    /// settled request) records nothing. A failure after 3 business days is credited instead.
    fn decide(
        &self,
        command: PaymentCommand,
        now_us: &i64,
    ) -> Result<Vec<PaymentEvent>, ReservationError> {
        let PaymentCommand::RecordRefund {
            reservation_id,
            request_id,
            attempt,
            outcome,
        } = command;
        let Some(owed) = self.owed.get(&request_id) else {
            return Err(ReservationError::NothingToRefund);
        };
        if owed.settled || owed.attempts + 1 != attempt {
            return Ok(vec![]);
        }
        let event = match outcome {
            RefundOutcome::Refunded { refund_id } => PaymentEvent::Refunded(PaymentRefunded {
                reservation_id,
                request_id,
                amount_krw: owed.amount_krw,
                refund_id,
            }),
            RefundOutcome::Failed { .. }
                if *now_us
                    >= business_days_after(owed.requested_at_us, REFUND_RETRY_BUSINESS_DAYS) =>
            {
                PaymentEvent::Credited(RefundCreditedAsBalance {
                    reservation_id,
                    request_id,
                    amount_krw: owed.amount_krw,
                })
            }
            RefundOutcome::Failed { reason } => PaymentEvent::RefundFailed(RefundFailed {
                reservation_id,
                request_id,
                attempt,
                reason,
                next_attempt_at: Some(from_micros(next_attempt(*now_us, attempt))),
            }),
        };
        Ok(vec![event])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kst_us(y: i16, m: i8, d: i8) -> i64 {
        yeyak_kit::kst::kst()
            .to_timestamp(jiff::civil::date(y, m, d).at(10, 0, 0, 0))
            .unwrap()
            .as_microsecond()
    }

    #[test]
    fn three_business_days_skip_chuseok_and_the_weekend() {
        // Wednesday 2026-09-23: 24–26 추석, 27 Sunday → 28, 29, 30.
        assert_eq!(
            business_days_after(kst_us(2026, 9, 23), 3),
            kst_us(2026, 9, 30)
        );
    }

    #[test]
    fn three_business_days_skip_the_weekend() {
        // Friday 2026-11-27 + 3 business days = Wednesday 2026-12-02.
        assert_eq!(
            business_days_after(kst_us(2026, 11, 27), 3),
            kst_us(2026, 12, 2)
        );
        // Monday + 3 = Thursday.
        assert_eq!(
            business_days_after(kst_us(2026, 11, 30), 3),
            kst_us(2026, 12, 3)
        );
    }

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(next_attempt(0, 1), 2 * 60_000_000);
        assert_eq!(next_attempt(0, 10), 60 * 60_000_000);
    }
}
