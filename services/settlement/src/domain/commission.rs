//! The reservation-management fee (commission): charged per reservation line (예약상세번호) on
//! what the customer paid, at a rate that depends on the payment method, and only on paid lines
//! (none for reservation-only). The rates are configuration, each with the date it takes effect;
//! the rate in force on the line's 이용완료 date applies (the commission tax invoice uses the
//! fee as of that date, domain.md §2.4).
//!
//! No public rate exists (the sources say the fee differs by method and, for cards, by the
//! merchant's sales grade): the defaults below are this project's, documented in the README.
use std::collections::BTreeMap;

use jiff::civil::Date;
use yeyak_proto::reservations::events::v1::PaymentMethod;

use super::SettlementError;

/// Highest rate accepted in configuration: 30 %.
pub const MAX_COMMISSION_BPS: u32 = 3_000;

/// The default table: `method=bps@effective-date`, separated by commas.
pub const DEFAULT_RATES: &str = "kakao_pay_card=330@2026-01-01,kakao_pay_money=220@2026-01-01,\
                                 credit_card=350@2026-01-01,points=250@2026-01-01";

/// The methods a rate is given for, by their configuration name.
pub const METHODS: [(&str, PaymentMethod); 4] = [
    ("kakao_pay_card", PaymentMethod::KakaoPayCard),
    ("kakao_pay_money", PaymentMethod::KakaoPayMoney),
    ("credit_card", PaymentMethod::CreditCard),
    ("points", PaymentMethod::Points),
];

/// Commission rates by payment method, each a list of (effective date, basis points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionTable {
    rates: BTreeMap<i32, Vec<(Date, u32)>>,
}

impl Default for CommissionTable {
    fn default() -> Self {
        Self::parse(DEFAULT_RATES).expect("the default rates parse")
    }
}

impl CommissionTable {
    /// Reads `method=bps@YYYY-MM-DD,...`. Every method needs a rate; each rate is at most
    /// [`MAX_COMMISSION_BPS`]; a method's first rate also applies before its date.
    pub fn parse(text: &str) -> Result<Self, SettlementError> {
        let bad = |why: String| SettlementError::CommissionTableInvalid(why);
        let mut rates: BTreeMap<i32, Vec<(Date, u32)>> = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (method, rest) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("`{item}` is not method=bps@date")))?;
            let (bps, date) = rest
                .split_once('@')
                .ok_or_else(|| bad(format!("`{item}` has no @effective-date")))?;
            let method = METHODS
                .iter()
                .find(|(name, _)| *name == method.trim())
                .ok_or_else(|| bad(format!("`{method}` is no payment method")))?
                .1;
            let bps: u32 = bps
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{bps}` is no number of basis points")))?;
            if bps > MAX_COMMISSION_BPS {
                return Err(SettlementError::CommissionAboveMaximum(bps));
            }
            let date: Date = date
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{date}` is no date (YYYY-MM-DD)")))?;
            let list = rates.entry(method as i32).or_default();
            if list.iter().any(|(d, _)| *d == date) {
                return Err(bad(format!(
                    "two rates for {} from {date}",
                    method_name(method)
                )));
            }
            list.push((date, bps));
        }
        for (name, method) in METHODS {
            match rates.get_mut(&(method as i32)) {
                Some(list) => list.sort_unstable(),
                None => return Err(bad(format!("no rate for {name}"))),
            }
        }
        Ok(Self { rates })
    }

    /// The rate in force for `method` on `day`: the latest taking effect on or before it (the
    /// first when none has yet). A line paid by no known method (recorded before the method
    /// was) is charged the credit card rate.
    pub fn rate_on(&self, method: PaymentMethod, day: Date) -> u32 {
        let method = match method {
            PaymentMethod::Unspecified => PaymentMethod::CreditCard,
            m => m,
        };
        let list = &self.rates[&(method as i32)];
        list.iter()
            .rev()
            .find(|(from, _)| *from <= day)
            .or(list.first())
            .map_or(0, |(_, bps)| *bps)
    }

    /// Every rate, by method, for the README and operations.
    pub fn entries(&self) -> impl Iterator<Item = (PaymentMethod, Date, u32)> + '_ {
        self.rates.iter().flat_map(|(m, list)| {
            let method = PaymentMethod::try_from(*m).unwrap_or_default();
            list.iter().map(move |(d, bps)| (method, *d, *bps))
        })
    }
}

