//! The night window (야간수신): a partner that refuses night delivery has its messages due in
//! the window held and sent together when it ends (domain.md §2.5, K3/K21). The hours were not
//! found in the sources; the default is 21:00 to 09:00 KST, and it is configurable.
use std::{fmt, str::FromStr};

use jiff::{Timestamp, civil::Time};
use yeyak_kit::kst::kst;

/// A daily window in KST, `[start, end)`; it crosses midnight when `start` is after `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightWindow {
    pub start: Time,
    pub end: Time,
}

impl Default for NightWindow {
    /// 21:00 to 09:00 KST.
    fn default() -> Self {
        Self {
            start: Time::constant(21, 0, 0, 0),
            end: Time::constant(9, 0, 0, 0),
        }
    }
}

impl NightWindow {
    /// Whether the window holds any time at all (`start == end` is no night).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// When a message due at `at_us` may go out: `None` when `at_us` is outside the night, else
    /// the end of the night it falls in (the next `end` at or after it).
    pub fn release_at(&self, at_us: i64) -> Option<i64> {
        if self.is_empty() {
            return None;
        }
        let local = Timestamp::from_microsecond(at_us)
            .ok()?
            .to_zoned_datetime(kst());
        let time = local.time();
        let in_night = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !in_night {
            return None;
        }
        let day = if time >= self.end {
            local.date().tomorrow().ok()?
        } else {
            local.date()
        };
        Some(
            kst()
                .to_timestamp(day.to_datetime(self.end))
                .ok()?
                .as_microsecond(),
        )
    }
}

impl fmt::Display for NightWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start.hour(),
            self.start.minute(),
            self.end.hour(),
            self.end.minute()
        )
    }
}

/// Why a night window does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a night window is `HH:MM-HH:MM` in KST, e.g. `21:00-09:00`: {0:?}")]
pub struct BadNightWindow(pub String);

impl FromStr for NightWindow {
    type Err = BadNightWindow;

    /// `HH:MM-HH:MM`, e.g. `21:00-09:00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadNightWindow(s.to_string());
        let (start, end) = s.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| -> Result<Time, BadNightWindow> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            Time::new(h, m, 0, 0).map_err(|_| bad())
        };
        Ok(Self {
            start: time(start)?,
            end: time(end)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kst_us(d: i8, h: i8, m: i8, s: i8) -> i64 {
        kst()
            .to_timestamp(jiff::civil::date(2026, 12, d).at(h, m, s, 0))
            .unwrap()
            .as_microsecond()
    }

    #[test]
    fn the_night_starts_at_21_00_and_holds_until_09_00_the_next_morning() {
        let night = NightWindow::default();
        assert_eq!(night.release_at(kst_us(24, 20, 59, 59)), None);
        assert_eq!(
            night.release_at(kst_us(24, 21, 0, 0)),
            Some(kst_us(25, 9, 0, 0))
        );
        assert_eq!(
            night.release_at(kst_us(24, 23, 59, 59)),
            Some(kst_us(25, 9, 0, 0))
        );
        assert_eq!(
            night.release_at(kst_us(25, 0, 0, 0)),
            Some(kst_us(25, 9, 0, 0))
        );
        assert_eq!(
            night.release_at(kst_us(25, 8, 59, 59) + 999_999),
            Some(kst_us(25, 9, 0, 0))
        );
        assert_eq!(night.release_at(kst_us(25, 9, 0, 0)), None, "09:00 is day");
    }

    #[test]
    fn a_window_within_one_day_and_an_empty_one() {
        let early: NightWindow = "01:30-06:00".parse().unwrap();
        assert_eq!(early.release_at(kst_us(24, 1, 29, 0)), None);
        assert_eq!(
            early.release_at(kst_us(24, 1, 30, 0)),
            Some(kst_us(24, 6, 0, 0))
        );
        assert_eq!(early.release_at(kst_us(24, 6, 0, 0)), None);
        let none: NightWindow = "09:00-09:00".parse().unwrap();
        assert!(none.is_empty());
        assert_eq!(none.release_at(kst_us(24, 23, 0, 0)), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_a_release_is_within_a_day_after_the_instant(
            text in ".{0,16}",
            (sh, sm, eh, em) in (0i8..24, 0i8..60, 0i8..24, 0i8..60),
            at in 1_700_000_000_000_000i64..1_900_000_000_000_000,
        ) {
            let _ = text.parse::<NightWindow>();
            let w: NightWindow = format!("{sh:02}:{sm:02}-{eh:02}:{em:02}").parse().unwrap();
            if let Some(release) = w.release_at(at) {
                proptest::prop_assert!(release > at && release - at <= 86_400_000_000);
                proptest::prop_assert_eq!(w.release_at(release), None, "released in the day");
            }
        }
    }

    #[test]
    fn a_night_window_parses_and_prints_as_hh_mm_dash_hh_mm() {
        let w: NightWindow = "22:30-07:15".parse().unwrap();
        assert_eq!(w.to_string(), "22:30-07:15");
        assert_eq!(NightWindow::default().to_string(), "21:00-09:00");
        for bad in ["", "21:00", "25:00-09:00", "21:60-09:00", "9-10", "a:b-c:d"] {
            assert!(bad.parse::<NightWindow>().is_err(), "{bad:?}");
        }
    }
}
