//! The result of routing: a [`Decision`] holds the primary, the fallbacks in order, and for
//! every candidate its estimates and its score or the reason it was rejected.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::candidate::{Candidate, Verdict};
use crate::estimate::Estimate;
use crate::model::ModelId;
use crate::rejection::Rejection;
use crate::task::TaskKind;

/// A routing decision: data that can be logged, serialized and replayed.
///
/// ```
/// use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};
/// let router = Router::builder()
///     .model(ModelSpec::new("small", "p", Prices::new(0.1, 0.4), 128_000).with_default_quality(0.7))
///     .model(ModelSpec::new("large", "p", Prices::new(2.0, 8.0), 128_000).with_default_quality(0.9))
///     .policy(CostFirst::new(0.6)?)
///     .build()?;
/// let decision = router.route(&TaskSpec::new(TaskKind::Chat, 500))?;
/// assert_eq!(decision.primary().unwrap().model.as_str(), "small");
/// assert_eq!(decision.fallbacks().next().unwrap().model.as_str(), "large");
/// println!("{}", decision.explain());
/// # Ok::<(), taskroute::Error>(())
/// ```
///
/// Reading one back checks it: a ranking that names a candidate the decision does not hold,
/// names one twice, or disagrees with the candidates' `rank` is a [`DecisionError`] (through
/// the deserializer's error), so [`primary`](Decision::primary) and
/// [`explain`](Decision::explain) never index out of bounds.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "DecisionData")]
#[non_exhaustive]
pub struct Decision {
    /// The task's kind.
    pub task_kind: Option<TaskKind>,
    /// The policy's name.
    pub policy: Cow<'static, str>,
    /// Every model considered, in catalog order ([`candidates`](Decision::candidates)).
    pub(crate) candidates: Vec<Candidate>,
    /// Indices into `candidates` of the ranked ones, best first: the best
    /// [ranking depth](crate::RouterBuilder::ranking_depth) of the scored candidates (all of
    /// them after [`rank_all`](Decision::rank_all)).
    pub ranking: Vec<u32>,
    /// The estimators' answers and the costs when the router has more than 1,024 models
    /// (fewer use the stack).
    #[serde(skip)]
    pub(crate) scratch_estimates: (Vec<Option<f64>>, Vec<f64>, Vec<f64>),
    /// The output estimator's answers when the router has more than 64 models (fewer use the
    /// stack).
    #[serde(skip)]
    pub(crate) scratch_outputs: Vec<Option<u32>>,
    /// The rank stage's keys when the ranking is deeper than 16.
    #[serde(skip)]
    pub(crate) scratch_rank: crate::rank::RankScratch,
    /// The models of the router that last filled `candidates`, when they still name its models
    /// in order (each entry's id the same `Arc` as the router's): a router that finds its own
    /// table here neither reads nor writes the ids. Anything that could change an entry
    /// ([`candidates_mut`](Decision::candidates_mut), a custom policy's
    /// [`rank`](crate::Policy::rank)) clears it. Holding the table keeps its address from
    /// being reused by another router's.
    #[serde(skip)]
    pub(crate) filled_by: Option<std::sync::Arc<crate::table::ModelTable>>,
    /// Whether an entry may hold a [`Verdict::Rejected`] (the only verdict that owns memory to
    /// drop): the last pass rejected a candidate, a policy's or the rank stage's rejections
    /// followed it, or the entries were changed or read from outside. The router's pass writes
    /// each verdict without reading the one it replaces, after setting any rejection pending
    /// when this is set.
    #[serde(skip)]
    pub(crate) may_hold_rejections: bool,
}

/// A [`Decision`] as read, before it is checked.
#[derive(Deserialize)]
struct DecisionData {
    task_kind: Option<TaskKind>,
    policy: Cow<'static, str>,
    candidates: Vec<Candidate>,
    ranking: Vec<u32>,
}

/// Why a deserialized [`Decision`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The ranking names a candidate the decision does not hold.
    #[error("ranking[{position}] is candidate {index}, but the decision has {candidates} candidates")]
    RankingOutOfRange {
        /// Position in the ranking.
        position: usize,
        /// The index found there.
        index: u32,
        /// How many candidates the decision holds.
        candidates: usize,
    },
    /// The ranking names a candidate twice.
    #[error("ranking[{position}] names candidate {index} a second time")]
    RankedTwice {
        /// Position in the ranking of the second mention.
        position: usize,
        /// The candidate's index.
        index: u32,
    },
    /// A candidate's `rank` is not its position in the ranking.
    #[error("candidate {index} has rank {rank:?}, but its position in the ranking is {position:?}")]
    RankMismatch {
        /// The candidate's index.
        index: usize,
        /// Its `rank` field.
        rank: Option<u32>,
        /// Its position in the ranking, if it is ranked.
        position: Option<usize>,
    },
}

