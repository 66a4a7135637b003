//! Property tests for the routing core's invariants, over random models, tasks and routers.
//!
//! Every property is checked against an *oracle*: an independent re-implementation, written
//! from the documented rules (filter order, cost and latency formulas, prior fallback, the
//! built-in scorers and the rank order), over the raw generated numbers rather than the
//! library's types. The router's decision must agree with it exactly.
//!
//! Default run: a few hundred cases per property (a few seconds). `TASKROUTE_SLOW=1` runs many
//! more.

use std::borrow::Cow;
use std::collections::BTreeSet;

use proptest::prelude::*;
use taskroute::{
    Capabilities, Capability, CostFirst, Decision, Error, LatencyProfile, Limits, ModelId, ModelSpec, Prices,
    QualityFirst, Rejection, Router, TaskKind, TaskSpec, Verdict, Weighted, filter_fn, health_fn,
};

const TAGS: [&str; 3] = ["region:eu", "region:us", "data:no-retention"];
/// Task kinds the generator draws from: the built-in ones, a custom kind some models have a
/// prior for (`legal`), and a custom kind no model has its own prior for (`translation`).
const KINDS: usize = TaskKind::BUILTIN_COUNT + 2;
const MAX_MODELS: usize = 12;

fn cases() -> u32 {
    if std::env::var("TASKROUTE_SLOW").is_ok_and(|v| v == "1") {
        10_000
    } else {
        256
    }
}

// ---------------------------------------------------------------------------------------------
// Generated inputs (raw numbers; the oracle reads these, the router gets library types)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct GenModel {
    input: f64,
    output: f64,
    cached: Option<f64>,
    window: u32,
    max_out: u32,
    caps: u8,
    tags: u8,
    latency: Option<(f64, f64)>,
    /// Priors for the built-in kinds, then `legal`.
    priors: [Option<f64>; TaskKind::BUILTIN_COUNT + 1],
    default_prior: Option<f64>,
}

#[derive(Clone, Debug)]
struct GenTask {
    kind: usize,
    input: u32,
    output: Option<u32>,
    cached: u32,
    caps: u8,
    tags: u8,
    max_cost: Option<f64>,
    max_latency: Option<f64>,
}

#[derive(Clone, Copy, Debug)]
enum GenPolicy {
    CostFirst(f64),
    QualityFirst(Option<f64>),
    Weighted(f64, f64, f64),
}

#[derive(Clone, Debug)]
struct Scenario {
    models: Vec<GenModel>,
    allow: Option<u32>,
    deny: u32,
    unhealthy: u32,
    custom_filter: u32,
    max_input_price: Option<f64>,
    max_output_price: Option<f64>,
    policy: GenPolicy,
    task: GenTask,
    other_task: GenTask,
    /// The router's ranking depth.
    depth: usize,
}

fn price() -> impl Strategy<Value = f64> {
    // Repeated values make ties (equal cost, equal score) common.
    prop_oneof![
        1 => Just(0.0),
        2 => Just(0.15),
        2 => Just(1.0),
        2 => Just(3.0),
        3 => 0.0..20.0f64
    ]
}

fn quality() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.5), Just(0.7), Just(0.9), Just(1.0), 0.0..=1.0f64]
}

fn sparse_bits(n: u32) -> impl Strategy<Value = u32> {
    // Each bit set with probability 1/2^n.
    prop::collection::vec(any::<u32>(), n as usize).prop_map(|v| v.into_iter().fold(u32::MAX, |a, b| a & b))
}

fn model() -> impl Strategy<Value = GenModel> {
    (
        (price(), price(), prop::option::of(price())),
        (
            prop_oneof![Just(128_000u32), 1u32..200_000],
            prop_oneof![Just(u32::MAX), 1u32..40_000],
        ),
        (any::<u8>(), any::<u8>()),
        prop::option::weighted(0.7, (0.0..3000.0f64, 1.0..300.0f64)),
        prop::array::uniform10(prop::option::weighted(0.4, quality())),
        prop::option::weighted(0.6, quality()),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(
                (input, output, cached),
                (window, max_out),
                (caps, tags),
                latency,
                priors,
                default_prior,
                bare,
            )| {
                // A bare model has no priors at all: no quality estimate for any task.
                let (priors, default_prior) = if bare {
                    ([None; 10], None)
                } else {
                    (priors, default_prior)
                };
                GenModel {
                    input,
                    output,
                    cached,
                    window,
                    max_out: max_out.min(window),
                    caps: caps & 0b1_1111,
                    tags: tags & 0b111,
                    latency,
                    priors,
                    default_prior,
                }
            },
        )
}

