//! Stage 2, **estimate**: expected quality, cost and latency of each candidate.
//!
//! Cost comes from the model's prices and the task's token estimates. Quality comes from a
//! [`QualityEstimator`] ([`PriorQuality`], the catalog's per-kind priors, by default). Latency
//! comes from a [`LatencyEstimator`] ([`ProfileLatency`], the model's published profile, by
//! default).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::closure::closure_adapter;
use crate::kind::TaskKind;
use crate::model::{LatencyProfile, ModelSpec};
use crate::task::Task;

/// What the router expects of one candidate on one task.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Estimate {
    /// Expected quality in `[0, 1]` (probability of a good answer, or a normalised score).
    #[serde(with = "crate::non_finite")]
    pub quality: f64,
    /// Expected cost of the call in USD.
    #[serde(with = "crate::non_finite")]
    pub cost_usd: f64,
    /// Expected wall time of the call in milliseconds.
    #[serde(with = "crate::non_finite")]
    pub latency_ms: f64,
}

impl Estimate {
    /// An estimate from its three parts.
    pub const fn new(quality: f64, cost_usd: f64, latency_ms: f64) -> Self {
        Self {
            quality,
            cost_usd,
            latency_ms,
        }
    }
}

/// Predicts the quality of a model on a task, in `[0, 1]`.
///
/// Static tables, learned models and online learners all implement this. `None` means "no
/// estimate": the router then rejects the candidate with
/// [`Rejection::NoQualityEstimate`](crate::Rejection::NoQualityEstimate).
///
/// Only [`estimate`](Self::estimate) is required. An estimator that can answer for many models
/// faster than one by one overrides [`estimate_all`](Self::estimate_all); one that can precompute
/// something per model (columns of numbers, an index) returns it from
/// [`prepare`](Self::prepare), which the [`Router`](crate::Router) calls once when it is built
/// and then asks the [`PreparedQuality`] on every decision instead of the estimator. The
/// built-in [`PriorQuality`] does exactly that with its per-kind priors; a custom estimator
/// uses the same path (see `tests/router.rs`).
pub trait QualityEstimator: Send + Sync {
    /// Expected quality of `model` on `task`.
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64>;

    /// Expected quality of every model in `models` on `task`, written to `out` (same length).
    ///
    /// Override it when estimating many models at once is cheaper than one by one (a learned
    /// estimator featurises the task once). The router calls this one when
    /// [`prepare`](Self::prepare) returned `None`.
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        for (m, o) in models.iter().zip(out.iter_mut()) {
            *o = self.estimate(task, m);
        }
    }

    /// The build-time hook: called once when a [`Router`](crate::Router) is built over
    /// `models` (or given this estimator), with the router's models in the order every later
    /// call passes them. Return a [`PreparedQuality`] to answer the router's decisions from
    /// then on, or `None` (the default) to be asked through
    /// [`estimate_all`](Self::estimate_all).
    ///
    /// A wrapper forwards to what it wraps and wraps the result.
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
        let _ = models;
        None
    }

    /// A short name for explanations.
    fn name(&self) -> &str {
        "custom"
    }
}

/// A [`QualityEstimator`] prepared for one router's models: what
/// [`QualityEstimator::prepare`] returns, owned by the router and asked once per decision.
pub trait PreparedQuality: Send + Sync {
    /// Expected quality of every model on `task`, written to `out`. `models` and `out` have
    /// the length and order of the models given to `prepare`.
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]);

    /// What [`estimate_all`](Self::estimate_all) would write for `task`, when `self` already
    /// holds it as one column (in the order of the models given to `prepare`): the router
    /// then reads it in place instead of copying it. The default, `None`, means "ask
    /// `estimate_all`".
    fn column(&self, task: &dyn Task) -> Option<&[Option<f64>]> {
        let _ = task;
        None
    }
}

impl fmt::Debug for dyn PreparedLatency + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedLatency")
    }
}

impl fmt::Debug for dyn PreparedQuality + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedQuality")
    }
}

/// The default [`QualityEstimator`]: the model's catalog prior for the task's kind, else its
/// default prior, else the mean of its priors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct PriorQuality;

impl QualityEstimator for PriorQuality {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        model.quality.get(task.kind())
    }
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        let kind = task.kind();
        for (m, o) in models.iter().zip(out.iter_mut()) {
            *o = m.quality.get(kind);
        }
    }
    /// The priors of every built-in kind, one column per kind.
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
        let columns = TaskKind::BUILTIN
            .iter()
            .flat_map(|k| models.iter().map(move |m| m.quality.get(k)))
            .collect();
        Some(Box::new(PriorColumns {
            n: models.len(),
            columns,
        }))
    }
    fn name(&self) -> &str {
        "catalog priors"
    }
}

/// [`PriorQuality`] prepared: `columns[k * n + i]` is model `i`'s prior for
/// `TaskKind::BUILTIN[k]`. A custom kind is looked up model by model.
#[derive(Debug)]
struct PriorColumns {
    n: usize,
    columns: Box<[Option<f64>]>,
}