impl TryFrom<DecisionData> for Decision {
    type Error = DecisionError;

    fn try_from(d: DecisionData) -> Result<Self, DecisionError> {
        let n = d.candidates.len();
        let mut position = vec![None; n];
        for (p, &index) in d.ranking.iter().enumerate() {
            match position.get_mut(index as usize) {
                None => {
                    return Err(DecisionError::RankingOutOfRange {
                        position: p,
                        index,
                        candidates: n,
                    });
                }
                Some(Some(_)) => return Err(DecisionError::RankedTwice { position: p, index }),
                Some(slot) => *slot = Some(p),
            }
        }
        for (index, (c, position)) in d.candidates.iter().zip(position).enumerate() {
            if c.rank.map(|r| r as usize) != position {
                return Err(DecisionError::RankMismatch {
                    index,
                    rank: c.rank,
                    position,
                });
            }
        }
        Ok(Decision {
            task_kind: d.task_kind,
            policy: d.policy,
            candidates: d.candidates,
            ranking: d.ranking,
            may_hold_rejections: true,
            ..Decision::default()
        })
    }
}

/// Two decisions are equal when their data is: the router's reusable scratch space is not
/// part of it (and is neither serialized nor shown by `Debug`).
impl PartialEq for Decision {
    fn eq(&self, other: &Self) -> bool {
        self.task_kind == other.task_kind
            && self.policy == other.policy
            && self.candidates == other.candidates
            && self.ranking == other.ranking
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("task_kind", &self.task_kind)
            .field("policy", &self.policy)
            .field("candidates", &self.candidates)
            .field("ranking", &self.ranking)
            .finish()
    }
}

impl Decision {
    /// An empty decision, to pass to [`Router::route_into`](crate::Router::route_into) and reuse.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every model considered, in catalog order, with its estimates and its score or
    /// rejection.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The candidates, to change in place. A router that routes into this decision afterwards
    /// checks every entry's model again (once).
    pub fn candidates_mut(&mut self) -> &mut [Candidate] {
        self.filled_by = None;
        self.may_hold_rejections = true;
        &mut self.candidates
    }

    /// The candidates, taken out of the decision.
    pub fn into_candidates(self) -> Vec<Candidate> {
        self.candidates
    }

    /// The chosen model's candidate entry, if any model was eligible.
    pub fn primary(&self) -> Option<&Candidate> {
        self.ranked().next()
    }

    /// The chosen model's id.
    pub fn primary_model(&self) -> Option<&ModelId> {
        self.primary().map(|c| &c.model)
    }

    /// The fallbacks, in the order to try them.
    pub fn fallbacks(&self) -> impl Iterator<Item = &Candidate> {
        self.ranked().skip(1)
    }

    /// Every ranked candidate, primary first.
    pub fn ranked(&self) -> impl Iterator<Item = &Candidate> {
        self.ranking.iter().map(|&i| &self.candidates[i as usize])
    }

    /// The scored candidates beyond the [ranking depth](crate::RouterBuilder::ranking_depth),
    /// in catalog order: each keeps its estimate and score, without a rank. Every one of them
    /// ranks below every ranked candidate.
    pub fn unranked(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.rank.is_none() && c.score().is_some())
    }

    /// Ranks the [unranked](Self::unranked) candidates too, after the ranked ones, in the
    /// same order: the ranking then holds every scored candidate, as a router with an
    /// unlimited depth gives. Allocates room for the unranked candidates' keys.
    pub fn rank_all(&mut self) {
        crate::rank::rank_rest(&mut self.candidates, &mut self.ranking);
    }

    /// The rejected candidates with their reasons, in catalog order.
    pub fn rejected(&self) -> impl Iterator<Item = (&ModelId, &Rejection)> {
        self.candidates
            .iter()
            .filter_map(|c| c.rejection().map(|r| (&c.model, r)))
    }

    /// The candidate entry of `model`.
    pub fn candidate(&self, model: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.model.as_str() == model)
    }

    /// A human-readable explanation: the ranking with estimates and scores, then every
    /// rejection with its reason.
    pub fn explain(&self) -> Explain<'_> {
        Explain {
            decision: self,
            max_ranked: usize::MAX,
            max_rejected: usize::MAX,
        }
    }
}

/// Displays a [`Decision`] for people; see [`Decision::explain`].
///
/// Every candidate is listed by default; [`max_ranked`](Explain::max_ranked) and
/// [`max_rejected`](Explain::max_rejected) shorten long lists to a count of the rest.
#[derive(Debug, Clone, Copy)]
pub struct Explain<'a> {
    decision: &'a Decision,
    max_ranked: usize,
    max_rejected: usize,
}

