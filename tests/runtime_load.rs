//! Load: many concurrent routed requests (completions and streams) with 30% of primary calls
//! failing, a provider that bills more than it was estimated to, and callers that drop requests
//! and cancel streams mid-flight.
//!
//! The fake provider can break every promise checked here, and keeps its own books:
//! - it bills above the runtime's estimate: within the reservation's headroom
//!   (`BudgetPolicy::reserve_factor` = 1.25) and beyond it (up to 8× the estimate), so
//!   "settled ≤ cap" does not hold by construction. The test checks the bound stated in
//!   `docs/reliability.md`: settled ≤ cap + overrun, with the overrun computed by the fake from
//!   its own bills (Σ max(0, billed − reserved) over the calls it billed);
//! - it bills a call dropped or cancelled mid-flight (and a stream it cuts itself) for the tokens
//!   produced so far, so the recorded spend must be at least Σ min(billed, reserved);
//! - callers drop 15% of the requests at a random point and cancel 15% of the streams after a
//!   few events, so a reservation left held is seen.
//!
//! Every request not dropped by its caller must end in a success or a typed error listing its
//! attempts. Memory must stay bounded (RSS growth between two equal rounds).
//!
//! Two rounds of 10,000 concurrent requests each on 2 worker threads and the real clock (a few
//! seconds in a debug build, so it runs by default; `TASKROUTE_LOAD_REQUESTS=N` changes the
//! size):
//!   cargo test --features runtime --test runtime_load -- --nocapture
//!
//! The deadline margin is checked on tokio's paused clock (`deadlines_hold_on_the_paused_clock`):
//! on the real clock of a loaded machine, scheduling delays are not the runtime's doing.
#![cfg(feature = "runtime")]
#![allow(unsafe_code)] // the `unsafe impl GlobalAlloc` below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, Clock, InMemoryBudgetStore,
    RequestOptions, RetryPolicy, RoutedClient, RoutedError, RuntimeStats, StatsConfig, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_millis(1500);
/// The margin stated in `docs/reliability.md`: on tokio's paused clock no request ends later
/// than its deadline plus this (tokio's timer granularity).
const MAX_OVERRUN: Duration = Duration::from_millis(1);
const PRIMARY: &str = "small";
const INPUT: u32 = 100;
const OUTPUT: u32 = 50;
const RESERVE_FACTOR: f64 = 1.25;
/// One nano-dollar per call: the store rounds each amount up to whole nano-dollars.
const ROUNDING: f64 = 1e-9;

/// The fake's books: what it billed, per call, against what the runtime reserved for the call
/// (the fake computes the reservation as the runtime documents it: the estimate at the task's
/// 100 input / 50 output tokens, times the reserve factor).
#[derive(Clone, Copy, Debug, Default)]
struct Books {
    calls: u64,
    billed: f64,
    /// What the runtime must have recorded at least: the bill of every call that ran to its
    /// end (settled with its usage), and min(billed, reserved) of every call cut short (charged
    /// its reservation: the runtime cannot know the tokens produced).
    owed: f64,
    /// Σ max(0, billed − reserved): the overrun the documented bound allows.
    excess: f64,
    /// Calls billed above the estimate but within the reservation.
    above_estimate: u64,
    /// Calls billed above the reservation.
    above_reservation: u64,
}

#[derive(Debug, Default)]
struct Ledger(Mutex<Books>);

impl Ledger {
    fn record(&self, billed: f64, estimate: f64, finished: bool) {
        let reserved = estimate * RESERVE_FACTOR;
        let mut b = self.0.lock().unwrap();
        b.calls += 1;
        b.billed += billed;
        b.owed += if finished { billed } else { billed.min(reserved) };
        b.excess += (billed - reserved).max(0.0);
        if billed > reserved {
            b.above_reservation += 1;
        } else if billed > estimate {
            b.above_estimate += 1;
        }
    }

