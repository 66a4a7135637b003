//! Stage 4, **rank**: orders the scored candidates, best first.
//!
//! The order is total and deterministic: normal scores before [reserve](crate::Score::reserve)
//! ones, then the better [`Score`] (NaN last), then the lower expected cost, then
//! catalog order. Every scored candidate gets its own integer key holding all four, so no two
//! candidates ever tie (reserves, whose scores tie often, are told apart by cost and index in
//! the same comparison).
//!
//! Only the best `depth` candidates (the router's [ranking depth]) are put in order: the primary
//! and the first fallbacks, which is what callers use. The others keep their score and stay
//! unranked until [`Decision::rank_all`] orders them too. With at most 32 candidates the stage
//! collects one 8-byte key per scored candidate on the stack and sorts them once at the end;
//! with more, and a depth of at most 16, it keeps the best in a small sorted array of 8-byte
//! projections (one float comparison per candidate that does not make the cut; the exact keys
//! only where two projections tie). Neither allocates; deeper rankings of more candidates sort
//! in the decision's scratch space.
//!
//! [ranking depth]: crate::RouterBuilder::ranking_depth
//! [`Decision::rank_all`]: crate::Decision::rank_all

use crate::candidate::{Candidate, Verdict};
use crate::score::Score;

/// The deepest ranking kept on the stack; deeper ones use [`RankScratch`].
pub(crate) const SMALL_DEPTH: usize = 16;

/// The most candidates ranked by collecting their keys and sorting once (at any depth).
pub(crate) const FEW: usize = 32;

/// The bits of an entry of [`TopSpace::few`] that hold the candidate's index.
const FEW_INDEX: u64 = FEW as u64 - 1;

/// A scored candidate's place in the order, as integers compared in field order: `hi` holds the
/// tier (1 bit), the score (64 bits, higher first, NaN last) and the top 63 bits of the cost;
/// `lo` the cost's last bit above the catalog index. Unique per candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RankKey {
    hi: u128,
    lo: u64,
}

/// Maps a float to an integer with the same order as [`f64::total_cmp`].
fn ascending(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The score's integer, higher scores first and NaN last.
#[inline(always)]
fn score_bits(s: Score) -> u64 {
    if s.value.is_nan() {
        u64::MAX
    } else {
        !ascending(s.value)
    }
}

/// The top 64 bits of a score's [`RankKey`]: the tier and the score's top 63 bits.
#[inline(always)]
fn prefix_of(s: Score) -> u64 {
    u64::from(s.reserve) << 63 | score_bits(s) >> 1
}

impl RankKey {
    const WORST: Self = Self {
        hi: u128::MAX,
        lo: u64::MAX,
    };

    /// The key of the candidate at `index` with score `s` and expected cost `cost`.
    #[inline(always)]
    fn new(index: u32, s: Score, cost: f64) -> Self {
        let score = score_bits(s);
        let cost = ascending(cost);
        Self {
            hi: u128::from(s.reserve) << 127 | u128::from(score) << 63 | u128::from(cost >> 1),
            lo: (cost & 1) << 32 | u64::from(index),
        }
    }

    /// The key of a scored candidate (its cost infinite when it has no estimate).
    #[inline(always)]
    fn of(index: u32, c: &Candidate) -> Option<Self> {
        let Verdict::Scored(s) = c.verdict else {
            return None;
        };
        Some(Self::new(index, s, cost_of(c)))
    }

    fn index(&self) -> u32 {
        self.lo as u32
    }

    /// The top 64 bits (tier and score): never orders two keys the wrong way round.
    fn prefix(&self) -> u64 {
        (self.hi >> 64) as u64
    }
}

/// A candidate's expected cost as the order reads it: infinite without an estimate.
#[inline(always)]
fn cost_of(c: &Candidate) -> f64 {
    c.estimate.map_or(f64::INFINITY, |e| e.cost_usd)
}

/// Scratch space of a ranking deeper than [`SMALL_DEPTH`], kept in the
/// [`Decision`](crate::Decision) so that ranking never allocates once warm. Left empty (no
/// allocation) by shallower rankings.
#[derive(Clone, Debug, Default)]
pub(crate) struct RankScratch {
    keys: Vec<RankKey>,
    order: Vec<u64>,
    /// The space of every [`Top`], kept here rather than made afresh on the stack for each
    /// decision (a [`Top`] reads only the entries it wrote, so nothing needs clearing).
    space: TopSpace,
}

impl RankScratch {
    /// Makes room for `n` candidates.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.keys.clear();
        self.keys.reserve(n);
        self.order.clear();
        self.order.reserve(n);
    }
}

