//! RedisBudgetStore on loopback: round trips per operation, reserve+settle latency, and the
//! throughput of reserve+settle pairs from 2 processes x 64 tasks, with the in-memory store's
//! figure beside it. Then routing with a health snapshot that `FleetBreakers` keeps in step with
//! Redis, against the same router with a plain local registry (thread CPU time per decision, in
//! the same run), and the latency of one `FleetStats` sync. Needs a Redis
//! (`bash scripts/setup-redis.sh`):
//!   TASKROUTE_REDIS_URL=$(cat .redis/url) cargo bench --features redis --bench fleet
//! Without `TASKROUTE_REDIS_URL` it says so and measures nothing.

#[path = "../tests/fleet_support/mod.rs"]
mod fleet_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};
use taskroute::fleet::{FleetBreakers, FleetStats, RedisBudgetStore};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetScope, BudgetStore, Clock, InMemoryBudgetStore,
    RuntimeStats, StatsConfig, TokioClock,
};
use taskroute::{CostFirst, Decision, LatencyProfile, Limits, ModelSpec, Prices, Router, TaskKind, TaskSpec};

const CHILD: &str = "TASKROUTE_FLEET_BENCH_CHILD";
const TASKS: usize = 64;
const PROCESSES: usize = 2;
const SECONDS: u64 = 5;

fn scopes() -> [BudgetScope; 2] {
    [BudgetScope::Global, BudgetScope::tenant("bench")]
}

fn redis_store(url: &str, prefix: &str) -> RedisBudgetStore {
    let redis = fleet_support::redis_within(url, Duration::from_secs(5));
    RedisBudgetStore::builder(redis)
        .key_prefix(prefix, "budget")
        .cap(BudgetScope::Global, BudgetCap::total(1e8))
        .tenant_cap(BudgetCap::per(1e8, Duration::from_secs(3600)))
        .build()
        .unwrap()
}

fn memory_store() -> InMemoryBudgetStore {
    InMemoryBudgetStore::new(Arc::new(TokioClock))
        .with_cap(BudgetScope::Global, BudgetCap::total(1e8))
        .unwrap()
        .with_tenant_cap(BudgetCap::per(1e8, Duration::from_secs(3600)))
        .unwrap()
}

/// Reserve+settle pairs from `TASKS` tasks until `until`; returns the count.
async fn pairs(store: Arc<dyn BudgetStore>, until: Instant) -> u64 {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    let r = store.reserve(&scopes(), 0.001).await.unwrap();
                    store.settle(&r, 0.0005).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn throughput(kind: &str, url: &str, prefix: &str) -> f64 {
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .env(CHILD, kind)
                .env("TASKROUTE_REDIS_URL", url)
                .env("TASKROUTE_FLEET_BENCH_PREFIX", prefix)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0.0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let n: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("pairs_per_s="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("child said: {text}"));
        total += n;
    }
    total
}

fn child(kind: &str) {
    let rt = fleet_support::runtime();
    rt.block_on(async {
        let store: Arc<dyn BudgetStore> = match kind {
            "redis" => Arc::new(redis_store(
                &std::env::var("TASKROUTE_REDIS_URL").unwrap(),
                &std::env::var("TASKROUTE_FLEET_BENCH_PREFIX").unwrap(),
            )),
            _ => Arc::new(memory_store()),
        };
        // warm up (connect, load the scripts)
        pairs(Arc::clone(&store), Instant::now() + Duration::from_millis(300)).await;
        let t0 = Instant::now();
        let n = pairs(store, t0 + Duration::from_secs(SECONDS)).await;
        println!("pairs_per_s={}", n as f64 / t0.elapsed().as_secs_f64());
    });
}

/// 16 synthetic models with spread prices and priors (as benches/route.rs builds them).
fn models(n: usize) -> Vec<ModelSpec> {
    (0..n)
        .map(|i| {
            let a = (i * 7919 % 101) as f64 / 100.0;
            let b = (i * 104_729 % 97) as f64 / 96.0;
            ModelSpec::new(
                format!("model-{i:04}"),
                "synthetic",
                Prices::new(0.05 + 10.0 * a, 0.2 + 40.0 * a),
                128_000,
            )
            .with_latency(LatencyProfile::new(150.0 + 1_500.0 * b, 40.0 + 160.0 * (1.0 - b)))
            .with_default_quality(0.3 + 0.6 * (a + b) / 2.0)
        })
        .collect()
}

fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Thread CPU ns per `route_into` over `n` decisions.
fn per_decision(router: &Router, task: &TaskSpec, n: u32) -> f64 {
    let mut d = Decision::new();
    let t0 = thread_cpu_ns();
    for _ in 0..n {
        router.route_into(std::hint::black_box(task), &mut d).unwrap();
        std::hint::black_box(&d);
    }
    (thread_cpu_ns() - t0) as f64 / f64::from(n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Routing over 16 models with a local registry as health, and with a registry that
/// `FleetBreakers` syncs with Redis every 200 ms (on a worker thread; two models opened
/// fleet-wide, so the sync forces state onto it), alternating batches in the same run.
fn route_with_fleet_health(url: &str, prefix: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let config = BreakerConfig::default();
    let fleet = FleetBreakers::builder(fleet_support::redis_within(url, Duration::from_secs(5)), config)
        .key_prefix(prefix, "breakers")
        .build()
        .unwrap();
    let synced = fleet_support::registry_shared_by(&fleet, config);
    for m in ["model-0003", "model-0007"] {
        // tripped by failures, so that the open reaches the fleet
        let b = synced.breaker(&m.into());
        for _ in 0..10 {
            if let Ok(p) = b.try_acquire(TokioClock.now()) {
                p.record(taskroute::runtime::CallOutcome::Failure, TokioClock.now());
            }
        }
    }
    let task_handle = fleet.spawn(Arc::clone(&synced));
    rt.block_on(fleet.sync(&synced)).unwrap();
    // the same two models open, locally, so both routers do the same work
    let local = Arc::new(BreakerRegistry::new(config, Arc::new(TokioClock)).unwrap());
    for m in ["model-0003", "model-0007"] {
        local
            .breaker(&m.into())
            .force_open(TokioClock.now() + Duration::from_secs(600));
    }
    let build = |health: Arc<BreakerRegistry>| {
        Router::builder()
            .models(models(16))
            .policy(CostFirst::new(0.5).unwrap())
            .shared_health(health)
            .build()
            .unwrap()
    };
    let (plain, with_fleet) = (build(local), build(Arc::clone(&synced)));
    let task = TaskSpec::new(TaskKind::Planning, 6_000)
        .with_output_tokens(800)
        .with_limits(Limits::NONE.with_max_cost_usd(10.0));
    let _ = (
        per_decision(&plain, &task, 20_000),
        per_decision(&with_fleet, &task, 20_000),
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        a.push(per_decision(&plain, &task, 50_000));
        b.push(per_decision(&with_fleet, &task, 50_000));
    }
    let mut d = Decision::new();
    with_fleet.route_into(&task, &mut d).unwrap();
    let unhealthy = d
        .rejected()
        .filter(|(_, r)| matches!(r, taskroute::Rejection::Unhealthy))
        .count();
    println!(
        "route_into, 16 models, thread CPU per decision (median of 15 batches of 50,000, alternating): \
         local registry {:.0} ns, registry synced by FleetBreakers every 200 ms {:.0} ns \
         (2 models open in both; {unhealthy} rejected as unhealthy through the fleet)",
        median(a),
        median(b)
    );
    task_handle.abort();
}

/// One `FleetStats` sync (16 models' deltas sent, the window read back) on loopback.
fn stats_sync(url: &str, prefix: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(TokioClock)).unwrap());
        let fleet = FleetStats::builder(fleet_support::redis_within(url, Duration::from_secs(5)))
            .key_prefix(prefix, "stats")
            .runtime_stats(Arc::clone(&stats))
            .build()
            .unwrap();
        let ms = models(16);
        let mut lat = Vec::with_capacity(1_000);
        for i in 0..1_100 {
            for m in &ms {
                stats.record_success(m, Duration::from_millis(500), 100);
            }
            let t = Instant::now();
            fleet.sync().await.unwrap();
            if i >= 100 {
                lat.push(t.elapsed());
            }
        }
        lat.sort();
        println!(
            "FleetStats sync (16 models' deltas in, 16 models' window out), 1,000 syncs: p50 {:?}, p99 {:?}",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99)
        );
    });
}

fn main() {
    if let Ok(kind) = std::env::var(CHILD) {
        return child(&kind);
    }
    let Ok(url) = std::env::var("TASKROUTE_REDIS_URL") else {
        println!("fleet bench skipped: TASKROUTE_REDIS_URL is not set (bash scripts/setup-redis.sh)");
        return;
    };
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let prefix = format!("taskroute-bench:{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = redis_store(&url, &prefix);
        // warm up: connect and load the scripts
        for _ in 0..100 {
            let r = store.reserve(&scopes(), 0.001).await.unwrap();
            store.settle(&r, 0.0005).await.unwrap();
        }
        let n = 1_000u64;
        let before = fleet_support::script_calls(&url).await;
        for _ in 0..n {
            let r = store.reserve(&scopes(), 0.001).await.unwrap();
            store.settle(&r, 0.0005).await.unwrap();
        }
        let after = fleet_support::script_calls(&url).await;
        let per_pair = (after - before) as f64 / n as f64;
        println!(
            "round trips: {per_pair:.3} script calls (EVALSHA/EVAL) per reserve+settle pair over {n} pairs \
             (INFO commandstats; other clients of this server would add to it)"
        );

        let mut lat = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let t = Instant::now();
            let r = store.reserve(&scopes(), 0.001).await.unwrap();
            store.settle(&r, 0.0005).await.unwrap();
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "reserve+settle latency, 1 task, 10000 pairs: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            lat[lat.len() - 1]
        );
    });
    let redis = throughput("redis", &url, &format!("{prefix}:tp"));
    println!(
        "throughput, {PROCESSES} processes x {TASKS} tasks, {SECONDS} s: Redis store {redis:.0} reserve+settle pairs/s"
    );
    let memory = throughput("memory", &url, "");
    println!(
        "throughput, {PROCESSES} processes x {TASKS} tasks, {SECONDS} s: in-memory store (one per process, not shared) {memory:.0} pairs/s"
    );
    route_with_fleet_health(&url, &format!("{prefix}:route"));
    stats_sync(&url, &format!("{prefix}:stats"));
}
