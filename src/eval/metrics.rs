//! Cost-quality metrics: RouterBench's AIQ, RouteLLM's PGR, APGR and CPT, savings at parity and
//! quality at a budget. Formulas and conventions: `docs/metrics.md`.
//!
//! Every function takes plain `(cost, quality)` [`Point`]s (mean cost per prompt in USD, mean
//! quality in `[0, 1]`), so the metrics apply to any router's operating points, not only to
//! this crate's replays.

use serde::{Deserialize, Serialize};

/// An operating point: mean cost per prompt and mean quality.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // a plain pair, deliberately open
pub struct Point {
    /// Mean cost per prompt (USD).
    pub cost: f64,
    /// Mean quality in `[0, 1]`.
    pub quality: f64,
}

impl Point {
    /// A point.
    pub const fn new(cost: f64, quality: f64) -> Self {
        Self { cost, quality }
    }
}

/// The non-decreasing upper convex hull of `points` (RouterBench): the best quality reachable at
/// each cost by mixing operating points at random, keeping only the part where quality rises.
///
/// Returned sorted by cost, strictly increasing in cost and quality. Points that are NaN are
/// ignored; an empty input gives an empty hull.
pub fn hull(points: &[Point]) -> Vec<Point> {
    let mut pts: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.cost.is_finite() && p.quality.is_finite())
        .collect();
    // By cost, and at equal cost best quality first (so the others are dropped).
    pts.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(b.quality.total_cmp(&a.quality)));
    let mut h: Vec<Point> = Vec::with_capacity(pts.len());
    for p in pts {
        // Non-decreasing: a point no better than the best so far adds nothing.
        if let Some(last) = h.last()
            && p.quality <= last.quality
        {
            continue;
        }
        // Upper hull: pop points that lie on or below the segment to `p`.
        while h.len() >= 2 {
            let (a, b) = (h[h.len() - 2], h[h.len() - 1]);
            let cross =
                (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
            if cross >= 0.0 {
                h.pop();
            } else {
                break;
            }
        }
        h.push(p);
    }
    h
}

/// The hull's quality at `cost`: linear between hull points, flat after the last one, `None`
/// before the first one (or for an empty hull).
pub fn hull_quality_at(hull: &[Point], cost: f64) -> Option<f64> {
    let first = hull.first()?;
    if cost < first.cost {
        return None;
    }
    for w in hull.windows(2) {
        let (a, b) = (w[0], w[1]);
        if cost <= b.cost {
            let t = if b.cost > a.cost {
                (cost - a.cost) / (b.cost - a.cost)
            } else {
                1.0
            };
            return Some(a.quality + t * (b.quality - a.quality));
        }
    }
    hull.last().map(|p| p.quality)
}

/// Area under a hull between `lo` and `hi` (trapezoids; flat after its last point; the part
/// before its first point counts as quality 0).
fn hull_area(hull: &[Point], lo: f64, hi: f64) -> f64 {
    if hull.is_empty() || hi <= lo {
        return 0.0;
    }
    // Breakpoints inside (lo, hi).
    let mut xs = vec![lo];
    xs.extend(hull.iter().map(|p| p.cost).filter(|&c| c > lo && c < hi));
    xs.push(hi);
    let f = |c: f64| hull_quality_at(hull, c).unwrap_or(0.0);
    let first = hull[0].cost;
    // `first` is a breakpoint when inside the range, so no window straddles it.
    xs.windows(2)
        .filter(|w| w[1] > first)
        .map(|w| (f(w[0]) + f(w[1])) * (w[1] - w[0]) / 2.0)
        .sum()
}

/// AIQ ("average improvement in quality", RouterBench), this crate's convention: the area under
/// the non-decreasing convex hull of `points` together with the origin `(0, 0)` (routing nothing
/// costs and achieves nothing), from cost 0 to `cost_max`, divided by `cost_max`. The hull is
/// flat after its last point. Use the best single model's mean cost as `cost_max` so that every
/// router and the zero router are measured on the same range.
///
/// `None` when `cost_max` is not positive and finite or there are no points.
pub fn aiq(points: &[Point], cost_max: f64) -> Option<f64> {
    if !(cost_max.is_finite() && cost_max > 0.0) || points.is_empty() {
        return None;
    }
    let mut pts = points.to_vec();
    pts.push(Point::new(0.0, 0.0));
    let h = hull(&pts);
    Some(hull_area(&h, 0.0, cost_max) / cost_max)
}

/// AIQ in the RouterBench paper's convention: the area under the non-decreasing convex hull of
/// `points` from their lowest to their highest cost, divided by that range.
///
/// `None` for fewer than two distinct costs.
pub fn aiq_own_range(points: &[Point]) -> Option<f64> {
    let h = hull(points);
    let lo = points
        .iter()
        .map(|p| p.cost)
        .filter(|c| c.is_finite())
        .reduce(f64::min)?;
    let hi = points
        .iter()
        .map(|p| p.cost)
        .filter(|c| c.is_finite())
        .reduce(f64::max)?;
    (hi > lo).then(|| hull_area(&h, lo, hi) / (hi - lo))
}

