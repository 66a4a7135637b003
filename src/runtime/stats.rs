//! Observed latency and errors per model, fed back into routing.
//!
//! [`RuntimeStats`] keeps, per model, exponentially weighted moving averages (EWMA) of how much
//! slower (or faster) calls are than the model's published [`LatencyProfile`], and of the error
//! rate, which also decays towards zero with time (half-life), so a model that failed an hour ago
//! is not punished forever. Two adapters hand this to the router:
//!
//! - [`ObservedLatency`]: a [`LatencyEstimator`] that scales another estimator's figure by the
//!   observed slowdown, so latency limits and latency-weighted scorers see reality;
//! - [`FailureAwareQuality`]: a [`QualityEstimator`] that discounts models with recent failures.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use derive_setters::Setters;

use crate::Error;
use crate::estimate::{LatencyEstimator, PreparedLatency, PreparedQuality, QualityEstimator};
use crate::model::{LatencyProfile, ModelId, ModelSpec};
use crate::runtime::clock::Clock;
use crate::task::Task;

/// Smoothing of [`RuntimeStats`].
#[derive(Clone, Copy, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct StatsConfig {
    /// Weight of each new observation in `(0, 1]`.
    #[setters(generate)]
    pub alpha: f64,
    /// Time for the error rate to halve without new observations.
    #[setters(generate)]
    pub error_half_life: Duration,
    /// Successful calls needed before observed latency replaces the estimate.
    #[setters(generate)]
    pub min_samples: u32,
    /// Profile assumed for models that publish none (as [`ProfileLatency`](crate::ProfileLatency)'s
    /// default).
    pub default_profile: LatencyProfile,
}

impl Default for StatsConfig {
    /// `alpha` 0.2, error half-life 60 s, 3 samples, 800 ms + 60 tokens/s default profile.
    fn default() -> Self {
        Self {
            alpha: 0.2,
            error_half_life: Duration::from_secs(60),
            min_samples: 3,
            default_profile: LatencyProfile::new(800.0, 60.0),
        }
    }
}

impl StatsConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for `alpha` outside `(0, 1]` or a zero half-life.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(Error::invalid("stats.alpha", self.alpha, "a weight in (0, 1]"));
        }
        if self.error_half_life.is_zero() {
            return Err(Error::invalid(
                "stats.error_half_life",
                "0s",
                "a non-zero duration",
            ));
        }
        Ok(())
    }
}

/// What has been seen of one model.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ModelStats {
    /// Calls recorded.
    pub calls: u64,
    /// Failed calls recorded.
    pub failures: u64,
    /// EWMA of the wall time of successful calls, in milliseconds.
    pub latency_ms: f64,
    /// EWMA of observed latency over the profile's prediction (1 = as published).
    pub slowdown: f64,
    /// Error rate in `[0, 1]`, decayed to now.
    pub error_rate: f64,
    /// Successful calls recorded.
    pub successes: u64,
}

#[derive(Debug)]
struct Entry {
    failures: u64,
    successes: u64,
    latency_ms: f64,
    slowdown: f64,
    error_rate: f64,
    updated: Instant,
    /// Recorded since the fleet last took them (feature `redis`).
    pending: StatsDelta,
    /// Successful calls in the fleet's window as of the last sync (0 without a fleet): they
    /// count towards `min_samples`, and the averages already hold them.
    fleet_successes: u64,
}

/// What a process recorded of one model since the fleet last took it: sums that add up across
/// processes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct StatsDelta {
    /// Successful calls.
    pub(crate) ok: u64,
    /// Failed calls.
    pub(crate) failed: u64,
    /// Sum of the successful calls' wall times, in ms.
    pub(crate) latency_ms: f64,
    /// Sum of their observed-over-predicted latency ratios.
    pub(crate) slowdown: f64,
}

impl StatsDelta {
    #[cfg(feature = "redis")]
    fn add(&mut self, o: &StatsDelta) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.latency_ms += o.latency_ms;
        self.slowdown += o.slowdown;
    }
}

/// The fleet's figures for one model (feature `redis`), which replace the local averages.
#[cfg(feature = "redis")]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FleetFigures {
    /// Successful calls in the fleet's window.
    pub(crate) successes: u64,
    /// Mean wall time of successful calls, in ms (`None` without any).
    pub(crate) latency_ms: Option<f64>,
    /// Mean observed-over-predicted ratio (`None` without any).
    pub(crate) slowdown: Option<f64>,
    /// The error rate now, in `[0, 1]`.
    pub(crate) error_rate: f64,
}