    fn books(&self) -> Books {
        *self.0.lock().unwrap()
    }
}

/// Bills the input and the output tokens produced so far when dropped: at the end of a call,
/// or wherever the caller (or the fake itself) cuts it.
struct Meter {
    ledger: Arc<Ledger>,
    prices: Prices,
    produced: u32,
    /// The call ran to its end (not cut by the caller, the deadline or the fake itself).
    finished: bool,
}

impl Drop for Meter {
    fn drop(&mut self) {
        let billed = self.prices.cost_usd(INPUT, 0, self.produced);
        self.ledger
            .record(billed, self.prices.cost_usd(INPUT, 0, OUTPUT), self.finished);
    }
}

/// Fails 30% of calls to the primary and 5% of the others (mixed kinds); answers the rest after
/// 1–20 ms with 1–50 output tokens (80%), 51–62 (12%: above the estimate, within the
/// reservation) or 100–400 (8%: above the reservation). Cuts 5% of its answered streams
/// half-way. Seeded.
#[derive(Debug)]
struct LoadFake {
    rng: Mutex<Pcg64Mcg>,
    ledger: Arc<Ledger>,
    primary_calls: AtomicU64,
    primary_failures: AtomicU64,
    other_calls: AtomicU64,
    other_failures: AtomicU64,
}

enum Plan {
    /// After this many ms, this many output tokens; cut half-way (streams only) when `true`.
    Answer(u64, u32, bool),
    Fail(u64, ErrorKind, Option<Duration>),
    Stall,
}

impl LoadFake {
    fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(Pcg64Mcg::seed_from_u64(seed)),
            ledger: Arc::default(),
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
            let out = match rng.random_range(0..100u32) {
                0..80 => rng.random_range(1..=OUTPUT),
                80..92 => rng.random_range(OUTPUT + 1..=OUTPUT * 5 / 4),
                _ => rng.random_range(OUTPUT * 2..=OUTPUT * 8),
            };
            return Plan::Answer(delay, out, rng.random_bool(0.05));
        }
        failures.fetch_add(1, Ordering::Relaxed);
        match rng.random_range(0..10u32) {
            0..=3 => Plan::Fail(delay, ErrorKind::Server, None),
            4..=6 => Plan::Fail(delay, ErrorKind::RateLimited, Some(Duration::from_millis(50))),
            7..=8 => Plan::Fail(delay, ErrorKind::Overloaded, None),
            _ => Plan::Stall,
        }
    }

    fn meter(&self, model: &ModelSpec) -> Meter {
        Meter {
            ledger: Arc::clone(&self.ledger),
            prices: model.prices.clone(),
            produced: 0,
            finished: false,
        }
    }
}

fn injected(kind: ErrorKind, retry_after: Option<Duration>) -> ProviderError {
    let e = ProviderError::new(kind, "injected").with_provider("load");
    match retry_after {
        Some(r) => e.with_retry_after(r),
        None => e,
    }
}

