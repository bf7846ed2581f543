//! The payout calendar: daily settlement (domain.md §2.4, K14). A line completed on day D (KST)
//! is paid out on D + 1 business day (정산예정일); so is every other credit or deduction (a
//! refund after payout, an adjustment). Business days are the kit's Korean calendar, the one the
//! refund retry's "3 business days" counts on.
//!
//! The batch of payout day D runs on D from [`BATCH_HOUR`]:00 KST, after the previous day's
//! completions are in (the sources: "before 10:00 the previous day's completions may not be
//! listed yet"); it settles everything payable on or before D, so an entry that arrives late is
//! paid with the next batch.
use jiff::civil::{Date, Time};
use yeyak_kit::{business_days, kst};

/// The hour (KST) a payout day's batch runs from.
pub const BATCH_HOUR: i8 = 10;

/// 정산예정일 of something that happened on `day`: the next business day.
pub fn payable_on(day: Date) -> Date {
    business_days::next_business_day(day).unwrap_or(day)
}

/// The KST date of an instant (UTC microseconds).
pub fn day_of(instant_us: i64) -> Date {
    kst::date_of(instant_us).unwrap_or_default()
}

/// When the batch of payout day `day` may run: `day` at [`BATCH_HOUR`]:00 KST.
pub fn batch_opens_at(day: Date) -> i64 {
    kst::kst()
        .to_timestamp(day.to_datetime(Time::constant(BATCH_HOUR, 0, 0, 0)))
        .map_or(i64::MAX, |t| t.as_microsecond())
}

/// The payout day whose batch is the latest to have opened at `now_us`: today when it is a
/// business day past [`BATCH_HOUR`], else the business day before.
pub fn latest_open_batch(now_us: i64) -> Option<Date> {
    let mut day = day_of(now_us);
    loop {
        if business_days::is_business_day(day) && batch_opens_at(day) <= now_us {
            return Some(day);
        }
        day = day.yesterday().ok()?;
    }
}

/// Whether the batch of `day` may run at `now_us`: a business day whose batch has opened.
pub fn batch_may_run(day: Date, now_us: i64) -> bool {
    business_days::is_business_day(day) && batch_opens_at(day) <= now_us
}

/// A date as events and the API spell it: `YYYY-MM-DD`.
pub fn text(day: Date) -> String {
    day.to_string()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn kst_us(day: Date, hour: i8, minute: i8) -> i64 {
        kst::kst()
            .to_timestamp(day.to_datetime(Time::constant(hour, minute, 0, 0)))
            .unwrap()
            .as_microsecond()
    }

    #[test]
    fn a_completion_is_payable_the_next_business_day() {
        // Tuesday → Wednesday.
        assert_eq!(payable_on(date(2026, 12, 1)), date(2026, 12, 2));
        // Friday → Monday.
        assert_eq!(payable_on(date(2026, 12, 4)), date(2026, 12, 7));
    }

    #[test]
    fn a_completion_before_a_holiday_weekend_with_a_substitute_holiday_is_paid_after_it() {
        // 개천절 Saturday 2026-10-03, its 대체공휴일 Monday 10-05: Friday 10-02 → Tuesday 10-06.
        assert_eq!(payable_on(date(2026, 10, 2)), date(2026, 10, 6));
        // Completed on the holiday weekend itself: also Tuesday.
        assert_eq!(payable_on(date(2026, 10, 3)), date(2026, 10, 6));
        assert_eq!(payable_on(date(2026, 10, 5)), date(2026, 10, 6));
        // 설날 2027: Friday 02-05 → 6–8 설날, 9 대체공휴일 → Wednesday 02-10.
        assert_eq!(payable_on(date(2027, 2, 5)), date(2027, 2, 10));
    }

    #[test]
    fn the_batch_of_a_payout_day_opens_at_ten_kst_and_not_a_microsecond_before() {
        let day = date(2026, 10, 6);
        let opens = kst_us(day, 10, 0);
        assert!(!batch_may_run(day, opens - 1));
        assert!(batch_may_run(day, opens));
        assert_eq!(latest_open_batch(opens - 1), Some(date(2026, 10, 2)));
        assert_eq!(latest_open_batch(opens), Some(day));
    }

    #[test]
    fn no_batch_runs_on_a_holiday() {
        let holiday = date(2026, 10, 5);
        assert!(!batch_may_run(holiday, kst_us(holiday, 23, 0)));
        assert_eq!(
            latest_open_batch(kst_us(holiday, 23, 0)),
            Some(date(2026, 10, 2))
        );
    }
}
