//! Circuit breakers, one per model, and the [`BreakerRegistry`] that feeds open breakers into
//! the router's health filter.
//!
//! A breaker is **closed** (calls pass) until failures cross a threshold within a sliding
//! window: a number of consecutive failures, or a failure rate over at least `min_calls` calls.
//! It then **opens** for `open_for`: the router sees the model as unhealthy
//! ([`Rejection::Unhealthy`](crate::Rejection::Unhealthy)) and no call reaches it. After the
//! cool-down it is **half-open**: up to `half_open_probes` calls go through at once; that many
//! successes close it, one failure opens it again. A breaker trips even when its model is the
//! only one configured: requests then fail fast instead of hammering a dead provider.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::Error;
use crate::filter::Health;
use crate::model::ModelId;
use crate::runtime::clock::Clock;

/// Thresholds and timings of a [`CircuitBreaker`].
#[derive(Clone, Copy, Debug, PartialEq)]
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
    pub consecutive_failures: u32,
    /// How long an open breaker stays open before letting probes through.
    pub open_for: Duration,
    /// Probe calls let through at once when half-open; that many successes close the breaker.
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
    /// Sets the consecutive-failure threshold (0 turns it off).
    pub fn with_consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n;
        self
    }

    /// Sets the failure-rate threshold, the calls it needs, and the window.
    pub fn with_failure_rate(mut self, rate: f64, min_calls: u32, window: Duration) -> Self {
        self.failure_rate = rate;
        self.min_calls = min_calls;
        self.window = window;
        self
    }

    /// Sets how long the breaker stays open.
    pub fn with_open_for(mut self, d: Duration) -> Self {
        self.open_for = d;
        self
    }

    /// Sets the number of half-open probes.
    pub fn with_half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the bad setting.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, value: String, expected| {
            Err(Error::InvalidValue {
                field: format!("breaker.{field}"),
                value,
                expected,
            })
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

    fn bucket_len(&self) -> Duration {
        (self.window / self.buckets.max(1)).max(Duration::from_nanos(1))
    }
}

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

/// One [`CircuitBreaker`] per model, created on first use, reading a shared [`Clock`].
///
/// It implements the core's [`Health`] hook: give it to
/// [`RouterBuilder::shared_health`](crate::RouterBuilder::shared_health) (or
/// [`Router::with_health`](crate::Router::with_health)) and models with open breakers are
/// rejected as [`Rejection::Unhealthy`](crate::Rejection::Unhealthy).
pub struct BreakerRegistry {
    config: BreakerConfig,
    overrides: HashMap<ModelId, BreakerConfig>,
    clock: Arc<dyn Clock>,
    breakers: RwLock<HashMap<ModelId, Arc<CircuitBreaker>>>,
    observer: Option<Arc<dyn BreakerObserver>>,
}

impl fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("config", &self.config)
            .field("overrides", &self.overrides.len())
            .field("breakers", &self.read().len())
            .finish_non_exhaustive()
    }
}

