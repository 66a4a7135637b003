//! [`Candidate`] and [`Verdict`]: one model considered for a task, and where it stands. The
//! policy scores candidates, the rank stage orders them, the [`Decision`](crate::Decision)
//! holds them.

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::model::ModelId;
use crate::rejection::Rejection;
use crate::score::Score;

/// Where a candidate stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Passed the filters and awaits the policy's score.
    Pending,
    /// Scored by the policy.
    Scored(Score),
    /// Ruled out, with the reason.
    Rejected(Rejection),
}

/// One model considered for a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Candidate {
    /// The model.
    pub model: ModelId,
    /// Its estimates; `None` when a filter rejected it before estimation.
    pub estimate: Option<Estimate>,
    /// Its score or rejection.
    pub verdict: Verdict,
    /// Its place in the ranking (0 is the primary), when ranked.
    pub rank: Option<u32>,
}

impl Verdict {
    /// Overwrites `self`, known not to be [`Verdict::Rejected`], with `v`, without reading it:
    /// `Pending` and `Scored` own no heap memory, so forgetting one frees nothing. (Called on a
    /// rejection, it would leak what the rejection owns; it is never unsound.)
    #[inline(always)]
    pub(crate) fn set_unrejected(&mut self, v: Verdict) {
        std::mem::forget(std::mem::replace(self, v));
    }
}

impl Candidate {
    /// A pending candidate with estimates (for tests of custom policies).
    pub fn pending(model: ModelId, estimate: Estimate) -> Self {
        Self {
            model,
            estimate: Some(estimate),
            verdict: Verdict::Pending,
            rank: None,
        }
    }

    /// The score, when scored.
    pub fn score(&self) -> Option<Score> {
        match self.verdict {
            Verdict::Scored(s) => Some(s),
            _ => None,
        }
    }

    /// The rejection, when rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.verdict {
            Verdict::Rejected(r) => Some(r),
            _ => None,
        }
    }
}
