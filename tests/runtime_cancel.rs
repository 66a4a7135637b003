//! Cancellation: `complete` futures, streams and cascades dropped at random points, under tokio's
//! paused clock. Afterwards no reservation is held and the recorded spend is at least what the
//! fake provider billed, for each request alone. The fake bills like a real provider: a call it
//! finished costs its usage; a call dropped after it was sent costs the tokens produced until
//! then (never more than `max_tokens` allows); a stream dropped after some tokens costs those
//! tokens. Each request is charged to a tenant of its own and billed apart, so the whole
//! reservation charged for a request dropped early cannot cover another request's
//! under-charge, of the same kind (`complete`, stream, cascade) or another.
//!
//! The same with deployments (rpm, tpm and concurrency limits, one limiter answering at once,
//! one after a round trip), requests waiting in line for capacity, and a budget store that
//! takes a round trip: afterwards every limiter grant is settled, no call is in flight, the
//! line is empty (a later waiting request is admitted at once) and no reservation is held.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use runtime_support::model;
use std::time::Instant;
use taskroute::provider::RateLimits;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};
use taskroute::runtime::{
    Acquire, AttemptOutcome, BreakerConfig, BreakerRegistry, BudgetCap, BudgetError, BudgetPolicy,
    BudgetScope, BudgetStore, Capacity, Clock, Deployment, DeploymentLimits, InMemoryBudgetStore, Limiter,
    LocalLimiter, Refusal, RequestOptions, Reservation, RetryPolicy, RoutedClient, TokioClock,
};
use taskroute::{ModelSpec, QualityFirst, Router, TaskKind, TaskSpec};

const INPUT: u32 = 100;
const MAX_TOKENS: u32 = 200;
const TOKEN_EVERY: Duration = Duration::from_millis(10);

/// What the fake billed, in USD, by the text of the request's first message (a
/// [`request_name`] for the requests of [`run_or_drop`]).
#[derive(Debug, Default)]
struct Bill(Mutex<HashMap<String, f64>>);

impl Bill {
    fn add(&self, to: &str, usd: f64) {
        *self.0.lock().unwrap().entry(to.to_owned()).or_default() += usd;
    }
    fn total(&self) -> f64 {
        self.0.lock().unwrap().values().sum()
    }
    /// What the calls of one request were billed.
    fn of(&self, request: &str) -> f64 {
        self.0.lock().unwrap().get(request).copied().unwrap_or(0.0)
    }
}

/// Bills `INPUT` tokens plus the output tokens produced so far when dropped, to `to`.
struct Meter {
    bill: Arc<Bill>,
    to: String,
    prices: taskroute::Prices,
    produced: u32,
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.bill.add(
            &self.to,
            Usage::new(INPUT, self.produced, 0).cost_usd(&self.prices),
        );
    }
}

/// A provider that produces one output token every 10 ms, fails some calls with a 503 before
/// producing anything (not billed), and bills as [`Meter`] says.
#[derive(Debug)]
struct Billing {
    bill: Arc<Bill>,
    rng: Mutex<Pcg64Mcg>,
    /// Every call answers with one token (for a probe after the chaos).
    calm: AtomicBool,
}

impl Billing {
    fn new(bill: &Arc<Bill>, seed: u64) -> Self {
        Self {
            bill: Arc::clone(bill),
            rng: Mutex::new(Pcg64Mcg::seed_from_u64(seed)),
            calm: AtomicBool::new(false),
        }
    }

    fn plan(&self) -> Option<u32> {
        if self.calm.load(Ordering::Relaxed) {
            return Some(1);
        }
        let mut rng = self.rng.lock().unwrap();
        if rng.random_bool(0.2) {
            None
        } else {
            Some(rng.random_range(1..=MAX_TOKENS))
        }
    }

    fn meter(&self, model: &ModelSpec, req: &ChatRequest) -> Meter {
        Meter {
            bill: Arc::clone(&self.bill),
            to: req.messages.first().map(|m| m.text()).unwrap_or_default(),
            prices: model.prices.clone(),
            produced: 0,
        }
    }
}

fn unavailable() -> ProviderError {
    ProviderError::new(ErrorKind::Overloaded, "injected").with_status(503)
}

#[async_trait]
impl Provider for Billing {
    fn name(&self) -> &str {
        "fake"
    }

