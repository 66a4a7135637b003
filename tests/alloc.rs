//! Proves the zero-allocation contract: once a [`Decision`] has held a decision over a router's
//! models, `Router::route_into` with the built-in policies and the default estimators performs
//! no heap allocation, for 16 and 256 candidates, for a task every model can serve and for
//! tasks whose candidates are rejected for each built-in reason (and for a custom filter's and a
//! custom policy's `Cow::Borrowed` reasons).
//!
//! A counting global allocator wraps the system one. It counts per thread, and only on a thread
//! that armed it, so the test harness's threads and tests running in parallel cannot disturb
//! the count.
#![allow(unsafe_code)] // the `unsafe impl GlobalAlloc` below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Arc;

use taskroute::{
    Capabilities, Capability, CostFirst, Decision, Estimate, LatencyProfile, Limits, ModelId, ModelSpec,
    Policy, Prices, PriorQuality, QualityEstimator, QualityFirst, Rejection, Router, Tag, Task, TaskKind,
    TaskSpec, Verdict, Weighted, filter_fn, health_fn, policy_fn, quality_fn,
};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel cannot reset or inflate each other's counts.
    // Const-initialised and without destructors: touching them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only const thread-locals.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.with(Cell::get) {
            DEALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations `f` performs on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let (n, _, r) = allocations_and_frees(f);
    (n, r)
}

/// Heap allocations and frees `f` performs on this thread.
fn allocations_and_frees<R>(f: impl FnOnce() -> R) -> (u64, u64, R) {
    ALLOCATIONS.with(|n| n.set(0));
    DEALLOCATIONS.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (ALLOCATIONS.with(Cell::get), DEALLOCATIONS.with(Cell::get), r)
}

#[test]
fn the_counter_sees_allocations() {
    // Guards against a counter that cannot fail.
    let (n, v) = allocations(|| std::hint::black_box(vec![1u8; 64]));
    assert!(n >= 1, "counted {n} allocations for a Vec");
    drop(v);
    let (n, _) = allocations(|| std::hint::black_box(1 + 1));
    assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------------------------
// Synthetic routers
// ---------------------------------------------------------------------------------------------

/// Why a synthetic model is meant to be rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    NotAllowed,
    Denied,
    Unhealthy,
    MissingCapabilities,
    ContextWindow,
    MaxOutput,
    MissingTag,
    InputPriceCap,
    OutputPriceCap,
    Filter,
    NoQualityEstimate,
    /// Needs a custom quality estimator: the built-in one refuses bad priors at build time.
    BadQualityEstimate,
    CostLimit,
    LatencyLimit,
    /// Only under quality-first; under the other policies the model is eligible.
    AboveCostCeiling,
    /// A custom policy's rejection (wraps the built-in one).
    Policy,
    /// A custom policy leaves the candidate unscored (wraps the built-in one).
    Unscored,
}

const ALL_KINDS: [Kind; 17] = [
    Kind::NotAllowed,
    Kind::Denied,
    Kind::Unhealthy,
    Kind::MissingCapabilities,
    Kind::ContextWindow,
    Kind::MaxOutput,
    Kind::MissingTag,
    Kind::InputPriceCap,
    Kind::OutputPriceCap,
    Kind::Filter,
    Kind::NoQualityEstimate,
    Kind::BadQualityEstimate,
    Kind::CostLimit,
    Kind::LatencyLimit,
    Kind::AboveCostCeiling,
    Kind::Policy,
    Kind::Unscored,
];

/// The serde tag of the rejection each kind produces.
fn reason(kind: Kind) -> &'static str {
    match kind {
        Kind::NotAllowed => "not_allowed",
        Kind::Denied => "denied",
        Kind::Unhealthy => "unhealthy",
        Kind::MissingCapabilities => "missing_capabilities",
        Kind::ContextWindow => "context_window",
        Kind::MaxOutput => "max_output",
        Kind::MissingTag => "missing_tag",
        Kind::InputPriceCap | Kind::OutputPriceCap => "price_cap",
        Kind::Filter => "filter",
        Kind::NoQualityEstimate => "no_quality_estimate",
        Kind::BadQualityEstimate => "bad_quality_estimate",
        Kind::CostLimit => "cost_limit",
        Kind::LatencyLimit => "latency_limit",
        Kind::AboveCostCeiling => "above_cost_ceiling",
        Kind::Policy | Kind::Unscored => "policy",
    }
}

