//! taskroute beside the closest crate on crates.io, `model-router` 1.0.0, on the case of
//! issue 17 (`benches/support/peers_shape.rs`): N ∈ {4, 16, 64, 256, 1024} synthetic models from a
//! fixed seed, the floor at tier 3 (and 2, 4, 5 at N = 1024), a task of 1,024 + 1,024 tokens.
//!
//! Timed in the same run, per case (group `peers/n<N>_tier<floor>`):
//! - `model-router`: `Router::select_by_complexity`, its only tier-aware pick (a filtered scan
//!   of its `BTreeMap`, a `Vec`, a stable sort by quality per dollar);
//! - `route_into/per_dollar`: taskroute into a reused `Decision`, with model-router's rule as a
//!   taskroute policy (the pick `tests/peers.rs` checks is the same in every case);
//! - `route_into/cost_first`: the same with `CostFirst` at the floor (the cheapest model at or
//!   above it, which is a different pick in some cases);
//! - `route/cost_first`: taskroute into a fresh `Decision` (allocates).
//!
//! And once, `peers/builtins_only/model-router`: model-router over its built-in entries alone
//! (set to tier 0, as in every case): the part of its time those entries take.
//!
//! Run: `TASKROUTE_BENCH_CLOCK=thread-cpu cargo bench --bench peers -- --warm-up-time 1 --measurement-time 3`
//! (clocks as in `benches/route.rs`). Figures: docs/performance.md.

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use taskroute::Decision;

#[path = "support/peers_shape.rs"]
mod shape;

#[path = "support/clock.rs"]
mod clock;

fn run<M: Measurement>(mut c: Criterion<M>, prefix: &str) {
    let task = shape::task();
    for (n, floor) in shape::CASES {
        let models = shape::synthetic(n);
        let theirs = shape::model_router(&models);
        let complexity = shape::complexity(floor);
        let per_dollar = shape::router(&models, shape::per_dollar(floor));
        let cost_first = shape::router(&models, shape::cost_first(floor));
        let mut group = c.benchmark_group(format!("{prefix}peers/n{n}_tier{floor}"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter("model-router"), |b| {
            b.iter(|| black_box(black_box(&theirs).select_by_complexity(black_box(complexity))))
        });
        for (name, r) in [
            ("route_into/per_dollar", &per_dollar),
            ("route_into/cost_first", &cost_first),
        ] {
            let mut d = Decision::new();
            r.route_into(&task, &mut d).unwrap();
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    black_box(r)
                        .route_into(black_box(&task), black_box(&mut d))
                        .unwrap();
                })
            });
        }
        group.bench_function(BenchmarkId::from_parameter("route/cost_first"), |b| {
            b.iter(|| black_box(black_box(&cost_first).route(black_box(&task)).unwrap()))
        });
        group.finish();
    }
    let theirs = shape::model_router(&[]);
    let mut group = c.benchmark_group(format!("{prefix}peers/builtins_only"));
    group.bench_function(BenchmarkId::from_parameter("model-router"), |b| {
        b.iter(|| black_box(black_box(&theirs).select_by_complexity(black_box(shape::complexity(3)))))
    });
    group.finish();
    c.final_summary();
}

clock::clock_main!(run);
