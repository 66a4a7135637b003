//! [`CvReport`]: the cross-validation figures that chose an estimator's learner and settings,
//! saved in its file and printed by `taskroute train` and `taskroute eval`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::config::Learner;
use super::lengths::OutputLengths;

/// What a cross-validation scored (see [`CvReport::metric`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CvMetric {
    /// AIQ of a cost-weighted routing sweep on each validation fold (every model has a recorded
    /// outcome and cost on every prompt): the area under the sweep's (mean cost, mean quality)
    /// points joined in cost order from the origin, from cost 0 to the best single model's
    /// cost, divided by that cost. Unlike the reported AIQ it takes no convex hull: the hull
    /// keeps the luckiest of many noisy points, which rewards an estimator for spreading its
    /// points even when it routes no better (pure noise does). Higher is better.
    Aiq,
    /// Mean log-likelihood of the recorded outcomes per observation (some outcome or cost is
    /// missing, so routes cannot be replayed). Higher is better.
    LogLikelihood,
}

impl fmt::Display for CvMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CvMetric::Aiq => "AIQ (sweep points in cost order, no hull)",
            CvMetric::LogLikelihood => "log-likelihood",
        })
    }
}

/// One candidate's cross-validated score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CvCandidate {
    /// The learner.
    pub learner: Learner,
    /// Share of the estimate taken from the per-kind prior.
    pub shrink: f64,
    /// Neighbours, for learners that use kNN.
    pub k: Option<usize>,
    /// The score on each validation fold, in fold order.
    pub folds: Vec<f64>,
}

impl CvCandidate {
    /// Mean score over the folds.
    pub fn mean(&self) -> f64 {
        mean(&self.folds)
    }

    /// Sample standard deviation of the fold scores (0 for one fold).
    pub fn sd(&self) -> f64 {
        sd(&self.folds)
    }

    /// `"irt, shrink 0.6"`.
    pub fn label(&self) -> String {
        match (self.learner, self.k) {
            (Learner::Prior, _) => "prior (per task kind)".to_owned(),
            (l, Some(k)) => format!("{l}, shrink {}, k {k}", self.shrink),
            (l, None) => format!("{l}, shrink {}", self.shrink),
        }
    }
}

/// Sample standard deviation (0 for fewer than 2 values).
pub(crate) fn sd(v: &[f64]) -> f64 {
    let n = v.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64).sqrt()
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

/// The best learner's gain over the prior, with a paired bootstrap interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CvGain {
    /// Index into [`CvReport::candidates`] of the learner with the highest mean score.
    pub candidate: usize,
    /// Its mean score minus the prior's (mean over folds of the per-fold difference).
    pub mean: f64,
    /// Lower end of the bootstrap interval of `mean`.
    pub low: f64,
    /// Upper end of the bootstrap interval of `mean`.
    pub high: f64,
    /// Two-sided coverage of `[low, high]` (Bonferroni-adjusted for the number of learner
    /// candidates: with 6 candidates and `alpha` 0.05, 1 - 2 x 0.05 / 6 = 0.983).
    pub level: f64,
    /// Bootstrap resamples (prompts drawn with replacement inside each validation fold, the same
    /// draws for the learner and the prior).
    pub resamples: usize,
}

/// The cross-validation that chose an estimator: every candidate's score per fold, the best
/// learner's gain over the per-kind prior and its bootstrap interval, and the verdict.
///
/// Made by [`LearnedEstimator::fit`](super::LearnedEstimator::fit), saved in the estimator's
/// file, read back with [`LearnedEstimator::cv_report`](super::LearnedEstimator::cv_report).
/// Its `Display` is the table `taskroute train` and `taskroute eval` print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CvReport {
    /// What was scored.
    pub metric: CvMetric,
    /// Prompts cross-validated.
    pub prompts: usize,
    /// Number of folds.
    pub k_folds: usize,
    /// Seed of the fold assignment and of the bootstrap.
    pub seed: u64,
    /// Every candidate; the first is the prior.
    pub candidates: Vec<CvCandidate>,
    /// The best learner's gain over the prior (`None` when the prior was the only candidate).
    pub gain: Option<CvGain>,
    /// Index into `candidates` of the chosen one: the best learner when its whole interval is
    /// above 0, else the prior (0).
    pub chosen: usize,
    /// The second stage, which chose how the estimator predicts output lengths; `None` where it
    /// did not run (no output tokens or prices known, costs missing, or no length setting
    /// asked for) and in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengths: Option<CvLengths>,
}

