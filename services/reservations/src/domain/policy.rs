//! Cancellation fees from the policy snapshot a reservation carries (domain.md §2.3, §3.2, G4):
//! fee tiers by time before use (KST), a full-refund window right after booking, an exclusive
//! deadline; refund = max(0, paid − fee).
use yeyak_kit::kst::{days_before_at, kst};
use yeyak_proto::catalog::events::v1::{
    CancellationKind, CancellationPolicy, cancellation_deadline::Kind,
};

use super::ReservationError;

/// 100 % in basis points.
pub const FULL_BPS: u32 = 10_000;

/// What a cancellation costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// The fee rate the rule gives, in basis points of the amount paid.
    pub fee_bps: u32,
    pub fee_krw: i64,
    pub refund_krw: i64,
}

impl Quote {
    pub fn at_rate(paid_krw: i64, fee_bps: u32) -> Self {
        let fee_bps = fee_bps.min(FULL_BPS);
        // In i128: exact for any amount.
        let fee_krw =
            (i128::from(paid_krw.max(0)) * i128::from(fee_bps) / i128::from(FULL_BPS)) as i64;
        Self {
            fee_bps,
            fee_krw,
            refund_krw: (paid_krw - fee_krw).max(0),
        }
    }

    /// A fixed fee; the refund never goes below zero.
    pub fn at_amount(paid_krw: i64, fee_krw: i64) -> Self {
        let paid = paid_krw.max(0);
        let fee_krw = fee_krw.max(0);
        Self {
            fee_bps: if paid == 0 {
                0
            } else {
                (fee_krw.saturating_mul(i64::from(FULL_BPS)) / paid).clamp(0, i64::from(FULL_BPS))
                    as u32
            },
            fee_krw,
            refund_krw: paid.saturating_sub(fee_krw).max(0),
        }
    }
}

/// The instant the policy's deadline falls on for a use starting at `usage_start_us`; `None`
/// when the policy has none or it cannot be computed.
pub fn deadline_at(policy: &CancellationPolicy, usage_start_us: i64) -> Option<i64> {
    match policy.deadline.as_ref()?.kind.as_ref()? {
        Kind::MinutesBeforeUse(m) => Some(usage_start_us - i64::from(*m) * 60_000_000),
        Kind::DaysBeforeAt(d) => days_before_at(
            usage_start_us,
            d.days,
            i8::try_from(d.hour).ok()?,
            i8::try_from(d.minute).ok()?,
        ),
        Kind::FixedKst(at) => Some(
            kst()
                .to_timestamp(at.parse::<jiff::civil::DateTime>().ok()?)
                .ok()?
                .as_microsecond(),
        ),
    }
}

/// The fee rate the policy gives at `now_us`, or why the customer may not cancel.
pub fn customer_rate(
    policy: &CancellationPolicy,
    booked_at_us: i64,
    usage_start_us: i64,
    now_us: i64,
) -> Result<u32, ReservationError> {
    let kind = policy.kind();
    if matches!(kind, CancellationKind::NotCancellable) {
        return Err(ReservationError::NotCancellable);
    }
    let deadline = deadline_at(policy, usage_start_us).unwrap_or(usage_start_us);
    if now_us >= deadline {
        return Err(ReservationError::PastCancellationDeadline(deadline));
    }
    if kind != CancellationKind::Tiered {
        // Full refund until the deadline (also the unspecified legacy policy).
        return Ok(0);
    }
    let window = i64::from(policy.full_refund_minutes_after_booking) * 60_000_000;
    if window > 0 && now_us < booked_at_us + window {
        return Ok(0);
    }
    let minutes_left = (usage_start_us - now_us).div_euclid(60_000_000);
    // Tiers run from far before use to near; the nearest that applies wins.
    Ok(policy
        .tiers
        .iter()
        .filter(|t| minutes_left < i64::from(t.within_minutes_before_use))
        .map(|t| t.fee_bps.min(FULL_BPS))
        .max()
        .unwrap_or(0))
}

