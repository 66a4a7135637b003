//! Cross-validation scoring for [`LearnedEstimator::fit`](super::LearnedEstimator::fit): fold
//! assignment, a score per validation fold from out-of-fold predictions (the AIQ of a
//! cost-weighted routing sweep, or the log-likelihood when outcomes or costs are missing), and
//! a paired bootstrap of the gain over the prior, stratified by fold.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::data::TrainingSet;
use super::report::{CvGain, CvMetric, mean};
use crate::task::TaskKind;

/// Cost weights per routing sweep: 0, then 40 values spaced evenly in log from 0.01 to 1,000
/// quality points per mean cost.
const SWEEP: usize = 41;

/// `k` folds of `0..n` after a seeded shuffle; each fold's prompts sorted.
pub(super) fn folds(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut Pcg64Mcg::seed_from_u64(seed));
    (0..k)
        .map(|f| {
            let mut v = perm[f * n / k..(f + 1) * n / k].to_vec();
            v.sort_unstable();
            v
        })
        .collect()
}

/// The prompts outside fold `f`.
pub(super) fn training_rows(folds: &[Vec<usize>], f: usize) -> Vec<usize> {
    let mut rows: Vec<usize> = folds
        .iter()
        .enumerate()
        .filter(|(g, _)| *g != f)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    rows.sort_unstable();
    rows
}

/// A candidate's out-of-fold predictions reduced to what its fold scores need.
#[derive(Debug)]
pub(super) enum Scored {
    /// The model chosen per prompt at each cost weight (`n × SWEEP`).
    Choices(Vec<u32>),
    /// Mean log-likelihood of each prompt's recorded outcomes.
    LogLik(Vec<f64>),
}

/// Scores out-of-fold predictions of one training set split into folds.
#[derive(Debug)]
pub(super) struct Scorer<'a> {
    data: &'a TrainingSet,
    pub(super) metric: CvMetric,
    m: usize,
    /// Expected cost per (prompt, model): the mean recorded cost of that model on the prompt's
    /// task kind in the prompt's training folds (over every kind where the kind is absent).
    expected_cost: Vec<f64>,
    lambdas: Vec<f64>,
}

impl<'a> Scorer<'a> {
    pub(super) fn new(data: &'a TrainingSet, folds: &[Vec<usize>]) -> Self {
        let (n, m) = (data.len(), data.models().len());
        let complete =
            (0..n).all(|i| (0..m).all(|j| data.outcome(i, j).is_some() && data.cost(i, j).is_some()));
        let mean_cost = if complete {
            (0..n)
                .flat_map(|i| (0..m).map(move |j| (i, j)))
                .map(|(i, j)| data.cost(i, j).unwrap_or(0.0))
                .sum::<f64>()
                / (n * m) as f64
        } else {
            0.0
        };
        let metric = if complete && mean_cost > 0.0 {
            CvMetric::Aiq
        } else {
            CvMetric::LogLikelihood
        };
        let mut expected_cost = vec![0.0; n * m];
        if metric == CvMetric::Aiq {
            for (f, fold) in folds.iter().enumerate() {
                let train = training_rows(folds, f);
                let table = KindCosts::fit(data, &train);
                for &i in fold {
                    expected_cost[i * m..(i + 1) * m].copy_from_slice(table.row(data.kind(i)));
                }
            }
        }
        let lambdas = std::iter::once(0.0)
            .chain((0..SWEEP - 1).map(|g| {
                10f64.powf(-2.0 + 5.0 * g as f64 / (SWEEP - 2) as f64) / mean_cost.max(f64::MIN_POSITIVE)
            }))
            .collect();
        Self {
            data,
            metric,
            m,
            expected_cost,
            lambdas,
        }
    }

    /// Reduces out-of-fold quality estimates (`n × m`, every prompt predicted by an estimator
    /// that did not see it) to what the fold scores need.
    pub(super) fn scored(&self, q: &[f64]) -> Scored {
        self.scored_with_costs(q, &self.expected_cost)
    }

    /// The expected cost per (prompt, model) routing assumes by default: the mean recorded cost
    /// of the model on the prompt's kind in the prompt's training folds (all 0 when the metric
    /// is the log-likelihood).
    pub(super) fn expected_cost(&self) -> &[f64] {
        &self.expected_cost
    }

