//! Reconciliation: over any period, the money that came in and went out of a partner's ledger
//! equals what it holds more or less at the end than at the start:
//!
//! payments − refunds − commission + platform discounts + adjustments + deposits
//!   = payouts transferred + Δ(pending + payable + in flight + balance)
//!
//! The left side and the transfers are summed from what each event says happened; the holdings
//! are the ledger's own fold (the one the payouts are decided on) before and after the period.
//! A posting whose figures disagree, a settlement that settles more or less than it says, a
//! payout credited twice: each breaks the equality.
use yeyak_kit::command::Aggregate;

use super::ledger::{LedgerEvent, PartnerLedger};

/// One partner's (or every partner's) reconciliation over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    pub payments: i64,
    pub refunds: i64,
    pub commission: i64,
    pub platform_discount: i64,
    pub adjustments: i64,
    pub deposits: i64,
    pub transferred: i64,
    /// Holdings (pending + payable + in flight + balance) at the start and at the end.
    pub opening: i64,
    pub closing: i64,
}

impl Reconciliation {
    /// Money in less money out, as the events say.
    pub fn flows(&self) -> i64 {
        self.payments - self.refunds - self.commission
            + self.platform_discount
            + self.adjustments
            + self.deposits
    }

    pub fn balances_change(&self) -> i64 {
        self.closing - self.opening
    }

    /// Left side less right side: 0 when it holds.
    pub fn difference(&self) -> i64 {
        self.flows() - self.transferred - self.balances_change()
    }

    pub fn holds(&self) -> bool {
        self.difference() == 0
    }

    /// Adds another partner's figures.
    pub fn add(&mut self, o: &Reconciliation) {
        self.payments += o.payments;
        self.refunds += o.refunds;
        self.commission += o.commission;
        self.platform_discount += o.platform_discount;
        self.adjustments += o.adjustments;
        self.deposits += o.deposits;
        self.transferred += o.transferred;
        self.opening += o.opening;
        self.closing += o.closing;
    }
}

/// Reconciles one partner's ledger events (in stream order) over `[from_us, to_us)` by the time
/// each happened.
pub fn reconcile(
    events: impl IntoIterator<Item = LedgerEvent>,
    from_us: i64,
    to_us: i64,
) -> Reconciliation {
    let mut opening = PartnerLedger::default();
    let mut closing = PartnerLedger::default();
    let mut r = Reconciliation::default();
    for e in events {
        let at = e.occurred_at_us();
        if at >= to_us {
            continue;
        }
        if at < from_us {
            opening.evolve(e.clone());
            closing.evolve(e);
            continue;
        }
        match &e {
            LedgerEvent::Posted(p) => {
                r.payments += p.payments_krw;
                r.refunds += p.refunds_krw;
                r.commission += p.commission_krw;
                r.platform_discount += p.platform_discount_krw;
                r.adjustments += p.adjustments_krw;
            }
            LedgerEvent::Deposited(d) => r.deposits += d.amount_krw,
            LedgerEvent::Transferred(t) => r.transferred += t.amount_krw,
            _ => {}
        }
        closing.evolve(e);
    }
    r.opening = opening.holdings();
    r.closing = closing.holdings();
    r
}
