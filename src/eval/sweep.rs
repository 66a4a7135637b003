//! Sweeps and calibration: a policy's knob over a grid gives a [`Curve`]; [`Replay::calibrate`]
//! finds the knob value that hits a [`Target`]. [`Builtin`] names the built-in policies and
//! their default grids.

use std::sync::Arc;

use serde::Serialize;

use super::EvalError;
use super::metrics::Point;
use super::replay::{Replay, Summary};
use crate::model::ModelId;
use crate::policy::Policy;
use crate::{CostFirst, QualityFirst, Weighted};

/// A policy's cost-quality curve: one [`Summary`] per knob value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Curve {
    /// The policy's name.
    pub policy: String,
    /// The knob's name (`"floor"`, `"ceiling_usd"`, `"cost_weight"`).
    pub knob: String,
    /// One point per knob value, in grid order.
    pub points: Vec<Summary>,
}

impl Curve {
    /// The operating points.
    pub fn points(&self) -> Vec<Point> {
        self.points.iter().map(Summary::point).collect()
    }
}

/// What a calibration aims at.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Target {
    /// A mean cost per prompt (USD).
    MeanCost(f64),
    /// A mean quality.
    MeanQuality(f64),
    /// A share of calls to one model (RouteLLM's "% calls to the strong model").
    Share {
        /// The model.
        model: ModelId,
        /// The share in `[0, 1]`.
        share: f64,
    },
}

/// The knob a calibration found and what it gives.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Calibration {
    /// The knob value.
    pub knob: f64,
    /// The run at that value.
    pub summary: Summary,
    /// The calibrated metric at that value.
    pub achieved: f64,
    /// The target value.
    pub target: f64,
}

/// The built-in policies, for ready-made sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Builtin {
    /// [`CostFirst`], sweeping the quality floor over `[0, 1]`.
    CostFirst,
    /// [`QualityFirst`], sweeping the cost ceiling over the quantiles of the estimated costs.
    QualityFirst,
    /// [`Weighted`], sweeping the cost weight over 0 and a log grid (see [`Replay::weighted_grid`]).
    Weighted,
}

impl Builtin {
    /// All three.
    pub const ALL: [Builtin; 3] = [Builtin::CostFirst, Builtin::QualityFirst, Builtin::Weighted];

    /// The policy's name (`"cost-first"`).
    pub fn name(self) -> &'static str {
        match self {
            Builtin::CostFirst => "cost-first",
            Builtin::QualityFirst => "quality-first",
            Builtin::Weighted => "weighted",
        }
    }

    /// The knob's name.
    pub fn knob(self) -> &'static str {
        match self {
            Builtin::CostFirst => "floor",
            Builtin::QualityFirst => "ceiling_usd",
            Builtin::Weighted => "cost_weight",
        }
    }

    /// The policy at knob value `k`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a knob the policy refuses.
    pub fn policy(self, k: f64) -> Result<Arc<dyn Policy>, crate::Error> {
        Ok(match self {
            Builtin::CostFirst => Arc::new(CostFirst::new(k)?),
            Builtin::QualityFirst => Arc::new(QualityFirst::new(k)?),
            Builtin::Weighted => Arc::new(Weighted::new(k)?),
        })
    }
}

impl Replay {
    /// Sweeps a knob: one run of `make(k)` per `k` in `grid`.
    ///
    /// # Errors
    /// [`EvalError::InvalidArgument`] for an empty grid; [`EvalError::Router`] when `make`
    /// refuses a knob value.
    pub fn sweep<P, F>(&self, knob: &str, grid: &[f64], make: F) -> Result<Curve, EvalError>
    where
        P: Policy,
        F: Fn(f64) -> Result<P, crate::Error>,
    {
        self.sweep_with_progress(knob, grid, make, &mut |_| {})
    }

