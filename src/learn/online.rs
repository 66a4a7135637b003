//! [`OnlineEstimator`]: learns from feedback while serving, with Thompson sampling.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use derive_setters::Setters;
use rand::SeedableRng;
use rand_distr::{Beta, Distribution};
use rand_pcg::Pcg64Mcg;

use super::LearnError;
use crate::estimate::{PriorQuality, QualityEstimator, one_by_batch};
use crate::model::{ModelId, ModelSpec};
use crate::task::{Task, TaskKind};

/// How an [`OnlineEstimator`] turns a posterior into an estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Sampling {
    /// Thompson sampling: a random draw from each posterior, so models the estimator is unsure
    /// about are sometimes tried (exploration) and the evidently best is usually chosen.
    #[default]
    Thompson,
    /// The posterior mean: pure exploitation (for evaluation, or once exploration is done).
    Mean,
}

/// Settings of an [`OnlineEstimator`].
#[derive(Clone, Copy, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct OnlineConfig {
    /// Seed of the sampler. Draw number `n` uses a generator seeded from `(seed, n)`, so a
    /// single-threaded run is reproducible exactly.
    #[setters(generate)]
    pub seed: u64,
    /// Weight of the base estimate, in pseudo-observations (default 4): the prior of a
    /// (kind, model) arm is `Beta(q0 * s, (1 - q0) * s)` with `q0` the base estimate.
    #[setters(generate)]
    pub prior_strength: f64,
    /// Thompson draws or posterior means.
    #[setters(generate)]
    pub sampling: Sampling,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            seed: 0x0b5e_4e11,
            prior_strength: 4.0,
            sampling: Sampling::Thompson,
        }
    }
}

/// The feedback of one (kind, model) arm: sums, so that arms add up across processes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Arm {
    pub(crate) successes: f64,
    pub(crate) failures: f64,
    pub(crate) n: u64,
    pub(crate) cost_sum: f64,
}

impl Arm {
    fn add(&mut self, o: &Arm) {
        self.successes += o.successes;
        self.failures += o.failures;
        self.n += o.n;
        self.cost_sum += o.cost_sum;
    }
}

/// Arms by kind, then by model.
type Arms = HashMap<TaskKind, HashMap<ModelId, Arm>>;

/// A [`QualityEstimator`] that learns from feedback: a Beta posterior per (task kind, model),
/// updated by [`observe`](Self::observe), and Thompson sampling (or the posterior mean) to
/// estimate.
///
/// The prior of each arm comes from a base estimator (default: the catalog priors,
/// [`PriorQuality`]; a trained [`LearnedEstimator`](super::LearnedEstimator) works too, and
/// then the bandit corrects it per kind), worth [`OnlineConfig::prior_strength`]
/// observations; where the base has no estimate the prior is `Beta(1, 1)`.
///
/// Usable from many threads at once: estimates take a read lock, feedback a short write lock,
/// and the random draws need no lock (a per-call generator seeded from the seed and an
/// atomic draw counter). Share it with `Arc` between the router and the code that observes
/// outcomes.
///
/// ```
/// use std::sync::Arc;
/// use taskroute::learn::{OnlineConfig, OnlineEstimator};
/// use taskroute::{CostFirst, ModelId, ModelSpec, Prices, Router, TaskKind, TaskSpec};
/// let online = Arc::new(OnlineEstimator::new(OnlineConfig::default().with_seed(7)));
/// let router = Router::builder()
///     .model(ModelSpec::new("cheap", "p", Prices::new(0.1, 0.1), 8_000))
///     .model(ModelSpec::new("dear", "p", Prices::new(9.0, 9.0), 8_000))
///     .shared_quality_estimator(online.clone())
///     .policy(CostFirst::new(0.7)?)
///     .build()?;
/// let task = TaskSpec::new(TaskKind::Chat, 100);
/// for _ in 0..200 {
///     let d = router.route(&task)?;
///     let model = d.primary_model().unwrap().clone();
///     let outcome = if model.as_str() == "cheap" { 0.2 } else { 1.0 }; // cheap is poor here
///     online.observe(&task, &model, outcome, 0.001)?;
/// }
/// assert!(online.posterior_mean(&TaskKind::Chat, &ModelId::new("cheap")).unwrap() < 0.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OnlineEstimator {
    config: OnlineConfig,
    base: Arc<dyn QualityEstimator>,
    /// Arms by kind, then by model: both looked up by reference, no key is cloned to estimate.
    arms: RwLock<Arms>,
    /// Feedback not yet sent to the fleet; `None` unless shared (feature `redis`).
    unsent: std::sync::Mutex<Option<Arms>>,
    draws: AtomicU64,
}