/// A method's configuration name.
pub fn method_name(method: PaymentMethod) -> &'static str {
    METHODS
        .iter()
        .find(|(_, m)| *m == method)
        .map_or("unspecified", |(name, _)| name)
}

/// Commission on `paid_krw` at `bps` basis points, rounded half up to the won; none on nothing.
pub fn commission(paid_krw: i64, bps: u32) -> i64 {
    if paid_krw <= 0 {
        return 0;
    }
    (paid_krw * i64::from(bps) + 5_000) / 10_000
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn the_rate_depends_on_the_payment_method() {
        let table = CommissionTable::default();
        let day = date(2026, 12, 1);
        assert_eq!(table.rate_on(PaymentMethod::KakaoPayCard, day), 330);
        assert_eq!(table.rate_on(PaymentMethod::KakaoPayMoney, day), 220);
        assert_eq!(table.rate_on(PaymentMethod::CreditCard, day), 350);
        assert_eq!(table.rate_on(PaymentMethod::Points, day), 250);
    }

    #[test]
    fn a_new_rate_applies_from_its_effective_date_and_not_the_day_before() {
        let table = CommissionTable::parse(
            "kakao_pay_card=330@2026-01-01,kakao_pay_card=300@2027-01-01,\
             kakao_pay_money=1@2026-01-01,credit_card=1@2026-01-01,points=1@2026-01-01",
        )
        .unwrap();
        assert_eq!(
            table.rate_on(PaymentMethod::KakaoPayCard, date(2026, 12, 31)),
            330
        );
        assert_eq!(
            table.rate_on(PaymentMethod::KakaoPayCard, date(2027, 1, 1)),
            300
        );
        // Before the first rate: the first applies.
        assert_eq!(
            table.rate_on(PaymentMethod::KakaoPayCard, date(2025, 6, 1)),
            330
        );
    }

    #[test]
    fn a_table_missing_a_method_or_above_the_maximum_is_refused() {
        assert!(matches!(
            CommissionTable::parse("kakao_pay_card=330@2026-01-01"),
            Err(SettlementError::CommissionTableInvalid(why)) if why.contains("kakao_pay_money")
        ));
        assert_eq!(
            CommissionTable::parse(
                "kakao_pay_card=3001@2026-01-01,kakao_pay_money=1@2026-01-01,\
                 credit_card=1@2026-01-01,points=1@2026-01-01"
            ),
            Err(SettlementError::CommissionAboveMaximum(3_001))
        );
        for bad in [
            "cash=1@2026-01-01",
            "points=x@2026-01-01",
            "points=1@soon",
            "points=1",
        ] {
            assert!(
                matches!(
                    CommissionTable::parse(bad),
                    Err(SettlementError::CommissionTableInvalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn commission_rounds_half_up_to_the_won_and_is_none_on_nothing_paid() {
        assert_eq!(commission(15, 3_333), 5);
        assert_eq!(commission(1, 5_000), 1);
        assert_eq!(commission(1, 4_999), 0);
        assert_eq!(commission(0, 3_000), 0);
        assert_eq!(commission(-5, 3_000), 0);
    }

    proptest::proptest! {
        #[test]
        fn commission_never_exceeds_what_was_paid(paid in 0i64..1_000_000_000, bps in 0u32..=MAX_COMMISSION_BPS) {
            let c = commission(paid, bps);
            proptest::prop_assert!(c >= 0 && c <= paid);
        }
    }
}