/// The best `depth` scored candidates seen so far, offered one at a time (a `depth` of 0 counts
/// as 1): the rank stage's state, shared by the separate rank pass ([`rank`]) and the router's
/// single pass for policies that score each candidate on their own.
pub(crate) struct Top<'s> {
    depth: usize,
    /// Whether the candidates are at most [`FEW`] (collected in `space.few`).
    few: bool,
    len: usize,
    /// The cut, once `space.sorted` is full, as one float per tier (normal, then reserve): a
    /// candidate whose score's value is below its tier's ranks below every kept key, at the
    /// cost of one float comparison and without building its key. With the worst kept score
    /// normal, `[its value, +∞]` (every finite reserve is below); with it a reserve,
    /// `[−∞, its value]` (no normal score is); until the top is full, `[−∞, −∞]`. (Equal
    /// values, such as reserves that tie, go on to the exact comparison; so does NaN.)
    below: [f64; 2],
    scratch: &'s mut RankScratch,
}

/// The bits of an entry of [`TopSpace::sorted`] that name its slot in [`TopSpace::kept`].
const SLOT: u64 = SMALL_DEPTH as u64 - 1;

/// A candidate kept in a [`Top`] of more than [`FEW`] candidates: its score's value (for the
/// cut) and its [`RankKey`] below the tier, as integers compared in field order (for two kept
/// entries whose projections tie).
#[derive(Clone, Copy, Debug)]
struct Kept {
    value: f64,
    /// [`score_bits`] of the score.
    score: u64,
    /// [`ascending`] of the expected cost.
    cost: u64,
    index: u32,
}

impl Kept {
    /// An empty slot (never read: a [`Top`] reads only the slots it wrote), all zero bits.
    const NONE: Self = Self {
        value: 0.0,
        score: 0,
        cost: 0,
        index: 0,
    };

    /// Its [`RankKey`] below the tier, compared in field order.
    #[inline(always)]
    fn tail(&self) -> (u64, u64, u32) {
        (self.score, self.cost, self.index)
    }
}

/// Whether the kept entry `t` of a [`Top`] ranks after the candidate whose projection, its slot
/// bits clear, is `head`: by the projections when they differ, else (the same tier) by
/// `tail_after`, which compares the rest of their keys.
#[inline(always)]
fn after(t: u64, head: u64, tail_after: impl FnOnce() -> bool) -> bool {
    if t > head | SLOT {
        true
    } else if t < head {
        false
    } else {
        tail_after()
    }
}

/// The space of a [`Top`], kept in the [`RankScratch`] (so that the `Top` itself stays a few
/// words, and no decision fills half a kilobyte before it starts).
#[derive(Clone, Debug)]
pub(crate) struct TopSpace {
    /// With at most [`FEW`] candidates: each scored one's [projection](RankKey::prefix), its
    /// low bits replaced by its index, collected unsorted; sorted once at the end, and each run
    /// of equal projections among the kept ones by the exact key. One store per candidate.
    few: [u64; FEW],
    /// With more candidates and a depth of at most [`SMALL_DEPTH`]: the kept candidates in key
    /// order, each as its [projection](RankKey::prefix) with the low bits ([`SLOT`]) replaced by
    /// its slot in `kept`. Entries whose projections differ (outside those bits) compare as
    /// integers; only entries with equal projections consult their exact keys. A candidate
    /// that does not make the cut costs one comparison of its score with the cut (`below`).
    /// (With a deeper ranking every key goes to the [`RankScratch`], selected and sorted at the
    /// end.)
    sorted: [u64; SMALL_DEPTH],
    /// The kept candidates, by slot; an entry pushed out of `sorted` leaves its slot to the one
    /// that pushed it out.
    kept: [Kept; SMALL_DEPTH],
}

impl Default for TopSpace {
    fn default() -> Self {
        Self {
            few: [0; FEW],
            sorted: [0; SMALL_DEPTH],
            kept: [Kept::NONE; SMALL_DEPTH],
        }
    }
}

impl<'s> Top<'s> {
    /// An empty top `depth` of `n` candidates in `scratch` (which also holds the keys of more than
    /// [`FEW`] candidates ranked deeper than [`SMALL_DEPTH`]).
    #[inline(always)]
    pub(crate) fn new(n: usize, depth: usize, scratch: &'s mut RankScratch) -> Self {
        scratch.keys.clear();
        Self {
            depth: depth.max(1),
            few: n <= FEW,
            len: 0,
            below: [f64::NEG_INFINITY; 2],
            scratch,
        }
    }

    /// Offers the candidate at `index` (below [`FEW`] when there are at most [`FEW`]), scored
    /// `s`, with expected cost `cost`.
    #[inline(always)]
    pub(crate) fn offer(&mut self, index: usize, s: Score, cost: f64) {
        if self.few {
            self.offer_few(index, s);
        } else if self.depth > SMALL_DEPTH {
            self.offer_deep(index, s, cost);
        } else {
            self.offer_more(index, s, cost);
        }
    }

    /// Whether this top takes [`offer_few`](Self::offer_few), not
    /// [`offer_more`](Self::offer_more) (a caller may choose once, out of its loop).
    #[inline(always)]
    pub(crate) fn is_few(&self) -> bool {
        self.few
    }

    /// [`offer`](Self::offer) when [`is_few`](Self::is_few) (the order reads the cost at the end).
    #[inline(always)]
    pub(crate) fn offer_few(&mut self, index: usize, s: Score) {
        self.scratch.space.few[self.len] = prefix_of(s) & !FEW_INDEX | index as u64;
        self.len += 1;
    }

