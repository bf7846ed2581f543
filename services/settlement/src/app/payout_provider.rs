//! The payout provider (a bank's firm-banking or a payment company's transfer API) behind a
//! trait: registering a settlement account (the provider keeps the number and answers a
//! reference) and transferring to it, each with an idempotency key. [`SimulatedPayouts`] serves
//! the embedded default and the tests, with failures that can be configured.
use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

/// Why the provider did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// For good (a closed account, a holder mismatch).
    #[error("refused: {0}")]
    Refused(String),
    /// For now (an outage): try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait PayoutProvider: Send + Sync + 'static {
    /// Registers a settlement account; answers the reference transfers name.
    async fn register_account(
        &self,
        key: &str,
        bank_code: &str,
        account_number: &str,
    ) -> Result<String, PayoutError>;

    /// Transfers `amount_krw` to a registered account; answers the transfer id. The same key
    /// transfers once.
    async fn transfer(
        &self,
        key: &str,
        account_ref: &str,
        amount_krw: i64,
    ) -> Result<String, PayoutError>;
}

/// Failures the simulated provider plays.
#[derive(Debug, Clone, Default)]
pub struct SimulatedFailures {
    /// Account numbers whose transfers are refused (closed accounts).
    pub refused_accounts: HashSet<String>,
    /// Every transfer fails as unavailable (an outage).
    pub transfers_unavailable: bool,
}

/// An in-memory payout provider.
#[derive(Default)]
pub struct SimulatedPayouts {
    failures: Mutex<SimulatedFailures>,
    /// Account reference → number.
    accounts: Mutex<HashMap<String, String>>,
    /// Idempotency key → (transfer id, amount).
    transfers: Mutex<HashMap<String, (String, i64)>>,
}

impl SimulatedPayouts {
    pub fn new(failures: SimulatedFailures) -> Self {
        Self {
            failures: Mutex::new(failures),
            ..Default::default()
        }
    }

    /// Changes the failures played from now on.
    pub fn set_failures(&self, failures: SimulatedFailures) {
        *self.failures.lock().expect("failures") = failures;
    }

    /// Failures from `YEYAK_PAYOUTS_REFUSE_ACCOUNTS` (comma-separated account numbers) and
    /// `YEYAK_PAYOUTS_UNAVAILABLE=true`.
    pub fn from_env() -> Self {
        let refused_accounts = std::env::var("YEYAK_PAYOUTS_REFUSE_ACCOUNTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        let transfers_unavailable =
            std::env::var("YEYAK_PAYOUTS_UNAVAILABLE").is_ok_and(|v| v == "true" || v == "1");
        Self::new(SimulatedFailures {
            refused_accounts,
            transfers_unavailable,
        })
    }

    /// Accounts registered.
    pub fn registered_accounts(&self) -> usize {
        self.accounts.lock().expect("accounts").len()
    }

    /// Money really transferred: each idempotency key once.
    pub fn transferred_krw(&self) -> i64 {
        self.transfers
            .lock()
            .expect("transfers")
            .values()
            .map(|(_, a)| a)
            .sum()
    }
}

#[async_trait::async_trait]
impl PayoutProvider for SimulatedPayouts {
    async fn register_account(
        &self,
        key: &str,
        bank_code: &str,
        account_number: &str,
    ) -> Result<String, PayoutError> {
        let reference = format!(
            "acct-{}",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes()).simple()
        );
        let _ = bank_code;
        self.accounts
            .lock()
            .expect("accounts")
            .insert(reference.clone(), account_number.to_string());
        Ok(reference)
    }

    async fn transfer(
        &self,
        key: &str,
        account_ref: &str,
        amount_krw: i64,
    ) -> Result<String, PayoutError> {
        if let Some((id, _)) = self.transfers.lock().expect("transfers").get(key) {
            return Ok(id.clone());
        }
        let failures = self.failures.lock().expect("failures").clone();
        if failures.transfers_unavailable {
            return Err(PayoutError::Unavailable("the provider is down".into()));
        }
        // An account registered before a restart is unknown to the simulation: its number is
        // not kept, so it is taken to be open.
        let number = self
            .accounts
            .lock()
            .expect("accounts")
            .get(account_ref)
            .cloned()
            .unwrap_or_default();
        if failures.refused_accounts.contains(&number) {
            return Err(PayoutError::Refused("the account is closed".into()));
        }
        let id = format!("transfer-{}", uuid::Uuid::new_v4().simple());
        self.transfers
            .lock()
            .expect("transfers")
            .insert(key.to_string(), (id.clone(), amount_krw));
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_simulated_provider_transfers_a_key_once_and_plays_configured_failures() {
        let provider = SimulatedPayouts::new(SimulatedFailures {
            refused_accounts: ["999".to_string()].into(),
            transfers_unavailable: false,
        });
        let open = provider.register_account("p1", "088", "123").await.unwrap();
        let closed = provider.register_account("p2", "088", "999").await.unwrap();
        let first = provider.transfer("k", &open, 100).await.unwrap();
        assert_eq!(provider.transfer("k", &open, 100).await.unwrap(), first);
        assert_eq!(provider.transferred_krw(), 100);
        assert!(matches!(
            provider.transfer("k2", &closed, 100).await,
            Err(PayoutError::Refused(_))
        ));
        provider.set_failures(SimulatedFailures {
            transfers_unavailable: true,
            ..Default::default()
        });
        assert!(matches!(
            provider.transfer("k3", &open, 1).await,
            Err(PayoutError::Unavailable(_))
        ));
    }
}
