//! Cancellation and refund policy of a product (domain.md S1, §2.2, G4).
//!
//! Business time is Korean Standard Time (UTC+9, no daylight saving since 1988): deadlines and
//! "days before" are counted on the KST calendar; instants are UTC microseconds.

use jiff::civil::DateTime;
use yeyak_proto::catalog::events::v1::{self as ev, CancellationKind, CancellationPolicy};

use super::CatalogError;

pub use yeyak_kit::kst::{days_before_at, kst};

/// When cancelling stops being possible. Cancelling is allowed while `now < deadline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// A duration before the usage start.
    MinutesBeforeUse(u32),
    /// `days` calendar days before the usage date (KST), at `hour:minute`.
    DaysBeforeAt { days: u32, hour: i8, minute: i8 },
    /// A fixed KST date-time, on a whole hour (고정일시).
    Fixed(DateTime),
}

/// A fee that applies when the customer cancels less than `within_minutes_before_use` before
/// the usage start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeTier {
    pub within_minutes_before_use: u32,
    /// Fee in basis points of the amount paid (10 000 = 100 %).
    pub fee_bps: u32,
}

/// A product's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// The product cannot be cancelled by the customer.
    NotCancellable,
    /// Full refund until the deadline, no cancellation after.
    FullRefundUntil(Deadline),
    /// Fees by time before use, an optional full-refund window right after booking, and a deadline.
    Tiered {
        tiers: Vec<FeeTier>,
        full_refund_minutes_after_booking: Option<u32>,
        deadline: Deadline,
    },
}

/// What kind of product the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductKind {
    /// Pay at booking (or deposit) with a price above 0.
    pub paid: bool,
    /// 상시형: one usage period, no dated schedules.
    pub always_open: bool,
}

/// Checks a deadline. A fixed deadline is on a whole hour; 23:59 is refused with the hint to
/// register 00:00 of the next day.
pub fn validate_deadline(deadline: &Deadline) -> Result<(), CatalogError> {
    match *deadline {
        Deadline::Fixed(at) if at.hour() == 23 && at.minute() == 59 => {
            let next = at
                .date()
                .tomorrow()
                .map(|d| d.to_string())
                .unwrap_or_default();
            Err(CatalogError::invalid(
                "cancellation_policy.deadline",
                "DEADLINE_2359",
                format!(
                    "23:59 cannot be chosen: register {next} 00:00 instead (the deadline is exclusive)"
                ),
            ))
        }
        Deadline::Fixed(at)
            if at.minute() != 0 || at.second() != 0 || at.subsec_nanosecond() != 0 =>
        {
            Err(CatalogError::invalid(
                "cancellation_policy.deadline",
                "DEADLINE_NOT_ON_THE_HOUR",
                "a fixed deadline is on a whole hour",
            ))
        }
        Deadline::DaysBeforeAt { days, hour, minute }
            if days > 365 || !(0..24).contains(&hour) || !(0..60).contains(&minute) =>
        {
            Err(CatalogError::invalid(
                "cancellation_policy.deadline",
                "OUT_OF_RANGE",
                "days before is 0 to 365, at a valid time of day",
            ))
        }
        Deadline::MinutesBeforeUse(m) if m > 365 * 24 * 60 => Err(CatalogError::invalid(
            "cancellation_policy.deadline",
            "OUT_OF_RANGE",
            "at most 365 days before use",
        )),
        _ => Ok(()),
    }
}

/// Checks a policy for a product. Free, reservation-only and always-open products can only use
/// "full refund until the deadline, no cancellation after".
pub fn validate(policy: &Policy, kind: ProductKind) -> Result<(), CatalogError> {
    match policy {
        Policy::NotCancellable if !kind.paid || kind.always_open => Err(CatalogError::invalid(
            "cancellation_policy",
            "POLICY_NOT_ALLOWED_FOR_PRODUCT",
            "free, reservation-only and always-open products use \"full refund until the deadline, no cancellation after\"",
        )),
        Policy::NotCancellable => Ok(()),
        Policy::FullRefundUntil(deadline) => validate_deadline(deadline),
        Policy::Tiered { .. } if !kind.paid || kind.always_open => Err(CatalogError::invalid(
            "cancellation_policy",
            "POLICY_NOT_ALLOWED_FOR_PRODUCT",
            "free, reservation-only and always-open products use \"full refund until the deadline, no cancellation after\"",
        )),
        Policy::Tiered {
            tiers,
            full_refund_minutes_after_booking,
            deadline,
        } => {
            validate_deadline(deadline)?;
            if tiers.is_empty() || tiers.len() > 10 {
                return Err(CatalogError::invalid(
                    "cancellation_policy.tiers",
                    "OUT_OF_RANGE",
                    "give 1 to 10 fee tiers",
                ));
            }
            if tiers.iter().any(|t| t.fee_bps > 10_000) {
                return Err(CatalogError::invalid(
                    "cancellation_policy.tiers.fee_bps",
                    "OUT_OF_RANGE",
                    "a fee is 0 to 100 %",
                ));
            }
            // Ordered from far before use to close to it: windows shrink, fees never fall.
            let ordered = tiers.windows(2).all(|w| {
                w[0].within_minutes_before_use > w[1].within_minutes_before_use
                    && w[0].fee_bps <= w[1].fee_bps
            });
            if !ordered {
                return Err(CatalogError::invalid(
                    "cancellation_policy.tiers",
                    "TIERS_OUT_OF_ORDER",
                    "list tiers from the longest time before use to the shortest, with fees that never decrease",
                ));
            }
            if full_refund_minutes_after_booking.is_some_and(|m| m == 0 || m > 7 * 24 * 60) {
                return Err(CatalogError::invalid(
                    "cancellation_policy.full_refund_minutes_after_booking",
                    "OUT_OF_RANGE",
                    "the full-refund window after booking is 1 minute to 7 days",
                ));
            }
            Ok(())
        }
    }
}

