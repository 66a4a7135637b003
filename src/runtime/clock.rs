//! Injected time: the [`Clock`] every runtime part reads and sleeps on.
//!
//! [`TokioClock`] is the real one (it follows tokio's clock, so tests that pause tokio time
//! with `#[tokio::test(start_paused = true)]` stay fast and deterministic). [`ManualClock`]
//! only moves when a test calls [`advance`](ManualClock::advance).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A future returned by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the runtime gets the time and how it waits.
///
/// Breakers, budget windows, moving averages, backoff sleeps and per-attempt timeouts all read
/// this clock, so a test can drive them without waiting.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn sleep(&self, duration: Duration) -> Sleep {
        (**self).sleep(duration)
    }
}

/// The real clock: `tokio::time`. Needs a tokio runtime with the time driver enabled when
/// sleeping; honours `tokio::time::pause`.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to: for tests.
///
/// Cloning shares the clock. [`sleep`](Clock::sleep) completes once [`advance`](Self::advance)
/// has moved the clock past its end.
///
/// ```
/// use std::time::Duration;
/// use taskroute::runtime::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - t0, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    base: Instant,
    offset_nanos: AtomicU64,
    moved: tokio::sync::Notify,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at an arbitrary start instant.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(ManualInner {
                base: Instant::now(),
                offset_nanos: AtomicU64::new(0),
                moved: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Moves the clock forward and wakes the sleepers whose time has come.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.inner.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
        self.inner.moved.notify_waiters();
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.offset_nanos.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.base + self.elapsed()
    }
    fn sleep(&self, duration: Duration) -> Sleep {
        let clock = self.clone();
        // Too far away to be an instant: never.
        let end = self.now().checked_add(duration);
        Box::pin(async move {
            loop {
                let moved = clock.inner.moved.notified();
                if end.is_some_and(|end| clock.now() >= end) {
                    return;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_waits_for_advance() {
        let clock = ManualClock::new();
        let c2 = clock.clone();
        let h = tokio::spawn(async move { c2.sleep(Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(4));
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        clock.advance(Duration::from_secs(6));
        tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .expect("sleeper woke")
            .expect("task ok");
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock;
        let t0 = c.now();
        c.sleep(Duration::from_secs(30)).await;
        assert!(c.now() - t0 >= Duration::from_secs(30));
    }
}
