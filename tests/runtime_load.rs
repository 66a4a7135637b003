//! Load: many concurrent routed requests on this machine with 30% of primary calls failing.
//!
//! Checks that every request ends in a success or a typed error listing its attempts, that none
//! outlives its deadline by more than `MAX_OVERRUN`, that settled spend never exceeds the cap, and
//! that memory stays bounded (RSS growth between two equal rounds, no reservation left held).
//!
//! Two rounds of 10,000 concurrent requests each (about 4 s in a debug build on 2 cores, so it
//! runs by default; `TASKROUTE_LOAD_REQUESTS=N` changes the size):
//!   cargo test --features runtime --test runtime_load -- --nocapture
#![cfg(feature = "runtime")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, Usage,
};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, Clock, InMemoryBudgetStore,
    RequestOptions, RetryPolicy, RoutedClient, RoutedError, RuntimeStats, StatsConfig, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

const DEADLINE: Duration = Duration::from_millis(1500);
/// The stated margin: no request may end later than its deadline plus this.
const MAX_OVERRUN: Duration = Duration::from_millis(250);
const PRIMARY: &str = "small";

/// Fails 30% of calls to the primary and 5% of the others (mixed kinds), answers the rest after
/// 1–20 ms; seeded.
#[derive(Debug)]
struct LoadFake {
    rng: Mutex<Pcg64Mcg>,
    primary_calls: AtomicU64,
    primary_failures: AtomicU64,
    other_calls: AtomicU64,
    other_failures: AtomicU64,
}

enum Plan {
    Answer(u64, u32),
    Fail(u64, ErrorKind, Option<Duration>),
    Stall,
}

impl LoadFake {
    fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(Pcg64Mcg::seed_from_u64(seed)),
            primary_calls: AtomicU64::new(0),
            primary_failures: AtomicU64::new(0),
            other_calls: AtomicU64::new(0),
            other_failures: AtomicU64::new(0),
        }
    }

    fn plan(&self, primary: bool) -> Plan {
        let mut rng = self.rng.lock().unwrap();
        let delay = rng.random_range(1..=20u64);
        let fail_rate = if primary { 0.30 } else { 0.05 };
        let (calls, failures) = if primary {
            (&self.primary_calls, &self.primary_failures)
        } else {
            (&self.other_calls, &self.other_failures)
        };
        calls.fetch_add(1, Ordering::Relaxed);
        if rng.random::<f64>() >= fail_rate {
            return Plan::Answer(delay, rng.random_range(1..=50u32));
        }
        failures.fetch_add(1, Ordering::Relaxed);
        match rng.random_range(0..10u32) {
            0..=3 => Plan::Fail(delay, ErrorKind::Server, None),
            4..=6 => Plan::Fail(delay, ErrorKind::RateLimited, Some(Duration::from_millis(50))),
            7..=8 => Plan::Fail(delay, ErrorKind::Overloaded, None),
            _ => Plan::Stall,
        }
    }
}

#[async_trait]
impl Provider for LoadFake {
    fn name(&self) -> &str {
        "load"
    }

    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        match self.plan(model.id.as_str() == PRIMARY) {
            Plan::Answer(ms, out) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                // at most the task's expected 100 in / 50 out tokens: never above the reservation
                Ok(ChatResponse::new(
                    model,
                    String::from("ok"),
                    Vec::new(),
                    FinishReason::Stop,
                    Usage::new(100, out, 0),
                ))
            }
            Plan::Fail(ms, kind, retry_after) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let mut e = ProviderError::new(kind, "injected").with_provider("load");
                if let Some(r) = retry_after {
                    e = e.with_retry_after(r);
                }
                Err(e)
            }
            Plan::Stall => {
                // far beyond any deadline: only the runtime's timeout ends it
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(ProviderError::new(ErrorKind::Timeout, "stalled"))
            }
        }
    }

    async fn stream(&self, _model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            "the load test does not stream",
        ))
    }
}

fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

struct Round {
    ok: u64,
    errors: BTreeMap<&'static str, u64>,
    attempts: u64,
    fallbacks: u64,
    max_overrun: Duration,
    wall: Duration,
}

async fn round(client: &Arc<RoutedClient>, n: usize) -> Round {
    let task = Arc::new(TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50));
    let req = Arc::new(ChatRequest::new().user("load"));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let client = Arc::clone(client);
            let task = Arc::clone(&task);
            let req = Arc::clone(&req);
            tokio::spawn(async move {
                let opts = RequestOptions::within(DEADLINE).tenant(format!("t{}", i % 4));
                let start = Instant::now();
                let out = client.complete(&*task, &req, opts).await;
                (out, start.elapsed())
            })
        })
        .collect();
    let mut r = Round {
        ok: 0,
        errors: BTreeMap::new(),
        attempts: 0,
        fallbacks: 0,
        max_overrun: Duration::ZERO,
        wall: Duration::ZERO,
    };
    for h in handles {
        let (out, took) = h.await.expect("request task panicked");
        r.max_overrun = r.max_overrun.max(took.saturating_sub(DEADLINE));
        match out {
            Ok(resp) => {
                r.ok += 1;
                r.attempts += resp.attempts.len() as u64;
                assert_eq!(
                    resp.attempts.last().map(|a| a.model.clone()),
                    Some(resp.response.model.clone())
                );
                if resp.attempts.iter().any(|a| a.rank > 0) {
                    r.fallbacks += 1;
                }
            }
            Err(e) => {
                let label = match &e {
                    RoutedError::NoRoute { budget_limited, .. } => {
                        assert!(
                            *budget_limited || e.to_string().contains("circuit open"),
                            "unexpected no-route: {e}"
                        );
                        "no route (budget or breakers)"
                    }
                    RoutedError::AllFailed { .. } => "all models failed",
                    RoutedError::DeadlineExceeded { .. } => "deadline exceeded",
                    RoutedError::Budget { .. } => "budget refused",
                    RoutedError::Rejected { .. } => "rejected",
                    _ => "other",
                };
                if !matches!(e, RoutedError::NoRoute { .. }) {
                    assert!(!e.attempts().is_empty(), "a typed error lists its attempts: {e}");
                }
                r.attempts += e.attempts().len() as u64;
                *r.errors.entry(label).or_default() += 1;
            }
        }
    }
    r.wall = t0.elapsed();
    r
}