    async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let Some(tokens) = self.plan() else {
            return Err(unavailable());
        };
        let mut meter = self.meter(model, req);
        for _ in 0..tokens {
            tokio::time::sleep(TOKEN_EVERY).await;
            meter.produced += 1;
        }
        drop(meter);
        let text = "word ".repeat(tokens as usize);
        Ok(ChatResponse::text(model, text, Usage::new(INPUT, tokens, 0)))
    }

    async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let Some(tokens) = self.plan() else {
            return Err(unavailable());
        };
        let meter = self.meter(model, req);
        let prices = model.prices.clone();
        let s = futures::stream::unfold(Some(meter), move |state| {
            let prices = prices.clone();
            async move {
                let mut meter = state?;
                if meter.produced == tokens {
                    let usage = Usage::new(INPUT, tokens, 0);
                    // billed by the meter's drop, here
                    drop(meter);
                    let finish = StreamEvent::Finish {
                        finish_reason: FinishReason::Stop,
                        usage,
                        cost_usd: usage.cost_usd(&prices),
                    };
                    return Some((Ok(finish), None));
                }
                tokio::time::sleep(TOKEN_EVERY).await;
                meter.produced += 1;
                Some((Ok(StreamEvent::TextDelta("word ".to_owned())), Some(meter)))
            }
        });
        Ok(s.boxed())
    }
}

/// An in-memory budget store with a $1,000 cap, global and for every tenant (so it keeps each
/// tenant's spend), on tokio's clock.
fn capped_store(clock: &Arc<dyn Clock>) -> Arc<InMemoryBudgetStore> {
    Arc::new(
        InMemoryBudgetStore::new(clock.clone())
            .with_cap(BudgetScope::Global, BudgetCap::total(1_000.0))
            .unwrap()
            .with_tenant_cap(BudgetCap::total(1_000.0))
            .unwrap(),
    )
}

/// A quality-first router over the fake provider's models `m1` (the better) and, with `two`,
/// `m2`.
fn router(two: bool) -> Router {
    let mut b = Router::builder().model_spec(model("m1", "fake", 1.0, 0.9));
    if two {
        b = b.model_spec(model("m2", "fake", 2.0, 0.8));
    }
    b.policy(QualityFirst::unbounded()).build().unwrap()
}

/// What a request of [`run_or_drop`] is.
#[derive(Clone, Copy, Debug)]
enum Call {
    Complete,
    /// Read to its end.
    Stream,
    /// Over every model, cheapest first; an answer shorter than `MAX_TOKENS / 2` words is
    /// turned down, so about half the cascades escalate to a second call.
    Cascade,
}

/// How many requests [`run_or_drop`] sends.
const REQUESTS: usize = 400;

/// Request `i` of [`run_or_drop`] with `calls`: its kind, and its name (the text of its message
/// and the tenant it is charged to).
fn request_name(calls: &[Call], i: usize) -> (Call, String) {
    let call = calls[i % calls.len()];
    (call, format!("{call:?}-{i}"))
}

/// Turns down an answer shorter than `MAX_TOKENS / 2` words.
fn long_enough(r: &ChatResponse) -> Result<(), Cow<'static, str>> {
    if r.text.split_whitespace().count() >= (MAX_TOKENS / 2) as usize {
        Ok(())
    } else {
        Err("short".into())
    }
}

/// Sends [`REQUESTS`] requests at once, request `i` a `calls[i % calls.len()]` (its message its
/// [`request_name`], charged to the tenant of that name), each started after a random
/// `0..start_ms` and dropped after a random `0..drop_ms` (drawn from `seed`); whether each was
/// dropped before it finished.
async fn run_or_drop(
    c: &RoutedClient,
    task: &TaskSpec,
    seed: u64,
    (start_ms, drop_ms): (u64, u64),
    calls: &[Call],
    opts: impl Fn(u32) -> RequestOptions,
) -> Vec<bool> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let runs = (0..REQUESTS as u32).map(|i| {
        let drop_after = Duration::from_millis(rng.random_range(0..drop_ms));
        let start_after = Duration::from_millis(rng.random_range(0..start_ms));
        let (call, name) = request_name(calls, i as usize);
        let opts = opts(i).tenant(&name);
        let req = ChatRequest::new().user(name).max_tokens(MAX_TOKENS);
        async move {
            let req = &req;
            tokio::time::sleep(start_after).await;
            let work = async {
                match call {
                    Call::Complete => {
                        let _ = c.complete(task, req, opts).await;
                    }
                    Call::Stream => {
                        if let Ok(mut s) = c.stream(task, req, opts).await {
                            while s.next().await.is_some() {}
                        }
                    }
                    Call::Cascade => {
                        let _ = c.cascade(task, req, &long_enough, opts).await;
                    }
                }
            };
            tokio::time::timeout(drop_after, work).await.is_err()
        }
    });
    futures::future::join_all(runs.collect::<Vec<_>>()).await
}

