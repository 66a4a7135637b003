//! [`TrainConfig`] and [`Learner`]: what [`LearnedEstimator::train`](super::LearnedEstimator::train)(super::LearnedEstimator::train)
//! fits and with which settings.

use std::fmt;

use derive_setters::Setters;
use serde::{Deserialize, Serialize};

use super::LearnError;
use super::features::FeatureConfig;
use super::learners::Hyper;
use super::lengths::OutputLengths;

/// Which learner [`LearnedEstimator::train`](super::LearnedEstimator::train) fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Learner {
    /// The per-task-kind success rate of each model; ignores the text. A baseline.
    Prior,
    /// Regularised logistic regression per model over the text features.
    LogReg,
    /// k nearest neighbours by cosine similarity over the text features.
    Knn,
    /// Item-response model: prompt easiness (learned from the text, pooled over every model's
    /// outcomes) times model sensitivity, plus per-kind ability.
    Irt,
    /// Mean log-odds of [`Irt`](Learner::Irt), [`LogReg`](Learner::LogReg) and
    /// [`Knn`](Learner::Knn).
    Ensemble,
    /// Matrix factorisation (RouteLLM's shape on the hashed features): the log-odds of model
    /// j on prompt x is its per-kind ability plus the dot product of a learned model vector
    /// with a learned projection of the prompt's features ([`TrainConfig::rank`] dimensions),
    /// fitted on every model's outcomes at once instead of one regression per model.
    Mf,
}

impl Learner {
    /// Every learner, in a fixed order.
    pub const ALL: [Learner; 6] = [
        Learner::Prior,
        Learner::LogReg,
        Learner::Knn,
        Learner::Irt,
        Learner::Ensemble,
        Learner::Mf,
    ];

    /// The learner's name (`"logreg"`).
    pub const fn name(self) -> &'static str {
        match self {
            Learner::Prior => "prior",
            Learner::LogReg => "logreg",
            Learner::Knn => "knn",
            Learner::Irt => "irt",
            Learner::Ensemble => "ensemble",
            Learner::Mf => "mf",
        }
    }

    /// The learner with this name.
    pub fn from_name(name: &str) -> Option<Learner> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl fmt::Display for Learner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings for [`LearnedEstimator::train`](super::LearnedEstimator::train). Saved with the estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Setters)]
#[setters(prefix = "with_", generate = false)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TrainConfig {
    /// The learner.
    #[setters(generate)]
    pub learner: Learner,
    /// The text features.
    #[setters(generate)]
    pub features: FeatureConfig,
    /// Seed for the optimiser's shuffles: same data, settings and seed give the same estimator.
    #[setters(generate)]
    pub seed: u64,
    /// Passes over the data (SGD learners; default 6).
    #[setters(generate)]
    pub epochs: u32,
    /// AdaGrad step size (default 0.2).
    pub learning_rate: f64,
    /// L2 penalty per weight and step (default 1e-4).
    #[setters(generate)]
    pub l2: f64,
    /// Neighbours for kNN (default 40).
    #[setters(generate)]
    pub k: usize,
    /// kNN folds the hashed features to `2^knn_bits` buckets (default 8).
    pub knn_bits: u8,
    /// Share of the final estimate taken from the per-kind prior, in `[0, 1]` (default 0.3):
    /// `q = (1 - shrink) * learner + shrink * prior`.
    #[setters(generate)]
    pub shrink: f64,
    /// kNN searches only the training prompts of the query's task kind (a per-kind bucketed
    /// index; a kind it never saw searches every prompt). Default false; files without the
    /// field read as false.
    #[serde(default)]
    #[setters(generate)]
    pub knn_by_kind: bool,
    /// Dimensions of the prompt and model vectors of [`Learner::Mf`] (default 8; 1 to 64).
    #[serde(default = "default_rank")]
    #[setters(generate)]
    pub rank: usize,
    /// How the estimator predicts each model's output tokens for the router's cost estimate
    /// (default [`OutputLengths::Task`]: it does not). Files without the field read as `Task`.
    #[serde(default)]
    #[setters(generate)]
    pub lengths: OutputLengths,
}

fn default_rank() -> usize {
    8
}

impl TrainConfig {
    /// Default settings for `learner`.
    pub fn new(learner: Learner) -> Self {
        Self {
            learner,
            features: FeatureConfig::default(),
            seed: 0x5eed,
            epochs: 6,
            learning_rate: 0.2,
            l2: 1e-4,
            k: 40,
            knn_bits: 8,
            shrink: 0.3,
            knn_by_kind: false,
            rank: default_rank(),
            lengths: OutputLengths::Task,
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] naming the first bad one.
    pub fn validate(&self) -> Result<(), LearnError> {
        self.features.validate()?;
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(LearnError::InvalidConfig {
                field,
                value,
                expected,
            })
        };
        if self.epochs == 0 || self.epochs > 1000 {
            return bad("epochs", self.epochs.to_string(), "1 to 1000");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "a finite number > 0",
            );
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad("l2", self.l2.to_string(), "a finite number >= 0");
        }
        if self.k == 0 {
            return bad("k", "0".into(), "at least 1");
        }
        if !(4..=16).contains(&self.knn_bits) {
            return bad("knn_bits", self.knn_bits.to_string(), "4 to 16");
        }
        if !(1..=64).contains(&self.rank) {
            return bad("rank", self.rank.to_string(), "1 to 64");
        }
        if !(0.0..=1.0).contains(&self.shrink) {
            return bad("shrink", self.shrink.to_string(), "a number in [0, 1]");
        }
        Ok(())
    }

    pub(super) fn hyper(&self) -> Hyper {
        Hyper {
            epochs: self.epochs,
            learning_rate: self.learning_rate as f32,
            l2: self.l2 as f32,
            seed: self.seed,
        }
    }
}
