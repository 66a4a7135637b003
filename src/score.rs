//! Stage 3, **score**: a [`Scorer`] turns a candidate's [`Estimate`] into one number.
//!
//! Built in: [`CostFirst`] (cheapest that clears a quality floor), [`QualityFirst`] (best that
//! fits a cost ceiling) and [`Weighted`] (quality minus weighted cost and latency). Each is also
//! a [`Policy`](crate::Policy). Write your own by implementing [`Scorer`] or with [`scorer_fn`],
//! and turn it into a policy with [`ScorerPolicy`](crate::ScorerPolicy).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::closure::closure_adapter;
use crate::estimate::Estimate;
use crate::rejection::Rejection;
use crate::task::Task;

/// A candidate's score: higher is better.
///
/// A *reserve* score ranks below every non-reserve one whatever its value: [`CostFirst`] uses it
/// for candidates below the quality floor, so they are tried only after every candidate that
/// clears it, best quality first.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Score {
    /// The score; higher is better.
    #[serde(with = "crate::non_finite")]
    pub value: f64,
    /// Whether the score is in the reserve tier.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reserve: bool,
}

impl Score {
    /// A normal score.
    pub const fn new(value: f64) -> Self {
        Self {
            value,
            reserve: false,
        }
    }

    /// A reserve score: ranked after every normal score.
    pub const fn reserve(value: f64) -> Self {
        Self { value, reserve: true }
    }

    /// Orders best first: normal before reserve, then higher value first. NaN values rank last.
    pub fn better_first(&self, other: &Score) -> Ordering {
        self.reserve
            .cmp(&other.reserve)
            .then_with(|| match (self.value.is_nan(), other.value.is_nan()) {
                (false, false) => other.value.total_cmp(&self.value),
                (a, b) => a.cmp(&b),
            })
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reserve {
            write!(f, "reserve {:.6}", self.value)
        } else {
            write!(f, "{:.6}", self.value)
        }
    }
}

/// Turns an estimate into a score, or rejects the candidate.
pub trait Scorer: Send + Sync {
    /// Scores one candidate.
    ///
    /// # Errors
    /// The [`Rejection`] recorded when the scorer rules the candidate out (a cost ceiling).
    fn score(&self, task: &dyn Task, estimate: &Estimate) -> Result<Score, Rejection>;

    /// A short name for explanations.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("custom")
    }
}

fn finite_in(field: &'static str, v: f64, lo: f64, hi: f64) -> Result<f64, Error> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(Error::InvalidValue {
            field: field.to_owned(),
            value: v.to_string(),
            expected: if hi.is_infinite() {
                "a finite number >= 0"
            } else {
                "a number in [0, 1]"
            },
        })
    }
}

/// Cheapest candidate whose expected quality clears a floor.
///
/// Candidates below the floor are kept as [reserve](Score::reserve) fallbacks, best quality
/// first, so a task is still served when no model is expected to clear the floor.
///
/// ```
/// use taskroute::CostFirst;
/// let policy = CostFirst::new(0.8)?;
/// assert_eq!(policy.floor(), 0.8);
/// # Ok::<(), taskroute::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostFirst {
    floor: f64,
}

impl CostFirst {
    /// A cost-first scorer with quality floor `floor` in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a floor that is NaN or outside `[0, 1]`.
    pub fn new(floor: f64) -> Result<Self, Error> {
        Ok(Self {
            floor: finite_in("cost_first.floor", floor, 0.0, 1.0)?,
        })
    }

    /// The quality floor.
    pub fn floor(&self) -> f64 {
        self.floor
    }
}

impl Scorer for CostFirst {
    fn score(&self, _task: &dyn Task, e: &Estimate) -> Result<Score, Rejection> {
        if e.quality >= self.floor {
            Ok(Score::new(-e.cost_usd))
        } else {
            Ok(Score::reserve(e.quality))
        }
    }
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("cost-first")
    }
}

/// Best expected quality among candidates whose expected cost fits a ceiling; ties go to the
/// cheaper. Candidates above the ceiling are rejected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualityFirst {
    ceiling_usd: Option<f64>,
}

impl QualityFirst {
    /// A quality-first scorer with a cost ceiling per call in USD.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a ceiling that is NaN, infinite or negative.
    pub fn new(ceiling_usd: f64) -> Result<Self, Error> {
        Ok(Self {
            ceiling_usd: Some(finite_in(
                "quality_first.ceiling_usd",
                ceiling_usd,
                0.0,
                f64::INFINITY,
            )?),
        })
    }

    /// A quality-first scorer without a ceiling: the best model, whatever it costs.
    pub const fn unbounded() -> Self {
        Self { ceiling_usd: None }
    }

    /// The ceiling, if any.
    pub fn ceiling_usd(&self) -> Option<f64> {
        self.ceiling_usd
    }
}

