//! Live A/B experiments between policies (feature `experiment`).
//!
//! - [`Experiment`]: a [`Policy`] that splits traffic between variants (other policies, or fixed
//!   models) by traffic share. Assignment is sticky: the task's [`caller_key`](Task::caller_key)
//!   (a user, tenant or session id) is hashed with the experiment's name, so one caller always
//!   gets the same variant, and two experiments assign independently. A task without a key gets
//!   the first variant (the control).
//! - [`SequentialTest`]: feedback per variant (a success metric in `[0, 1]` the caller reports)
//!   and a stopping rule that says when one variant is better than every other at a stated
//!   confidence (see [`stop`]).
//!
//! The experiment is pure: the same key always gives the same variant, with no state and no
//! clock. Feedback is a separate value the caller owns (behind a `Mutex` when shared).
//!
//! ```
//! use taskroute::experiment::{Conclusion, Experiment, SequentialTest};
//! use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec, quality_fn};
//!
//! let models = vec![
//!     ModelSpec::new("cheap", "p", Prices::new(0.1, 0.4), 100_000),
//!     ModelSpec::new("strong", "p", Prices::new(3.0, 15.0), 100_000),
//! ];
//! let quality = quality_fn(|_, m: &ModelSpec| Some(if m.id.as_str() == "strong" { 0.9 } else { 0.7 }));
//! let experiment = Experiment::builder("floor-test")
//!     .policy("cost-first-0.6", CostFirst::new(0.6)?, 0.5)
//!     .model("always-strong", "strong", 0.5)
//!     .build()?;
//! let router = Router::builder()
//!     .models(models)
//!     .quality_estimator(quality)
//!     .policy(experiment.clone())
//!     .build()?;
//!
//! let task = TaskSpec::new(TaskKind::Chat, 500).with_caller_key("user-42");
//! let decision = router.route(&task)?;
//! let variant = experiment.variant_for(&task);
//! assert_eq!(variant, experiment.assign("user-42")); // sticky: the same key, the same variant
//! println!("{} via {}", decision.explain(), experiment.variants()[variant].name);
//!
//! // Later, when the caller knows whether the answer was good:
//! let mut test = SequentialTest::new(experiment.variants().len(), 0.95)?;
//! test.record(variant, 1.0)?;
//! assert_eq!(test.conclusion(), Conclusion::Undecided);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::decision::{Candidate, Verdict};
use crate::filter::Rejection;
use crate::model::ModelId;
use crate::policy::Policy;
use crate::score::Score;
use crate::task::Task;

pub mod stop;

pub use stop::{ArmStats, Conclusion, SequentialTest};

/// A malformed experiment or feedback.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// An experiment needs at least two variants.
    #[error("an experiment needs at least two variants, got {got}")]
    TooFewVariants {
        /// How many were given.
        got: usize,
    },
    /// Two variants share a name.
    #[error("two variants are named `{name}`; give each a distinct name")]
    DuplicateVariant {
        /// The repeated name.
        name: String,
    },
    /// A traffic share is not a finite, positive number.
    #[error("variant `{variant}` has traffic share {share}; shares must be finite and > 0")]
    BadShare {
        /// The variant.
        variant: String,
        /// Its share.
        share: f64,
    },
    /// The confidence is not strictly between 0 and 1.
    #[error("confidence {confidence} must be strictly between 0 and 1 (e.g. 0.95)")]
    BadConfidence {
        /// The value given.
        confidence: f64,
    },
    /// A reward outside `[0, 1]` (or not a number).
    #[error("reward {reward} for variant {variant} is outside [0, 1]")]
    BadReward {
        /// The variant index.
        variant: usize,
        /// The reward given.
        reward: f64,
    },
    /// A variant index the experiment does not have.
    #[error("variant {variant} does not exist (the experiment has {variants})")]
    UnknownVariant {
        /// The index given.
        variant: usize,
        /// Number of variants.
        variants: usize,
    },
}

/// What a variant routes with.
#[derive(Clone)]
#[non_exhaustive]
pub enum Arm {
    /// A policy ranks the candidates.
    Policy(Arc<dyn Policy>),
    /// Always this model (every other candidate is rejected).
    Model(ModelId),
}

impl fmt::Debug for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arm::Policy(p) => f.debug_tuple("Policy").field(&p.name()).finish(),
            Arm::Model(m) => f.debug_tuple("Model").field(m).finish(),
        }
    }
}

/// One variant of an [`Experiment`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Variant {
    /// The variant's name (a bounded label: safe for metrics).
    pub name: Cow<'static, str>,
    /// What it routes with.
    pub arm: Arm,
    /// Its traffic share, normalised so that all shares sum to 1.
    pub share: f64,
}

