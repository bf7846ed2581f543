//! Payments behind a gateway a real payment provider could implement — authorise, capture, void
//! and refund, each with an idempotency key — and the payment state folded from
//! `payment-<reservation_id>`, separate from the reservation's.
//!
//! [`SimulatedGateway`] serves the embedded default and the tests: Kakao Pay card, Kakao Pay
//! money, credit card and points, with configurable failures.
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Mutex,
};

use yeyak_proto::{
    reservations::events::v1::{
        PaymentCaptured, PaymentMethod, PaymentRefunded, RefundCreditedAsBalance, RefundFailed,
        RefundRequested,
    },
    time::to_micros,
};

/// Why the gateway did not move the money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Refused for good (card declined, not enough points): the customer must pay otherwise.
    #[error("declined: {0}")]
    Declined(String),
    /// The provider could not answer; trying again later may work.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider. Every call carries an idempotency key: repeating a call with the same key
/// returns the first result and moves no money twice.
#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Authorises `amount_krw` (the money is held, not taken); returns the authorisation's
    /// reference. A decline is final for this method.
    async fn authorize(
        &self,
        key: &str,
        method: PaymentMethod,
        amount_krw: i64,
    ) -> Result<String, PaymentError>;

    /// Captures `amount_krw` of an authorisation (the money is taken); returns the capture's
    /// reference.
    async fn capture(
        &self,
        key: &str,
        authorization_id: &str,
        amount_krw: i64,
    ) -> Result<String, PaymentError>;

    /// Releases an authorisation that will not be captured.
    async fn void(&self, key: &str, authorization_id: &str) -> Result<(), PaymentError>;

    /// Refunds `amount_krw` of a capture; returns the refund's reference.
    async fn refund(
        &self,
        key: &str,
        capture_id: &str,
        amount_krw: i64,
    ) -> Result<String, PaymentError>;
}

/// Failures the simulated provider plays.
#[derive(Debug, Clone, Default)]
pub struct SimulatedFailures {
    /// Methods whose charges are declined.
    pub declined_methods: HashSet<PaymentMethod>,
    /// Every refund fails as unavailable (a provider outage).
    pub refunds_unavailable: bool,
    /// Every capture fails as unavailable (authorisations still succeed).
    pub captures_unavailable: bool,
}

/// An in-memory payment provider for the embedded default and the tests.
#[derive(Default)]
pub struct SimulatedGateway {
    failures: Mutex<SimulatedFailures>,
    authorizations: Mutex<HashMap<String, String>>,
    charges: Mutex<HashMap<String, String>>,
    voids: Mutex<HashSet<String>>,
    refunds: Mutex<HashMap<String, String>>,
}

impl SimulatedGateway {
    pub fn new(failures: SimulatedFailures) -> Self {
        Self {
            failures: Mutex::new(failures),
            ..Default::default()
        }
    }

    /// Changes the failures played from now on (tests: an outage that ends).
    pub fn set_failures(&self, failures: SimulatedFailures) {
        *self.failures.lock().expect("failures") = failures;
    }

    /// Failures from `YEYAK_PAYMENTS_DECLINE` (comma-separated methods: `kakao_pay_card`,
    /// `kakao_pay_money`, `credit_card`, `points`) and `YEYAK_PAYMENTS_REFUNDS_UNAVAILABLE=true`.
    pub fn from_env() -> Self {
        let declined_methods = std::env::var("YEYAK_PAYMENTS_DECLINE")
            .unwrap_or_default()
            .split(',')
            .filter_map(|m| {
                PaymentMethod::from_str_name(&format!("PAYMENT_METHOD_{}", m.trim().to_uppercase()))
            })
            .collect();
        let refunds_unavailable = std::env::var("YEYAK_PAYMENTS_REFUNDS_UNAVAILABLE")
            .is_ok_and(|v| v == "true" || v == "1");
        Self::new(SimulatedFailures {
            declined_methods,
            refunds_unavailable,
            captures_unavailable: false,
        })
    }

    /// How many captures and refunds really moved money (each idempotency key once).
    pub fn moved(&self) -> (usize, usize) {
        (
            self.charges.lock().expect("charges").len(),
            self.refunds.lock().expect("refunds").len(),
        )
    }

    /// Authorisations still holding the customer's money: neither captured nor voided.
    pub fn open_authorizations(&self) -> usize {
        let captured: HashSet<String> = self
            .charges
            .lock()
            .expect("charges")
            .keys()
            .cloned()
            .collect();
        let voids = self.voids.lock().expect("voids");
        self.authorizations
            .lock()
            .expect("authorizations")
            .values()
            .filter(|a| !captured.contains(*a) && !voids.contains(*a))
            .count()
    }
}