impl Explain<'_> {
    /// Lists at most `n` ranked candidates (the primary and the first fallbacks).
    pub fn max_ranked(mut self, n: usize) -> Self {
        self.max_ranked = n;
        self
    }

    /// Lists at most `n` rejected candidates.
    pub fn max_rejected(mut self, n: usize) -> Self {
        self.max_rejected = n;
        self
    }
}

impl fmt::Display for Explain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.decision;
        let kind = d.task_kind.as_ref().map_or("?", |k| k.name());
        match d.primary() {
            Some(p) => writeln!(f, "{kind} task -> {} (policy {})", p.model, d.policy)?,
            None => writeln!(f, "{kind} task -> no eligible model (policy {})", d.policy)?,
        }
        for (r, c) in d.ranked().enumerate().take(self.max_ranked) {
            let label = if r == 0 { "primary " } else { "fallback" };
            write_candidate(f, &format!("{label} #{r:<2}"), c)?;
        }
        let more_ranked = d.ranking.len().saturating_sub(self.max_ranked);
        if more_ranked > 0 {
            writeln!(f, "  ... and {more_ranked} more fallbacks")?;
        }
        for c in d.unranked().take(self.max_ranked) {
            write_candidate(f, "unranked   ", c)?;
        }
        let more_unranked = d.unranked().count().saturating_sub(self.max_ranked);
        if more_unranked > 0 {
            writeln!(f, "  ... and {more_unranked} more unranked")?;
        }
        for (m, why) in d.rejected().take(self.max_rejected) {
            writeln!(f, "  rejected    {:<34} {why}", m.as_str())?;
        }
        let more_rejected = d.rejected().count().saturating_sub(self.max_rejected);
        if more_rejected > 0 {
            writeln!(f, "  ... and {more_rejected} more rejected")?;
        }
        Ok(())
    }
}

/// One scored candidate's line of an explanation: `label`, the model, its estimates and score.
fn write_candidate(f: &mut fmt::Formatter<'_>, label: &str, c: &Candidate) -> fmt::Result {
    let e = c.estimate.unwrap_or(Estimate::new(f64::NAN, f64::NAN, f64::NAN));
    let score = c.score().map_or_else(String::new, |s| s.to_string());
    writeln!(
        f,
        "  {label} {:<34} quality {:.3}  cost ${:.6}  latency {:>6.0} ms  score {score}",
        c.model.as_str(),
        e.quality,
        e.cost_usd,
        e.latency_ms,
    )
}

#[cfg(test)]
mod tests {
    use crate::{CostFirst, Limits, ModelSpec, Prices, Router, TaskKind, TaskSpec};

    /// Six models at $1–6 per Mtok, and a chat task whose cost limit rules out the three
    /// dearest: three ranked, three rejected.
    fn three_ranked_three_rejected() -> crate::Decision {
        let mut b = Router::builder().policy(CostFirst::new(0.5).unwrap());
        for i in 0..6 {
            let price = 1.0 + f64::from(i);
            b = b.model(
                ModelSpec::new(format!("m{i}"), "p", Prices::new(price, price), 10_000)
                    .with_default_quality(0.9),
            );
        }
        let router = b.build().unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 1_000)
            .with_output_tokens(0)
            .with_limits(Limits::NONE.with_max_cost_usd(0.0035));
        router.route(&task).unwrap()
    }

    #[test]
    fn into_candidates_gives_every_entry_with_its_verdict() {
        let d = three_ranked_three_rejected();
        let seen = d.candidates().to_vec();
        let taken = d.into_candidates();
        assert_eq!(taken, seen);
        assert_eq!(taken.len(), 6);
        assert_eq!(taken.iter().filter(|c| c.rejection().is_some()).count(), 3);
        assert_eq!(taken.iter().filter(|c| c.rank.is_some()).count(), 3);
    }

    #[test]
    fn explain_can_shorten_long_lists_and_counts_the_rest() {
        let d = three_ranked_three_rejected();
        let full = d.explain().to_string();
        assert_eq!(full.matches("fallback").count(), 2, "{full}");
        assert_eq!(full.matches("rejected ").count(), 3, "{full}");
        let short = d.explain().max_ranked(1).max_rejected(1).to_string();
        assert!(short.contains("primary  #0  m0"), "{short}");
        assert!(!short.contains("fallback #1"), "{short}");
        assert!(short.contains("... and 2 more fallbacks"), "{short}");
        assert!(short.contains("... and 2 more rejected"), "{short}");
    }
}
