//! Stage 4, **rank**: orders the scored candidates, best first.
//!
//! The order is total and deterministic: better [`Score`](crate::Score) first, then lower
//! expected cost, then catalog order. Sorting is in place and never allocates.

use std::cmp::Ordering;

use crate::candidate::{Candidate, Verdict};

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

/// Scratch space of the rank stage, kept in the [`Decision`](crate::Decision) so that ranking
/// never allocates once warm.
#[derive(Clone, Debug, Default)]
pub(crate) struct RankScratch {
    keys: Vec<RankKey>,
    order: Vec<u64>,
}

impl RankScratch {
    /// Empty scratch space with room for `n` candidates (for the evaluator's replay).
    #[cfg(feature = "eval")]
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut s = Self::default();
        s.reserve(n);
        s
    }

    /// Makes room for `n` candidates.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.keys.clear();
        self.keys.reserve(n);
        self.order.clear();
        self.order.reserve(n);
    }
}

/// Fills `ranking` with the indices of the scored candidates, best first, and sets each
/// candidate's `rank`. Pending candidates the policy left alone become rejections.
///
/// Sorting: each scored candidate's exact key ([`RankKey`], 24 bytes) is projected to one `u64`:
/// the tier and the top bits of the score, above the key's position. The projection never puts
/// two keys in the wrong order (it only merges neighbours), so sorting the `u64`s (which the
/// standard library does with branchless sorting networks, unlike 24-byte elements) and then
/// sorting each run of equal projections by the exact key gives the exact order.
pub(crate) fn rank(candidates: &mut [Candidate], ranking: &mut Vec<u32>, scratch: &mut RankScratch) {
    let RankScratch { keys, order } = scratch;
    ranking.clear();
    keys.clear();
    order.clear();
    for (i, c) in candidates.iter_mut().enumerate() {
        if let Verdict::Pending = c.verdict {
            c.verdict = Verdict::Rejected(crate::rejection::Rejection::Policy {
                detail: std::borrow::Cow::Borrowed("left unscored by the policy"),
            });
        }
        if let Some(k) = RankKey::of(i as u32, c) {
            keys.push(k);
        }
    }
    // Bits for a position (at least one), and the mask that extracts it.
    let pos_bits = usize::BITS - (keys.len().max(2) - 1).leading_zeros();
    let mask = (1u64 << pos_bits) - 1;
    for (p, k) in keys.iter().enumerate() {
        let prefix = u64::from(k.reserve) << 63 | k.score >> 1;
        order.push((prefix & !mask) | p as u64);
    }
    order.sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let head = order[start] & !mask;
        let mut end = start + 1;
        while end < order.len() && order[end] & !mask == head {
            end += 1;
        }
        if end - start > 1 {
            order[start..end]
                .sort_unstable_by(|a, b| keys[(a & mask) as usize].order(&keys[(b & mask) as usize]));
        }
        start = end;
    }
    for (r, o) in order.iter().enumerate() {
        let index = keys[(o & mask) as usize].index;
        ranking.push(index);
        candidates[index as usize].rank = Some(r as u32);
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
        let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
        rank(&mut cands, &mut ranking, &mut scratch);
        assert_eq!(ranking, [4, 3, 5, 2, 1, 0]);
        assert_eq!(cands[4].rank, Some(0));
        assert_eq!(cands[0].rank, Some(5));
    }

    #[test]
    fn projected_sort_equals_exact_sort_with_ties_and_near_ties() {
        // Scores that tie, differ in their last bits only, or are far apart; costs that tie.
        let base = [0.5f64, -0.25, 0.7, -1e-9];
        for n in [1usize, 2, 3, 17, 64, 300, 1500] {
            let mut cands: Vec<Candidate> = (0..n)
                .map(|i| {
                    let b = base[i % base.len()];
                    let value = match i % 5 {
                        0 => b,
                        1 => f64::from_bits(b.to_bits() + (i % 7) as u64),
                        2 => b * (i as f64),
                        3 => f64::NAN,
                        _ => -b,
                    };
                    let score = if i % 11 == 0 {
                        Score::reserve(value)
                    } else {
                        Score::new(value)
                    };
                    Candidate {
                        verdict: Verdict::Scored(score),
                        ..Candidate::pending(ModelId::new("m"), Estimate::new(0.5, (i % 3) as f64, 1.0))
                    }
                })
                .collect();
            let mut expected: Vec<RankKey> = cands
                .iter()
                .enumerate()
                .filter_map(|(i, c)| RankKey::of(i as u32, c))
                .collect();
            expected.sort_by(RankKey::order);
            let expected: Vec<u32> = expected.iter().map(|k| k.index).collect();
            let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
            rank(&mut cands, &mut ranking, &mut scratch);
            assert_eq!(ranking, expected, "{n} candidates");
        }
    }
}
