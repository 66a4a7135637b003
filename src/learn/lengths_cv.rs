//! The second stage of [`LearnedEstimator::fit`](super::LearnedEstimator::fit): how the chosen
//! estimator predicts output lengths, chosen by the same cross-validation (see
//! [`CvLengths`]).

use super::LearnError;
use super::config::{Learner, TrainConfig};
use super::cv::{self, Scorer};
use super::data::TrainingSet;
use super::estimator::LearnedEstimator;
use super::lengths::OutputLengths;
use super::report::{CvLengthCandidate, CvLengths, CvMetric, mean};
use crate::task::TaskKind;

/// Scores each setting of `tried` against the baseline, routing the out-of-fold quality
/// estimates `q`, and picks one only when its gain is above the noise. The baseline is what a
/// router without an output estimator does: every model priced on one output-token figure per
/// task kind (the mean over every model's answers of that kind in the training folds, as
/// `taskroute eval` gives replayed tasks per label). `None` when the stage cannot run: nothing
/// tried, outcomes or costs missing (the log-likelihood metric), or no answer's output tokens
/// or no model's price known.
#[allow(clippy::too_many_arguments)]
pub(super) fn choose(
    data: &TrainingSet,
    folds: &[Vec<usize>],
    scorer: &Scorer<'_>,
    q: &[f64],
    base: &TrainConfig,
    tried: &[OutputLengths],
    resamples: usize,
    alpha: f64,
    seed: u64,
) -> Result<Option<CvLengths>, LearnError> {
    let m = data.models().len();
    let mut settings: Vec<OutputLengths> = Vec::new();
    for &l in tried {
        if l != OutputLengths::Task && !settings.contains(&l) {
            settings.push(l);
        }
    }
    if settings.is_empty()
        || scorer.metric != CvMetric::Aiq
        || !data.has_output_tokens()
        || (0..m).all(|j| data.price(j).is_none())
    {
        return Ok(None);
    }
    let priced = |costs: &mut [f64], i: usize, j: usize, tokens: u32| {
        if let Some(p) = data.price(j) {
            costs[i * m + j] = p.cost_usd(data.input_tokens(i), 0, tokens);
        }
    };
    let mut costs = scorer.expected_cost().to_vec();
    for (f, fold) in folds.iter().enumerate() {
        let means = mean_output_per_kind(data, &cv::training_rows(folds, f));
        for &i in fold {
            if let Some((_, t)) = means.iter().find(|(k, _)| k == data.kind(i)) {
                (0..m).for_each(|j| priced(&mut costs, i, j, *t));
            }
        }
    }
    let baseline_scored = scorer.scored_with_costs(q, &costs);
    let baseline = scorer.per_fold(&baseline_scored, folds);
    let mut candidates = Vec::new();
    let mut scored = Vec::new();
    let mut out = vec![None; m];
    for &l in &settings {
        let mut costs = scorer.expected_cost().to_vec();
        let config = base
            .clone()
            .with_learner(Learner::Prior)
            .with_shrink(0.0)
            .with_lengths(l);
        for (f, fold) in folds.iter().enumerate() {
            let train = data.select(&cv::training_rows(folds, f));
            if !train.has_output_tokens() {
                continue; // this fold keeps the baseline's costs
            }
            let est = LearnedEstimator::train(&train, &config)?;
            for &i in fold {
                est.predict_lengths_row(data, i, &mut out);
                for (j, t) in out.iter().enumerate() {
                    if let Some(t) = t {
                        priced(&mut costs, i, j, *t);
                    }
                }
            }
        }
        let s = scorer.scored_with_costs(q, &costs);
        candidates.push(CvLengthCandidate {
            lengths: l,
            folds: scorer.per_fold(&s, folds),
        });
        scored.push(s);
    }
    let best = (0..candidates.len())
        .max_by(|&a, &b| {
            mean(&candidates[a].folds)
                .total_cmp(&mean(&candidates[b].folds))
                .then(b.cmp(&a))
        })
        .unwrap_or(0);
    let tail = alpha / settings.len() as f64;
    let gain = scorer.gain(
        best,
        (&scored[best], &candidates[best].folds),
        (&baseline_scored, &baseline),
        folds,
        (resamples, seed, tail),
    );
    let chosen = if gain.low > 0.0 {
        settings[best]
    } else {
        OutputLengths::Task
    };
    Ok(Some(CvLengths {
        baseline,
        candidates,
        gain: Some(gain),
        chosen,
    }))
}

/// Per task kind of the prompts `rows`, the mean output tokens over every model's known
/// answers (rounded; kinds without any left out).
fn mean_output_per_kind(data: &TrainingSet, rows: &[usize]) -> Vec<(TaskKind, u32)> {
    let mut acc: Vec<(TaskKind, f64, f64)> = Vec::new();
    for &r in rows {
        let k = match acc.iter().position(|a| &a.0 == data.kind(r)) {
            Some(k) => k,
            None => {
                acc.push((data.kind(r).clone(), 0.0, 0.0));
                acc.len() - 1
            }
        };
        for j in 0..data.models().len() {
            if let Some(t) = data.output_tokens(r, j) {
                acc[k].1 += t;
                acc[k].2 += 1.0;
            }
        }
    }
    acc.into_iter()
        .filter(|a| a.2 > 0.0)
        .map(|(k, sum, n)| (k, (sum / n).round() as u32))
        .collect()
}