/// Performance gap recovered (RouteLLM): `(quality - weak) / (strong - weak)`.
///
/// `None` when the strong and weak qualities are equal.
pub fn pgr(quality: f64, weak: f64, strong: f64) -> Option<f64> {
    (strong != weak).then(|| (quality - weak) / (strong - weak))
}

/// A router's PGR curve: `(x, PGR)` with `x` the share of calls to the strong model (RouteLLM;
/// or normalised cost for routers over more than two models), sorted by `x`, with the end points
/// `(0, 0)` (all calls to the weak model) and `(1, 1)` (all to the strong one) added.
fn pgr_curve(points: &[(f64, f64)], weak: f64, strong: f64) -> Option<Vec<(f64, f64)>> {
    let mut c: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|&(x, q)| Some((x.clamp(0.0, 1.0), pgr(q, weak, strong)?)))
        .filter(|(x, g)| x.is_finite() && g.is_finite())
        .collect();
    c.push((0.0, 0.0));
    c.push((1.0, 1.0));
    c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // At equal x keep the best PGR.
    c.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.max(later.1);
            true
        } else {
            false
        }
    });
    (strong != weak).then_some(c)
}

/// Average performance gap recovered (RouteLLM): the area under PGR as a function of `x` in
/// `[0, 1]`, with `x` the share of calls to the strong model (or normalised cost). `points` are
/// `(x, quality)`; the curve is piecewise linear through them and the end points `(0, 0)` and
/// `(1, 1)`.
///
/// `None` when `weak == strong`.
pub fn apgr(points: &[(f64, f64)], weak: f64, strong: f64) -> Option<f64> {
    let c = pgr_curve(points, weak, strong)?;
    Some(
        c.windows(2)
            .map(|w| (w[0].1 + w[1].1) * (w[1].0 - w[0].0) / 2.0)
            .sum(),
    )
}

/// Call-performance threshold CPT(`target`) (RouteLLM): the smallest `x` (share of calls to the
/// strong model, or normalised cost) at which the piecewise-linear PGR curve reaches `target`
/// (`0.5` for CPT(50%)).
///
/// `None` when `weak == strong`; `Some(1.0)` at worst, since all calls to the strong model give
/// PGR 1.
pub fn cpt(points: &[(f64, f64)], weak: f64, strong: f64, target: f64) -> Option<f64> {
    let c = pgr_curve(points, weak, strong)?;
    if c[0].1 >= target {
        return Some(c[0].0);
    }
    for w in c.windows(2) {
        let ((x0, g0), (x1, g1)) = (w[0], w[1]);
        if g1 >= target && g0 < target {
            return Some(x0 + (target - g0) / (g1 - g0) * (x1 - x0));
        }
    }
    Some(1.0)
}

/// Savings at parity: the lowest cost at which the hull of `points` (with the origin) reaches
/// `best.quality`, as a share of `best.cost` (`0.4` means parity at 40 % of the best single
/// model's cost, a 60 % saving). `None` when the hull never reaches that quality.
pub fn cost_share_at_parity(points: &[Point], best: Point) -> Option<f64> {
    let mut pts = points.to_vec();
    pts.push(Point::new(0.0, 0.0));
    let h = hull(&pts);
    let i = h.iter().position(|p| p.quality >= best.quality)?;
    let c = if i == 0 {
        h[0].cost
    } else {
        let (a, b) = (h[i - 1], h[i]);
        a.cost + (best.quality - a.quality) / (b.quality - a.quality) * (b.cost - a.cost)
    };
    (best.cost > 0.0).then(|| c / best.cost)
}