impl PreparedQuality for PriorColumns {
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        match task.kind().builtin_index() {
            Some(k) => out.copy_from_slice(&self.columns[k * self.n..(k + 1) * self.n]),
            None => PriorQuality.estimate_all(task, models, out),
        }
    }
    fn column(&self, task: &dyn Task) -> Option<&[Option<f64>]> {
        let k = task.kind().builtin_index()?;
        Some(&self.columns[k * self.n..(k + 1) * self.n])
    }
}

/// Predicts the wall time of a call in milliseconds.
///
/// Shaped as [`QualityEstimator`]: [`latency_ms`](Self::latency_ms) is required,
/// [`latency_all`](Self::latency_all) answers for many models, and [`prepare`](Self::prepare)
/// may return a [`PreparedLatency`] the router asks on every decision instead.
pub trait LatencyEstimator: Send + Sync {
    /// Expected latency of `model` on `task`, `None` when unknown.
    fn latency_ms(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64>;

    /// Expected latency of every model in `models` on `task`, written to `out` (same length);
    /// `f64::INFINITY` where there is no estimate (what the router records for one).
    fn latency_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [f64]) {
        for (m, o) in models.iter().zip(out.iter_mut()) {
            *o = self.latency_ms(task, m).unwrap_or(f64::INFINITY);
        }
    }

    /// The build-time hook, as [`QualityEstimator::prepare`]: `None` (the default) means the
    /// router asks [`latency_all`](Self::latency_all).
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedLatency>> {
        let _ = models;
        None
    }
}

/// A [`LatencyEstimator`] prepared for one router's models (see
/// [`LatencyEstimator::prepare`]).
pub trait PreparedLatency: Send + Sync {
    /// Expected latency of every model on `task`, written to `out` (`f64::INFINITY` where
    /// there is none). `models` and `out` have the length and order of the models given to
    /// `prepare`.
    fn latency_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [f64]);
}

/// The default [`LatencyEstimator`]: time to first token plus output tokens over output speed,
/// from the model's [`LatencyProfile`], or from `fallback` for models without one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileLatency {
    fallback: LatencyProfile,
}

impl ProfileLatency {
    /// Uses `fallback` for models that publish no profile.
    pub const fn with_fallback(fallback: LatencyProfile) -> Self {
        Self { fallback }
    }

    /// The profile used for models that publish none.
    pub const fn fallback(&self) -> LatencyProfile {
        self.fallback
    }

    /// The profile used for `model`: its own, else the fallback.
    fn profile_of(&self, model: &ModelSpec) -> LatencyProfile {
        model.latency.unwrap_or(self.fallback)
    }
}

impl Default for ProfileLatency {
    /// Falls back to 800 ms to first token and 60 tokens/s.
    fn default() -> Self {
        Self {
            fallback: LatencyProfile::new(800.0, 60.0),
        }
    }
}

impl LatencyEstimator for ProfileLatency {
    fn latency_ms(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        Some(self.profile_of(model).latency_ms(task.output_tokens()))
    }
    /// Every model's profile (its own, else the fallback), as one column.
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedLatency>> {
        let profiles = models.iter().map(|m| self.profile_of(m));
        Some(Box::new(ProfileColumns {
            ttft_ms: profiles.clone().map(|p| p.ttft_ms).collect(),
            ms_per_token: profiles.map(|p| p.ms_per_output_token()).collect(),
        }))
    }
}

/// [`ProfileLatency`] prepared: each model's profile (its own, else the fallback), as two
/// columns, so the batch is one vectorisable pass.
#[derive(Debug)]
struct ProfileColumns {
    ttft_ms: Box<[f64]>,
    ms_per_token: Box<[f64]>,
}

impl PreparedLatency for ProfileColumns {
    fn latency_all(&self, task: &dyn Task, _models: &[ModelSpec], out: &mut [f64]) {
        // What `LatencyProfile::latency_ms` computes, the same operations in the same order.
        let output = f64::from(task.output_tokens());
        let columns = self.ttft_ms.iter().zip(self.ms_per_token.iter());
        for (o, (ttft, ms)) in out.iter_mut().zip(columns) {
            *o = ttft + output * ms;
        }
    }
}

/// Predicts how many output tokens each model will write for a task, so the router's cost
/// estimate can differ per model and per prompt (a verbose model costs more on the same task).
///
/// Set one with [`RouterBuilder::output_estimator`](crate::RouterBuilder::output_estimator).
/// Without one, or where it answers `None`, a candidate's cost uses the task's own
/// [`output_tokens`](Task::output_tokens). Only the cost estimate reads it: the context-window
/// filter and the default latency estimate keep the task's figure.
///
/// Only [`output_tokens`](Self::output_tokens) is required; an estimator that answers for many
/// models faster than one by one (a learned one featurizes the text once) overrides
/// [`output_tokens_all`](Self::output_tokens_all), which the router calls.
pub trait OutputEstimator: Send + Sync {
    /// Expected output tokens of `model` on `task`, `None` to keep the task's estimate.
    fn output_tokens(&self, task: &dyn Task, model: &ModelSpec) -> Option<u32>;