    /// As [`scored`](Self::scored), routing on the expected costs `costs` (`n × m`) instead.
    pub(super) fn scored_with_costs(&self, q: &[f64], costs: &[f64]) -> Scored {
        let (n, m) = (self.data.len(), self.m);
        match self.metric {
            CvMetric::Aiq => {
                let mut choices = Vec::with_capacity(n * SWEEP);
                for i in 0..n {
                    let (qi, ci) = (&q[i * m..(i + 1) * m], &costs[i * m..(i + 1) * m]);
                    for &l in &self.lambdas {
                        let score = |j: usize| qi[j] - l * ci[j];
                        let best = (0..m)
                            .max_by(|&a, &b| {
                                score(a)
                                    .total_cmp(&score(b))
                                    .then(ci[b].total_cmp(&ci[a]))
                                    .then(b.cmp(&a))
                            })
                            .unwrap_or(0);
                        choices.push(best as u32);
                    }
                }
                Scored::Choices(choices)
            }
            CvMetric::LogLikelihood => Scored::LogLik(
                (0..n)
                    .map(|i| {
                        let (mut sum, mut count) = (0.0, 0.0);
                        for j in 0..m {
                            if let Some(y) = self.data.outcome(i, j) {
                                let p = q[i * m + j].clamp(1e-4, 1.0 - 1e-4);
                                sum += y * p.ln() + (1.0 - y) * (1.0 - p).ln();
                                count += 1.0;
                            }
                        }
                        if count > 0.0 { sum / count } else { 0.0 }
                    })
                    .collect(),
            ),
        }
    }

    /// The score on the prompts `rows` (repeats allowed: a bootstrap draw).
    pub(super) fn score(&self, s: &Scored, rows: &[usize]) -> f64 {
        let len = rows.len() as f64;
        match s {
            Scored::LogLik(v) => rows.iter().map(|&i| v[i]).sum::<f64>() / len,
            Scored::Choices(ch) => {
                let m = self.m;
                let (mut q, mut c) = (vec![0.0; m], vec![0.0; m]);
                let mut pts = vec![(0.0, 0.0); SWEEP];
                for &i in rows {
                    for j in 0..m {
                        q[j] += self.data.outcome(i, j).unwrap_or(0.0);
                        c[j] += self.data.cost(i, j).unwrap_or(0.0);
                    }
                    for (g, p) in pts.iter_mut().enumerate() {
                        let j = ch[i * SWEEP + g] as usize;
                        p.0 += self.data.cost(i, j).unwrap_or(0.0);
                        p.1 += self.data.outcome(i, j).unwrap_or(0.0);
                    }
                }
                let best = (0..m)
                    .max_by(|&a, &b| q[a].total_cmp(&q[b]).then(c[b].total_cmp(&c[a])))
                    .unwrap_or(0);
                for p in &mut pts {
                    *p = (p.0 / len, p.1 / len);
                }
                curve_area(&mut pts, c[best] / len)
            }
        }
    }

    /// Scores on each fold.
    pub(super) fn per_fold(&self, s: &Scored, folds: &[Vec<usize>]) -> Vec<f64> {
        folds.iter().map(|f| self.score(s, f)).collect()
    }

    /// The gain of `a` over `b` (candidate index `candidate`): the mean over folds of the
    /// per-fold differences of their fold scores `a.1` and `b.1`, with the paired bootstrap
    /// interval at two-sided level `1 - 2 tail`.
    pub(super) fn gain(
        &self,
        candidate: usize,
        a: (&Scored, &[f64]),
        b: (&Scored, &[f64]),
        folds: &[Vec<usize>],
        (resamples, seed, tail): (usize, u64, f64),
    ) -> CvGain {
        let draws = self.bootstrap_gain(a.0, b.0, folds, resamples, seed);
        let diffs: Vec<f64> = a.1.iter().zip(b.1).map(|(x, y)| x - y).collect();
        CvGain {
            candidate,
            mean: mean(&diffs),
            low: quantile(&draws, tail),
            high: quantile(&draws, 1.0 - tail),
            level: 1.0 - 2.0 * tail,
            resamples,
        }
    }

    /// Paired bootstrap of `mean over folds (score(a) - score(b))`: prompts drawn with
    /// replacement inside each fold, the same draws for both. Sorted.
    pub(super) fn bootstrap_gain(
        &self,
        a: &Scored,
        b: &Scored,
        folds: &[Vec<usize>],
        resamples: usize,
        seed: u64,
    ) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xb007);
        let mut draw = Vec::new();
        let mut out: Vec<f64> = (0..resamples)
            .map(|_| {
                let diffs: Vec<f64> = folds
                    .iter()
                    .map(|fold| {
                        draw.clear();
                        draw.extend((0..fold.len()).map(|_| fold[rng.random_range(0..fold.len())]));
                        self.score(a, &draw) - self.score(b, &draw)
                    })
                    .collect();
                mean(&diffs)
            })
            .collect();
        out.sort_by(f64::total_cmp);
        out
    }
}

/// Area under the (cost, quality) points joined in cost order from the origin, flat after the
/// last one, from cost 0 to `cost_max`, divided by `cost_max`: AIQ without the convex hull.
///
/// The hull takes, at each cost, the best of the sweep's points. On a validation fold each point's
/// quality is a noisy estimate, so the best of many is biased upward, and an estimator whose
/// sweep spreads over many points (pure noise does) gains AIQ over one with a few points (the
/// per-kind prior) without routing any better. Joined in order, every point counts as measured.
fn curve_area(pts: &mut [(f64, f64)], cost_max: f64) -> f64 {
    if !(cost_max.is_finite() && cost_max > 0.0) {
        return f64::NAN;
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (mut area, mut prev) = (0.0, (0.0, 0.0));
    for &p in pts.iter() {
        if prev.0 >= cost_max {
            break;
        }
        if p.0 > prev.0 {
            let hi = p.0.min(cost_max);
            let q_hi = prev.1 + (p.1 - prev.1) * (hi - prev.0) / (p.0 - prev.0);
            area += (prev.1 + q_hi) / 2.0 * (hi - prev.0);
        }
        prev = p;
    }
    if prev.0 < cost_max {
        area += prev.1 * (cost_max - prev.0);
    }
    area / cost_max
}

/// The `q`-quantile of sorted values (nearest rank).
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[pos.min(sorted.len() - 1)]
}

