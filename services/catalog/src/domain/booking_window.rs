//! The booking window of a reservation schedule (domain.md §2.2, K18/K25): when booking opens, and
//! when it closes relative to each slot; it must overlap the price's sale period by at least a day.

use jiff::civil::Time;

use yeyak_proto::{
    catalog::events::v1::{self as ev, BookingWindow as BookingWindowPb},
    time::{from_micros, to_micros},
};

use super::{
    CatalogError,
    cancellation_policy::{days_before_at, days_before_at_from_pb},
};

const DAY_US: i64 = 24 * 3_600_000_000;

/// When booking closes for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingEnd {
    /// `hours` h `minutes` min before each slot starts.
    BeforeSlot { hours: u32, minutes: u32 },
    /// `days` calendar days (KST) before the slot's date, at `hour:minute`.
    DaysBeforeAt { days: u32, hour: i8, minute: i8 },
}

/// A booking window: opens at `start_us`, closes per slot by `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingWindow {
    pub start_us: i64,
    pub end: BookingEnd,
}

/// A price's sale period (UTC microseconds, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalePeriod {
    pub start_us: i64,
    pub end_us: i64,
}

/// Checks the window's own fields.
pub fn validate(window: &BookingWindow) -> Result<(), CatalogError> {
    match window.end {
        BookingEnd::BeforeSlot { hours, minutes } if minutes >= 60 || hours > 24 * 365 => {
            Err(CatalogError::invalid(
                "booking_window.end",
                "OUT_OF_RANGE",
                "give hours (at most a year) and minutes (0 to 59)",
            ))
        }
        BookingEnd::DaysBeforeAt { days, hour, minute }
            if days > 365 || Time::new(hour, minute, 0, 0).is_err() =>
        {
            Err(CatalogError::invalid(
                "booking_window.end",
                "OUT_OF_RANGE",
                "give 0 to 365 days before, at a valid time of day",
            ))
        }
        _ => Ok(()),
    }
}

/// When booking closes for a slot starting at `slot_start_us` (UTC microseconds).
pub fn closes_at(end: &BookingEnd, slot_start_us: i64) -> Option<i64> {
    match *end {
        BookingEnd::BeforeSlot { hours, minutes } => {
            Some(slot_start_us - (i64::from(hours) * 60 + i64::from(minutes)) * 60_000_000)
        }
        BookingEnd::DaysBeforeAt { days, hour, minute } => {
            days_before_at(slot_start_us, days, hour, minute)
        }
    }
}

/// Whether a customer may book the slot at `now_us`: after the window opened and before it closes.
pub fn is_open(window: &BookingWindow, slot_start_us: i64, now_us: i64) -> bool {
    now_us >= window.start_us
        && closes_at(&window.end, slot_start_us).is_some_and(|end| now_us < end)
}

/// A reservation schedule may be created only when its booking window (from its start to its
/// close for this slot) and the price's sale period overlap by at least one day.
pub fn check_overlap(
    window: &BookingWindow,
    slot_start_us: i64,
    sale: &SalePeriod,
) -> Result<(), CatalogError> {
    let close = closes_at(&window.end, slot_start_us).ok_or_else(|| {
        CatalogError::invalid(
            "booking_window.end",
            "OUT_OF_RANGE",
            "the booking end cannot be computed for this slot",
        )
    })?;
    if close <= window.start_us {
        return Err(CatalogError::invalid(
            "booking_window",
            "WINDOW_CLOSES_BEFORE_IT_OPENS",
            "booking closes before it opens for this slot",
        ));
    }
    let overlap = close.min(sale.end_us) - window.start_us.max(sale.start_us);
    if overlap < DAY_US {
        return Err(CatalogError::invalid(
            "booking_window",
            "WINDOW_AND_SALE_PERIOD_DO_NOT_OVERLAP",
            "the booking window and the price's sale period must overlap by at least one day",
        ));
    }
    Ok(())
}

// --- events ↔ domain ----------------------------------------------------------------------

/// A booking window from its event form, checked.
pub fn from_pb(w: &BookingWindowPb) -> Result<BookingWindow, CatalogError> {
    let start_us = w.opens_at.as_ref().and_then(to_micros).ok_or_else(|| {
        CatalogError::invalid("booking_window.opens_at", "REQUIRED", "is required")
    })?;
    let end = match &w.end {
        Some(ev::booking_window::End::BeforeSlot(b)) => BookingEnd::BeforeSlot {
            hours: b.hours,
            minutes: b.minutes,
        },
        Some(ev::booking_window::End::DaysBeforeAt(d)) => {
            let (days, hour, minute) = days_before_at_from_pb(d, "booking_window.end")?;
            BookingEnd::DaysBeforeAt { days, hour, minute }
        }
        None => {
            return Err(CatalogError::invalid(
                "booking_window.end",
                "REQUIRED",
                "is required",
            ));
        }
    };
    let window = BookingWindow { start_us, end };
    validate(&window)?;
    Ok(window)
}