/// The cross-validation that chose how an estimator predicts output lengths (hence costs):
/// the chosen quality candidate's out-of-fold estimates routed once as a router without an
/// output estimator would (the baseline: every model priced on one output-token figure per
/// task kind, the mean over all models' training answers of that kind) and once per length
/// setting on the costs its predicted output tokens give. A setting is chosen only
/// when the lower end of its gain's paired-bootstrap interval is above 0 (Bonferroni over the
/// settings tried); else [`OutputLengths::Task`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CvLengths {
    /// The baseline's score on each fold.
    pub baseline: Vec<f64>,
    /// Each length setting tried, with its score on each fold.
    pub candidates: Vec<CvLengthCandidate>,
    /// The best setting's gain over the baseline ([`CvGain::candidate`] indexes
    /// `candidates`); `None` when none was tried.
    pub gain: Option<CvGain>,
    /// The setting saved with the estimator.
    pub chosen: OutputLengths,
}

/// One output-length setting's cross-validated score (see [`CvLengths`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CvLengthCandidate {
    /// The setting.
    pub lengths: OutputLengths,
    /// The score on each validation fold, in fold order.
    pub folds: Vec<f64>,
}

impl CvLengths {
    fn is_consistent(&self, k: usize) -> bool {
        self.baseline.len() == k
            && self.candidates.iter().all(|c| c.folds.len() == k)
            && self
                .gain
                .as_ref()
                .is_none_or(|g| g.candidate < self.candidates.len())
    }
}

impl fmt::Display for CvLengths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "output lengths (routing the chosen candidate's estimates on other expected costs):"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, label: &str, v: &[f64], mark: &str| {
            writeln!(f, "  {label:<32} {:>8.4} {:>8.4}{mark}", mean(v), sd(v))
        };
        let base_mark = if self.chosen == OutputLengths::Task {
            " <- kept"
        } else {
            ""
        };
        row(f, "one length per kind (no estimator)", &self.baseline, base_mark)?;
        for c in &self.candidates {
            let mark = if c.lengths == self.chosen {
                " <- chosen"
            } else {
                ""
            };
            row(f, &format!("predicted lengths `{}`", c.lengths), &c.folds, mark)?;
        }
        if let Some(g) = &self.gain {
            let best = self.candidates.get(g.candidate).map_or("", |c| c.lengths.name());
            write!(
                f,
                "  best `{best}`: {:+.4} over the baseline ({:.1} % interval [{:+.4}, {:+.4}]): {}",
                g.mean,
                100.0 * g.level,
                g.low,
                g.high,
                if self.chosen == OutputLengths::Task {
                    "not above the CV noise, so no lengths are predicted"
                } else {
                    "above the CV noise, so it is chosen"
                }
            )?;
        }
        Ok(())
    }
}

impl CvReport {
    /// The chosen candidate (`None` only for a report that was not made by
    /// [`LearnedEstimator::fit`](super::LearnedEstimator::fit); loading an estimator checks it).
    pub fn chosen(&self) -> Option<&CvCandidate> {
        self.candidates.get(self.chosen)
    }

    /// Whether the prior was kept because no learner beat it by more than the CV noise.
    pub fn kept_prior(&self) -> bool {
        self.chosen().is_some_and(|c| c.learner == Learner::Prior)
    }

    /// Whether the indices point at candidates and there are fold scores.
    pub(crate) fn is_consistent(&self) -> bool {
        self.chosen < self.candidates.len()
            && self
                .gain
                .as_ref()
                .is_none_or(|g| g.candidate < self.candidates.len())
            && self.candidates.iter().all(|c| c.folds.len() == self.k_folds)
            && self
                .lengths
                .as_ref()
                .is_none_or(|l| l.is_consistent(self.k_folds))
    }
}

impl fmt::Display for CvReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model selection: {}-fold cross-validation on {} prompts (seed {}), {} per fold",
            self.k_folds, self.prompts, self.seed, self.metric
        )?;
        writeln!(
            f,
            "  {:<32} {:>8} {:>8} {:>8} {:>8}",
            "candidate", "mean", "sd", "min", "max"
        )?;
        for (i, c) in self.candidates.iter().enumerate() {
            let min = c.folds.iter().copied().fold(f64::INFINITY, f64::min);
            let max = c.folds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mark = if i == self.chosen { " <- chosen" } else { "" };
            writeln!(
                f,
                "  {:<32} {:>8.4} {:>8.4} {:>8.4} {:>8.4}{mark}",
                c.label(),
                c.mean(),
                c.sd(),
                min,
                max
            )?;
        }
        match &self.gain {
            None => write!(f, "  only the prior was a candidate")?,
            Some(g) => {
                let best = self
                    .candidates
                    .get(g.candidate)
                    .map_or_else(String::new, CvCandidate::label);
                write!(
                    f,
                    "  best learner `{}`: {:+.4} over the prior ({:.1} % paired bootstrap interval [{:+.4}, {:+.4}], {} resamples): ",
                    best,
                    g.mean,
                    100.0 * g.level,
                    g.low,
                    g.high,
                    g.resamples
                )?;
                if self.kept_prior() {
                    write!(f, "not above the CV noise, so the prior is kept")?;
                } else {
                    write!(f, "above the CV noise, so it is chosen")?;
                }
            }
        }
        if let Some(l) = &self.lengths {
            write!(f, "\n{l}")?;
        }
        Ok(())
    }
}
