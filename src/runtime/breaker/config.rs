//! [`BreakerConfig`]: the thresholds and timings of a [`CircuitBreaker`](super::CircuitBreaker).

use std::time::Duration;

use derive_setters::Setters;

use crate::Error;

/// Thresholds and timings of a [`CircuitBreaker`](super::CircuitBreaker).
#[derive(Clone, Copy, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// Length of the sliding window the failure rate is measured over.
    pub window: Duration,
    /// Number of buckets the window is kept in (its resolution).
    pub buckets: u32,
    /// Calls needed in the window before the failure rate can trip the breaker.
    pub min_calls: u32,
    /// Failure rate in `(0, 1]` over the window that trips the breaker.
    pub failure_rate: f64,
    /// Consecutive failures that trip the breaker whatever the window says (0 turns it off).
    #[setters(generate)]
    pub consecutive_failures: u32,
    /// How long an open breaker stays open before letting probes through.
    #[setters(generate)]
    pub open_for: Duration,
    /// Probe calls let through at once when half-open; that many successes close the breaker.
    #[setters(generate)]
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    /// 5 consecutive failures, or 50% of at least 20 calls in 30 s; open for 30 s; 1 probe.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            buckets: 10,
            min_calls: 20,
            failure_rate: 0.5,
            consecutive_failures: 5,
            open_for: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

impl BreakerConfig {
    /// Sets the failure-rate threshold, the calls it needs, and the window.
    pub fn with_failure_rate(mut self, rate: f64, min_calls: u32, window: Duration) -> Self {
        self.failure_rate = rate;
        self.min_calls = min_calls;
        self.window = window;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the bad setting.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, value: String, expected| {
            Err(Error::invalid(format!("breaker.{field}"), value, expected))
        };
        if !(self.failure_rate > 0.0 && self.failure_rate <= 1.0) {
            return bad("failure_rate", self.failure_rate.to_string(), "a rate in (0, 1]");
        }
        if self.buckets == 0 || self.window.is_zero() {
            return bad(
                "window",
                format!("{:?} in {} buckets", self.window, self.buckets),
                "a non-zero window in at least one bucket",
            );
        }
        if self.half_open_probes == 0 {
            return bad("half_open_probes", "0".to_owned(), "at least 1");
        }
        Ok(())
    }

    pub(super) fn bucket_len(&self) -> Duration {
        (self.window / self.buckets.max(1)).max(Duration::from_nanos(1))
    }
}