    /// Whether this top takes [`offer_deep`](Self::offer_deep), not
    /// [`offer_more`](Self::offer_more) (more than [`FEW`] candidates ranked deeper than
    /// [`SMALL_DEPTH`]).
    #[inline(always)]
    pub(crate) fn is_deep(&self) -> bool {
        !self.few && self.depth > SMALL_DEPTH
    }

    /// [`offer`](Self::offer) when [`is_deep`](Self::is_deep): every key goes to the scratch
    /// space, selected and sorted at the end.
    #[inline(always)]
    pub(crate) fn offer_deep(&mut self, index: usize, s: Score, cost: f64) {
        self.scratch.keys.push(RankKey::new(index as u32, s, cost));
    }

    /// [`offer`](Self::offer) when neither [`is_few`](Self::is_few) nor
    /// [`is_deep`](Self::is_deep) (it checks the latter again, out of the common path).
    #[inline(always)]
    pub(crate) fn offer_more(&mut self, index: usize, s: Score, cost: f64) {
        // Below the cut: a value below its tier's (a worse tier has +∞ there, the better one
        // −∞; NaN is never below). One float comparison with the entry the tier selects, so
        // that one branch, nearly always taken, decides: as two tests, the tier's followed
        // which side of a floor each model fell, and mispredicted.
        if s.value < self.below[usize::from(s.reserve)] {
            return;
        }
        self.enter(index, s, cost);
    }

    /// Inserts the candidate into the sorted top when its exact key makes the cut.
    #[inline(never)]
    fn enter(&mut self, index: usize, s: Score, cost: f64) {
        let depth = self.depth;
        if depth > SMALL_DEPTH {
            return self.offer_deep(index, s, cost);
        }
        let TopSpace { sorted, kept, .. } = &mut self.scratch.space;
        let sorted = &mut sorted[..depth];
        let new = Kept {
            value: s.value,
            score: score_bits(s),
            cost: ascending(cost),
            index: index as u32,
        };
        // The candidate's projection, its slot bits clear.
        let head = prefix_of(s) & !SLOT;
        let len = self.len;
        // The place the candidate's entry starts from (then moves up the order), and its slot.
        let (place, slot) = if len < depth {
            self.len = len + 1;
            (len, len)
        } else {
            let last = sorted[depth - 1];
            let slot = (last & SLOT) as usize;
            if !after(last, head, || kept[slot].tail() > new.tail()) {
                return;
            }
            (depth - 1, slot)
        };
        // The candidate takes its slot first (the entry it pushes out, if any, is not looked
        // at again), so that the loop below keeps nothing of it but its projection.
        kept[slot] = new;
        let kept = &*kept;
        // Each entry after the candidate moves down into the place below it, which it leaves
        // free for the next.
        let Some((mut free, above)) = sorted[..=place].split_last_mut() else {
            return;
        };
        for t in above.iter_mut().rev() {
            if !after(*t, head, || kept[(*t & SLOT) as usize].tail() > kept[slot].tail()) {
                break;
            }
            *free = *t;
            free = t;
        }
        *free = head | slot as u64;
        if self.len == depth {
            let worst = sorted[depth - 1];
            let value = kept[(worst & SLOT) as usize].value;
            self.below = if worst >> 63 == 1 {
                [f64::NEG_INFINITY, value]
            } else {
                [value, f64::INFINITY]
            };
        }
    }

    /// Appends the kept candidates' indices to `ranking`, best first, and sets their `rank`.
    #[inline(always)]
    pub(crate) fn finish(self, candidates: &mut [Candidate], ranking: &mut Vec<u32>) {
        if self.few {
            finish_few(
                &mut self.scratch.space.few[..self.len],
                self.depth,
                candidates,
                ranking,
            );
        } else {
            self.finish_more(candidates, ranking);
        }
    }

    /// [`finish`](Self::finish) with more than [`FEW`] candidates.
    #[inline(never)]
    fn finish_more(self, candidates: &mut [Candidate], ranking: &mut Vec<u32>) {
        if self.depth <= SMALL_DEPTH {
            let TopSpace { sorted, kept, .. } = &self.scratch.space;
            let indices = sorted[..self.len]
                .iter()
                .map(|&t| kept[(t & SLOT) as usize].index);
            set_ranks(candidates, ranking, indices);
            return;
        }
        let RankScratch { keys, order, .. } = self.scratch;
        if self.depth < keys.len() {
            keys.select_nth_unstable(self.depth - 1);
            keys.truncate(self.depth);
        }
        sort_keys(keys, order);
        set_ranks(
            candidates,
            ranking,
            order.iter().map(|&p| keys[p as usize].index()),
        );
    }
}