const EU: &str = "region:eu";

/// The task: 2000 tokens in, 500 out, tools and streaming, tag `region:eu`, at most $0.015 and
/// 10 s. A normal model costs at most $0.004 and takes 5.3 s.
fn task(kind: TaskKind) -> TaskSpec {
    TaskSpec::new(kind, 2_000)
        .with_output_tokens(500)
        .require(Capability::Tools)
        .require(Capability::Streaming)
        .require_tag(EU)
        .with_limits(
            Limits::NONE
                .with_max_cost_usd(0.015)
                .with_max_latency_ms(10_000.0),
        )
}

/// Price caps: $5 input, $20 output per million tokens. Quality-first ceiling: $0.005.
const MAX_INPUT_PRICE: f64 = 5.0;
const MAX_OUTPUT_PRICE: f64 = 20.0;
const CEILING_USD: f64 = 0.005;

fn normal_model(i: usize) -> ModelSpec {
    let step = (i % 10) as f64;
    ModelSpec::new(
        format!("m{i}"),
        "synthetic",
        Prices::new(0.1 + 0.1 * step, 0.4 + 0.4 * step).with_cached_input(0.05),
        128_000,
    )
    .with_max_output_tokens(16_000)
    .with_capabilities(Capabilities::of(&Capability::ALL))
    .with_tag(EU)
    .with_latency(LatencyProfile::new(300.0, 100.0))
    .with_quality(TaskKind::Planning, 0.5 + 0.4 * ((i % 7) as f64) / 6.0)
    .with_default_quality(0.4 + 0.5 * ((i % 5) as f64) / 4.0)
}

/// The kind model `i` is meant for: one of `kinds` in turn, with an eligible model every
/// `kinds.len() + 1` models.
fn kind_of(i: usize, kinds: &[Kind]) -> Option<Kind> {
    kinds.get(i % (kinds.len() + 1)).copied()
}

fn model(i: usize, kind: Option<Kind>) -> ModelSpec {
    let m = normal_model(i);
    match kind {
        Some(Kind::MissingCapabilities) => m.with_capabilities(Capabilities::of(&[Capability::Streaming])),
        Some(Kind::ContextWindow) => {
            let mut m = m;
            m.context_window = 2_000;
            m.max_output_tokens = 2_000;
            m
        }
        Some(Kind::MaxOutput) => m.with_max_output_tokens(100),
        Some(Kind::MissingTag) => {
            let mut m = m;
            m.tags.clear();
            m.with_tag("region:us")
        }
        Some(Kind::InputPriceCap) => {
            let mut m = m;
            m.prices.input = MAX_INPUT_PRICE * 2.0;
            m
        }
        Some(Kind::OutputPriceCap) => {
            let mut m = m;
            m.prices.output = MAX_OUTPUT_PRICE * 2.0;
            m
        }
        Some(Kind::NoQualityEstimate) => {
            let mut m = m;
            m.quality = Default::default();
            m
        }
        // $0.02 > $0.015 limit, within the price caps.
        Some(Kind::CostLimit) => {
            let mut m = m;
            m.prices = Prices::new(MAX_INPUT_PRICE, MAX_OUTPUT_PRICE);
            m
        }
        // 5 s + 500 / 20 s = 30 s > 10 s.
        Some(Kind::LatencyLimit) => m.with_latency(LatencyProfile::new(5_000.0, 20.0)),
        // $0.012: above the $0.005 ceiling, within the $0.015 limit.
        Some(Kind::AboveCostCeiling) => {
            let mut m = m;
            m.prices = Prices::new(3.0, 12.0);
            m
        }
        // Marked by tag; the router's hooks look for it.
        Some(Kind::Filter) => m.with_tag("filtered"),
        Some(Kind::BadQualityEstimate) => m.with_tag("bad-quality"),
        Some(Kind::NotAllowed | Kind::Denied | Kind::Unhealthy | Kind::Policy | Kind::Unscored) | None => m,
    }
}

#[derive(Clone, Copy, Debug)]
enum Builtin {
    CostFirst,
    QualityFirst,
    Weighted,
}

const BUILTINS: [Builtin; 3] = [Builtin::CostFirst, Builtin::QualityFirst, Builtin::Weighted];