impl BreakerRegistry {
    /// A registry giving every model `config`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the configuration is invalid.
    pub fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            overrides: HashMap::new(),
            clock,
            breakers: RwLock::new(HashMap::new()),
            observer: None,
        })
    }

    /// Gives every breaker made from now on `observer` (set it before the first call).
    pub fn with_observer(mut self, observer: Arc<dyn BreakerObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Gives `model` its own configuration (before its breaker is first used).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the configuration is invalid.
    pub fn with_config_for(
        mut self,
        model: impl Into<ModelId>,
        config: BreakerConfig,
    ) -> Result<Self, Error> {
        config.validate()?;
        self.overrides.insert(model.into(), config);
        Ok(self)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ModelId, Arc<CircuitBreaker>>> {
        self.breakers.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The breaker of `model`, created closed on first use.
    pub fn breaker(&self, model: &ModelId) -> Arc<CircuitBreaker> {
        if let Some(b) = self.read().get(model) {
            return Arc::clone(b);
        }
        let mut w = self.breakers.write().unwrap_or_else(|p| p.into_inner());
        let config = self.overrides.get(model).copied().unwrap_or(self.config);
        let now = self.clock.now();
        Arc::clone(w.entry(model.clone()).or_insert_with(|| {
            let b = CircuitBreaker::new(model.clone(), config, now);
            Arc::new(match &self.observer {
                Some(o) => b.with_observer(Arc::clone(o)),
                None => b,
            })
        }))
    }

    /// The state of `model`'s breaker now (closed for a model never called).
    pub fn state(&self, model: &ModelId) -> BreakerState {
        self.read()
            .get(model)
            .map_or(BreakerState::Closed, |b| b.state(self.clock.now()))
    }
}

impl Health for BreakerRegistry {
    fn is_available(&self, model: &ModelId) -> bool {
        self.read()
            .get(model)
            .is_none_or(|b| b.is_available(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::ManualClock;
    use crate::{CostFirst, ModelSpec, Prices, Rejection, Router, TaskKind, TaskSpec};
    use proptest::prelude::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn breaker(config: BreakerConfig) -> (Arc<CircuitBreaker>, Instant) {
        let t0 = Instant::now();
        (Arc::new(CircuitBreaker::new(ModelId::new("m"), config, t0)), t0)
    }

    #[test]
    fn consecutive_failures_open_then_probe_closes() {
        let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(3));
        for _ in 0..3 {
            b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Open);
        let err = b.try_acquire(t0 + secs(10)).unwrap_err();
        assert_eq!(err.retry_in, secs(20));
        assert!(err.to_string().contains("`m` is open"));
        // cool-down over: one probe at a time
        let t = t0 + secs(30);
        assert!(b.is_available(t));
        let p = b.try_acquire(t).unwrap();
        assert!(p.is_probe());
        assert!(!b.is_available(t));
        assert!(b.try_acquire(t).is_err());
        p.record(CallOutcome::Success, t);
        assert_eq!(b.state(t), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens_and_dropped_probe_frees_slot() {
        let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(1));
        b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
        let t = t0 + secs(31);
        drop(b.try_acquire(t).unwrap());
        assert!(b.is_available(t), "a dropped probe frees its slot");
        b.try_acquire(t).unwrap().record(CallOutcome::Failure, t);
        assert_eq!(b.state(t), BreakerState::Open);
        assert_eq!(b.try_acquire(t + secs(29)).unwrap_err().retry_in, secs(1));
    }

    #[test]
    fn failure_rate_needs_min_calls_and_forgets_old_buckets() {
        let cfg = BreakerConfig::default()
            .with_consecutive_failures(0)
            .with_failure_rate(0.5, 10, secs(10));
        let (b, t0) = breaker(cfg);
        // 4 failures, 5 successes: 9 calls < 10, stays closed
        for i in 0..9 {
            let o = if i % 2 == 0 {
                CallOutcome::Failure
            } else {
                CallOutcome::Success
            };
            b.try_acquire(t0).unwrap().record(o, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        // 20 s later the old calls are out of the window: 9 more of the same stay closed
        let t = t0 + secs(20);
        for i in 0..9 {
            let o = if i % 2 == 0 {
                CallOutcome::Failure
            } else {
                CallOutcome::Success
            };
            b.try_acquire(t).unwrap().record(o, t);
        }
        assert_eq!(b.state(t), BreakerState::Closed);
        // the 10th call in the window, a failure: 6/10 failed
        b.try_acquire(t).unwrap().record(CallOutcome::Failure, t);
        assert_eq!(b.state(t), BreakerState::Open);
    }

    #[test]
    fn neutral_outcomes_do_not_count_and_late_answers_are_ignored() {
        let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(2));
        let slow = b.try_acquire(t0).unwrap();
        for _ in 0..5 {
            b.try_acquire(t0).unwrap().record(CallOutcome::Neutral, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
        b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        // a call from before the trip answers late: it must not close the breaker
        let t = t0 + secs(31);
        slow.record(CallOutcome::Success, t);
        assert_eq!(b.state(t0 + secs(1)), BreakerState::Open);
    }

    #[test]
    fn config_validation() {
        let c = BreakerConfig {
            failure_rate: 0.0,
            ..BreakerConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("failure_rate"));
        let c = BreakerConfig::default().with_half_open_probes(0);
        assert!(c.validate().is_err());
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
        assert!(BreakerRegistry::new(c, clock).is_err());
    }

    #[test]
    fn registry_feeds_router_health_and_a_lone_model_trips() {
        let clock = ManualClock::new();
        let reg = Arc::new(
            BreakerRegistry::new(
                BreakerConfig::default().with_consecutive_failures(2),
                Arc::new(clock.clone()),
            )
            .unwrap(),
        );
        let router = Router::builder()
            .model(ModelSpec::new("only", "p", Prices::new(1.0, 1.0), 100_000).with_default_quality(0.9))
            .policy(CostFirst::new(0.5).unwrap())
            .shared_health(reg.clone())
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 100);
        assert!(router.route(&task).is_ok());
        let id = ModelId::new("only");
        let b = reg.breaker(&id);
        for _ in 0..2 {
            b.try_acquire(clock.now())
                .unwrap()
                .record(CallOutcome::Failure, clock.now());
        }
        assert_eq!(reg.state(&id), BreakerState::Open);
        match router.route(&task) {
            Err(crate::Error::NoEligibleModel { rejections, .. }) => {
                assert_eq!(rejections, vec![(id.clone(), Rejection::Unhealthy)]);
            }
            other => panic!("expected the lone model to be out, got {other:?}"),
        }
        clock.advance(secs(30));
        assert_eq!(reg.state(&id), BreakerState::HalfOpen);
        assert!(router.route(&task).is_ok(), "after the cool-down a probe may go");
    }

    #[derive(Clone, Debug)]
    enum Op {
        Acquire,
        Finish(usize, u8),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Acquire),
            4 => (any::<usize>(), 0u8..3).prop_map(|(i, o)| Op::Finish(i, o)),
            1 => (0u64..40_000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Against any interleaving of calls, outcomes and time:
        /// - `is_available` agrees with what `try_acquire` does;
        /// - half-open never has more probes in flight than configured;
        /// - an open breaker refuses every call until its cool-down ends;
        /// - it never goes from open to closed without a successful probe;
        /// - `consecutive_failures` failures in a row while closed always open it.
        #[test]
        fn state_machine_invariants(
            ops in proptest::collection::vec(op(), 1..200),
            probes in 1u32..4,
            consecutive in 1u32..6,
        ) {
            let cfg = BreakerConfig::default()
                .with_consecutive_failures(consecutive)
                .with_failure_rate(0.5, 8, secs(10))
                .with_open_for(secs(5))
                .with_half_open_probes(probes);
            let (b, t0) = breaker(cfg);
            let mut now = t0;
            let mut permits: Vec<BreakerPermit> = Vec::new();
            let mut run_of_failures = 0u32; // closed-state permits failed in a row, same generation
            let mut was_open = false;
            let mut probe_succeeded = false;
            for op in ops {
                let before = b.state(now);
                match op {
                    Op::Acquire => {
                        let avail = b.is_available(now);
                        let r = b.try_acquire(now);
                        prop_assert_eq!(avail, r.is_ok(), "is_available disagrees with try_acquire");
                        if before == BreakerState::Open {
                            prop_assert!(r.is_err(), "open breaker let a call through");
                        }
                        if let Ok(p) = r { permits.push(p); }
                    }
                    Op::Finish(i, o) if !permits.is_empty() => {
                        let p = permits.swap_remove(i % permits.len());
                        let probe = p.is_probe();
                        let outcome = [CallOutcome::Success, CallOutcome::Failure, CallOutcome::Neutral][o as usize];
                        let closed_before = before == BreakerState::Closed;
                        let fresh = p.generation == b.lock().generation;
                        p.record(outcome, now);
                        if probe && outcome == CallOutcome::Success { probe_succeeded = true; }
                        if !probe && closed_before && fresh {
                            match outcome {
                                CallOutcome::Failure => run_of_failures += 1,
                                CallOutcome::Success => run_of_failures = 0,
                                _ => {}
                            }
                            if run_of_failures >= consecutive {
                                prop_assert_eq!(b.state(now), BreakerState::Open);
                            }
                        }
                    }
                    Op::Finish(..) => {}
                    Op::Advance(ms) => now += Duration::from_millis(ms),
                }
                let after = b.state(now);
                if after != BreakerState::Closed { run_of_failures = 0; }
                if after == BreakerState::Open { was_open = true; probe_succeeded = false; }
                if was_open && after == BreakerState::Closed {
                    prop_assert!(probe_succeeded, "closed again without a successful probe");
                    was_open = false;
                }
                if let State::HalfOpen { in_flight, .. } = b.lock().state {
                    prop_assert!(in_flight <= probes);
                }
            }
        }
    }
}
