//! Several OS processes sharing one budget through Redis (scripts/setup-redis.sh): no overspend
//! under concurrent load with injected faults, a `kill -9`ed process's reservations come back
//! when their leases end, and a Redis restart mid-run fails closed and then recovers.
//!
//! The child processes are this test binary run again with `TASKROUTE_FLEET_CHILD` set: its
//! ignored `child` test then does the child's work and prints `FLEET ...` lines.
//!   cargo test --features redis --test fleet_processes -- --nocapture

mod fleet_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use taskroute::fleet::{FleetError, RedisBudgetStore};
use taskroute::provider::{ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, Usage};
use taskroute::runtime::{
    BudgetCap, BudgetError, BudgetPolicy, BudgetScope, BudgetStore, InMemoryBudgetStore, RequestOptions,
    RetryPolicy, RoutedClient, RoutedError, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

const CHILD_ENV: &str = "TASKROUTE_FLEET_CHILD";
const REQUESTS: usize = 250;
const G: [BudgetScope; 1] = [BudgetScope::Global];

/// Fails 30 % of calls (server errors, rate limits, and calls that never answer), answers the
/// rest after 1–20 ms with at most the task's expected tokens, so no call costs more than the
/// runtime reserved for it.
#[derive(Debug)]
struct Faulty {
    rng: Mutex<Pcg64Mcg>,
    calls: AtomicU64,
    faults: AtomicU64,
}

#[async_trait]
impl Provider for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }

    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (delay, fault, out) = {
            let mut rng = self.rng.lock().unwrap();
            (
                rng.random_range(1..=20u64),
                (rng.random::<f64>() < 0.3).then(|| rng.random_range(0..3u32)),
                rng.random_range(1..=50u32),
            )
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        if fault.is_some() {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let kind = match fault {
            None => {
                let usage = Usage::new(100, out, 0);
                return Ok(ChatResponse::text(model, "ok", usage));
            }
            Some(0) => ErrorKind::Server,
            Some(1) => ErrorKind::RateLimited,
            Some(_) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                ErrorKind::Timeout
            }
        };
        Err(ProviderError::new(kind, "injected").with_provider("faulty"))
    }

    async fn stream(&self, _model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(ErrorKind::InvalidRequest, "no streaming here"))
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A child: 250 concurrent routed requests against the shared (or, to show what the test
/// catches, a process-local) budget; prints what happened.
async fn work() {
    let cap: f64 = env("TASKROUTE_FLEET_CAP").parse().unwrap();
    let store: Arc<dyn BudgetStore> = if env("TASKROUTE_FLEET_STORE") == "local" {
        Arc::new(
            InMemoryBudgetStore::new(Arc::new(TokioClock))
                .with_cap(BudgetScope::Global, BudgetCap::total(cap))
                .unwrap(),
        )
    } else {
        Arc::new(
            RedisBudgetStore::builder(fleet_support::redis(&env("TASKROUTE_REDIS_URL")))
                .key_prefix(env("TASKROUTE_FLEET_PREFIX"), "budget")
                .cap(BudgetScope::Global, BudgetCap::total(cap))
                .lease(Duration::from_secs(10))
                .build()
                .unwrap(),
        )
    };
    let provider = Arc::new(Faulty {
        rng: Mutex::new(Pcg64Mcg::seed_from_u64(
            env("TASKROUTE_FLEET_SEED").parse().unwrap(),
        )),
        calls: AtomicU64::new(0),
        faults: AtomicU64::new(0),
    });
    let router = Router::builder()
        .models([
            ModelSpec::new("small", "faulty", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
            ModelSpec::new("medium", "faulty", Prices::new(1.0, 4.0), 128_000).with_default_quality(0.85),
        ])
        .policy(CostFirst::new(0.75).unwrap())
        .build()
        .unwrap();
    let client = Arc::new(
        RoutedClient::builder(router)
            .provider(provider.clone() as Arc<dyn Provider>)
            .budget(store, BudgetPolicy::default())
            .retry(RetryPolicy::default().with_max_retries(1))
            .build()
            .unwrap(),
    );
    let task = Arc::new(TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50));
    let req = Arc::new(ChatRequest::new().user("fleet"));
    let handles: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (client, task, req) = (Arc::clone(&client), Arc::clone(&task), Arc::clone(&req));
            tokio::spawn(async move {
                client
                    .complete(&*task, &req, RequestOptions::within(Duration::from_millis(1500)))
                    .await
            })
        })
        .collect();
    let (mut ok, mut typed, mut budget, mut spent) = (0u64, 0u64, 0u64, 0.0f64);
    for h in handles {
        match h.await.expect("a request task panicked") {
            Ok(resp) => {
                ok += 1;
                spent += resp.total_cost_usd();
            }
            Err(e) => {
                typed += 1;
                if matches!(
                    e,
                    RoutedError::Budget { .. }
                        | RoutedError::NoRoute {
                            budget_limited: true,
                            ..
                        }
                ) {
                    budget += 1;
                }
            }
        }
    }
    // what the injected faults came to, so the parent can check the 30 %
    let (calls, faults) = (
        provider.calls.load(Ordering::Relaxed),
        provider.faults.load(Ordering::Relaxed),
    );
    println!(
        "FLEET done ok={ok} typed={typed} budget={budget} spent_nanos={} calls={calls} faults={faults}",
        (spent * 1e9).round() as u64
    );
}

