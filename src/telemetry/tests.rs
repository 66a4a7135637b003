use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};

use super::*;
use crate::estimate::quality_fn;
use crate::model::{ModelSpec, Prices};
use crate::router::Router;
use crate::score::CostFirst;
use crate::task::{TaskKind, TaskSpec};

type Entry = (CompositeKey, DebugValue);

/// Runs `f` with a fresh recorder and returns what it recorded.
fn recorded(f: impl FnOnce()) -> Vec<Entry> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    entries(&snapshotter)
}

/// Every series a snapshotter's recorder holds.
fn entries(snapshotter: &metrics_util::debugging::Snapshotter) -> Vec<Entry> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(k, _, _, v)| (k, v))
        .collect()
}

fn labels(k: &CompositeKey) -> Vec<(String, String)> {
    let mut v: Vec<_> = k
        .key()
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    v.sort();
    v
}

fn find<'a>(
    entries: &'a [Entry],
    kind: MetricKind,
    name: &str,
    with: &[(&str, &str)],
) -> Vec<&'a DebugValue> {
    entries
        .iter()
        .filter(|(k, _)| k.kind() == kind && k.key().name() == name)
        .filter(|(k, _)| {
            let l = labels(k);
            with.iter().all(|(a, b)| l.iter().any(|(x, y)| x == a && y == b))
        })
        .map(|(_, v)| v)
        .collect()
}

/// The one series `name` of `kind` that carries the labels `with`.
fn one<'a>(entries: &'a [Entry], kind: MetricKind, name: &str, with: &[(&str, &str)]) -> &'a DebugValue {
    match find(entries, kind, name, with)[..] {
        [v] => v,
        ref found => panic!("{name} {with:?}: {} series, not one, in {entries:?}", found.len()),
    }
}

/// The value of the one counter `name` with the labels `with`.
fn counter(entries: &[Entry], name: &str, with: &[(&str, &str)]) -> u64 {
    match one(entries, MetricKind::Counter, name, with) {
        DebugValue::Counter(n) => *n,
        other => panic!("{other:?}"),
    }
}

/// The value of the one gauge `name` with the labels `with`.
fn gauge(entries: &[Entry], name: &str, with: &[(&str, &str)]) -> f64 {
    match one(entries, MetricKind::Gauge, name, with) {
        DebugValue::Gauge(g) => g.into_inner(),
        other => panic!("{other:?}"),
    }
}

/// The samples of the one histogram `name` with the labels `with`.
fn histogram(entries: &[Entry], name: &str, with: &[(&str, &str)]) -> Vec<f64> {
    match one(entries, MetricKind::Histogram, name, with) {
        DebugValue::Histogram(h) => h.iter().map(|x| x.into_inner()).collect(),
        other => panic!("{other:?}"),
    }
}

fn router() -> Router {
    let models = vec![
        ModelSpec::new("small", "p", Prices::new(0.1, 0.4), 1_000),
        ModelSpec::new("cheap", "p", Prices::new(0.2, 0.8), 100_000),
        ModelSpec::new("strong", "p", Prices::new(3.0, 15.0), 100_000),
    ];
    Router::builder()
        .models(models)
        .quality_estimator(quality_fn(|_, m: &ModelSpec| {
            Some(if m.id.as_str() == "strong" { 0.9 } else { 0.7 })
        }))
        .policy(CostFirst::new(0.6).unwrap())
        .build()
        .unwrap()
}

#[test]
fn a_decision_records_policy_kind_model_and_each_rejection() {
    let r = router();
    let task = TaskSpec::new(TaskKind::Chat, 5_000)
        .with_text("SECRET PROMPT TEXT")
        .with_caller_key("user-8472");
    let d = r.route(&task).unwrap();
    let e = recorded(|| {
        let m = Metrics::new(r.models());
        m.decision(&d);
        m.decision(&d);
    });
    let decision = [
        (attrs::POLICY, "cost-first"),
        (attrs::TASK_KIND, "chat"),
        (attrs::REQUEST_MODEL, "cheap"),
    ];
    assert_eq!(counter(&e, names::DECISIONS, &decision), 2);
    let rejection = [
        (attrs::REJECTION_REASON, "context_window"),
        (attrs::REQUEST_MODEL, "small"),
    ];
    assert_eq!(counter(&e, names::REJECTIONS, &rejection), 2);
    assert_eq!(e.len(), 2, "only the decision and the one rejection: {e:?}");
    // Bounded labels: neither the prompt nor the caller key ever becomes a label value.
    for (k, _) in &e {
        for (_, v) in labels(k) {
            assert!(!v.contains("SECRET") && !v.contains("8472"), "{v}");
        }
    }
}

