//! The settlement's business rules (domain.md §2.4, §3.3): a completed reservation becomes one
//! ledger line and money given back after completion one reversing line, with the
//! reservation-management fee (commission) charged only when the customer paid ([`ledger`]);
//! who sees the ledger ([`access`]). Pure functions of state, command and facts; no I/O.
//!
//! Events are the generated `yeyak.settlement.events.v1` messages.

pub mod access;
pub mod ledger;

pub use ledger::{CommissionRate, MAX_COMMISSION_BPS};

/// Why the settlement refused something: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error(
        "a commission of {0} basis points is above the highest accepted, {MAX_COMMISSION_BPS} (30 %)"
    )]
    CommissionAboveMaximum(u32),
}

impl SettlementError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            SettlementError::CommissionAboveMaximum(_) => "COMMISSION_ABOVE_MAXIMUM",
        }
    }
}
