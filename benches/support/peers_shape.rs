//! The side-by-side case of issue 17, shared by `benches/peers.rs` and `tests/peers.rs`:
//! `n` synthetic models from a fixed seed, described alike to taskroute and to `model-router`
//! 1.0.0.
//!
//! - tiers uniform over 1–5 (taskroute: a default quality prior of tier / 5);
//! - an input price of 0.10, 0.30, 1, 3 or 10 $/Mtok by tier, times a random 0.5–2×, and an
//!   output price of 2–5× the input, so tiers overlap in price as real price lists do;
//! - context windows of 32k × 2^0..5;
//! - a task of 1,024 input and 1,024 output tokens;
//! - the floor at tier 3, plus tiers 2, 4 and 5 for N = 1024.
//!
//! What model-router 1.0.0 picks: `Router::select_by_complexity` keeps the models whose tier is
//! at or above the complexity's minimum and returns the one with the highest
//! `ModelPricing::efficiency()`, `tier / ((input + output) / 2)`, ties to the first name. That
//! is the best quality per dollar, not the cheapest model (the crate has no cheapest-at-or-above
//! pick). [`per_dollar`] is that rule as a taskroute policy; [`cost_first`] is taskroute's
//! `CostFirst` at the same floor.

#![allow(dead_code, unreachable_pub)] // each including target uses part of it

use model_router::{ModelPricing, TaskComplexity};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use taskroute::{
    CostFirst, ModelSpec, Policy, Prices, Router, Score, Scorer, ScorerPolicy, TaskKind, TaskSpec, scorer_fn,
};

/// A taskroute router over `models` with `policy`.
pub fn router(models: &[Synthetic], policy: impl Policy + 'static) -> Router {
    Router::builder()
        .models(specs(models))
        .policy(policy)
        .build()
        .expect("the synthetic models build a router")
}

/// The cases of the issue: (models, floor tier).
pub const CASES: [(usize, u8); 8] = [
    (4, 3),
    (16, 3),
    (64, 3),
    (256, 3),
    (1024, 2),
    (1024, 3),
    (1024, 4),
    (1024, 5),
];

/// The seed every case starts from.
pub const SEED: u64 = 0x5EED_0017;

/// One synthetic model.
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub id: String,
    pub tier: u8,
    /// $/Mtok.
    pub input: f64,
    /// $/Mtok.
    pub output: f64,
    pub window: u32,
}

/// `n` models from the fixed seed (the same `n` always gives the same models).
pub fn synthetic(n: usize) -> Vec<Synthetic> {
    const BASE: [f64; 5] = [0.10, 0.30, 1.0, 3.0, 10.0];
    let mut rng = Pcg64Mcg::seed_from_u64(SEED ^ n as u64);
    (0..n)
        .map(|i| {
            let tier: u8 = rng.random_range(1..=5);
            let input = BASE[usize::from(tier - 1)] * rng.random_range(0.5..=2.0);
            let output = input * rng.random_range(2.0..=5.0);
            let window = 32_000u32 << rng.random_range(0..=5u32);
            Synthetic {
                id: format!("m{i:04}"),
                tier,
                input,
                output,
                window,
            }
        })
        .collect()
}

/// The models as taskroute specs (no latency profile, no per-kind prior: the default prior
/// tier / 5 is the quality).
pub fn specs(models: &[Synthetic]) -> Vec<ModelSpec> {
    models
        .iter()
        .map(|m| {
            ModelSpec::new(
                m.id.as_str(),
                "synthetic",
                Prices::new(m.input, m.output),
                m.window,
            )
            .with_max_output_tokens(m.window)
            .with_default_quality(f64::from(m.tier) / 5.0)
        })
        .collect()
}

/// How many entries model-router's built-in pricing table holds: a `model_router::Router` always
/// starts with them and cannot remove them.
pub fn builtin_entries() -> usize {
    model_router::Router::new("none").pricing_table().len()
}

/// A model-router router over these models. Its built-in entries cannot be removed, so they
/// are set to tier 0: below every floor, filtered out first thing, never picked (each still
/// costs model-router one step of its scan).
pub fn model_router(models: &[Synthetic]) -> model_router::Router {
    let mut r = model_router::Router::new("none");
    let builtin: Vec<String> = r.pricing_table().keys().cloned().collect();
    for key in builtin {
        r.add_pricing(key, ModelPricing::new(1.0, 1.0).with_quality_tier(0));
    }
    for m in models {
        r.add_pricing(
            m.id.as_str(),
            ModelPricing::new(m.input, m.output)
                .with_context_window(m.window as usize)
                .with_max_output_tokens(m.window as usize)
                .with_quality_tier(m.tier),
        );
    }
    r
}

/// model-router's complexity for a floor tier (its minimum tier is the floor).
pub fn complexity(floor: u8) -> TaskComplexity {
    let c = match floor {
        2 => TaskComplexity::Simple,
        3 => TaskComplexity::Medium,
        4 => TaskComplexity::Complex,
        5 => TaskComplexity::Critical,
        other => panic!("no model-router complexity has minimum tier {other}"),
    };
    assert_eq!(c.min_quality_tier(), floor);
    c
}

/// The task: 1,024 tokens in, 1,024 out.
pub fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, 1_024).with_output_tokens(1_024)
}

/// taskroute's `CostFirst` at the floor tier (quality floor tier / 5): the cheapest model at or
/// above the floor.
pub fn cost_first(floor: u8) -> CostFirst {
    CostFirst::new(f64::from(floor) / 5.0).unwrap()
}

/// model-router's rule as a taskroute policy: the highest expected quality per expected dollar
/// among the models at or above the floor; below it, reserves by quality as `CostFirst` keeps
/// them. With 1,024 tokens in and out, the expected cost is 2,048 × the mean price / 10^6, so
/// quality / cost orders the models as model-router's `tier / mean price` does.
pub fn per_dollar(floor: u8) -> ScorerPolicy<impl Scorer> {
    let floor = f64::from(floor) / 5.0;
    ScorerPolicy(scorer_fn("quality-per-dollar", move |_task, e| {
        Ok(if e.quality >= floor {
            Score::new(e.quality / e.cost_usd)
        } else {
            Score::reserve(e.quality)
        })
    }))
}
