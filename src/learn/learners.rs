//! The learners behind [`LearnedEstimator`](super::LearnedEstimator): per-kind priors,
//! logistic regression per model, k nearest neighbours, and an item-response model.
//!
//! Every trainer is single-threaded and seeded: the same data, settings and seed give the same
//! weights, bit for bit.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::Corruption;
use super::data::TrainingSet;
use super::features::{DENSE_FEATURES, Features};
use crate::task::TaskKind;

#[inline]
pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// One AdaGrad update of the weight `w` against the gradient `g`: `g2` sums the weight's
/// squared gradients so far, and the step is `lr` scaled by its root.
#[inline]
pub(crate) fn adagrad(w: &mut f32, g2: &mut f32, g: f32, lr: f32) {
    *g2 += g * g;
    *w -= lr * g / g2.sqrt();
}

#[inline]
pub(crate) fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// Smoothed success rate per (task kind, model), and per model over all kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct KindPriors {
    pub(crate) kinds: Vec<TaskKind>,
    /// `kinds.len() × m`, row per kind.
    pub(crate) table: Vec<f32>,
    /// Per model, over all prompts.
    pub(crate) global: Vec<f32>,
}

impl KindPriors {
    /// Beta-smoothed rates: each kind's rate is pulled toward the model's overall rate with the
    /// weight of two prompts.
    pub(crate) fn fit(data: &TrainingSet) -> Self {
        let m = data.models().len();
        let mut kinds: Vec<TaskKind> = Vec::new();
        let mut kind_of = Vec::with_capacity(data.len());
        for i in 0..data.len() {
            let k = data.kind(i);
            let idx = match kinds.iter().position(|x| x == k) {
                Some(p) => p,
                None => {
                    kinds.push(k.clone());
                    kinds.len() - 1
                }
            };
            kind_of.push(idx);
        }
        let mut sum = vec![0.0f64; kinds.len() * m];
        let mut cnt = vec![0.0f64; kinds.len() * m];
        let mut gsum = vec![0.0f64; m];
        let mut gcnt = vec![0.0f64; m];
        for (i, &k) in kind_of.iter().enumerate() {
            for (j, &y) in data.outcome_row(i).iter().enumerate() {
                if !y.is_nan() {
                    sum[k * m + j] += f64::from(y);
                    cnt[k * m + j] += 1.0;
                    gsum[j] += f64::from(y);
                    gcnt[j] += 1.0;
                }
            }
        }
        let global: Vec<f32> = (0..m)
            .map(|j| ((gsum[j] + 1.0) / (gcnt[j] + 2.0)) as f32)
            .collect();
        let table = (0..kinds.len() * m)
            .map(|idx| {
                let g = f64::from(global[idx % m]);
                ((sum[idx] + 2.0 * g) / (cnt[idx] + 2.0)) as f32
            })
            .collect();
        Self { kinds, table, global }
    }

    pub(crate) fn kind_index(&self, kind: &TaskKind) -> Option<usize> {
        self.kinds.iter().position(|k| k == kind)
    }

    pub(crate) fn row(&self, kind: Option<usize>) -> &[f32] {
        let m = self.global.len();
        match kind {
            Some(k) => &self.table[k * m..(k + 1) * m],
            None => &self.global,
        }
    }

    pub(crate) fn validate(&self, m: usize) -> Result<(), Corruption> {
        if self.global.len() != m || Some(self.table.len()) != self.kinds.len().checked_mul(m) {
            return Err(Corruption::Shape { part: "prior table" });
        }
        if self
            .global
            .iter()
            .chain(&self.table)
            .any(|p| !(0.0..=1.0).contains(p))
        {
            return Err(Corruption::PriorOutOfRange);
        }
        Ok(())
    }
}

/// Per-kind abilities (log-odds) of every model while they are fitted with AdaGrad: `kinds ×
/// m`, then one row over all kinds (for kinds an estimator never saw), starting at the priors.
/// The item-response and factorisation learners share it.
pub(crate) struct Abilities {
    pub(crate) theta: Vec<f32>,
    g2: Vec<f32>,
    m: usize,
    all: usize,
}

impl Abilities {
    pub(crate) fn from_priors(priors: &KindPriors) -> Self {
        let mut theta: Vec<f32> = priors.table.iter().map(|p| logit(*p)).collect();
        theta.extend(priors.global.iter().map(|p| logit(*p)));
        Self {
            g2: vec![1e-6; theta.len()],
            theta,
            m: priors.global.len(),
            all: priors.kinds.len(),
        }
    }