/// Fills `ranking` with the indices of the best `depth` scored candidates, best first, and sets
/// their `rank`; the other scored candidates keep `rank: None`. Pending candidates the policy
/// left alone become rejections. A `depth` of 0 counts as 1.
pub(crate) fn rank(
    candidates: &mut [Candidate],
    ranking: &mut Vec<u32>,
    scratch: &mut RankScratch,
    depth: usize,
) {
    ranking.clear();
    let mut top = Top::new(candidates.len(), depth, scratch);
    for (i, c) in candidates.iter_mut().enumerate() {
        match c.verdict {
            Verdict::Scored(s) => top.offer(i, s, cost_of(c)),
            Verdict::Pending => {
                c.verdict = Verdict::Rejected(crate::rejection::Rejection::Policy {
                    detail: std::borrow::Cow::Borrowed("left unscored by the policy"),
                });
            }
            Verdict::Rejected(_) => {}
        }
    }
    top.finish(candidates, ranking);
}

/// Ranks every scored candidate that is not ranked yet, after the ranked ones: with the ranking
/// [`rank`] left, the result is the full order. Allocates room for the keys of the unranked.
pub(crate) fn rank_rest(candidates: &mut [Candidate], ranking: &mut Vec<u32>) {
    let keys: Vec<RankKey> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.rank.is_none())
        .filter_map(|(i, c)| RankKey::of(i as u32, c))
        .collect();
    let mut order = Vec::new();
    sort_keys(&keys, &mut order);
    set_ranks(
        candidates,
        ranking,
        order.iter().map(|&p| keys[p as usize].index()),
    );
}

/// Appends `indices` to `ranking`, each candidate's `rank` its position.
fn set_ranks(candidates: &mut [Candidate], ranking: &mut Vec<u32>, indices: impl Iterator<Item = u32>) {
    let start = ranking.len();
    ranking.extend(indices);
    for (r, &index) in (start..).zip(&ranking[start..]) {
        candidates[index as usize].rank = Some(r as u32);
    }
}

/// [`Top::finish`] with at most [`FEW`] candidates: `few` holds each scored one's projection,
/// its index in the low bits ([`FEW_INDEX`]), unsorted.
#[inline(always)]
fn finish_few(few: &mut [u64], depth: usize, candidates: &mut [Candidate], ranking: &mut Vec<u32>) {
    let kept = depth.min(few.len());
    if kept == 0 {
        return;
    }
    let tied = if kept == NET && few.len() > NET {
        if rank_net(few, candidates, ranking) {
            return;
        }
        true
    } else {
        let least_left_out = sort_prefix(few, kept);
        // Most decisions hold no two kept entries with equal projections, and none left out
        // with the last kept one's (all left out are above it: the least tells).
        let top = &few[..kept];
        let last = top[kept - 1];
        top.iter()
            .zip(&top[1..])
            .fold(false, |t, (a, b)| t | ((a ^ b) <= FEW_INDEX))
            | (least_left_out <= last | FEW_INDEX)
    };
    if tied {
        sort_ties_few(few, kept, candidates);
    }
    let mut r = ranking.len() as u32;
    ranking.extend(few[..kept].iter().map(|&p| {
        let index = (p & FEW_INDEX) as u32;
        candidates[index as usize].rank = Some(r);
        r += 1;
        index
    }));
}

/// Puts the `kept` smallest of the distinct entries `v` first, in ascending order; the other
/// entries follow in no order. Returns the least of those others (`u64::MAX` when none).
///
/// An insertion sort that keeps only the prefix: an entry that does not make the cut costs one
/// comparison (sorting all 16 entries of a 16-model decision shifted about twice as many).
#[inline(never)]
fn sort_prefix(v: &mut [u64], kept: usize) -> u64 {
    let (top, rest) = v.split_at_mut(kept);
    for i in 1..top.len() {
        let x = top[i];
        insert_last(&mut top[..=i], x);
    }
    let mut least = u64::MAX;
    let Some(&last) = top.last() else {
        return least;
    };
    let mut cut = last;
    for r in rest {
        let x = *r;
        if x > cut {
            least = least.min(x);
            continue;
        }
        // `x` goes in, the last kept entry out (to `x`'s place).
        *r = cut;
        least = least.min(cut);
        insert_last(top, x);
        cut = top[top.len() - 1];
    }
    least
}

/// Puts `x` into the sorted `v[..len - 1]`, shifting the larger entries up by one (the last
/// slot's old value is overwritten).
#[inline(always)]
fn insert_last(v: &mut [u64], x: u64) {
    let Some((slot, sorted)) = v.split_last_mut() else {
        return;
    };
    // Each entry above `x` moves up into the slot above it, which it leaves free for the next.
    let mut free = slot;
    for y in sorted.iter_mut().rev() {
        if *y <= x {
            break;
        }
        *free = *y;
        free = y;
    }
    *free = x;
}

