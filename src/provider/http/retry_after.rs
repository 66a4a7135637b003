//! How long an error response asks the client to wait: `retry-after-ms` and `Retry-After` in
//! every form RFC 9110 allows.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The wait an error response asks for, read faithfully and without an upper limit:
///
/// - `retry-after-ms` (OpenAI's; milliseconds, fractions allowed) wins when it is a number ≥ 0;
/// - else `Retry-After` as delta-seconds (digits of any length; a fraction such as `1.5` is
///   accepted too), or as an HTTP-date in any of the three forms of RFC 9110 §5.6.7
///   (IMF-fixdate, RFC 850, asctime). A date is measured from the response's own `Date` header
///   when it has one (so the two clocks' skew cancels), else from `now`; a date in the past is
///   a wait of zero.
///
/// Values too large for a [`Duration`] saturate to [`Duration::MAX`]. Anything else (negative,
/// not a number, not a date) is no wait: `None`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(d) = get("retry-after-ms").and_then(|v| parse_number(v, 1_000)) {
        return Some(d);
    }
    let value = get("retry-after")?;
    if let Some(d) = parse_number(value, 1) {
        return Some(d);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let reference = get("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or(now);
    Some(at.duration_since(reference).unwrap_or(Duration::ZERO))
}

/// A non-negative decimal number (`120`, `1.5`) of seconds divided by `per_second` (1 for
/// seconds, 1000 for milliseconds), saturating at [`Duration::MAX`].
fn parse_number(s: &str, per_second: u32) -> Option<Duration> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // Digits of any length: past u64, the wait is as long as a Duration can be.
        let Ok(n) = s.parse::<u64>() else {
            return Some(Duration::MAX);
        };
        let whole = Duration::from_secs(n / u64::from(per_second));
        let part = Duration::from_secs(n % u64::from(per_second)) / per_second;
        return Some(whole + part);
    }
    let n = s.parse::<f64>().ok()?;
    Some(Duration::try_from_secs_f64(n / f64::from(per_second)).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::testing::headers;
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 2015-10-21T07:28:00Z, the RFC 9110 example date.
    const EXAMPLE: u64 = 1_445_412_480;

    #[test]
    fn delta_seconds_of_any_size() {
        let now = at(EXAMPLE);
        for (v, want) in [
            ("0", Some(Duration::ZERO)),
            ("7", Some(Duration::from_secs(7))),
            ("120", Some(Duration::from_secs(120))),
            ("86401", Some(Duration::from_secs(86_401))),
            ("999999", Some(Duration::from_secs(999_999))),
            ("18446744073709551615", Some(Duration::from_secs(u64::MAX))),
            ("99999999999999999999999999", Some(Duration::MAX)),
            ("1.5", Some(Duration::from_millis(1500))),
            (" 30 ", Some(Duration::from_secs(30))),
            ("1e400", None),
            ("-1", None),
            ("soon", None),
            ("", None),
            ("1.2.3", None),
        ] {
            assert_eq!(retry_after(&headers(&[("retry-after", v)]), now), want, "{v:?}");
        }
        assert_eq!(
            retry_after(&headers(&[("retry-after", &"9".repeat(10_000))]), now),
            Some(Duration::MAX)
        );
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let now = at(EXAMPLE - 3_600);
        for form in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                retry_after(&headers(&[("retry-after", form)]), now),
                Some(Duration::from_secs(3_600)),
                "{form}"
            );
        }
        // In the past: retry now.
        let later = at(EXAMPLE + 5);
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
                later
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 32 Oct 2015 07:28:00 GMT")]), now),
            None
        );
    }

    #[test]
    fn a_date_is_measured_from_the_servers_date_header() {
        // The local clock is a year off; the server's own Date makes the wait exact.
        let skewed = at(EXAMPLE + 365 * 86_400);
        let h = headers(&[
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:27:30 GMT"),
        ]);
        assert_eq!(retry_after(&h, skewed), Some(Duration::from_secs(30)));
        // An unreadable Date header falls back to the local clock.
        let h = headers(&[
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("date", "yesterday"),
        ]);
        assert_eq!(retry_after(&h, at(EXAMPLE - 10)), Some(Duration::from_secs(10)));
    }

    #[test]
    fn retry_after_ms_wins_and_saturates() {
        let now = at(EXAMPLE);
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "7")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after-ms", "86400001")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(86_400_001)));
        let h = headers(&[("retry-after-ms", "12.5")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_micros(12_500)));
        let h = headers(&[("retry-after-ms", &"9".repeat(400))]);
        assert_eq!(retry_after(&h, now), Some(Duration::MAX));
        // A bad retry-after-ms leaves Retry-After in charge.
        let h = headers(&[("retry-after-ms", "-5"), ("retry-after", "7")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
