//! The stopping rule: when has one variant won?
//!
//! [`SequentialTest`] keeps, per variant, the number of observations and the sum of the rewards
//! (a success metric in `[0, 1]`: 0/1 success, a judge score scaled to `[0, 1]`, ...). After
//! every observation [`conclusion`](SequentialTest::conclusion) applies the generalised
//! likelihood-ratio (Chernoff) stopping rule of Garivier & Kaufmann, *Optimal Best Arm
//! Identification with Fixed Confidence* (COLT 2016): with `a` the variant of highest mean and
//! `kl` the Bernoulli relative entropy, stop when for every other variant `b`
//!
//! ```text
//! Z(a, b) = N_a · kl(μ_a, μ_ab) + N_b · kl(μ_b, μ_ab)  >  β(t, δ) = ln(2 t (K − 1) / δ)
//! ```
//!
//! where `μ_ab` is the pooled mean of `a` and `b`, `t` the total observations, `K` the number of
//! variants and `δ = 1 − confidence`. With this threshold the rule is δ-correct whatever the
//! traffic split (their Theorem 10, proven for 0/1 rewards): the probability that it ever names a
//! variant that is not the best is at most `δ`. The test can be read after every observation: it
//! is not a fixed-horizon test, so peeking does not inflate the error. Rewards in `[0, 1]` that are
//! not 0/1 have Chernoff bounds no weaker than a Bernoulli's of the same mean, so the rule is
//! conservative for them too. When two variants are equally good the rule never stops: bound the
//! experiment's length yourself.

use super::ExperimentError;

/// What a variant has observed so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ArmStats {
    /// Observations.
    pub n: u64,
    /// Sum of the rewards.
    pub sum: f64,
}

impl ArmStats {
    /// Mean reward (0 before any observation).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
}

/// What the stopping rule says.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Conclusion {
    /// Keep going: no variant is better than all others at the stated confidence yet.
    Undecided,
    /// This variant is the best at the stated confidence.
    Winner {
        /// Its index.
        variant: usize,
        /// Total observations when the rule stopped.
        observations: u64,
    },
}

/// Feedback per variant and the stopping rule; see the [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct SequentialTest {
    arms: Vec<ArmStats>,
    delta: f64,
    total: u64,
}

impl SequentialTest {
    /// A test between `variants` variants that stops at `confidence` (e.g. `0.95`).
    ///
    /// # Errors
    /// [`ExperimentError::TooFewVariants`] below two variants, [`ExperimentError::BadConfidence`]
    /// unless `0 < confidence < 1`.
    pub fn new(variants: usize, confidence: f64) -> Result<Self, ExperimentError> {
        if variants < 2 {
            return Err(ExperimentError::TooFewVariants { got: variants });
        }
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(ExperimentError::BadConfidence { confidence });
        }
        Ok(Self {
            arms: vec![ArmStats::default(); variants],
            delta: 1.0 - confidence,
            total: 0,
        })
    }

    /// Records one observation of `variant` with `reward` in `[0, 1]`.
    ///
    /// # Errors
    /// [`ExperimentError::UnknownVariant`], [`ExperimentError::BadReward`]; nothing is recorded.
    pub fn record(&mut self, variant: usize, reward: f64) -> Result<(), ExperimentError> {
        let variants = self.arms.len();
        let arm = self
            .arms
            .get_mut(variant)
            .ok_or(ExperimentError::UnknownVariant { variant, variants })?;
        if !(0.0..=1.0).contains(&reward) {
            return Err(ExperimentError::BadReward { variant, reward });
        }
        arm.n += 1;
        arm.sum += reward;
        self.total += 1;
        Ok(())
    }

    /// Per-variant observations, in variant order.
    pub fn arms(&self) -> &[ArmStats] {
        &self.arms
    }

    /// Total observations.
    pub fn observations(&self) -> u64 {
        self.total
    }

    /// The threshold `β(t, δ)` the statistic must exceed now.
    pub fn threshold(&self) -> f64 {
        let k = self.arms.len() as f64;
        (2.0 * self.total as f64 * (k - 1.0) / self.delta).ln()
    }

    /// The smallest `Z(a, b)` over the other variants `b`, with `a` the leader (`None` before
    /// every variant has an observation).
    pub fn statistic(&self) -> Option<(usize, f64)> {
        if self.arms.iter().any(|a| a.n == 0) {
            return None;
        }
        let leader = (0..self.arms.len()).max_by(|&i, &j| {
            self.arms[i]
                .mean()
                .total_cmp(&self.arms[j].mean())
                .then(j.cmp(&i))
        })?;
        let a = self.arms[leader];
        let z = self
            .arms
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != leader)
            .map(|(_, b)| glr(a, *b))
            .fold(f64::INFINITY, f64::min);
        Some((leader, z))
    }

    /// Whether a variant has won; see the [module docs](self).
    pub fn conclusion(&self) -> Conclusion {
        match self.statistic() {
            Some((variant, z)) if z > self.threshold() => Conclusion::Winner {
                variant,
                observations: self.total,
            },
            _ => Conclusion::Undecided,
        }
    }
}

/// `Z(a, b)` for a leader `a` (`μ_a ≥ μ_b`).
fn glr(a: ArmStats, b: ArmStats) -> f64 {
    let (na, nb) = (a.n as f64, b.n as f64);
    let pooled = (a.sum + b.sum) / (na + nb);
    na * kl(a.mean(), pooled) + nb * kl(b.mean(), pooled)
}

/// Bernoulli relative entropy `kl(p, q)`, with `0 ln 0 = 0`.
fn kl(p: f64, q: f64) -> f64 {
    let q = q.clamp(1e-15, 1.0 - 1e-15);
    let term = |x: f64, y: f64| if x <= 0.0 { 0.0 } else { x * (x / y).ln() };
    term(p, q) + term(1.0 - p, 1.0 - q)
}
