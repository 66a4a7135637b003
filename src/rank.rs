//! Stage 4, **rank**: orders the scored candidates, best first.
//!
//! The order is total and deterministic: better [`Score`](crate::Score) first, then lower
//! expected cost, then catalog order. Sorting is in place and never allocates.

use std::cmp::Ordering;

use crate::decision::{Candidate, Verdict};

/// A scored candidate's place in the order, as plain integers: computed once per candidate,
/// so the sort compares numbers instead of re-reading candidates (24 bytes, cheap to move).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RankKey {
    /// Higher score first, NaN last: `!ascending(score)`, or `u64::MAX` for NaN.
    score: u64,
    /// Cheaper first (no estimate counts as infinite).
    cost: u64,
    /// Catalog order.
    index: u32,
    /// Reserve scores after normal ones.
    reserve: bool,
}

/// Maps a float to an integer with the same order as [`f64::total_cmp`].
fn ascending(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

impl RankKey {
    fn of(index: u32, c: &Candidate) -> Option<Self> {
        let Verdict::Scored(s) = c.verdict else {
            return None;
        };
        Some(Self {
            score: if s.value.is_nan() {
                u64::MAX
            } else {
                !ascending(s.value)
            },
            cost: ascending(c.estimate.map_or(f64::INFINITY, |e| e.cost_usd)),
            index,
            reserve: s.reserve,
        })
    }

    /// Tier, then score, then cost, then catalog order.
    fn order(&self, other: &Self) -> Ordering {
        self.reserve
            .cmp(&other.reserve)
            .then(self.score.cmp(&other.score))
            .then(self.cost.cmp(&other.cost))
            .then(self.index.cmp(&other.index))
    }
}

/// Fills `ranking` with the indices of the scored candidates, best first, and sets each
/// candidate's `rank`. Pending candidates the policy left alone become rejections. `keys` is
/// scratch space.
pub(crate) fn rank(candidates: &mut [Candidate], ranking: &mut Vec<u32>, keys: &mut Vec<RankKey>) {
    ranking.clear();
    keys.clear();
    for (i, c) in candidates.iter_mut().enumerate() {
        if let Verdict::Pending = c.verdict {
            c.verdict = Verdict::Rejected(crate::Rejection::Policy {
                detail: std::borrow::Cow::Borrowed("left unscored by the policy"),
            });
        }
        if let Some(k) = RankKey::of(i as u32, c) {
            keys.push(k);
        }
    }
    keys.sort_unstable_by(RankKey::order);
    for (r, k) in keys.iter().enumerate() {
        ranking.push(k.index);
        candidates[k.index as usize].rank = Some(r as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Estimate, ModelId, Score};

    #[test]
    fn ascending_matches_total_cmp() {
        let v = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for a in v {
            for b in v {
                assert_eq!(ascending(a).cmp(&ascending(b)), a.total_cmp(&b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn order_is_score_then_cost_then_index_with_nan_and_reserve_last() {
        let c = |score: Score, cost: f64| Candidate {
            verdict: Verdict::Scored(score),
            ..Candidate::pending(ModelId::new("m"), Estimate::new(0.5, cost, 1.0))
        };
        let mut cands = vec![
            c(Score::reserve(0.9), 0.0),
            c(Score::new(f64::NAN), 0.0),
            c(Score::new(-1.0), 2.0),
            c(Score::new(-1.0), 1.0),
            c(Score::new(-0.5), 9.0),
            c(Score::new(-1.0), 1.0),
        ];
        let (mut ranking, mut keys) = (Vec::new(), Vec::new());
        rank(&mut cands, &mut ranking, &mut keys);
        assert_eq!(ranking, [4, 3, 5, 2, 1, 0]);
        assert_eq!(cands[4].rank, Some(0));
        assert_eq!(cands[0].rank, Some(5));
    }
}
