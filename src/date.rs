//! [`Date`]: a calendar date, as catalogs write retirement dates (`YYYY-MM-DD`).

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, written `YYYY-MM-DD`.
///
/// The core never reads the clock: callers pass today's date
/// ([`Date::from_system_time`]`(SystemTime::now())`) where it matters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

/// Why a text is not a [`Date`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// The text is not of the form `YYYY-MM-DD`.
    #[error("`{value}` is not a date: write it YYYY-MM-DD")]
    Format {
        /// The text (at most its first 40 characters).
        value: String,
    },
    /// The numbers are not a day of the calendar (month 13, February 30, ...).
    #[error("`{value}` is not a day of the calendar")]
    NoSuchDay {
        /// The text.
        value: String,
    },
}

impl Date {
    /// The date `year-month-day`, if it is a day of the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day).ok().map(Date)
    }

    /// The UTC date of a system time (pass `SystemTime::now()` for today).
    pub fn from_system_time(t: SystemTime) -> Date {
        Date(time::OffsetDateTime::from(t).date())
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        (later.0 - self.0).whole_days()
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.0.month() as u8
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.0.day()
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Date, DateError> {
        let format = || DateError::Format {
            value: s.chars().take(40).collect(),
        };
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) || !digits(8..10) {
            return Err(format());
        }
        // Ten ASCII bytes: the slices below are on character boundaries and all digits.
        let (y, m, d) = (s[0..4].parse(), s[5..7].parse(), s[8..10].parse());
        let (Ok(y), Ok(m), Ok(d)) = (y, m, d) else {
            return Err(format());
        };
        Date::new(y, m, d).ok_or_else(|| DateError::NoSuchDay { value: s.to_owned() })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year(), self.month(), self.day())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_orders_and_counts_days() {
        let a: Date = "2026-11-30".parse().unwrap();
        let b: Date = "2027-01-14".parse().unwrap();
        assert_eq!(a.to_string(), "2026-11-30");
        assert!(a < b);
        assert_eq!(a.days_until(b), 45);
        assert_eq!(b.days_until(a), -45);
        assert_eq!("2028-02-29".parse::<Date>().unwrap().day(), 29);
        for bad in ["2026-13-01", "2027-02-29", "2026-11-31"] {
            assert!(
                matches!(bad.parse::<Date>(), Err(DateError::NoSuchDay { .. })),
                "{bad}"
            );
        }
        for bad in [
            "",
            "2026-1-01",
            "2026/11/30",
            "२०२६-११-३०",
            "2026-11-30T00:00",
            "+026-11-30",
        ] {
            assert!(
                matches!(bad.parse::<Date>(), Err(DateError::Format { .. })),
                "{bad}"
            );
        }
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#""2026-11-30""#);
        assert_eq!(serde_json::from_str::<Date>(&json).unwrap(), a);
        let epoch = Date::from_system_time(SystemTime::UNIX_EPOCH);
        assert_eq!(epoch, Date::new(1970, 1, 1).unwrap());
    }
}