/// `complete` and `stream` requests, one of each in turn.
const CALLS: &[Call] = &[Call::Complete, Call::Stream];

/// Cascades only (dropped over a longer span than the others).
const CASCADES: &[Call] = &[Call::Cascade];

#[tokio::test(start_paused = true)]
async fn dropped_requests_hold_nothing_and_are_charged_at_least_what_was_billed() {
    // Dropped after 0..1.5 s: before, during and after the calls (up to 2 s of tokens).
    hold_nothing_and_charge_at_least_the_bill(CALLS, 1_500).await;
}

#[tokio::test(start_paused = true)]
async fn dropped_cascades_hold_nothing_and_are_charged_at_least_what_was_billed() {
    // Dropped after 0..3 s: in the first step, between the steps, in the second (a step has
    // up to 2 s of tokens), and after.
    hold_nothing_and_charge_at_least_the_bill(CASCADES, 3_000).await;
}

/// `calls` dropped after a random `0..drop_ms` against a budget store: nothing held, and the
/// spend recorded is at least the bill.
async fn hold_nothing_and_charge_at_least_the_bill(calls: &[Call], drop_ms: u64) {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let store = capped_store(&clock);
    // Breakers that stay closed: the fake's 503s come at once and its answers after up to
    // 2 s, so early on the failure rate would open both breakers and leave most requests
    // with no model to call.
    let breakers = Arc::new(
        BreakerRegistry::new(
            BreakerConfig::default()
                .with_consecutive_failures(1000)
                .with_failure_rate(1.0, 1000, Duration::from_secs(30)),
            clock,
        )
        .unwrap(),
    );
    let bill = Arc::new(Bill::default());
    let provider = Billing::new(&bill, 7);
    let router = router(true);
    let c = Arc::new(
        RoutedClient::builder(router)
            .provider(Arc::new(provider) as Arc<dyn Provider>)
            .breakers(breakers)
            .budget(store.clone(), BudgetPolicy::default())
            .retry(RetryPolicy::default())
            .build()
            .unwrap(),
    );
    let task = TaskSpec::new(TaskKind::Chat, INPUT).with_output_tokens(50);
    let runs = run_or_drop(&c, &task, 11, (500, drop_ms), calls, |_| {
        RequestOptions::within(Duration::from_secs(60))
    })
    .await;
    for (k, &call) in calls.iter().enumerate() {
        let of_kind = runs.iter().skip(k).step_by(calls.len());
        let dropped = of_kind.filter(|&&d| d).count();
        let finished = REQUESTS / calls.len() - dropped;
        assert!(
            dropped > 50 && finished > 50,
            "{call:?}: {dropped} dropped, {finished} finished"
        );
    }
    // let any settle handed to the runtime run
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.held(), 0, "reservations left held");
    let u = store.usage(&BudgetScope::Global).unwrap();
    assert_eq!(u.reserved_usd, 0.0);
    assert!(bill.total() > 0.0);
    assert!(
        u.spent_usd + 1e-9 >= bill.total(),
        "recorded ${} but the provider billed ${}",
        u.spent_usd,
        bill.total()
    );
    each_request_charged_at_least_its_bill(&store, &bill, calls);
}

