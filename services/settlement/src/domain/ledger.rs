//! The partner's ledger (`ledger-<partner>`): the postings of its reservations' entries and of
//! operations' adjustments, the daily settlements, the payouts and the balance (충전금). Money is
//! never changed in place; every figure here is a fold.
//!
//! A payout day's settlement takes every posting payable on or before the day and not yet
//! settled. A negative balance is paid back from it first (마이너스 충전금 상계); when what is
//! payable is negative (a refund after payout with nothing to net against that day) it is
//! deducted from the balance (충전금 차감), which may go negative and is netted later.
use std::collections::BTreeMap;

use jiff::civil::Date;
use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    settlement::events::v1::{
        BalanceDeposited, BalanceWithdrawn, DaySettled, EntriesPosted, PayoutFailed, PayoutHeld,
        PayoutHoldSet, PayoutInstructed, PayoutKind, PayoutReleased, PayoutTransferred,
        SettlementLineRecorded,
    },
    time::{from_micros, to_micros},
};

use super::{
    SettlementError,
    payout_day::{day_of, payable_on, text},
};

/// The most a partner withdraws from its balance at a time: ₩1,000,000,000.
pub const MAX_WITHDRAWAL_KRW: i64 = 1_000_000_000;
/// The most one deposit or adjustment moves: ₩1,000,000,000.
pub const MAX_AMOUNT_KRW: i64 = 1_000_000_000;
/// Why a payout waits when the partner has no verified settlement account.
pub const NO_VERIFIED_ACCOUNT: &str = "no verified settlement account";

yeyak_kit::event_set! {
    /// What happens on a partner's ledger.
    pub enum LedgerEvent {
        /// Written before the per-line ledger; skipped by the fold.
        Legacy(SettlementLineRecorded),
        Posted(EntriesPosted),
        DaySettled(DaySettled),
        Instructed(PayoutInstructed),
        Transferred(PayoutTransferred),
        Failed(PayoutFailed),
        Held(PayoutHeld),
        Released(PayoutReleased),
        HoldSet(PayoutHoldSet),
        Deposited(BalanceDeposited),
        Withdrawn(BalanceWithdrawn),
    }
}

impl LedgerEvent {
    /// When it happened (UTC microseconds); 0 when it says not.
    pub fn occurred_at_us(&self) -> i64 {
        let at = match self {
            LedgerEvent::Legacy(_) => None,
            LedgerEvent::Posted(e) => e.occurred_at,
            LedgerEvent::DaySettled(e) => e.occurred_at,
            LedgerEvent::Instructed(e) => e.occurred_at,
            LedgerEvent::Transferred(e) => e.occurred_at,
            LedgerEvent::Failed(e) => e.occurred_at,
            LedgerEvent::Held(e) => e.occurred_at,
            LedgerEvent::Released(e) => e.occurred_at,
            LedgerEvent::HoldSet(e) => e.occurred_at,
            LedgerEvent::Deposited(e) => e.occurred_at,
            LedgerEvent::Withdrawn(e) => e.occurred_at,
        };
        at.and_then(|t| to_micros(&t)).unwrap_or(0)
    }
}

/// Where a payout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutState {
    /// Waiting for the provider.
    Instructed,
    /// 지급 보류, with the reason.
    Held(String),
    /// 송금, with the provider's transfer id.
    Transferred(String),
    /// 충전금 적립: the transfer failed, with the reason; the amount is in the balance.
    CreditedToBalance(String),
}

/// A payout instructed by a daily settlement or a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: String,
    pub kind: PayoutKind,
    pub day: String,
    pub amount: i64,
    pub state: PayoutState,
    /// Of a daily settlement: what was payable and what the balance gave (or took).
    pub payable: i64,
    pub balance_applied: i64,
    pub instructed_at_us: i64,
}

/// What a payout day adds up to, from the postings payable on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaySheet {
    pub sales: i64,
    pub commission: i64,
    pub reversals: i64,
    pub adjustments: i64,
    pub platform_discount: i64,
    pub payable: i64,
    pub settled: Option<DaySettled>,
    /// A day whose own batch never ran: the later payout day whose settlement took its postings.
    pub settled_in: Option<Date>,
}

