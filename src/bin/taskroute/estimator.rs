//! `--estimator`: which quality estimator the replayed router uses.
//!
//! Built in: `static` (mean quality per task kind and model, fitted on the training split) and
//! `static-label` (per label: eval name or `benchmark/subject`); `learned` (what `taskroute
//! train` does by default: learner and settings chosen by cross-validation on the training
//! split, the per-kind prior kept unless a learner beats it by more than the noise) and
//! `learned-<learner>` (one learner with its default settings), both trained on each training
//! split. Anything else is taken as a file
//! written by `taskroute train` (a [`LearnedEstimator`](taskroute::learn::LearnedEstimator)),
//! used as it is (nothing is fitted on the training split; pair it with `--split none` to test on
//! every prompt of the file).

use std::path::Path;
use std::sync::Arc;

use taskroute::QualityEstimator;
use taskroute::eval::{KindSource, Outcomes, StaticQuality};
use taskroute::learn::{CvReport, LearnedEstimator, Learner, SelectConfig, TrainConfig, TrainingSet};

use crate::CliError;

/// A quality estimator fitted on (or loaded for) one training split.
pub(crate) struct Fitted {
    pub(crate) estimator: Arc<dyn QualityEstimator>,
    pub(crate) kinds: KindSource,
    pub(crate) description: String,
    /// The cross-validation figures saved in an estimator file made by `taskroute train`'s
    /// model selection.
    pub(crate) cv: Option<taskroute::learn::CvReport>,
}

/// Fits or loads the estimator `spec` names, using `train` where it learns.
pub(crate) fn fit(spec: &str, train: &Outcomes) -> Result<Fitted, CliError> {
    match spec {
        "static" | "static-kind" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Kind)),
            kinds: KindSource::Kind,
            description: "static: mean quality per (task kind, model) on the training split".into(),
            cv: None,
        }),
        "static-label" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Label)),
            kinds: KindSource::Label,
            description: "static-label: mean quality per (label, model) on the training split".into(),
            cv: None,
        }),
        "learned" => {
            let set = TrainingSet::from_outcomes(train, None);
            let est = LearnedEstimator::fit(&set, &SelectConfig::new())?;
            let cv = est.cv_report().cloned();
            let chose = if cv.as_ref().is_some_and(CvReport::kept_prior) {
                "kept the per-kind prior".to_owned()
            } else {
                format!("chose `{}`, shrink {}", est.config().learner, est.config().shrink)
            };
            Ok(Fitted {
                estimator: Arc::new(est),
                kinds: KindSource::Kind,
                description: format!(
                    "learned: `taskroute train` defaults, cross-validated on the training split ({chose})"
                ),
                cv,
            })
        }
        fixed
            if fixed
                .strip_prefix("learned-")
                .and_then(Learner::from_name)
                .is_some() =>
        {
            let learner = fixed
                .strip_prefix("learned-")
                .and_then(Learner::from_name)
                .unwrap_or(Learner::Prior);
            let set = TrainingSet::from_outcomes(train, None);
            let est = LearnedEstimator::train(&set, &TrainConfig::new(learner))?;
            Ok(Fitted {
                estimator: Arc::new(est),
                kinds: KindSource::Kind,
                description: format!("learned `{learner}` with its default settings, on the training split"),
                cv: None,
            })
        }
        path if Path::new(path).exists() => {
            let est = taskroute::learn::LearnedEstimator::load(path)
                .map_err(|e| CliError::msg(format!("--estimator {path}: {e}")))?;
            let description = format!(
                "learned `{}` from {path} (trained on {} prompts, not refitted)",
                est.config().learner,
                est.trained_on()
            );
            let cv = est.cv_report().cloned();
            Ok(Fitted {
                estimator: Arc::new(est),
                kinds: KindSource::Kind,
                description,
                cv,
            })
        }
        other => Err(CliError::msg(format!(
            "unknown estimator `{other}`: expected `static`, `static-label`, `learned`, `learned-<learner>` (prior, logreg, knn, irt, ensemble) or an estimator file"
        ))),
    }
}
