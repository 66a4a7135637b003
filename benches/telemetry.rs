//! Overhead of the metrics one routed request records (feature `metrics`): the decision (with
//! its rejection), one successful attempt with tokens and cost, and the spend against one
//! budget, through [`Metrics`] (cached handles). In the same run, as baselines: the routing
//! decision itself (`route_into`), and the same series registered on every call through the
//! facade's macros (what the crate did before it cached handles).
//!
//! Measured with no recorder installed (what a library user who exports nothing pays), then
//! with the Prometheus recorder installed globally (it cannot be uninstalled, so it comes last).
//!
//! Run: `cargo bench --bench telemetry --features metrics` (wall clock), or with
//! `TASKROUTE_BENCH_CLOCK=thread-cpu` the thread's CPU time (benches/support/clock.rs).
//!
//! Instruction counts, steadier than time on a loaded machine: `TASKROUTE_BENCH_INSTR=<variant>:<n>`
//! skips criterion and runs `<variant>` `n` times (variants: `route_into`, `no_recorder`,
//! `prometheus`, `prometheus_uncached`). Under `valgrind --tool=callgrind`, the difference
//! between `n` = 100000 and `n` = 0 divided by 100000 is the instructions per request (see
//! docs/observability.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use criterion::measurement::Measurement;
use metrics::{counter, histogram};
use taskroute::telemetry::{Attempt, Metrics, Tokens, attrs, names, rejection_reason};
use taskroute::{
    CostFirst, Decision, ModelId, ModelSpec, Prices, Router, TaskKind, TaskSpec, Verdict, quality_fn,
};

fn router() -> Router {
    // Eight models, one too small for the task: a decision with one rejection.
    let mut models: Vec<ModelSpec> = (0..7)
        .map(|i| {
            ModelSpec::new(
                format!("model-{i}"),
                "openai",
                Prices::new(0.1 * (i + 1) as f64, 0.4 * (i + 1) as f64),
                200_000,
            )
        })
        .collect();
    models.push(ModelSpec::new("tiny", "openai", Prices::new(0.05, 0.1), 1_000));
    Router::builder()
        .models(models)
        .quality_estimator(quality_fn(|_, m: &ModelSpec| Some(0.5 + m.prices.input)))
        .policy(CostFirst::new(0.6).expect("valid floor"))
        .build()
        .expect("valid router")
}

const LATENCY: Duration = Duration::from_millis(850);
const TOKENS: Tokens = Tokens::new(2_000, 300, 1_024);
const COST: f64 = 0.0021;

/// The metrics of one routed request, through cached handles.
fn record(m: &Metrics, d: &Decision, model: &ModelId) {
    m.decision(d);
    m.attempt(
        &Attempt::success("openai", model, LATENCY)
            .with_tokens(TOKENS)
            .with_cost_usd(COST),
    );
    m.spend("global", "", COST);
}

/// The same series, registered on every call (label values formatted and allocated each time).
fn record_uncached(d: &Decision, model: &ModelId) {
    let m = || model.as_str().to_owned();
    let kind = d.task_kind.as_ref().map_or("", |k| k.name()).to_owned();
    counter!(names::DECISIONS, attrs::POLICY => d.policy.to_string(), attrs::TASK_KIND => kind, attrs::REQUEST_MODEL => m())
        .increment(1);
    for c in d.candidates() {
        if let Verdict::Rejected(r) = &c.verdict {
            counter!(names::REJECTIONS, attrs::REJECTION_REASON => rejection_reason(r), attrs::REQUEST_MODEL => c.model.as_str().to_owned())
                .increment(1);
        }
    }
    let base = || {
        [
            (attrs::OPERATION_NAME, "chat".to_owned()),
            (attrs::SYSTEM, "openai".to_owned()),
            (attrs::REQUEST_MODEL, m()),
            (attrs::RESPONSE_MODEL, m()),
        ]
    };
    let with = |k: &'static str, v: &'static str| {
        let mut l = base().to_vec();
        l.push((k, v.to_owned()));
        l
    };
    counter!(names::ATTEMPTS, &with(attrs::OUTCOME, "success")).increment(1);
    histogram!(names::OPERATION_DURATION, &base()).record(LATENCY.as_secs_f64());
    histogram!(names::TOKEN_USAGE, &with(attrs::TOKEN_TYPE, "input")).record(TOKENS.input);
    histogram!(names::TOKEN_USAGE, &with(attrs::TOKEN_TYPE, "output")).record(TOKENS.output);
    counter!(names::CACHED_INPUT_TOKENS, attrs::SYSTEM => "openai".to_owned(), attrs::REQUEST_MODEL => m())
        .increment(u64::from(TOKENS.cached_input));
    histogram!(names::ATTEMPT_COST, attrs::SYSTEM => "openai".to_owned(), attrs::REQUEST_MODEL => m())
        .record(COST);
    histogram!(names::BUDGET_SPEND, attrs::BUDGET_SCOPE => "global", attrs::BUDGET_NAME => String::new())
        .record(COST);
}