#[test]
fn no_eligible_model_is_a_decision_for_none() {
    let r = router();
    let task = TaskSpec::new(TaskKind::Chat, 500_000);
    let mut d = crate::Decision::new();
    assert!(r.route_into(&task, &mut d).is_err());
    let e = recorded(|| Metrics::new(r.models()).decision(&d));
    assert_eq!(
        counter(&e, names::DECISIONS, &[(attrs::REQUEST_MODEL, "none")]),
        1
    );
    let rej = find(&e, MetricKind::Counter, names::REJECTIONS, &[]);
    assert_eq!(rej.len(), 3, "{e:?}");
}

#[test]
fn attempts_record_outcome_latency_tokens_and_cost() {
    let model = ModelId::new("gpt-x");
    let e = recorded(|| {
        let m = Metrics::new([]);
        m.attempt(
            &Attempt::success("openai", &model, Duration::from_millis(1500))
                .with_response_model("gpt-x-2025")
                .with_time_to_first_chunk(Duration::from_millis(200))
                .with_tokens(Tokens::new(1000, 50, 600))
                .with_cost_usd(0.25),
        );
        m.attempt(&Attempt::failure(
            "openai",
            &model,
            Duration::from_millis(30),
            "rate_limited",
        ));
    });
    let success = [
        (attrs::OUTCOME, "success"),
        (attrs::SYSTEM, "openai"),
        (attrs::REQUEST_MODEL, "gpt-x"),
        (attrs::RESPONSE_MODEL, "gpt-x-2025"),
        (attrs::OPERATION_NAME, "chat"),
    ];
    assert_eq!(counter(&e, names::ATTEMPTS, &success), 1);
    let error = [(attrs::OUTCOME, "error"), (attrs::ERROR_TYPE, "rate_limited")];
    assert_eq!(counter(&e, names::ATTEMPTS, &error), 1);
    for (name, with, samples) in [
        (
            names::OPERATION_DURATION,
            &[(attrs::RESPONSE_MODEL, "gpt-x-2025")][..],
            1.5,
        ),
        (
            names::OPERATION_DURATION,
            &[(attrs::ERROR_TYPE, "rate_limited")],
            0.03,
        ),
        (names::TIME_TO_FIRST_CHUNK, &[], 0.2),
        (names::TOKEN_USAGE, &[(attrs::TOKEN_TYPE, "input")], 1000.0),
        (names::TOKEN_USAGE, &[(attrs::TOKEN_TYPE, "output")], 50.0),
        (names::ATTEMPT_COST, &[(attrs::REQUEST_MODEL, "gpt-x")], 0.25),
    ] {
        assert_eq!(histogram(&e, name, with), [samples], "{name} {with:?}");
    }
    assert_eq!(counter(&e, names::CACHED_INPUT_TOKENS, &[]), 600);
    // The failure recorded no tokens: exactly two token series, both from the success.
    assert_eq!(find(&e, MetricKind::Histogram, names::TOKEN_USAGE, &[]).len(), 2);
}

