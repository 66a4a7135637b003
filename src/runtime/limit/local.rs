//! [`LocalLimiter`]: the in-process limiter. Each limit (requests, tokens) is a GCRA cell:
//! one integer, the theoretical arrival time (TAT), in nanoseconds since the limiter's first
//! call. A call of cost `n` moves the TAT to `max(TAT, now) + n × 60 s / limit` and is admitted
//! when that is at most one minute ahead of now; so a deployment that has been idle for a
//! minute can take a whole minute's limit at once, and then its limit per minute, as the
//! providers' own buckets do (OpenAI's `x-ratelimit-reset-*` is the time until the bucket is
//! full again).
//!
//! Why not the `governor` crate, which implements the same algorithm: a deployment's limiter
//! must give tokens back when a call used fewer than estimated, take more when it used more,
//! adopt the limit and the remaining amount a provider reports, and run on the runtime's
//! injected [`Clock`](crate::runtime::Clock). governor's rate limiters have none of these
//! operations (their quota is fixed at construction, and a cell only ever moves forward), so
//! wrapping one would mean keeping this state beside it anyway. The arithmetic here is a few
//! lines over two integers, under one uncontended mutex: no allocation (checked by
//! `tests/alloc.rs`) and well under 200 ns (`benches/deployments.rs`).

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Acquire, Capacity, DeploymentLimits, Limiter, Refusal};
use crate::provider::RateLimits;

/// The window every limit is expressed over: one minute (rpm, tpm).
const PERIOD_NS: u64 = 60_000_000_000;

/// How long a deployment is paused after a rate-limit error that named no wait (Bedrock's
/// `ThrottlingException` carries none).
pub const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// One GCRA cell: `limit` per minute (0: no limit), and its theoretical arrival time; `cap`
/// is the configured limit (0: none), which a provider's report can lower but never raise.
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    limit: u64,
    tat: u64,
    cap: u64,
}

impl Cell {
    fn new(limit: Option<u64>) -> Self {
        Self {
            limit: limit.unwrap_or(0),
            tat: 0,
            cap: limit.unwrap_or(0),
        }
    }

