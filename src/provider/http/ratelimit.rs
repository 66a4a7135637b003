//! Rate-limit headers: OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` and
//! Anthropic's `anthropic-ratelimit-{requests,tokens,input-tokens}-{limit,remaining,reset}`.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::provider::{LimitWindow, RateLimits};

/// The limits a response's headers report (`None` when it has none). Malformed values are
/// ignored, never an error: the headers are advice.
pub(crate) fn rate_limits(headers: &HeaderMap, now: SystemTime) -> Option<RateLimits> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let openai = |what: &str| {
        window(
            get(&format!("x-ratelimit-limit-{what}")),
            get(&format!("x-ratelimit-remaining-{what}")),
            get(&format!("x-ratelimit-reset-{what}")).and_then(go_duration),
        )
    };
    let anthropic = |what: &str| {
        window(
            get(&format!("anthropic-ratelimit-{what}-limit")),
            get(&format!("anthropic-ratelimit-{what}-remaining")),
            get(&format!("anthropic-ratelimit-{what}-reset")).and_then(|v| until_rfc3339(v, now)),
        )
    };
    let limits = RateLimits::new(
        openai("requests").or_else(|| anthropic("requests")),
        openai("tokens")
            .or_else(|| anthropic("tokens"))
            .or_else(|| anthropic("input-tokens")),
    );
    (!limits.is_empty()).then_some(limits)
}

fn window(limit: Option<&str>, remaining: Option<&str>, reset: Option<Duration>) -> Option<LimitWindow> {
    let limit = limit?.parse::<u64>().ok().filter(|&l| l > 0)?;
    let remaining = remaining?.parse::<u64>().ok()?.min(limit);
    let w = LimitWindow::new(limit, remaining);
    Some(match reset {
        Some(r) => w.with_reset(r),
        None => w,
    })
}

/// A Go-style duration as OpenAI sends it: `1s`, `6m0s`, `17ms`, `1h2m3.5s`. At most 32
/// bytes, so a hostile value costs nothing.
fn go_duration(s: &str) -> Option<Duration> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut total = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The time from `now` until an RFC 3339 instant (zero when it is past).
fn until_rfc3339(s: &str, now: SystemTime) -> Option<Duration> {
    if s.len() > 64 {
        return None;
    }
    let at = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::super::testing::headers;
    use super::*;

    #[test]
    fn openai_headers() {
        let h = headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6m0.5s"),
        ]);
        let r = rate_limits(&h, SystemTime::now()).unwrap();
        assert_eq!(
            r.requests,
            Some(LimitWindow::new(60, 59).with_reset(Duration::from_secs(1)))
        );
        assert_eq!(
            r.tokens,
            Some(LimitWindow::new(150_000, 149_984).with_reset(Duration::from_millis(360_500)))
        );
        assert_eq!(go_duration("17ms"), Some(Duration::from_millis(17)));
        assert_eq!(go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        for bad in ["", "5", "5x", "s", "1.2.3s", &"9".repeat(40)] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn anthropic_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "39000"),
        ]);
        let r = rate_limits(&h, now).unwrap();
        assert_eq!(
            r.requests,
            Some(LimitWindow::new(50, 49).with_reset(Duration::from_secs(1)))
        );
        assert_eq!(r.tokens, Some(LimitWindow::new(40_000, 39_000)));
        let h = headers(&[
            ("anthropic-ratelimit-tokens-limit", "80000"),
            ("anthropic-ratelimit-tokens-remaining", "70000"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "39000"),
        ]);
        assert_eq!(
            rate_limits(&h, now).unwrap().tokens,
            Some(LimitWindow::new(80_000, 70_000))
        );
    }

    #[test]
    fn missing_or_malformed_is_nothing() {
        let now = SystemTime::now();
        assert_eq!(rate_limits(&HeaderMap::new(), now), None);
        let h = headers(&[
            ("x-ratelimit-limit-requests", "lots"),
            ("x-ratelimit-remaining-requests", "1"),
            ("x-ratelimit-limit-tokens", "0"),
            ("x-ratelimit-remaining-tokens", "0"),
        ]);
        assert_eq!(rate_limits(&h, now), None);
        // A remaining figure above the limit is capped at it.
        let h = headers(&[
            ("x-ratelimit-limit-requests", "10"),
            ("x-ratelimit-remaining-requests", "99"),
        ]);
        assert_eq!(
            rate_limits(&h, now).unwrap().requests,
            Some(LimitWindow::new(10, 10))
        );
    }
}
