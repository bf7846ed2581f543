//! The payment provider behind a gateway a real one could implement — authorise, capture, void
//! and refund, each with an idempotency key. [`SimulatedGateway`] serves the embedded default
//! and the tests: Kakao Pay card, Kakao Pay money, credit card and points, with configurable
//! failures.
use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use yeyak_proto::reservations::events::v1::PaymentMethod;

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

#[cfg(test)]
mod tests {
    use super::*;

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