    /// The time `n` units take at this cell's rate, in ns, rounded up (so rounding never
    /// admits more than the limit).
    fn cost(&self, n: u64) -> u64 {
        if self.limit == 0 {
            return 0;
        }
        let ns = (u128::from(n) * u128::from(PERIOD_NS)).div_ceil(u128::from(self.limit));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// [`cost`](Self::cost) rounded down: what giving `n` units back may return.
    fn cost_down(&self, n: u64) -> u64 {
        if self.limit == 0 {
            return 0;
        }
        u64::try_from(u128::from(n) * u128::from(PERIOD_NS) / u128::from(self.limit)).unwrap_or(u64::MAX)
    }

    /// The TAT after taking `n` units at `now`, or how long until they fit.
    fn check(&self, n: u64, now: u64) -> Result<u64, Duration> {
        if self.limit == 0 {
            return Ok(self.tat);
        }
        let next = self.tat.max(now).saturating_add(self.cost(n));
        let horizon = now.saturating_add(PERIOD_NS);
        if next <= horizon {
            Ok(next)
        } else {
            Err(Duration::from_nanos(next - horizon))
        }
    }

    /// Units taken and not yet returned by the passing of time, at `now`.
    fn used(&self, now: u64) -> u64 {
        if self.limit == 0 {
            return 0;
        }
        let ahead = self.tat.saturating_sub(now);
        let units = (u128::from(ahead) * u128::from(self.limit)).div_ceil(u128::from(PERIOD_NS));
        u64::try_from(units).unwrap_or(u64::MAX)
    }

    fn share_left(&self, now: u64) -> f64 {
        if self.limit == 0 {
            return 1.0;
        }
        let left = self.limit.saturating_sub(self.used(now));
        left as f64 / self.limit as f64
    }

    /// Gives `n` units back (the call used fewer than reserved).
    fn give_back(&mut self, n: u64) {
        self.tat = self.tat.saturating_sub(self.cost_down(n));
    }

    /// Takes `n` more units (the call used more than reserved); may run past the horizon, so
    /// later calls wait.
    fn take_more(&mut self, n: u64, now: u64) {
        self.tat = self.tat.max(now).saturating_add(self.cost(n));
    }

    /// Adopts a provider's `limit` and `remaining`: the limit as is, or the configured one
    /// when that is lower (a configured limit is a ceiling: a service may mean to use only
    /// part of a key); what the provider counts as used (`limit - remaining`) only when it is
    /// more than this cell thinks (calls in flight are not in the provider's count yet, so a
    /// smaller figure is not trusted).
    fn learn(&mut self, limit: u64, remaining: u64, now: u64) {
        if limit == 0 {
            return;
        }
        let theirs_used = limit.saturating_sub(remaining);
        let limit = if self.cap > 0 { limit.min(self.cap) } else { limit };
        if self.limit != limit {
            let used = self.used(now);
            self.limit = limit;
            self.tat = now.saturating_add(self.cost(used));
        }
        let theirs = now.saturating_add(self.cost(theirs_used));
        self.tat = self.tat.max(theirs);
    }
}

/// The mutable state of a [`LocalLimiter`].
#[derive(Debug)]
struct State {
    /// The instant ns are counted from (the first call's).
    origin: Option<Instant>,
    requests: Cell,
    tokens: Cell,
    in_flight: u32,
    max_in_flight: Option<u32>,
    /// No call before this (ns since origin).
    paused_until: u64,
}

impl State {
    fn ns(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The in-process [`Limiter`]: GCRA over requests and tokens per minute, a concurrency cap,
/// pauses after rate-limit errors, and learning from the provider's headers. See the
/// [module docs](self).
///
/// ```
/// use std::time::{Duration, Instant};
/// use taskroute::runtime::{DeploymentLimits, Limiter, LocalLimiter, Refusal};
/// # futures::executor::block_on(async {
/// let l = LocalLimiter::new(DeploymentLimits::none().rpm(2));
/// let t0 = Instant::now();
/// assert!(l.acquire(100, t0).decided().await.is_ok());
/// l.settle(100, Some(80), t0);
/// assert!(l.acquire(100, t0).decided().await.is_ok());
/// let refused = l.acquire(100, t0).decided().await.unwrap_err();
/// assert_eq!(refused, Refusal::Requests { retry_after: Duration::from_secs(30) });
/// # });
/// ```
pub struct LocalLimiter {
    state: Mutex<State>,
}

impl fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("LocalLimiter")
            .field("rpm", &s.requests.limit)
            .field("tpm", &s.tokens.limit)
            .field("in_flight", &s.in_flight)
            .field("max_concurrency", &s.max_in_flight)
            .finish()
    }
}

impl LocalLimiter {
    /// A limiter with these limits (unset ones are learned from the provider's headers).
    pub fn new(limits: DeploymentLimits) -> Self {
        Self {
            state: Mutex::new(State {
                origin: None,
                requests: Cell::new(limits.rpm),
                tokens: Cell::new(limits.tpm),
                in_flight: 0,
                max_in_flight: limits.max_concurrency,
                paused_until: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few integers, each update complete before any call that could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The admission check without the trait's wrapper: takes one request and `tokens` tokens
    /// (and a concurrency slot) if all fit at `now`. Allocation-free.
    ///
    /// # Errors
    /// The [`Refusal`] that says which limit refused and when capacity returns.
    pub fn try_acquire(&self, tokens: u64, now: Instant) -> Result<(), Refusal> {
        let mut s = self.lock();
        let t = s.ns(now);
        if s.paused_until > t {
            return Err(Refusal::Throttled {
                retry_after: Duration::from_nanos(s.paused_until - t),
            });
        }
        if let Some(max) = s.max_in_flight
            && s.in_flight >= max
        {
            return Err(Refusal::Concurrency { max });
        }
        if s.tokens.limit != 0 && tokens > s.tokens.limit {
            return Err(Refusal::TooLarge {
                tokens,
                tpm: s.tokens.limit,
            });
        }
        let requests = s
            .requests
            .check(1, t)
            .map_err(|retry_after| Refusal::Requests { retry_after })?;
        let tokens_tat = s
            .tokens
            .check(tokens, t)
            .map_err(|retry_after| Refusal::Tokens { tokens, retry_after })?;
        s.requests.tat = requests;
        s.tokens.tat = tokens_tat;
        s.in_flight += 1;
        Ok(())
    }

    /// The configured or learned limits now.
    pub fn limits(&self) -> DeploymentLimits {
        let s = self.lock();
        let nonzero = |n: u64| (n != 0).then_some(n);
        DeploymentLimits {
            rpm: nonzero(s.requests.limit),
            tpm: nonzero(s.tokens.limit),
            max_concurrency: s.max_in_flight,
        }
    }
}

impl Limiter for LocalLimiter {
    fn acquire(&self, tokens: u64, now: Instant) -> Acquire<'_> {
        Acquire::Ready(self.try_acquire(tokens, now))
    }

    fn settle(&self, reserved: u64, used: Option<u64>, now: Instant) {
        let mut s = self.lock();
        let t = s.ns(now);
        s.in_flight = s.in_flight.saturating_sub(1);
        match used {
            Some(u) if u < reserved => s.tokens.give_back(reserved - u),
            Some(u) if u > reserved => s.tokens.take_more(u - reserved, t),
            _ => {}
        }
    }

    fn learn(&self, seen: &RateLimits, now: Instant) {
        let mut s = self.lock();
        let t = s.ns(now);
        if let Some(w) = seen.requests {
            s.requests.learn(w.limit, w.remaining, t);
        }
        if let Some(w) = seen.tokens {
            s.tokens.learn(w.limit, w.remaining, t);
        }
    }

    fn throttled(&self, retry_after: Option<Duration>, now: Instant) {
        let mut s = self.lock();
        let t = s.ns(now);
        let wait = retry_after.unwrap_or(DEFAULT_THROTTLE_PAUSE);
        let until = t.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        s.paused_until = s.paused_until.max(until);
    }

    fn capacity(&self, now: Instant) -> Capacity {
        let mut s = self.lock();
        let t = s.ns(now);
        Capacity {
            remaining_share: s.requests.share_left(t).min(s.tokens.share_left(t)),
            in_flight: s.in_flight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::LimitWindow;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_full_minute_then_the_rate() {
        let l = LocalLimiter::new(DeploymentLimits::none().rpm(60));
        let t0 = Instant::now();
        for _ in 0..60 {
            l.try_acquire(0, t0).unwrap();
        }
        assert_eq!(
            l.try_acquire(0, t0),
            Err(Refusal::Requests { retry_after: secs(1) })
        );
        l.try_acquire(0, t0 + secs(1)).unwrap();
        assert!(l.try_acquire(0, t0 + secs(1)).is_err());
        // 100 s later the bucket is full again, not fuller.
        for _ in 0..60 {
            l.try_acquire(0, t0 + secs(101)).unwrap();
        }
        assert!(l.try_acquire(0, t0 + secs(101)).is_err());
    }

    #[test]
    fn tokens_are_corrected_after_the_call() {
        let l = LocalLimiter::new(DeploymentLimits::none().tpm(1000));
        let t0 = Instant::now();
        l.try_acquire(600, t0).unwrap();
        assert!(matches!(
            l.try_acquire(600, t0),
            Err(Refusal::Tokens { tokens: 600, .. })
        ));
        // It used 300: 300 come back, so 600 more fit.
        l.settle(600, Some(300), t0);
        l.try_acquire(600, t0).unwrap();
        l.settle(600, Some(600), t0);
        // Used more than reserved: the overrun is taken too.
        let l = LocalLimiter::new(DeploymentLimits::none().tpm(1000));
        l.try_acquire(100, t0).unwrap();
        l.settle(100, Some(1000), t0);
        assert!(matches!(l.try_acquire(1, t0), Err(Refusal::Tokens { .. })));
        assert_eq!(
            l.try_acquire(2000, t0),
            Err(Refusal::TooLarge {
                tokens: 2000,
                tpm: 1000
            })
        );
    }

    #[test]
    fn concurrency_and_throttling() {
        let l = LocalLimiter::new(DeploymentLimits::none().max_concurrency(1));
        let t0 = Instant::now();
        l.try_acquire(10, t0).unwrap();
        assert_eq!(l.try_acquire(10, t0), Err(Refusal::Concurrency { max: 1 }));
        l.settle(10, None, t0);
        l.try_acquire(10, t0).unwrap();
        l.settle(10, None, t0);
        l.throttled(Some(secs(5)), t0);
        assert_eq!(
            l.try_acquire(10, t0 + secs(2)),
            Err(Refusal::Throttled { retry_after: secs(3) })
        );
        l.try_acquire(10, t0 + secs(5)).unwrap();
        l.settle(10, None, t0);
        l.throttled(None, t0 + secs(5));
        assert_eq!(
            l.try_acquire(10, t0 + secs(5)).unwrap_err().retry_after(),
            Some(DEFAULT_THROTTLE_PAUSE)
        );
    }

    #[test]
    fn learns_limits_and_a_lower_remaining() {
        let l = LocalLimiter::new(DeploymentLimits::none());
        let t0 = Instant::now();
        l.try_acquire(100, t0).unwrap();
        l.settle(100, Some(100), t0);
        let seen = RateLimits {
            requests: Some(LimitWindow::new(10, 2)),
            tokens: Some(LimitWindow::new(1000, 900)),
        };
        l.learn(&seen, t0);
        assert_eq!(l.limits(), DeploymentLimits::none().rpm(10).tpm(1000));
        l.try_acquire(10, t0).unwrap();
        l.try_acquire(10, t0).unwrap();
        assert!(matches!(l.try_acquire(10, t0), Err(Refusal::Requests { .. })));
        // A larger remaining than ours is not trusted (calls in flight).
        let before = l.capacity(t0).remaining_share;
        l.learn(
            &RateLimits {
                requests: Some(LimitWindow::new(10, 10)),
                tokens: None,
            },
            t0,
        );
        assert_eq!(l.capacity(t0).remaining_share, before);
        assert_eq!(before, 0.0);
    }

    #[test]
    fn a_configured_limit_is_a_ceiling_the_provider_can_lower_but_not_raise() {
        let t0 = Instant::now();
        let window = |limit, remaining| RateLimits {
            requests: Some(LimitWindow::new(limit, remaining)),
            tokens: None,
        };
        // Configured `rpm`, then told the provider's `limit` and `remaining`: the limit becomes
        // `ceiling`, and `left` calls go through before the next is refused.
        let check = |rpm, (limit, remaining), ceiling, left| {
            let l = LocalLimiter::new(DeploymentLimits::none().rpm(rpm));
            l.learn(&window(limit, remaining), t0);
            assert_eq!(l.limits().rpm, Some(ceiling));
            for _ in 0..left {
                l.try_acquire(1, t0).unwrap();
            }
            assert!(matches!(l.try_acquire(1, t0), Err(Refusal::Requests { .. })));
        };
        // Configured 5 per minute on a key the provider allows 600: still 5.
        check(5, (600, 600), 5, 5);
        // Configured 100 on a key the provider allows 10, 4 of them used elsewhere: 10, 6 left.
        check(100, (10, 6), 10, 6);
    }
}