/// A child that takes five reservations of $0.1, says so, and waits to be killed.
async fn hold() {
    let store = RedisBudgetStore::builder(fleet_support::redis(&env("TASKROUTE_REDIS_URL")))
        .key_prefix(env("TASKROUTE_FLEET_PREFIX"), "budget")
        .cap(BudgetScope::Global, BudgetCap::total(1.0))
        .lease(Duration::from_millis(
            env("TASKROUTE_FLEET_LEASE_MS").parse().unwrap(),
        ))
        .build()
        .unwrap();
    for _ in 0..5 {
        store.reserve(&G, 0.1).await.unwrap();
    }
    println!("FLEET held");
    // killed long before this (the bound keeps a lost child from lingering)
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
#[ignore = "a child process of the other tests (run with TASKROUTE_FLEET_CHILD set)"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = fleet_support::runtime();
    rt.block_on(async {
        match role.as_str() {
            "work" => work().await,
            "hold" => hold().await,
            other => panic!("unknown child role {other}"),
        }
    });
}

fn spawn_child(role: &str, vars: &[(&str, String)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The `key=value` fields of a child's `FLEET done` line.
fn report(child: Child) -> Vec<(String, u64)> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.split_once("FLEET done ").map(|(_, fields)| fields))
        .unwrap_or_else(|| panic!("no report in {text}"));
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

fn field(r: &[(String, u64)], name: &str) -> u64 {
    r.iter().find(|(k, _)| k == name).map(|(_, v)| *v).unwrap()
}

/// Runs four `work` children at once; returns their reports.
fn four_processes(url: &str, store: &str, prefix: &str, cap: f64) -> Vec<Vec<(String, u64)>> {
    let children: Vec<Child> = (0..4u64)
        .map(|seed| {
            spawn_child(
                "work",
                &[
                    ("TASKROUTE_REDIS_URL", url.to_owned()),
                    ("TASKROUTE_FLEET_STORE", store.to_owned()),
                    ("TASKROUTE_FLEET_PREFIX", prefix.to_owned()),
                    ("TASKROUTE_FLEET_CAP", cap.to_string()),
                    ("TASKROUTE_FLEET_SEED", (0xF1EE7 + seed).to_string()),
                ],
            )
        })
        .collect();
    children.into_iter().map(report).collect()
}

#[test]
fn four_processes_with_faults_never_overspend_a_shared_cap() {
    let url = redis_or_skip!();
    // About $0.00005 a request: 1,000 requests would spend about $0.05, twice the cap.
    let cap = 0.025;
    let spent = |reports: &[Vec<(String, u64)>]| {
        reports.iter().map(|r| field(r, "spent_nanos")).sum::<u64>() as f64 / 1e9
    };

    // What the test catches: four processes each with its own in-memory cap spend past it.
    let local = four_processes(&url, "local", "unused", cap);
    assert!(
        spent(&local) > cap,
        "per-process caps should overspend: ${}",
        spent(&local)
    );

    let prefix = fleet_support::fresh_prefix("procs");
    let reports = four_processes(&url, "redis", &prefix, cap);
    let total = spent(&reports);
    let (mut calls, mut faults, mut budget) = (0, 0, 0);
    for r in &reports {
        assert_eq!(
            field(r, "ok") + field(r, "typed"),
            REQUESTS as u64,
            "every request ended: {r:?}"
        );
        calls += field(r, "calls");
        faults += field(r, "faults");
        budget += field(r, "budget");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (usage, held) = rt.block_on(async {
        let store = RedisBudgetStore::builder(fleet_support::redis(&url))
            .key_prefix(prefix, "budget")
            .cap(BudgetScope::Global, BudgetCap::total(cap))
            .build()
            .unwrap();
        (
            store.usage(&BudgetScope::Global).await.unwrap().unwrap(),
            store.held().await.unwrap(),
        )
    });
    println!(
        "4 processes x {REQUESTS}: real spend ${total:.6}, settled ${:.6} of ${cap}, {budget} refused by the budget, \
         {faults} of {calls} provider calls faulted; per-process caps instead: ${:.6}",
        usage.spent_usd,
        spent(&local)
    );
    let share = faults as f64 / calls as f64;
    assert!((0.25..0.35).contains(&share), "fault share {share}");
    assert!(usage.spent_usd <= cap, "overspent: {} > {cap}", usage.spent_usd);
    assert!(total <= cap, "real spend {total} > {cap}");
    // (reservations are for 50 output tokens, answers use 1 to 50: the cap binds before real
    // spend reaches it)
    assert!(total > cap * 0.6, "the cap was approached: {total}");
    assert!(budget > 0, "the budget refused some requests");
    // settled spend covers the answered calls' real cost (each rounded up to a micro-dollar);
    // it is more when calls that never answered were sent: the runtime charges a call dropped
    // after sending its whole reservation (it may have been billed)
    assert!(
        usage.spent_usd + 1e-6 * 1_000.0 >= total,
        "{} < {total}",
        usage.spent_usd
    );
    assert_eq!((usage.reserved_usd, usage.overrun_usd, held), (0.0, 0.0, 0));
}

#[test]
fn a_killed_process_reservations_come_back_when_their_lease_ends() {
    let url = redis_or_skip!();
    let prefix = fleet_support::fresh_prefix("crash");
    let lease = Duration::from_millis(2_000);
    let mut child = spawn_child(
        "hold",
        &[
            ("TASKROUTE_REDIS_URL", url.clone()),
            ("TASKROUTE_FLEET_PREFIX", prefix.clone()),
            ("TASKROUTE_FLEET_LEASE_MS", lease.as_millis().to_string()),
        ],
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("FLEET held"))),
        "the child did not take its reservations"
    );
    let held_at = Instant::now();
    child.kill().unwrap(); // SIGKILL: no destructor, no release
    child.wait().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RedisBudgetStore::builder(fleet_support::redis(&url))
            .key_prefix(prefix, "budget")
            .cap(BudgetScope::Global, BudgetCap::total(1.0))
            .build()
            .unwrap();
        // the others go on with what is left, and cannot take what the dead process held
        let r = store.reserve(&G, 0.5).await.unwrap();
        store.settle(&r, 0.2).await.unwrap();
        assert!(matches!(
            store.reserve(&G, 0.5).await,
            Err(BudgetError::Exceeded { .. })
        ));
        let usage = store.usage(&BudgetScope::Global).await.unwrap().unwrap();
        assert!((usage.reserved_usd - 0.5).abs() < 1e-9, "{usage:?}");
        // within the lease (plus a little for the calls), it all comes back
        loop {
            if store.reserve(&G, 0.8).await.is_ok() {
                break;
            }
            assert!(
                held_at.elapsed() < lease + Duration::from_millis(500),
                "not back after the lease"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            held_at.elapsed() >= lease - Duration::from_millis(300),
            "back too early: {:?}",
            held_at.elapsed()
        );
    });
}

