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
//!   models), a matrix factorisation, or an ensemble; every estimate is shrunk toward the
//!   per-task-kind prior. It plugs into every built-in scorer unchanged, saves to a versioned JSON file
//!   ([`LearnedEstimator::save`]) and loads back, refusing other versions and corrupted files.
//!   With [`OutputLengths`] it also predicts each model's output tokens per prompt, and so,
//!   as an [`OutputEstimator`](crate::OutputEstimator), the cost the router expects of each
//!   model ([`RouterBuilder::output_estimator`](crate::RouterBuilder::output_estimator)).
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
mod cv;
mod data;
mod error;
mod estimator;
mod features;
mod format;
mod learners;
mod lengths;
mod lengths_cv;
mod mf;
pub(crate) mod online;
mod report;
mod select;

pub use config::{Learner, TrainConfig};
pub use data::TrainingSet;
pub use error::{Corruption, LearnError};
pub use estimator::LearnedEstimator;
pub use features::{
    DENSE_FEATURE_NAMES, DENSE_FEATURES, FeatureConfig, Features, Featurizer, MATH_FEATURE_NAMES,
    MATH_FEATURES,
};
#[cfg(feature = "request")]
pub(crate) use format::{Envelope, envelope_json};
pub use format::{FORMAT_MAGIC, FORMAT_VERSION};
pub use lengths::OutputLengths;
pub use online::{OnlineConfig, OnlineEstimator, Sampling};
pub use report::{CvCandidate, CvGain, CvLengthCandidate, CvLengths, CvMetric, CvReport};
pub use select::SelectConfig;