/// Observed latency and error rates per model; shared by the runtime (which records) and the
/// router's estimators (which read).
pub struct RuntimeStats {
    config: StatsConfig,
    clock: Arc<dyn Clock>,
    models: RwLock<HashMap<ModelId, Arc<Mutex<Entry>>>>,
    /// Bumped after every recorded call: prepared estimators refresh their copies when it moves.
    version: AtomicU64,
}

impl fmt::Debug for RuntimeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeStats")
            .field("config", &self.config)
            .field("models", &self.read().len())
            .finish_non_exhaustive()
    }
}

fn lock(e: &Mutex<Entry>) -> std::sync::MutexGuard<'_, Entry> {
    // Updates are a handful of float stores; a poisoned entry is still consistent enough.
    e.lock().unwrap_or_else(|p| p.into_inner())
}

impl RuntimeStats {
    /// Empty statistics.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an invalid configuration.
    pub fn new(config: StatsConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            clock,
            models: RwLock::new(HashMap::new()),
            version: AtomicU64::new(0),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ModelId, Arc<Mutex<Entry>>>> {
        self.models.read().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, model: &ModelId) -> Arc<Mutex<Entry>> {
        if let Some(e) = self.read().get(model) {
            return Arc::clone(e);
        }
        let now = self.clock.now();
        let mut w = self.models.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(w.entry(model.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(Entry {
                failures: 0,
                successes: 0,
                latency_ms: 0.0,
                slowdown: 1.0,
                error_rate: 0.0,
                updated: now,
                pending: StatsDelta::default(),
                fleet_successes: 0,
            }))
        }))
    }

    fn decay(&self, rate: f64, since: Instant, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(since).as_secs_f64();
        rate * 0.5f64.powf(dt / self.config.error_half_life.as_secs_f64())
    }

    /// Records a successful call of `model` that took `latency` and produced `output_tokens`.
    pub fn record_success(&self, model: &ModelSpec, latency: Duration, output_tokens: u32) {
        let now = self.clock.now();
        let ms = latency.as_secs_f64() * 1000.0;
        let predicted = model
            .latency
            .unwrap_or(self.config.default_profile)
            .latency_ms(output_tokens);
        let ratio = if predicted > 0.0 { ms / predicted } else { 1.0 };
        let a = self.config.alpha;
        let e = self.entry(&model.id);
        let mut e = lock(&e);
        e.successes += 1;
        e.pending.ok += 1;
        e.pending.latency_ms += ms;
        e.pending.slowdown += ratio;
        if e.successes == 1 && e.fleet_successes == 0 {
            e.latency_ms = ms;
            e.slowdown = ratio;
        } else {
            e.latency_ms += a * (ms - e.latency_ms);
            e.slowdown += a * (ratio - e.slowdown);
        }
        e.error_rate = self.decay(e.error_rate, e.updated, now) * (1.0 - a);
        e.updated = now;
        drop(e);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Records a failed call of `model` (one that says the model is unhealthy or slow).
    pub fn record_failure(&self, model: &ModelId) {
        let now = self.clock.now();
        let a = self.config.alpha;
        let e = self.entry(model);
        let mut e = lock(&e);
        e.failures += 1;
        e.pending.failed += 1;
        e.error_rate = self.decay(e.error_rate, e.updated, now) * (1.0 - a) + a;
        e.updated = now;
        drop(e);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// What has been seen of `model`, with the error rate decayed to now.
    pub fn get(&self, model: &ModelId) -> Option<ModelStats> {
        let e = Arc::clone(self.read().get(model)?);
        let e = lock(&e);
        Some(ModelStats {
            calls: e.successes + e.failures,
            failures: e.failures,
            successes: e.successes,
            latency_ms: e.latency_ms,
            slowdown: e.slowdown,
            error_rate: self.decay(e.error_rate, e.updated, self.clock.now()),
        })
    }

    /// The error rate of `model` now (0 for a model never called).
    pub fn error_rate(&self, model: &ModelId) -> f64 {
        self.get(model).map_or(0.0, |s| s.error_rate)
    }

    /// The observed slowdown of `model`, once it has enough successful calls (its own, or the
    /// fleet's when shared through `fleet::FleetStats`, feature `redis`).
    pub fn slowdown(&self, model: &ModelId) -> Option<f64> {
        let e = Arc::clone(self.read().get(model)?);
        let e = lock(&e);
        (e.successes.max(e.fleet_successes) >= u64::from(self.config.min_samples)).then_some(e.slowdown)
    }

    /// The settings.
    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    /// Takes what was recorded since the last call, per model (for the fleet's sums).
    #[cfg(feature = "redis")]
    pub(crate) fn take_deltas(&self) -> Vec<(ModelId, StatsDelta)> {
        let entries: Vec<(ModelId, Arc<Mutex<Entry>>)> = self
            .read()
            .iter()
            .map(|(id, e)| (id.clone(), Arc::clone(e)))
            .collect();
        entries
            .into_iter()
            .filter_map(|(id, e)| {
                let d = std::mem::take(&mut lock(&e).pending);
                (d != StatsDelta::default()).then_some((id, d))
            })
            .collect()
    }

    /// Puts back deltas that could not be sent, to go with the next ones.
    #[cfg(feature = "redis")]
    pub(crate) fn restore_deltas(&self, deltas: Vec<(ModelId, StatsDelta)>) {
        for (id, d) in deltas {
            lock(&self.entry(&id)).pending.add(&d);
        }
    }

    /// Replaces the averages of `model` with the fleet's (which include this process's calls
    /// up to the last [`take_deltas`](Self::take_deltas)). Local calls move them on from there.
    #[cfg(feature = "redis")]
    pub(crate) fn apply_fleet(&self, model: &ModelId, f: &FleetFigures) {
        let now = self.clock.now();
        let e = self.entry(model);
        let mut e = lock(&e);
        if let Some(l) = f.latency_ms.filter(|l| l.is_finite() && *l >= 0.0) {
            e.latency_ms = l;
        }
        if let Some(s) = f.slowdown.filter(|s| s.is_finite() && *s > 0.0) {
            e.slowdown = s;
        }
        if f.error_rate.is_finite() {
            e.error_rate = f.error_rate.clamp(0.0, 1.0);
        }
        e.fleet_successes = f.successes;
        e.updated = now;
        drop(e);
        self.version.fetch_add(1, Ordering::Release);
    }
}

/// A [`LatencyEstimator`] that scales `fallback`'s figure by the slowdown observed in
/// [`RuntimeStats`] (and uses it as it is until a model has enough samples).
///
/// ```
/// use std::sync::Arc;
/// use taskroute::ProfileLatency;
/// use taskroute::runtime::{ObservedLatency, RuntimeStats, StatsConfig, TokioClock};
/// let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(TokioClock))?);
/// let latency = ObservedLatency::new(stats, ProfileLatency::default());
/// // RouterBuilder::latency_estimator(latency)
/// # let _ = latency;
/// # Ok::<(), taskroute::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ObservedLatency<L> {
    stats: Arc<RuntimeStats>,
    fallback: L,
}