fn task() -> impl Strategy<Value = GenTask> {
    (
        0..KINDS,
        prop_oneof![4 => 0u32..5_000, 1 => 0u32..250_000],
        prop::option::of(prop_oneof![4 => 1u32..2_000, 1 => 1u32..50_000]),
        0u32..10_000,
        (sparse_bits(4), sparse_bits(4)),
        prop::option::weighted(0.3, prop_oneof![Just(0.01), 0.0..0.5f64]),
        prop::option::weighted(0.3, prop_oneof![Just(5_000.0), 100.0..60_000.0f64]),
    )
        .prop_map(
            |(kind, input, output, cached, (caps, tags), max_cost, max_latency)| GenTask {
                kind,
                input,
                output,
                cached,
                caps: (caps & 0b1_1111) as u8,
                tags: (tags & 0b111) as u8,
                max_cost,
                max_latency,
            },
        )
}

fn policy() -> impl Strategy<Value = GenPolicy> {
    prop_oneof![
        quality().prop_map(GenPolicy::CostFirst),
        prop::option::weighted(0.8, prop_oneof![Just(0.01), 0.0..0.3f64]).prop_map(GenPolicy::QualityFirst),
        (
            0.0..2.0f64,
            prop_oneof![Just(0.0), 0.0..500.0f64],
            prop_oneof![Just(0.0), 0.0..0.5f64]
        )
            .prop_map(|(q, c, l)| GenPolicy::Weighted(q, c, l)),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(model(), 1..=MAX_MODELS),
        // Allow lists name about three models in four.
        prop::option::weighted(0.2, (any::<u32>(), any::<u32>()).prop_map(|(a, b)| a | b)),
        (sparse_bits(4), sparse_bits(4), sparse_bits(4)),
        (
            prop::option::weighted(0.2, price()),
            prop::option::weighted(0.2, price()),
        ),
        policy(),
        task(),
        task(),
        // Shallower and deeper than the models, the default, and every candidate.
        prop_oneof![
            1..=MAX_MODELS + 1,
            Just(Router::DEFAULT_RANKING_DEPTH),
            Just(usize::MAX)
        ],
    )
        .prop_map(
            |(
                models,
                allow,
                (deny, unhealthy, custom_filter),
                (mip, mop),
                policy,
                task,
                other_task,
                depth,
            )| {
                Scenario {
                    models,
                    allow,
                    deny,
                    unhealthy,
                    custom_filter,
                    max_input_price: mip,
                    max_output_price: mop,
                    policy,
                    task,
                    other_task,
                    depth,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Turning generated inputs into library values
// ---------------------------------------------------------------------------------------------

fn id(i: usize) -> String {
    format!("m{i}")
}

fn bit(mask: u32, i: usize) -> bool {
    mask & (1 << i) != 0
}

fn caps_of(bits: u8) -> Capabilities {
    Capability::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect()
}

fn kind_of(k: usize) -> TaskKind {
    match k {
        k if k < TaskKind::BUILTIN_COUNT => TaskKind::BUILTIN[k].clone(),
        k if k == TaskKind::BUILTIN_COUNT => TaskKind::from_name("legal"),
        _ => TaskKind::from_name("translation"),
    }
}

fn spec(i: usize, g: &GenModel) -> ModelSpec {
    let mut prices = Prices::new(g.input, g.output);
    if let Some(c) = g.cached {
        prices = prices.with_cached_input(c);
    }
    let mut m = ModelSpec::new(id(i), "gen", prices, g.window)
        .with_max_output_tokens(g.max_out)
        .with_capabilities(caps_of(g.caps));
    for (t, name) in TAGS.iter().enumerate() {
        if g.tags & (1 << t) != 0 {
            m = m.with_tag(*name);
        }
    }
    if let Some((ttft, tps)) = g.latency {
        m = m.with_latency(LatencyProfile::new(ttft, tps));
    }
    for (k, q) in g.priors.iter().enumerate() {
        if let Some(q) = q {
            m = m.with_quality(kind_of(k), *q);
        }
    }
    if let Some(d) = g.default_prior {
        m = m.with_default_quality(d);
    }
    m
}

fn task_spec(t: &GenTask) -> TaskSpec {
    let mut s = TaskSpec::new(kind_of(t.kind), t.input).with_cached_input_tokens(t.cached);
    if let Some(o) = t.output {
        s = s.with_output_tokens(o);
    }
    for c in caps_of(t.caps).iter() {
        s = s.require(c);
    }
    for (i, name) in TAGS.iter().enumerate() {
        if t.tags & (1 << i) != 0 {
            s = s.require_tag(*name);
        }
    }
    let mut limits = Limits::NONE;
    if let Some(c) = t.max_cost {
        limits = limits.with_max_cost_usd(c);
    }
    if let Some(l) = t.max_latency {
        limits = limits.with_max_latency_ms(l);
    }
    s.with_limits(limits)
}

fn router(s: &Scenario) -> Router {
    let n = s.models.len();
    let mut b = Router::builder().models(s.models.iter().enumerate().map(|(i, g)| spec(i, g)));
    if let Some(allow) = s.allow {
        b = b.allow((0..n).filter(|&i| bit(allow, i)).map(id));
    }
    b = b.deny((0..n).filter(|&i| bit(s.deny, i)).map(id));
    b = b.ranking_depth(s.depth);
    if let Some(p) = s.max_input_price {
        b = b.max_input_price(p);
    }
    if let Some(p) = s.max_output_price {
        b = b.max_output_price(p);
    }
    let unhealthy: BTreeSet<String> = (0..n).filter(|&i| bit(s.unhealthy, i)).map(id).collect();
    b = b.health(health_fn(move |m| !unhealthy.contains(m.as_str())));
    let filtered: BTreeSet<String> = (0..n).filter(|&i| bit(s.custom_filter, i)).map(id).collect();
    b = b.filter(filter_fn(move |_task, m| {
        if filtered.contains(m.id.as_str()) {
            Err(Rejection::Filter {
                filter: Cow::Borrowed("gen"),
                detail: Cow::Borrowed("in the generated filter set"),
            })
        } else {
            Ok(())
        }
    }));
    b = match s.policy {
        GenPolicy::CostFirst(f) => b.policy(CostFirst::new(f).unwrap()),
        GenPolicy::QualityFirst(Some(c)) => b.policy(QualityFirst::new(c).unwrap()),
        GenPolicy::QualityFirst(None) => b.policy(QualityFirst::unbounded()),
        GenPolicy::Weighted(q, c, l) => b.policy(Weighted::with_weights(q, c, l).unwrap()),
    };
    b.build().expect("generated router is valid")
}

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

/// The kind of rejection the rules call for (names as in `Rejection`'s serde tags).
type Outcome = Result<Est, &'static str>;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Est {
    quality: f64,
    cost: f64,
    latency: f64,
}

fn oracle_output_tokens(t: &GenTask) -> u32 {
    t.output
        .unwrap_or_else(|| kind_of(t.kind).typical_output_tokens())
}

fn oracle_quality(g: &GenModel, kind: usize) -> Option<f64> {
    let own = g.priors.get(kind).copied().flatten();
    own.or(g.default_prior).or_else(|| {
        let set: Vec<f64> = g.priors.iter().flatten().copied().collect();
        (!set.is_empty()).then(|| set.iter().fold(0.0, |a, b| a + b) / set.len() as f64)
    })
}

fn oracle_cost(g: &GenModel, t: &GenTask) -> f64 {
    let out = oracle_output_tokens(t);
    let cached = t.cached.min(t.input);
    let fresh = f64::from(t.input - cached);
    // Rates are USD per million tokens; the crate's costs multiply by 1e-6 (a division by
    // 1,000,000 can differ in the last bit).
    (fresh * g.input + f64::from(cached) * g.cached.unwrap_or(g.input) + f64::from(out) * g.output) * 1e-6
}

fn oracle_latency(g: &GenModel, t: &GenTask) -> f64 {
    let (ttft, tps) = g.latency.unwrap_or((800.0, 60.0));
    ttft + f64::from(oracle_output_tokens(t)) * (1000.0 / tps)
}

/// What should happen to model `i`: the first rule it breaks, in the documented order, or its
/// estimates. Includes the policy's own rejection (quality-first's ceiling).
fn oracle(s: &Scenario, t: &GenTask, i: usize) -> Outcome {
    let g = &s.models[i];
    if s.allow.is_some_and(|a| !bit(a, i)) {
        return Err("not_allowed");
    }
    if bit(s.deny, i) {
        return Err("denied");
    }
    if bit(s.unhealthy, i) {
        return Err("unhealthy");
    }
    if t.caps & !g.caps != 0 {
        return Err("missing_capabilities");
    }
    let out = oracle_output_tokens(t);
    if u64::from(t.input) + u64::from(out) > u64::from(g.window) {
        return Err("context_window");
    }
    if out > g.max_out {
        return Err("max_output");
    }
    if t.tags & !g.tags != 0 {
        return Err("missing_tag");
    }
    if s.max_input_price.is_some_and(|c| g.input > c) || s.max_output_price.is_some_and(|c| g.output > c) {
        return Err("price_cap");
    }
    if bit(s.custom_filter, i) {
        return Err("filter");
    }
    let Some(quality) = oracle_quality(g, t.kind) else {
        return Err("no_quality_estimate");
    };
    let cost = oracle_cost(g, t);
    let latency = oracle_latency(g, t);
    if t.max_cost.is_some_and(|c| cost > c) {
        return Err("cost_limit");
    }
    if t.max_latency.is_some_and(|l| latency > l) {
        return Err("latency_limit");
    }
    if let GenPolicy::QualityFirst(Some(c)) = s.policy
        && cost > c
    {
        return Err("above_cost_ceiling");
    }
    Ok(Est {
        quality,
        cost,
        latency,
    })
}

/// (tier, value): tier 0 ranks before tier 1; higher value first within a tier.
fn oracle_score(p: GenPolicy, e: &Est) -> (u8, f64) {
    match p {
        GenPolicy::CostFirst(floor) if e.quality >= floor => (0, -e.cost),
        GenPolicy::CostFirst(_) => (1, e.quality),
        GenPolicy::QualityFirst(_) => (0, e.quality - e.cost * 1e-9),
        GenPolicy::Weighted(qw, cw, lw) => (0, qw * e.quality - cw * e.cost - lw * e.latency / 1000.0),
    }
}

/// The eligible models, best first: by score, then cheaper, then catalog order.
fn oracle_ranking(s: &Scenario, t: &GenTask) -> Vec<usize> {
    let mut eligible: Vec<(usize, Est)> = (0..s.models.len())
        .filter_map(|i| oracle(s, t, i).ok().map(|e| (i, e)))
        .collect();
    eligible.sort_by(|(ia, a), (ib, b)| {
        let (ta, va) = oracle_score(s.policy, a);
        let (tb, vb) = oracle_score(s.policy, b);
        ta.cmp(&tb)
            .then(vb.total_cmp(&va))
            .then(a.cost.total_cmp(&b.cost))
            .then(ia.cmp(ib))
    });
    eligible.into_iter().map(|(i, _)| i).collect()
}

fn index_of(model: &str) -> usize {
    model[1..].parse().unwrap()
}

fn reason(r: &Rejection) -> String {
    let v = serde_json::to_value(r).unwrap();
    v["reason"].as_str().unwrap().to_owned()
}

/// Routes; on `NoEligibleModel` the decision is still in `d`.
fn route(r: &Router, t: &TaskSpec) -> (Decision, Result<(), Error>) {
    let mut d = Decision::new();
    let res = r.route_into(t, &mut d);
    (d, res)
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// The primary passes every filter, each re-checked on the raw inputs: allow/deny, health,
    /// capabilities, context window, output limit, tags, price caps, the custom filter, a
    /// quality estimate in [0, 1], the task's cost and latency limits, the policy's ceiling.
    #[test]
    fn primary_never_fails_a_filter(s in scenario()) {
        let r = router(&s);
        let (d, _) = route(&r, &task_spec(&s.task));
        if let Some(p) = d.primary() {
            let i = index_of(p.model.as_str());
            let g = &s.models[i];
            let t = &s.task;
            let out = oracle_output_tokens(t);
            prop_assert!(s.allow.is_none_or(|a| bit(a, i)), "primary not allowed");
            prop_assert!(!bit(s.deny, i), "primary denied");
            prop_assert!(!bit(s.unhealthy, i), "primary unhealthy");
            prop_assert_eq!(t.caps & !g.caps, 0, "primary lacks capabilities");
            prop_assert!(u64::from(t.input) + u64::from(out) <= u64::from(g.window), "primary's window too small");
            prop_assert!(out <= g.max_out, "primary's output limit too small");
            prop_assert_eq!(t.tags & !g.tags, 0, "primary lacks a tag");
            prop_assert!(s.max_input_price.is_none_or(|c| g.input <= c), "primary above input price cap");
            prop_assert!(s.max_output_price.is_none_or(|c| g.output <= c), "primary above output price cap");
            prop_assert!(!bit(s.custom_filter, i), "primary rejected by the custom filter");
            let q = oracle_quality(g, t.kind);
            prop_assert!(q.is_some_and(|q| (0.0..=1.0).contains(&q)), "primary has no valid quality");
            let cost = oracle_cost(g, t);
            let latency = oracle_latency(g, t);
            prop_assert!(t.max_cost.is_none_or(|c| cost <= c), "primary above the task's cost limit");
            prop_assert!(t.max_latency.is_none_or(|l| latency <= l), "primary above the task's latency limit");
            if let GenPolicy::QualityFirst(Some(c)) = s.policy {
                prop_assert!(cost <= c, "primary above the quality-first ceiling");
            }
            // And the estimates the decision reports are the ones the formulas give.
            let e = p.estimate.unwrap();
            prop_assert_eq!(e.cost_usd.to_bits(), cost.to_bits());
            prop_assert_eq!(e.latency_ms.to_bits(), latency.to_bits());
            prop_assert_eq!(Some(e.quality), q);
        }
    }

    /// Cost-first: when the primary clears the floor, no eligible model that clears it is
    /// cheaper; when it does not, no eligible model clears the floor.
    #[test]
    fn cost_first_never_picks_a_dearer_model_that_clears_the_floor(
        mut s in scenario(),
        floor in quality(),
    ) {
        s.policy = GenPolicy::CostFirst(floor);
        let r = router(&s);
        let (d, _) = route(&r, &task_spec(&s.task));
        let eligible: Vec<Est> = (0..s.models.len()).filter_map(|i| oracle(&s, &s.task, i).ok()).collect();
        match d.primary() {
            None => prop_assert!(eligible.is_empty()),
            Some(p) => {
                let e = oracle(&s, &s.task, index_of(p.model.as_str())).unwrap();
                if e.quality >= floor {
                    for o in eligible.iter().filter(|o| o.quality >= floor) {
                        prop_assert!(o.cost >= e.cost, "cheaper model {:?} clears the floor; primary {:?}", o, e);
                    }
                } else {
                    prop_assert!(eligible.iter().all(|o| o.quality < floor));
                    // Below the floor everywhere: the best expected quality is tried first.
                    prop_assert!(eligible.iter().all(|o| o.quality <= e.quality));
                }
            }
        }
    }

    /// Quality-first: no ranked model's expected cost exceeds the ceiling, and the primary has
    /// the best expected quality among the eligible (ties to the cheaper).
    #[test]
    fn quality_first_never_exceeds_the_ceiling(
        mut s in scenario(),
        ceiling in prop_oneof![Just(0.0), Just(0.01), 0.0..0.5f64],
    ) {
        s.policy = GenPolicy::QualityFirst(Some(ceiling));
        let r = router(&s);
        let (d, _) = route(&r, &task_spec(&s.task));
        for c in d.ranked() {
            let i = index_of(c.model.as_str());
            prop_assert!(oracle_cost(&s.models[i], &s.task) <= ceiling);
            prop_assert!(c.estimate.unwrap().cost_usd <= ceiling);
        }
        if let Some(p) = d.primary() {
            let pe = p.estimate.unwrap();
            for i in 0..s.models.len() {
                if let Ok(e) = oracle(&s, &s.task, i) {
                    // Best quality, up to the cost tie-break term (1e-9 per USD), which can
                    // outweigh a difference in the last bits of two qualities.
                    let slack = 1e-9 * (e.cost - pe.cost_usd).abs() + 1e-15;
                    prop_assert!(
                        e.quality <= pe.quality + slack,
                        "m{} has quality {} > primary's {}", i, e.quality, pe.quality
                    );
                }
            }
        }
    }

    /// The ranking is exactly the best eligible models in score order (independently
    /// recomputed), as many as the ranking depth: the primary first, the fallbacks the others,
    /// in order. The other eligible models are the unranked ones, and `rank_all` puts them after
    /// the ranked ones in the same order.
    #[test]
    fn fallbacks_are_the_other_eligible_models_in_score_order(s in scenario()) {
        let r = router(&s);
        let (mut d, _) = route(&r, &task_spec(&s.task));
        let expected = oracle_ranking(&s, &s.task);
        let k = expected.len().min(s.depth);
        let primary = d.primary().map(|c| index_of(c.model.as_str()));
        prop_assert_eq!(primary, expected.first().copied());
        let fallbacks: Vec<usize> = d.fallbacks().map(|c| index_of(c.model.as_str())).collect();
        let expected_fallbacks: Vec<usize> = expected.iter().take(k).skip(1).copied().collect();
        prop_assert_eq!(fallbacks, expected_fallbacks);
        let unranked: BTreeSet<usize> = d.unranked().map(|c| index_of(c.model.as_str())).collect();
        prop_assert_eq!(unranked, expected[k..].iter().copied().collect::<BTreeSet<_>>());
        d.rank_all();
        let all: Vec<usize> = d.ranked().map(|c| index_of(c.model.as_str())).collect();
        prop_assert_eq!(all, expected);
        prop_assert_eq!(d.unranked().count(), 0);
    }

    /// Every model appears exactly once, in catalog order, either scored (ranked within the
    /// ranking depth) or rejected with the reason the rules call for; ranks are 0, 1, 2, ... in
    /// ranking order.
    #[test]
    fn every_candidate_once_with_a_score_or_its_rejection(s in scenario()) {
        let r = router(&s);
        let (d, _) = route(&r, &task_spec(&s.task));
        let ids: Vec<String> = d.candidates().iter().map(|c| c.model.to_string()).collect();
        let expected_ids: Vec<String> = (0..s.models.len()).map(id).collect();
        prop_assert_eq!(ids, expected_ids);
        let mut scored = 0;
        for (i, c) in d.candidates().iter().enumerate() {
            match (&c.verdict, oracle(&s, &s.task, i)) {
                (Verdict::Scored(score), Ok(e)) => {
                    let (tier, value) = oracle_score(s.policy, &e);
                    prop_assert_eq!(score.reserve, tier == 1);
                    prop_assert_eq!(score.value.to_bits(), value.to_bits());
                    prop_assert_eq!(c.estimate.unwrap().cost_usd.to_bits(), e.cost.to_bits());
                    scored += 1;
                }
                (Verdict::Rejected(rej), Err(why)) => {
                    prop_assert_eq!(reason(rej), why, "m{}", i);
                    prop_assert!(c.rank.is_none());
                }
                (v, o) => prop_assert!(false, "m{}: verdict {:?}, oracle {:?}", i, v, o),
            }
        }
        prop_assert_eq!(d.ranking.len(), scored.min(s.depth));
        prop_assert_eq!(d.candidates().iter().filter(|c| c.rank.is_some()).count(), d.ranking.len());
        for (r, &i) in d.ranking.iter().enumerate() {
            prop_assert_eq!(d.candidates()[i as usize].rank, Some(r as u32));
        }
    }

    /// The same input gives the same decision: routing twice, and routing into a reused
    /// decision that last held another task's decision.
    #[test]
    fn same_input_same_decision(s in scenario()) {
        let r = router(&s);
        let task = task_spec(&s.task);
        let (first, res1) = route(&r, &task);
        let (second, res2) = route(&r, &task);
        // Debug output compares NaN estimates (no-quality candidates) as equal, unlike `==`.
        prop_assert_eq!(format!("{first:?}"), format!("{second:?}"));
        prop_assert_eq!(format!("{res1:?}"), format!("{res2:?}"));
        let mut reused = Decision::new();
        let _ = r.route_into(&task_spec(&s.other_task), &mut reused);
        let res3 = r.route_into(&task, &mut reused);
        prop_assert_eq!(format!("{first:?}"), format!("{reused:?}"));
        prop_assert_eq!(format!("{res1:?}"), format!("{res3:?}"));
        // Entries renamed through the decision, or the decision filled by another router of
        // as many models, named otherwise, in between: each entry names its model again.
        for c in reused.candidates_mut().iter_mut().step_by(2) {
            c.model = ModelId::new("renamed");
        }
        let res4 = r.route_into(&task, &mut reused);
        prop_assert_eq!(format!("{first:?}"), format!("{reused:?}"));
        prop_assert_eq!(format!("{res1:?}"), format!("{res4:?}"));
        let others = s.models.iter().enumerate().map(|(i, g)| {
            let mut m = spec(i, g);
            m.id = ModelId::new(format!("other-{i}"));
            m
        });
        let other = Router::builder().models(others).build().unwrap();
        let _ = other.route_into(&task_spec(&s.other_task), &mut reused);
        for (i, c) in reused.candidates().iter().enumerate() {
            prop_assert_eq!(c.model.as_str(), format!("other-{i}"));
        }
        let res5 = r.route_into(&task, &mut reused);
        prop_assert_eq!(format!("{first:?}"), format!("{reused:?}"));
        prop_assert_eq!(format!("{res1:?}"), format!("{res5:?}"));
        // `Router::route` agrees with `route_into`.
        match r.route(&task) {
            Ok(d) => prop_assert_eq!(format!("{first:?}"), format!("{d:?}")),
            Err(e) => prop_assert_eq!(format!("{:?}", res1), format!("{:?}", Err::<(), _>(e))),
        }
    }

    /// No eligible model: `NoEligibleModel` lists every candidate, in catalog order, with the
    /// reason it was rejected; with an eligible model, routing succeeds.
    #[test]
    fn no_eligible_model_lists_every_candidate(s in scenario()) {
        let r = router(&s);
        let expected = oracle_ranking(&s, &s.task);
        match r.route(&task_spec(&s.task)) {
            Ok(d) => {
                prop_assert!(!expected.is_empty());
                prop_assert!(d.primary().is_some());
            }
            Err(Error::NoEligibleModel { task_kind, rejections }) => {
                prop_assert!(expected.is_empty(), "oracle says {:?} are eligible", expected);
                prop_assert_eq!(task_kind, kind_of(s.task.kind));
                prop_assert_eq!(rejections.len(), s.models.len());
                for (i, (m, why)) in rejections.iter().enumerate() {
                    prop_assert_eq!(m.as_str(), id(i));
                    prop_assert_eq!(Some(reason(why)), oracle(&s, &s.task, i).err().map(str::to_owned));
                }
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

/// The generator reaches every rejection kind and both outcomes (guards against a generator
/// that silently stops exercising a filter).
#[test]
fn generator_reaches_every_rejection_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    let mut hist = std::collections::BTreeMap::new();
    let (mut ok, mut none, mut cost_ties) = (0, 0, 0);
    for _ in 0..600 {
        let s = scenario().new_tree(&mut runner).unwrap().current();
        for i in 0..s.models.len() {
            if let Err(why) = oracle(&s, &s.task, i) {
                seen.insert(why);
                *hist.entry(why).or_insert(0) += 1;
            }
        }
        let costs: Vec<u64> = (0..s.models.len())
            .filter_map(|i| oracle(&s, &s.task, i).ok().map(|e| e.cost.to_bits()))
            .collect();
        if costs.iter().collect::<BTreeSet<_>>().len() < costs.len() {
            cost_ties += 1;
        }
        if oracle_ranking(&s, &s.task).is_empty() {
            none += 1;
        } else {
            ok += 1;
        }
    }
    let all = [
        "not_allowed",
        "denied",
        "unhealthy",
        "missing_capabilities",
        "context_window",
        "max_output",
        "missing_tag",
        "price_cap",
        "filter",
        "no_quality_estimate",
        "cost_limit",
        "latency_limit",
        "above_cost_ceiling",
    ];
    for why in all {
        assert!(seen.contains(why), "generator never produced `{why}`");
    }
    eprintln!("eligible {ok}, none eligible {none}, cost ties {cost_ties}, kinds {hist:?}");
    assert!(ok > 250 && none > 100, "eligible {ok}, none eligible {none}");
    // Eligible models with equal cost happen too, so the tie-breaks are exercised.
    assert!(cost_ties > 15, "only {cost_ties} scenarios with a cost tie");
}