#[async_trait]
impl Provider for LoadFake {
    fn name(&self) -> &str {
        "load"
    }

    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        match self.plan(model.id.as_str() == PRIMARY) {
            Plan::Answer(ms, out, _) => {
                // ends when a failure would have (an answer later than the failures in a burst
                // would open the primary's breaker)
                let end = Instant::now() + Duration::from_millis(ms);
                let mut meter = self.meter(model);
                tokio::time::sleep_until(end - Duration::from_millis(ms) / 2).await;
                meter.produced = out / 2;
                tokio::time::sleep_until(end).await;
                meter.produced = out;
                meter.finished = true;
                drop(meter);
                Ok(ChatResponse::text(model, "ok", Usage::new(INPUT, out, 0)))
            }
            Plan::Fail(ms, kind, retry_after) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Err(injected(kind, retry_after))
            }
            Plan::Stall => {
                // sent and billed for its input; far beyond any deadline: only the runtime's
                // timeout ends it
                let _meter = self.meter(model);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(ProviderError::new(ErrorKind::Timeout, "stalled"))
            }
        }
    }

    async fn stream(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (ms, out, cut) = match self.plan(model.id.as_str() == PRIMARY) {
            Plan::Answer(ms, out, cut) => (ms, out, cut),
            Plan::Fail(ms, kind, retry_after) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                return Err(injected(kind, retry_after));
            }
            Plan::Stall => {
                let _meter = self.meter(model);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Err(ProviderError::new(ErrorKind::Timeout, "stalled"));
            }
        };
        // one event per 10 tokens, spread over the answer's time
        let events = out.div_ceil(10);
        let start = Instant::now();
        let at = move |k: u32| start + Duration::from_millis(ms) * k / events;
        // cut after some events were delivered (a stream failing before its first event is a
        // failed call, not billed, like the fake's other failures)
        let cut_at = (cut && events >= 2).then_some(events / 2);
        let prices = model.prices.clone();
        let meter = self.meter(model);
        let s = futures::stream::unfold(Some((meter, 0u32)), move |state| {
            let prices = prices.clone();
            async move {
                let (mut meter, sent) = state?;
                if cut_at == Some(sent) {
                    drop(meter);
                    return Some((Err(injected(ErrorKind::Server, None)), None));
                }
                if sent == events {
                    meter.finished = true;
                    drop(meter);
                    let usage = Usage::new(INPUT, out, 0);
                    let finish = StreamEvent::Finish {
                        finish_reason: FinishReason::Stop,
                        usage,
                        cost_usd: usage.cost_usd(&prices),
                    };
                    return Some((Ok(finish), None));
                }
                tokio::time::sleep_until(at(sent + 1)).await;
                meter.produced = ((sent + 1) * 10).min(out);
                Some((
                    Ok(StreamEvent::TextDelta("words ".to_owned())),
                    Some((meter, sent + 1)),
                ))
            }
        });
        Ok(s.boxed())
    }
}

/// Counts the bytes allocated and not yet freed, so that a leak shows up exactly (RSS moves
/// with the allocator's arenas, by more than a round's worth on 2 threads).
struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live_kib() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed) / 1024
}

fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

/// How one request ended, from its caller's side.
enum End {
    Ok {
        fallback: bool,
        attempts: usize,
    },
    Error {
        label: &'static str,
        attempts: usize,
    },
    /// The caller dropped the request future.
    Dropped,
    /// The caller dropped the stream after some events.
    Cancelled,
}

#[derive(Default)]
struct Round {
    ok: u64,
    errors: BTreeMap<&'static str, u64>,
    dropped: u64,
    cancelled: u64,
    attempts: u64,
    fallbacks: u64,
    max_overrun: Duration,
    wall: Duration,
    /// Memory after the round: resident set (KiB), heap allocated and not freed (KiB).
    rss_kib: Option<u64>,
    live_kib: i64,
}

/// The label of a typed error; asserts that every error but `NoRoute` lists its attempts.
fn label(e: &RoutedError) -> &'static str {
    let label = match e {
        RoutedError::NoRoute { budget_limited, .. } => {
            assert!(
                *budget_limited || e.to_string().contains("circuit open"),
                "unexpected no-route: {e}"
            );
            return "no route (budget or breakers)";
        }
        RoutedError::AllFailed { .. } => "all models failed",
        RoutedError::DeadlineExceeded { .. } => "deadline exceeded",
        RoutedError::Budget { .. } => "budget refused",
        RoutedError::Rejected { .. } => "rejected",
        _ => "other",
    };
    assert!(!e.attempts().is_empty(), "a typed error lists its attempts: {e}");
    label
}

