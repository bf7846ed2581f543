//! The settlement's business rules (domain.md §2.4, §3.3), pure functions of state, command and
//! facts; no I/O:
//! - [`facts`]: the reservations' facts with money in them;
//! - [`account`]: a reservation's lines and their ledger entries (pending → payable, commission,
//!   refunds, reversals);
//! - [`commission`]: the rate by payment method, with effective dates;
//! - [`payout_day`]: 이용완료 + 1 business day, the batch's hour;
//! - [`ledger`]: the partner's postings, daily settlements, payouts and balance (충전금);
//! - [`statement`], [`reconciliation`]: what the ledger adds up to;
//! - [`seller`]: settlement information and KYC, which decide whether paid products may be sold;
//! - [`access`]: who sees a partner's settlement.
//!
//! Events are the generated `yeyak.settlement.events.v1` messages.

pub mod access;
pub mod account;
pub mod commission;
pub mod facts;
pub mod ledger;
pub mod payout_day;
pub mod reconciliation;
pub mod seller;
pub mod statement;

pub use commission::{CommissionTable, MAX_COMMISSION_BPS};

/// Why the settlement refused something: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error(
        "a commission of {0} basis points is above the highest accepted, {MAX_COMMISSION_BPS} (30 %)"
    )]
    CommissionAboveMaximum(u32),
    #[error("the commission table is invalid: {0}")]
    CommissionTableInvalid(String),
    #[error("an amount must be a positive number of won no larger than ₩1,000,000,000, not {0}")]
    AmountOutOfRange(i64),
    #[error("at most ₩1,000,000,000 is withdrawn at a time, not ₩{0}")]
    WithdrawalAboveLimit(i64),
    #[error("the balance is ₩{balance}; ₩{asked} cannot be withdrawn")]
    BalanceInsufficient { balance: i64, asked: i64 },
    #[error("the partner has no verified settlement account to transfer to")]
    AccountNotVerified,
    #[error("no payout {0} on this partner's ledger")]
    PayoutNotFound(String),
    #[error("payout {0} is not held")]
    PayoutNotHeld(String),
    #[error("`{0}` is not a payout day's batch: payout days are business days, from 10:00 KST")]
    BatchNotOpen(String),
    #[error("`{0}` is neither a day (YYYY-MM-DD) nor a month (YYYY-MM)")]
    PeriodInvalid(String),
    #[error("the business type (individual or corporation) is required")]
    BusinessTypeMissing,
    #[error(
        "the settlement account must be in the business owner's name: the holder is `{holder}`, the owner `{owner}`"
    )]
    AccountHolderNotOwner { holder: String, owner: String },
    #[error("documents missing: {0}")]
    DocumentsMissing(String),
    #[error("the mail-order business registration (통신판매업 신고) or an exemption is required")]
    MailOrderMissing,
    #[error("a registered mail-order business needs its registration number (신고번호)")]
    MailOrderNumberMissing,
    #[error("there is no submission in review")]
    NothingToReview,
    #[error("a rejection needs a reason")]
    RejectionReasonMissing,
    #[error("the payout provider refused the account: {0}")]
    AccountRefused(String),
    #[error("the payout provider is unavailable: {0}")]
    ProviderUnavailable(String),
}

impl SettlementError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            SettlementError::CommissionAboveMaximum(_) => "COMMISSION_ABOVE_MAXIMUM",
            SettlementError::CommissionTableInvalid(_) => "COMMISSION_TABLE_INVALID",
            SettlementError::AmountOutOfRange(_) => "AMOUNT_OUT_OF_RANGE",
            SettlementError::WithdrawalAboveLimit(_) => "WITHDRAWAL_ABOVE_LIMIT",
            SettlementError::BalanceInsufficient { .. } => "BALANCE_INSUFFICIENT",
            SettlementError::AccountNotVerified => "ACCOUNT_NOT_VERIFIED",
            SettlementError::PayoutNotFound(_) => "PAYOUT_NOT_FOUND",
            SettlementError::PayoutNotHeld(_) => "PAYOUT_NOT_HELD",
            SettlementError::BatchNotOpen(_) => "BATCH_NOT_OPEN",
            SettlementError::PeriodInvalid(_) => "PERIOD_INVALID",
            SettlementError::BusinessTypeMissing => "BUSINESS_TYPE_MISSING",
            SettlementError::AccountHolderNotOwner { .. } => "ACCOUNT_HOLDER_NOT_OWNER",
            SettlementError::DocumentsMissing(_) => "DOCUMENTS_MISSING",
            SettlementError::MailOrderMissing => "MAIL_ORDER_MISSING",
            SettlementError::MailOrderNumberMissing => "MAIL_ORDER_NUMBER_MISSING",
            SettlementError::NothingToReview => "NOTHING_TO_REVIEW",
            SettlementError::RejectionReasonMissing => "REJECTION_REASON_MISSING",
            SettlementError::AccountRefused(_) => "ACCOUNT_REFUSED",
            SettlementError::ProviderUnavailable(_) => "PROVIDER_UNAVAILABLE",
        }
    }
}