/// A [`Policy`] that splits traffic between variants; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Experiment {
    name: Cow<'static, str>,
    salt: u64,
    variants: Arc<[Variant]>,
    /// Upper bound of each variant's slice of the 64-bit hash space; the last is `u64::MAX`.
    bounds: Arc<[u64]>,
}

impl Experiment {
    /// A builder for an experiment called `name` (the name salts the assignment hash).
    pub fn builder(name: impl Into<Cow<'static, str>>) -> ExperimentBuilder {
        ExperimentBuilder {
            name: name.into(),
            variants: Vec::new(),
        }
    }

    /// The experiment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The variants, in the order they were added.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The variant a caller key is assigned to: always the same for the same key and
    /// experiment name.
    pub fn assign(&self, key: &str) -> usize {
        let h = xxh3_64_with_seed(key.as_bytes(), self.salt);
        self.bounds.iter().position(|&b| h <= b).unwrap_or(0)
    }

    /// The variant a task is routed with: [`assign`](Self::assign) of its caller key, or the
    /// first variant (the control) when it has none.
    pub fn variant_for(&self, task: &dyn Task) -> usize {
        task.caller_key().map_or(0, |k| self.assign(k))
    }
}

impl Policy for Experiment {
    fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
        match &self.variants[self.variant_for(task)].arm {
            Arm::Policy(p) => p.rank(task, candidates),
            Arm::Model(id) => {
                for c in candidates.iter_mut() {
                    if matches!(c.verdict, Verdict::Pending) {
                        c.verdict = if &c.model == id {
                            Verdict::Scored(Score::new(1.0))
                        } else {
                            Verdict::Rejected(Rejection::Policy {
                                detail: Cow::Borrowed("the experiment variant routes to another model"),
                            })
                        };
                    }
                }
            }
        }
    }

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }
}

/// Builds an [`Experiment`]; [`build`](Self::build) validates.
#[derive(Debug)]
pub struct ExperimentBuilder {
    name: Cow<'static, str>,
    variants: Vec<(Cow<'static, str>, Arm, f64)>,
}

impl ExperimentBuilder {
    /// Adds a variant that routes with `policy`, taking `share` of the traffic (relative to the
    /// other shares).
    pub fn policy(
        self,
        name: impl Into<Cow<'static, str>>,
        policy: impl Policy + 'static,
        share: f64,
    ) -> Self {
        self.arm(name, Arm::Policy(Arc::new(policy)), share)
    }

    /// Adds a variant that always routes to `model`.
    pub fn model(self, name: impl Into<Cow<'static, str>>, model: impl Into<ModelId>, share: f64) -> Self {
        self.arm(name, Arm::Model(model.into()), share)
    }

    /// Adds a variant.
    pub fn arm(mut self, name: impl Into<Cow<'static, str>>, arm: Arm, share: f64) -> Self {
        self.variants.push((name.into(), arm, share));
        self
    }

    /// The experiment.
    ///
    /// # Errors
    /// [`ExperimentError::TooFewVariants`], [`ExperimentError::DuplicateVariant`],
    /// [`ExperimentError::BadShare`].
    pub fn build(self) -> Result<Experiment, ExperimentError> {
        let n = self.variants.len();
        if n < 2 {
            return Err(ExperimentError::TooFewVariants { got: n });
        }
        for (i, (name, _, share)) in self.variants.iter().enumerate() {
            if !share.is_finite() || *share <= 0.0 {
                return Err(ExperimentError::BadShare {
                    variant: name.to_string(),
                    share: *share,
                });
            }
            if self.variants[..i].iter().any(|(other, _, _)| other == name) {
                return Err(ExperimentError::DuplicateVariant {
                    name: name.to_string(),
                });
            }
        }
        let total: f64 = self.variants.iter().map(|v| v.2).sum();
        let mut cumulative = 0.0;
        let mut bounds = Vec::with_capacity(n);
        let mut variants = Vec::with_capacity(n);
        for (i, (name, arm, share)) in self.variants.into_iter().enumerate() {
            cumulative += share / total;
            // `as` saturates: a cumulative share of 1 (or rounding above it) maps to u64::MAX.
            bounds.push(if i + 1 == n {
                u64::MAX
            } else {
                (cumulative * u64::MAX as f64) as u64
            });
            variants.push(Variant {
                name,
                arm,
                share: share / total,
            });
        }
        Ok(Experiment {
            salt: xxh3_64_with_seed(self.name.as_bytes(), 0),
            name: self.name,
            variants: variants.into(),
            bounds: bounds.into(),
        })
    }
}

#[cfg(test)]
mod tests;
