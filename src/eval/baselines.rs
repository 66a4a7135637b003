//! [`Baselines`]: every single model, the zero router, the oracle and a seeded random router.

use rand::RngExt;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::data::Outcomes;
use super::metrics::{self, Point};
use super::replay::Summary;

/// The baselines every report shows beside the policies.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Baselines {
    /// Each model alone, in the table's order.
    pub singles: Vec<Summary>,
    /// The zero router: the non-decreasing convex hull of the single models' points (mixing
    /// models at random, no per-prompt routing).
    pub zero_router: Vec<Point>,
    /// The oracle: per prompt the best recorded quality, the cheapest model among those reaching
    /// it (for 0/1 data: the cheapest model that succeeds, else the cheapest model).
    pub oracle: Summary,
    /// A model picked uniformly at random per prompt (seeded).
    pub random: Summary,
    /// The single model with the best quality (ties: the cheaper one): the reference for AIQ's
    /// cost range and savings at parity.
    pub best_single: usize,
}

impl Baselines {
    /// Computes every baseline on `data`; `seed` drives the random router
    /// (`Pcg64Mcg::seed_from_u64`).
    pub fn compute(data: &Outcomes, seed: u64) -> Baselines {
        let n = data.prompts();
        let m = data.models().len();
        let singles: Vec<Summary> = (0..m)
            .map(|j| Summary::from_choices(data.models()[j].to_string(), None, data, &vec![Some(j); n]))
            .collect();
        let best_single = (0..m)
            .max_by(|&a, &b| {
                singles[a]
                    .quality
                    .total_cmp(&singles[b].quality)
                    .then(singles[b].cost.total_cmp(&singles[a].cost))
            })
            .unwrap_or(0);
        let oracle: Vec<Option<usize>> = (0..n)
            .map(|p| {
                (0..m).max_by(|&a, &b| {
                    data.quality(p, a)
                        .total_cmp(&data.quality(p, b))
                        .then(data.cost(p, b).total_cmp(&data.cost(p, a)))
                        .then(b.cmp(&a))
                })
            })
            .collect();
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let random: Vec<Option<usize>> = (0..n).map(|_| Some(rng.random_range(0..m))).collect();
        Baselines {
            zero_router: metrics::hull(&singles.iter().map(Summary::point).collect::<Vec<_>>()),
            singles,
            oracle: Summary::from_choices("oracle".into(), None, data, &oracle),
            random: Summary::from_choices(format!("random (seed {seed})"), None, data, &random),
            best_single,
        }
    }
}
