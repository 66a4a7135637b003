//! Fault injection against the routed client with an in-process fake provider: errors, 429 with
//! Retry-After, timeouts, slow answers, streams cut before and after the first token, breakers,
//! budgets, cascades. Time is tokio's paused clock (or the manual clock), so runs are exact and
//! instant.
#![cfg(feature = "runtime")]

mod log_capture;
mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime_support::{Act, Fake, Fault, model};
use taskroute::provider::{ChatRequest, ErrorKind, Provider, StreamEvent};
use taskroute::runtime::{
    AttemptOutcome, BasicCheck, BreakerConfig, BreakerRegistry, BreakerState, BudgetCap, BudgetError,
    BudgetPolicy, BudgetScope, BudgetStore, CascadeResponse, Clock, CostBasis, FailureAwareQuality,
    InMemoryBudgetStore, Jitter, ManualClock, RequestOptions, Reservation, RetryPolicy, RoutedClient,
    RoutedClientBuilder, RoutedError, RuntimeStats, StatsConfig, TokioClock,
};
use taskroute::{CostFirst, ModelId, PriorQuality, QualityFirst, Rejection, Router, TaskKind, TaskSpec};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// cheap (primary under cost-first) and dear (its fallback), both served by `fake`.
fn router() -> Router {
    runtime_support::cheap_and_dear()
        .policy(CostFirst::new(0.7).unwrap())
        .build()
        .unwrap()
}

fn retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_jitter(Jitter::None)
        .with_delays(ms(100), secs(2))
}

/// A client of `router` whose one provider is `fake`, set up further by `setup`.
fn client_of(
    router: Router,
    fake: &Arc<Fake>,
    setup: impl FnOnce(RoutedClientBuilder) -> RoutedClientBuilder,
) -> RoutedClient {
    let builder = RoutedClient::builder(router).provider(fake.clone() as Arc<dyn Provider>);
    setup(builder).build().unwrap()
}

fn client(fake: Fake) -> (RoutedClient, Arc<Fake>) {
    let fake = Arc::new(fake);
    (client_of(router(), &fake, |b| b.retry(retry())), fake)
}

fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50)
}

fn req() -> ChatRequest {
    ChatRequest::new().user("the secret prompt text")
}

