//! The router's pass over the models: stages 1 and 2 (filter, estimate) for every candidate, and,
//! for a policy that scores each candidate on its own ([`Policy::score_each`]), stages 3 and 4
//! (score, rank) in the same pass.
//!
//! The estimators' answers and the expected costs arrive as columns (one value per model,
//! computed before the pass); the pass reads the model's compact row, its three estimates, and
//! writes its [`Candidate`] once.
//!
//! [`Policy::score_each`]: crate::Policy::score_each

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::candidate::{Candidate, Verdict};
use crate::estimate::Estimate;
use crate::filter::{self, Constraints, Filter, Health, TaskView};
use crate::model::ModelSpec;
use crate::rank::{RankScratch, Top};
use crate::rejection::Rejection;
use crate::score::Scorer;
use crate::table::ModelTable;
use crate::task::Task;

/// The bits of `1.0`: a float's bits are at most these exactly when it is in `[+0, 1]`.
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;

/// What the pass checks of a task, read once per decision: its limits on a model's expected
/// cost and latency (infinite when unset) and the tokens the rows are checked against.
#[derive(Clone, Copy)]
struct TaskChecks {
    max_cost: f64,
    max_latency: f64,
    /// Input plus expected output tokens.
    needed: u64,
    /// Whether neither the task nor the router needs a check beyond the row's.
    plain: bool,
    /// Whether every row passes its checks for this task.
    every: bool,
}

/// What one decision's pass reads: the task, the router's models and settings, and the
/// estimators' answers and the expected costs (one entry per model, in catalog order); and
/// what it did: whether it rejected a candidate, and whether a policy's
/// [`ScoreEach::score_with`] ran it.
pub(crate) struct Pass<'a> {
    pub(crate) task: &'a dyn Task,
    pub(crate) view: TaskView<'a>,
    pub(crate) models: &'a [ModelSpec],
    pub(crate) table: &'a ModelTable,
    pub(crate) constraints: &'a Constraints,
    pub(crate) health: Option<&'a dyn Health>,
    pub(crate) filters: &'a [Arc<dyn Filter>],
    pub(crate) quality: &'a [Option<f64>],
    pub(crate) latency: &'a [f64],
    pub(crate) cost: &'a [f64],
    /// Whether the pass rejected a candidate.
    pub(crate) rejected: Cell<bool>,
    /// Whether [`ScoreEach::score_with`] ran the pass for this decision: a [`Scored`] kept
    /// from another decision does not count.
    pub(crate) scored: Cell<bool>,
}

impl Pass<'_> {
    /// Filters and estimates every candidate (`candidates` holds one entry per model, in
    /// catalog order, each naming its model, and none holds a rejection), and gives each one
    /// that passes, with its index, its estimate and its verdict (still the one it held
    /// before: pending or a score), to `then`, which sets the verdict without reading it
    /// ([`Verdict::Pending`] to leave it to the policy). Every candidate ends unranked.
    ///
    /// The common case stays in the loop: the model's row passes every check, its quality is
    /// in `[0, 1]`, and the task's limits hold. Anything else goes to the full checks, out of
    /// line, which give the first reason in the filters' order.
    #[inline(always)]
    pub(crate) fn run(&self, candidates: &mut [Candidate], then: impl FnMut(usize, Estimate, &mut Verdict)) {
        let view = &self.view;
        // When neither the task nor the router needs a check beyond the row's, a model passes
        // the filters when its row says so.
        let plain = self.health.is_none() && view.tags.is_empty() && self.filters.is_empty();
        let needed = u64::from(view.input) + u64::from(view.output);
        let limits = &view.limits;
        let checks = TaskChecks {
            max_cost: limits.max_cost_usd.unwrap_or(f64::INFINITY),
            max_latency: limits.max_latency_ms.unwrap_or(f64::INFINITY),
            needed,
            plain,
            every: plain
                && self
                    .table
                    .every_row_passes(needed, view.output, view.capabilities),
        };
        // The common case, made as a loop of its own that neither asks nor keeps in registers
        // what it does not need: every row passes its checks for this task, and no limit can
        // rule anything out (`x > limit` never holds for an infinite or NaN limit).
        let limited = (checks.max_cost < f64::INFINITY) | (checks.max_latency < f64::INFINITY);
        if !limited && checks.every {
            self.run_checking::<false>(candidates, checks, then);
        } else {
            self.run_checking::<true>(candidates, checks, then);
        }
    }

    /// [`run`](Self::run), checking the task's limits, and each model's row unless every row
    /// passes, when `CHECK` (else every row passes and no limit can rule a model out).
    #[inline(always)]
    fn run_checking<const CHECK: bool>(
        &self,
        candidates: &mut [Candidate],
        checks: TaskChecks,
        mut then: impl FnMut(usize, Estimate, &mut Verdict),
    ) {
        let (output, required) = (self.view.output, self.view.capabilities);
        let n = candidates.len();
        let rows = &self.table.rows()[..n];
        let (quality, latency, cost) = (&self.quality[..n], &self.latency[..n], &self.cost[..n]);
        for i in 0..n {
            let c = &mut candidates[i];
            c.rank = None;
            if CHECK
                && !checks.every
                && !(checks.plain & rows[i].checks.pass(checks.needed, output, required))
                && let Err(r) = self.filters_of(i)
            {
                c.estimate = None;
                self.reject(&mut c.verdict, r);
                continue;
            }
            let (q, latency, cost) = (quality[i], latency[i], cost[i]);
            let value = q.unwrap_or(f64::NAN);
            let e = Estimate::new(value, cost, latency);
            c.estimate = Some(e);
            // `!(x > limit)`, as `check_limits` rejects: a NaN estimate passes.
            #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must pass, as there
            // `value` in `[+0, 1]` as one integer comparison of its bits (a negative value,
            // −0 included, or a NaN has larger bits); −0, rare, is told apart in
            // `estimate_rejection`, which finds no reason.
            let fine = value.to_bits() <= ONE_BITS
                && (!CHECK || (!(cost > checks.max_cost) & !(latency > checks.max_latency)));
            if !fine && let Some(r) = self.estimate_rejection(q, cost, latency) {
                self.reject(&mut c.verdict, r);
                continue;
            }
            then(i, e, &mut c.verdict);
        }
    }

    /// Rejects a candidate (out of the common case), noting that the decision holds a rejection.
    #[inline(always)]
    fn reject(&self, verdict: &mut Verdict, r: Rejection) {
        self.rejected.set(true);
        verdict.set_unrejected(Verdict::Rejected(r));
    }

    /// The full filters of model `i`, in their order.
    #[cold]
    #[inline(never)]
    fn filters_of(&self, i: usize) -> Result<(), Rejection> {
        filter::check_static(
            self.task,
            &self.view,
            &self.models[i],
            &self.table.rows()[i],
            self.constraints,
            self.health,
            self.filters,
        )
    }

    /// Why a model with these estimates is out: its quality estimate is missing or not in
    /// `[0, 1]`, or the task's limits rule it out (`None` when nothing does).
    #[cold]
    #[inline(never)]
    fn estimate_rejection(&self, q: Option<f64>, cost: f64, latency: f64) -> Option<Rejection> {
        match q {
            None => Some(Rejection::NoQualityEstimate),
            Some(value) if !(0.0..=1.0).contains(&value) => Some(Rejection::BadQualityEstimate { value }),
            Some(_) => filter::check_limits(&self.view.limits, cost, latency).err(),
        }
    }
}

