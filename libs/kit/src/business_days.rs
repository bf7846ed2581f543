//! Korean business days: Monday to Friday, KST, except public holidays (관공서의 공휴일).
//!
//! The holidays are data, year by year, from the rules of 「관공서의 공휴일에 관한 규정」
//! (대통령령; 대체공휴일 by its 제3조: for 설날 and 추석 when one of their days falls on a Sunday
//! or another holiday, for the other holidays but 1월 1일 and 현충일 when they fall on a Saturday,
//! a Sunday or another holiday) over the lunar dates of 한국천문연구원 (KASI) 월력요항 and its
//! 음양력 data (2026: 설날 2/17, 부처님오신날 5/24, 추석 9/25; 2027: 설날 2/7, 부처님오신날 5/13,
//! 추석 9/15), and the election days of 「공직선거법」 제34조 (2026-06-03, the local elections).
//! Temporary holidays (임시공휴일) are added when the government designates them. Outside the
//! years listed, only weekends are known: [`covers`] says which dates are.
use jiff::{
    Timestamp,
    civil::{Date, Weekday, date},
};

use crate::kst::kst;

/// The public holidays that fall on a weekday or a weekend, by date, with their names.
pub const HOLIDAYS: &[(i16, i8, i8, &str)] = &[
    (2026, 1, 1, "1월 1일"),
    (2026, 2, 16, "설날 전날"),
    (2026, 2, 17, "설날"),
    (2026, 2, 18, "설날 다음날"),
    (2026, 3, 1, "3·1절"),
    (2026, 3, 2, "대체공휴일(3·1절)"),
    (2026, 5, 5, "어린이날"),
    (2026, 5, 24, "부처님오신날"),
    (2026, 5, 25, "대체공휴일(부처님오신날)"),
    (2026, 6, 3, "전국동시지방선거"),
    (2026, 6, 6, "현충일"),
    (2026, 8, 15, "광복절"),
    (2026, 8, 17, "대체공휴일(광복절)"),
    (2026, 9, 24, "추석 전날"),
    (2026, 9, 25, "추석"),
    (2026, 9, 26, "추석 다음날"),
    (2026, 10, 3, "개천절"),
    (2026, 10, 5, "대체공휴일(개천절)"),
    (2026, 10, 9, "한글날"),
    (2026, 12, 25, "기독탄신일"),
    (2027, 1, 1, "1월 1일"),
    (2027, 2, 6, "설날 전날"),
    (2027, 2, 7, "설날"),
    (2027, 2, 8, "설날 다음날"),
    (2027, 2, 9, "대체공휴일(설날)"),
    (2027, 3, 1, "3·1절"),
    (2027, 5, 5, "어린이날"),
    (2027, 5, 13, "부처님오신날"),
    (2027, 6, 6, "현충일"),
    (2027, 8, 15, "광복절"),
    (2027, 8, 16, "대체공휴일(광복절)"),
    (2027, 9, 14, "추석 전날"),
    (2027, 9, 15, "추석"),
    (2027, 9, 16, "추석 다음날"),
    (2027, 10, 3, "개천절"),
    (2027, 10, 4, "대체공휴일(개천절)"),
    (2027, 10, 9, "한글날"),
    (2027, 10, 11, "대체공휴일(한글날)"),
    (2027, 12, 25, "기독탄신일"),
    (2027, 12, 27, "대체공휴일(기독탄신일)"),
];

/// The years whose holidays are listed.
pub const YEARS: std::ops::RangeInclusive<i16> = 2026..=2027;

/// Whether the calendar knows the holidays of `day`'s year.
pub fn covers(day: Date) -> bool {
    YEARS.contains(&day.year())
}

/// The holiday `day` is, if it is one.
pub fn holiday(day: Date) -> Option<&'static str> {
    HOLIDAYS
        .iter()
        .find(|(y, m, d, _)| date(*y, *m, *d) == day)
        .map(|(.., name)| *name)
}

/// Whether banks and offices work on `day`.
pub fn is_business_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && holiday(day).is_none()
}

/// The first business day after `day`.
pub fn next_business_day(day: Date) -> Option<Date> {
    let mut next = day.tomorrow().ok()?;
    while !is_business_day(next) {
        next = next.tomorrow().ok()?;
    }
    Some(next)
}

/// `days` business days after `from_us`, at the same KST time of day (`from_us` itself when out
/// of range).
pub fn business_days_after(from_us: i64, days: u32) -> i64 {
    let Ok(start) = Timestamp::from_microsecond(from_us) else {
        return from_us;
    };
    let at = start.to_zoned_datetime(kst());
    let mut day = at.date();
    for _ in 0..days {
        match next_business_day(day) {
            Some(next) => day = next,
            None => return from_us,
        }
    }
    kst()
        .to_timestamp(day.to_datetime(at.time()))
        .map_or(from_us, |t| t.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_business_day_after_chuseok_skips_the_three_days_and_the_weekend() {
        // 2026-09-23 (Wed) → 24–26 추석 (Thu–Sat), 27 Sunday → Monday 28.
        assert_eq!(
            next_business_day(date(2026, 9, 23)),
            Some(date(2026, 9, 28))
        );
    }

    #[test]
    fn a_substitute_holiday_after_a_holiday_weekend_is_no_business_day() {
        // 개천절 2026-10-03 is a Saturday: Monday 5 is its 대체공휴일.
        assert_eq!(
            next_business_day(date(2026, 10, 2)),
            Some(date(2026, 10, 6))
        );
        assert!(!is_business_day(date(2026, 10, 5)));
        // 설날 2027-02-07 is a Sunday: Tuesday 9 is its 대체공휴일 (the Saturday does not count).
        assert_eq!(next_business_day(date(2027, 2, 5)), Some(date(2027, 2, 10)));
        // 추석 2026-09-26 is a Saturday: no 대체공휴일 for 추석 on a Saturday.
        assert!(is_business_day(date(2026, 9, 28)));
        // 현충일 2027-06-06 is a Sunday: no 대체공휴일.
        assert!(is_business_day(date(2027, 6, 7)));
    }

    #[test]
    fn three_business_days_keep_the_time_of_day() {
        let at = |y, m, d, h| {
            kst()
                .to_timestamp(date(y, m, d).at(h, 30, 0, 0))
                .unwrap()
                .as_microsecond()
        };
        // Friday 2026-12-24 14:30 → 25 성탄절, weekend → Mon 28, Tue 29, Wed 30.
        assert_eq!(
            business_days_after(at(2026, 12, 24, 14), 3),
            at(2026, 12, 30, 14)
        );
        assert_eq!(
            business_days_after(at(2026, 12, 24, 14), 0),
            at(2026, 12, 24, 14)
        );
    }

    #[test]
    fn every_substitute_holiday_is_a_weekday_and_the_listed_years_are_covered() {
        for (y, m, d, name) in HOLIDAYS {
            let day = date(*y, *m, *d);
            assert!(covers(day));
            if name.starts_with("대체공휴일") {
                assert!(
                    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday),
                    "{day} {name}"
                );
            }
        }
        assert!(!covers(date(2028, 1, 3)));
        assert_eq!(holiday(date(2027, 2, 9)), Some("대체공휴일(설날)"));
        assert_eq!(
            HOLIDAYS.iter().filter(|h| h.0 == 2026).count(),
            20,
            "2026: 15 holidays, the election, 4 substitutes"
        );
    }
}