/// The partner's money as its ledger folds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerLedger {
    /// Paid, not yet completed.
    pub pending: i64,
    /// Postings payable and not yet settled: (payout day, amount).
    pub unsettled: Vec<(Date, i64)>,
    /// 충전금.
    pub balance: i64,
    pub payouts: BTreeMap<String, Payout>,
    pub days: BTreeMap<Date, DaySheet>,
    /// Operations hold every payout, for this reason.
    pub hold: Option<String>,
    pub transferred: i64,
    pub deposits: i64,
}

impl PartnerLedger {
    /// Payable and not yet settled.
    pub fn payable(&self) -> i64 {
        self.unsettled.iter().map(|(_, a)| a).sum()
    }

    /// Instructed or held, not yet transferred.
    pub fn in_flight(&self) -> i64 {
        self.payouts
            .values()
            .filter(|p| matches!(p.state, PayoutState::Instructed | PayoutState::Held(_)))
            .map(|p| p.amount)
            .sum()
    }

    /// Everything the partner's money is in: what reconciliation balances against.
    pub fn holdings(&self) -> i64 {
        self.pending + self.payable() + self.in_flight() + self.balance
    }

    fn apply(&mut self, event: LedgerEvent) {
        let at = event.occurred_at_us();
        match event {
            LedgerEvent::Legacy(_) => {}
            LedgerEvent::Posted(p) => {
                self.pending += p.pending_krw;
                if let Ok(day) = p.payable_on.parse::<Date>() {
                    self.unsettled.push((day, p.payable_krw));
                    let sheet = self.days.entry(day).or_default();
                    sheet.sales += p.sales_krw;
                    sheet.commission += p.commission_krw;
                    sheet.reversals += p.reversals_krw;
                    sheet.adjustments += p.adjustments_krw;
                    sheet.platform_discount += p.platform_discount_krw;
                    sheet.payable += p.payable_krw;
                }
            }
            LedgerEvent::DaySettled(s) => {
                let Ok(day) = s.day.parse::<Date>() else {
                    return;
                };
                self.unsettled.retain(|(d, _)| *d > day);
                for (d, sheet) in self.days.range_mut(..day) {
                    if sheet.settled.is_none() && sheet.settled_in.is_none() && *d < day {
                        sheet.settled_in = Some(day);
                    }
                }
                self.balance -= s.balance_applied_krw;
                if !s.payout_id.is_empty() {
                    let state = if s.held_reason.is_empty() {
                        PayoutState::Instructed
                    } else {
                        PayoutState::Held(s.held_reason.clone())
                    };
                    self.payouts.insert(
                        s.payout_id.clone(),
                        Payout {
                            id: s.payout_id.clone(),
                            kind: PayoutKind::Settlement,
                            day: s.day.clone(),
                            amount: s.payout_krw,
                            state,
                            payable: s.payable_krw,
                            balance_applied: s.balance_applied_krw,
                            instructed_at_us: at,
                        },
                    );
                }
                self.days.entry(day).or_default().settled = Some(s);
            }
            LedgerEvent::Instructed(i) => {
                let state = if i.held_reason.is_empty() {
                    PayoutState::Instructed
                } else {
                    PayoutState::Held(i.held_reason.clone())
                };
                self.payouts.insert(
                    i.payout_id.clone(),
                    Payout {
                        id: i.payout_id,
                        kind: PayoutKind::try_from(i.kind).unwrap_or_default(),
                        day: i.day,
                        amount: i.amount_krw,
                        state,
                        payable: 0,
                        balance_applied: 0,
                        instructed_at_us: at,
                    },
                );
            }
            LedgerEvent::Transferred(t) => {
                if let Some(p) = self.payouts.get_mut(&t.payout_id) {
                    p.state = PayoutState::Transferred(t.transfer_id);
                    self.transferred += p.amount;
                }
            }
            LedgerEvent::Failed(f) => {
                if let Some(p) = self.payouts.get_mut(&f.payout_id) {
                    p.state = PayoutState::CreditedToBalance(f.reason);
                    self.balance += p.amount;
                }
            }
            LedgerEvent::Held(h) => {
                if let Some(p) = self.payouts.get_mut(&h.payout_id) {
                    p.state = PayoutState::Held(h.reason);
                }
            }
            LedgerEvent::Released(r) => {
                if let Some(p) = self.payouts.get_mut(&r.payout_id) {
                    p.state = PayoutState::Instructed;
                }
            }
            LedgerEvent::HoldSet(h) => self.hold = h.held.then_some(h.reason),
            LedgerEvent::Deposited(d) => {
                self.balance += d.amount_krw;
                self.deposits += d.amount_krw;
            }
            LedgerEvent::Withdrawn(w) => self.balance -= w.amount_krw,
        }
    }
}

