//! `--estimator`: which quality estimator the replayed router uses.
//!
//! Built in: `static` (mean quality per task kind and model, fitted on the training split) and
//! `static-label` (per label: eval name or `benchmark/subject`). Anything else is taken as a file
//! written by a learned estimator's trainer; loaders for such files are added here.

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
        path if Path::new(path).exists() => Err(CliError::msg(format!(
            "cannot load estimator file {path}: this build knows no estimator file format yet \
             (use --estimator static or static-label)"
        ))),
        other => Err(CliError::msg(format!(
            "unknown estimator `{other}`: expected `static`, `static-label` or an estimator file"
        ))),
    }
}
