//! Business time: Korean Standard Time (UTC+9, no daylight saving since 1988). Deadlines and
//! "days before" are counted on the KST calendar; instants are UTC microseconds.
use jiff::{
    Timestamp,
    civil::Date,
    tz::{Offset, TimeZone},
};

/// Korean Standard Time.
pub fn kst() -> TimeZone {
    TimeZone::fixed(Offset::constant(9))
}

/// `days` calendar days (KST) before the KST date of `instant_us`, at `hour:minute` KST; `None`
/// for an invalid time of day or an out-of-range date.
pub fn days_before_at(instant_us: i64, days: u32, hour: i8, minute: i8) -> Option<i64> {
    let instant = Timestamp::from_microsecond(instant_us).ok()?;
    let date: Date = instant
        .to_zoned_datetime(kst())
        .date()
        .checked_sub(jiff::Span::new().days(i64::from(days)))
        .ok()?;
    // Checked: `Date::at` panics on an invalid time of day.
    let time = jiff::civil::Time::new(hour, minute, 0, 0).ok()?;
    Some(
        kst()
            .to_timestamp(date.to_datetime(time))
            .ok()?
            .as_microsecond(),
    )
}

/// The KST calendar date of an instant.
pub fn date_of(instant_us: i64) -> Option<Date> {
    Some(
        Timestamp::from_microsecond(instant_us)
            .ok()?
            .to_zoned_datetime(kst())
            .date(),
    )
}

/// 00:00 KST of the KST date of an instant (the instant itself when out of range).
pub fn start_of_day(instant_us: i64) -> i64 {
    date_of(instant_us)
        .and_then(|d| {
            kst()
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .map_or(instant_us, |t| t.as_microsecond())
}

/// 00:00 KST of the day after the KST date of an instant.
pub fn start_of_next_day(instant_us: i64) -> Option<i64> {
    let next = date_of(instant_us)?.tomorrow().ok()?;
    Some(
        kst()
            .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
            .ok()?
            .as_microsecond(),
    )
}

/// An instant as people read it here: `2026-12-24 19:00 KST`.
pub fn text(instant_us: i64) -> String {
    Timestamp::from_microsecond(instant_us)
        .map(|t| {
            t.to_zoned_datetime(kst())
                .strftime("%Y-%m-%d %H:%M KST")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kst_us(y: i16, m: i8, d: i8, h: i8, min: i8) -> i64 {
        kst()
            .to_timestamp(jiff::civil::date(y, m, d).at(h, min, 0, 0))
            .unwrap()
            .as_microsecond()
    }

    #[test]
    fn days_start_and_end_at_midnight_kst_not_utc() {
        // 08:59 KST is still the previous UTC day; its KST day starts at 00:00 KST.
        let morning = kst_us(2026, 12, 24, 8, 59);
        assert_eq!(start_of_day(morning), kst_us(2026, 12, 24, 0, 0));
        assert_eq!(
            start_of_day(kst_us(2026, 12, 24, 0, 0)),
            kst_us(2026, 12, 24, 0, 0)
        );
        assert_eq!(
            start_of_day(kst_us(2026, 12, 24, 0, 0) - 1),
            kst_us(2026, 12, 23, 0, 0)
        );
        assert_eq!(start_of_next_day(morning), Some(kst_us(2026, 12, 25, 0, 0)));
        assert_eq!(text(kst_us(2026, 12, 24, 19, 0)), "2026-12-24 19:00 KST");
    }
}