/// What the payout provider answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    Transferred {
        transfer_id: String,
    },
    /// Refused for good (a closed account, say): the amount goes to the balance.
    Failed {
        reason: String,
    },
    /// Not sent: the payout waits, with the reason.
    Held {
        reason: String,
    },
}

/// What the partner's ledger is asked; `now_us` is the business time of the decision.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerCommand {
    Post(EntriesPosted),
    SettleDay {
        day: Date,
        payout_id: String,
    },
    Outcome {
        payout_id: String,
        outcome: TransferOutcome,
    },
    SetHold {
        held: bool,
        reason: String,
    },
    Release {
        payout_id: String,
        by: String,
    },
    Deposit {
        deposit_id: String,
        amount: i64,
        reference: String,
    },
    Withdraw {
        withdrawal_id: String,
        payout_id: String,
        amount: i64,
        account_verified: bool,
    },
    Adjust {
        posting_id: String,
        amount: i64,
        reason: String,
    },
}

/// The partner and the business time of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerContext {
    pub partner_id: String,
    pub now_us: i64,
}

impl Aggregate for PartnerLedger {
    type Event = LedgerEvent;
    type Command = LedgerCommand;
    type Context = LedgerContext;
    type Decision = Vec<LedgerEvent>;
    type Error = SettlementError;

