//! [`CircuitBreaker`]: one model's breaker (closed, open, half-open), and the
//! [`BreakerPermit`] a call holds while it runs.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::BreakerConfig;
use crate::model::ModelId;

/// The state of a breaker, as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// Probe calls pass, up to the configured number at once.
    HalfOpen,
}

/// What a finished call says about the model's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallOutcome {
    /// The model answered.
    Success,
    /// The model failed in a way that says it is unhealthy (server error, overload, rate limit,
    /// timeout, transport).
    Failure,
    /// Nothing about health (the request was bad, the caller gave up).
    Neutral,
}

/// Refusal from an open (or fully probed half-open) breaker.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker for `{model}` is open; retry in {retry_in:?}")]
#[non_exhaustive]
pub struct BreakerOpen {
    /// The model.
    pub model: ModelId,
    /// Time until the breaker lets a probe through (zero when half-open with every probe slot
    /// taken).
    pub retry_in: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    index: u64,
    ok: u32,
    failed: u32,
}

#[derive(Debug)]
struct Inner {
    state: State,
    generation: u64,
    consecutive: u32,
    buckets: Vec<Bucket>,
}

/// Told what a breaker saw, e.g. to share it with other processes (the `redis` feature's
/// `fleet::FleetBreakers`). Called with the breaker's lock held: do little, never block.
pub trait BreakerObserver: fmt::Debug + Send + Sync {
    /// A call's outcome was recorded.
    fn outcome(&self, model: &ModelId, outcome: CallOutcome);
    /// The breaker opened by its own thresholds or a failed probe (not by
    /// [`force_open`](CircuitBreaker::force_open)).
    fn opened(&self, model: &ModelId);
    /// The breaker closed after its probes succeeded.
    fn closed(&self, model: &ModelId);
}

