//! RedisBudgetStore on loopback: round trips per operation, reserve+settle latency, and the
//! throughput of reserve+settle pairs from 2 processes x 64 tasks, with the in-memory store's
//! figure beside it. Needs a Redis (`bash scripts/setup-redis.sh`):
//!   TASKROUTE_REDIS_URL=$(cat .redis/url) cargo bench --features redis --bench fleet
//! Without `TASKROUTE_REDIS_URL` it says so and measures nothing.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskroute::fleet::{FleetRedis, RedisBudgetStore, RedisOptions};
use taskroute::runtime::{BudgetCap, BudgetScope, BudgetStore, InMemoryBudgetStore, TokioClock};

const CHILD: &str = "TASKROUTE_FLEET_BENCH_CHILD";
const TASKS: usize = 64;
const PROCESSES: usize = 2;
const SECONDS: u64 = 5;

fn scopes() -> [BudgetScope; 2] {
    [BudgetScope::Global, BudgetScope::tenant("bench")]
}

fn redis_store(url: &str, prefix: &str) -> RedisBudgetStore {
    let redis = FleetRedis::open_with(
        url,
        RedisOptions::default().with_call_timeout(Duration::from_secs(5)),
    )
    .unwrap();
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

/// Script calls the server has run (`EVALSHA` + `EVAL` in `INFO commandstats`): one per round
/// trip of the store. (`total_commands_processed` would also count the commands inside scripts.)
async fn script_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split_once("calls=")?.1.split(',').next()?.parse::<u64>().ok())
        .sum()
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
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
        let before = script_calls(&url).await;
        for _ in 0..n {
            let r = store.reserve(&scopes(), 0.001).await.unwrap();
            store.settle(&r, 0.0005).await.unwrap();
        }
        let after = script_calls(&url).await;
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
}
