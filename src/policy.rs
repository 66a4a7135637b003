//! The [`Policy`] trait: gives every estimated candidate a score or a rejection.
//!
//! Every [`Scorer`] becomes a policy through [`ScorerPolicy`]; the built-in scorers are policies
//! already. Write a policy from scratch when a choice needs the whole candidate set at once
//! (a threshold between a weak and a strong model, a seeded random split), or use [`policy_fn`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::candidate::{Candidate, Verdict};
use crate::closure::closure_adapter;
pub use crate::pass::{ScoreEach, Scored};
use crate::score::{CostFirst, QualityFirst, Scorer, Weighted};
use crate::task::Task;

/// Scores the candidates of one task.
///
/// The router calls [`rank`](Policy::rank) with every candidate; those that passed the filters
/// have an [`Estimate`](crate::Estimate) and the verdict [`Verdict::Pending`]. The policy sets
/// each pending verdict to [`Verdict::Scored`] or [`Verdict::Rejected`] (a pending verdict left
/// as it is counts as a rejection). The rank stage then orders the scored ones, best first.
pub trait Policy: Send + Sync {
    /// Scores (or rejects) every pending candidate.
    fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]);

    /// A short name for explanations.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("custom")
    }

    /// For a policy that scores each candidate on its own with a [`Scorer`] (its
    /// [`rank`](Self::rank) is [`rank_with_scorer`]): return `Some(each.score_with(&scorer))`,
    /// and the router filters, estimates, scores and ranks the candidates in one pass over the
    /// models instead of three, with the same decision.
    ///
    /// The default returns `None`: the router filters and estimates every candidate, then
    /// calls [`rank`](Self::rank) with all of them. [`ScorerPolicy`] and the built-in
    /// policies return `Some`.
    fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
        let _ = each;
        None
    }
}

/// Scores every pending candidate with `scorer`; the shared body of [`ScorerPolicy`] and the
/// built-in policies.
pub fn rank_with_scorer<S: Scorer + ?Sized>(scorer: &S, task: &dyn Task, candidates: &mut [Candidate]) {
    for c in candidates.iter_mut() {
        if let (Verdict::Pending, Some(e)) = (&c.verdict, &c.estimate) {
            // Pending: nothing to drop.
            c.verdict.set_unrejected(match scorer.score(task, e) {
                Ok(s) => Verdict::Scored(s),
                Err(r) => Verdict::Rejected(r),
            });
        }
    }
}

/// A [`Policy`] that scores each candidate on its own with a [`Scorer`].
#[derive(Clone, Debug, Default, PartialEq)]
#[allow(clippy::exhaustive_structs)] // a transparent wrapper
pub struct ScorerPolicy<S>(pub S);

impl<S: Scorer> Policy for ScorerPolicy<S> {
    fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
        rank_with_scorer(&self.0, task, candidates);
    }
    fn name(&self) -> Cow<'static, str> {
        self.0.name()
    }
    fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
        Some(each.score_with(&self.0))
    }
}

macro_rules! scorer_is_policy {
    ($($t:ty),*) => {$(
        impl Policy for $t {
            fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
                rank_with_scorer(self, task, candidates);
            }
            fn name(&self) -> Cow<'static, str> {
                Scorer::name(self)
            }
            fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
                Some(each.score_with(self))
            }
        }
    )*};
}
scorer_is_policy!(CostFirst, QualityFirst, Weighted);

closure_adapter! {
    /// A [`Policy`] made from a closure; see [`policy_fn`].
    pub struct PolicyFn named;
    /// Makes a named [`Policy`] from a closure over the whole candidate set.
    pub fn policy_fn;
    impl Policy { fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]); }
}

macro_rules! forward_policy {
    ($($ptr:ty),*) => {$(
        impl<T: Policy + ?Sized> Policy for $ptr {
            fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
                (**self).rank(task, candidates)
            }
            fn name(&self) -> Cow<'static, str> {
                (**self).name()
            }
            fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
                (**self).score_each(each)
            }
        }
    )*};
}
forward_policy!(&T, Box<T>, Arc<T>);
