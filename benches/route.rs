//! Decision latency of the routing core: `Router::route_into` with a reused `Decision`, for 4,
//! 16, 64, 256 and 1024 synthetic candidates under each built-in policy, and the allocating
//! `Router::route` at 16 candidates for comparison.
//!
//! Run: `cargo bench --bench route -- --warm-up-time 1 --measurement-time 3`
//!
//! By default criterion measures wall-clock time. With `TASKROUTE_BENCH_CLOCK=thread-cpu` (on
//! Unix) it measures the benchmark thread's CPU time instead, which leaves out the time the
//! thread spends preempted: steadier figures on a shared, loaded machine. Those results are
//! stored under `cpu:`-prefixed names.
//!
//! Figures and the machine: docs/performance.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use taskroute::{
    Capabilities, Capability, CostFirst, Decision, LatencyProfile, Limits, ModelSpec, Policy,
    PreparedQuality, Prices, PriorQuality, ProfileLatency, QualityEstimator, QualityFirst, Router, Task,
    TaskKind, TaskSpec, Weighted,
};

const SIZES: [usize; 5] = [4, 16, 64, 256, 1024];

/// `n` synthetic models with spread prices, windows, latencies and priors. About one in eight
/// lacks tool calling and one in sixteen has a small window, so the benchmark task sees some
/// rejections as well as ranked candidates, as a real catalog does.
fn models(n: usize) -> Vec<ModelSpec> {
    (0..n)
        .map(|i| {
            let a = (i * 7919 % 101) as f64 / 100.0; // pseudo-random in [0, 1], deterministic
            let b = (i * 104_729 % 97) as f64 / 96.0;
            let caps = if i % 8 == 3 {
                Capabilities::of(&[Capability::Streaming])
            } else {
                Capabilities::of(&[Capability::Tools, Capability::Streaming, Capability::JsonMode])
            };
            let window = if i % 16 == 9 { 8_192 } else { 128_000 };
            ModelSpec::new(
                format!("model-{i:04}"),
                "synthetic",
                Prices::new(0.05 + 10.0 * a, 0.2 + 40.0 * a).with_cached_input(0.025 + 5.0 * a),
                window,
            )
            .with_max_output_tokens(16_384.min(window))
            .with_capabilities(caps)
            .with_latency(LatencyProfile::new(150.0 + 1_500.0 * b, 40.0 + 160.0 * (1.0 - b)))
            .with_quality(TaskKind::Planning, 0.35 + 0.6 * a)
            .with_quality(TaskKind::CodeCompletion, 0.3 + 0.5 * b)
            .with_default_quality(0.3 + 0.6 * (a + b) / 2.0)
        })
        .collect()
}

/// A planning task: 6 000 tokens in (2 000 cached), 800 out, tool calling, a cost limit.
fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Planning, 6_000)
        .with_cached_input_tokens(2_000)
        .with_output_tokens(800)
        .require(Capability::Tools)
        .with_limits(Limits::NONE.with_max_cost_usd(0.25))
}

fn policies() -> [(&'static str, Arc<dyn Policy>); 3] {
    [
        ("cost_first", Arc::new(CostFirst::new(0.7).unwrap())),
        ("quality_first", Arc::new(QualityFirst::new(0.07).unwrap())),
        (
            "weighted",
            Arc::new(Weighted::with_weights(1.0, 20.0, 0.05).unwrap()),
        ),
    ]
}

fn router(n: usize, policy: Arc<dyn Policy>) -> Router {
    Router::builder()
        .models(models(n))
        .shared_policy(policy)
        .build()
        .unwrap()
}

fn route_into<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let task = task();
    for (name, policy) in policies() {
        let mut group = c.benchmark_group(format!("{prefix}route_into/{name}"));
        for n in SIZES {
            let router = router(n, Arc::clone(&policy));
            let mut decision = Decision::new();
            // Warm-up: the decision's buffers reach their size; the task must be servable.
            router.route_into(&task, &mut decision).unwrap();
            // Most models scored (the best ranked, the rest unranked), some rejected.
            let scored = decision.ranking.len() + decision.unranked().count();
            assert!(scored > n / 2 && decision.rejected().count() > 0);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    black_box(&router)
                        .route_into(black_box(&task), black_box(&mut decision))
                        .unwrap();
                })
            });
        }
        group.finish();
    }
}

