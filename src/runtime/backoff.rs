//! Retry delays: exponential backoff with jitter, honouring `Retry-After`, capped, and never
//! past the request's deadline.

use std::time::Duration;

use derive_setters::Setters;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::Error;

/// How jitter spreads the delays of clients retrying at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// The exact exponential delay (for tests and single clients).
    None,
    /// Uniform in `[0, delay]` ("full jitter", the AWS recommendation and the default).
    #[default]
    Full,
    /// Uniform in `[delay / 2, delay]` ("equal jitter").
    Equal,
}

/// When and how often a failed call is retried on the same model.
///
/// The delay before retry `n` (0-based) is `base × multiplier^n`, capped at `max_delay`, then
/// jittered. A server's `Retry-After` is a floor on the delay; when it exceeds
/// `max_retry_after` the runtime does not wait and moves to the next model instead. No delay
/// ever runs past the request's deadline: [`delay`](Self::delay) returns `None` then.
///
/// ```
/// use std::time::Duration;
/// use taskroute::runtime::{Jitter, JitterRng, RetryPolicy};
/// let p = RetryPolicy::default().with_jitter(Jitter::None);
/// let mut rng = JitterRng::with_seed(7);
/// let d = p.delay(1, None, Duration::from_secs(10), &mut rng);
/// assert_eq!(d, Some(Duration::from_millis(200)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries on the same model after its first attempt (0 = go straight to the fallback).
    #[setters(generate)]
    pub max_retries: u32,
    /// The first delay.
    pub base: Duration,
    /// Growth per retry.
    pub multiplier: f64,
    /// The largest delay (before jitter).
    pub max_delay: Duration,
    /// Jitter.
    #[setters(generate)]
    pub jitter: Jitter,
    /// The longest `Retry-After` the runtime waits out; longer ones move to the next model.
    #[setters(generate)]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 2 retries, 100 ms base doubling up to 5 s, full jitter, waits out `Retry-After` up to 10 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(5),
            jitter: Jitter::Full,
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// The random source of jitter (PCG, `rand_pcg::Pcg64Mcg`): seeded explicitly so runs are
/// reproducible.
#[derive(Clone, Debug)]
pub struct JitterRng(Pcg64Mcg);

impl JitterRng {
    /// A generator with this seed.
    pub fn with_seed(seed: u64) -> Self {
        Self(Pcg64Mcg::seed_from_u64(seed))
    }

    /// A uniform number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }
}

impl RetryPolicy {
    /// No retries: every error goes straight to the next model.
    pub fn no_retries() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the first delay and the cap.
    pub fn with_delays(mut self, base: Duration, max_delay: Duration) -> Self {
        self.base = base;
        self.max_delay = max_delay;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a multiplier below 1 or not finite, or a base above the cap.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(Error::invalid(
                "retry.multiplier",
                self.multiplier,
                "a finite number >= 1",
            ));
        }
        if self.base > self.max_delay {
            return Err(Error::invalid(
                "retry.base",
                format!("{:?}", self.base),
                "a first delay no longer than retry.max_delay",
            ));
        }
        Ok(())
    }

    /// The capped exponential delay before retry `retry` (0-based), without jitter.
    pub fn raw_delay(&self, retry: u32) -> Duration {
        let factor = self.multiplier.powi(i32::try_from(retry).unwrap_or(i32::MAX));
        let secs = self.base.as_secs_f64() * factor;
        let cap = self.max_delay.as_secs_f64();
        if !secs.is_finite() || secs >= cap {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The delay before retry `retry` (0-based), or `None` when the runtime should not wait:
    /// `Retry-After` is longer than [`max_retry_after`](Self::max_retry_after), or the delay
    /// would reach past the deadline (`remaining` is the time left before it).
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        remaining: Duration,
        rng: &mut JitterRng,
    ) -> Option<Duration> {
        if retry_after.is_some_and(|ra| ra > self.max_retry_after) {
            return None;
        }
        let raw = self.raw_delay(retry);
        let jittered = match self.jitter {
            Jitter::None => raw,
            Jitter::Full => raw.mul_f64(rng.unit()),
            Jitter::Equal => raw / 2 + (raw / 2).mul_f64(rng.unit()),
        };
        let d = retry_after.map_or(jittered, |ra| ra.max(jittered));
        (d < remaining).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_then_capped() {
        let p = RetryPolicy::default()
            .with_jitter(Jitter::None)
            .with_delays(ms(100), ms(1000));
        let mut rng = JitterRng::with_seed(1);
        let got: Vec<_> = (0..6)
            .map(|n| p.delay(n, None, Duration::from_secs(60), &mut rng).unwrap())
            .collect();
        assert_eq!(got, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        assert_eq!(p.raw_delay(u32::MAX), ms(1000));
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_means_move_on() {
        let p = RetryPolicy::default().with_jitter(Jitter::None);
        let mut rng = JitterRng::with_seed(1);
        let far = Duration::from_secs(60);
        assert_eq!(p.delay(0, Some(ms(3000)), far, &mut rng), Some(ms(3000)));
        // a Retry-After shorter than the backoff does not shorten it
        assert_eq!(p.delay(3, Some(ms(1)), far, &mut rng), Some(ms(800)));
        assert_eq!(p.delay(0, Some(Duration::from_secs(11)), far, &mut rng), None);
    }

    #[test]
    fn never_past_the_deadline() {
        let p = RetryPolicy::default().with_jitter(Jitter::None);
        let mut rng = JitterRng::with_seed(1);
        assert_eq!(p.delay(0, None, ms(100), &mut rng), None);
        assert_eq!(p.delay(0, None, ms(101), &mut rng), Some(ms(100)));
        assert_eq!(p.delay(0, Some(ms(2000)), ms(1999), &mut rng), None);
    }

    #[test]
    fn same_seed_same_delays() {
        let p = RetryPolicy::default();
        let run = |seed| {
            let mut rng = JitterRng::with_seed(seed);
            (0..5)
                .map(|n| p.delay(n, None, Duration::from_secs(60), &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn validate_rejects_bad_settings() {
        let p = RetryPolicy {
            multiplier: 0.5,
            ..RetryPolicy::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("multiplier"));
        let p = RetryPolicy::default().with_delays(ms(10), ms(1));
        assert!(p.validate().is_err());
        assert!(RetryPolicy::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn delay_within_bounds(
            retry in 0u32..40,
            ra in proptest::option::of(0u64..20_000),
            remaining in 0u64..30_000,
            seed in any::<u64>(),
            jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)],
        ) {
            let p = RetryPolicy::default().with_jitter(jitter);
            let mut rng = JitterRng::with_seed(seed);
            let ra = ra.map(ms);
            if let Some(d) = p.delay(retry, ra, ms(remaining), &mut rng) {
                prop_assert!(d < ms(remaining));
                prop_assert!(d <= p.max_delay.max(ra.unwrap_or_default()));
                if let Some(ra) = ra { prop_assert!(d >= ra); }
                if jitter == Jitter::Equal { prop_assert!(d >= p.raw_delay(retry) / 2); }
            }
        }
    }
}
