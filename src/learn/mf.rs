//! [`Learner::Mf`](super::Learner::Mf): matrix factorisation on the hashed text features.
//!
//! `logit P(model j right on prompt x) = theta[kind, j] + v_j · (Pᵀ x)`: `P` projects the
//! prompt's sparse features to `rank` dimensions and `v_j` is model j's vector in that space,
//! the shape of RouteLLM's matrix-factorisation router with the hashed features in place of a
//! downloaded embedding. Unlike one logistic regression per model, `P` is learned from every
//! model's outcomes at once; the item-response learner is the case `rank = 1` with a shared
//! sign.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::Corruption;
use super::features::Features;
use super::learners::{Abilities, TrainInput, Weights, adagrad, sigmoid};

/// Model vectors start uniform in `[-INIT, INIT]` (the projection starts at 0, so only one
/// side needs to break the symmetry, and unseen features stay 0 and out of the file).
const INIT: f32 = 0.3;

/// A trained factorisation (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mf {
    /// `kinds × m` abilities, then one row over all kinds (for kinds it never saw).
    theta: Vec<f32>,
    /// `dim × rank` projection of the prompt features.
    proj: Weights,
    /// `m × rank` model vectors.
    vectors: Vec<f32>,
}

impl Mf {
    /// Fits a factorisation of `rank` dimensions.
    pub(crate) fn train(input: TrainInput<'_>, rank: usize) -> Self {
        let m = input.data.models().len();
        let mut theta = Abilities::from_priors(input.priors);
        let mut rng = Pcg64Mcg::seed_from_u64(input.h.seed ^ 0x3f1a);
        let mut vectors: Vec<f32> = (0..m * rank).map(|_| rng.random_range(-INIT..INIT)).collect();
        let mut proj = Weights::zeros(input.dim, rank);
        let mut g_vec = vec![1e-6f32; vectors.len()];
        let lr = input.h.learning_rate;
        // The projection's scores are the prompt's coordinates `u`; its gradient, `g_u`.
        proj.fit_adagrad(input.feats, &input.h, &mut rng, false, |n, u, g_u| {
            let k = theta.row(input.kind_of[n]);
            for (j, &y) in input.data.outcome_row(n).iter().enumerate() {
                if y.is_nan() {
                    continue;
                }
                let v = &mut vectors[j * rank..(j + 1) * rank];
                let z = theta.get(k, j) + v.iter().zip(u).map(|(a, b)| a * b).sum::<f32>();
                let g = sigmoid(z) - y;
                theta.step(k, j, g, lr);
                let acc = &mut g_vec[j * rank..(j + 1) * rank];
                for r in 0..rank {
                    g_u[r] += g * v[r];
                    let gv = g * u[r] + input.h.l2 * v[r];
                    adagrad(&mut v[r], &mut acc[r], gv, lr);
                }
            }
        });
        Self {
            theta: theta.theta,
            proj,
            vectors,
        }
    }

    /// Log-odds of every model into `out`; `u` is scratch for the projected prompt.
    pub(crate) fn logits(&self, x: &Features, kind: Option<usize>, u: &mut Vec<f32>, out: &mut [f32]) {
        let m = out.len();
        let rank = self.proj.m;
        let nk = self.theta.len() / m - 1;
        let k = kind.unwrap_or(nk).min(nk);
        u.clear();
        u.resize(rank, 0.0);
        self.proj.add_dot(x, u);
        for (j, o) in out.iter_mut().enumerate() {
            let v = &self.vectors[j * rank..(j + 1) * rank];
            *o = self.theta[k * m + j] + v.iter().zip(u.iter()).map(|(a, b)| a * b).sum::<f32>();
        }
    }

    pub(crate) fn validate(&mut self, dim: usize, m: usize, kinds: usize) -> Result<(), Corruption> {
        let rank = self.proj.m;
        if !(1..=64).contains(&rank)
            || Some(self.theta.len()) != kinds.checked_add(1).and_then(|k| k.checked_mul(m))
            || Some(self.vectors.len()) != m.checked_mul(rank)
        {
            return Err(Corruption::Shape {
                part: "matrix-factorisation parameters",
            });
        }
        self.proj.densify(dim, rank, "matrix-factorisation projection")
    }
}