#[test]
fn concurrent_requests_with_failing_primaries() {
    let n: usize = std::env::var("TASKROUTE_LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!("runtime_load: {n} concurrent requests per round, 2 rounds, 2 worker threads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock);
        let models = [
            ModelSpec::new(PRIMARY, "load", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
            ModelSpec::new("medium", "load", Prices::new(1.0, 4.0), 128_000).with_default_quality(0.85),
            ModelSpec::new("large", "load", Prices::new(3.0, 15.0), 200_000).with_default_quality(0.9),
        ];
        // a request costs about $0.00004 on average (mostly cheap answers, a few dearer
        // fallbacks): the cap covers about 1.5 rounds, so it runs out during round 2.
        let cap = 0.00006 * n as f64;
        let store = Arc::new(
            InMemoryBudgetStore::new(Arc::clone(&clock))
                .with_cap(BudgetScope::Global, BudgetCap::total(cap))
                .unwrap(),
        );
        // 30% failures must not trip the primary's breaker (it trips at 50% of 50 calls in 10 s)
        let breaker_config = BreakerConfig::default()
            .with_consecutive_failures(0)
            .with_failure_rate(0.5, 50, Duration::from_secs(10));
        let breakers = Arc::new(BreakerRegistry::new(breaker_config, Arc::clone(&clock)).unwrap());
        let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::clone(&clock)).unwrap());
        let fake = Arc::new(LoadFake::new(0x5EED));
        let router = Router::builder()
            .models(models)
            .policy(CostFirst::new(0.75).unwrap())
            .build()
            .unwrap();
        let client = Arc::new(
            RoutedClient::builder(router)
                .provider(fake.clone() as Arc<dyn Provider>)
                .breakers(breakers)
                .budget(store.clone(), BudgetPolicy::default())
                .stats(stats)
                .retry(RetryPolicy::default().with_max_retries(1))
                .seed(42)
                .build()
                .unwrap(),
        );
        let rss0 = rss_kib();
        let first = round(&client, n).await;
        let rss1 = rss_kib();
        let second = round(&client, n).await;
        let rss2 = rss_kib();

        let usage = store.usage(&BudgetScope::Global).unwrap();
        let pc = fake.primary_calls.load(Ordering::Relaxed);
        let pf = fake.primary_failures.load(Ordering::Relaxed);
        let oc = fake.other_calls.load(Ordering::Relaxed);
        let of = fake.other_failures.load(Ordering::Relaxed);
        for (name, r) in [("round 1", &first), ("round 2", &second)] {
            println!(
                "{name}: {n} requests in {:?}: {} ok ({} via a fallback), errors {:?}, {} attempts, max deadline overrun {:?}",
                r.wall, r.ok, r.fallbacks, r.errors, r.attempts, r.max_overrun
            );
        }
        println!(
            "provider calls: primary {pc} ({pf} failed, {:.1}%), others {oc} ({of} failed)",
            100.0 * pf as f64 / pc.max(1) as f64
        );
        println!(
            "spend: settled ${:.6} of cap ${cap:.6} ({:.2}%), reserved ${:.6}, overrun ${:.6}, held {}",
            usage.spent_usd,
            100.0 * usage.spent_usd / cap,
            usage.reserved_usd,
            usage.overrun_usd,
            store.held()
        );
        println!("RSS KiB: start {rss0:?}, after round 1 {rss1:?}, after round 2 {rss2:?}");

        for r in [&first, &second] {
            assert_eq!(r.ok + r.errors.values().sum::<u64>(), n as u64);
            assert!(r.max_overrun <= MAX_OVERRUN, "deadline overrun {:?}", r.max_overrun);
        }
        let share = pf as f64 / pc as f64;
        assert!((0.27..0.33).contains(&share), "primary failure share {share}");
        assert!(first.ok > 0 && first.fallbacks > 0);
        assert!(usage.spent_usd <= cap, "overspent: {} > {cap}", usage.spent_usd);
        assert!(usage.spent_usd > cap * 0.5, "the cap was reached for: {}", usage.spent_usd);
        assert_eq!(usage.reserved_usd, 0.0, "every reservation settled or released");
        assert_eq!(store.held(), 0);
        assert_eq!(usage.overrun_usd, 0.0);
        assert!(
            second.errors.get("no route (budget or breakers)").copied().unwrap_or(0) > 0,
            "the budget ran out in round 2"
        );
        if let (Some(a), Some(b)) = (rss1, rss2) {
            // same work again: a leak would grow RSS by about as much as round 1 did
            let growth = b.saturating_sub(a);
            assert!(growth < 16 * 1024, "RSS grew {growth} KiB over an equal round");
        }
    });
}