/// A decision's candidates, handed to [`Policy::score_each`](crate::Policy::score_each): a
/// policy that scores each candidate on its own passes its [`Scorer`] to
/// [`score_with`](Self::score_with), and the router filters, estimates, scores and ranks every
/// candidate in one pass over the models.
pub struct ScoreEach<'a> {
    pub(crate) pass: &'a Pass<'a>,
    pub(crate) candidates: &'a mut [Candidate],
    pub(crate) ranking: &'a mut Vec<u32>,
    pub(crate) scratch: &'a mut RankScratch,
    pub(crate) depth: usize,
}

impl fmt::Debug for ScoreEach<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreEach")
            .field("candidates", &self.candidates.len())
            .field("ranking_depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// Proof that [`ScoreEach::score_with`] scored and ranked a decision's candidates; only that
/// method makes one. (One kept from an earlier decision and returned for another proves
/// nothing: the router then filters and estimates the candidates and calls the policy's
/// [`rank`](crate::Policy::rank), as for `None`.)
#[derive(Debug)]
pub struct Scored(());

impl ScoreEach<'_> {
    /// Filters and estimates every candidate, scores each one that passes with `scorer`, and
    /// ranks the scored ones: the decision [`rank_with_scorer`](crate::rank_with_scorer) and
    /// the rank stage give, in one pass.
    #[inline]
    pub fn score_with<S: Scorer + ?Sized>(self, scorer: &S) -> Scored {
        let ScoreEach {
            pass,
            candidates,
            ranking,
            scratch,
            depth,
        } = self;
        let mut top = Top::new(candidates.len(), depth, scratch);
        // The pass's loop made once per way of keeping the top, so that it does not ask which.
        if top.is_few() {
            score_in_pass(pass, candidates, scorer, |i, s, _| top.offer_few(i, s));
        } else if top.is_deep() {
            score_in_pass(pass, candidates, scorer, |i, s, cost| top.offer_deep(i, s, cost));
        } else {
            score_in_pass(pass, candidates, scorer, |i, s, cost| top.offer_more(i, s, cost));
        }
        top.finish(candidates, ranking);
        pass.scored.set(true);
        Scored(())
    }
}

/// Runs `pass`, scoring each candidate that passes with `scorer` and offering each scored one
/// (index, score, expected cost) to `offer`.
#[inline(always)]
fn score_in_pass<S: Scorer + ?Sized>(
    pass: &Pass<'_>,
    candidates: &mut [Candidate],
    scorer: &S,
    mut offer: impl FnMut(usize, crate::score::Score, f64),
) {
    pass.run(candidates, |i, e, verdict| match scorer.score(pass.task, &e) {
        Ok(s) => {
            // The verdict first, then the offer (which may call out to insert into the top
            // k): the score need not be kept across that call.
            verdict.set_unrejected(Verdict::Scored(s));
            offer(i, s, e.cost_usd);
        }
        Err(r) => pass.reject(verdict, r),
    });
}

#[cfg(test)]
mod tests {
    use super::ONE_BITS;

    #[test]
    fn one_bits_bound_the_unit_interval_but_for_negative_zero() {
        let values = [
            f64::NEG_INFINITY,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            0.5,
            1.0 - f64::EPSILON / 2.0,
            1.0,
            1.0 + f64::EPSILON,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for v in values {
            let fast = v.to_bits() <= ONE_BITS;
            // −0 is in the interval but not under the bound: the pass asks the full check.
            let want = (0.0..=1.0).contains(&v) && v.to_bits() != (-0.0f64).to_bits();
            assert_eq!(fast, want, "{v:?}");
        }
    }
}