fn route_allocating<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let task = task();
    let mut group = c.benchmark_group(format!("{prefix}route/cost_first"));
    let n = 16;
    let router = router(n, policies()[0].1.clone());
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
        b.iter(|| black_box(black_box(&router).route(black_box(&task)).unwrap()))
    });
    group.finish();
}

/// A quality estimator as a downstream crate writes one: per-kind priors read from the model
/// specs, prepared as one column per built-in kind when the router is built (the batch path),
/// so each decision copies a column.
#[derive(Debug)]
struct CustomPriors;

impl QualityEstimator for CustomPriors {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        model.quality.get(task.kind())
    }
    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
        let columns = TaskKind::BUILTIN
            .iter()
            .map(|k| models.iter().map(|m| m.quality.get(k)).collect())
            .collect();
        Some(Box::new(CustomColumns(columns)))
    }
}

struct CustomColumns(Vec<Vec<Option<f64>>>);

impl PreparedQuality for CustomColumns {
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        match task.kind().builtin_index() {
            Some(k) => out.copy_from_slice(&self.0[k]),
            None => {
                for (m, o) in models.iter().zip(out.iter_mut()) {
                    *o = m.quality.get(task.kind());
                }
            }
        }
    }
}

/// Statistics with some history: every third model has been called (some slower than
/// published), every fifth has failed once.
#[cfg(feature = "runtime")]
fn observed_stats(models: &[ModelSpec]) -> Arc<taskroute::runtime::RuntimeStats> {
    use taskroute::runtime::{ManualClock, RuntimeStats, StatsConfig};
    let clock = Arc::new(ManualClock::new());
    let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), clock.clone()).unwrap());
    for (i, m) in models.iter().enumerate() {
        if i % 3 == 0 {
            for k in 0..4u64 {
                let ms = 400 + 100 * ((i as u64 + k) % 7);
                stats.record_success(m, std::time::Duration::from_millis(ms), 200);
            }
        }
        if i % 5 == 0 {
            stats.record_failure(&m.id);
        }
    }
    clock.advance(std::time::Duration::from_secs(10));
    stats
}

/// The router's estimators in the estimator benchmark.
fn estimator_routers(n: usize) -> Vec<(&'static str, Router)> {
    let base = || {
        Router::builder()
            .models(models(n))
            .policy(CostFirst::new(0.7).unwrap())
    };
    #[cfg_attr(not(feature = "runtime"), allow(unused_mut))] // pushed to with the runtime
    let mut v = vec![
        ("builtin", base().build().unwrap()),
        (
            "custom_batch",
            base().quality_estimator(CustomPriors).build().unwrap(),
        ),
        (
            "builtin_as_arc_dyn",
            base()
                .shared_quality_estimator(Arc::new(PriorQuality))
                .shared_latency_estimator(Arc::new(ProfileLatency::default()))
                .build()
                .unwrap(),
        ),
    ];
    #[cfg(feature = "runtime")]
    {
        use taskroute::runtime::{FailureAwareQuality, ObservedLatency};
        let stats = observed_stats(&models(n));
        v.push((
            "runtime_wrappers",
            base()
                .quality_estimator(FailureAwareQuality::new(PriorQuality, Arc::clone(&stats), 0.5).unwrap())
                .latency_estimator(ObservedLatency::new(stats, ProfileLatency::default()))
                .build()
                .unwrap(),
        ));
    }
    v
}

/// `route_into` (cost-first) with each kind of estimator, at 16 and 256 candidates.
fn estimators<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let task = task();
    for n in [16, 256] {
        let mut group = c.benchmark_group(format!("{prefix}estimators/{n}"));
        group.throughput(Throughput::Elements(n as u64));
        for (name, router) in estimator_routers(n) {
            let mut decision = Decision::new();
            router.route_into(&task, &mut decision).unwrap();
            group.bench_function(name, |b| {
                b.iter(|| {
                    black_box(&router)
                        .route_into(black_box(&task), black_box(&mut decision))
                        .unwrap();
                })
            });
        }
        group.finish();
    }
}

fn run<M: Measurement>(mut c: Criterion<M>, prefix: &str) {
    route_into(&mut c, prefix);
    route_allocating(&mut c, prefix);
    estimators(&mut c, prefix);
    c.final_summary();
}

clock::clock_main!(run);

#[path = "support/clock.rs"]
mod clock;