    /// The row of kind `k` (`None`: the row over all kinds).
    pub(crate) fn row(&self, k: Option<usize>) -> usize {
        k.unwrap_or(self.all)
    }

    /// Model j's ability on row `k`.
    pub(crate) fn get(&self, k: usize, j: usize) -> f32 {
        self.theta[k * self.m + j]
    }

    /// One AdaGrad step of gradient `g` on model j's ability in row `k` and in the row over
    /// all kinds (so unknown kinds get a sensible ability too).
    pub(crate) fn step(&mut self, k: usize, j: usize, g: f32, lr: f32) {
        for idx in [k * self.m + j, self.all * self.m + j] {
            adagrad(&mut self.theta[idx], &mut self.g2[idx], g, lr);
        }
    }
}

/// Hyper-parameters shared by the trainers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hyper {
    pub(crate) epochs: u32,
    pub(crate) learning_rate: f32,
    pub(crate) l2: f32,
    pub(crate) seed: u64,
}

/// What every trainer reads: the training set, each prompt's features and task kind (its index
/// among the priors' kinds), the per-kind priors, the feature dimension and the settings.
#[derive(Clone, Copy)]
pub(crate) struct TrainInput<'a> {
    pub(crate) data: &'a TrainingSet,
    pub(crate) feats: &'a [Features],
    pub(crate) kind_of: &'a [Option<usize>],
    pub(crate) priors: &'a KindPriors,
    pub(crate) dim: usize,
    pub(crate) h: Hyper,
}

/// Calls `step(n)` for every sample `n < samples`, `epochs` times over, in an order `rng`
/// shuffles afresh for each pass: the visiting order of every SGD trainer here.
pub(crate) fn shuffled_passes(samples: usize, epochs: u32, rng: &mut Pcg64Mcg, mut step: impl FnMut(usize)) {
    let mut order: Vec<usize> = (0..samples).collect();
    for _ in 0..epochs {
        order.shuffle(rng);
        for &n in &order {
            step(n);
        }
    }
}

/// Most values a dense weight matrix may hold when loaded from a file (2^28 `f32`s, 1 GiB): a
/// file may claim any shape, and a claim is checked against the features and models, and this
/// limit, before anything of that size is allocated.
pub(crate) const MAX_LOADED_WEIGHTS: u64 = 1 << 28;

/// A dense weight matrix stored feature-major (`dim × m`), serialized sparsely: only rows with
/// a non-zero weight are written.
///
/// Read from a file it stays sparse (memory in proportion to the file) until
/// [`densify`](Self::densify) has checked its shape against the estimator's features and models.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Weights {
    pub(crate) dim: usize,
    pub(crate) m: usize,
    pub(crate) w: Vec<f32>,
    /// Rows as read, before `densify`; empty once dense.
    pending: Vec<(u32, Vec<f32>)>,
}

#[derive(Serialize, Deserialize)]
struct SparseWeights {
    dim: usize,
    m: usize,
    rows: Vec<(u32, Vec<f32>)>,
}

impl Serialize for Weights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rows = if self.w.is_empty() {
            self.pending.clone()
        } else {
            (0..self.dim)
                .filter_map(|i| {
                    let r = &self.w[i * self.m..(i + 1) * self.m];
                    r.iter().any(|v| *v != 0.0).then(|| (i as u32, r.to_vec()))
                })
                .collect()
        };
        SparseWeights {
            dim: self.dim,
            m: self.m,
            rows,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = SparseWeights::deserialize(d)?;
        Ok(Weights {
            dim: s.dim,
            m: s.m,
            w: Vec::new(),
            pending: s.rows,
        })
    }
}

impl Weights {
    pub(crate) fn zeros(dim: usize, m: usize) -> Self {
        Self {
            dim,
            m,
            w: vec![0.0; dim * m],
            pending: Vec::new(),
        }
    }

