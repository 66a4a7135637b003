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
//! The clock is the thread's CPU time on Unix, else the wall clock.

use std::hint::black_box;

use std::sync::Arc;

use taskroute::{Decision, Policy, Router, Weighted};

/// `Weighted`'s cost weight: 100 quality points per USD (a cent buys a point).
const WEIGHTED_COST: f64 = 100.0;

#[path = "support/peers_shape.rs"]
mod shape;

/// Nanoseconds on the thread's CPU clock (Unix), else on a monotonic wall clock.
fn now_ns() -> u64 {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The time of `iters` calls of `f`.
fn block(iters: u64, f: &mut dyn FnMut()) -> u64 {
    let start = now_ns();
    for _ in 0..iters {
        f();
    }
    now_ns() - start
}

/// How many calls of `f` take about `target_ns` (at least one).
fn calibrate(target_ns: u64, f: &mut dyn FnMut()) -> u64 {
    let mut iters = 1;
    loop {
        let t = block(iters, f);
        if t >= target_ns / 4 || iters >= 1 << 24 {
            return (iters * target_ns / t.max(1)).max(1);
        }
        iters *= 2;
    }
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// What one case measured, per call, for one of taskroute's policies.
struct Paired {
    ratios: Vec<f64>,
    theirs_ns: Vec<f64>,
    ours_ns: Vec<f64>,
}

/// `rounds` rounds of one block of each of `all` (model-router's pick first, then taskroute's
/// policies), in an order that rotates every round; each of the others gets the ratio to the
/// first's block of its round.
fn measure(rounds: usize, all: &mut [Box<dyn FnMut() + '_>]) -> Vec<Paired> {
    const BLOCK_NS: u64 = 1_000_000;
    // Warm-up, then iteration counts fixed for the whole run.
    for f in all.iter_mut() {
        block(calibrate(BLOCK_NS, f), f);
    }
    let iters: Vec<u64> = all.iter_mut().map(|f| calibrate(BLOCK_NS, f)).collect();
    let mut out: Vec<Paired> = (1..all.len())
        .map(|_| Paired {
            ratios: Vec::with_capacity(rounds),
            theirs_ns: Vec::with_capacity(rounds),
            ours_ns: Vec::with_capacity(rounds),
        })
        .collect();
    let mut ns = vec![0.0; all.len()];
    for round in 0..rounds {
        for k in 0..all.len() {
            let j = (round + k) % all.len();
            ns[j] = block(iters[j], &mut *all[j]) as f64 / iters[j] as f64;
        }
        for (p, &o) in out.iter_mut().zip(&ns[1..]) {
            p.ratios.push(o / ns[0]);
            p.theirs_ns.push(ns[0]);
            p.ours_ns.push(o);
        }
    }
    for p in &mut out {
        for v in [&mut p.ratios, &mut p.theirs_ns, &mut p.ours_ns] {
            v.sort_by(f64::total_cmp);
        }
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters the cases by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds = match std::env::var("TASKROUTE_PAIRS") {
        Ok(v) => v.parse().expect("TASKROUTE_PAIRS: a number of rounds"),
        Err(_) => 400,
    };
    assert!(rounds > 0, "TASKROUTE_PAIRS: at least one round");
    let task = shape::task();
    println!("case            policy        pairs  ours/theirs median [q1, q3]  ours ns  theirs ns");
    for (n, floor) in shape::CASES {
        let name = format!("n{n}_tier{floor}");
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let models = shape::synthetic(n);
        let model_router = shape::model_router(&models);
        let complexity = shape::complexity(floor);
        let policies: [(&str, Arc<dyn Policy>); 2] = [
            ("cost_first", Arc::new(shape::cost_first(floor))),
            (
                "weighted",
                Arc::new(Weighted::new(WEIGHTED_COST).expect("a valid weight")),
            ),
        ];
        let routers: Vec<Router> = policies
            .iter()
            .map(|(_, p)| {
                Router::builder()
                    .models(shape::specs(&models))
                    .shared_policy(Arc::clone(p))
                    .build()
                    .expect("the synthetic models build a router")
            })
            .collect();
        let mut decisions: Vec<Decision> = routers.iter().map(|_| Decision::new()).collect();
        let mut all: Vec<Box<dyn FnMut() + '_>> = vec![Box::new(|| {
            black_box(black_box(&model_router).select_by_complexity(black_box(complexity)));
        })];
        for (r, d) in routers.iter().zip(decisions.iter_mut()) {
            let task = &task;
            all.push(Box::new(move || {
                black_box(r)
                    .route_into(black_box(task), black_box(&mut *d))
                    .expect("every case has an eligible model");
            }));
        }
        let measured = measure(rounds, &mut all);
        for ((policy, _), p) in policies.iter().zip(&measured) {
            println!(
                "{name:<15} {policy:<12} {rounds:>5}  {:.3} [{:.3}, {:.3}]        {:>8.0} {:>9.0}",
                quantile(&p.ratios, 0.5),
                quantile(&p.ratios, 0.25),
                quantile(&p.ratios, 0.75),
                quantile(&p.ours_ns, 0.5),
                quantile(&p.theirs_ns, 0.5),
            );
        }
    }
}