impl fmt::Debug for OnlineEstimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineEstimator")
            .field("config", &self.config)
            .field("base", &self.base.name())
            .field("observations", &self.observations())
            .finish_non_exhaustive()
    }
}

thread_local! {
    static BASE: RefCell<Vec<Option<f64>>> = const { RefCell::new(Vec::new()) };
}

impl OnlineEstimator {
    /// An estimator with no feedback yet, over the catalog priors.
    pub fn new(config: OnlineConfig) -> Self {
        Self::with_base(config, PriorQuality)
    }

    /// An estimator whose priors come from `base`.
    pub fn with_base(config: OnlineConfig, base: impl QualityEstimator + 'static) -> Self {
        Self {
            config,
            base: Arc::new(base),
            arms: RwLock::new(HashMap::new()),
            unsent: std::sync::Mutex::new(None),
            draws: AtomicU64::new(0),
        }
    }

    /// Records that `model` did `task` with quality `outcome` (in `[0, 1]`: 1 success, 0
    /// failure, or a normalised judge score, counted fractionally) at `cost_usd`.
    ///
    /// # Errors
    /// [`LearnError::OutcomeOutOfRange`] when `outcome` is outside `[0, 1]` or NaN,
    /// [`LearnError::InvalidCost`] when the cost is negative or not finite. Nothing is
    /// recorded then.
    pub fn observe(
        &self,
        task: &dyn Task,
        model: &ModelId,
        outcome: f64,
        cost_usd: f64,
    ) -> Result<(), LearnError> {
        if !(0.0..=1.0).contains(&outcome) {
            return Err(LearnError::OutcomeOutOfRange {
                example: None,
                model: model.clone(),
                value: outcome,
            });
        }
        if !(cost_usd.is_finite() && cost_usd >= 0.0) {
            return Err(LearnError::InvalidCost {
                example: None,
                model: model.clone(),
                value: cost_usd,
            });
        }
        let delta = Arm {
            successes: outcome,
            failures: 1.0 - outcome,
            n: 1,
            cost_sum: cost_usd,
        };
        // arms, then unsent: the order `replace_with_fleet` takes them in
        let mut arms = self.arms.write().unwrap_or_else(PoisonError::into_inner);
        add_arm(&mut arms, task.kind(), model, &delta);
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(u) = unsent.as_mut() {
            add_arm(u, task.kind(), model, &delta);
        }
        Ok(())
    }

    /// From now on keeps feedback for the fleet (`fleet::FleetStats`), starting with every arm
    /// learned so far (once: a second call changes nothing).
    #[cfg(feature = "redis")]
    pub(crate) fn share(&self) {
        let arms = self.arms.read().unwrap_or_else(PoisonError::into_inner);
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        if unsent.is_none() {
            *unsent = Some(arms.clone());
        }
    }

    /// Takes the feedback kept for the fleet since the last call (none before [`share`](Self::share)).
    #[cfg(feature = "redis")]
    pub(crate) fn take_unsent(&self) -> Vec<(TaskKind, ModelId, Arm)> {
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        match unsent.as_mut() {
            Some(u) => flatten(std::mem::take(u)),
            None => Vec::new(),
        }
    }

    /// Puts back feedback that could not be sent, to go with the next.
    #[cfg(feature = "redis")]
    pub(crate) fn restore_unsent(&self, arms: Vec<(TaskKind, ModelId, Arm)>) {
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        let u = unsent.get_or_insert_with(HashMap::new);
        for (kind, model, arm) in arms {
            add_arm(u, &kind, &model, &arm);
        }
    }

    /// Replaces every arm with the fleet's totals (which hold this process's feedback up to the
    /// last [`take_unsent`](Self::take_unsent)) plus the feedback received since.
    #[cfg(feature = "redis")]
    pub(crate) fn replace_with_fleet(&self, fleet: Vec<(TaskKind, ModelId, Arm)>) {
        let mut next: Arms = HashMap::new();
        for (kind, model, arm) in fleet {
            add_arm(&mut next, &kind, &model, &arm);
        }
        let mut arms = self.arms.write().unwrap_or_else(PoisonError::into_inner);
        let unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        for (kind, by_model) in unsent.iter().flatten() {
            for (model, arm) in by_model {
                add_arm(&mut next, kind, model, arm);
            }
        }
        *arms = next;
    }

    /// A copy of the current posteriors (same base and seed) that estimates with `sampling`:
    /// e.g. [`Sampling::Mean`] to evaluate what the bandit has learned so far without
    /// exploring. Later feedback to either copy does not reach the other.
    pub fn snapshot(&self, sampling: Sampling) -> OnlineEstimator {
        let arms = self.arms.read().unwrap_or_else(PoisonError::into_inner).clone();
        OnlineEstimator {
            config: OnlineConfig {
                sampling,
                ..self.config
            },
            base: self.base.clone(),
            arms: RwLock::new(arms),
            unsent: std::sync::Mutex::new(None),
            draws: AtomicU64::new(0),
        }
    }