impl<L: LatencyEstimator> ObservedLatency<L> {
    /// Scales `fallback` by what `stats` observe.
    pub fn new(stats: Arc<RuntimeStats>, fallback: L) -> Self {
        Self { stats, fallback }
    }
}

impl<L: LatencyEstimator> LatencyEstimator for ObservedLatency<L> {
    fn latency_ms(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        let base = self.fallback.latency_ms(task, model)?;
        Some(self.stats.slowdown(&model.id).map_or(base, |s| base * s))
    }

    fn latency_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [f64]) {
        self.fallback.latency_all(task, models, out);
        for (m, l) in models.iter().zip(out.iter_mut()) {
            if let Some(s) = self.stats.slowdown(&m.id) {
                *l *= s;
            }
        }
    }

    /// Prepares `fallback` and keeps each model's slowdown in a copy refreshed when the
    /// statistics change (not once per model per decision); `None` when `fallback` prepares
    /// nothing.
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedLatency>> {
        let inner = self.fallback.prepare(models)?;
        Some(Box::new(PreparedObserved {
            inner,
            copy: StatsCopy::new(Arc::clone(&self.stats), models),
        }))
    }
}

/// A per-model copy of figures from [`RuntimeStats`], taken again whenever the statistics'
/// version has moved since: one atomic load and one uncontended read lock per decision.
#[derive(Debug)]
struct StatsCopy {
    stats: Arc<RuntimeStats>,
    ids: Box<[ModelId]>,
    copy: RwLock<Copied>,
}

/// What [`StatsCopy`] holds.
#[derive(Debug)]
struct Copied {
    /// The statistics' version it was taken at.
    version: u64,
    /// Per model: (error rate as of `at`, slowdown or 1).
    values: Box<[(f64, f64)]>,
    at: Instant,
}

