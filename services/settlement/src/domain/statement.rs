//! Statements: a partner's money by payout day (정산예정일), for one day or one month, as the
//! ledger folds — what each day's postings add up to and how the day was settled.
use jiff::civil::Date;

use super::{
    SettlementError,
    ledger::{PartnerLedger, PayoutState},
};

/// What a statement covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day(Date),
    /// Year and month.
    Month(i16, i8),
}

impl Period {
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Self, SettlementError> {
        let bad = || SettlementError::PeriodInvalid(text.to_string());
        if text.len() == 10 {
            return text.parse::<Date>().map(Period::Day).map_err(|_| bad());
        }
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let year: i16 = year.parse().map_err(|_| bad())?;
        let month: i8 = month.parse().map_err(|_| bad())?;
        Date::new(year, month, 1).map_err(|_| bad())?;
        Ok(Period::Month(year, month))
    }

    pub fn contains(&self, day: Date) -> bool {
        match self {
            Period::Day(d) => *d == day,
            Period::Month(y, m) => day.year() == *y && day.month() == *m,
        }
    }
}

/// How a payout day ended up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DayState {
    /// Not yet settled (정산예정).
    #[default]
    Scheduled,
    /// Settled with nothing to pay out.
    NothingToPay,
    /// Settled with a payout, where the payout is.
    Payout(PayoutState),
    /// Its own batch never ran; the settlement of this later payout day took its postings.
    SettledIn(Date),
}

/// One payout day of a statement (or the total of several).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementDay {
    pub day: Option<Date>,
    pub sales: i64,
    pub commission: i64,
    pub reversals: i64,
    pub adjustments: i64,
    pub payable: i64,
    pub balance_applied: i64,
    pub payout: i64,
    pub state: DayState,
}

/// The payout days of `period` the partner has money on, oldest first.
pub fn days(ledger: &PartnerLedger, period: Period) -> Vec<StatementDay> {
    ledger
        .days
        .iter()
        .filter(|(day, _)| period.contains(**day))
        .map(|(day, sheet)| {
            let settled = sheet.settled.as_ref();
            let state = match (settled, sheet.settled_in) {
                // Paid with a later day's settlement (its own batch never ran).
                (None, Some(later)) => DayState::SettledIn(later),
                (None, None) => DayState::Scheduled,
                (Some(s), _) if s.payout_id.is_empty() => DayState::NothingToPay,
                (Some(s), _) => DayState::Payout(
                    ledger
                        .payouts
                        .get(&s.payout_id)
                        .map_or(PayoutState::Instructed, |p| p.state.clone()),
                ),
            };
            StatementDay {
                day: Some(*day),
                sales: sheet.sales,
                commission: sheet.commission,
                reversals: sheet.reversals,
                adjustments: sheet.adjustments,
                payable: settled.map_or(sheet.payable, |s| s.payable_krw),
                balance_applied: settled.map_or(0, |s| s.balance_applied_krw),
                payout: settled.map_or(0, |s| s.payout_krw),
                state,
            }
        })
        .collect()
}

/// The sums of several days.
pub fn total(days: &[StatementDay]) -> StatementDay {
    days.iter().fold(StatementDay::default(), |mut t, d| {
        t.sales += d.sales;
        t.commission += d.commission;
        t.reversals += d.reversals;
        t.adjustments += d.adjustments;
        t.payable += d.payable;
        t.balance_applied += d.balance_applied;
        t.payout += d.payout;
        t
    })
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_period_is_a_day_or_a_month() {
        assert_eq!(
            Period::parse("2026-10-06"),
            Ok(Period::Day(date(2026, 10, 6)))
        );
        assert_eq!(Period::parse("2026-10"), Ok(Period::Month(2026, 10)));
        for bad in ["2026-13", "2026-1", "26-10", "2026-02-30", "", "october"] {
            assert_eq!(
                Period::parse(bad),
                Err(SettlementError::PeriodInvalid(bad.into())),
                "{bad}"
            );
        }
        assert!(Period::Month(2026, 10).contains(date(2026, 10, 31)));
        assert!(!Period::Month(2026, 10).contains(date(2026, 11, 1)));
    }
}