/// For every request [`run_or_drop`] sent with `calls`, alone: nothing reserved for its
/// tenant, and the spend recorded for the tenant at least what the fake billed the request's
/// calls. Each kind was billed something; the requests charged less are counted by kind.
fn each_request_charged_at_least_its_bill(store: &InMemoryBudgetStore, bill: &Bill, calls: &[Call]) {
    // per kind (as in `calls`): recorded, billed, requests charged less than billed
    let mut kinds = vec![(0.0, 0.0, 0_usize); calls.len()];
    let mut examples = Vec::new();
    for i in 0..REQUESTS {
        let (_, name) = request_name(calls, i);
        let u = store.usage(&BudgetScope::tenant(&name)).unwrap();
        let billed = bill.of(&name);
        assert_eq!(u.reserved_usd, 0.0, "{name}: reservations left");
        let kind = &mut kinds[i % calls.len()];
        kind.0 += u.spent_usd;
        kind.1 += billed;
        if u.spent_usd + 1e-9 < billed {
            kind.2 += 1;
            if examples.len() < 3 {
                examples.push(format!("{name}: recorded ${} but billed ${billed}", u.spent_usd));
            }
        }
    }
    let mut short = Vec::new();
    for (&call, &(recorded, billed, n)) in calls.iter().zip(&kinds) {
        eprintln!("{call:?}: recorded ${recorded:.4}, billed ${billed:.4}; {n} requests charged less");
        assert!(billed > 0.0, "{call:?}: nothing billed");
        if n > 0 {
            short.push(format!("{call:?}: {n} requests"));
        }
    }
    assert!(
        short.is_empty(),
        "charged less than billed: {short:?}, e.g. {examples:?}"
    );
}

/// A deployment's [`LocalLimiter`] that counts the grants not yet settled; with `round_trip`,
/// it answers after a 2 ms wait (as a shared limiter does), deciding at the end.
#[derive(Debug)]
struct Counted {
    inner: LocalLimiter,
    open: AtomicI64,
    round_trip: bool,
}

impl Counted {
    fn new(limits: DeploymentLimits, round_trip: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: LocalLimiter::new(limits),
            open: AtomicI64::new(0),
            round_trip,
        })
    }

    fn take(&self, tokens: u64, now: Instant) -> Result<(), Refusal> {
        let r = self.inner.try_acquire(tokens, now);
        if r.is_ok() {
            self.open.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
}

impl Limiter for Counted {
    fn acquire(&self, tokens: u64, now: Instant) -> Acquire<'_> {
        if !self.round_trip {
            return Acquire::Ready(self.take(tokens, now));
        }
        Acquire::Pending(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.take(tokens, tokio::time::Instant::now().into_std())
        }))
    }
    fn settle(&self, reserved: u64, used: Option<u64>, now: Instant) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.inner.settle(reserved, used, now);
    }
    fn learn(&self, seen: &RateLimits, now: Instant) {
        self.inner.learn(seen, now);
    }
    fn throttled(&self, retry_after: Option<Duration>, now: Instant) {
        self.inner.throttled(retry_after, now);
    }
    fn capacity(&self, now: Instant) -> Capacity {
        self.inner.capacity(now)
    }
}

/// An [`InMemoryBudgetStore`] reached after a round trip (as a shared store is), so a
/// request can be dropped while it reserves, settles or releases.
#[derive(Debug)]
struct Remote(Arc<InMemoryBudgetStore>, Duration);

#[async_trait]
impl BudgetStore for Remote {
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        tokio::time::sleep(self.1).await;
        self.0.reserve(scopes, usd).await
    }
    async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
        tokio::time::sleep(self.1).await;
        self.0.settle(reservation, actual_usd).await
    }
    async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        tokio::time::sleep(self.1).await;
        self.0.release(reservation).await
    }
    async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
        self.0.remaining(scopes).await
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_requests_on_limited_deployments_release_their_capacity_and_place_in_line() {
    release_capacity_and_place_in_line(CALLS).await;
}

#[tokio::test(start_paused = true)]
async fn dropped_cascades_on_limited_deployments_release_their_capacity_and_place_in_line() {
    release_capacity_and_place_in_line(CASCADES).await;
}