/// The fee rate the rule gives when the partner cancels: the customer's rate where the
/// customer could cancel, 100 % past the deadline or for a non-cancellable product. An adjusted
/// cancel may set any fee up to this.
pub fn default_rate(
    policy: &CancellationPolicy,
    booked_at_us: i64,
    usage_start_us: i64,
    now_us: i64,
) -> u32 {
    customer_rate(policy, booked_at_us, usage_start_us, now_us).unwrap_or(FULL_BPS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yeyak_proto::catalog::events::v1::{CancellationDeadline, DaysBeforeAt, FeeTier};

    const MIN: i64 = 60_000_000;
    const DAY: i64 = 24 * 60 * MIN;

    fn tiered() -> CancellationPolicy {
        CancellationPolicy {
            kind: CancellationKind::Tiered as i32,
            deadline: Some(CancellationDeadline {
                kind: Some(Kind::MinutesBeforeUse(60)),
            }),
            tiers: vec![
                FeeTier {
                    within_minutes_before_use: 3 * 24 * 60,
                    fee_bps: 3_000,
                },
                FeeTier {
                    within_minutes_before_use: 24 * 60,
                    fee_bps: 5_000,
                },
            ],
            full_refund_minutes_after_booking: 30,
        }
    }

    const USE: i64 = 1_800_000_000_000_000;

    #[test]
    fn fee_tiers_apply_by_time_before_use() {
        let booked = USE - 10 * DAY;
        assert_eq!(customer_rate(&tiered(), booked, USE, USE - 5 * DAY), Ok(0));
        assert_eq!(
            customer_rate(&tiered(), booked, USE, USE - 2 * DAY),
            Ok(3_000)
        );
        assert_eq!(
            customer_rate(&tiered(), booked, USE, USE - 2 * 60 * MIN),
            Ok(5_000)
        );
    }

    #[test]
    fn the_full_refund_window_right_after_booking_costs_nothing() {
        let booked = USE - 2 * 60 * MIN;
        assert_eq!(
            customer_rate(&tiered(), booked, USE, booked + 29 * MIN),
            Ok(0)
        );
        assert_eq!(
            customer_rate(&tiered(), booked, USE, booked + 31 * MIN),
            Ok(5_000)
        );
    }

    #[test]
    fn the_deadline_is_exclusive_and_the_refusal_says_when_it_was() {
        let booked = USE - 10 * DAY;
        assert!(customer_rate(&tiered(), booked, USE, USE - 61 * MIN).is_ok());
        let err = customer_rate(&tiered(), booked, USE, USE - 60 * MIN).unwrap_err();
        assert_eq!(err.reason(), "PAST_CANCELLATION_DEADLINE");
        assert!(err.to_string().contains("KST"), "{err}");
        assert_eq!(
            default_rate(&tiered(), booked, USE, USE - 60 * MIN),
            FULL_BPS
        );
    }

    #[test]
    fn a_non_cancellable_product_is_refused_to_the_customer_and_costs_everything_by_default() {
        let policy = CancellationPolicy {
            kind: CancellationKind::NotCancellable as i32,
            ..Default::default()
        };
        assert_eq!(
            customer_rate(&policy, 0, USE, USE - 5 * DAY)
                .unwrap_err()
                .reason(),
            "NOT_CANCELLABLE"
        );
        assert_eq!(default_rate(&policy, 0, USE, USE - 5 * DAY), FULL_BPS);
    }

    #[test]
    fn days_before_deadlines_count_kst_calendar_days() {
        // Use at 01:00 KST on a day; deadline "1 day before at 18:00" is 18:00 KST the day before.
        let use_kst = kst()
            .to_timestamp(jiff::civil::date(2026, 12, 24).at(1, 0, 0, 0))
            .unwrap()
            .as_microsecond();
        let policy = CancellationPolicy {
            kind: CancellationKind::FullRefundUntilDeadline as i32,
            deadline: Some(CancellationDeadline {
                kind: Some(Kind::DaysBeforeAt(DaysBeforeAt {
                    days: 1,
                    hour: 18,
                    minute: 0,
                })),
            }),
            ..Default::default()
        };
        let deadline = use_kst - 7 * 60 * MIN;
        assert_eq!(deadline_at(&policy, use_kst), Some(deadline));
        assert_eq!(customer_rate(&policy, 0, use_kst, deadline - 1), Ok(0));
        assert!(customer_rate(&policy, 0, use_kst, deadline).is_err());
    }

    #[test]
    fn a_fixed_deadline_is_a_kst_instant_and_a_cancel_at_it_is_too_late() {
        // Use at 2026-11-21 18:00 KST; the fixed deadline 2026-11-21 00:00 KST is 15:00 UTC the
        // day before (S1: an end-of-day deadline is registered as the next day's 00:00).
        let usage = kst()
            .to_timestamp(jiff::civil::date(2026, 11, 21).at(18, 0, 0, 0))
            .unwrap()
            .as_microsecond();
        let policy = CancellationPolicy {
            kind: CancellationKind::FullRefundUntilDeadline as i32,
            deadline: Some(CancellationDeadline {
                kind: Some(Kind::FixedKst("2026-11-21T00:00".into())),
            }),
            ..Default::default()
        };
        let at = deadline_at(&policy, usage).unwrap();
        assert_eq!(
            jiff::Timestamp::from_microsecond(at).unwrap().to_string(),
            "2026-11-20T15:00:00Z"
        );
        assert_eq!(
            customer_rate(&policy, 0, usage, at - 1_000_000),
            Ok(0),
            "a second before"
        );
        assert_eq!(
            customer_rate(&policy, 0, usage, at).unwrap_err().reason(),
            "PAST_CANCELLATION_DEADLINE",
            "at the deadline it is too late"
        );
    }

    #[test]
    fn refund_is_paid_minus_fee_and_never_negative() {
        assert_eq!(Quote::at_rate(30_000, 3_000).refund_krw, 21_000);
        assert_eq!(Quote::at_amount(30_000, 40_000).refund_krw, 0);
        assert_eq!(Quote::at_amount(30_000, 40_000).fee_bps, FULL_BPS);
    }
}