    /// Feedback received so far, over all arms.
    pub fn observations(&self) -> u64 {
        self.arms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(HashMap::values)
            .map(|a| a.n)
            .sum()
    }

    /// Observations of `model` on `kind`.
    pub fn observations_of(&self, kind: &TaskKind, model: &ModelId) -> u64 {
        self.arm(kind, model).map_or(0, |a| a.n)
    }

    /// Mean observed success of `model` on `kind` (feedback only, no prior), if any feedback.
    pub fn posterior_mean(&self, kind: &TaskKind, model: &ModelId) -> Option<f64> {
        self.arm(kind, model)
            .filter(|a| a.n > 0)
            .map(|a| a.successes / (a.successes + a.failures))
    }

    /// Mean observed cost in USD of `model` on `kind`, if any feedback.
    pub fn mean_cost_usd(&self, kind: &TaskKind, model: &ModelId) -> Option<f64> {
        self.arm(kind, model)
            .filter(|a| a.n > 0)
            .map(|a| a.cost_sum / a.n as f64)
    }

    fn arm(&self, kind: &TaskKind, model: &ModelId) -> Option<Arm> {
        self.arms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kind)
            .and_then(|m| m.get(model))
            .copied()
    }

    /// The Beta parameters of an arm given its base estimate.
    fn posterior(&self, base: Option<f64>, arm: Option<&Arm>) -> (f64, f64) {
        let s = self.config.prior_strength.max(0.0);
        let (a0, b0) = match base {
            Some(q) if (0.0..=1.0).contains(&q) && s > 0.0 => {
                // Keep both parameters positive so the Beta is proper.
                ((q * s).max(1e-3), ((1.0 - q) * s).max(1e-3))
            }
            _ => (1.0, 1.0),
        };
        match arm {
            Some(a) => (a0 + a.successes, b0 + a.failures),
            None => (a0, b0),
        }
    }
}

fn add_arm(arms: &mut Arms, kind: &TaskKind, model: &ModelId, delta: &Arm) {
    let by_model = match arms.get_mut(kind) {
        Some(m) => m,
        None => arms.entry(kind.clone()).or_default(),
    };
    match by_model.get_mut(model) {
        Some(a) => a.add(delta),
        None => {
            by_model.insert(model.clone(), *delta);
        }
    }
}

#[cfg(feature = "redis")]
fn flatten(arms: Arms) -> Vec<(TaskKind, ModelId, Arm)> {
    arms.into_iter()
        .flat_map(|(kind, by_model)| {
            by_model
                .into_iter()
                .map(move |(model, arm)| (kind.clone(), model, arm))
        })
        .collect()
}

