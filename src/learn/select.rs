//! [`SelectConfig`] and [`LearnedEstimator::fit`]: the learner and its settings chosen by k-fold
//! cross-validation on the training data alone, with the per-kind prior as a candidate that is
//! kept unless a learner beats it by more than the noise.

use derive_setters::Setters;

use super::LearnError;
use super::config::{Learner, TrainConfig};
use super::cv::{self, Scored, Scorer};
use super::data::TrainingSet;
use super::estimator::LearnedEstimator;
use super::lengths::OutputLengths;
use super::lengths_cv;
use super::report::{CvCandidate, CvReport};

/// How [`LearnedEstimator::fit`] chooses: the candidates, the folds and the noise test.
///
/// The defaults (`SelectConfig::new()`): learners `logreg` and `irt` with shrink 0, 0.3 and
/// 0.6, beside the prior; output lengths [`OutputLengths::Kind`] and [`OutputLengths::Text`]
/// tried against none; 5 folds; 1,000 bootstrap resamples; `alpha` 0.05. kNN and the
/// ensemble (which contains kNN) are not candidates by default: a kNN estimate scans every
/// training prompt and misses the 20 µs estimate budget (docs/evaluation.md). Add them with
/// [`with_learners`](Self::with_learners).
#[derive(Clone, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct SelectConfig {
    /// Settings shared by every candidate (features, epochs, seed, ...); its `learner`, `shrink`
    /// and `k` are replaced by each candidate's.
    #[setters(generate)]
    pub base: TrainConfig,
    /// Learners to try beside the prior (which is always a candidate).
    pub learners: Vec<Learner>,
    /// Shrinkage values to try for each learner.
    pub shrinks: Vec<f64>,
    /// Neighbour counts to try for the learners that use kNN.
    pub ks: Vec<usize>,
    /// Number of folds (at least 2; every fold needs at least 2 prompts).
    #[setters(generate)]
    pub folds: usize,
    /// Bootstrap resamples for the noise test (at least 100).
    #[setters(generate)]
    pub resamples: usize,
    /// Error rate of the noise test, in (0, 0.5]: the best learner is chosen only when the lower
    /// end of its gain's bootstrap interval, at level `1 - 2 alpha / (learner candidates)`, is
    /// above 0.
    #[setters(generate)]
    pub alpha: f64,
    /// Seed of the fold assignment and of the bootstrap.
    #[setters(generate)]
    pub seed: u64,
    /// Output-length settings tried, after the learner is chosen, against routing with no
    /// output estimator (see [`CvLengths`](super::CvLengths)); the
    /// saved estimator predicts lengths only when one beats that by more than the noise. When
    /// the stage does not run (this list is empty, or no output tokens, prices or costs are
    /// known), the estimator is trained with `base.lengths` as given (default
    /// [`OutputLengths::Task`]: no lengths).
    pub lengths: Vec<OutputLengths>,
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SelectConfig {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self {
            base: TrainConfig::new(Learner::Prior),
            learners: vec![Learner::LogReg, Learner::Irt],
            shrinks: vec![0.0, 0.3, 0.6],
            ks: vec![40],
            folds: 5,
            resamples: 1000,
            alpha: 0.05,
            seed: 0x5eed,
            lengths: vec![OutputLengths::Kind, OutputLengths::Text],
        }
    }

    /// Sets the learners tried beside the prior.
    pub fn with_learners(mut self, learners: impl IntoIterator<Item = Learner>) -> Self {
        self.learners = learners.into_iter().collect();
        self
    }

    /// Sets the shrinkage values tried.
    pub fn with_shrinks(mut self, shrinks: impl IntoIterator<Item = f64>) -> Self {
        self.shrinks = shrinks.into_iter().collect();
        self
    }

    /// Sets the neighbour counts tried for kNN.
    pub fn with_ks(mut self, ks: impl IntoIterator<Item = usize>) -> Self {
        self.ks = ks.into_iter().collect();
        self
    }

    /// Sets the output-length settings tried.
    pub fn with_lengths(mut self, lengths: impl IntoIterator<Item = OutputLengths>) -> Self {
        self.lengths = lengths.into_iter().collect();
        self
    }

    /// Checks every setting and every candidate's.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] naming the first bad one.
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(LearnError::InvalidConfig {
                field,
                value,
                expected,
            })
        };
        if !(2..=100).contains(&self.folds) {
            return bad("folds", self.folds.to_string(), "2 to 100");
        }
        if !(100..=100_000).contains(&self.resamples) {
            return bad("resamples", self.resamples.to_string(), "100 to 100000");
        }
        if !(self.alpha > 0.0 && self.alpha <= 0.5) {
            return bad("alpha", self.alpha.to_string(), "a number in (0, 0.5]");
        }
        if self.shrinks.is_empty() {
            return bad("shrinks", "[]".into(), "at least one value");
        }
        if self.ks.is_empty() {
            return bad("ks", "[]".into(), "at least one value");
        }
        self.base.validate()?;
        self.candidates().iter().try_for_each(TrainConfig::validate)
    }

    /// Every candidate's settings, the prior first, learners deduplicated in the given order.
    fn candidates(&self) -> Vec<TrainConfig> {
        let base = self.base.clone().with_lengths(OutputLengths::Task);
        let mut out = vec![base.clone().with_learner(Learner::Prior).with_shrink(0.0)];
        let mut seen = vec![Learner::Prior];
        for &l in &self.learners {
            if seen.contains(&l) {
                continue;
            }
            seen.push(l);
            let ks: &[usize] = if uses_knn(l) { &self.ks } else { &[] };
            let ks: Vec<Option<usize>> = if ks.is_empty() {
                vec![None]
            } else {
                ks.iter().copied().map(Some).collect()
            };
            for k in ks {
                for &s in &self.shrinks {
                    let mut c = base.clone().with_learner(l).with_shrink(s);
                    if let Some(k) = k {
                        c = c.with_k(k);
                    }
                    out.push(c);
                }
            }
        }
        out
    }
}

