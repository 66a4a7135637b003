//! Stage 4, **rank**: orders the scored candidates, best first.
//!
//! The order is total and deterministic: better [`Score`](crate::Score) first, then lower
//! expected cost, then catalog order. Sorting is in place and never allocates.

use std::cmp::Ordering;

use crate::decision::{Candidate, Verdict};

/// Fills `ranking` with the indices of the scored candidates, best first, and sets each
/// candidate's `rank`. Pending candidates the policy left alone become rejections.
pub(crate) fn rank(candidates: &mut [Candidate], ranking: &mut Vec<u32>) {
    ranking.clear();
    for (i, c) in candidates.iter_mut().enumerate() {
        match c.verdict {
            Verdict::Scored(_) => ranking.push(i as u32),
            Verdict::Pending => {
                c.verdict = Verdict::Rejected(crate::Rejection::Policy {
                    detail: std::borrow::Cow::Borrowed("left unscored by the policy"),
                })
            }
            Verdict::Rejected(_) => {}
        }
    }
    ranking
        .sort_unstable_by(|&a, &b| compare(&candidates[a as usize], &candidates[b as usize]).then(a.cmp(&b)));
    for (r, &i) in ranking.iter().enumerate() {
        candidates[i as usize].rank = Some(r as u32);
    }
}

fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    let (Verdict::Scored(sa), Verdict::Scored(sb)) = (&a.verdict, &b.verdict) else {
        return Ordering::Equal;
    };
    let cost = |c: &Candidate| c.estimate.map_or(f64::INFINITY, |e| e.cost_usd);
    sa.better_first(sb).then_with(|| cost(a).total_cmp(&cost(b)))
}