impl StatsCopy {
    fn new(stats: Arc<RuntimeStats>, models: &[ModelSpec]) -> Self {
        let ids: Box<[ModelId]> = models.iter().map(|m| m.id.clone()).collect();
        let now = stats.clock.now();
        // `u64::MAX`: taken before any version, so the first decision takes it.
        let values = vec![(0.0, 1.0); ids.len()].into();
        Self {
            stats,
            ids,
            copy: RwLock::new(Copied {
                version: u64::MAX,
                values,
                at: now,
            }),
        }
    }

    /// Calls `f` with each model's (error rate as of `at`, slowdown or 1) and `at`.
    fn with<R>(&self, f: impl FnOnce(&[(f64, f64)], Instant) -> R) -> R {
        let version = self.stats.version.load(Ordering::Acquire);
        {
            let c = self.copy.read().unwrap_or_else(|p| p.into_inner());
            if c.version == version {
                return f(&c.values, c.at);
            }
        }
        let mut c = self.copy.write().unwrap_or_else(|p| p.into_inner());
        if c.version != version {
            let now = self.stats.clock.now();
            for (id, v) in self.ids.iter().zip(c.values.iter_mut()) {
                *v = match self.stats.get(id) {
                    None => (0.0, 1.0),
                    Some(s) => (s.error_rate, self.stats.slowdown(id).unwrap_or(1.0)),
                };
            }
            c.version = version;
            c.at = now;
        }
        f(&c.values, c.at)
    }
}

/// [`ObservedLatency`] prepared: the fallback's prepared estimate times each model's slowdown.
#[derive(Debug)]
struct PreparedObserved {
    inner: Box<dyn PreparedLatency>,
    copy: StatsCopy,
}

impl PreparedLatency for PreparedObserved {
    fn latency_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [f64]) {
        self.inner.latency_all(task, models, out);
        self.copy.with(|values, _| {
            for (l, &(_, slowdown)) in out.iter_mut().zip(values) {
                *l *= slowdown;
            }
        });
    }
}

/// A [`QualityEstimator`] that multiplies `inner`'s estimate by `1 - penalty × error_rate`, so
/// models failing now rank lower (and recover as the error rate decays).
#[derive(Debug, Clone)]
pub struct FailureAwareQuality<Q> {
    inner: Q,
    stats: Arc<RuntimeStats>,
    penalty: f64,
}

impl<Q: QualityEstimator> FailureAwareQuality<Q> {
    /// Discounts `inner` by `penalty` (in `[0, 1]`) times the observed error rate.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a penalty outside `[0, 1]`.
    pub fn new(inner: Q, stats: Arc<RuntimeStats>, penalty: f64) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&penalty) {
            return Err(Error::invalid(
                "failure_aware_quality.penalty",
                penalty,
                "a number in [0, 1]",
            ));
        }
        Ok(Self {
            inner,
            stats,
            penalty,
        })
    }
}

impl<Q: QualityEstimator> QualityEstimator for FailureAwareQuality<Q> {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        let q = self.inner.estimate(task, model)?;
        Some(q * (1.0 - self.penalty * self.stats.error_rate(&model.id)))
    }

    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        self.inner.estimate_all(task, models, out);
        for (m, q) in models.iter().zip(out.iter_mut()) {
            if let Some(q) = q {
                *q *= 1.0 - self.penalty * self.stats.error_rate(&m.id);
            }
        }
    }

    /// Prepares `inner` and keeps each model's error rate in a copy refreshed when the
    /// statistics change, decayed to now with one power per decision; `None` when `inner`
    /// prepares nothing.
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
        let inner = self.inner.prepare(models)?;
        Some(Box::new(PreparedFailureAware {
            inner,
            penalty: self.penalty,
            copy: StatsCopy::new(Arc::clone(&self.stats), models),
        }))
    }

    fn name(&self) -> &str {
        "failure-aware"
    }
}

/// [`FailureAwareQuality`] prepared. The error rates are copied as of one instant and decayed
/// from there, so they can differ from [`RuntimeStats::error_rate`] in the last bits.
#[derive(Debug)]
struct PreparedFailureAware {
    inner: Box<dyn PreparedQuality>,
    penalty: f64,
    copy: StatsCopy,
}