/// Sorts by the exact key each run of equal projections in the sorted prefix `few[..kept]`,
/// gathering first the entries after it that agree with its last entry (a run crossing the
/// cut), so that `few[..kept]` ends in key order.
#[cold]
#[inline(never)]
fn sort_ties_few(few: &mut [u64], kept: usize, candidates: &[Candidate]) {
    // The projections again, in catalog order as the pass offered them ([`select_net`] leaves
    // the entries after the kept ones in no useful state), the kept prefix sorted again.
    let mut len = 0;
    for (i, c) in candidates.iter().enumerate() {
        if let Verdict::Scored(s) = c.verdict
            && let Some(slot) = few.get_mut(len)
        {
            *slot = prefix_of(s) & !FEW_INDEX | i as u64;
            len += 1;
        }
    }
    debug_assert_eq!(len, few.len(), "one projection per scored candidate");
    sort_prefix(few, kept);
    let head = few[kept - 1] & !FEW_INDEX;
    let mut end = kept;
    for i in kept..few.len() {
        if few[i] & !FEW_INDEX == head {
            few.swap(i, end);
            end += 1;
        }
    }
    sort_runs(&mut few[..end], FEW_INDEX, kept, |i| {
        RankKey::of(i, &candidates[i as usize]).unwrap_or(RankKey::WORST)
    });
}

/// The ranking depth [`select_net`] sorts with networks: the default,
/// [`Router::DEFAULT_RANKING_DEPTH`](crate::Router::DEFAULT_RANKING_DEPTH).
const NET: usize = 8;

/// [`finish_few`] for a `kept` of [`NET`] and more entries: ranks the [`NET`] smallest of the
/// distinct entries `few` ([`select_net`]) straight from the registers and returns `true`,
/// unless two of them have equal projections or one left out has the last kept one's: then it
/// returns `false` and leaves `few` as it was ([`sort_ties_few`] makes it afresh anyway).
#[inline(never)]
fn rank_net(few: &[u64], candidates: &mut [Candidate], ranking: &mut Vec<u32>) -> bool {
    let (top, tied) = select_net(few);
    if tied {
        return false;
    }
    let start = ranking.len() as u32;
    let indices: [usize; NET] = std::array::from_fn(|k| (top[k] & FEW_INDEX) as usize);
    for (r, &index) in (start..).zip(&indices) {
        if let Some(c) = candidates.get_mut(index) {
            c.rank = Some(r);
        }
    }
    ranking.extend(indices.map(|i| i as u32));
    true
}

/// [`sort_prefix`] for a `kept` of [`NET`] and more entries: the [`NET`] smallest of the
/// distinct entries `v`, in ascending order, and whether two of them have equal projections,
/// or one left out has the last kept one's (as [`finish_few`] checks after [`sort_prefix`]).
///
/// Sorts the first [`NET`] entries with a sorting network, then each further [`NET`] (the last
/// padded with `u64::MAX`), and keeps the smaller half of the two (the smaller of each entry
/// and its mirror, then a bitonic merge): 19 compare-exchanges a block and 20 a merge, all
/// without branches, where the insertion sort spent about as many compare-and-branch steps on
/// the 16 entries of a 16-model decision as its shifts and loop control took again.
#[inline(always)]
fn select_net(v: &[u64]) -> ([u64; NET], bool) {
    let (head, rest) = v.split_at(NET);
    let mut top = [0; NET];
    top.copy_from_slice(head);
    sort_net(&mut top);
    let mut least = u64::MAX;
    // A full second block (16 candidates and more) taken apart from the loop, which then
    // carries no registers over from it when it has nothing more to do.
    let more = match rest.split_first_chunk::<NET>() {
        Some((block, more)) => {
            merge_block(&mut top, *block, &mut least);
            more
        }
        None => rest,
    };
    for chunk in more.chunks(NET) {
        let mut block = [u64::MAX; NET];
        for (k, d) in block.iter_mut().enumerate() {
            if let Some(&x) = chunk.get(k) {
                *d = x;
            }
        }
        merge_block(&mut top, block, &mut least);
    }
    // Entries with equal projections differ in their index bits only: the least difference
    // of neighbours (and of the last kept one and the least left out) tells.
    let mut near = least ^ top[NET - 1];
    for k in 1..NET {
        near = near.min(top[k - 1] ^ top[k]);
    }
    (top, near <= FEW_INDEX)
}

/// Sorts `block` and leaves in `top` (sorted) the [`NET`] smallest of both, lowering `least`
/// to the least of the others.
#[inline(always)]
fn merge_block(top: &mut [u64; NET], mut block: [u64; NET], least: &mut u64) {
    sort_net(&mut block);
    // `top` ascending against `block` descending: the smaller of each pair are the NET
    // smallest of both (a bitonic sequence), the larger ones are left out.
    for k in 0..NET {
        let (x, y) = (top[k], block[NET - 1 - k]);
        top[k] = x.min(y);
        *least = (*least).min(x.max(y));
    }
    merge_bitonic_net(top);
}

/// Puts `v[i]` and `v[j]` in ascending order, for each pair `i j` in turn (written out, so
/// that every index is a constant and the entries stay in registers).
macro_rules! exchange {
    ($v:ident; $($i:literal $j:literal),*) => {
        $(
            let (a, b) = ($v[$i], $v[$j]);
            $v[$i] = a.min(b);
            $v[$j] = a.max(b);
        )*
    };
}

