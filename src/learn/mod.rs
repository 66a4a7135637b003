//! Learned routing (feature `learn`): per-prompt quality estimates trained from recorded
//! outcomes, and online learning from feedback.
//!
//! - [`Featurizer`]: text → sparse [`Features`] (hashed word and character n-grams, length,
//!   code / digit / formula / question markers). Deterministic, script-agnostic, no downloaded
//!   weights.
//! - [`LearnedEstimator`]: a [`QualityEstimator`](crate::QualityEstimator) trained by
//!   [`LearnedEstimator::train`] on a [`TrainingSet`] (prompt texts, kinds, per-model outcomes)
//!   with one of the [`Learner`]s: regularised logistic regression per model, k nearest
//!   neighbours, an item-response model (prompt difficulty × model ability, pooled over all
//!   models), or an ensemble; every estimate is shrunk toward the per-task-kind prior. It
//!   plugs into every built-in scorer unchanged, saves to a versioned JSON file
//!   ([`LearnedEstimator::save`]) and loads back, refusing other versions and corrupted files.
//! - [`OnlineEstimator`]: learns from feedback while serving
//!   ([`observe`](OnlineEstimator::observe)) with Thompson sampling over Beta posteriors per
//!   (task kind, model), usable from many threads at once.
//!
//! ```
//! use taskroute::learn::{LearnedEstimator, Learner, TrainConfig, TrainingSet};
//! use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};
//!
//! // Outcomes: the small model fails on long prompts, the large one never does.
//! let mut data = TrainingSet::new(["small", "large"])?;
//! for i in 0..200 {
//!     let hard = i % 2 == 0;
//!     let text = if hard { format!("prove theorem {i} about manifolds in detail") } else { format!("say hi {i}") };
//!     data.push(text, TaskKind::Chat, &[Some(if hard { 0.0 } else { 1.0 }), Some(1.0)], &[])?;
//! }
//! let est = LearnedEstimator::train(&data, &TrainConfig::new(Learner::LogReg))?;
//! let router = Router::builder()
//!     .model(ModelSpec::new("small", "p", Prices::new(0.1, 0.1), 8_000))
//!     .model(ModelSpec::new("large", "p", Prices::new(5.0, 5.0), 8_000))
//!     .quality_estimator(est)
//!     .policy(CostFirst::new(0.7)?)
//!     .build()?;
//! let easy = TaskSpec::new(TaskKind::Chat, 10).with_text("say hi 1001");
//! let hard = TaskSpec::new(TaskKind::Chat, 10).with_text("prove theorem 1000 about manifolds in detail");
//! assert_eq!(router.route(&easy)?.primary_model().unwrap().as_str(), "small");
//! assert_eq!(router.route(&hard)?.primary_model().unwrap().as_str(), "large");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod data;
mod estimator;
mod features;
mod format;
mod learners;
mod online;

use std::path::PathBuf;
use std::sync::Arc;

pub use config::{Learner, TrainConfig};
pub use data::TrainingSet;
pub use estimator::LearnedEstimator;
pub use features::{
    DENSE_FEATURE_NAMES, DENSE_FEATURES, FeatureConfig, Features, Featurizer, MATH_FEATURE_NAMES,
    MATH_FEATURES,
};
pub use format::{FORMAT_MAGIC, FORMAT_VERSION};
pub use online::{OnlineConfig, OnlineEstimator, Sampling};

use crate::model::ModelId;

/// What went wrong while training, saving, loading or feeding back to a learned estimator.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    /// A setting is out of range.
    #[error("invalid setting `{field}` = {value}: expected {expected}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The training set has no examples.
    #[error("the training set is empty: add examples with outcomes before training")]
    EmptyTrainingSet,
    /// A training set needs at least one model, each named once.
    #[error("bad model list: {detail}")]
    BadModels {
        /// What is wrong.
        detail: String,
    },
    /// An example's outcome or cost list does not match the models.
    #[error("example {example}: {detail}")]
    BadExample {
        /// 0-based index of the example.
        example: usize,
        /// What is wrong.
        detail: String,
    },
    /// A model has no outcome at all in the training set.
    #[error("model `{model}` has no outcomes in the training set: drop it or add data for it")]
    NoObservations {
        /// The model.
        model: ModelId,
    },
    /// Feedback given to an online estimator is not usable.
    #[error("invalid feedback for model `{model}`: {detail}")]
    BadFeedback {
        /// The model.
        model: ModelId,
        /// What is wrong.
        detail: String,
    },
    /// The file could not be read or written.
    #[error("cannot {action} estimator file {}: {source}", .path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The file is not a taskroute estimator file.
    #[error("not a taskroute estimator file: expected \"magic\": \"{FORMAT_MAGIC}\", found {found}")]
    NotAnEstimatorFile {
        /// What the file has instead.
        found: String,
    },
    /// The file was written by another version of the format.
    #[error(
        "estimator file format version {found} is not supported (this build reads version {supported}): retrain with `taskroute train`"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is damaged: it does not parse, its checksum does not match, or its numbers are
    /// inconsistent.
    #[error("corrupted estimator file: {detail}")]
    Corrupt {
        /// What is wrong.
        detail: String,
    },
}