// --- events ↔ domain ----------------------------------------------------------------------

/// `days`, `hour` and `minute` of a "days before at" from its event form.
pub(super) fn days_before_at_from_pb(
    d: &ev::DaysBeforeAt,
    field: &'static str,
) -> Result<(u32, i8, i8), CatalogError> {
    let hour = i8::try_from(d.hour)
        .map_err(|_| CatalogError::invalid(field, "OUT_OF_RANGE", "hour is 0 to 23"))?;
    let minute = i8::try_from(d.minute)
        .map_err(|_| CatalogError::invalid(field, "OUT_OF_RANGE", "minute is 0 to 59"))?;
    Ok((d.days, hour, minute))
}

fn deadline_from_pb(d: Option<&ev::CancellationDeadline>) -> Result<Deadline, CatalogError> {
    use ev::cancellation_deadline::Kind;
    const FIELD: &str = "cancellation_policy.deadline";
    match d.and_then(|d| d.kind.as_ref()) {
        Some(Kind::MinutesBeforeUse(m)) => Ok(Deadline::MinutesBeforeUse(*m)),
        Some(Kind::DaysBeforeAt(d)) => {
            let (days, hour, minute) = days_before_at_from_pb(d, FIELD)?;
            Ok(Deadline::DaysBeforeAt { days, hour, minute })
        }
        Some(Kind::FixedKst(s)) => s
            .parse::<jiff::civil::DateTime>()
            .map(Deadline::Fixed)
            .map_err(|_| {
                CatalogError::invalid(
                    FIELD,
                    "MALFORMED",
                    "a fixed deadline is a KST date-time, YYYY-MM-DDTHH:00",
                )
            }),
        None => Err(CatalogError::invalid(FIELD, "REQUIRED", "is required")),
    }
}

fn deadline_to_pb(d: &Deadline) -> ev::CancellationDeadline {
    use ev::cancellation_deadline::Kind;
    ev::CancellationDeadline {
        kind: Some(match *d {
            Deadline::MinutesBeforeUse(m) => Kind::MinutesBeforeUse(m),
            Deadline::DaysBeforeAt { days, hour, minute } => Kind::DaysBeforeAt(ev::DaysBeforeAt {
                days,
                hour: hour.into(),
                minute: minute.into(),
            }),
            Deadline::Fixed(at) => Kind::FixedKst(at.strftime("%Y-%m-%dT%H:%M").to_string()),
        }),
    }
}

/// A policy from its event form, checked for shape (see [`validate`] for its rules).
pub fn from_pb(p: &CancellationPolicy) -> Result<Policy, CatalogError> {
    match p.kind() {
        CancellationKind::NotCancellable => Ok(Policy::NotCancellable),
        CancellationKind::FullRefundUntilDeadline => Ok(Policy::FullRefundUntil(deadline_from_pb(
            p.deadline.as_ref(),
        )?)),
        CancellationKind::Tiered => Ok(Policy::Tiered {
            tiers: p
                .tiers
                .iter()
                .map(|t| FeeTier {
                    within_minutes_before_use: t.within_minutes_before_use,
                    fee_bps: t.fee_bps,
                })
                .collect(),
            full_refund_minutes_after_booking: (p.full_refund_minutes_after_booking > 0)
                .then_some(p.full_refund_minutes_after_booking),
            deadline: deadline_from_pb(p.deadline.as_ref())?,
        }),
        CancellationKind::Unspecified => Err(CatalogError::invalid(
            "cancellation_policy.kind",
            "REQUIRED",
            "choose NOT_CANCELLABLE, FULL_REFUND_UNTIL_DEADLINE or TIERED",
        )),
    }
}