/// Quality at a budget: the best quality among `points` whose cost is at most `budget` (an
/// operating point actually reached, no mixing). `None` when none fits.
pub fn quality_at_budget(points: &[Point], budget: f64) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.cost <= budget && p.quality.is_finite())
        .map(|p| p.quality)
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hull_drops_dominated_and_concave_points() {
        let pts = [
            Point::new(1.0, 0.5),
            Point::new(2.0, 0.55), // below the segment (1,.5)-(3,.8)
            Point::new(3.0, 0.8),
            Point::new(4.0, 0.7), // dearer and worse
            Point::new(1.0, 0.4), // same cost, worse
        ];
        assert_eq!(hull(&pts), vec![Point::new(1.0, 0.5), Point::new(3.0, 0.8)]);
        assert_eq!(hull_quality_at(&hull(&pts), 2.0), Some(0.65));
        assert_eq!(hull_quality_at(&hull(&pts), 10.0), Some(0.8));
        assert_eq!(hull_quality_at(&hull(&pts), 0.5), None);
    }

    #[test]
    fn aiq_by_hand() {
        // Hull with origin: (0,0) -> (1,0.5) -> (3,0.8), flat to 4.
        // Area: 0.25 + (0.5+0.8)/2*2 = 1.55, + 0.8*1 = 2.35; / 4 = 0.5875.
        let pts = [Point::new(1.0, 0.5), Point::new(3.0, 0.8), Point::new(4.0, 0.7)];
        assert!(close(aiq(&pts, 4.0).unwrap(), 0.5875));
        // One point at (2, 0.6) over [0, 2]: triangle 0.6; / 2 = 0.3.
        assert!(close(aiq(&[Point::new(2.0, 0.6)], 2.0).unwrap(), 0.3));
        assert_eq!(aiq(&pts, 0.0), None);
        // RouterBench's own range [1, 4]: (0.5+0.8)/2*2 + 0.8 = 2.1; / 3 = 0.7.
        assert!(close(aiq_own_range(&pts).unwrap(), 0.7));
    }

    #[test]
    fn pgr_apgr_cpt_by_hand() {
        assert!(close(pgr(0.75, 0.6, 0.9).unwrap(), 0.5));
        assert_eq!(pgr(0.7, 0.8, 0.8), None);
        // Router at 50% strong calls reaching PGR 0.75: curve (0,0) (0.5,0.75) (1,1).
        // APGR = 0.5*0.75/2 + 0.5*(0.75+1)/2 = 0.1875 + 0.4375 = 0.625.
        let pts = [(0.5, 0.6 + 0.75 * 0.3)];
        assert!(close(apgr(&pts, 0.6, 0.9).unwrap(), 0.625));
        // Random routing (PGR = x) gives APGR 0.5.
        assert!(close(apgr(&[(0.3, 0.69), (0.7, 0.81)], 0.6, 0.9).unwrap(), 0.5));
        // CPT(50%): PGR rises 0 -> 0.75 over x 0 -> 0.5, so 0.5 is reached at x = 1/3.
        assert!(close(cpt(&pts, 0.6, 0.9, 0.5).unwrap(), 1.0 / 3.0));
        // CPT(80%): between (0.5, 0.75) and (1, 1): x = 0.5 + 0.05/0.25*0.5 = 0.6.
        assert!(close(cpt(&pts, 0.6, 0.9, 0.8).unwrap(), 0.6));
    }

    #[test]
    fn savings_at_parity_and_budget_by_hand() {
        let best = Point::new(4.0, 0.8);
        // Hull (0,0) (1,0.6) (2,0.9): reaches 0.8 at 1 + 0.2/0.3 = 5/3; share 5/12.
        let pts = [Point::new(1.0, 0.6), Point::new(2.0, 0.9)];
        assert!(close(cost_share_at_parity(&pts, best).unwrap(), 5.0 / 12.0));
        assert_eq!(cost_share_at_parity(&[Point::new(1.0, 0.6)], best), None);
        assert_eq!(quality_at_budget(&pts, 1.5), Some(0.6));
        assert_eq!(quality_at_budget(&pts, 0.5), None);
        assert_eq!(quality_at_budget(&pts, 2.0), Some(0.9));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn points() -> impl Strategy<Value = Vec<Point>> {
        prop::collection::vec(
            (0.0f64..10.0, 0.0f64..1.0).prop_map(|(c, q)| Point::new(c, q)),
            1..30,
        )
    }

    proptest! {
        #[test]
        fn hull_is_increasing_concave_and_dominates_every_point(pts in points()) {
            let h = hull(&pts);
            prop_assert!(!h.is_empty());
            for w in h.windows(2) {
                prop_assert!(w[0].cost < w[1].cost && w[0].quality < w[1].quality);
            }
            for w in h.windows(3) {
                let s1 = (w[1].quality - w[0].quality) / (w[1].cost - w[0].cost);
                let s2 = (w[2].quality - w[1].quality) / (w[2].cost - w[1].cost);
                prop_assert!(s2 < s1 + 1e-9, "slopes {s1} then {s2}");
            }
            for p in &pts {
                if let Some(q) = hull_quality_at(&h, p.cost) {
                    prop_assert!(q >= p.quality - 1e-9);
                }
            }
            prop_assert!(h.iter().all(|v| pts.contains(v)));
        }

        #[test]
        fn aiq_is_between_zero_and_the_best_quality(pts in points(), c in 0.01f64..20.0) {
            let a = aiq(&pts, c).unwrap();
            let best = pts.iter().map(|p| p.quality).fold(0.0, f64::max);
            prop_assert!((0.0..=best + 1e-12).contains(&a), "{a} vs {best}");
            // Adding a point never lowers AIQ.
            let mut more = pts.clone();
            more.push(Point::new(c / 2.0, 0.5));
            prop_assert!(aiq(&more, c).unwrap() >= a - 1e-12);
        }

        #[test]
        fn cpt_rises_with_the_target(xs in prop::collection::vec((0.0f64..1.0, 0.5f64..0.9), 0..10)) {
            let mut last = 0.0;
            for t in [0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
                let x = cpt(&xs, 0.5, 0.9, t).unwrap();
                prop_assert!((0.0..=1.0).contains(&x) && x >= last - 1e-12, "{t}: {x} after {last}");
                last = x;
            }
            let a = apgr(&xs, 0.5, 0.9).unwrap();
            prop_assert!(a.is_finite());
        }
    }
}