struct Setup {
    router: Router,
    task: TaskSpec,
    decision: Decision,
    model: ModelId,
}

fn setup() -> Setup {
    let router = router();
    let task = TaskSpec::new(TaskKind::Chat, 2_000);
    let mut decision = Decision::new();
    router.route_into(&task, &mut decision).expect("routable");
    let model = decision.primary_model().expect("a primary").clone();
    Setup {
        router,
        task,
        decision,
        model,
    }
}

fn install_prometheus() -> metrics_exporter_prometheus::PrometheusHandle {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no recorder installed yet")
}

/// `TASKROUTE_BENCH_INSTR=<variant>:<n>`: one variant, `n` times, no criterion.
fn instructions(spec: &str) {
    let (variant, n) = spec.split_once(':').expect("<variant>:<n>");
    let n: u64 = n.parse().expect("a count");
    let mut s = setup();
    let d = &s.decision;
    match variant {
        "route_into" => (0..n).for_each(|_| {
            s.router
                .route_into(black_box(&s.task), &mut s.decision)
                .expect("routable")
        }),
        "no_recorder" => {
            let m = Metrics::new(s.router.models());
            (0..n).for_each(|_| record(&m, black_box(d), black_box(&s.model)));
        }
        "prometheus" => {
            let _h = install_prometheus();
            let m = Metrics::new(s.router.models());
            (0..n).for_each(|_| record(&m, black_box(d), black_box(&s.model)));
        }
        "prometheus_uncached" => {
            let _h = install_prometheus();
            (0..n).for_each(|_| record_uncached(black_box(d), black_box(&s.model)));
        }
        other => panic!("unknown variant {other}"),
    }
}

fn run<M: Measurement + 'static>(mut c: Criterion<M>, prefix: &str) {
    let mut s = setup();
    c.bench_function(&format!("{prefix}telemetry/baseline/route_into"), |b| {
        b.iter(|| {
            s.router
                .route_into(black_box(&s.task), &mut s.decision)
                .expect("routable")
        })
    });
    let (d, model) = (&s.decision, &s.model);
    let quiet = Metrics::new(s.router.models());
    c.bench_function(&format!("{prefix}telemetry/no_recorder/record_request"), |b| {
        b.iter(|| record(&quiet, black_box(d), black_box(model)))
    });
    let handle = install_prometheus();
    let m = Metrics::new(s.router.models());
    c.bench_function(&format!("{prefix}telemetry/prometheus/record_request"), |b| {
        b.iter(|| record(&m, black_box(d), black_box(model)))
    });
    c.bench_function(
        &format!("{prefix}telemetry/prometheus_uncached/record_request"),
        |b| b.iter(|| record_uncached(black_box(d), black_box(model))),
    );
    // The exporter's registry holds what was recorded, under the names the docs give.
    let text = handle.render();
    for name in [
        "taskroute_decisions",
        "taskroute_rejections",
        "taskroute_attempts",
        "gen_ai_client_token_usage",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    c.final_summary();
}

fn main() {
    match std::env::var("TASKROUTE_BENCH_INSTR") {
        Ok(spec) => instructions(&spec),
        Err(_) => timed::start(),
    }
}

/// Criterion, on the clock `TASKROUTE_BENCH_CLOCK` names (benches/support/clock.rs).
mod timed {
    use super::{clock, run};
    clock::clock_main!(run);
    pub(super) fn start() {
        main();
    }
}

#[path = "support/clock.rs"]
mod clock;