/// Sorts 8 entries: an optimal sorting network (19 compare-exchanges in 6 layers; checked on
/// every 0-1 input by `rank::tests::the_networks_sort`).
#[inline(always)]
fn sort_net(v: &mut [u64; NET]) {
    exchange!(v; 0 2, 1 3, 4 6, 5 7, 0 4, 1 5, 2 6, 3 7, 0 1, 2 3, 4 5, 6 7, 2 4, 3 5, 1 4, 3 6, 1 2, 3 4, 5 6);
}

/// Sorts 8 entries that ascend then descend (a bitonic sequence): 12 compare-exchanges.
#[inline(always)]
fn merge_bitonic_net(v: &mut [u64; NET]) {
    exchange!(v; 0 4, 1 5, 2 6, 3 7, 0 2, 1 3, 4 6, 5 7, 0 1, 2 3, 4 5, 6 7);
}

/// Leaves in `order` the positions in `keys` in key order.
///
/// Each key is projected to one `u64`: its [prefix](RankKey::prefix) (tier and the top bits of
/// the score) with its position in the low bits. The projection never puts two keys in the wrong
/// order (it only merges neighbours), so sorting the `u64`s (which the standard library does
/// with branchless sorting networks, unlike 24-byte elements) and then each run of equal
/// projections by the exact key gives the exact order.
fn sort_keys(keys: &[RankKey], order: &mut Vec<u64>) {
    order.clear();
    // Bits for a position (at least one), and the mask that extracts it.
    let pos_bits = usize::BITS - (keys.len().max(2) - 1).leading_zeros();
    let mask = (1u64 << pos_bits) - 1;
    order.extend(
        keys.iter()
            .enumerate()
            .map(|(p, k)| (k.prefix() & !mask) | p as u64),
    );
    order.sort_unstable();
    sort_runs(order, mask, keys.len(), |p| keys[p as usize]);
    for o in order.iter_mut() {
        *o &= mask;
    }
}