/// `calls` dropped at random points on limited deployments with a budget store a round trip
/// away: every grant settled, nothing in flight or held, the spend at least the bill, and the
/// line empty afterwards.
async fn release_capacity_and_place_in_line(calls: &[Call]) {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let memory = capped_store(&clock);
    let bill = Arc::new(Bill::default());
    let fake = Arc::new(Billing::new(&bill, 5));
    let router = router(true);
    // A call takes 300 tokens (100 in, `max_tokens` 200 out).
    let now_ready = Counted::new(
        DeploymentLimits::none().rpm(600).tpm(30_000).max_concurrency(3),
        false,
    );
    let round_trip = Counted::new(
        DeploymentLimits::none().rpm(300).tpm(60_000).max_concurrency(2),
        true,
    );
    let limiters = [Arc::clone(&now_ready), Arc::clone(&round_trip)];
    let c = Arc::new(
        RoutedClient::builder(router)
            .provider(Arc::clone(&fake) as Arc<dyn Provider>)
            .deployment_with_limiter("m1", Deployment::new("d1", "fake"), now_ready.clone())
            .deployment_with_limiter("m1", Deployment::new("d2", "fake"), round_trip.clone())
            .budget(
                Arc::new(Remote(Arc::clone(&memory), Duration::from_millis(1))),
                BudgetPolicy::default(),
            )
            .retry(RetryPolicy::default())
            .build()
            .unwrap(),
    );
    let task = TaskSpec::new(TaskKind::Chat, INPUT).with_output_tokens(50);
    let runs = run_or_drop(&c, &task, 13, (1_000, 3_000), calls, |i| {
        RequestOptions::within(Duration::from_secs(60)).wait_for_capacity(i % 4 < 2)
    })
    .await;
    let dropped = runs.iter().filter(|&&d| d).count();
    assert!(dropped > 100 && dropped < 390, "{dropped} of 400 dropped");
    // let any settle handed to the runtime run
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, l) in limiters.iter().enumerate() {
        assert_eq!(
            l.open.load(Ordering::SeqCst),
            0,
            "deployment {i}: grants never settled"
        );
        assert_eq!(
            l.capacity(clock.now()).in_flight,
            0,
            "deployment {i}: calls left in flight"
        );
    }
    assert_eq!(memory.held(), 0, "reservations left held");
    assert_eq!(memory.usage(&BudgetScope::Global).unwrap().reserved_usd, 0.0);
    assert!(memory.usage(&BudgetScope::Global).unwrap().spent_usd + 1e-9 >= bill.total());
    each_request_charged_at_least_its_bill(&memory, &bill, calls);

    // Once the minute's limits have refilled, a waiting request is admitted at once: nobody
    // holds the line or a concurrency slot.
    tokio::time::sleep(Duration::from_secs(120)).await;
    for l in &limiters {
        assert_eq!(l.capacity(clock.now()).remaining_share, 1.0);
    }
    fake.calm.store(true, Ordering::Relaxed);
    let req = ChatRequest::new().user("q").max_tokens(MAX_TOKENS);
    let waiting = RequestOptions::within(Duration::from_secs(1)).wait_for_capacity(true);
    for _ in 0..5 {
        let start = tokio::time::Instant::now();
        let r = c.complete(&task, &req, waiting.clone()).await.unwrap();
        assert_eq!(r.model().as_str(), "m1");
        assert_eq!(r.attempts.len(), 1, "{:?}", r.attempts);
        assert_eq!(r.attempts[0].outcome, AttemptOutcome::Success);
        assert!(r.attempts[0].deployment.is_some());
        // one token (10 ms) plus the round trips: no wait for capacity
        assert!(
            start.elapsed() <= Duration::from_millis(20),
            "{:?}",
            start.elapsed()
        );
    }
    assert_eq!(memory.held(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_before_its_call_was_sent_gives_the_deployment_its_tokens_back() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let memory = capped_store(&clock);
    let bill = Arc::new(Bill::default());
    let router = router(false);
    // One call's 300 tokens are half the minute's.
    let limiter = Counted::new(DeploymentLimits::none().tpm(600).max_concurrency(1), false);
    let c = RoutedClient::builder(router)
        .provider(Arc::new(Billing::new(&bill, 1)) as Arc<dyn Provider>)
        .deployment_with_limiter("m1", Deployment::new("d1", "fake"), limiter.clone())
        .budget(
            Arc::new(Remote(Arc::clone(&memory), Duration::from_secs(1))),
            BudgetPolicy::default(),
        )
        .build()
        .unwrap();
    let task = TaskSpec::new(TaskKind::Chat, INPUT);
    let req = ChatRequest::new().user("q").max_tokens(MAX_TOKENS);
    // Dropped while the budget store reserves: the deployment admitted the call, it was not sent.
    let work = c.complete(&task, &req, RequestOptions::within(Duration::from_secs(60)));
    assert!(
        tokio::time::timeout(Duration::from_millis(1), work)
            .await
            .is_err()
    );
    assert_eq!(limiter.open.load(Ordering::SeqCst), 0);
    let cap = limiter.capacity(clock.now());
    assert_eq!(cap.in_flight, 0);
    assert!(
        cap.remaining_share > 0.999,
        "{cap:?}: the unsent call's tokens stand"
    );
    assert_eq!(bill.total(), 0.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(memory.held(), 0);
}