/// Whether two candidates differ only in shrinkage (one fit serves both).
fn same_fit(a: &TrainConfig, b: &TrainConfig) -> bool {
    a.learner == b.learner && a.k == b.k
}

fn uses_knn(l: Learner) -> bool {
    matches!(l, Learner::Knn | Learner::Ensemble)
}

impl LearnedEstimator {
    /// Chooses the learner and its settings by k-fold cross-validation on `data` alone, then
    /// trains the choice on all of `data`. The per-kind prior is a candidate, and it is kept
    /// unless the best learner beats it by more than the cross-validation noise (a paired
    /// bootstrap over the validation prompts; see [`SelectConfig::alpha`]). The figures are
    /// saved with the estimator ([`cv_report`](Self::cv_report)).
    ///
    /// The score is the AIQ of a cost-weighted routing sweep on each validation fold when every
    /// model has a recorded outcome and cost on every prompt (the expected cost of a model is
    /// its mean recorded cost on the prompt's task kind in the training folds), else the
    /// log-likelihood of the outcomes. Deterministic for given settings.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for a bad setting, [`LearnError::TooFewForCv`] when a fold
    /// would hold fewer than 2 prompts; as [`train`](Self::train) (a model without outcomes in
    /// some fold's training part gives [`LearnError::NoObservations`]).
    pub fn fit(data: &TrainingSet, config: &SelectConfig) -> Result<Self, LearnError> {
        config.validate()?;
        data.check_trainable()?;
        let n = data.len();
        if n < 2 * config.folds {
            return Err(LearnError::TooFewForCv {
                prompts: n,
                folds: config.folds,
            });
        }
        let folds = cv::folds(n, config.folds, config.seed);
        let scorer = Scorer::new(data, &folds);
        let candidates = config.candidates();
        let m = data.models().len();
        // Out-of-fold predictions of each (learner, k) at shrink 0; a shrink toward the
        // per-kind prior (the prior candidate's predictions) is applied afterwards exactly as
        // the estimator applies it.
        let mut reps: Vec<usize> = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            if !reps.iter().any(|&r| same_fit(&candidates[r], c)) {
                reps.push(i);
            }
        }
        let mut raw = vec![vec![0.0; n * m]; reps.len()];
        for (f, fold) in folds.iter().enumerate() {
            let train = data.select(&cv::training_rows(&folds, f));
            for (&r, out) in reps.iter().zip(raw.iter_mut()) {
                let est = Self::train(&train, &candidates[r].clone().with_shrink(0.0))?;
                for &i in fold {
                    est.predict_row(data, i, &mut out[i * m..(i + 1) * m]);
                }
            }
        }
        let prior = &raw[0]; // candidate 0 is the prior
        let shrunk = |c: &TrainConfig| -> Vec<f64> {
            let r = reps
                .iter()
                .position(|&r| same_fit(&candidates[r], c))
                .map_or(prior, |p| &raw[p]);
            r.iter()
                .zip(prior)
                .map(|(o, p)| ((1.0 - c.shrink) * o + c.shrink * p).clamp(0.0, 1.0))
                .collect()
        };
        let scored: Vec<Scored> = candidates.iter().map(|c| scorer.scored(&shrunk(c))).collect();
        let report_candidates: Vec<CvCandidate> = candidates
            .iter()
            .zip(&scored)
            .map(|(c, s)| CvCandidate {
                learner: c.learner,
                shrink: c.shrink,
                k: uses_knn(c.learner).then_some(c.k),
                folds: scorer.per_fold(s, &folds),
            })
            .collect();
        let best = (1..candidates.len()).max_by(|&a, &b| {
            report_candidates[a]
                .mean()
                .total_cmp(&report_candidates[b].mean())
                .then(b.cmp(&a))
        });
        let mut chosen = 0;
        let gain = best.map(|b| {
            let tail = config.alpha / (candidates.len() - 1) as f64;
            let g = scorer.gain(
                b,
                (&scored[b], &report_candidates[b].folds),
                (&scored[0], &report_candidates[0].folds),
                &folds,
                (config.resamples, config.seed, tail),
            );
            if g.low > 0.0 {
                chosen = b;
            }
            g
        });
        let lengths = lengths_cv::choose(
            data,
            &folds,
            &scorer,
            &shrunk(&candidates[chosen]),
            &config.base,
            &config.lengths,
            config.resamples,
            config.alpha,
            config.seed,
        )?;
        let final_config = candidates[chosen]
            .clone()
            .with_lengths(lengths.as_ref().map_or(config.base.lengths, |l| l.chosen));
        let report = CvReport {
            metric: scorer.metric,
            prompts: n,
            k_folds: config.folds,
            seed: config.seed,
            candidates: report_candidates,
            gain,
            chosen,
            lengths,
        };
        Self::train_with_report(data, &final_config, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskKind;

    /// "cheap" (cost 1) is right on short greetings and wrong on long proofs, "dear" (cost 20)
    /// is right on 90 %: the text says which prompts "cheap" can take.
    fn informative(n: usize) -> TrainingSet {
        let mut t = TrainingSet::new(["cheap", "dear"]).unwrap();
        for i in 0..n {
            let hard = i % 3 == 0;
            let text = if hard {
                format!("prove the lemma {i} on compact manifolds with boundary, rigorously")
            } else {
                format!("say hello to friend number {i}")
            };
            let cheap = if hard { 0.0 } else { 1.0 };
            let dear = if i % 10 == 0 { 0.0 } else { 1.0 };
            t.push(
                text,
                TaskKind::Chat,
                &[Some(cheap), Some(dear)],
                &[Some(1.0), Some(20.0)],
            )
            .unwrap();
        }
        t
    }

    /// Outcomes drawn at random, independent of the (also random) texts.
    fn noise(n: usize, seed: u64) -> TrainingSet {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        let words = [
            "alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta",
        ];
        let mut t = TrainingSet::new(["cheap", "mid", "dear"]).unwrap();
        for _ in 0..n {
            let text: Vec<&str> = (0..8).map(|_| words[rng.random_range(0..words.len())]).collect();
            let y: Vec<Option<f64>> = [0.5, 0.65, 0.8]
                .iter()
                .map(|&p| Some(if rng.random::<f64>() < p { 1.0 } else { 0.0 }))
                .collect();
            t.push(
                text.join(" "),
                TaskKind::Chat,
                &y,
                &[Some(1.0), Some(3.0), Some(20.0)],
            )
            .unwrap();
        }
        t
    }

    #[test]
    fn a_learner_that_truly_beats_the_prior_is_chosen() {
        let est = LearnedEstimator::fit(&informative(300), &SelectConfig::new()).unwrap();
        let r = est.cv_report().unwrap();
        assert!(!r.kept_prior(), "{r}");
        assert_ne!(est.config().learner, Learner::Prior);
        assert_eq!(est.config().learner, r.chosen().unwrap().learner);
        assert_eq!(est.config().shrink, r.chosen().unwrap().shrink);
        let g = r.gain.as_ref().unwrap();
        assert!(g.low > 0.0 && g.mean > 0.05, "{r}");
        // The report survives a save and load, and prints.
        let back = LearnedEstimator::from_json(&est.to_json().unwrap()).unwrap();
        assert_eq!(back.cv_report(), Some(r));
        assert!(r.to_string().contains("<- chosen"), "{r}");
        // A report whose indices point nowhere is refused on load.
        let json = est.to_json().unwrap();
        let start = json.find("\"payload\":").unwrap() + "\"payload\":".len();
        let payload = json[start..json.len() - 1].replacen("\"chosen\":", "\"chosen\":9", 1);
        let file = format!(
            "{{\"magic\":\"{}\",\"version\":{},\"checksum\":\"{:016x}\",\"payload\":{payload}}}",
            super::super::FORMAT_MAGIC,
            super::super::FORMAT_VERSION,
            xxhash_rust::xxh3::xxh3_64(payload.as_bytes())
        );
        let e = LearnedEstimator::from_json(&file).unwrap_err();
        assert!(e.to_string().contains("cross-validation report"), "{e}");
    }

    #[test]
    fn pure_noise_keeps_the_prior() {
        for seed in 1..=3 {
            let est = LearnedEstimator::fit(
                &noise(400, seed),
                &SelectConfig::new().with_learners(Learner::ALL),
            )
            .unwrap();
            let r = est.cv_report().unwrap();
            assert!(r.kept_prior(), "seed {seed}: {r}");
            assert_eq!(est.config().learner, Learner::Prior);
            assert!(r.to_string().contains("the prior is kept"), "{r}");
        }
    }

    #[test]
    fn fit_checks_its_settings_and_the_data_size() {
        let t = informative(9);
        assert!(matches!(
            LearnedEstimator::fit(&t, &SelectConfig::new()),
            Err(LearnError::TooFewForCv { prompts: 9, folds: 5 })
        ));
        for c in [
            SelectConfig::new().with_folds(1),
            SelectConfig::new().with_alpha(0.0),
            SelectConfig::new().with_resamples(5),
            SelectConfig::new().with_shrinks([]),
            SelectConfig::new().with_shrinks([2.0]),
        ] {
            assert!(matches!(
                LearnedEstimator::fit(&informative(60), &c),
                Err(LearnError::InvalidConfig { .. })
            ));
        }
    }

    #[test]
    fn without_costs_it_scores_log_likelihood() {
        let mut t = TrainingSet::new(["weak", "strong"]).unwrap();
        let src = informative(240);
        for i in 0..src.len() {
            t.push(
                src.text(i),
                TaskKind::Chat,
                &[src.outcome(i, 0), src.outcome(i, 1)],
                &[],
            )
            .unwrap();
        }
        let est = LearnedEstimator::fit(&t, &SelectConfig::new()).unwrap();
        let r = est.cv_report().unwrap();
        assert_eq!(r.metric, super::super::CvMetric::LogLikelihood);
        assert!(!r.kept_prior(), "{r}");
    }
}