/// One request as its caller runs it: a completion, or a stream read to its end or cancelled
/// after `cancel_after` events.
async fn request(
    client: &RoutedClient,
    task: &TaskSpec,
    opts: RequestOptions,
    stream: bool,
    cancel_after: Option<usize>,
) -> End {
    let req = ChatRequest::new().user("load");
    if !stream {
        return match client.complete(task, &req, opts).await {
            Ok(resp) => {
                assert_eq!(
                    resp.attempts.last().map(|a| a.model.clone()),
                    Some(resp.response.model.clone())
                );
                End::Ok {
                    fallback: resp.attempts.iter().any(|a| a.rank > 0),
                    attempts: resp.attempts.len(),
                }
            }
            Err(e) => End::Error {
                label: label(&e),
                attempts: e.attempts().len(),
            },
        };
    }
    let mut s = match client.stream(task, &req, opts).await {
        Ok(s) => s,
        Err(e) => {
            return End::Error {
                label: label(&e),
                attempts: e.attempts().len(),
            };
        }
    };
    let mut events = 0;
    while let Some(item) = s.next().await {
        match item {
            Ok(StreamEvent::Finish { .. }) => {
                return End::Ok {
                    fallback: s.attempts().iter().any(|a| a.rank > 0),
                    attempts: s.attempts().len(),
                };
            }
            Ok(_) => events += 1,
            Err(e) => {
                assert!(!e.attempts.is_empty(), "an interrupted stream lists its attempts");
                return End::Error {
                    label: "stream interrupted",
                    attempts: e.attempts.len(),
                };
            }
        }
        if cancel_after == Some(events) {
            drop(s);
            return End::Cancelled;
        }
    }
    panic!("a stream ended without its Finish event or a typed error");
}

/// `n` concurrent requests: a third of them streams; 15% dropped by their caller after
/// 0–40 ms; 15% of the streams cancelled after 1–5 events.
async fn round(client: &Arc<RoutedClient>, n: usize, seed: u64) -> Round {
    let task = Arc::new(TaskSpec::new(TaskKind::Chat, INPUT).with_output_tokens(OUTPUT));
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let client = Arc::clone(client);
            let task = Arc::clone(&task);
            let stream = i % 3 == 2;
            let drop_after = rng
                .random_bool(0.15)
                .then(|| Duration::from_millis(rng.random_range(0..40)));
            let cancel_after = (stream && rng.random_bool(0.15)).then(|| rng.random_range(1..=5usize));
            tokio::spawn(async move {
                let opts = RequestOptions::within(DEADLINE).tenant(format!("t{}", i % 4));
                let start = Instant::now();
                let work = request(&client, &task, opts, stream, cancel_after);
                let end = match drop_after {
                    Some(after) => tokio::time::timeout(after, work).await.unwrap_or(End::Dropped),
                    None => work.await,
                };
                (end, start.elapsed())
            })
        })
        .collect();
    let mut r = Round::default();
    for h in handles {
        let (end, took) = h.await.expect("request task panicked");
        r.max_overrun = r.max_overrun.max(took.saturating_sub(DEADLINE));
        match end {
            End::Ok { fallback, attempts } => {
                r.ok += 1;
                r.attempts += attempts as u64;
                r.fallbacks += u64::from(fallback);
            }
            End::Error { label, attempts } => {
                r.attempts += attempts as u64;
                *r.errors.entry(label).or_default() += 1;
            }
            End::Dropped => r.dropped += 1,
            End::Cancelled => r.cancelled += 1,
        }
    }
    r.wall = t0.elapsed();
    r.rss_kib = rss_kib();
    r.live_kib = live_kib();
    r
}

struct Setup {
    client: Arc<RoutedClient>,
    store: Arc<InMemoryBudgetStore>,
    fake: Arc<LoadFake>,
    cap: f64,
}

