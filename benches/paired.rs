//! taskroute's `route_into` beside `model-router` 1.0.0's pick, timed in interleaved pairs: the
//! ratio of the two, measured so that a host whose speed drifts over seconds moves both sides
//! alike.
//!
//! `benches/peers.rs` times each side for seconds, one after the other, as criterion does. On a
//! shared virtual machine the host's speed drifts between those seconds: in one binary,
//! model-router's own median at 1,024 models moved by 46 % between runs (docs/performance.md,
//! round 16), more than the change being measured. Here each case instead runs many pairs of
//! short blocks (about a millisecond each, the same iteration count every block): one block of
//! model-router's pick, one of taskroute's `route_into` with `CostFirst` at the floor, in turns
//! (AB, BA, AB, ...). Each pair gives a ratio; the figure is the median of those ratios, with
//! their quartiles. The case and the models are those of `benches/peers.rs`
//! (`benches/support/peers_shape.rs`).
//!
//! Run: `cargo bench --bench paired` (all cases), or `cargo bench --bench paired -- 1024`
//! (cases whose name contains `1024`). `TASKROUTE_PAIRS` sets the pairs per case (default 400).
//! The clock is the thread's CPU time on Unix, else the wall clock.

use std::hint::black_box;

use taskroute::{Decision, Router};

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
fn block(iters: u64, f: &mut impl FnMut()) -> u64 {
    let start = now_ns();
    for _ in 0..iters {
        f();
    }
    now_ns() - start
}

/// How many calls of `f` take about `target_ns` (at least one).
fn calibrate(target_ns: u64, f: &mut impl FnMut()) -> u64 {
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

/// What one case measured, per call.
struct Paired {
    ratios: Vec<f64>,
    theirs_ns: Vec<f64>,
    ours_ns: Vec<f64>,
}

/// `pairs` pairs of blocks of `theirs` and `ours`, in turns.
fn measure(pairs: usize, theirs: &mut impl FnMut(), ours: &mut impl FnMut()) -> Paired {
    const BLOCK_NS: u64 = 1_000_000;
    // Warm-up, then iteration counts fixed for the whole run.
    block(calibrate(BLOCK_NS, theirs), theirs);
    block(calibrate(BLOCK_NS, ours), ours);
    let (k_theirs, k_ours) = (calibrate(BLOCK_NS, theirs), calibrate(BLOCK_NS, ours));
    let mut out = Paired {
        ratios: Vec::with_capacity(pairs),
        theirs_ns: Vec::with_capacity(pairs),
        ours_ns: Vec::with_capacity(pairs),
    };
    for i in 0..pairs {
        let (t, o) = if i % 2 == 0 {
            let t = block(k_theirs, theirs);
            (t, block(k_ours, ours))
        } else {
            let o = block(k_ours, ours);
            (block(k_theirs, theirs), o)
        };
        let (t, o) = (t as f64 / k_theirs as f64, o as f64 / k_ours as f64);
        out.ratios.push(o / t);
        out.theirs_ns.push(t);
        out.ours_ns.push(o);
    }
    for v in [&mut out.ratios, &mut out.theirs_ns, &mut out.ours_ns] {
        v.sort_by(f64::total_cmp);
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters the cases by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let pairs = match std::env::var("TASKROUTE_PAIRS") {
        Ok(v) => v.parse().expect("TASKROUTE_PAIRS: a number of pairs"),
        Err(_) => 400,
    };
    assert!(pairs > 0, "TASKROUTE_PAIRS: at least one pair");
    let task = shape::task();
    println!("case            pairs  ours/theirs median [q1, q3]  ours ns  theirs ns");
    for (n, floor) in shape::CASES {
        let name = format!("n{n}_tier{floor}");
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let models = shape::synthetic(n);
        let model_router = shape::model_router(&models);
        let complexity = shape::complexity(floor);
        let router = Router::builder()
            .models(shape::specs(&models))
            .policy(shape::cost_first(floor))
            .build()
            .expect("the synthetic models build a router");
        let mut d = Decision::new();
        let p = measure(
            pairs,
            &mut || {
                black_box(black_box(&model_router).select_by_complexity(black_box(complexity)));
            },
            &mut || {
                black_box(&router)
                    .route_into(black_box(&task), black_box(&mut d))
                    .expect("every case has an eligible model");
            },
        );
        println!(
            "{name:<15} {pairs:>5}  {:.3} [{:.3}, {:.3}]        {:>8.0} {:>9.0}",
            quantile(&p.ratios, 0.5),
            quantile(&p.ratios, 0.25),
            quantile(&p.ratios, 0.75),
            quantile(&p.ours_ns, 0.5),
            quantile(&p.theirs_ns, 0.5),
        );
    }
}