    /// Checks the shape read from a file against `dim × m` and [`MAX_LOADED_WEIGHTS`], then
    /// expands the rows into the dense matrix.
    pub(crate) fn densify(&mut self, dim: usize, m: usize, part: &'static str) -> Result<(), Corruption> {
        if self.dim != dim || self.m != m {
            return Err(Corruption::Shape { part });
        }
        if self.pending.is_empty() && self.w.len() == dim * m {
            return Ok(()); // trained here, or already expanded
        }
        let elements = (dim as u64).saturating_mul(m as u64);
        if elements > MAX_LOADED_WEIGHTS {
            return Err(Corruption::TooLarge {
                part,
                elements,
                limit: MAX_LOADED_WEIGHTS,
            });
        }
        if self
            .pending
            .iter()
            .any(|(i, row)| *i as usize >= dim || row.len() != m)
        {
            return Err(Corruption::Shape { part });
        }
        let mut w = vec![0.0f32; dim * m];
        for (i, row) in std::mem::take(&mut self.pending) {
            let i = i as usize;
            w[i * m..(i + 1) * m].copy_from_slice(&row);
        }
        self.w = w;
        Ok(())
    }

    /// Fits the weights by SGD with [AdaGrad steps](Self::adagrad_step), in
    /// [`shuffled_passes`] over `feats`: for prompt `n`, `gradient(n, z, grad)` sets the loss
    /// gradient per column from the scores `z = x_n · W` (`grad` comes zeroed, so a column
    /// without an outcome can leave it).
    pub(crate) fn fit_adagrad(
        &mut self,
        feats: &[Features],
        h: &Hyper,
        rng: &mut Pcg64Mcg,
        free_bias: bool,
        mut gradient: impl FnMut(usize, &[f32], &mut [f32]),
    ) {
        let mut g2 = vec![1e-6f32; self.w.len()];
        let (mut z, mut grad) = (vec![0.0f32; self.m], vec![0.0f32; self.m]);
        shuffled_passes(feats.len(), h.epochs, rng, |n| {
            let x = &feats[n];
            z.fill(0.0);
            self.add_dot(x, &mut z);
            grad.fill(0.0);
            gradient(n, &z, &mut grad);
            self.adagrad_step(&mut g2, x, &grad, h, free_bias);
        });
    }

    /// One AdaGrad step on the rows `x` touches: weight `(i, j)` moves against the gradient
    /// `grad[j] * x_i + l2 * w[i, j]` (no penalty on the bias, feature 0, when `free_bias`),
    /// scaled by the root of `g2`, the squared gradients so far (same shape as the weights).
    pub(crate) fn adagrad_step(
        &mut self,
        g2: &mut [f32],
        x: &Features,
        grad: &[f32],
        h: &Hyper,
        free_bias: bool,
    ) {
        let m = self.m;
        for (&i, &v) in x.indices.iter().zip(&x.values) {
            let i = i as usize;
            let reg = if free_bias && i == 0 { 0.0 } else { h.l2 };
            let row = &mut self.w[i * m..(i + 1) * m];
            let acc = &mut g2[i * m..(i + 1) * m];
            for j in 0..m {
                let g = grad[j] * v + reg * row[j];
                adagrad(&mut row[j], &mut acc[j], g, h.learning_rate);
            }
        }
    }

    /// `out[j] += x · W[:, j]`.
    #[inline]
    pub(crate) fn add_dot(&self, x: &Features, out: &mut [f32]) {
        let m = self.m;
        for (&i, &v) in x.indices.iter().zip(&x.values) {
            let i = i as usize;
            if let Some(row) = self.w.get(i * m..(i + 1) * m) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += v * w;
                }
            }
        }
    }
}

/// Logistic regression per model, trained jointly with AdaGrad SGD (one pass over a prompt
/// updates every model that has an outcome for it). L2 penalty on every weight but the bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogReg {
    pub(crate) weights: Weights,
}

impl LogReg {
    pub(crate) fn train(input: TrainInput<'_>) -> Self {
        let m = input.data.models().len();
        let mut w = Weights::zeros(input.dim, m);
        // Start the bias at the overall log-odds so the first epochs fit the text, not the mean.
        for j in 0..m {
            w.w[j] = logit(input.priors.global[j]);
        }
        let mut rng = Pcg64Mcg::seed_from_u64(input.h.seed);
        w.fit_adagrad(input.feats, &input.h, &mut rng, true, |n, z, grad| {
            let y = input.data.outcome_row(n);
            for j in 0..m {
                if !y[j].is_nan() {
                    grad[j] = sigmoid(z[j]) - y[j];
                }
            }
        });
        Self { weights: w }
    }

    pub(crate) fn logits(&self, x: &Features, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        self.weights.add_dot(x, out);
    }

    fn validate(&mut self, dim: usize, m: usize) -> Result<(), Corruption> {
        self.weights.densify(dim, m, "logistic-regression weights")
    }
}