impl Scorer for QualityFirst {
    fn score(&self, _task: &dyn Task, e: &Estimate) -> Result<Score, Rejection> {
        match self.ceiling_usd {
            Some(c) if e.cost_usd > c => Err(Rejection::AboveCostCeiling {
                estimated_usd: e.cost_usd,
                ceiling_usd: c,
            }),
            // Quality first; the cost term is scaled so small it only breaks ties.
            _ => Ok(Score::new(e.quality - e.cost_usd * 1e-9)),
        }
    }
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("quality-first")
    }
}

/// `quality_weight * quality - cost_weight * cost_usd - latency_weight * latency_seconds`.
///
/// `cost_weight` is in quality points per USD: with `cost_weight = 100`, paying one cent more
/// must buy one more point of expected quality.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weighted {
    quality_weight: f64,
    cost_weight: f64,
    latency_weight: f64,
}

impl Weighted {
    /// Quality weight 1, the given cost weight (per USD), no latency term.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a weight that is NaN, infinite or negative.
    pub fn new(cost_weight: f64) -> Result<Self, Error> {
        Self::with_weights(1.0, cost_weight, 0.0)
    }

    /// All three weights: quality (per point), cost (per USD), latency (per second).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the weight that is NaN, infinite or negative.
    pub fn with_weights(quality_weight: f64, cost_weight: f64, latency_weight: f64) -> Result<Self, Error> {
        Ok(Self {
            quality_weight: finite_in("weighted.quality_weight", quality_weight, 0.0, f64::INFINITY)?,
            cost_weight: finite_in("weighted.cost_weight", cost_weight, 0.0, f64::INFINITY)?,
            latency_weight: finite_in("weighted.latency_weight", latency_weight, 0.0, f64::INFINITY)?,
        })
    }

    /// The cost weight (quality points per USD).
    pub fn cost_weight(&self) -> f64 {
        self.cost_weight
    }
}

impl Scorer for Weighted {
    fn score(&self, _task: &dyn Task, e: &Estimate) -> Result<Score, Rejection> {
        Ok(Score::new(
            self.quality_weight * e.quality
                - self.cost_weight * e.cost_usd
                - self.latency_weight * e.latency_ms / 1000.0,
        ))
    }
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("weighted")
    }
}

closure_adapter! {
    /// A [`Scorer`] made from a closure; see [`scorer_fn`].
    pub struct ScorerFn named;
    /// Makes a named [`Scorer`] from a closure.
    ///
    /// ```
    /// use taskroute::{scorer_fn, Score};
    /// // Quality per dollar.
    /// let value = scorer_fn("value", |_task, e| Ok(Score::new(e.quality / (e.cost_usd + 1e-6))));
    /// # let _ = value;
    /// ```
    pub fn scorer_fn;
    impl Scorer { fn score(&self, task: &dyn Task, e: &Estimate) -> Result<Score, Rejection>; }
}

macro_rules! forward_scorer {
    ($($ptr:ty),*) => {$(
        impl<T: Scorer + ?Sized> Scorer for $ptr {
            fn score(&self, task: &dyn Task, e: &Estimate) -> Result<Score, Rejection> {
                (**self).score(task, e)
            }
            fn name(&self) -> Cow<'static, str> {
                (**self).name()
            }
        }
    )*};
}
forward_scorer!(&T, Box<T>, Arc<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskKind, TaskSpec};

    fn t() -> TaskSpec {
        TaskSpec::new(TaskKind::Chat, 10)
    }

    #[test]
    fn score_order_puts_reserve_last_and_nan_after_numbers() {
        let mut v = [
            Score::reserve(0.9),
            Score::new(-0.5),
            Score::new(f64::NAN),
            Score::new(-0.1),
        ];
        v.sort_by(Score::better_first);
        assert_eq!(v[0], Score::new(-0.1));
        assert_eq!(v[1], Score::new(-0.5));
        assert!(v[2].value.is_nan());
        assert_eq!(v[3], Score::reserve(0.9));
    }

    #[test]
    fn constructors_refuse_bad_knobs_naming_the_field() {
        assert!(
            CostFirst::new(f64::NAN)
                .unwrap_err()
                .to_string()
                .contains("cost_first.floor")
        );
        assert!(CostFirst::new(1.5).is_err());
        assert!(
            QualityFirst::new(-1.0)
                .unwrap_err()
                .to_string()
                .contains("ceiling_usd")
        );
        let e = Weighted::with_weights(1.0, f64::INFINITY, 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("weighted.cost_weight"), "{e}");
        assert!(Weighted::with_weights(1.0, 1.0, -0.1).is_err());
    }

    #[test]
    fn weighted_combines_terms() {
        let w = Weighted::with_weights(1.0, 100.0, 0.1).unwrap();
        let s = w.score(&t(), &Estimate::new(0.8, 0.002, 2000.0)).unwrap();
        assert!((s.value - (0.8 - 0.2 - 0.2)).abs() < 1e-12);
    }

    #[test]
    fn quality_first_rejects_above_ceiling() {
        let q = QualityFirst::new(0.01).unwrap();
        assert!(q.score(&t(), &Estimate::new(0.9, 0.02, 1.0)).is_err());
        assert!(q.score(&t(), &Estimate::new(0.9, 0.01, 1.0)).is_ok());
    }
}