impl PreparedQuality for PreparedFailureAware {
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        self.inner.estimate_all(task, models, out);
        let stats = &self.copy.stats;
        self.copy.with(|values, at| {
            let decay = stats.decay(1.0, at, stats.clock.now());
            for (q, &(rate, _)) in out.iter_mut().zip(values) {
                if let Some(q) = q {
                    *q *= 1.0 - self.penalty * (rate * decay);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::ManualClock;
    use crate::{CostFirst, Prices, PriorQuality, ProfileLatency, Router, TaskKind, TaskSpec};

    fn model(id: &str, price: f64) -> ModelSpec {
        ModelSpec::new(id, "p", Prices::new(price, price), 100_000)
            .with_default_quality(0.9)
            .with_latency(LatencyProfile::new(100.0, 100.0))
    }

    fn stats(clock: &ManualClock) -> Arc<RuntimeStats> {
        Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(clock.clone())).unwrap())
    }

    #[test]
    fn slowdown_is_learned_after_min_samples() {
        let clock = ManualClock::new();
        let s = stats(&clock);
        let m = model("m", 1.0);
        // profile predicts 100 + 100 tokens at 100/s = 1100 ms; calls take 3300 ms
        for i in 0..2 {
            s.record_success(&m, Duration::from_millis(3300), 100);
            assert_eq!(s.slowdown(&m.id), None, "after {} samples", i + 1);
        }
        s.record_success(&m, Duration::from_millis(3300), 100);
        assert!((s.slowdown(&m.id).unwrap() - 3.0).abs() < 1e-9);
        let est = ObservedLatency::new(Arc::clone(&s), ProfileLatency::default());
        let task = TaskSpec::new(TaskKind::Chat, 10).with_output_tokens(100);
        assert!((est.latency_ms(&task, &m).unwrap() - 3300.0).abs() < 1e-6);
        // unobserved model: the fallback as it is
        assert_eq!(est.latency_ms(&task, &model("n", 1.0)), Some(1100.0));
    }

    #[test]
    fn error_rate_rises_then_decays_with_time() {
        let clock = ManualClock::new();
        let s = stats(&clock);
        let id = ModelId::new("m");
        for _ in 0..10 {
            s.record_failure(&id);
        }
        let high = s.error_rate(&id);
        assert!(high > 0.85, "{high}");
        clock.advance(Duration::from_secs(60));
        assert!((s.error_rate(&id) - high / 2.0).abs() < 1e-9);
        let st = s.get(&id).unwrap();
        assert_eq!((st.calls, st.failures), (10, 10));
    }

    #[test]
    fn router_learns_to_avoid_a_failing_model() {
        let clock = ManualClock::new();
        let s = stats(&clock);
        let q = FailureAwareQuality::new(PriorQuality, Arc::clone(&s), 1.0).unwrap();
        let router = Router::builder()
            .model(model("cheap", 0.1))
            .model(model("dear", 5.0))
            .policy(CostFirst::new(0.6).unwrap())
            .quality_estimator(q)
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 100);
        assert_eq!(
            router.route(&task).unwrap().primary_model().unwrap().as_str(),
            "cheap"
        );
        for _ in 0..5 {
            s.record_failure(&ModelId::new("cheap"));
        }
        assert_eq!(
            router.route(&task).unwrap().primary_model().unwrap().as_str(),
            "dear"
        );
        clock.advance(Duration::from_secs(600));
        assert_eq!(
            router.route(&task).unwrap().primary_model().unwrap().as_str(),
            "cheap",
            "recovers as the errors age"
        );
    }

    #[test]
    fn latency_limit_sees_observed_slowness() {
        let clock = ManualClock::new();
        let s = stats(&clock);
        let slow = model("slow", 0.1);
        let router = Router::builder()
            .model(slow.clone())
            .model(model("other", 5.0))
            .latency_estimator(ObservedLatency::new(Arc::clone(&s), ProfileLatency::default()))
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 100)
            .with_output_tokens(100)
            .with_limits(crate::Limits::NONE.with_max_latency_ms(2000.0));
        assert_eq!(
            router.route(&task).unwrap().primary_model().unwrap().as_str(),
            "slow"
        );
        for _ in 0..5 {
            s.record_success(&slow, Duration::from_secs(5), 100);
        }
        let d = router.route(&task).unwrap();
        assert_eq!(d.primary_model().unwrap().as_str(), "other");
        assert!(matches!(
            d.candidate("slow").unwrap().rejection(),
            Some(crate::Rejection::LatencyLimit { .. })
        ));
    }

    #[test]
    fn config_and_penalty_validation() {
        let clock = ManualClock::new();
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        assert!(RuntimeStats::new(StatsConfig::default().with_alpha(0.0), Arc::clone(&c)).is_err());
        assert!(
            RuntimeStats::new(
                StatsConfig::default().with_error_half_life(Duration::ZERO),
                Arc::clone(&c)
            )
            .is_err()
        );
        assert!(FailureAwareQuality::new(PriorQuality, stats(&clock), 1.5).is_err());
    }
}
