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