/// A booking window in its event form.
pub fn to_pb(w: &BookingWindow) -> BookingWindowPb {
    BookingWindowPb {
        opens_at: Some(from_micros(w.start_us)),
        end: Some(match w.end {
            BookingEnd::BeforeSlot { hours, minutes } => {
                ev::booking_window::End::BeforeSlot(ev::BeforeSlot { hours, minutes })
            }
            BookingEnd::DaysBeforeAt { days, hour, minute } => {
                ev::booking_window::End::DaysBeforeAt(ev::DaysBeforeAt {
                    days,
                    hour: hour.into(),
                    minute: minute.into(),
                })
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cancellation_policy::kst;
    use jiff::civil::date;

    fn kst_us(y: i16, m: i8, d: i8, h: i8) -> i64 {
        kst()
            .to_timestamp(date(y, m, d).at(h, 0, 0, 0))
            .unwrap()
            .as_microsecond()
    }

    #[test]
    fn booking_closes_n_hours_m_minutes_before_each_slot() {
        let slot = kst_us(2026, 12, 24, 19);
        let end = BookingEnd::BeforeSlot {
            hours: 2,
            minutes: 30,
        };
        assert_eq!(closes_at(&end, slot), Some(slot - 150 * 60_000_000));
    }

    #[test]
    fn booking_closes_n_days_before_at_a_time_of_day_in_kst() {
        let slot = kst_us(2026, 12, 24, 1); // 01:00 KST on the 24th is still the 23rd in UTC
        let end = BookingEnd::DaysBeforeAt {
            days: 1,
            hour: 18,
            minute: 0,
        };
        assert_eq!(closes_at(&end, slot), Some(kst_us(2026, 12, 23, 18)));
    }

    #[test]
    fn the_window_is_open_from_its_start_until_before_its_close() {
        let slot = kst_us(2026, 12, 24, 19);
        let window = BookingWindow {
            start_us: kst_us(2026, 12, 1, 0),
            end: BookingEnd::BeforeSlot {
                hours: 1,
                minutes: 0,
            },
        };
        assert!(
            !is_open(&window, slot, kst_us(2026, 11, 30, 23)),
            "not yet open"
        );
        assert!(
            is_open(&window, slot, kst_us(2026, 12, 1, 0)),
            "opens at its start"
        );
        assert!(is_open(&window, slot, kst_us(2026, 12, 24, 17)));
        assert!(
            !is_open(&window, slot, kst_us(2026, 12, 24, 18)),
            "the close is exclusive"
        );
    }

    #[test]
    fn the_window_and_the_sale_period_must_overlap_by_a_day() {
        let slot = kst_us(2026, 12, 24, 19);
        let window = BookingWindow {
            start_us: kst_us(2026, 12, 1, 0),
            end: BookingEnd::BeforeSlot {
                hours: 0,
                minutes: 0,
            },
        };
        let long = SalePeriod {
            start_us: kst_us(2026, 12, 20, 0),
            end_us: kst_us(2026, 12, 31, 0),
        };
        assert!(check_overlap(&window, slot, &long).is_ok());
        let short = SalePeriod {
            start_us: kst_us(2026, 12, 24, 0),
            end_us: kst_us(2026, 12, 31, 0),
        };
        let err = check_overlap(&window, slot, &short).unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Invalid {
                    reason: "WINDOW_AND_SALE_PERIOD_DO_NOT_OVERLAP",
                    ..
                }
            ),
            "{err:?}"
        );
        let late = BookingWindow {
            start_us: kst_us(2026, 12, 25, 0),
            end: window.end,
        };
        assert!(matches!(
            check_overlap(&late, slot, &long),
            Err(CatalogError::Invalid {
                reason: "WINDOW_CLOSES_BEFORE_IT_OPENS",
                ..
            })
        ));
    }

    #[test]
    fn window_fields_are_checked() {
        let bad_minutes = BookingWindow {
            start_us: 0,
            end: BookingEnd::BeforeSlot {
                hours: 1,
                minutes: 60,
            },
        };
        assert!(validate(&bad_minutes).is_err());
        let bad_time = BookingWindow {
            start_us: 0,
            end: BookingEnd::DaysBeforeAt {
                days: 1,
                hour: 24,
                minute: 0,
            },
        };
        assert!(validate(&bad_time).is_err());
        assert!(
            closes_at(&bad_time.end, 0).is_none(),
            "an invalid time of day never panics"
        );
    }

    proptest::proptest! {
        #[test]
        fn closing_time_never_panics(days in 0u32..2000, hour in -3i8..30, minute in -3i8..70, slot in -1_000_000_000_000_000i64..10_000_000_000_000_000) {
            let _ = closes_at(&BookingEnd::DaysBeforeAt { days, hour, minute }, slot);
            let _ = closes_at(&BookingEnd::BeforeSlot { hours: days, minutes: 0 }, slot);
        }
    }
}