/// Three models, breakers that 30% failures do not trip, a global cap of $0.00009 per request of
/// a round (a request costs about $0.000055 with the overbilling: the money runs out during
/// round 2), statistics, 1 retry per model, reservations of 1.25× the estimate, stepping down
/// to cheaper models near the cap or not.
fn setup(n: usize, step_down: bool) -> Setup {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let models = [
        ModelSpec::new(PRIMARY, "load", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
        ModelSpec::new("medium", "load", Prices::new(1.0, 4.0), 128_000).with_default_quality(0.85),
        ModelSpec::new("large", "load", Prices::new(3.0, 15.0), 200_000).with_default_quality(0.9),
    ];
    let cap = 0.00009 * n as f64;
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
            .budget(
                store.clone(),
                BudgetPolicy::default()
                    .with_reserve_factor(RESERVE_FACTOR)
                    .with_step_down(step_down),
            )
            .stats(stats)
            .retry(RetryPolicy::default().with_max_retries(1))
            .seed(42)
            .build()
            .unwrap(),
    );
    Setup {
        client,
        store,
        fake,
        cap,
    }
}

fn print_round(name: &str, n: usize, r: &Round) {
    println!(
        "{name}: {n} requests in {:?}: {} ok ({} via a fallback), errors {:?}, {} dropped, {} streams cancelled, {} attempts, max deadline overrun {:?}",
        r.wall, r.ok, r.fallbacks, r.errors, r.dropped, r.cancelled, r.attempts, r.max_overrun
    );
}

