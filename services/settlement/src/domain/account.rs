//! A reservation's account: the ledger entries of its lines (예약상세번호), on
//! `account-<reservation>`. A paid line is pending from its payment until 이용완료, then payable
//! on the completion date + 1 business day less the commission in force on that date; money
//! given back before completion leaves the pending money, a fee kept on a cancel becomes payable
//! like a completion, and money given back after completion is reversed from what is payable,
//! with exactly the commission it had been charged.
use std::collections::BTreeMap;

use jiff::civil::Date;
use yeyak_kit::{command::Aggregate, events::derived_id};
use yeyak_proto::{
    reservations::events::v1::{PaymentMethod, ReservationBooked},
    settlement::events::v1::{EntriesPosted, EntryKind, LedgerEntryRecorded},
    time::from_micros,
};

use super::{
    SettlementError,
    commission::{CommissionTable, commission},
    facts::SettlementFact,
    payout_day::{day_of, payable_on, text},
};

yeyak_kit::event_set! {
    /// What happens on a reservation's account.
    pub enum AccountEvent {
        Entry(LedgerEntryRecorded),
    }
}

/// One reservation line's money, as its entries fold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub paid: i64,
    /// Paid and not yet completed, given back or kept.
    pub pending: i64,
    pub completed: bool,
    /// Made payable (a completion, a kept fee).
    pub payable: i64,
    pub commission: i64,
    /// Given back after completion, and the commission given back with it.
    pub reversed: i64,
    pub commission_returned: i64,
}

/// The reservation's lines by number, and how it was paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub method: i32,
    pub lines: BTreeMap<u32, Line>,
}

/// What an account decision needs besides the account.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub rates: CommissionTable,
    /// When the fact happened (its event's business time).
    pub occurred_at_us: i64,
    pub source_event_id: String,
}

impl Account {
    fn apply(&mut self, e: &LedgerEntryRecorded) {
        if e.method != 0 {
            self.method = e.method;
        }
        let line = self.lines.entry(e.line_number).or_default();
        let amount = e.amount_krw;
        match EntryKind::try_from(e.kind).unwrap_or_default() {
            EntryKind::Payment => {
                line.paid += amount;
                line.pending += amount;
            }
            EntryKind::Refund => line.pending += amount,
            EntryKind::Completion => {
                line.pending -= amount;
                line.payable += amount;
                line.completed = true;
            }
            EntryKind::CancellationFee => {
                line.pending -= amount;
                line.payable += amount;
            }
            EntryKind::Commission => line.commission -= amount,
            EntryKind::Reversal => line.reversed -= amount,
            EntryKind::CommissionReturned => line.commission_returned += amount,
            EntryKind::Unspecified => {}
        }
    }
}

/// Splits `total` over `weights` in proportion, largest remainders first: each share at most its
/// weight, the shares adding up to `total` (or to all the weights when `total` is more).
pub fn distribute(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().map(|w| w.max(&0)).sum();
    let total = total.clamp(0, sum);
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let exact = i128::from(total) * i128::from((*w).max(0));
            ((exact / i128::from(sum)) as i64, exact % i128::from(sum))
        })
        .collect();
    let mut left = total - shares.iter().map(|(s, _)| s).sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(shares[*i].1));
    for i in order {
        if left == 0 {
            break;
        }
        if shares[i].0 < weights[i] {
            shares[i].0 += 1;
            left -= 1;
        }
    }
    shares.into_iter().map(|(s, _)| s).collect()
}

/// Builds the entries of one fact, numbered from the fact's event.
struct Entries<'a> {
    fact: &'a SettlementFact,
    context: &'a AccountContext,
    method: i32,
    day: Date,
    out: Vec<LedgerEntryRecorded>,
}