    /// [`sweep`](Self::sweep), calling `progress` after each grid point.
    ///
    /// # Errors
    /// As [`sweep`](Self::sweep).
    pub fn sweep_with_progress<P, F>(
        &self,
        knob: &str,
        grid: &[f64],
        make: F,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Curve, EvalError>
    where
        P: Policy,
        F: Fn(f64) -> Result<P, crate::Error>,
    {
        if grid.is_empty() {
            return Err(EvalError::invalid("grid", "[]", "at least one knob value"));
        }
        let mut name = None;
        let mut points = Vec::with_capacity(grid.len());
        let mut scratch = self.scratch();
        for (i, &k) in grid.iter().enumerate() {
            let policy = make(k)?;
            let mut s = self.run_with(&policy, &mut scratch);
            s.knob = Some(k);
            name.get_or_insert_with(|| s.policy.clone());
            points.push(s);
            progress(i + 1);
        }
        Ok(Curve {
            policy: name.unwrap_or_default(),
            knob: knob.to_owned(),
            points,
        })
    }

    /// A ready-made sweep of a built-in policy over its default grid of `n` points.
    ///
    /// # Errors
    /// As [`sweep`](Self::sweep); `n == 0` is an empty grid.
    pub fn sweep_builtin(&self, which: Builtin, n: usize) -> Result<Curve, EvalError> {
        self.sweep_builtin_with_progress(which, n, &mut |_| {})
    }

    /// [`sweep_builtin`](Self::sweep_builtin) with a progress callback.
    ///
    /// # Errors
    /// As [`sweep`](Self::sweep).
    pub fn sweep_builtin_with_progress(
        &self,
        which: Builtin,
        n: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Curve, EvalError> {
        let grid = self.grid(which, n);
        self.sweep_with_progress(which.knob(), &grid, |k| which.policy(k), progress)
    }

    /// The default grid of `n` knob values for a built-in policy: [`CostFirst`] floors evenly
    /// over `[0, 1]`; [`QualityFirst`] ceilings at `n` evenly spaced quantiles (0 to 1) of every
    /// candidate's estimated cost; [`Weighted`] cost weights per [`weighted_grid`](Self::weighted_grid).
    pub fn grid(&self, which: Builtin, n: usize) -> Vec<f64> {
        match which {
            Builtin::CostFirst => linspace(0.0, 1.0, n),
            Builtin::QualityFirst => {
                let mut costs = self.estimated_costs();
                costs.sort_by(f64::total_cmp);
                if costs.is_empty() {
                    return Vec::new();
                }
                linspace(0.0, 1.0, n)
                    .into_iter()
                    .map(|q| costs[((costs.len() - 1) as f64 * q).round() as usize])
                    .collect()
            }
            Builtin::Weighted => self.weighted_grid(n),
        }
    }

    /// Cost weights for [`Weighted`]: 0, then `n - 1` values evenly spaced in log scale from
    /// `0.01 / max` to `100 / min` quality points per USD, with `min` and `max` the smallest
    /// positive and the largest estimated cost of any candidate (a weight below the first values
    /// picks by quality alone; above the last, by cost alone).
    pub fn weighted_grid(&self, n: usize) -> Vec<f64> {
        let costs = self.estimated_costs();
        let max = costs.iter().copied().fold(0.0, f64::max);
        let min = costs
            .iter()
            .copied()
            .filter(|&c| c > 0.0)
            .fold(f64::INFINITY, f64::min);
        if n == 0 {
            return Vec::new();
        }
        let mut g = vec![0.0];
        if max > 0.0 && min.is_finite() {
            let (lo, hi) = ((0.01 / max).ln(), (100.0 / min).ln());
            g.extend(linspace(lo, hi, n - 1).into_iter().map(f64::exp));
        } else {
            g.extend(linspace(1.0, n as f64, n - 1));
        }
        g
    }

    pub(super) fn estimated_costs(&self) -> Vec<f64> {
        self.prepared
            .iter()
            .flatten()
            .filter_map(|c| c.estimate.map(|e| e.cost_usd))
            .filter(|c| c.is_finite())
            .collect()
    }

    /// Finds the knob in `[lo, hi]` whose run comes closest to `target`, by bisection (the metric
    /// is assumed monotone in the knob, as it is for the built-in policies; 40 steps) and keeps
    /// the closest value seen. RouteLLM calibrates its threshold to a share of calls to the strong
    /// model; here any policy, any knob and N models.
    ///
    /// # Errors
    /// [`EvalError::UnknownModel`] for a share target naming a model the table lacks;
    /// [`EvalError::InvalidArgument`] for `lo > hi` or non-finite bounds; [`EvalError::Router`]
    /// when `make` refuses a knob value.
    pub fn calibrate<P, F>(
        &self,
        lo: f64,
        hi: f64,
        target: &Target,
        make: F,
    ) -> Result<Calibration, EvalError>
    where
        P: Policy,
        F: Fn(f64) -> Result<P, crate::Error>,
    {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(EvalError::invalid(
                "calibration range",
                format!("[{lo}, {hi}]"),
                "finite bounds with lo <= hi",
            ));
        }
        type Metric = Box<dyn Fn(&Summary) -> f64>;
        let (goal, metric): (f64, Metric) = match target {
            Target::MeanCost(c) => (*c, Box::new(|s: &Summary| s.cost)),
            Target::MeanQuality(q) => (*q, Box::new(|s: &Summary| s.quality)),
            Target::Share { model, share } => {
                let j = self
                    .data
                    .model_index(model.as_str())
                    .ok_or_else(|| EvalError::UnknownModel {
                        model: model.to_string(),
                    })?;
                (*share, Box::new(move |s: &Summary| s.share[j]))
            }
        };
        let mut scratch = self.scratch();
        let mut eval = |k: f64| -> Result<(f64, Summary), EvalError> {
            let mut s = self.run_with(&make(k)?, &mut scratch);
            s.knob = Some(k);
            Ok((metric(&s), s))
        };
        let (vlo, slo) = eval(lo)?;
        let (vhi, shi) = eval(hi)?;
        let rising = vhi >= vlo;
        let mut best = (lo, vlo, slo);
        let mut keep = |k: f64, v: f64, s: Summary| {
            if (v - goal).abs() < (best.1 - goal).abs() {
                best = (k, v, s);
            }
        };
        keep(hi, vhi, shi);
        let (mut a, mut b) = (lo, hi);
        for _ in 0..40 {
            let mid = 0.5 * (a + b);
            let (v, s) = eval(mid)?;
            keep(mid, v, s);
            if (v < goal) == rising {
                a = mid;
            } else {
                b = mid;
            }
        }
        let (knob, achieved, summary) = best;
        Ok(Calibration {
            knob,
            summary,
            achieved,
            target: goal,
        })
    }
}

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}
