//! taskroute's `route_into` beside `model-router` 1.0.0's pick, timed in interleaved pairs: the
//! ratio of the two, measured so that a host whose speed drifts over seconds moves both sides
//! alike.
//!
//! `benches/peers.rs` times each side for seconds, one after the other, as criterion does. On a
//! shared virtual machine the host's speed drifts between those seconds: in one binary,
//! model-router's own median at 1,024 models moved by 46 % between runs (docs/performance.md,
//! round 16), more than the change being measured. Here each case instead runs many rounds of
//! short blocks (about a millisecond each, the same iteration count every block): one block of
//! model-router's pick and one of taskroute's `route_into` per policy, in an order that rotates
//! every round. Each round gives each policy a ratio to model-router's block of that round; the
//! figure is the median of those ratios, with their quartiles. The policies: `cost_first`,
//! `CostFirst` at the floor (issue 17's target), and `weighted`, `Weighted` at 100 quality
//! points per USD (a different pick; model-router serves as a fixed yardstick when two builds
//! of taskroute are compared). The case and the models are those of `benches/peers.rs`
//! (`benches/support/peers_shape.rs`).
//!
//! Run: `cargo bench --bench paired` (all cases), or `cargo bench --bench paired -- 1024`
//! (cases whose name contains `1024`). `TASKROUTE_PAIRS` sets the rounds per case (default 400).
//! The clock is the thread's CPU time on Unix (`benches/support/thread_cpu.rs`), else criterion's wall
//! clock.

use std::hint::black_box;

use criterion::measurement::Measurement;
use taskroute::{Decision, Router, Weighted};

#[path = "support/peers_shape.rs"]
mod shape;

#[cfg(unix)]
#[path = "support/thread_cpu.rs"]
mod thread_cpu;

/// `Weighted`'s cost weight: 100 quality points per USD (a cent buys a point).
const WEIGHTED_COST: f64 = 100.0;

/// The rounds per case unless `TASKROUTE_PAIRS` says otherwise.
const ROUNDS: usize = 400;

/// The clock: the thread's CPU time on Unix, else the wall clock.
#[cfg(unix)]
const CLOCK: thread_cpu::ThreadCpu = thread_cpu::ThreadCpu;
#[cfg(not(unix))]
const CLOCK: criterion::measurement::WallTime = criterion::measurement::WallTime;

/// The time of `iters` calls of `f`, in nanoseconds.
fn block(iters: u64, f: &mut dyn FnMut()) -> f64 {
    let start = CLOCK.start();
    for _ in 0..iters {
        f();
    }
    CLOCK.to_f64(&CLOCK.end(start))
}

/// How many calls of `f` take about `target_ns` (at least one).
fn calibrate(target_ns: f64, f: &mut dyn FnMut()) -> u64 {
    let mut iters = 1;
    loop {
        let t = block(iters, f);
        if t >= target_ns / 4.0 || iters >= 1 << 24 {
            return ((iters as f64 * target_ns / t.max(1.0)) as u64).max(1);
        }
        iters *= 2;
    }
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `rounds` rounds of one block of each of `all`, in an order that rotates every round: for
/// each of `all`, its time per call in each round, in round order.
fn measure(rounds: usize, all: &mut [Box<dyn FnMut() + '_>]) -> Vec<Vec<f64>> {
    const BLOCK_NS: f64 = 1e6;
    // Warm-up, then iteration counts fixed for the whole run.
    for f in all.iter_mut() {
        block(calibrate(BLOCK_NS, f), f);
    }
    let iters: Vec<u64> = all.iter_mut().map(|f| calibrate(BLOCK_NS, f)).collect();
    let mut ns = vec![Vec::with_capacity(rounds); all.len()];
    for round in 0..rounds {
        for k in 0..all.len() {
            let j = (round + k) % all.len();
            ns[j].push(block(iters[j], &mut *all[j]) / iters[j] as f64);
        }
    }
    ns
}

/// `v` sorted.
fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters the cases by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds = match std::env::var("TASKROUTE_PAIRS") {
        Ok(v) => v.parse().expect("TASKROUTE_PAIRS: a number of rounds"),
        Err(_) => ROUNDS,
    };
    assert!(rounds > 0, "TASKROUTE_PAIRS: at least one round");
    let task = shape::task();
    println!("case            policy       rounds  ours/theirs median [q1, q3]  ours ns  theirs ns");
    for (n, floor) in shape::CASES {
        let name = format!("n{n}_tier{floor}");
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let models = shape::synthetic(n);
        let model_router = shape::model_router(&models);
        let complexity = shape::complexity(floor);
        let routers: [(&str, Router); 2] = [
            ("cost_first", shape::router(&models, shape::cost_first(floor))),
            (
                "weighted",
                shape::router(&models, Weighted::new(WEIGHTED_COST).expect("a valid weight")),
            ),
        ];
        let mut decisions = [Decision::new(), Decision::new()];
        let mut all: Vec<Box<dyn FnMut() + '_>> = vec![Box::new(|| {
            black_box(black_box(&model_router).select_by_complexity(black_box(complexity)));
        })];
        for ((_, r), d) in routers.iter().zip(&mut decisions) {
            let task = &task;
            all.push(Box::new(move || {
                black_box(r)
                    .route_into(black_box(task), black_box(&mut *d))
                    .expect("every case has an eligible model");
            }));
        }
        let ns = measure(rounds, &mut all);
        let theirs = &ns[0];
        for ((policy, _), ours) in routers.iter().zip(&ns[1..]) {
            let ratios = sorted(ours.iter().zip(theirs).map(|(o, t)| o / t).collect());
            println!(
                "{name:<15} {policy:<12} {rounds:>6}  {:.3} [{:.3}, {:.3}]        {:>8.0} {:>9.0}",
                quantile(&ratios, 0.5),
                quantile(&ratios, 0.25),
                quantile(&ratios, 0.75),
                quantile(&sorted(ours.clone()), 0.5),
                quantile(&sorted(theirs.clone()), 0.5),
            );
        }
    }
}