/// A circuit breaker for one model. Time is passed in (`now`), so it is deterministic.
pub struct CircuitBreaker {
    model: ModelId,
    config: BreakerConfig,
    epoch: Instant,
    inner: Mutex<Inner>,
    observer: Option<Arc<dyn BreakerObserver>>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("model", &self.model)
            .field("state", &self.lock().state)
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A closed breaker for `model`; `epoch` anchors its window buckets (use the clock's now).
    pub fn new(model: ModelId, config: BreakerConfig, epoch: Instant) -> Self {
        let n = config.buckets.max(1) as usize;
        Self {
            model,
            config,
            epoch,
            inner: Mutex::new(Inner {
                state: State::Closed,
                generation: 0,
                consecutive: 0,
                buckets: vec![Bucket::default(); n],
            }),
            observer: None,
        }
    }

    /// Tells `observer` every outcome, open and close from now on.
    pub fn with_observer(mut self, observer: Arc<dyn BreakerObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Opens the breaker until `until` (half-open from then on), as another process decided;
    /// calls in flight no longer count. The observer is not told.
    pub fn force_open(&self, until: Instant) {
        let mut g = self.lock();
        g.state = State::Open { until };
        g.generation += 1;
        g.consecutive = 0;
        g.buckets.fill(Bucket::default());
    }

    /// Closes the breaker, as another process decided. The observer is not told.
    pub fn force_close(&self) {
        let mut g = self.lock();
        if g.state != State::Closed {
            g.state = State::Closed;
            g.generation += 1;
            g.consecutive = 0;
            g.buckets.fill(Bucket::default());
        }
    }

    /// The model.
    pub fn model(&self) -> &ModelId {
        &self.model
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` inconsistent (every update is
        // a few plain stores), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state at `now` (an open breaker whose cool-down has ended reports half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call at `now` would be let through (without taking a probe slot).
    pub fn is_available(&self, now: Instant) -> bool {
        match self.lock().state {
            State::Closed => true,
            State::Open { until } => now >= until,
            State::HalfOpen { in_flight, .. } => in_flight < self.config.half_open_probes,
        }
    }

    /// Asks to make a call at `now`. The permit records the outcome; dropping it unrecorded
    /// counts as [`CallOutcome::Neutral`] (frees a probe slot).
    ///
    /// # Errors
    /// [`BreakerOpen`] while the breaker is open, or half-open with every probe slot taken.
    pub fn try_acquire(self: &Arc<Self>, now: Instant) -> Result<BreakerPermit, BreakerOpen> {
        let mut g = self.lock();
        let probe = match g.state {
            State::Closed => false,
            State::Open { until } if now < until => {
                return Err(BreakerOpen {
                    model: self.model.clone(),
                    retry_in: until - now,
                });
            }
            State::Open { .. } => {
                g.state = State::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                g.generation += 1;
                tracing::info!(model = %self.model, "circuit half-open: letting a probe through");
                true
            }
            State::HalfOpen {
                ref mut in_flight, ..
            } => {
                if *in_flight >= self.config.half_open_probes {
                    return Err(BreakerOpen {
                        model: self.model.clone(),
                        retry_in: Duration::ZERO,
                    });
                }
                *in_flight += 1;
                true
            }
        };
        Ok(BreakerPermit {
            breaker: Arc::clone(self),
            generation: g.generation,
            probe,
            done: false,
        })
    }

    fn record(&self, generation: u64, probe: bool, outcome: CallOutcome, now: Instant) {
        let mut g = self.lock();
        if let Some(o) = &self.observer {
            o.outcome(&self.model, outcome);
        }
        let current = g.generation == generation;
        if probe {
            let State::HalfOpen { in_flight, successes } = &mut g.state else {
                return;
            };
            if !current {
                return;
            }
            *in_flight = in_flight.saturating_sub(1);
            match outcome {
                CallOutcome::Neutral => {}
                CallOutcome::Success => {
                    *successes += 1;
                    if *successes >= self.config.half_open_probes {
                        self.close(&mut g);
                    }
                }
                CallOutcome::Failure => self.open(&mut g, now, "a half-open probe failed"),
            }
            return;
        }
        // A call let through while closed. Its outcome only moves the state while still closed
        // in the same generation (late answers from before a trip are ignored).
        if !current || g.state != State::Closed {
            return;
        }
        let idx = self.bucket_index(now);
        let n = g.buckets.len();
        let b = &mut g.buckets[(idx % n as u64) as usize];
        if b.index != idx {
            *b = Bucket {
                index: idx,
                ok: 0,
                failed: 0,
            };
        }
        match outcome {
            CallOutcome::Neutral => {}
            CallOutcome::Success => {
                b.ok += 1;
                g.consecutive = 0;
            }
            CallOutcome::Failure => {
                b.failed += 1;
                g.consecutive += 1;
                let cf = self.config.consecutive_failures;
                if cf > 0 && g.consecutive >= cf {
                    self.open(&mut g, now, "consecutive failures");
                    return;
                }
                let (ok, failed) = self.window_counts(&g, idx);
                let calls = ok + failed;
                if calls >= u64::from(self.config.min_calls.max(1))
                    && failed as f64 >= self.config.failure_rate * calls as f64
                {
                    self.open(&mut g, now, "failure rate over the window");
                }
            }
        }
    }

    fn bucket_index(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch);
        (since.as_nanos() / self.config.bucket_len().as_nanos()) as u64
    }

    fn window_counts(&self, g: &Inner, idx: u64) -> (u64, u64) {
        let n = g.buckets.len() as u64;
        g.buckets
            .iter()
            .filter(|b| b.index + n > idx && b.index <= idx)
            .fold((0, 0), |(o, f), b| (o + u64::from(b.ok), f + u64::from(b.failed)))
    }

    fn open(&self, g: &mut Inner, now: Instant, why: &'static str) {
        g.state = State::Open {
            until: now + self.config.open_for,
        };
        g.generation += 1;
        g.consecutive = 0;
        g.buckets.fill(Bucket::default());
        tracing::warn!(model = %self.model, reason = why, open_for = ?self.config.open_for, "circuit opened");
        if let Some(o) = &self.observer {
            o.opened(&self.model);
        }
    }

    fn close(&self, g: &mut Inner) {
        g.state = State::Closed;
        g.generation += 1;
        g.consecutive = 0;
        g.buckets.fill(Bucket::default());
        tracing::info!(model = %self.model, "circuit closed");
        if let Some(o) = &self.observer {
            o.closed(&self.model);
        }
    }
}

/// Leave to make one call through a [`CircuitBreaker`]; record the outcome with
/// [`record`](Self::record). Dropped unrecorded, it counts as [`CallOutcome::Neutral`].
#[derive(Debug)]
pub struct BreakerPermit {
    breaker: Arc<CircuitBreaker>,
    generation: u64,
    probe: bool,
    done: bool,
}

impl BreakerPermit {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Records the call's outcome at `now`.
    pub fn record(mut self, outcome: CallOutcome, now: Instant) {
        self.done = true;
        self.breaker.record(self.generation, self.probe, outcome, now);
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if !self.done {
            // Only a probe slot needs freeing; time is irrelevant for a neutral outcome.
            if self.probe {
                self.breaker
                    .record(self.generation, true, CallOutcome::Neutral, self.breaker.epoch);
            }
        }
    }
}

// The breakers' tests (they read the state machine's private fields).
#[cfg(test)]
#[path = "tests.rs"]
mod tests;