#[async_trait::async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn authorize(
        &self,
        key: &str,
        method: PaymentMethod,
        amount_krw: i64,
    ) -> Result<String, PaymentError> {
        if let Some(done) = self.authorizations.lock().expect("authorizations").get(key) {
            return Ok(done.clone());
        }
        if method == PaymentMethod::Unspecified || amount_krw <= 0 {
            return Err(PaymentError::Declined("no payment method or amount".into()));
        }
        if self
            .failures
            .lock()
            .expect("failures")
            .declined_methods
            .contains(&method)
        {
            return Err(PaymentError::Declined(format!(
                "{} declined",
                method.as_str_name()
            )));
        }
        let id = format!("auth-{}", uuid::Uuid::new_v4());
        self.authorizations
            .lock()
            .expect("authorizations")
            .insert(key.to_string(), id.clone());
        Ok(id)
    }

    /// Captures are keyed by their authorisation: one capture each, whatever the key.
    async fn capture(
        &self,
        _key: &str,
        authorization_id: &str,
        _amount_krw: i64,
    ) -> Result<String, PaymentError> {
        if let Some(done) = self.charges.lock().expect("charges").get(authorization_id) {
            return Ok(done.clone());
        }
        if self.voids.lock().expect("voids").contains(authorization_id) {
            return Err(PaymentError::Declined(
                "the authorisation was voided".into(),
            ));
        }
        if self.failures.lock().expect("failures").captures_unavailable {
            return Err(PaymentError::Unavailable(
                "the acquirer does not answer".into(),
            ));
        }
        let id = format!("cap-{}", uuid::Uuid::new_v4());
        self.charges
            .lock()
            .expect("charges")
            .insert(authorization_id.to_string(), id.clone());
        Ok(id)
    }

    async fn void(&self, _key: &str, authorization_id: &str) -> Result<(), PaymentError> {
        if self
            .charges
            .lock()
            .expect("charges")
            .contains_key(authorization_id)
        {
            return Err(PaymentError::Declined("already captured".into()));
        }
        self.voids
            .lock()
            .expect("voids")
            .insert(authorization_id.to_string());
        Ok(())
    }

    async fn refund(
        &self,
        key: &str,
        _capture_id: &str,
        _amount_krw: i64,
    ) -> Result<String, PaymentError> {
        if let Some(done) = self.refunds.lock().expect("refunds").get(key) {
            return Ok(done.clone());
        }
        if self.failures.lock().expect("failures").refunds_unavailable {
            return Err(PaymentError::Unavailable(
                "the card issuer does not answer".into(),
            ));
        }
        let id = format!("ref-{}", uuid::Uuid::new_v4());
        self.refunds
            .lock()
            .expect("refunds")
            .insert(key.to_string(), id.clone());
        Ok(id)
    }
}

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

/// What happens on a payment's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    Captured(PaymentCaptured),
    /// With the event id of the request.
    RefundRequested(String, RefundRequested),
    Refunded(PaymentRefunded),
    RefundFailed(RefundFailed),
    Credited(RefundCreditedAsBalance),
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
    pub fn apply(&mut self, event: PaymentEvent) {
        match event {
            PaymentEvent::Captured(e) => self.captured = Some(e),
            PaymentEvent::RefundRequested(id, e) => {
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

/// `days` business days (Monday to Friday, KST) after `from_us`. Korean public holidays are not
/// modelled yet.
pub fn business_days_after(from_us: i64, days: u32) -> i64 {
    use jiff::civil::Weekday;
    let Ok(start) = jiff::Timestamp::from_microsecond(from_us) else {
        return from_us;
    };
    let mut at = start.to_zoned_datetime(yeyak_kit::kst::kst());
    let mut left = days;
    while left > 0 {
        at = match at.checked_add(jiff::Span::new().days(1)) {
            Ok(next) => next,
            Err(_) => return from_us,
        };
        if !matches!(at.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    at.timestamp().as_microsecond()
}

/// When to try a failed refund again: 1, 2, 4, … minutes after the attempt, at most an hour.
pub fn next_attempt(now_us: i64, attempt: u32) -> i64 {
    let minutes = 1i64 << attempt.min(6);
    now_us + minutes.min(60) * 60_000_000
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

    #[tokio::test]
    async fn the_simulated_gateway_is_idempotent_and_plays_configured_failures() {
        let g = SimulatedGateway::new(SimulatedFailures {
            declined_methods: [PaymentMethod::Points].into(),
            refunds_unavailable: true,
            ..Default::default()
        });
        let auth = g
            .authorize("k", PaymentMethod::KakaoPayCard, 1000)
            .await
            .unwrap();
        assert_eq!(
            g.authorize("k", PaymentMethod::KakaoPayCard, 1000)
                .await
                .unwrap(),
            auth
        );
        assert_eq!(g.open_authorizations(), 1, "held, not taken");
        let a = g.capture("c", &auth, 1000).await.unwrap();
        assert_eq!(g.capture("c", &auth, 1000).await.unwrap(), a);
        assert_eq!(g.open_authorizations(), 0);
        assert!(matches!(
            g.authorize("p", PaymentMethod::Points, 1000).await,
            Err(PaymentError::Declined(_))
        ));
        assert!(matches!(
            g.refund("r", &a, 1000).await,
            Err(PaymentError::Unavailable(_))
        ));
        g.set_failures(SimulatedFailures::default());
        let r = g.refund("r", &a, 1000).await.unwrap();
        assert_eq!(g.refund("r", &a, 1000).await.unwrap(), r);
        assert_eq!(g.moved(), (1, 1));
        let voided = g
            .authorize("v", PaymentMethod::CreditCard, 500)
            .await
            .unwrap();
        g.void("v-void", &voided).await.unwrap();
        assert!(
            g.capture("v-capture", &voided, 500).await.is_err(),
            "a voided authorisation is never captured"
        );
        assert_eq!(g.open_authorizations(), 0);
    }
}