impl QualityEstimator for OnlineEstimator {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        one_by_batch(model, |models, out| self.estimate_all(task, models, out))
    }

    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        BASE.with(|b| {
            let mut base = b.borrow_mut();
            base.clear();
            base.resize(models.len(), None);
            self.base.estimate_all(task, models, &mut base);
            let draw = self.draws.fetch_add(1, Ordering::Relaxed);
            let mut rng =
                Pcg64Mcg::seed_from_u64(self.config.seed ^ draw.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let arms = self.arms.read().unwrap_or_else(PoisonError::into_inner);
            let by_model = arms.get(task.kind());
            for ((m, o), q0) in models.iter().zip(out.iter_mut()).zip(base.iter()) {
                let arm = by_model.and_then(|b| b.get(m.id.as_str()));
                let (a, b) = self.posterior(*q0, arm);
                *o = Some(match self.config.sampling {
                    Sampling::Mean => a / (a + b),
                    Sampling::Thompson => match Beta::new(a, b) {
                        Ok(dist) => dist.sample(&mut rng).clamp(0.0, 1.0),
                        Err(_) => a / (a + b),
                    },
                });
            }
        });
    }

    fn name(&self) -> &str {
        match self.config.sampling {
            Sampling::Thompson => "online (Thompson sampling)",
            Sampling::Mean => "online (posterior mean)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CostFirst, Prices, Router, TaskSpec};

    fn models() -> Vec<ModelSpec> {
        vec![
            ModelSpec::new("cheap", "p", Prices::new(0.1, 0.1), 8_000),
            ModelSpec::new("dear", "p", Prices::new(9.0, 9.0), 8_000),
        ]
    }

    /// Simulates `rounds` of routing with feedback; returns the share of calls to "cheap" in
    /// the last half.
    fn run(p_cheap: f64, seed: u64, rounds: usize) -> f64 {
        let online = Arc::new(OnlineEstimator::new(OnlineConfig::default().with_seed(seed)));
        let router = Router::builder()
            .models(models())
            .shared_quality_estimator(online.clone())
            .policy(CostFirst::new(0.75).unwrap())
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 100);
        let mut env = Pcg64Mcg::seed_from_u64(seed + 1);
        let mut cheap_late = 0;
        for r in 0..rounds {
            let d = router.route(&task).unwrap();
            let m = d.primary_model().unwrap().clone();
            let p = if m.as_str() == "cheap" { p_cheap } else { 0.95 };
            let y = if rand::RngExt::random::<f64>(&mut env) < p {
                1.0
            } else {
                0.0
            };
            online.observe(&task, &m, y, 0.001).unwrap();
            if r >= rounds / 2 && m.as_str() == "cheap" {
                cheap_late += 1;
            }
        }
        cheap_late as f64 / (rounds / 2) as f64
    }

    #[test]
    fn thompson_learns_which_arm_clears_the_floor() {
        // Cheap model good enough (0.9 > floor 0.75): mostly cheap.
        assert!(run(0.9, 1, 600) > 0.8);
        // Cheap model poor (0.4): mostly dear.
        assert!(run(0.4, 1, 600) < 0.2);
    }

    #[test]
    fn same_seed_same_run() {
        assert_eq!(run(0.7, 5, 200), run(0.7, 5, 200));
    }

    #[test]
    fn bad_feedback_is_refused() {
        let o = OnlineEstimator::new(OnlineConfig::default());
        let t = TaskSpec::new(TaskKind::Chat, 1);
        let id = ModelId::new("m");
        assert!(o.observe(&t, &id, 1.5, 0.0).is_err());
        assert!(o.observe(&t, &id, f64::NAN, 0.0).is_err());
        assert!(o.observe(&t, &id, 1.0, -1.0).is_err());
        assert_eq!(o.observations(), 0);
        o.observe(&t, &id, 0.25, 0.5).unwrap();
        assert_eq!(o.posterior_mean(&TaskKind::Chat, &id), Some(0.25));
        assert_eq!(o.mean_cost_usd(&TaskKind::Chat, &id), Some(0.5));
    }

    #[test]
    fn mean_mode_uses_base_prior_and_feedback() {
        let o = OnlineEstimator::new(
            OnlineConfig::default()
                .with_sampling(Sampling::Mean)
                .with_prior_strength(4.0),
        );
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 8_000).with_quality(TaskKind::Chat, 0.5);
        let bare = ModelSpec::new("bare", "p", Prices::new(1.0, 1.0), 8_000);
        let t = TaskSpec::new(TaskKind::Chat, 1);
        assert_eq!(o.estimate(&t, &m), Some(0.5));
        assert_eq!(o.estimate(&t, &bare), Some(0.5), "Beta(1,1) without a base");
        for _ in 0..4 {
            o.observe(&t, &m.id, 1.0, 0.0).unwrap();
        }
        // Beta(2 + 4, 2) -> 0.75
        assert!((o.estimate(&t, &m).unwrap() - 0.75).abs() < 1e-12);
        let frozen = o.snapshot(Sampling::Mean);
        o.observe(&t, &m.id, 0.0, 0.0).unwrap();
        assert!(
            (frozen.estimate(&t, &m).unwrap() - 0.75).abs() < 1e-12,
            "snapshot is a copy"
        );
        assert_eq!(frozen.observations(), 4);
        // Another kind is untouched.
        let other = TaskSpec::new(TaskKind::Math, 1);
        assert_eq!(o.observations_of(&TaskKind::Math, &m.id), 0);
        assert!(o.estimate(&other, &m).is_some());
    }

    #[test]
    fn many_threads_observe_and_estimate() {
        let o = Arc::new(OnlineEstimator::new(OnlineConfig::default()));
        let ms = models();
        std::thread::scope(|s| {
            for t in 0..4 {
                let o = o.clone();
                let ms = ms.clone();
                s.spawn(move || {
                    let task = TaskSpec::new(TaskKind::Chat, 1);
                    let mut out = [None; 2];
                    for i in 0..250 {
                        o.observe(&task, &ms[i % 2].id, f64::from(t % 2), 0.0).unwrap();
                        o.estimate_all(&task, &ms, &mut out);
                        assert!(out.iter().all(|q| q.is_some_and(|q| (0.0..=1.0).contains(&q))));
                    }
                });
            }
        });
        assert_eq!(o.observations(), 1000);
        assert_eq!(o.observations_of(&TaskKind::Chat, &ms[0].id), 500);
    }
}
