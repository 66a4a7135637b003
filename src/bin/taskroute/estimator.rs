//! `--estimator`: which quality estimator the replayed router uses.
//!
//! Built in: `static` (mean quality per task kind and model, fitted on the training split) and
//! `static-label` (per label: eval name or `benchmark/subject`). Anything else is taken as a file
//! written by `taskroute train` (a [`LearnedEstimator`](taskroute::learn::LearnedEstimator)),
//! used as it is (nothing is fitted on the training split; pair it with `--split none` to test on
//! every prompt of the file).

use std::path::Path;
use std::sync::Arc;

use taskroute::QualityEstimator;
use taskroute::eval::{KindSource, Outcomes, StaticQuality};

use crate::CliError;

/// A quality estimator fitted on (or loaded for) one training split.
pub(crate) struct Fitted {
    pub(crate) estimator: Arc<dyn QualityEstimator>,
    pub(crate) kinds: KindSource,
    pub(crate) description: String,
}

/// Fits or loads the estimator `spec` names, using `train` where it learns.
pub(crate) fn fit(spec: &str, train: &Outcomes) -> Result<Fitted, CliError> {
    match spec {
        "static" | "static-kind" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Kind)),
            kinds: KindSource::Kind,
            description: "static: mean quality per (task kind, model) on the training split".into(),
        }),
        "static-label" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Label)),
            kinds: KindSource::Label,
            description: "static-label: mean quality per (label, model) on the training split".into(),
        }),
        path if Path::new(path).exists() => {
            let est = taskroute::learn::LearnedEstimator::load(path)
                .map_err(|e| CliError::msg(format!("--estimator {path}: {e}")))?;
            let description = format!(
                "learned `{}` from {path} (trained on {} prompts, not refitted)",
                est.config().learner,
                est.trained_on()
            );
            Ok(Fitted {
                estimator: Arc::new(est),
                kinds: KindSource::Kind,
                description,
            })
        }
        other => Err(CliError::msg(format!(
            "unknown estimator `{other}`: expected `static`, `static-label` or an estimator file"
        ))),
    }
}