/// Item-response model: `logit P(model j right on prompt x) = theta[kind, j] + a[j] * e(x) +
/// r_j(x)`, where `e(x) = w · x` is the prompt's easiness, learned from the outcomes of *all*
/// models at once (every prompt teaches `w` through each model that saw it), `a[j]` is how much
/// model j's success depends on easiness, `theta` its ability per task kind, and `r_j` a small,
/// strongly regularised per-model residual on the dense features only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Irt {
    /// `kinds × m` abilities, then one row of global abilities for unknown kinds.
    pub(crate) theta: Vec<f32>,
    pub(crate) a: Vec<f32>,
    pub(crate) easiness: Vec<f32>,
    /// `DENSE_FEATURES × m` residual weights on the dense block.
    pub(crate) residual: Vec<f32>,
}

impl Irt {
    pub(crate) fn train(input: TrainInput<'_>) -> Self {
        let m = input.data.models().len();
        let mut theta = Abilities::from_priors(input.priors);
        let mut a = vec![1.0f32; m];
        let mut easiness = vec![0.0f32; input.dim];
        let mut residual = vec![0.0f32; DENSE_FEATURES * m];
        let mut g_a = vec![1e-6f32; m];
        let (mut g_w, mut g_r) = (vec![1e-6f32; input.dim], vec![1e-6f32; residual.len()]);
        let mut rng = Pcg64Mcg::seed_from_u64(input.h.seed ^ 0x1417);
        let lr = input.h.learning_rate;
        shuffled_passes(input.feats.len(), input.h.epochs, &mut rng, |n| {
            let x = &input.feats[n];
            let e = x.dot(&easiness);
            let k = theta.row(input.kind_of[n]);
            let y = input.data.outcome_row(n);
            let mut g_e = 0.0f32;
            for j in 0..m {
                if y[j].is_nan() {
                    continue;
                }
                let mut z = theta.get(k, j) + a[j] * e;
                for d in 0..DENSE_FEATURES {
                    z += residual[d * m + j] * x.dense(d);
                }
                let g = sigmoid(z) - y[j];
                g_e += g * a[j];
                theta.step(k, j, g, lr);
                let ga = g * e + input.h.l2 * (a[j] - 1.0);
                adagrad(&mut a[j], &mut g_a[j], ga, lr);
                for d in 1..DENSE_FEATURES {
                    let gr = g * x.dense(d) + 10.0 * input.h.l2 * residual[d * m + j];
                    adagrad(&mut residual[d * m + j], &mut g_r[d * m + j], gr, lr);
                }
            }
            for (&i, &v) in x.indices.iter().zip(&x.values) {
                let i = i as usize;
                let g = g_e * v + input.h.l2 * easiness[i];
                adagrad(&mut easiness[i], &mut g_w[i], g, lr);
            }
        });
        Self {
            theta: theta.theta,
            a,
            easiness,
            residual,
        }
    }

    pub(crate) fn logits(&self, x: &Features, kind: Option<usize>, out: &mut [f32]) {
        let m = out.len();
        let nk = self.theta.len() / m - 1;
        let k = kind.unwrap_or(nk);
        let e = x.dot(&self.easiness);
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.theta[k * m + j] + self.a[j] * e;
        }
        for d in 0..DENSE_FEATURES {
            let v = x.dense(d);
            if v != 0.0 {
                for (j, o) in out.iter_mut().enumerate() {
                    *o += self.residual[d * m + j] * v;
                }
            }
        }
    }

    fn validate(&self, dim: usize, m: usize, kinds: usize) -> Result<(), Corruption> {
        if Some(self.theta.len()) != kinds.checked_add(1).and_then(|k| k.checked_mul(m))
            || self.a.len() != m
            || self.easiness.len() != dim
            || self.residual.len() != DENSE_FEATURES * m
        {
            return Err(Corruption::Shape {
                part: "item-response parameters",
            });
        }
        Ok(())
    }
}

/// k nearest neighbours by cosine similarity over the features folded to `2^fold_bits` hash
/// buckets (plus the dense block, down-weighted). The estimate for model j is the
/// similarity-weighted share of neighbours j got right, pulled toward the kind prior with the
/// weight of `prior_weight` neighbours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Knn {
    pub(crate) k: usize,
    pub(crate) fold_bits: u8,
    pub(crate) prior_weight: f32,
    /// `n × width` unit vectors.
    pub(crate) vectors: Vec<f32>,
    /// `n × m` outcomes, NaN where missing (`null` in a file).
    #[serde(with = "nan_as_null")]
    pub(crate) outcomes: Vec<f32>,
    /// Per-kind index: rows are grouped by kind and kind `c` holds rows
    /// `kind_offsets[c]..kind_offsets[c + 1]`. Empty: every query scans every row.
    #[serde(default)]
    pub(crate) kind_offsets: Vec<u32>,
}