fn builtin(p: Builtin) -> Arc<dyn Policy> {
    match p {
        Builtin::CostFirst => Arc::new(CostFirst::new(0.6).unwrap()),
        Builtin::QualityFirst => Arc::new(QualityFirst::new(CEILING_USD).unwrap()),
        Builtin::Weighted => Arc::new(Weighted::with_weights(1.0, 50.0, 0.01).unwrap()),
    }
}

/// A plain router over `n` normal models: default estimators, no lists, hooks or caps.
fn plain_router(n: usize, policy: Builtin) -> Router {
    plain_router_ranking(n, policy, Router::DEFAULT_RANKING_DEPTH)
}

fn plain_router_ranking(n: usize, policy: Builtin, depth: usize) -> Router {
    Router::builder()
        .models((0..n).map(|i| model(i, None)))
        .shared_policy(builtin(policy))
        .ranking_depth(depth)
        .build()
        .unwrap()
}

/// A router over `n` models, each of `kinds` in turn plus eligible ones, with every hook that
/// rejects them. Custom pieces appear only where a kind needs them: a quality estimator for
/// `BadQualityEstimate`, a policy wrapping the built-in one for `Policy` and `Unscored`.
fn rejecting_router(n: usize, kinds: &[Kind], policy: Builtin) -> Router {
    let ids_of = |k: Kind| -> BTreeSet<ModelId> {
        (0..n)
            .filter(|&i| kind_of(i, kinds) == Some(k))
            .map(|i| ModelId::new(format!("m{i}")))
            .collect()
    };
    let not_allowed = ids_of(Kind::NotAllowed);
    let unhealthy = ids_of(Kind::Unhealthy);
    let filtered = Tag::new("filtered");
    let mut b = Router::builder()
        .models((0..n).map(|i| model(i, kind_of(i, kinds))))
        .allow(
            (0..n)
                .map(|i| ModelId::new(format!("m{i}")))
                .filter(|id| !not_allowed.contains(id)),
        )
        .deny(ids_of(Kind::Denied))
        .health(health_fn(move |id| !unhealthy.contains(id)))
        .filter(filter_fn(move |_task, m| {
            if m.has_tag(&filtered) {
                Err(Rejection::Filter {
                    filter: Cow::Borrowed("no-filtered"),
                    detail: Cow::Borrowed("tagged `filtered`"),
                })
            } else {
                Ok(())
            }
        }))
        .max_input_price(MAX_INPUT_PRICE)
        .max_output_price(MAX_OUTPUT_PRICE);
    if kinds.contains(&Kind::BadQualityEstimate) {
        let bad = Tag::new("bad-quality");
        b = b.quality_estimator(quality_fn(move |task: &dyn Task, m: &ModelSpec| {
            if m.has_tag(&bad) {
                Some(1.5)
            } else {
                PriorQuality.estimate(task, m)
            }
        }));
    }
    let inner = builtin(policy);
    if kinds.contains(&Kind::Policy) || kinds.contains(&Kind::Unscored) {
        let rejected = ids_of(Kind::Policy);
        let unscored = ids_of(Kind::Unscored);
        b = b.policy(policy_fn(
            "custom",
            move |task: &dyn Task, cands: &mut [taskroute::Candidate]| {
                inner.rank(task, cands);
                for c in cands.iter_mut() {
                    if rejected.contains(&c.model) {
                        c.verdict = Verdict::Rejected(Rejection::Policy {
                            detail: Cow::Borrowed("the custom policy says no"),
                        });
                    } else if unscored.contains(&c.model) {
                        c.verdict = Verdict::Pending;
                    }
                }
            },
        ));
    } else {
        b = b.shared_policy(inner);
    }
    b.build().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// Warms a fresh decision up on `router` with `task`, then counts the allocations of routing
/// `task` into it (three times): the decision, and the count.
fn count_route(router: &Router, task: &TaskSpec) -> (Decision, u64) {
    let mut d = Decision::new();
    router.route_into(task, &mut d).expect("an eligible model");
    let (n, res) = allocations(|| {
        let mut res = Ok(());
        for _ in 0..3 {
            res = res.and(router.route_into(task, &mut d));
        }
        res
    });
    res.expect("an eligible model");
    (d, n)
}

#[test]
fn routing_an_eligible_task_allocates_nothing() {
    // The default depth (ranked on the stack), a depth just past the stack's, and every
    // candidate ranked (the sort, in the decision's scratch space); up to the largest stack
    // buffers for the estimates (1,024 models) and past them.
    for n in [16, 256, 1024, 1100] {
        for depth in [Router::DEFAULT_RANKING_DEPTH, 17, usize::MAX] {
            for p in BUILTINS {
                let router = plain_router_ranking(n, p, depth);
                let t = task(TaskKind::Planning);
                let (d, allocs) = count_route(&router, &t);
                assert_eq!(
                    allocs, 0,
                    "{n} candidates, depth {depth}, {p:?}: {allocs} allocations"
                );
                assert_eq!(d.rejected().count(), 0, "{}", d.explain());
                assert_eq!(d.ranking.len(), n.min(depth));
                assert_eq!(d.unranked().count(), n - n.min(depth));
            }
        }
    }
}

/// Issue 17: `route` (a fresh decision) allocates its candidates and its ranking, nothing
/// else, with a ranking depth up to 16 and up to 1,024 models.
#[test]
fn route_allocates_two_vectors() {
    for n in [4, 16, 256, 1024] {
        for depth in [1, Router::DEFAULT_RANKING_DEPTH, 16] {
            for p in BUILTINS {
                let router = plain_router_ranking(n, p, depth);
                let t = task(TaskKind::Planning);
                router.route(&t).unwrap();
                let (allocs, d) = allocations(|| router.route(&t));
                let d = d.unwrap();
                assert_eq!(allocs, 2, "{n} candidates, depth {depth}, {p:?}");
                assert_eq!(d.ranking.len(), n.min(depth));
            }
        }
    }
}

#[test]
fn routing_with_each_kind_of_rejection_allocates_nothing() {
    for n in [16, 256] {
        for kind in ALL_KINDS {
            for p in BUILTINS {
                let router = rejecting_router(n, &[kind], p);
                let t = task(TaskKind::Chat);
                let (d, allocs) = count_route(&router, &t);
                assert_eq!(allocs, 0, "{n} candidates, {kind:?}, {p:?}: {allocs} allocations");
                // The scenario really produces the rejection.
                let expected = !matches!(
                    (kind, p),
                    (Kind::AboveCostCeiling, Builtin::CostFirst | Builtin::Weighted)
                );
                let seen = d
                    .rejected()
                    .filter(|(_, r)| serde_json::to_value(r).unwrap()["reason"] == reason(kind))
                    .count();
                assert_eq!(
                    seen > 0,
                    expected,
                    "{n} candidates, {kind:?}, {p:?}:\n{}",
                    d.explain()
                );
                assert!(d.primary().is_some());
            }
        }
    }
}

#[test]
fn routing_with_every_kind_of_rejection_at_once_allocates_nothing() {
    let n = 256;
    for p in BUILTINS {
        let router = rejecting_router(n, &ALL_KINDS, p);
        let t = task(TaskKind::Reasoning);
        let (d, allocs) = count_route(&router, &t);
        assert_eq!(allocs, 0, "{p:?}: {allocs} allocations");
        let reasons: BTreeSet<String> = d
            .rejected()
            .map(|(_, r)| {
                serde_json::to_value(r).unwrap()["reason"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        for kind in ALL_KINDS {
            if matches!(
                (kind, p),
                (Kind::AboveCostCeiling, Builtin::CostFirst | Builtin::Weighted)
            ) {
                continue;
            }
            assert!(
                reasons.contains(reason(kind)),
                "{p:?}: no {kind:?} in\n{}",
                d.explain()
            );
        }
    }
}

#[test]
fn a_decision_warmed_on_one_task_routes_another_without_allocating() {
    // Warm up on a task few models can serve (a short ranking), then route one every model
    // can serve (a full ranking), a custom kind, and back: buffers never grow after warm-up.
    for n in [16, 256] {
        for p in BUILTINS {
            let router = plain_router(n, p);
            let narrow = task(TaskKind::Math).with_limits(Limits::NONE.with_max_cost_usd(0.0011));
            let mut d = Decision::new();
            router.route_into(&narrow, &mut d).unwrap();
            assert!(d.ranking.len() < n / 2, "{}", d.explain());
            let wide = task(TaskKind::Planning);
            let custom = task(TaskKind::from_name("legal"));
            let (allocs, res) = allocations(|| {
                router
                    .route_into(&wide, &mut d)
                    .and(router.route_into(&custom, &mut d))
                    .and(router.route_into(&narrow, &mut d))
            });
            res.unwrap();
            assert_eq!(allocs, 0, "{n} candidates, {p:?}: {allocs} allocations");
        }
    }
}

#[test]
fn a_custom_scorer_policy_allocates_nothing_either() {
    // The `Cow::Borrowed` name of a closure scorer is cloned into the decision without
    // allocating.
    let router = plain_router(16, Builtin::CostFirst).with_policy(taskroute::ScorerPolicy(
        taskroute::scorer_fn("value", |_t: &dyn Task, e: &Estimate| {
            Ok(taskroute::Score::new(e.quality / (e.cost_usd + 1e-6)))
        }),
    ));
    let t = task(TaskKind::Chat);
    assert_eq!(count_route(&router, &t).1, 0);
}

/// The in-process deployment limiter's admission check, its correction and its capacity
/// report allocate nothing, through the `Limiter` trait too (its answer is `Acquire::Ready`,
/// not a boxed future).
#[cfg(feature = "runtime")]
#[test]
fn the_in_process_limiter_allocates_nothing() {
    use std::time::{Duration, Instant};
    use taskroute::provider::{LimitWindow, RateLimits};
    use taskroute::runtime::{Acquire, DeploymentLimits, Limiter, LocalLimiter};

    let limiter = LocalLimiter::new(
        DeploymentLimits::none()
            .rpm(1_000)
            .tpm(1_000_000)
            .max_concurrency(8),
    );
    let t0 = Instant::now();
    // Warm: the first call sets the limiter's origin.
    limiter.try_acquire(1, t0).unwrap();
    limiter.settle(1, Some(1), t0);
    let seen = RateLimits::new(Some(LimitWindow::new(1_000, 900)), None);
    let (n, granted) = allocations(|| {
        let mut granted = 0;
        for i in 0..200u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 10);
            if limiter.try_acquire(300, now).is_ok() {
                limiter.settle(300, Some(120), now);
                granted += 1;
            }
            if let Acquire::Ready(Ok(())) = limiter.acquire(300, now) {
                limiter.settle(300, None, now);
                granted += 1;
            }
            std::hint::black_box(limiter.capacity(now));
            limiter.learn(&seen, now);
        }
        granted
    });
    assert_eq!(n, 0, "{n} allocations");
    assert!(granted > 100, "{granted}");
}

/// An output estimator that predicts a length for the models whose id has an even length.
struct EvenIds;

impl taskroute::OutputEstimator for EvenIds {
    fn output_tokens(&self, _task: &dyn taskroute::Task, model: &ModelSpec) -> Option<u32> {
        model.id.as_str().len().is_multiple_of(2).then_some(700)
    }
}

/// A router with an output estimator prices each model on its predicted length without
/// allocating: on the stack up to 64 models, in the decision's reused scratch above (it
/// allocated a fresh buffer on every decision there).
#[test]
fn routing_with_an_output_estimator_allocates_nothing() {
    for n in [16, 64, 65, 256, 1100] {
        let router = Router::builder()
            .models((0..n).map(|i| model(i, None)))
            .shared_policy(builtin(BUILTINS[0]))
            .output_estimator(EvenIds)
            .build()
            .unwrap();
        let t = task(TaskKind::Planning);
        let (_, allocs) = count_route(&router, &t);
        assert_eq!(
            allocs, 0,
            "{n} models with an output estimator: {allocs} allocations"
        );
    }
}

/// Allocations and frees of routing `task` into `d` (which must succeed).
fn route_counting(router: &Router, task: &TaskSpec, d: &mut Decision) -> (u64, u64) {
    let (made, freed, res) = allocations_and_frees(|| router.route_into(task, d));
    res.expect("an eligible model");
    (made, freed)
}

/// Four models, whose filter rejects `m1` for code tasks only, with a reason it owns (one
/// allocation), and `policy`.
fn refusing_code(policy: impl Policy + 'static) -> Router {
    Router::builder()
        .models((0..4).map(normal_model))
        .filter(filter_fn(|task, m| {
            if m.id.as_str() == "m1" && *task.kind() == TaskKind::CodeGeneration {
                Err(Rejection::Filter {
                    filter: Cow::Borrowed("no-code"),
                    detail: Cow::Owned("writes no code".to_owned()),
                })
            } else {
                Ok(())
            }
        }))
        .policy(policy)
        .build()
        .unwrap()
}

/// A decision `router` routed a chat task into twice (its entries all scored, none rejected).
fn routed_on_chat_twice(router: &Router) -> Decision {
    let mut d = Decision::new();
    router.route_into(&task(TaskKind::Chat), &mut d).unwrap();
    router.route_into(&task(TaskKind::Chat), &mut d).unwrap();
    d
}

/// Whether `m1` holds the filter's rejection of code tasks.
fn m1_refused(d: &Decision) -> bool {
    matches!(
        d.candidates()[1].verdict,
        Verdict::Rejected(Rejection::Filter { .. })
    )
}

/// A rejection that owns its reason, replaced by a score in the next decision, is dropped: the
/// pass writes every verdict without reading the one it replaces, once the rejections an entry
/// may hold are dropped, so nothing a rejection owns is leaked.
#[test]
fn a_rejection_a_score_replaces_is_freed() {
    let router = refusing_code(CostFirst::new(0.0).unwrap());
    let (chat, code) = (task(TaskKind::Chat), task(TaskKind::CodeGeneration));
    let mut d = routed_on_chat_twice(&router);
    // From scores to the owned rejection: one allocation, nothing freed.
    assert_eq!(route_counting(&router, &code, &mut d), (1, 0));
    assert!(m1_refused(&d));
    // The owned rejection replaced by a score: freed.
    assert_eq!(route_counting(&router, &chat, &mut d), (0, 1));
    assert!(matches!(d.candidates()[1].verdict, Verdict::Scored(_)));
    // An owned rejection put there through the decision: freed too.
    d.candidates_mut()[2].verdict = Verdict::Rejected(Rejection::Policy {
        detail: Cow::Owned("set by hand".to_owned()),
    });
    assert_eq!(route_counting(&router, &chat, &mut d), (0, 1));
    // And from then on, scores over scores: nothing made, nothing freed.
    assert_eq!(route_counting(&router, &chat, &mut d), (0, 0));
}

/// A scorer that panics part-way through a decision leaves the decision noting that its entries
/// may hold a rejection: the rejection written before the panic is freed by the next decision.
#[test]
fn a_rejection_written_before_a_panic_is_freed_too() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// Scores by cost; on code tasks, panics at its third call.
    struct PanicsOnCode(AtomicUsize);
    impl taskroute::Scorer for PanicsOnCode {
        fn score(&self, task: &dyn Task, e: &Estimate) -> Result<taskroute::Score, Rejection> {
            if *task.kind() == TaskKind::CodeGeneration && self.0.fetch_add(1, Ordering::Relaxed) == 2 {
                panic!("the scorer fails part-way");
            }
            Ok(taskroute::Score::new(-e.cost_usd))
        }
    }
    let router = refusing_code(taskroute::ScorerPolicy(PanicsOnCode(AtomicUsize::new(0))));
    let (chat, code) = (task(TaskKind::Chat), task(TaskKind::CodeGeneration));
    let mut d = routed_on_chat_twice(&router);
    // m1 is rejected (its reason owned), then the scorer panics at m3.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| router.route_into(&code, &mut d)));
    assert!(caught.is_err());
    assert!(m1_refused(&d));
    assert_eq!(route_counting(&router, &chat, &mut d), (0, 1));
}

/// A policy that runs the pass (`ScoreEach::score_with`) and still answers `None` gets its
/// candidates filtered again for its `rank`: the rejection the first run wrote is freed, not
/// overwritten.
#[test]
fn a_rejection_from_a_pass_the_policy_declined_is_freed() {
    use taskroute::{Candidate, ScoreEach, Scored, rank_with_scorer};
    struct ScoresThenDeclines;
    impl Policy for ScoresThenDeclines {
        fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
            rank_with_scorer(&CostFirst::new(0.0).unwrap(), task, candidates);
        }
        fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
            let _ = each.score_with(&CostFirst::new(0.0).unwrap());
            None
        }
    }
    let router = refusing_code(ScoresThenDeclines);
    let code = task(TaskKind::CodeGeneration);
    let mut d = routed_on_chat_twice(&router);
    // m1's owned reason is made by each of the two runs of the pass; the first one's is freed.
    assert_eq!(route_counting(&router, &code, &mut d), (2, 1));
    assert!(m1_refused(&d));
    assert!(d.primary().is_some());
}