    fn evolve(&mut self, event: LedgerEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: LedgerCommand,
        c: &LedgerContext,
    ) -> Result<Vec<LedgerEvent>, SettlementError> {
        let at = Some(from_micros(c.now_us));
        let partner_id = c.partner_id.clone();
        Ok(match command {
            LedgerCommand::Post(p) => vec![p.into()],
            LedgerCommand::SettleDay { day, payout_id } => self.settle(day, payout_id, c),
            LedgerCommand::Outcome { payout_id, outcome } => {
                let payout = self
                    .payouts
                    .get(&payout_id)
                    .ok_or_else(|| SettlementError::PayoutNotFound(payout_id.clone()))?;
                if payout.state != PayoutState::Instructed {
                    // Answered already (a retry), or held meanwhile: nothing new.
                    return Ok(vec![]);
                }
                let amount_krw = payout.amount;
                vec![match outcome {
                    TransferOutcome::Transferred { transfer_id } => PayoutTransferred {
                        payout_id,
                        partner_id,
                        amount_krw,
                        transfer_id,
                        occurred_at: at,
                    }
                    .into(),
                    TransferOutcome::Failed { reason } => PayoutFailed {
                        payout_id,
                        partner_id,
                        amount_krw,
                        reason,
                        occurred_at: at,
                    }
                    .into(),
                    TransferOutcome::Held { reason } => PayoutHeld {
                        payout_id,
                        partner_id,
                        reason,
                        occurred_at: at,
                    }
                    .into(),
                }]
            }
            LedgerCommand::SetHold { held, reason } => {
                if self.hold.is_some() == held && (!held || self.hold.as_ref() == Some(&reason)) {
                    return Ok(vec![]);
                }
                let mut out: Vec<LedgerEvent> = vec![
                    PayoutHoldSet {
                        partner_id: partner_id.clone(),
                        held,
                        reason: reason.clone(),
                        occurred_at: at,
                    }
                    .into(),
                ];
                for p in self.payouts.values() {
                    match (&p.state, held) {
                        (PayoutState::Instructed, true) => out.push(
                            PayoutHeld {
                                payout_id: p.id.clone(),
                                partner_id: partner_id.clone(),
                                reason: reason.clone(),
                                occurred_at: at,
                            }
                            .into(),
                        ),
                        (PayoutState::Held(_), false) => out.push(
                            PayoutReleased {
                                payout_id: p.id.clone(),
                                partner_id: partner_id.clone(),
                                released_by: "hold lifted".into(),
                                occurred_at: at,
                            }
                            .into(),
                        ),
                        _ => {}
                    }
                }
                out
            }
            LedgerCommand::Release { payout_id, by } => {
                let payout = self
                    .payouts
                    .get(&payout_id)
                    .ok_or_else(|| SettlementError::PayoutNotFound(payout_id.clone()))?;
                if !matches!(payout.state, PayoutState::Held(_)) {
                    return Err(SettlementError::PayoutNotHeld(payout_id));
                }
                vec![
                    PayoutReleased {
                        payout_id,
                        partner_id,
                        released_by: by,
                        occurred_at: at,
                    }
                    .into(),
                ]
            }
            LedgerCommand::Deposit {
                deposit_id,
                amount,
                reference,
            } => {
                within_limit(amount, MAX_AMOUNT_KRW)?;
                vec![
                    BalanceDeposited {
                        deposit_id,
                        partner_id,
                        amount_krw: amount,
                        reference,
                        occurred_at: at,
                    }
                    .into(),
                ]
            }
            LedgerCommand::Withdraw {
                withdrawal_id,
                payout_id,
                amount,
                account_verified,
            } => {
                if amount > MAX_WITHDRAWAL_KRW {
                    return Err(SettlementError::WithdrawalAboveLimit(amount));
                }
                within_limit(amount, MAX_WITHDRAWAL_KRW)?;
                if amount > self.balance {
                    return Err(SettlementError::BalanceInsufficient {
                        balance: self.balance,
                        asked: amount,
                    });
                }
                if !account_verified {
                    return Err(SettlementError::AccountNotVerified);
                }
                vec![
                    BalanceWithdrawn {
                        withdrawal_id,
                        partner_id: partner_id.clone(),
                        amount_krw: amount,
                        payout_id: payout_id.clone(),
                        occurred_at: at,
                    }
                    .into(),
                    PayoutInstructed {
                        payout_id,
                        partner_id,
                        kind: PayoutKind::Withdrawal as i32,
                        amount_krw: amount,
                        day: text(day_of(c.now_us)),
                        occurred_at: at,
                        held_reason: self.hold.clone().unwrap_or_default(),
                    }
                    .into(),
                ]
            }
            LedgerCommand::Adjust {
                posting_id,
                amount,
                reason,
            } => {
                if amount == 0 || amount.abs() > MAX_AMOUNT_KRW {
                    return Err(SettlementError::AmountOutOfRange(amount));
                }
                vec![
                    EntriesPosted {
                        posting_id: posting_id.clone(),
                        partner_id,
                        source_event_id: posting_id,
                        occurred_at: at,
                        payable_on: text(payable_on(day_of(c.now_us))),
                        payable_krw: amount,
                        adjustments_krw: amount,
                        reason,
                        ..Default::default()
                    }
                    .into(),
                ]
            }
        })
    }
}

/// A positive amount no larger than `max`.
fn within_limit(amount: i64, max: i64) -> Result<(), SettlementError> {
    if amount <= 0 || amount > max {
        return Err(SettlementError::AmountOutOfRange(amount));
    }
    Ok(())
}

impl PartnerLedger {
    /// The settlement of payout day `day`: once per partner and day, and only when something is
    /// payable by then.
    fn settle(&self, day: Date, payout_id: String, c: &LedgerContext) -> Vec<LedgerEvent> {
        if self.days.get(&day).is_some_and(|s| s.settled.is_some()) {
            return vec![];
        }
        let due: Vec<i64> = self
            .unsettled
            .iter()
            .filter(|(d, _)| *d <= day)
            .map(|(_, a)| *a)
            .collect();
        if due.is_empty() {
            return vec![];
        }
        let payable: i64 = due.iter().sum();
        let applied = if payable >= 0 {
            -payable.min((-self.balance).max(0))
        } else {
            -payable
        };
        let payout = payable + applied;
        vec![
            DaySettled {
                partner_id: c.partner_id.clone(),
                day: text(day),
                payable_krw: payable,
                balance_applied_krw: applied,
                payout_krw: payout,
                payout_id: if payout > 0 { payout_id } else { String::new() },
                postings: due.len() as u32,
                occurred_at: Some(from_micros(c.now_us)),
                held_reason: if payout > 0 {
                    self.hold.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            }
            .into(),
        ]
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