const KNN_DENSE_WEIGHT: f32 = 0.5;

/// Missing outcomes (NaN) as JSON `null`: serde_json writes a NaN as `null` but cannot read it
/// back as a number, so a kNN estimator trained with missing outcomes saved but did not load.
pub(crate) mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| (!x.is_nan()).then_some(*x)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let v: Vec<Option<f32>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect())
    }
}

/// Dot product in eight independent lanes, so the compiler can keep it in SIMD registers
/// (a plain `sum()` over `f32` must add in order and cannot be vectorised).
#[inline]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl Knn {
    pub(crate) fn width(fold_bits: u8) -> usize {
        DENSE_FEATURES + (1usize << fold_bits)
    }

    pub(crate) fn fold(x: &Features, fold_bits: u8, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let mask = (1usize << fold_bits) - 1;
        for (&i, &v) in x.indices.iter().zip(&x.values) {
            let i = i as usize;
            if i < DENSE_FEATURES {
                out[i] += KNN_DENSE_WEIGHT * v;
            } else {
                out[DENSE_FEATURES + ((i - DENSE_FEATURES) & mask)] += v;
            }
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|v| *v /= norm);
        }
    }

    pub(crate) fn train(
        feats: &[Features],
        data: &TrainingSet,
        k: usize,
        fold_bits: u8,
        prior_weight: f32,
        by_kind: Option<(&[Option<usize>], usize)>,
    ) -> Self {
        let width = Self::width(fold_bits);
        // Row order: grouped by kind (stable) when indexing by kind, else as given.
        let mut order: Vec<usize> = (0..feats.len()).collect();
        let mut kind_offsets = Vec::new();
        if let Some((kind_of, kinds)) = by_kind {
            let key = |i: usize| kind_of.get(i).copied().flatten().unwrap_or(kinds);
            order.sort_by_key(|&i| key(i));
            kind_offsets = (0..=kinds)
                .map(|c| order.partition_point(|&i| key(i) < c) as u32)
                .collect();
        }
        let mut vectors = vec![0.0f32; feats.len() * width];
        for (&i, row) in order.iter().zip(vectors.chunks_exact_mut(width)) {
            Self::fold(&feats[i], fold_bits, row);
        }
        let m = data.models().len();
        let mut outcomes = Vec::with_capacity(feats.len() * m);
        for &i in &order {
            outcomes.extend_from_slice(data.outcome_row(i));
        }
        Self {
            k,
            fold_bits,
            prior_weight,
            vectors,
            outcomes,
            kind_offsets,
        }
    }

    /// The rows a query of kind `kind` searches.
    fn rows(&self, kind: Option<usize>, width: usize) -> std::ops::Range<usize> {
        let n = self.vectors.len() / width;
        match kind {
            Some(c) if c + 1 < self.kind_offsets.len() => {
                let (a, b) = (self.kind_offsets[c] as usize, self.kind_offsets[c + 1] as usize);
                if a < b && b <= n { a..b } else { 0..n }
            }
            _ => 0..n,
        }
    }

    /// Probabilities (not logits) into `out`.
    pub(crate) fn predict(
        &self,
        x: &Features,
        kind: Option<usize>,
        prior: &[f32],
        query: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let width = Self::width(self.fold_bits);
        query.clear();
        query.resize(width, 0.0);
        Self::fold(x, self.fold_bits, query);
        let m = out.len();
        let rows = self.rows(kind, width);
        let first = rows.start;
        // Top-k by similarity: a small sorted buffer (k is small).
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(self.k.min(rows.len()) + 1);
        for (n, row) in self.vectors[rows.start * width..rows.end * width]
            .chunks_exact(width)
            .enumerate()
        {
            let n = first + n;
            let s = dot8(row, query);
            if best.len() < self.k || s > best[best.len() - 1].0 {
                let pos = best.partition_point(|(b, _)| *b >= s);
                best.insert(pos, (s, n));
                best.truncate(self.k);
            }
        }
        for j in 0..m {
            let (mut num, mut den) = (self.prior_weight * prior[j], self.prior_weight);
            for &(s, n) in &best {
                let y = self.outcomes[n * m + j];
                if !y.is_nan() {
                    let w = s.max(0.0);
                    num += w * y;
                    den += w;
                }
            }
            out[j] = if den > 0.0 { num / den } else { prior[j] };
        }
    }

    fn validate(&self, m: usize) -> Result<(), Corruption> {
        if self.fold_bits > 20 {
            return Err(Corruption::Shape {
                part: "nearest-neighbour fold bits",
            });
        }
        let width = Self::width(self.fold_bits);
        if self.k == 0
            || !self.vectors.len().is_multiple_of(width)
            || Some(self.outcomes.len()) != (self.vectors.len() / width).checked_mul(m)
            || self.kind_offsets.windows(2).any(|w| w[0] > w[1])
            || self
                .kind_offsets
                .last()
                .is_some_and(|&l| l as usize > self.vectors.len() / width)
        {
            return Err(Corruption::Shape {
                part: "nearest-neighbour tables",
            });
        }
        Ok(())
    }
}