/// An owned rejection written by a custom policy's `rank` (the pass itself rejecting nothing)
/// is freed by the next decision.
#[test]
fn an_owned_rejection_from_a_policys_rank_is_freed() {
    use taskroute::Candidate;
    let policy = policy_fn("refuses-m2", |_: &dyn Task, candidates: &mut [Candidate]| {
        for c in candidates
            .iter_mut()
            .filter(|c| matches!(c.verdict, Verdict::Pending))
        {
            c.verdict = if c.model.as_str() == "m2" {
                Verdict::Rejected(Rejection::Policy {
                    detail: Cow::Owned("not m2".to_owned()),
                })
            } else {
                Verdict::Scored(taskroute::Score::new(1.0))
            };
        }
    });
    let router = refusing_code(policy);
    let chat = task(TaskKind::Chat);
    let mut d = Decision::new();
    router.route_into(&chat, &mut d).unwrap();
    // Each decision makes m2's reason and frees the one before.
    assert_eq!(route_counting(&router, &chat, &mut d), (1, 1));
    assert_eq!(route_counting(&router, &chat, &mut d), (1, 1));
}

/// `evaluate_candidates` (no policy) frees the owned rejection it replaces, and leaves the note
/// set for the one it writes.
#[test]
fn an_owned_rejection_from_evaluate_candidates_is_freed() {
    let router = refusing_code(CostFirst::new(0.0).unwrap());
    let (chat, code) = (task(TaskKind::Chat), task(TaskKind::CodeGeneration));
    let mut d = Decision::new();
    router.route_into(&chat, &mut d).unwrap();
    let evaluating = |t: &TaskSpec, d: &mut Decision| {
        let (made, freed, ()) = allocations_and_frees(|| router.evaluate_candidates(t, d));
        (made, freed)
    };
    assert_eq!(evaluating(&code, &mut d), (1, 0));
    assert_eq!(evaluating(&chat, &mut d), (0, 1));
    assert_eq!(evaluating(&code, &mut d), (1, 0));
    assert_eq!(route_counting(&router, &chat, &mut d), (0, 1));
}