    /// Expected output tokens of every model in `models` on `task`, written to `out` (same
    /// length).
    fn output_tokens_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<u32>]) {
        for (m, o) in models.iter().zip(out.iter_mut()) {
            *o = self.output_tokens(task, m);
        }
    }
}

/// One model's value from a batch call `all(models, out)`: the single-model method of an
/// estimator whose batch method does the work (a learned estimator featurizes the task once per
/// call, whatever the number of models).
#[cfg(feature = "learn")]
pub(crate) fn one_by_batch<T: Copy>(
    model: &ModelSpec,
    all: impl FnOnce(&[ModelSpec], &mut [Option<T>]),
) -> Option<T> {
    let mut out = [None];
    all(std::slice::from_ref(model), &mut out);
    out[0]
}

/// Expected cost in USD of `model` on `task`, from prices and token estimates.
pub fn expected_cost_usd(task: &dyn Task, model: &ModelSpec) -> f64 {
    model.prices.cost_usd(
        task.input_tokens(),
        task.cached_input_tokens(),
        task.output_tokens(),
    )
}

closure_adapter! {
    /// A [`QualityEstimator`] made from a closure; see [`quality_fn`].
    pub struct QualityFn;
    /// Makes a [`QualityEstimator`] from a closure.
    pub fn quality_fn;
    impl QualityEstimator { fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64>; }
}

closure_adapter! {
    /// A [`LatencyEstimator`] made from a closure; see [`latency_fn`].
    pub struct LatencyFn;
    /// Makes a [`LatencyEstimator`] from a closure.
    ///
    /// ```
    /// use taskroute::{latency_fn, Router};
    /// // 2 ms per output token, whatever the model.
    /// let latency = latency_fn(|task, _model| Some(2.0 * f64::from(task.output_tokens())));
    /// # let _ = Router::builder().latency_estimator(latency);
    /// ```
    pub fn latency_fn;
    impl LatencyEstimator { fn latency_ms(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64>; }
}

macro_rules! forward_estimators {
    ($($ptr:ty),*) => {$(
        impl<T: QualityEstimator + ?Sized> QualityEstimator for $ptr {
            fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
                (**self).estimate(task, model)
            }
            fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
                (**self).estimate_all(task, models, out)
            }
            fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
                (**self).prepare(models)
            }
            fn name(&self) -> &str {
                (**self).name()
            }
        }
        impl<T: OutputEstimator + ?Sized> OutputEstimator for $ptr {
            fn output_tokens(&self, task: &dyn Task, model: &ModelSpec) -> Option<u32> {
                (**self).output_tokens(task, model)
            }
            fn output_tokens_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<u32>]) {
                (**self).output_tokens_all(task, models, out)
            }
        }
        impl<T: LatencyEstimator + ?Sized> LatencyEstimator for $ptr {
            fn latency_ms(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
                (**self).latency_ms(task, model)
            }
            fn latency_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [f64]) {
                (**self).latency_all(task, models, out)
            }
            fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedLatency>> {
                (**self).prepare(models)
            }
        }
    )*};
}
forward_estimators!(&T, Box<T>, Arc<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Prices, TaskSpec};

    #[test]
    fn profile_latency_uses_fallback_when_model_has_none() {
        let task = TaskSpec::new(TaskKind::Chat, 10).with_output_tokens(120);
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 1000);
        let est = ProfileLatency::default();
        assert_eq!(est.latency_ms(&task, &m), Some(800.0 + 2000.0));
        let fast = m.with_latency(LatencyProfile::new(100.0, 120.0));
        assert_eq!(est.latency_ms(&task, &fast), Some(1100.0));
    }

    #[test]
    fn prepared_profile_latency_of_no_output_tokens_is_finite_at_any_speed() {
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 1000);
        let models = [
            m.clone().with_latency(LatencyProfile::new(250.0, 1e-306)),
            m.with_latency(LatencyProfile::new(100.0, 50.0)),
        ];
        let prepared = ProfileLatency::default().prepare(&models).unwrap();
        let mut out = [0.0; 2];
        let task = TaskSpec::new(TaskKind::Chat, 10).with_output_tokens(0);
        prepared.latency_all(&task, &models, &mut out);
        assert_eq!(out, [250.0, 100.0]);
        let task = task.with_output_tokens(100);
        prepared.latency_all(&task, &models, &mut out);
        assert_eq!(out, [f64::INFINITY, 2100.0]);
    }

    #[test]
    fn prior_quality_reads_kind_prior() {
        let task = TaskSpec::new(TaskKind::Math, 10);
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 1000).with_quality(TaskKind::Math, 0.75);
        assert_eq!(PriorQuality.estimate(&task, &m), Some(0.75));
        let bare = ModelSpec::new("n", "p", Prices::new(1.0, 1.0), 1000);
        assert_eq!(PriorQuality.estimate(&task, &bare), None);
    }
}