/// A policy in its event form.
pub fn to_pb(p: &Policy) -> CancellationPolicy {
    match p {
        Policy::NotCancellable => CancellationPolicy {
            kind: CancellationKind::NotCancellable as i32,
            ..Default::default()
        },
        Policy::FullRefundUntil(d) => CancellationPolicy {
            kind: CancellationKind::FullRefundUntilDeadline as i32,
            deadline: Some(deadline_to_pb(d)),
            ..Default::default()
        },
        Policy::Tiered {
            tiers,
            full_refund_minutes_after_booking,
            deadline,
        } => CancellationPolicy {
            kind: CancellationKind::Tiered as i32,
            deadline: Some(deadline_to_pb(deadline)),
            tiers: tiers
                .iter()
                .map(|t| ev::FeeTier {
                    within_minutes_before_use: t.within_minutes_before_use,
                    fee_bps: t.fee_bps,
                })
                .collect(),
            full_refund_minutes_after_booking: full_refund_minutes_after_booking.unwrap_or(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const PAID: ProductKind = ProductKind {
        paid: true,
        always_open: false,
    };
    const FREE: ProductKind = ProductKind {
        paid: false,
        always_open: false,
    };

    fn reason(r: Result<(), CatalogError>) -> &'static str {
        match r {
            Err(CatalogError::Invalid { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_fixed_deadline_at_2359_is_refused_with_a_hint_for_the_next_day() {
        let err =
            validate_deadline(&Deadline::Fixed(date(2026, 11, 20).at(23, 59, 0, 0))).unwrap_err();
        match err {
            CatalogError::Invalid {
                reason, message, ..
            } => {
                assert_eq!(reason, "DEADLINE_2359");
                assert!(message.contains("2026-11-21 00:00"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_fixed_deadline_is_on_a_whole_hour() {
        assert!(validate_deadline(&Deadline::Fixed(date(2026, 11, 21).at(0, 0, 0, 0))).is_ok());
        assert_eq!(
            reason(validate_deadline(&Deadline::Fixed(
                date(2026, 11, 21).at(10, 30, 0, 0)
            ))),
            "DEADLINE_NOT_ON_THE_HOUR"
        );
    }

    #[test]
    fn free_reservation_only_and_always_open_products_only_refund_fully_until_the_deadline() {
        let tiered = Policy::Tiered {
            tiers: vec![FeeTier {
                within_minutes_before_use: 1_440,
                fee_bps: 5_000,
            }],
            full_refund_minutes_after_booking: None,
            deadline: Deadline::MinutesBeforeUse(60),
        };
        assert_eq!(
            reason(validate(&tiered, FREE)),
            "POLICY_NOT_ALLOWED_FOR_PRODUCT"
        );
        assert_eq!(
            reason(validate(
                &tiered,
                ProductKind {
                    paid: true,
                    always_open: true
                }
            )),
            "POLICY_NOT_ALLOWED_FOR_PRODUCT"
        );
        assert_eq!(
            reason(validate(&Policy::NotCancellable, FREE)),
            "POLICY_NOT_ALLOWED_FOR_PRODUCT"
        );
        assert!(
            validate(
                &Policy::FullRefundUntil(Deadline::MinutesBeforeUse(60)),
                FREE
            )
            .is_ok()
        );
        assert!(validate(&tiered, PAID).is_ok());
        assert!(validate(&Policy::NotCancellable, PAID).is_ok());
    }

    #[test]
    fn fee_tiers_go_from_far_to_near_with_fees_that_never_fall() {
        let policy = |tiers| Policy::Tiered {
            tiers,
            full_refund_minutes_after_booking: Some(60),
            deadline: Deadline::MinutesBeforeUse(0),
        };
        let good = vec![
            FeeTier {
                within_minutes_before_use: 7 * 1_440,
                fee_bps: 1_000,
            },
            FeeTier {
                within_minutes_before_use: 1_440,
                fee_bps: 5_000,
            },
        ];
        assert!(validate(&policy(good.clone()), PAID).is_ok());
        let reversed: Vec<_> = good.iter().rev().copied().collect();
        assert_eq!(
            reason(validate(&policy(reversed), PAID)),
            "TIERS_OUT_OF_ORDER"
        );
        let over = vec![FeeTier {
            within_minutes_before_use: 60,
            fee_bps: 10_001,
        }];
        assert_eq!(reason(validate(&policy(over), PAID)), "OUT_OF_RANGE");
        assert_eq!(reason(validate(&policy(vec![]), PAID)), "OUT_OF_RANGE");
    }

    proptest::proptest! {
        #[test]
        fn deadline_validation_never_panics(hour in -5i8..30, minute in -5i8..70, days in 0u32..1000, m in 0u32..1_000_000) {
            let _ = validate_deadline(&Deadline::DaysBeforeAt { days, hour, minute });
            let _ = validate_deadline(&Deadline::MinutesBeforeUse(m));
        }
    }
}