/// A trained model inside an estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Model {
    Prior,
    LogReg(LogReg),
    Knn(Knn),
    Irt(Irt),
    Ensemble { members: Vec<(f32, Model)> },
    Mf(super::mf::Mf),
}

/// Reused buffers for prediction.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) text: String,
    pub(crate) features: Features,
    /// Which prompt `features` hold, so the quality and the length estimates of one decision
    /// featurize it once.
    pub(crate) featured: Featured,
    pub(crate) logits: Vec<f32>,
    pub(crate) member: Vec<f32>,
    pub(crate) knn: Vec<f32>,
    pub(crate) lengths: Vec<Option<u32>>,
}

/// The key of [`Scratch::features`]: the estimator (its unique id; 0 for none), and the
/// prompt's text, kind and input tokens.
#[derive(Debug, Default)]
pub(crate) struct Featured {
    pub(crate) estimator: u64,
    pub(crate) text: String,
    pub(crate) kind: Option<TaskKind>,
    pub(crate) tokens: u32,
}

impl Model {
    /// Probabilities for every model into `out` (length m), before shrinkage.
    pub(crate) fn predict(
        &self,
        x: &Features,
        kind: Option<usize>,
        prior: &[f32],
        tmp: &mut Vec<f32>,
        knn: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        match self {
            Model::Prior => out.copy_from_slice(prior),
            Model::LogReg(l) => {
                l.logits(x, out);
                out.iter_mut().for_each(|z| *z = sigmoid(*z));
            }
            Model::Irt(r) => {
                r.logits(x, kind, out);
                out.iter_mut().for_each(|z| *z = sigmoid(*z));
            }
            Model::Knn(k) => k.predict(x, kind, prior, knn, out),
            Model::Mf(f) => {
                f.logits(x, kind, tmp, out);
                out.iter_mut().for_each(|z| *z = sigmoid(*z));
            }
            Model::Ensemble { members } => {
                // Weighted mean of the members' log-odds.
                let m = out.len();
                let mut acc = vec![0.0f32; m];
                let mut total = 0.0;
                for (w, member) in members {
                    tmp.clear();
                    tmp.resize(m, 0.0);
                    let mut inner = Vec::new();
                    member.predict(x, kind, prior, &mut inner, knn, tmp);
                    for (a, p) in acc.iter_mut().zip(tmp.iter()) {
                        *a += w * logit(*p);
                    }
                    total += w;
                }
                for (o, a) in out.iter_mut().zip(&acc) {
                    *o = sigmoid(a / total.max(f32::MIN_POSITIVE));
                }
            }
        }
    }

    /// Checks every table's shape against `dim` features, `m` models and `kinds` kinds, and
    /// expands weights read from a file (see [`Weights::densify`]).
    pub(crate) fn validate(&mut self, dim: usize, m: usize, kinds: usize) -> Result<(), Corruption> {
        match self {
            Model::Prior => Ok(()),
            Model::LogReg(l) => l.validate(dim, m),
            Model::Irt(r) => r.validate(dim, m, kinds),
            Model::Knn(k) => k.validate(m),
            Model::Mf(f) => f.validate(dim, m, kinds),
            Model::Ensemble { members } => {
                if members.is_empty() || members.iter().any(|(w, _)| !(w.is_finite() && *w > 0.0)) {
                    return Err(Corruption::EnsembleWeights);
                }
                members
                    .iter_mut()
                    .try_for_each(|(_, mm)| mm.validate(dim, m, kinds))
            }
        }
    }
}
