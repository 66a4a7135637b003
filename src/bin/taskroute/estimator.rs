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
//!
//! A learned estimator that predicts output lengths (`--lengths`, or chosen by `learned`'s
//! cross-validation) also sets the replayed router's output estimator, so each model's
//! expected cost is priced on its own predicted output tokens.

use std::path::Path;
use std::sync::Arc;

use taskroute::eval::{KindSource, Outcomes, PriceTable, Replay, StaticQuality};
use taskroute::learn::{
    CvReport, LearnedEstimator, Learner, OutputLengths, SelectConfig, TrainConfig, TrainingSet,
};
use taskroute::{OutputEstimator, QualityEstimator};

use crate::CliError;

/// A quality estimator fitted on (or loaded for) one training split.
pub(crate) struct Fitted {
    pub(crate) estimator: Arc<dyn QualityEstimator>,
    /// Per-model output tokens for the cost estimate, where the estimator predicts them.
    pub(crate) output: Option<Arc<dyn OutputEstimator>>,
    pub(crate) kinds: KindSource,
    pub(crate) description: String,
    /// The cross-validation figures saved in an estimator file made by `taskroute train`'s
    /// model selection.
    pub(crate) cv: Option<taskroute::learn::CvReport>,
}

impl Fitted {
    /// A learned estimator, with its output lengths where it predicts them.
    fn learned(est: LearnedEstimator, description: String) -> Self {
        let est = Arc::new(est);
        let output: Option<Arc<dyn OutputEstimator>> = est.predicts_lengths().then(|| {
            let o: Arc<dyn OutputEstimator> = est.clone();
            o
        });
        let description = if est.predicts_lengths() {
            format!("{description}; output lengths `{}`", est.config().lengths)
        } else {
            description
        };
        Fitted {
            cv: est.cv_report().cloned(),
            estimator: est,
            output,
            kinds: KindSource::Kind,
            description,
        }
    }

    /// The replay of `test` with this estimator: output tokens per label from `train` (where
    /// no output estimator answers), candidate prices from `prices`.
    pub(crate) fn replay(
        &self,
        train: &Outcomes,
        test: &Outcomes,
        prices: Option<&PriceTable>,
    ) -> Result<Replay, CliError> {
        let mut builder = Replay::builder()
            .shared_estimator(self.estimator.clone())
            .kinds(self.kinds)
            .output_tokens_from(train);
        if let Some(o) = &self.output {
            builder = builder.shared_output_estimator(o.clone());
        }
        if let Some(p) = prices {
            builder = builder.prices(p.clone());
        }
        Ok(builder.build(test)?)
    }
}

/// What a learned `--estimator` is trained with besides the outcomes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FitOptions<'a> {
    /// The models' prices, to read output tokens from recorded costs (output lengths).
    pub(crate) prices: Option<&'a PriceTable>,
    /// `learned-<learner>`: the output lengths trained (default none); `learned`: the only
    /// setting cross-validated (default `kind` and `text`).
    pub(crate) lengths: Option<OutputLengths>,
}

/// The training set of `train`, with the models' prices where known.
pub(crate) fn training_set(train: &Outcomes, prices: Option<&PriceTable>) -> Result<TrainingSet, CliError> {
    let set = TrainingSet::from_outcomes(train, None);
    Ok(match prices {
        Some(t) => {
            let p: Vec<_> = set.models().iter().map(|m| t.get(m.as_str())).collect();
            set.with_prices(&p)?
        }
        None => set,
    })
}

/// Fits or loads the estimator `spec` names, using `train` where it learns.
pub(crate) fn fit(spec: &str, train: &Outcomes, opts: &FitOptions<'_>) -> Result<Fitted, CliError> {
    match spec {
        "static" | "static-kind" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Kind)),
            output: None,
            kinds: KindSource::Kind,
            description: "static: mean quality per (task kind, model) on the training split".into(),
            cv: None,
        }),
        "static-label" => Ok(Fitted {
            estimator: Arc::new(StaticQuality::fit(train, KindSource::Label)),
            output: None,
            kinds: KindSource::Label,
            description: "static-label: mean quality per (label, model) on the training split".into(),
            cv: None,
        }),
        "learned" => {
            let set = training_set(train, opts.prices)?;
            let mut select = SelectConfig::new();
            if let Some(l) = opts.lengths {
                select = select.with_lengths([l]);
            }
            let est = LearnedEstimator::fit(&set, &select)?;
            let chose = if est.cv_report().is_some_and(CvReport::kept_prior) {
                "kept the per-kind prior".to_owned()
            } else {
                format!("chose `{}`, shrink {}", est.config().learner, est.config().shrink)
            };
            Ok(Fitted::learned(
                est,
                format!(
                    "learned: `taskroute train` defaults, cross-validated on the training split ({chose})"
                ),
            ))
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
            let set = training_set(train, opts.prices)?;
            let config = TrainConfig::new(learner).with_lengths(opts.lengths.unwrap_or_default());
            let est = LearnedEstimator::train(&set, &config)?;
            Ok(Fitted::learned(
                est,
                format!("learned `{learner}` with its default settings, on the training split"),
            ))
        }
        path if Path::new(path).exists() => {
            let est = taskroute::learn::LearnedEstimator::load(path)
                .map_err(|e| CliError::msg(format!("--estimator {path}: {e}")))?;
            let description = format!(
                "learned `{}` from {path} (trained on {} prompts, not refitted)",
                est.config().learner,
                est.trained_on()
            );
            Ok(Fitted::learned(est, description))
        }
        other => Err(CliError::msg(format!(
            "unknown estimator `{other}`: expected `static`, `static-label`, `learned`, `learned-<learner>` (prior, logreg, knn, irt, ensemble, mf) or an estimator file"
        ))),
    }
}