fn within(d: Duration) -> RequestOptions {
    RequestOptions::within(d)
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_backoff_then_fall_back() {
    let (c, fake) = client(Fake::new("fake").always("cheap", Act::err(ErrorKind::Server, 500)));
    let t0 = tokio::time::Instant::now();
    let r = c.complete(&task(), &req(), within(secs(30))).await.unwrap();
    assert_eq!(r.model().as_str(), "dear");
    let outcomes: Vec<_> = r
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), a.retry, a.outcome.label()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("cheap", 0, "server error"),
            ("cheap", 1, "server error"),
            ("cheap", 2, "server error"),
            ("dear", 0, "success")
        ]
    );
    // exponential backoff without jitter: 100 ms then 200 ms, no wait before the fallback
    let backoffs: Vec<_> = r.attempts.iter().map(|a| a.backoff).collect();
    assert_eq!(backoffs, [ms(100), ms(200), Duration::ZERO, Duration::ZERO]);
    let times = fake.call_times("cheap");
    assert_eq!(times[1] - times[0], ms(100));
    assert_eq!(times[2] - times[1], ms(200));
    assert_eq!(fake.call_times("dear")[0] - t0, ms(300));
    assert!(r.total_cost_usd() > 0.0);
    assert_eq!(r.attempts.last().unwrap().cost_usd, r.response.cost_usd);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_waits_out_retry_after() {
    let (c, fake) = client(Fake::new("fake").script("cheap", [Act::rate_limited(secs(3)), Act::ok("fine")]));
    let r = c.complete(&task(), &req(), within(secs(30))).await.unwrap();
    assert_eq!(r.model().as_str(), "cheap");
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(
        r.attempts[0].backoff,
        secs(3),
        "Retry-After is the floor of the delay"
    );
    let t = fake.call_times("cheap");
    assert_eq!(t[1] - t[0], secs(3));
    assert_eq!(fake.calls_to("dear"), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_after_longer_than_allowed_falls_back_at_once() {
    // 86401 s and 999999 s are what a provider sends as seconds or an HTTP date a day away;
    // Duration::MAX stands for "later than can be represented".
    for ra in [secs(120), secs(86_401), secs(999_999), Duration::MAX] {
        let (c, fake) = client(Fake::new("fake").script("cheap", [Act::rate_limited(ra)]));
        let t0 = tokio::time::Instant::now();
        let r = c.complete(&task(), &req(), within(secs(30))).await.unwrap();
        assert_eq!(r.model().as_str(), "dear", "{ra:?}");
        assert_eq!(fake.calls_to("cheap"), 1, "{ra:?}: the primary is not retried");
        assert_eq!(tokio::time::Instant::now() - t0, Duration::ZERO, "no waiting");
        assert_eq!(r.attempts[0].backoff, Duration::ZERO);
    }
    // also with a policy that would wait out anything: the deadline decides
    let fake = Arc::new(Fake::new("fake").script("cheap", [Act::rate_limited(secs(86_401))]));
    let c = client_of(router(), &fake, |b| {
        b.retry(retry().with_max_retry_after(Duration::MAX))
    });
    let r = c.complete(&task(), &req(), within(secs(30))).await.unwrap();
    assert_eq!(r.model().as_str(), "dear");
    assert_eq!(fake.calls_to("cheap"), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_is_not_waited() {
    let (c, fake) = client(Fake::new("fake").script("cheap", [Act::rate_limited(secs(8))]));
    let t0 = tokio::time::Instant::now();
    let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
    assert_eq!(r.model().as_str(), "dear");
    assert_eq!(fake.calls_to("cheap"), 1);
    assert!(tokio::time::Instant::now() - t0 < secs(5));
}

#[tokio::test(start_paused = true)]
async fn invalid_request_is_not_retried_nor_replayed_elsewhere() {
    let (c, fake) = client(Fake::new("fake").script("cheap", [Act::err(ErrorKind::InvalidRequest, 400)]));
    let e = c.complete(&task(), &req(), within(secs(30))).await.unwrap_err();
    assert!(matches!(e, RoutedError::Rejected { .. }), "{e}");
    assert_eq!(e.attempts().len(), 1);
    assert_eq!(fake.calls_to("dear"), 0);
    assert!(e.to_string().contains("cheap: invalid request (400)"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_model_is_cut_at_the_deadline_exactly() {
    let (c, fake) = client(Fake::new("fake").always("cheap", Act::Hang));
    let t0 = tokio::time::Instant::now();
    let e = c.complete(&task(), &req(), within(secs(2))).await.unwrap_err();
    assert_eq!(tokio::time::Instant::now() - t0, secs(2));
    match &e {
        RoutedError::DeadlineExceeded { deadline, attempts } => {
            assert_eq!(*deadline, secs(2));
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].outcome, AttemptOutcome::DeadlineExceeded);
            assert_eq!(attempts[0].latency, secs(2));
        }
        other => panic!("expected a deadline error, got {other}"),
    }
    assert_eq!(
        fake.calls_to("dear"),
        0,
        "no fallback can start after the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_errors_and_backoff_never_outlive_the_deadline() {
    // every call fails after 700 ms; the deadline (2 s) runs out in the middle of the retries
    let slow_err = Act::Err(Fault {
        delay: ms(700),
        kind: ErrorKind::Overloaded,
        status: Some(529),
        retry_after: None,
    });
    let (c, _fake) = client(
        Fake::new("fake")
            .always("cheap", slow_err.clone())
            .always("dear", slow_err),
    );
    let t0 = tokio::time::Instant::now();
    let e = c.complete(&task(), &req(), within(secs(2))).await.unwrap_err();
    let took = tokio::time::Instant::now() - t0;
    assert!(took <= secs(2), "took {took:?}");
    assert!(
        matches!(
            e,
            RoutedError::DeadlineExceeded { .. } | RoutedError::AllFailed { .. }
        ),
        "{e}"
    );
    assert!(e.attempts().len() >= 2);
}

#[tokio::test(start_paused = true)]
async fn slow_primary_answer_within_the_deadline_is_kept() {
    let (c, _fake) = client(Fake::new("fake").script("cheap", [Act::slow(1500, "slow but fine")]));
    let r = c.complete(&task(), &req(), within(secs(2))).await.unwrap();
    assert_eq!(r.response.text, "slow but fine");
    assert_eq!(r.attempts[0].latency, ms(1500));
}

#[tokio::test(start_paused = true)]
async fn a_lone_model_trips_its_breaker_and_recovers_through_a_probe() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let breakers = Arc::new(
        BreakerRegistry::new(
            BreakerConfig::default()
                .with_consecutive_failures(3)
                .with_open_for(secs(30)),
            clock.clone(),
        )
        .unwrap(),
    );
    let fake = Arc::new(Fake::new("fake").script("only", (0..3).map(|_| Act::err(ErrorKind::Server, 503))));
    let router = Router::builder()
        .model_spec(model("only", "fake", 1.0, 0.9))
        .build()
        .unwrap();
    let c = client_of(router, &fake, |b| {
        b.breakers(breakers.clone()).retry(RetryPolicy::no_retries())
    });
    for _ in 0..3 {
        let e = c.complete(&task(), &req(), within(secs(5))).await.unwrap_err();
        assert!(matches!(e, RoutedError::AllFailed { .. }), "{e}");
    }
    assert_eq!(breakers.state(&ModelId::new("only")), BreakerState::Open);
    // fails fast: routed nowhere, the provider is not called
    match c.complete(&task(), &req(), within(secs(5))).await.unwrap_err() {
        RoutedError::NoRoute { source, .. } => {
            assert!(source.to_string().contains("circuit open"), "{source}")
        }
        other => panic!("expected no route, got {other}"),
    }
    assert_eq!(fake.calls_to("only"), 3);
    tokio::time::advance(secs(30)).await;
    let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
    assert_eq!(r.model().as_str(), "only");
    assert_eq!(breakers.state(&ModelId::new("only")), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_moves_traffic_to_the_fallback() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let breakers =
        Arc::new(BreakerRegistry::new(BreakerConfig::default().with_consecutive_failures(2), clock).unwrap());
    let fake = Arc::new(Fake::new("fake").always("cheap", Act::err(ErrorKind::Server, 500)));
    let c = client_of(router(), &fake, |b| {
        b.breakers(breakers.clone()).retry(RetryPolicy::no_retries())
    });
    for _ in 0..10 {
        let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
        assert_eq!(r.model().as_str(), "dear");
    }
    assert_eq!(
        fake.calls_to("cheap"),
        2,
        "the breaker stopped calls to the failing model"
    );
    let d = c.router().route(&task()).unwrap();
    assert_eq!(
        d.candidate("cheap").unwrap().rejection(),
        Some(&Rejection::Unhealthy)
    );
}

fn budget_client(cap: f64, policy: BudgetPolicy) -> (RoutedClient, Arc<InMemoryBudgetStore>) {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let store = Arc::new(
        InMemoryBudgetStore::new(clock)
            .with_cap(BudgetScope::Global, BudgetCap::per(cap, secs(3600)))
            .unwrap()
            .with_tenant_cap(BudgetCap::total(cap / 2.0))
            .unwrap(),
    );
    // quality-first: the dear model is preferred while money lasts
    let router = runtime_support::cheap_and_dear()
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    let c = RoutedClient::builder(router)
        .provider(Arc::new(Fake::new("fake")) as Arc<dyn Provider>)
        .budget(store.clone(), policy)
        .build()
        .unwrap();
    (c, store)
}

#[tokio::test(start_paused = true)]
async fn budget_steps_down_to_cheaper_models_then_refuses_and_never_overspends() {
    // dear costs 100*5e-6 + 50*20e-6 = $0.0015 expected; cheap $0.00003
    let (c, store) = budget_client(0.01, BudgetPolicy::default());
    let mut models = Vec::new();
    let mut refused = None;
    for _ in 0..1000 {
        match c.complete(&task(), &req(), within(secs(5))).await {
            Ok(r) => models.push(r.model().as_str().to_owned()),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let dear = models.iter().filter(|m| *m == "dear").count();
    let cheap = models.iter().filter(|m| *m == "cheap").count();
    assert!(dear >= 5, "dear first: {dear}");
    assert!(cheap >= 1, "then stepped down to cheap: {models:?}");
    let first_cheap = models.iter().position(|m| m == "cheap").unwrap();
    assert!(
        models[first_cheap..].iter().all(|m| m == "cheap"),
        "never back up: {models:?}"
    );
    match refused.expect("the budget ran out") {
        RoutedError::NoRoute {
            budget_limited,
            source,
        } => {
            assert!(budget_limited);
            assert!(source.to_string().contains("above task limit"), "{source}");
        }
        other => panic!("expected a budget-limited no-route, got {other}"),
    }
    let u = store.usage(&BudgetScope::Global).unwrap();
    assert!(u.spent_usd <= 0.01, "spent {}", u.spent_usd);
    assert_eq!(u.reserved_usd, 0.0);
    assert_eq!(u.overrun_usd, 0.0);
}

#[tokio::test(start_paused = true)]
async fn without_step_down_the_budget_refuses_outright_and_tenants_are_capped() {
    let (c, store) = budget_client(0.01, BudgetPolicy::default().with_step_down(false));
    let opts = || within(secs(5)).tenant("acme");
    let mut n = 0;
    let e = loop {
        match c.complete(&task(), &req(), opts()).await {
            Ok(r) => {
                assert_eq!(r.model().as_str(), "dear");
                n += 1;
            }
            Err(e) => break e,
        }
    };
    // each call reserves its expected $0.0015 but really costs $0.00052 (one output token):
    // the 8th finds 7 x 0.00052 spent + 0.0015 reserved above the tenant's $0.005
    assert_eq!(n, 7);
    match &e {
        RoutedError::Budget { source, attempts } => {
            assert!(source.to_string().contains("tenant `acme`"), "{source}");
            // the attempt keeps the store's answer, with its figures
            match &attempts[0].outcome {
                AttemptOutcome::BudgetRefused {
                    error: BudgetError::Exceeded { scope, limit_usd, .. },
                } => assert_eq!((scope, *limit_usd), (&BudgetScope::tenant("acme"), 0.005)),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("expected a budget refusal, got {other}"),
    }
    assert!(store.usage(&BudgetScope::tenant("acme")).unwrap().spent_usd <= 0.005);
    // another tenant still has money
    assert!(
        c.complete(&task(), &req(), within(secs(5)).tenant("zeta"))
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn stream_cut_before_the_first_token_falls_back() {
    let fake = Arc::new(
        Fake::new("fake")
            .script("cheap", [Act::StreamCutBefore(ErrorKind::Overloaded)])
            .script("dear", [Act::ok("the dear answer")]),
    );
    let c = client_of(router(), &fake, |b| b.retry(RetryPolicy::no_retries()));
    let mut s = c.stream(&task(), &req(), within(secs(10))).await.unwrap();
    assert_eq!(s.model().as_str(), "dear");
    let mut text = String::new();
    while let Some(ev) = s.next().await {
        if let StreamEvent::TextDelta(t) = ev.unwrap() {
            text.push_str(&t);
        }
    }
    assert_eq!(text, "the dear answer");
    let labels: Vec<_> = s
        .attempts()
        .iter()
        .map(|a| (a.model.as_str(), a.outcome.label()))
        .collect();
    assert_eq!(labels, [("cheap", "overloaded"), ("dear", "success")]);
}

#[tokio::test(start_paused = true)]
async fn stream_cut_after_the_first_token_is_surfaced_not_replayed() {
    let (c, fake) = client(Fake::new("fake").script("cheap", [Act::StreamCutAfter(3, ErrorKind::Transport)]));
    let mut s = c.stream(&task(), &req(), within(secs(10))).await.unwrap();
    let mut got = Vec::new();
    let mut failure = None;
    while let Some(ev) = s.next().await {
        match ev {
            Ok(e) => got.push(e),
            Err(e) => failure = Some(e),
        }
    }
    assert_eq!(got.len(), 3, "the three delivered tokens stand");
    let f = failure.expect("the cut is surfaced");
    assert_eq!(f.delivered_text, "tok0 tok1 tok2 ");
    assert_eq!(f.delivered_events, 3);
    assert_eq!(f.error.kind(), ErrorKind::Transport);
    assert!(!f.deadline_exceeded);
    assert_eq!(f.attempts.len(), 1);
    assert!(f.to_string().contains("not replayed"), "{f}");
    assert_eq!(fake.calls_to("dear"), 0, "never replayed on another model");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_stream_is_cut_at_the_deadline() {
    let (c, _fake) = client(
        Fake::new("fake")
            .always("cheap", Act::Hang)
            .always("dear", Act::Hang),
    );
    let t0 = tokio::time::Instant::now();
    let e = c.stream(&task(), &req(), within(secs(3))).await.unwrap_err();
    assert!(matches!(e, RoutedError::DeadlineExceeded { .. }), "{e}");
    assert_eq!(tokio::time::Instant::now() - t0, secs(3));
}

/// A cascade of [`task`] and [`req`] within 10 s, accepting answers of `min_chars` characters or
/// more; it must not fail.
async fn cascade(c: &RoutedClient, min_chars: usize) -> CascadeResponse {
    let check = BasicCheck::default().min_chars(min_chars);
    c.cascade(&task(), &req(), &check, within(secs(10)))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn cascade_escalates_until_the_check_passes_and_reports_each_step() {
    let (c, _fake) = client(
        Fake::new("fake")
            .script("cheap", [Act::ok("  ")])
            .script("dear", [Act::ok("a complete and careful answer")]),
    );
    let r = cascade(&c, 5).await;
    assert!(r.accepted);
    assert_eq!(r.response.text, "a complete and careful answer");
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[0].model.as_str(), "cheap");
    assert!(!r.steps[0].accepted);
    assert!(r.steps[0].cost_usd > 0.0, "a rejected step still cost money");
    assert!(r.steps[1].accepted && r.steps[1].cost_usd > r.steps[0].cost_usd);
    assert!((r.total_cost_usd() - (r.steps[0].cost_usd + r.steps[1].cost_usd)).abs() < 1e-15);
    assert!(matches!(
        r.attempts[0].outcome,
        AttemptOutcome::NotAccepted { .. }
    ));
    // the cheap answer is accepted when good enough: one step
    let (c, fake) = client(Fake::new("fake").script("cheap", [Act::ok("cheap but good")]));
    let r = cascade(&c, 5).await;
    assert_eq!((r.steps.len(), r.accepted), (1, true));
    assert_eq!(fake.calls_to("dear"), 0);
}

#[tokio::test(start_paused = true)]
async fn cascade_with_errors_escalates_and_returns_last_answer_when_none_accepted() {
    let (c, _fake) = client(
        Fake::new("fake")
            .script("cheap", vec![Act::err(ErrorKind::Server, 500); 3])
            .script("dear", [Act::ok("short")]),
    );
    let r = cascade(&c, 100).await;
    assert!(!r.accepted);
    assert_eq!(r.response.text, "short");
    assert_eq!(r.steps[0].reason.as_deref(), Some("server error (500)"));
}

#[tokio::test(start_paused = true)]
async fn observed_failures_feed_back_into_routing() {
    let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(TokioClock)).unwrap());
    let router = runtime_support::cheap_and_dear()
        .policy(CostFirst::new(0.7).unwrap())
        .quality_estimator(FailureAwareQuality::new(PriorQuality, stats.clone(), 1.0).unwrap())
        .build()
        .unwrap();
    let fake = Arc::new(Fake::new("fake").script("cheap", (0..4).map(|_| Act::err(ErrorKind::Server, 500))));
    let c = client_of(router, &fake, |b| {
        b.stats(stats.clone()).retry(RetryPolicy::no_retries())
    });
    let mut primaries = Vec::new();
    for _ in 0..6 {
        let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
        primaries.push(r.attempts[0].model.as_str().to_owned());
    }
    assert_eq!(primaries[0], "cheap");
    assert!(
        primaries.iter().any(|m| m == "dear"),
        "the router learned to start with the healthy model: {primaries:?}"
    );
    assert!(fake.calls_to("cheap") < 6);
    assert!(stats.error_rate(&ModelId::new("cheap")) >= 0.2 - 1e-9);
    assert_eq!(stats.get(&ModelId::new("dear")).unwrap().failures, 0);
}

#[tokio::test]
async fn the_manual_clock_drives_backoff() {
    let clock = ManualClock::new();
    let fake =
        Arc::new(Fake::new("fake").script("cheap", [Act::rate_limited(secs(4)), Act::ok("after the wait")]));
    let c = Arc::new(client_of(router(), &fake, |b| {
        b.clock(Arc::new(clock.clone())).retry(retry())
    }));
    let c2 = c.clone();
    let h = tokio::spawn(async move { c2.complete(&task(), &req(), within(secs(60))).await });
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert_eq!(fake.calls_to("cheap"), 1);
    clock.advance(secs(3));
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert_eq!(fake.calls_to("cheap"), 1, "still waiting out Retry-After");
    clock.advance(secs(1));
    let r = tokio::time::timeout(secs(5), h).await.unwrap().unwrap().unwrap();
    assert_eq!(r.response.text, "after the wait");
    assert_eq!(r.attempts[0].backoff, secs(4));
}

#[tokio::test(start_paused = true)]
async fn providers_can_come_as_a_map() {
    let fake: Arc<dyn Provider> = Arc::new(Fake::new("fake"));
    let map = std::collections::HashMap::from([("fake".to_owned(), fake)]);
    let c = RoutedClient::builder(router()).providers(map).build().unwrap();
    let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
    assert_eq!(r.model().as_str(), "cheap");
}

#[test]
fn building_without_a_matching_provider_is_an_error() {
    let e = RoutedClient::builder(router())
        .provider(Arc::new(Fake::new("other")) as Arc<dyn Provider>)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("providers"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn logs_carry_no_prompt_text() {
    // Events of tests running beside this one land in the buffer too, and none of them may
    // carry the prompt text either.
    let logs = log_capture::capture(tracing::Level::TRACE);
    let (c, _fake) = client(
        Fake::new("fake")
            .script("cheap", vec![Act::err(ErrorKind::Server, 500); 3])
            .script("dear", [Act::ok("answer")]),
    );
    c.complete(&task(), &req(), within(secs(5))).await.unwrap();
    let logs = logs.text();
    assert!(logs.contains("attempt failed"), "{logs}");
    assert!(logs.contains("taskroute.request"), "{logs}");
    assert!(
        !logs.contains("secret prompt"),
        "prompt text leaked into logs: {logs}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_callers_short_deadline_does_not_open_a_healthy_models_breaker() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let breakers = Arc::new(BreakerRegistry::new(BreakerConfig::default(), clock).unwrap());
    let router = Router::builder()
        .model_spec(
            model("only", "fake", 1.0, 0.9).with_latency(taskroute::LatencyProfile::new(150.0, 1000.0)),
        )
        .build()
        .unwrap();
    let c = RoutedClient::builder(router)
        .provider(Arc::new(Fake::new("fake").always("only", Act::slow(200, "fine"))) as Arc<dyn Provider>)
        .breakers(breakers.clone())
        .build()
        .unwrap();
    for _ in 0..5 {
        let e = c.complete(&task(), &req(), within(ms(10))).await.unwrap_err();
        assert!(matches!(e, RoutedError::DeadlineExceeded { .. }), "{e}");
    }
    assert_eq!(breakers.state(&ModelId::new("only")), BreakerState::Closed);
    let r = c.complete(&task(), &req(), within(secs(5))).await.unwrap();
    assert_eq!(r.response.text, "fine");
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_deadline_does_not_panic() {
    let (c, _fake) = client(Fake::new("fake"));
    let r = c.complete(&task(), &req(), within(Duration::MAX)).await.unwrap();
    assert_eq!(r.model().as_str(), "cheap");
    let mut s = c.stream(&task(), &req(), within(Duration::MAX)).await.unwrap();
    while let Some(ev) = s.next().await {
        ev.unwrap();
    }
    let check = BasicCheck::default();
    let r = c
        .cascade(&task(), &req(), &check, within(Duration::MAX))
        .await
        .unwrap();
    assert!(r.accepted);
    // the manual clock too
    let clock = ManualClock::new();
    let c = RoutedClient::builder(router())
        .provider(Arc::new(Fake::new("fake")) as Arc<dyn Provider>)
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    c.complete(&task(), &req(), within(Duration::MAX)).await.unwrap();
}

/// A client over `fake` with a $1 global budget; returns the store.
fn budgeted(fake: Fake) -> (RoutedClient, Arc<InMemoryBudgetStore>) {
    let store = Arc::new(
        InMemoryBudgetStore::new(Arc::new(TokioClock))
            .with_cap(BudgetScope::Global, BudgetCap::total(1.0))
            .unwrap(),
    );
    let c = client_of(router(), &Arc::new(fake), |b| {
        b.budget(store.clone(), BudgetPolicy::default()).retry(retry())
    });
    (c, store)
}

/// What the client reserves for `cheap`: the estimate (100 in, 50 out at $0.1/$0.4 per Mtok)
/// or the cost at `max_tokens` (200), whichever is more.
const CHEAP_RESERVED: f64 = 100.0 * 0.1e-6 + 200.0 * 0.4e-6;

fn capped_req() -> ChatRequest {
    req().max_tokens(200)
}

#[tokio::test(start_paused = true)]
async fn an_answer_without_usage_is_charged_its_reservation_and_says_so() {
    let (c, store) = budgeted(Fake::new("fake").script("cheap", [Act::NoUsage("hi".into())]));
    let r = c.complete(&task(), &capped_req(), within(secs(5))).await.unwrap();
    let spent = store.usage(&BudgetScope::Global).unwrap().spent_usd;
    assert!((spent - CHEAP_RESERVED).abs() < 1e-9, "spent {spent}");
    assert_eq!(r.attempts[0].cost_basis, CostBasis::Reserved);
    assert!((r.attempts[0].cost_usd - CHEAP_RESERVED).abs() < 1e-9);
    // streams too
    let (c, store) = budgeted(Fake::new("fake").script("cheap", [Act::NoUsage("hi".into())]));
    let mut s = c.stream(&task(), &capped_req(), within(secs(5))).await.unwrap();
    while let Some(ev) = s.next().await {
        ev.unwrap();
    }
    let spent = store.usage(&BudgetScope::Global).unwrap().spent_usd;
    assert!((spent - CHEAP_RESERVED).abs() < 1e-9, "spent {spent}");
    assert_eq!(s.attempts()[0].cost_basis, CostBasis::Reserved);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_after_sending_is_charged_before_the_retry() {
    let (c, store) =
        budgeted(Fake::new("fake").script("cheap", [Act::err(ErrorKind::Timeout, 504), Act::ok("fine")]));
    let r = c.complete(&task(), &capped_req(), within(secs(5))).await.unwrap();
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].cost_basis, CostBasis::Reserved);
    let answered = r.attempts[1].cost_usd;
    let spent = store.usage(&BudgetScope::Global).unwrap().spent_usd;
    assert!(
        (spent - (CHEAP_RESERVED + answered)).abs() < 1e-9,
        "spent {spent}: the timed-out call may have been billed"
    );
    assert_eq!(store.held(), 0);
    // a 500 is not billed
    let (c, store) =
        budgeted(Fake::new("fake").script("cheap", [Act::err(ErrorKind::Server, 500), Act::ok("fine")]));
    let r = c.complete(&task(), &capped_req(), within(secs(5))).await.unwrap();
    let spent = store.usage(&BudgetScope::Global).unwrap().spent_usd;
    assert!((spent - r.attempts[1].cost_usd).abs() < 1e-9);
    assert_eq!(r.attempts[0].cost_basis, CostBasis::NotCharged);
}

/// An in-memory store reached over a slow link (as a shared store is): each kind of call waits
/// its own delay before it is made.
#[derive(Debug)]
struct SlowStore {
    inner: Arc<InMemoryBudgetStore>,
    reserve: Duration,
    settle: Duration,
    remaining: Duration,
    /// The time left each reservation was taken with.
    within: std::sync::Mutex<Vec<Duration>>,
}

#[async_trait::async_trait]
impl BudgetStore for SlowStore {
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        tokio::time::sleep(self.reserve).await;
        self.inner.reserve(scopes, usd).await
    }
    async fn reserve_within(
        &self,
        scopes: &[BudgetScope],
        usd: f64,
        within: Duration,
    ) -> Result<Reservation, BudgetError> {
        self.within.lock().unwrap().push(within);
        self.reserve(scopes, usd).await
    }
    async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
        tokio::time::sleep(self.settle).await;
        self.inner.settle(reservation, actual_usd).await
    }
    async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        tokio::time::sleep(self.settle).await;
        self.inner.release(reservation).await
    }
    async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
        tokio::time::sleep(self.remaining).await;
        self.inner.remaining(scopes).await
    }
}

/// A client whose $1 budget sits behind a [`SlowStore`] with these delays (ms).
fn slow_budget(reserve: u64, settle: u64, remaining: u64) -> (RoutedClient, Arc<SlowStore>, Arc<Fake>) {
    let inner = Arc::new(
        InMemoryBudgetStore::new(Arc::new(TokioClock))
            .with_cap(BudgetScope::Global, BudgetCap::total(1.0))
            .unwrap(),
    );
    let store = Arc::new(SlowStore {
        inner,
        reserve: ms(reserve),
        settle: ms(settle),
        remaining: ms(remaining),
        within: std::sync::Mutex::new(Vec::new()),
    });
    let fake = Arc::new(Fake::new("fake"));
    let c = client_of(router(), &fake, |b| {
        b.budget(store.clone(), BudgetPolicy::default()).retry(retry())
    });
    (c, store, fake)
}

/// Sends a request with a 1 s deadline: it must end in `DeadlineExceeded` at exactly 1 s.
async fn ends_at_its_deadline(c: &RoutedClient) {
    let t0 = tokio::time::Instant::now();
    let e = c
        .complete(&task(), &capped_req(), within(secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(e, RoutedError::DeadlineExceeded { .. }), "{e}");
    assert_eq!(t0.elapsed(), secs(1));
}

/// Fails on the code before the fix: each request ended when the store answered (5 s), not at
/// its 1 s deadline.
#[tokio::test(start_paused = true)]
async fn a_slow_budget_store_never_holds_a_request_past_its_deadline() {
    // reserving takes 5 s: the request ends at its deadline, nothing sent, nothing held
    let (c, store, fake) = slow_budget(5_000, 0, 0);
    ends_at_its_deadline(&c).await;
    assert_eq!(fake.calls_to("cheap") + fake.calls_to("dear"), 0);
    let t0 = tokio::time::Instant::now();
    let e = c
        .stream(&task(), &capped_req(), within(secs(1)))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RoutedError::DeadlineExceeded { .. }), "{e}");
    assert_eq!(t0.elapsed(), secs(1));
    tokio::time::sleep(secs(10)).await;
    assert_eq!(store.inner.held(), 0);
    assert_eq!(store.inner.usage(&BudgetScope::Global).unwrap().spent_usd, 0.0);

    // reading what is left (for stepping down) takes 5 s
    let (c, _store, fake) = slow_budget(0, 0, 5_000);
    ends_at_its_deadline(&c).await;
    assert_eq!(fake.calls_to("cheap"), 0);

    // settling takes 2 s: it is awaited (the spend is recorded when the request returns, so a
    // process that exits right after its last request leaves nothing held), bounded by the
    // store's own timeout, not cut at the deadline
    let (c, store, _fake) = slow_budget(0, 2_000, 0);
    let t0 = tokio::time::Instant::now();
    let r = c.complete(&task(), &capped_req(), within(secs(1))).await.unwrap();
    assert_eq!(t0.elapsed(), secs(2));
    // the store was told how long the call may hold the reservation (a lease's length)
    assert_eq!(*store.within.lock().unwrap(), [secs(1)]);
    let u = store.inner.usage(&BudgetScope::Global).unwrap();
    assert!(r.attempts[0].cost_usd > 0.0);
    assert!((u.spent_usd - r.attempts[0].cost_usd).abs() < 1e-12, "{u:?}");
    assert_eq!((u.reserved_usd, store.inner.held()), (0.0, 0));
}

/// Two clients built without a seed back off differently (each draws its seed from the
/// process's random keys); with the same explicit seed they back off alike. Fails on the code
/// before the fix, whose default seed was 0: every process jittered in lockstep.
#[tokio::test(start_paused = true)]
async fn clients_without_a_seed_do_not_jitter_in_lockstep() {
    let backoffs = |seed: Option<u64>| async move {
        let fake = Arc::new(Fake::new("fake").always("cheap", Act::err(ErrorKind::Server, 500)));
        let mut b = RoutedClient::builder(router())
            .provider(fake as Arc<dyn Provider>)
            .retry(
                RetryPolicy::default()
                    .with_jitter(Jitter::Full)
                    .with_delays(secs(1), secs(60)),
            );
        if let Some(s) = seed {
            b = b.seed(s);
        }
        let c = b.build().unwrap();
        let mut out = Vec::new();
        for _ in 0..4 {
            let r = c.complete(&task(), &req(), within(secs(600))).await.unwrap();
            out.extend(
                r.attempts
                    .iter()
                    .filter(|a| a.model.as_str() == "cheap")
                    .map(|a| a.backoff),
            );
        }
        assert!(out.iter().filter(|d| !d.is_zero()).count() >= 4, "{out:?}");
        out
    };
    assert_ne!(backoffs(None).await, backoffs(None).await);
    assert_eq!(backoffs(Some(9)).await, backoffs(Some(9)).await);
}