/// A redis-server of this test's own, on a free port, with an append-only file so that a
/// restart keeps the budget (without persistence a restarted Redis forgets every spend).
struct OwnRedis {
    dir: std::path::PathBuf,
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(dir: std::path::PathBuf, port: u16) -> Option<Self> {
        let mut s = Self {
            dir,
            port,
            child: None,
        };
        s.child = Some(s.spawn()?);
        Some(s)
    }

    fn spawn(&self) -> Option<Child> {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set but redis-server cannot run: {e}"
                );
                eprintln!("skipped: redis-server cannot run ({e}); scripts/setup-redis.sh installs it");
                return None;
            }
        };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(child)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.child = self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_redis_restart_fails_closed_then_recovers() {
    let _ = redis_or_skip!();
    let port = fleet_support::unused_port();
    let dir = std::env::temp_dir().join(format!("taskroute-redis-restart-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(mut server) = OwnRedis::start(dir, port) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{port}/");
    // reached after about a second of service at this machine's pace: the refusals at the cap
    // then show that the restart kept the spend
    let cap = 3.0;
    let rt = fleet_support::runtime();
    let outcome = rt.block_on(async {
        let redis = fleet_support::redis_within(&url, Duration::from_millis(300));
        let store = RedisBudgetStore::builder(redis)
            .cap(BudgetScope::Global, BudgetCap::total(cap))
            .lease(Duration::from_secs(30))
            .build()
            .unwrap();
        let settled_nanos = Arc::new(AtomicU64::new(0));
        // when Redis answered a reserve (granted, or refused at the cap)
        let last_ok = Arc::new(Mutex::new(Vec::<Instant>::new()));
        let stop_at = Instant::now() + Duration::from_secs(6);
        // 32 tasks: reserve $0.001, "call" for 5 ms, settle $0.0008
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (store, settled, oks) = (store.clone(), Arc::clone(&settled_nanos), Arc::clone(&last_ok));
                tokio::spawn(async move {
                    let mut refused_while_down = 0u64;
                    while Instant::now() < stop_at {
                        match store.reserve(&G, 0.001).await {
                            Ok(r) => {
                                oks.lock().unwrap().push(Instant::now());
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                settled.fetch_add(800_000, Ordering::Relaxed);
                                // a settle that fails is retried in the background
                                let _ = store.settle(&r, 0.0008).await;
                            }
                            Err(BudgetError::Exceeded { .. }) => {
                                // Redis answered (the cap is reached): service is up
                                oks.lock().unwrap().push(Instant::now());
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            Err(BudgetError::Store(e)) => {
                                assert!(e.downcast_ref::<FleetError>().is_some(), "untyped: {e}");
                                refused_while_down += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                    refused_while_down
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let down_at = Instant::now();
        tokio::task::block_in_place(|| server.kill());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let up_at = Instant::now();
        tokio::task::block_in_place(|| server.restart());
        let mut refused = 0;
        for w in workers {
            refused += w.await.unwrap();
        }
        // the background settles land
        let t0 = Instant::now();
        while store.held().await.unwrap_or(1) > 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "reservations left held");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let oks = last_ok.lock().unwrap().clone();
        let ok_while_down = oks
            .iter()
            .filter(|t| **t > down_at + Duration::from_millis(350) && **t < up_at)
            .count();
        let resumed = oks
            .iter()
            .filter(|t| **t > up_at)
            .min()
            .map(|t| t.duration_since(up_at));
        let usage = store.usage(&BudgetScope::Global).await.unwrap().unwrap();
        (
            refused,
            ok_while_down,
            resumed,
            usage,
            settled_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
    });
    let (refused, ok_while_down, resumed, usage, settled) = outcome;
    println!(
        "restart: {refused} typed refusals while down, resumed after {resumed:?}, settled ${settled:.4}, {usage:?}"
    );
    assert!(
        refused > 0,
        "requests during the outage were refused with typed errors"
    );
    assert_eq!(ok_while_down, 0, "Redis answered nothing while it was down");
    let resumed = resumed.expect("service resumed after the restart");
    assert!(resumed < Duration::from_secs(4), "resumed only after {resumed:?}");
    assert!(usage.spent_usd <= cap, "overspent {}", usage.spent_usd);
    assert!(
        (usage.spent_usd - settled).abs() < 1e-9,
        "every settle landed: {} vs {settled}",
        usage.spent_usd
    );
    assert_eq!(usage.reserved_usd, 0.0);
}