/// A decision read back from JSON may hold owned rejections (serde makes both of a filter's
/// strings owned): routing into it frees them.
#[test]
fn an_owned_rejection_read_from_json_is_freed() {
    let router = refusing_code(CostFirst::new(0.0).unwrap());
    let (chat, code) = (task(TaskKind::Chat), task(TaskKind::CodeGeneration));
    let read = |t: &TaskSpec| -> Decision {
        serde_json::from_str(&serde_json::to_string(&router.route(t).unwrap()).unwrap()).unwrap()
    };
    let (mut without, mut with) = (read(&chat), read(&code));
    let freed_without = route_counting(&router, &chat, &mut without).1;
    let freed_with = route_counting(&router, &chat, &mut with).1;
    assert_eq!(freed_with, freed_without + 2);
}

/// A policy that keeps the proof `score_with` gave it and returns it for a later decision,
/// without running the pass, gets that decision made as for `None`, not the earlier one's
/// entries left in place.
#[test]
fn a_proof_kept_from_an_earlier_decision_does_not_skip_the_pass() {
    use std::sync::Mutex;
    use taskroute::{Candidate, ScoreEach, Scored, rank_with_scorer};
    struct KeepsItsProof(Mutex<Option<Scored>>);
    impl Policy for KeepsItsProof {
        fn rank(&self, task: &dyn Task, candidates: &mut [Candidate]) {
            rank_with_scorer(&CostFirst::new(0.0).unwrap(), task, candidates);
        }
        fn score_each(&self, each: ScoreEach<'_>) -> Option<Scored> {
            let mut kept = self.0.lock().unwrap();
            if let Some(proof) = kept.take() {
                return Some(proof);
            }
            *kept = Some(each.score_with(&CostFirst::new(0.0).unwrap()));
            None
        }
    }
    let router = refusing_code(KeepsItsProof(Mutex::new(None)));
    let plain = refusing_code(CostFirst::new(0.0).unwrap());
    let (chat, code) = (task(TaskKind::Chat), task(TaskKind::CodeGeneration));
    let mut d = Decision::new();
    router.route_into(&code, &mut d).unwrap();
    // The policy answers this one with the proof it kept from the code task.
    router.route_into(&chat, &mut d).unwrap();
    let want = plain.route(&chat).unwrap();
    assert_eq!(d.candidates(), want.candidates());
    assert_eq!(d.ranked().count(), want.ranked().count());
}