/// Samples the store every millisecond while the rounds run, until `stop` is set. Each sample
/// checks `spent + reserved <= cap + overrun so far`, the overrun taken from the fake's books
/// (read after the store: the fake records a bill before the runtime settles it). Returns the
/// number of samples and the worst excess over that bound (0 when it always held).
fn watch(s: &Setup, stop: Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<(u64, f64)> {
    let store = Arc::clone(&s.store);
    let ledger = Arc::clone(&s.fake.ledger);
    let cap = s.cap;
    tokio::spawn(async move {
        let (mut samples, mut worst) = (0u64, 0.0f64);
        while !stop.load(Ordering::Relaxed) {
            let u = store.usage(&BudgetScope::Global).unwrap();
            let b = ledger.books();
            let bound = cap + b.excess + ROUNDING * b.calls as f64;
            worst = worst.max(u.spent_usd + u.reserved_usd - bound);
            samples += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (samples, worst)
    })
}

/// Runs two rounds of `n` requests under [`watch`]; checks the bound held at every sample.
async fn two_rounds(s: &Setup, n: usize, seed: u64) -> (Round, Round) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch(s, Arc::clone(&stop));
    let first = round(&s.client, n, seed).await;
    let second = round(&s.client, n, seed + 1).await;
    stop.store(true, Ordering::Relaxed);
    let (samples, worst) = watcher.await.unwrap();
    println!(
        "watched the store {samples} times; worst excess of spent + reserved over cap + overrun: ${worst:.9}"
    );
    assert!(samples > 100, "{samples} samples");
    assert!(
        worst <= 0.0,
        "spent + reserved went ${worst} over the cap plus the overrun billed so far"
    );
    (first, second)
}

/// The budget's books against the fake's, once every guard has settled.
async fn check_books(s: &Setup) {
    // let the settles that dropped guards handed to the runtime run
    tokio::time::sleep(Duration::from_millis(100)).await;
    let u = s.store.usage(&BudgetScope::Global).unwrap();
    let b = s.fake.ledger.books();
    let cap = s.cap;
    println!(
        "spend: settled ${:.6} of cap ${cap:.6} ({:.2}%), reserved ${:.6}, overrun ${:.6}, held {}",
        u.spent_usd,
        100.0 * u.spent_usd / cap,
        u.reserved_usd,
        u.overrun_usd,
        s.store.held()
    );
    println!(
        "fake's books: {} calls billed ${:.6} (owed at least ${:.6}); {} above the estimate within the reservation, {} above the reservation (by ${:.6} in all)",
        b.calls, b.billed, b.owed, b.above_estimate, b.above_reservation, b.excess
    );
    let slack = ROUNDING * b.calls as f64;
    // the fake did break the promises the runtime cannot keep alone
    assert!(b.above_estimate > 0 && b.above_reservation > 0 && b.excess > 0.0);
    assert_eq!(s.store.held(), 0, "reservations left held");
    assert_eq!(u.reserved_usd, 0.0, "every reservation settled or released");
    assert!(
        u.spent_usd <= cap + b.excess + slack,
        "overspent: settled ${} > cap ${cap} + overrun ${} (the fake's)",
        u.spent_usd,
        b.excess
    );
    assert!(
        u.overrun_usd <= b.excess + slack,
        "the store reports ${} of overrun, the fake billed ${} above reservations",
        u.overrun_usd,
        b.excess
    );
    assert!(
        u.spent_usd + slack >= b.owed,
        "recorded ${} but the fake is owed ${}",
        u.spent_usd,
        b.owed
    );
    assert!(
        u.spent_usd > cap * 0.5,
        "the cap was reached for: {}",
        u.spent_usd
    );
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
        let s = setup(n, true);
        let (rss0, live0) = (rss_kib(), live_kib());
        let (first, second) = two_rounds(&s, n, 1).await;
        let (rss1, live1, rss2, live2) = (first.rss_kib, first.live_kib, second.rss_kib, second.live_kib);

        let fake = &s.fake;
        let pc = fake.primary_calls.load(Ordering::Relaxed);
        let pf = fake.primary_failures.load(Ordering::Relaxed);
        let oc = fake.other_calls.load(Ordering::Relaxed);
        let of = fake.other_failures.load(Ordering::Relaxed);
        print_round("round 1", n, &first);
        print_round("round 2", n, &second);
        println!(
            "provider calls: primary {pc} ({pf} failed, {:.1}%), others {oc} ({of} failed)",
            100.0 * pf as f64 / pc.max(1) as f64
        );
        println!("RSS KiB: start {rss0:?}, after round 1 {rss1:?}, after round 2 {rss2:?}");
        println!("live heap KiB: start {live0}, after round 1 {live1}, after round 2 {live2}");
        check_books(&s).await;

        for r in [&first, &second] {
            assert_eq!(
                r.ok + r.errors.values().sum::<u64>() + r.dropped + r.cancelled,
                n as u64
            );
            assert!(r.dropped > 0 && r.cancelled > 0);
        }
        let share = pf as f64 / pc as f64;
        assert!((0.27..0.33).contains(&share), "primary failure share {share}");
        assert!(first.ok > 0 && first.fallbacks > 0);
        assert!(
            second
                .errors
                .get("no route (budget or breakers)")
                .copied()
                .unwrap_or(0)
                > 0,
            "the budget ran out in round 2"
        );
        // a second round of the same work holds no more memory after it than the first: a
        // leak of one small allocation per request would be ~1 MiB
        let growth = live2 - live1;
        assert!(
            growth < 256,
            "the live heap grew {growth} KiB over a second round"
        );
    });
}

/// The same load on tokio's paused clock (one thread, deterministic): no request ends later
/// than its deadline plus `MAX_OVERRUN`, and the books hold as above.
#[tokio::test(start_paused = true)]
async fn deadlines_hold_on_the_paused_clock() {
    let n = 2_000;
    // no stepping down: the store's reserve is the only thing between the callers and the cap
    let s = setup(n, false);
    let (first, second) = two_rounds(&s, n, 5).await;
    print_round("paused round 1", n, &first);
    print_round("paused round 2", n, &second);
    check_books(&s).await;
    for r in [&first, &second] {
        assert!(
            r.max_overrun <= MAX_OVERRUN,
            "deadline overrun {:?}",
            r.max_overrun
        );
    }
    assert!(
        first.errors.get("deadline exceeded").copied().unwrap_or(0) > 0,
        "stalled calls ran into the deadline"
    );
    assert!(
        second.errors.get("budget refused").copied().unwrap_or(0) > 0,
        "the budget ran out in round 2"
    );
}