impl Entries<'_> {
    fn push(&mut self, line: u32, kind: EntryKind, amount: i64, payable: bool, bps: u32) {
        if amount == 0 {
            return;
        }
        let index = self.out.len() as u32;
        self.out.push(LedgerEntryRecorded {
            entry_id: derived_id("settlement-entry", &self.context.source_event_id, index)
                .to_string(),
            partner_id: self.fact.partner_id().to_string(),
            reservation_id: self.fact.reservation_id().to_string(),
            line_number: line,
            kind: kind as i32,
            amount_krw: amount,
            method: self.method,
            commission_bps: bps,
            occurred_on: text(self.day),
            payable_on: if payable {
                text(payable_on(self.day))
            } else {
                String::new()
            },
            source_event_id: self.context.source_event_id.clone(),
            occurred_at: Some(from_micros(self.context.occurred_at_us)),
            place_id: self.fact.place_id().to_string(),
        });
    }

    fn rate(&self) -> u32 {
        let method = PaymentMethod::try_from(self.method).unwrap_or_default();
        self.context.rates.rate_on(method, self.day)
    }

    /// Makes `amount` of a line payable as `kind`, less the commission in force today.
    fn make_payable(&mut self, line: u32, kind: EntryKind, amount: i64) {
        let bps = self.rate();
        self.push(line, kind, amount, true, 0);
        self.push(
            line,
            EntryKind::Commission,
            -commission(amount, bps),
            true,
            bps,
        );
    }

    /// Closes the given lines before completion: `refunded` goes back to the customer, the rest
    /// of their pending money is a fee the partner keeps.
    fn close(&mut self, account: &Account, numbers: &[u32], refunded: i64) {
        let lines: Vec<(u32, i64)> = numbers
            .iter()
            .filter_map(|n| account.lines.get(n).map(|l| (*n, l.pending)))
            .filter(|(_, pending)| *pending > 0)
            .collect();
        let pending: Vec<i64> = lines.iter().map(|(_, p)| *p).collect();
        let refunds = distribute(refunded, &pending);
        for ((number, pending), refund) in lines.into_iter().zip(refunds) {
            self.push(number, EntryKind::Refund, -refund, false, 0);
            self.make_payable(number, EntryKind::CancellationFee, pending - refund);
        }
    }

    /// Gives `refunded` back after completion, from what each line made payable.
    fn reverse(&mut self, account: &Account, refunded: i64) {
        let lines: Vec<(u32, &Line)> = account
            .lines
            .iter()
            .map(|(n, l)| (*n, l))
            .filter(|(_, l)| l.payable - l.reversed > 0)
            .collect();
        let left: Vec<i64> = lines.iter().map(|(_, l)| l.payable - l.reversed).collect();
        let shares = distribute(refunded, &left);
        // Money given back beyond what the lines made payable (a reservation settled before the
        // per-line ledger): still taken from the partner, on line 0, with no commission to return.
        let unmatched = refunded.max(0) - shares.iter().sum::<i64>();
        for ((number, line), share) in lines.into_iter().zip(shares) {
            if share == 0 {
                continue;
            }
            let charged = line.commission - line.commission_returned;
            let returned = if share == line.payable - line.reversed {
                charged
            } else {
                let exact = i128::from(line.commission) * i128::from(share);
                ((exact + i128::from(line.payable) / 2) / i128::from(line.payable.max(1))) as i64
            }
            .clamp(0, charged);
            self.push(number, EntryKind::Reversal, -share, true, 0);
            self.push(number, EntryKind::CommissionReturned, returned, true, 0);
        }
        self.push(0, EntryKind::Reversal, -unmatched, true, 0);
    }
}

/// The lines a booking paid for (one, from its summary, on a booking recorded before lines).
fn paid_lines(b: &ReservationBooked) -> Vec<(u32, i64)> {
    if b.lines.is_empty() {
        return vec![(1, b.paid_krw)];
    }
    b.lines
        .iter()
        .map(|l| (l.line_number, l.paid_krw))
        .collect()
}