#[test]
fn budgets_and_breakers() {
    let e = recorded(|| {
        let m = Metrics::new([]);
        m.spend("tenant", "acme", 0.5);
        m.spend("tenant", "acme", 0.25);
        record_budget_remaining("tenant", "acme", 9.25);
        record_breaker_state(&ModelId::new("m"), CircuitState::Open);
        record_breaker_state(&ModelId::new("m"), CircuitState::HalfOpen);
    });
    let spend = histogram(&e, names::BUDGET_SPEND, &[(attrs::BUDGET_NAME, "acme")]);
    assert_eq!(spend, [0.5, 0.25]);
    let left = gauge(&e, names::BUDGET_REMAINING, &[(attrs::BUDGET_SCOPE, "tenant")]);
    assert_eq!(left, 9.25);
    let opened = [(attrs::BREAKER_STATE, "open")];
    assert_eq!(counter(&e, names::BREAKER_TRANSITIONS, &opened), 1);
    assert_eq!(
        gauge(&e, names::BREAKER_STATE, &[(attrs::REQUEST_MODEL, "m")]),
        1.0
    );
}

#[test]
fn every_rejection_has_a_snake_case_code() {
    for r in [
        Rejection::NotAllowed,
        Rejection::Unhealthy,
        Rejection::NoQualityEstimate,
        Rejection::Policy { detail: "x".into() },
    ] {
        let c = rejection_reason(&r);
        assert!(c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{c}");
    }
}

#[cfg(feature = "runtime")]
#[test]
fn breaker_metrics_record_a_real_breaker_opening_and_closing() {
    use std::sync::Arc;
    use std::time::Instant;

    use crate::runtime::{BreakerConfig, CallOutcome, CircuitBreaker};

    let model = ModelId::new("flaky");
    let start = Instant::now();
    let config = BreakerConfig::default()
        .with_consecutive_failures(2)
        .with_open_for(Duration::from_secs(1));
    let breaker = Arc::new(
        CircuitBreaker::new(model.clone(), config, start).with_observer(Arc::new(BreakerMetrics::new())),
    );
    let e = recorded(|| {
        for _ in 0..2 {
            breaker
                .try_acquire(start)
                .unwrap()
                .record(CallOutcome::Failure, start);
        }
        assert!(breaker.try_acquire(start).is_err(), "open after two failures");
        let later = start + Duration::from_secs(2);
        breaker
            .try_acquire(later)
            .unwrap()
            .record(CallOutcome::Success, later);
    });
    for state in ["open", "closed"] {
        let transition = [(attrs::BREAKER_STATE, state)];
        assert_eq!(counter(&e, names::BREAKER_TRANSITIONS, &transition), 1, "{state}");
    }
    assert_eq!(
        gauge(&e, names::BREAKER_STATE, &[(attrs::REQUEST_MODEL, "flaky")]),
        0.0
    );
}

/// A recorder that counts registrations and passes everything on to a [`DebuggingRecorder`].
struct Counting {
    inner: DebuggingRecorder,
    registered: std::sync::atomic::AtomicUsize,
}

impl Counting {
    fn registered(&self) -> usize {
        self.registered.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn bump(&self) {
        self.registered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl metrics::Recorder for Counting {
    fn describe_counter(&self, k: metrics::KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.inner.describe_counter(k, u, d);
    }
    fn describe_gauge(&self, k: metrics::KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.inner.describe_gauge(k, u, d);
    }
    fn describe_histogram(&self, k: metrics::KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.inner.describe_histogram(k, u, d);
    }
    fn register_counter(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> metrics::Counter {
        self.bump();
        self.inner.register_counter(k, m)
    }
    fn register_gauge(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.bump();
        self.inner.register_gauge(k, m)
    }
    fn register_histogram(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> metrics::Histogram {
        self.bump();
        self.inner.register_histogram(k, m)
    }
}

/// The metrics of one routed request, as the routed client records them.
fn one_request(m: &Metrics, d: &crate::Decision, model: &ModelId) {
    m.decision(d);
    m.attempt(
        &Attempt::success("p", model, Duration::from_millis(40))
            .with_tokens(Tokens::new(100, 20, 10))
            .with_cost_usd(0.01),
    );
    m.attempt(&Attempt::failure("p", model, Duration::from_millis(5), "rate_limited").with_cost_usd(0.0));
    m.spend("tenant", "acme", 0.01);
}

#[test]
fn series_are_registered_once_then_reused() {
    let r = router();
    let d = r.route(&TaskSpec::new(TaskKind::Chat, 5_000)).unwrap();
    let model = d.primary_model().unwrap().clone();
    let rec = Counting {
        inner: DebuggingRecorder::new(),
        registered: Default::default(),
    };
    let snapshotter = rec.inner.snapshotter();
    let m = Metrics::new(r.models());
    let (first, later) = metrics::with_local_recorder(&rec, || {
        one_request(&m, &d, &model);
        let first = rec.registered();
        for _ in 0..99 {
            one_request(&m, &d, &model);
        }
        (first, rec.registered() - first)
    });
    // decision, rejection, success (attempts, duration, 2 token histograms), failure
    // (attempts, duration), cached input, cost, spend.
    assert_eq!(first, 11);
    assert_eq!(later, 0, "the hot path registered series again");
    let e = entries(&snapshotter);
    assert_eq!(counter(&e, names::DECISIONS, &[]), 100);
    assert_eq!(counter(&e, names::ATTEMPTS, &[(attrs::OUTCOME, "error")]), 100);
    assert_eq!(counter(&e, names::CACHED_INPUT_TOKENS, &[]), 1_000);
}

#[test]
fn label_values_from_callers_and_servers_are_bounded() {
    let r = router();
    let model = ModelId::new("cheap");
    let m = Metrics::new(r.models());
    let e = recorded(|| {
        for i in 0..50 {
            m.attempt(
                &Attempt::success("p", &model, Duration::from_millis(1))
                    .with_response_model(&format!("cheap-{i}")),
            );
        }
        for i in 0..(MAX_BUDGET_NAMES + 500) {
            m.spend("key", &format!("key-{i}"), 0.5);
        }
        m.spend("bogus", "x", 1.0);
    });
    let ok = find(
        &e,
        MetricKind::Counter,
        names::ATTEMPTS,
        &[(attrs::OUTCOME, "success")],
    );
    assert_eq!(ok.len(), MAX_RESPONSE_MODELS + 1, "{e:?}");
    let total: u64 = ok
        .iter()
        .map(|v| match v {
            DebugValue::Counter(n) => *n,
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(total, 50, "every call counted, the overflow under `other`");
    let other = counter(&e, names::ATTEMPTS, &[(attrs::RESPONSE_MODEL, "other")]);
    assert_eq!(other, 50 - MAX_RESPONSE_MODELS as u64);
    let spend = find(&e, MetricKind::Histogram, names::BUDGET_SPEND, &[]);
    assert_eq!(
        spend.len(),
        MAX_BUDGET_NAMES + 1,
        "the names past the bound share `other`"
    );
    let overflow = histogram(&e, names::BUDGET_SPEND, &[(attrs::BUDGET_NAME, "other")]);
    assert_eq!(overflow.len(), 500);
}

#[test]
fn decisions_past_the_kind_bound_share_other() {
    let r = router();
    let m = Metrics::new(r.models());
    let e = recorded(|| {
        for i in 0..(MAX_DECISION_KINDS + 10) {
            let kind = TaskKind::from_name(&format!("kind-{i}"));
            let d = r.route(&TaskSpec::new(kind, 5_000)).unwrap();
            m.decision(&d);
        }
    });
    let decisions = find(&e, MetricKind::Counter, names::DECISIONS, &[]);
    assert_eq!(decisions.len(), MAX_DECISION_KINDS + 1, "{e:?}");
    assert_eq!(counter(&e, names::DECISIONS, &[(attrs::TASK_KIND, "other")]), 10);
}

#[cfg(feature = "provider")]
#[test]
fn every_error_kind_has_a_cached_series() {
    use crate::provider::ErrorKind as K;
    for k in [
        K::RateLimited,
        K::ContextTooLong,
        K::Authentication,
        K::Permission,
        K::InvalidRequest,
        K::NotFound,
        K::Overloaded,
        K::Server,
        K::Timeout,
        K::Transport,
        K::MalformedResponse,
        K::ResponseTooLarge,
        K::Config,
        K::Unsupported,
    ] {
        assert!(series::ERROR_TYPES.contains(&error_type(k)), "{k:?}");
    }
}
