//! Train/test splits: seeded, by label, k-fold.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

use super::Outcomes;
use crate::eval::EvalError;

/// A train/test partition of prompt indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Split {
    /// Indices of the training prompts, ascending.
    pub train: Vec<usize>,
    /// Indices of the test prompts, ascending.
    pub test: Vec<usize>,
}

impl Split {
    /// A seeded random split of `n` prompts with `round(n * test_fraction)` in the test part.
    ///
    /// The permutation is a Fisher–Yates shuffle driven by `Pcg64Mcg::seed_from_u64(seed)`
    /// (crate `rand_pcg`, the generator `learn` and `runtime` use too): the same seed gives the same split on every machine.
    ///
    /// # Errors
    /// [`EvalError::InvalidArgument`] when `test_fraction` is not in `(0, 1)` or a part would be empty.
    pub fn seeded(n: usize, test_fraction: f64, seed: u64) -> Result<Split, EvalError> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(EvalError::invalid(
                "test fraction",
                test_fraction,
                "a number in (0, 1)",
            ));
        }
        let n_test = (n as f64 * test_fraction).round() as usize;
        if n_test == 0 || n_test >= n {
            return Err(EvalError::invalid(
                "test fraction",
                format!("{test_fraction} of {n} prompts"),
                "a fraction that leaves both parts non-empty",
            ));
        }
        let perm = permutation(n, seed);
        let mut test = perm[..n_test].to_vec();
        let mut train = perm[n_test..].to_vec();
        test.sort_unstable();
        train.sort_unstable();
        Ok(Split { train, test })
    }

    /// Prompts for which `is_test` holds are the test part, the rest the training part.
    pub fn by(n: usize, is_test: impl Fn(usize) -> bool) -> Split {
        let (test, train) = (0..n).partition(|&p| is_test(p));
        Split { train, test }
    }

    /// Prompts whose label is one of `test_labels` are the test part (hold out whole tasks).
    pub fn by_label(data: &Outcomes, test_labels: &[&str]) -> Split {
        Split::by(data.prompts(), |p| test_labels.contains(&data.label(p)))
    }

    /// `k` folds of a seeded permutation (as [`seeded`](Self::seeded)); fold `i` tests on the
    /// `i`-th slice and trains on the rest. Every prompt is tested exactly once.
    ///
    /// # Errors
    /// [`EvalError::InvalidArgument`] when `k < 2` or `k > n`.
    pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<Split>, EvalError> {
        if k < 2 || k > n {
            return Err(EvalError::invalid(
                "fold count",
                format!("{k} for {n} prompts"),
                "2 <= k <= prompts",
            ));
        }
        let perm = permutation(n, seed);
        Ok((0..k)
            .map(|i| {
                let (lo, hi) = (i * n / k, (i + 1) * n / k);
                let mut test = perm[lo..hi].to_vec();
                let mut train: Vec<usize> = perm[..lo].iter().chain(&perm[hi..]).copied().collect();
                test.sort_unstable();
                train.sort_unstable();
                Split { train, test }
            })
            .collect())
    }
}

fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut Pcg64Mcg::seed_from_u64(seed));
    v
}
