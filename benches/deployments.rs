//! Cost of the in-process admission check of a deployment (`LocalLimiter`).
//!
//!   cargo bench --features runtime --bench deployments
//!   TASKROUTE_BENCH_CLOCK=thread-cpu cargo bench --features runtime --bench deployments
//!
//! - `admit`: one admission (requests, tokens and concurrency checked, both cells moved);
//! - `admit_settle`: an admission and its correction with the real usage, as every call pays;
//! - `admit_settle_via_trait`: the same through `&dyn Limiter` (as the runtime calls it);
//! - `refused`: an admission refused (the bucket is empty), with when capacity returns;
//! - `baseline_mutex`: locking and unlocking an uncontended `std::sync::Mutex`, measured in
//!   the same run, to compare machines and loads.
//!
//! The check allocates nothing: `tests/alloc.rs` (`the_in_process_limiter_allocates_nothing`).
#![allow(missing_docs)] // criterion's macros generate undocumented functions

#[path = "support/clock.rs"]
mod clock;

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Criterion;
use criterion::measurement::Measurement;
use taskroute::runtime::{DeploymentLimits, Limiter, LocalLimiter};

fn run<M: Measurement>(mut c: Criterion<M>, prefix: &str) {
    let mut g = c.benchmark_group(format!("{prefix}limiter"));
    let limits = DeploymentLimits::none().rpm(u64::MAX / 2).tpm(u64::MAX / 2);
    let t0 = Instant::now();
    let mut i = 0u64;
    let admit_only = LocalLimiter::new(limits);
    g.bench_function("admit", |b| {
        b.iter(|| {
            i += 1;
            admit_only
                .try_acquire(black_box(1_200), t0 + Duration::from_nanos(i))
                .unwrap();
        })
    });
    let limits = limits.max_concurrency(64);
    let local = LocalLimiter::new(limits);
    g.bench_function("admit_settle", |b| {
        b.iter(|| {
            i += 1;
            let now = t0 + Duration::from_nanos(i);
            local.try_acquire(black_box(1_200), now).unwrap();
            local.settle(1_200, Some(black_box(700)), now);
        })
    });
    let dynamic: &dyn Limiter = &LocalLimiter::new(limits);
    g.bench_function("admit_settle_via_trait", |b| {
        b.iter(|| {
            i += 1;
            let now = t0 + Duration::from_nanos(i);
            let r = futures::executor::block_on(dynamic.acquire(black_box(1_200), now).decided());
            r.unwrap();
            dynamic.settle(1_200, Some(black_box(700)), now);
        })
    });
    let full = LocalLimiter::new(DeploymentLimits::none().rpm(1));
    full.try_acquire(1, t0).unwrap();
    g.bench_function("refused", |b| {
        b.iter(|| black_box(full.try_acquire(black_box(1), t0)).unwrap_err())
    });
    let m = Mutex::new(0u64);
    g.bench_function("baseline_mutex", |b| {
        b.iter(|| {
            *m.lock().unwrap() += 1;
        })
    });
    g.finish();
    c.final_summary();
}

clock::clock_main!(run);