/// Mean recorded cost per (task kind, model) over some prompts, and per model over all of them.
struct KindCosts {
    kinds: Vec<TaskKind>,
    rows: Vec<Vec<f64>>,
    global: Vec<f64>,
}

impl KindCosts {
    fn fit(data: &TrainingSet, rows: &[usize]) -> Self {
        let m = data.models().len();
        let mut kinds: Vec<TaskKind> = Vec::new();
        let mut sums: Vec<(Vec<f64>, f64)> = Vec::new();
        let mut global = (vec![0.0; m], 0.0);
        for &i in rows {
            let k = match kinds.iter().position(|k| k == data.kind(i)) {
                Some(k) => k,
                None => {
                    kinds.push(data.kind(i).clone());
                    sums.push((vec![0.0; m], 0.0));
                    kinds.len() - 1
                }
            };
            for j in 0..m {
                let c = data.cost(i, j).unwrap_or(0.0);
                sums[k].0[j] += c;
                global.0[j] += c;
            }
            sums[k].1 += 1.0;
            global.1 += 1.0;
        }
        let avg = |(v, n): (Vec<f64>, f64)| v.into_iter().map(|s| s / n.max(1.0)).collect();
        Self {
            kinds,
            rows: sums.into_iter().map(avg).collect(),
            global: avg(global),
        }
    }

    fn row(&self, kind: &TaskKind) -> &[f64] {
        match self.kinds.iter().position(|k| k == kind) {
            Some(k) => &self.rows[k],
            None => &self.global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_every_prompt_once() {
        let f = folds(23, 5, 1);
        let mut all: Vec<usize> = f.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..23).collect::<Vec<_>>());
        assert!(f.iter().all(|v| (4..=5).contains(&v.len())));
        assert_eq!(training_rows(&f, 0).len(), 23 - f[0].len());
        assert_ne!(folds(23, 5, 1), folds(23, 5, 2), "seeded");
    }

    #[test]
    fn aiq_score_by_hand() {
        // Two models: "cheap" (cost 1) right on even prompts, "dear" (cost 10) always right.
        let mut t = TrainingSet::new(["cheap", "dear"]).unwrap();
        for i in 0..10 {
            let y = if i % 2 == 0 { 1.0 } else { 0.0 };
            t.push(
                format!("p{i}"),
                TaskKind::Chat,
                &[Some(y), Some(1.0)],
                &[Some(1.0), Some(10.0)],
            )
            .unwrap();
        }
        let f = folds(10, 2, 3);
        let s = Scorer::new(&t, &f);
        assert_eq!(s.metric, CvMetric::Aiq);
        // A perfect estimator sends even prompts to "cheap" and odd ones to "dear" at some
        // cost weight: quality 1 at mean cost 5.5 of the best single model's 10.
        let perfect: Vec<f64> = (0..10)
            .flat_map(|i| [if i % 2 == 0 { 1.0 } else { 0.0 }, 0.99])
            .collect();
        let all: Vec<usize> = (0..10).collect();
        let got = s.score(&s.scored(&perfect), &all);
        // Hull: (0,0) -> (1, 0.5) -> (5.5, 1) -> flat to 10.
        let want = (0.5 * 1.0 * 0.5 + (0.5 + 1.0) / 2.0 * 4.5 + 4.5 * 1.0) / 10.0;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // A constant estimator never mixes per prompt: only the single models' points.
        let flat: Vec<f64> = (0..10).flat_map(|_| [0.5, 0.99]).collect();
        let got = s.score(&s.scored(&flat), &all);
        let want = (0.5 * 1.0 * 0.5 + (0.5 + 1.0) / 2.0 * 9.0) / 10.0;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn missing_costs_score_log_likelihood() {
        let mut t = TrainingSet::new(["a"]).unwrap();
        for i in 0..4 {
            t.push(format!("p{i}"), TaskKind::Chat, &[Some(f64::from(i % 2))], &[])
                .unwrap();
        }
        let s = Scorer::new(&t, &folds(4, 2, 0));
        assert_eq!(s.metric, CvMetric::LogLikelihood);
        let good = s.score(&s.scored(&[0.1, 0.9, 0.1, 0.9]), &[0, 1, 2, 3]);
        let bad = s.score(&s.scored(&[0.9, 0.1, 0.9, 0.1]), &[0, 1, 2, 3]);
        assert!((good - 0.9f64.ln()).abs() < 1e-12 && bad < good);
    }
}