impl Aggregate for Account {
    type Event = AccountEvent;
    type Command = SettlementFact;
    type Context = AccountContext;
    type Decision = Vec<LedgerEntryRecorded>;
    type Error = SettlementError;

    fn evolve(&mut self, event: AccountEvent) {
        let AccountEvent::Entry(e) = event;
        self.apply(&e);
    }

    fn decide(
        &self,
        fact: SettlementFact,
        context: &AccountContext,
    ) -> Result<Vec<LedgerEntryRecorded>, SettlementError> {
        let method = match &fact {
            SettlementFact::Booked(b) => b.payment_method,
            _ => self.method,
        };
        let mut entries = Entries {
            fact: &fact,
            context,
            method,
            day: day_of(context.occurred_at_us),
            out: Vec::new(),
        };
        let all: Vec<u32> = self.lines.keys().copied().collect();
        match &fact {
            SettlementFact::Booked(b) if self.lines.is_empty() => {
                for (number, paid) in paid_lines(b) {
                    entries.push(number, EntryKind::Payment, paid.max(0), false, 0);
                }
            }
            // Delivered again after its entries: nothing new.
            SettlementFact::Booked(_) => {}
            SettlementFact::LinesCancelled(c) => {
                entries.close(self, &c.line_numbers, c.refunded_krw);
            }
            SettlementFact::Cancelled(c) if c.after_completion => {
                entries.reverse(self, c.refunded_krw);
            }
            SettlementFact::Cancelled(c) => entries.close(self, &all, c.refunded_krw),
            SettlementFact::Rejected(r) => entries.close(self, &all, r.refunded_krw),
            SettlementFact::Expired(x) => entries.close(self, &all, x.refunded_krw),
            SettlementFact::Completed(c) => {
                // A reservation booked before settlement kept accounts: its payment now.
                let mut lines = self.clone();
                if lines.lines.is_empty() && c.paid_krw > 0 {
                    entries.push(1, EntryKind::Payment, c.paid_krw, false, 0);
                    lines.apply(&entries.out[0]);
                }
                for (number, line) in &lines.lines {
                    if !line.completed && line.pending > 0 {
                        entries.make_payable(*number, EntryKind::Completion, line.pending);
                    }
                }
            }
            SettlementFact::PaymentCancelled(c) => entries.reverse(self, c.refunded_krw),
        }
        Ok(entries.out)
    }
}

/// The effect of one fact's entries on the partner's money: one posting on its ledger.
pub fn posting(
    entries: &[LedgerEntryRecorded],
    posting_id: String,
    occurred_at_us: i64,
) -> Option<EntriesPosted> {
    let first = entries.first()?;
    let mut p = EntriesPosted {
        posting_id,
        partner_id: first.partner_id.clone(),
        reservation_id: first.reservation_id.clone(),
        source_event_id: first.source_event_id.clone(),
        occurred_at: Some(from_micros(occurred_at_us)),
        entry_count: entries.len() as u32,
        ..Default::default()
    };
    for e in entries {
        let a = e.amount_krw;
        if !e.payable_on.is_empty() {
            p.payable_on = e.payable_on.clone();
        }
        match EntryKind::try_from(e.kind).unwrap_or_default() {
            EntryKind::Payment => {
                p.payments_krw += a;
                p.pending_krw += a;
            }
            EntryKind::Refund => {
                p.refunds_krw -= a;
                p.pending_krw += a;
            }
            EntryKind::Completion | EntryKind::CancellationFee => {
                p.pending_krw -= a;
                p.payable_krw += a;
                p.sales_krw += a;
            }
            EntryKind::Commission | EntryKind::CommissionReturned => {
                p.commission_krw -= a;
                p.payable_krw += a;
            }
            EntryKind::Reversal => {
                p.refunds_krw -= a;
                p.reversals_krw -= a;
                p.payable_krw += a;
            }
            EntryKind::Unspecified => {}
        }
    }
    Some(p)
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