/// Sorts by `key` each run of entries of the sorted `order` that agree outside `mask` (their
/// projection), for the runs that start among its first `upto` entries; `key` maps an entry's
/// bits inside `mask` to its exact key. Afterwards those first `upto` entries are in key order.
fn sort_runs(order: &mut [u64], mask: u64, upto: usize, key: impl Fn(u32) -> RankKey) {
    let upto = upto.min(order.len());
    // Most orders hold no run at all: one look at each neighbour (branch-free) tells.
    let scanned = &order[..(upto + 1).min(order.len())];
    if !(scanned.windows(2)).fold(false, |run, w| run | ((w[0] ^ w[1]) <= mask)) {
        return;
    }
    let mut start = 0;
    while start < upto {
        let head = order[start] & !mask;
        let mut end = start + 1;
        while end < order.len() && order[end] & !mask == head {
            end += 1;
        }
        if end - start > 1 {
            order[start..end].sort_unstable_by_key(|p| key((p & mask) as u32));
        }
        start = end;
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

    fn scored(score: Score, cost: f64) -> Candidate {
        Candidate {
            verdict: Verdict::Scored(score),
            ..Candidate::pending(ModelId::new("m"), Estimate::new(0.5, cost, 1.0))
        }
    }

    #[test]
    fn order_is_score_then_cost_then_index_with_nan_and_reserve_last() {
        let mut cands = vec![
            scored(Score::reserve(0.9), 0.0),
            scored(Score::new(f64::NAN), 0.0),
            scored(Score::new(-1.0), 2.0),
            scored(Score::new(-1.0), 1.0),
            scored(Score::new(-0.5), 9.0),
            scored(Score::new(-1.0), 1.0),
        ];
        let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
        rank(&mut cands, &mut ranking, &mut scratch, usize::MAX);
        assert_eq!(ranking, [4, 3, 5, 2, 1, 0]);
        assert_eq!(cands[4].rank, Some(0));
        assert_eq!(cands[0].rank, Some(5));
    }

    /// Scores that tie, differ in their last bits only, or are far apart; reserves that tie on
    /// their score; costs that tie or differ in their last bit.
    fn mixed(n: usize) -> Vec<Candidate> {
        let base = [0.5f64, -0.25, 0.7, -1e-9];
        (0..n)
            .map(|i| {
                let b = base[i % base.len()];
                let value = match i % 5 {
                    0 => b,
                    1 => f64::from_bits(b.to_bits() + (i % 7) as u64),
                    2 => b * (i as f64),
                    3 => f64::NAN,
                    _ => -b,
                };
                let score = if i % 11 == 0 || i % 13 == 0 {
                    Score::reserve((i % 3) as f64 / 5.0)
                } else {
                    Score::new(value)
                };
                let cost = f64::from_bits(((i % 3) as f64).to_bits() + (i % 2) as u64);
                let mut c = scored(score, cost);
                if i % 17 == 5 {
                    c.verdict = Verdict::Pending;
                }
                c
            })
            .collect()
    }

    /// The order written out field by field, independently of [`RankKey`].
    fn expected_order(cands: &[Candidate]) -> Vec<u32> {
        let mut v: Vec<(usize, Score, f64)> = cands
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.score().map(|s| (i, s, c.estimate.unwrap().cost_usd)))
            .collect();
        v.sort_by(|a, b| {
            a.1.better_first(&b.1)
                .then(a.2.total_cmp(&b.2))
                .then(a.0.cmp(&b.0))
        });
        v.iter().map(|x| x.0 as u32).collect()
    }

    #[test]
    fn every_depth_ranks_the_prefix_of_the_full_order_and_rank_rest_completes_it() {
        for n in [1usize, 2, 3, 17, FEW - 1, FEW, FEW + 1, 64, 300, 1500] {
            let full = expected_order(&mixed(n));
            for depth in [0, 1, 2, 7, 8, SMALL_DEPTH, SMALL_DEPTH + 1, 40, n, usize::MAX] {
                let mut cands = mixed(n);
                let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
                rank(&mut cands, &mut ranking, &mut scratch, depth);
                let k = depth.max(1).min(full.len());
                assert_eq!(ranking, full[..k], "{n} candidates, depth {depth}");
                for (i, c) in cands.iter().enumerate() {
                    let ranked = ranking.iter().position(|&r| r as usize == i);
                    assert_eq!(c.rank, ranked.map(|p| p as u32), "{n}/{depth}: candidate {i}");
                    assert!(!matches!(c.verdict, Verdict::Pending));
                }
                rank_rest(&mut cands, &mut ranking);
                assert_eq!(ranking, full, "{n} candidates, depth {depth}, completed");
                for (r, &i) in ranking.iter().enumerate() {
                    assert_eq!(cands[i as usize].rank, Some(r as u32));
                }
            }
        }
    }

    #[test]
    fn few_candidates_tell_merged_projections_apart_across_the_cut() {
        // At most `FEW` candidates are sorted by a projection that drops the score's last bits
        // and ignores the cost: scores one bit apart, equal scores with costs one bit apart, and
        // reserves that tie, in an order that puts the better one later in the catalog, with the
        // depth falling inside each run of equal projections.
        let one_bit = |v: f64, d: u64| f64::from_bits(v.to_bits() + d);
        let mut cands: Vec<Candidate> = (0..FEW as u64)
            .map(|i| match i % 3 {
                0 => scored(Score::new(one_bit(0.5, 8 - i % 8)), 1.0),
                1 => scored(Score::new(0.25), one_bit(2.0, 16 - i % 16)),
                _ => scored(Score::reserve(0.1), one_bit(1.0, 4 - i % 4)),
            })
            .collect();
        let full = expected_order(&cands);
        for depth in [1, 2, 5, 11, 12, 13, 20, 21, FEW] {
            let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
            rank(&mut cands, &mut ranking, &mut scratch, depth);
            assert_eq!(ranking, full[..depth], "depth {depth}");
        }
    }

    #[test]
    fn a_run_crossing_the_cut_with_only_its_first_entry_kept_is_sorted_by_the_exact_key() {
        // The last kept entry's projection ties with entries left out only (none kept before it
        // shares it), and a candidate later in the catalog is better by its exact key: the
        // projections alone, which break the tie by index, would keep the wrong one.
        let one_bit = |v: f64, d: u64| f64::from_bits(v.to_bits() + d);
        // Seven better ones, then the tie at the eighth place (the default depth), and worse.
        let mut deep: Vec<Candidate> = (0..7)
            .map(|i| scored(Score::new(0.9 - f64::from(i) / 100.0), 1.0))
            .collect();
        deep.extend([
            scored(Score::new(0.25), 2.0),
            scored(Score::new(0.1), 1.0),
            scored(Score::new(0.25), 1.0),
            scored(Score::reserve(0.5), 1.0),
        ]);
        let cases: [Vec<Candidate>; 5] = [
            deep,
            // Scores one bit apart.
            vec![
                scored(Score::new(0.5), 1.0),
                scored(Score::new(one_bit(0.5, 1)), 1.0),
                scored(Score::new(0.9), 1.0),
            ],
            // Equal scores, the later one cheaper.
            vec![
                scored(Score::new(0.9), 1.0),
                scored(Score::new(0.25), 2.0),
                scored(Score::new(0.25), one_bit(2.0, 1)),
                scored(Score::new(0.25), 1.0),
            ],
            // The better of two tied entries kept at first, then pushed out by a better one.
            vec![
                scored(Score::new(0.25), 2.0),
                scored(Score::new(0.25), 1.0),
                scored(Score::new(0.9), 1.0),
            ],
            // Reserves that tie on their score, the later one cheaper, below the normal ones.
            vec![
                scored(Score::reserve(0.1), 3.0),
                scored(Score::new(0.5), 1.0),
                scored(Score::reserve(0.1), 2.0),
                scored(Score::new(0.7), 1.0),
                scored(Score::reserve(0.1), 2.5),
            ],
        ];
        for (k, cands) in cases.into_iter().enumerate() {
            let full = expected_order(&cands);
            for depth in 1..=cands.len() {
                let mut cands = cands.clone();
                let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
                rank(&mut cands, &mut ranking, &mut scratch, depth);
                assert_eq!(ranking, full[..depth], "case {k}, depth {depth}");
            }
        }
    }

    #[test]
    fn the_networks_sort() {
        // Every 0-1 input (a network that sorts them sorts everything).
        for bits in 0u32..256 {
            let mut v: [u64; NET] = std::array::from_fn(|k| u64::from(bits >> k & 1));
            sort_net(&mut v);
            assert!(v.is_sorted(), "{bits:08b}: {v:?}");
        }
        // The merge: every pair of sorted 0-1 blocks, the smaller of each entry and its mirror.
        for ones_a in 0..=NET {
            for ones_b in 0..=NET {
                let a: [u64; NET] = std::array::from_fn(|k| u64::from(k >= NET - ones_a));
                let b: [u64; NET] = std::array::from_fn(|k| u64::from(k >= NET - ones_b));
                let mut lo: [u64; NET] = std::array::from_fn(|k| a[k].min(b[NET - 1 - k]));
                merge_bitonic_net(&mut lo);
                let mut both = [a, b].concat();
                both.sort_unstable();
                assert_eq!(lo[..], both[..NET], "{ones_a} and {ones_b} ones");
            }
        }
    }

    #[test]
    fn select_net_keeps_the_smallest_in_order_and_tells_ties() {
        // Distinct entries in a scrambled order, 9 to 32 of them, with the projections (all but
        // the index bits) apart, then with two of them equal.
        for n in NET + 1..=FEW {
            let mut scrambled: Vec<u64> = (0..n as u64).collect();
            scrambled.sort_by_key(|&i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
            let v: Vec<u64> = scrambled.iter().map(|&x| x << 8 | x).collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let (top, tied) = select_net(&v);
            assert!(!tied, "{n}");
            assert_eq!(top[..], sorted[..NET], "{n}");
            for tie in [NET - 2, NET - 1] {
                // Entry `tie + 1` of the order shares entry `tie`'s projection: inside the kept
                // ones, or across the cut.
                let v: Vec<u64> = scrambled
                    .iter()
                    .map(|&x| {
                        let x = x as usize;
                        let p = if x == tie + 1 { tie } else { x };
                        (p as u64) << 8 | x as u64
                    })
                    .collect();
                assert!(select_net(&v).1, "{n}, tie at {tie}");
            }
        }
    }

    /// A value that ties with others, differs from them in its last bits only (so that their
    /// projections tie while their keys do not), or is special: ±0, ±∞, NaN of either sign.
    fn tie_prone(pick: u8, ulps: u8) -> f64 {
        let base = [
            0.0,
            -0.0,
            0.5,
            -0.25,
            0.2,
            0.8,
            1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        let b = base[usize::from(pick) % base.len()];
        if b.is_finite() && b != 0.0 {
            f64::from_bits(b.to_bits() + u64::from(ulps % 48))
        } else {
            b
        }
    }

    proptest::proptest! {
        /// More than `FEW` candidates at every depth up to `SMALL_DEPTH` (the sorted top of
        /// projections and slots) and just past it: the ranking is the prefix of the order
        /// written out field by field, with scores and costs that tie, differ in their last
        /// bits, are ±0, ±∞ or NaN, reserves among them, and some candidates left unscored.
        #[test]
        fn a_top_of_many_ranks_as_the_order_written_out(
            spec in proptest::collection::vec(
                (proptest::prelude::any::<(u8, u8, bool, u8, u8)>(), 0u8..24),
                FEW + 1..4 * FEW,
            ),
            depth in 0..=SMALL_DEPTH + 1,
        ) {
            let costs = [0.0, -0.0, 1.0, f64::from_bits(1.0f64.to_bits() + 1), 2.0, f64::INFINITY, f64::NAN];
            let cands: Vec<Candidate> = spec
                .iter()
                .map(|&((pick, ulps, reserve, cost, _), pending)| {
                    let value = tie_prone(pick, ulps);
                    let score = Score { value, reserve };
                    let mut c = scored(score, costs[usize::from(cost) % costs.len()]);
                    if pending == 0 {
                        c.verdict = Verdict::Pending;
                    }
                    c
                })
                .collect();
            let full = expected_order(&cands);
            let mut cands = cands;
            let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
            rank(&mut cands, &mut ranking, &mut scratch, depth);
            let k = depth.max(1).min(full.len());
            proptest::prop_assert_eq!(&ranking[..], &full[..k]);
            for (r, &i) in ranking.iter().enumerate() {
                proptest::prop_assert_eq!(cands[i as usize].rank, Some(r as u32));
            }
            proptest::prop_assert_eq!(cands.iter().filter(|c| c.rank.is_some()).count(), k);
        }
    }

    #[test]
    fn best_last_in_catalog_order_still_ranks_right() {
        // Each candidate better than all before it: every one enters the top and shifts it.
        let mut cands: Vec<Candidate> = (0..100).map(|i| scored(Score::new(f64::from(i)), 1.0)).collect();
        let (mut ranking, mut scratch) = (Vec::new(), RankScratch::default());
        rank(&mut cands, &mut ranking, &mut scratch, 8);
        assert_eq!(ranking, [99, 98, 97, 96, 95, 94, 93, 92]);
    }
}
