//! Deployments with the in-process fake provider: attempts record the deployment, limits are
//! checked before sending, a model whose deployments are all full is refused with when
//! capacity returns (and the ranking moves on, or the request waits), a failing or throttled
//! deployment hands the call to another at once. Time is tokio's paused clock.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use runtime_support::{Act, Fake, model};
use taskroute::provider::{ChatRequest, ErrorKind, Provider};
use taskroute::runtime::{
    AttemptOutcome, Deployment, DeploymentLimits, Jitter, LowestLatency, Refusal, RequestOptions,
    RetryPolicy, RoutedClient, RoutedResponse,
};
use taskroute::{CostFirst, Router, TaskKind, TaskSpec};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// "big" (the cheapest model clearing the 0.8 floor, so the primary) on
/// two deployments, "small" (below the floor, so only a fallback) on the plain provider.
fn router() -> Router {
    Router::builder()
        .model_spec(model("big", "fake", 1.0, 0.9))
        .model_spec(model("small", "fake", 5.0, 0.85))
        .policy(CostFirst::new(0.8).unwrap())
        .build()
        .unwrap()
}

struct Setup {
    client: RoutedClient,
    a: Arc<Fake>,
    b: Arc<Fake>,
    plain: Arc<Fake>,
}

fn setup(a: Fake, b: Fake, limits_a: DeploymentLimits, limits_b: DeploymentLimits) -> Setup {
    let (a, b, plain) = (Arc::new(a), Arc::new(b), Arc::new(Fake::new("fake")));
    let client = RoutedClient::builder(router())
        .provider(plain.clone() as Arc<dyn Provider>)
        .provider_named("key-a", a.clone() as Arc<dyn Provider>)
        .provider_named("key-b", b.clone() as Arc<dyn Provider>)
        .deployments(
            "big",
            [
                Deployment::new("a", "key-a").limits(limits_a),
                Deployment::new("b", "key-b").limits(limits_b),
            ],
        )
        .retry(RetryPolicy::default().with_jitter(Jitter::None))
        .seed(7)
        .build()
        .unwrap();
    Setup { client, a, b, plain }
}

/// [`setup`] with plain fakes behind both deployments.
fn limited(limits_a: DeploymentLimits, limits_b: DeploymentLimits) -> Setup {
    setup(Fake::new("key-a"), Fake::new("key-b"), limits_a, limits_b)
}

impl Setup {
    /// One `complete` of [`task`] and [`req`] with `opts`, which must succeed.
    async fn call(&self, opts: RequestOptions) -> RoutedResponse {
        self.client.complete(&task(), &req(), opts).await.unwrap()
    }

    /// One `complete` with a 10 s deadline, which must succeed.
    async fn call10(&self) -> RoutedResponse {
        self.call(RequestOptions::within(secs(10))).await
    }
}

fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50)
}

fn req() -> ChatRequest {
    ChatRequest::new().user("hi").max_tokens(100)
}

#[tokio::test(start_paused = true)]
async fn limits_are_checked_before_sending_and_full_models_are_refused_with_when() {
    let s = limited(DeploymentLimits::none().rpm(2), DeploymentLimits::none().rpm(1));
    let mut served = Vec::new();
    for _ in 0..3 {
        let r = s.call10().await;
        assert_eq!(r.model().as_str(), "big");
        let a = r.attempts.last().unwrap();
        served.push(a.deployment.as_ref().unwrap().to_string());
    }
    served.sort();
    assert_eq!(served, ["a", "a", "b"]);
    assert_eq!((s.a.calls_to("big"), s.b.calls_to("big")), (2, 1));
    // Both full: "big" is refused before sending, with when capacity returns (a: 2 per minute,
    // so one more fits in 30 s), and "small" answers.
    let r = s.call10().await;
    assert_eq!(r.model().as_str(), "small");
    let AttemptOutcome::NoCapacity {
        retry_after,
        refusals,
    } = &r.attempts[0].outcome
    else {
        panic!("{:?}", r.attempts)
    };
    assert_eq!(*retry_after, Some(secs(30)));
    // Each deployment's refusal, typed: which limit, and when it has room again.
    let mut refusals: Vec<_> = refusals.iter().map(|(id, why)| (id.to_string(), *why)).collect();
    refusals.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        refusals,
        [
            (
                "a".to_owned(),
                Refusal::Requests {
                    retry_after: secs(30)
                }
            ),
            (
                "b".to_owned(),
                Refusal::Requests {
                    retry_after: secs(60)
                }
            ),
        ]
    );
    assert_eq!(r.attempts[0].deployment, None);
    assert_eq!(
        r.attempts[1].deployment, None,
        "a model without deployments: none recorded"
    );
    assert_eq!(s.a.calls_to("big") + s.b.calls_to("big"), 3);
    assert_eq!(s.plain.calls_to("small"), 1);
    // Waiting for capacity: served by "big" after 30 s, within the deadline.
    let t0 = tokio::time::Instant::now();
    let r = s
        .call(RequestOptions::within(secs(40)).wait_for_capacity(true))
        .await;
    assert_eq!(r.model().as_str(), "big");
    assert_eq!(t0.elapsed(), secs(30));
    // A deadline shorter than the wait: refused, and the ranking moves on.
    let r = s
        .call(RequestOptions::within(secs(5)).wait_for_capacity(true))
        .await;
    assert_eq!(r.model().as_str(), "small");
}

#[tokio::test(start_paused = true)]
async fn tokens_estimate_is_input_plus_max_tokens_and_is_corrected() {
    // tpm 450 on a: the estimate is 100 input + 100 max_tokens = 200, so without correction two
    // calls fit; the fake reports 100 + 1 used, so after correction a third fits (101 + 101 +
    // 200 = 402), and a fourth does not (503). b's tpm of 1 never fits a call.
    let s = limited(DeploymentLimits::none().tpm(450), DeploymentLimits::none().tpm(1));
    for _ in 0..3 {
        let r = s.call10().await;
        assert_eq!(r.model().as_str(), "big", "{:?}", r.attempts);
    }
    let r = s.call10().await;
    assert_eq!(r.model().as_str(), "small");
    assert!(matches!(
        r.attempts[0].outcome,
        AttemptOutcome::NoCapacity {
            retry_after: Some(_),
            ..
        }
    ));
    assert_eq!((s.a.calls_to("big"), s.b.calls_to("big")), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failing_deployment_hands_the_call_over_at_once() {
    let s = setup(
        Fake::new("key-a").always("big", Act::err(ErrorKind::Server, 503)),
        Fake::new("key-b"),
        DeploymentLimits::none(),
        DeploymentLimits::none(),
    );
    let t0 = tokio::time::Instant::now();
    for _ in 0..20 {
        let r = s.call10().await;
        assert_eq!(r.model().as_str(), "big", "{:?}", r.attempts);
        assert_eq!(
            r.attempts.last().unwrap().deployment.as_ref().unwrap().as_str(),
            "b"
        );
    }
    // No backoff was slept: the other deployment took over at once.
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(s.b.calls_to("big"), 20);
    assert!(s.a.calls_to("big") > 0);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_deployment_rests_for_its_retry_after() {
    let s = setup(
        Fake::new("key-a"),
        Fake::new("key-b").script("big", [Act::rate_limited(secs(20))]),
        DeploymentLimits::none(),
        DeploymentLimits::none(),
    );
    // Until b is picked once, it answers 429; then the call goes to a at once.
    let mut throttled_at = None;
    for _ in 0..50 {
        let r = s.call10().await;
        assert_eq!(r.model().as_str(), "big");
        if r.attempts.len() == 2 {
            assert_eq!(r.attempts[0].outcome.label(), "rate limited");
            assert_eq!(r.attempts[1].deployment.as_ref().unwrap().as_str(), "a");
            throttled_at = Some(tokio::time::Instant::now());
            break;
        }
    }
    assert!(throttled_at.is_some());
    let calls_b = s.b.calls_to("big");
    for _ in 0..20 {
        tokio::time::advance(Duration::from_millis(900)).await;
        s.call10().await;
    }
    assert_eq!(s.b.calls_to("big"), calls_b, "b rests for 20 s");
    for _ in 0..20 {
        tokio::time::advance(secs(1)).await;
        s.call10().await;
    }
    assert!(s.b.calls_to("big") > calls_b, "b is back after 20 s");
}

#[tokio::test(start_paused = true)]
async fn a_refused_model_says_which_limit_refused_and_when_only_where_known() {
    // a takes one call at a time (and is busy with a 5 s call); b's tpm of 150 never fits the
    // call's 200-token estimate. Neither refusal says when capacity returns: a slot frees when
    // the busy call ends, and the call never fits b.
    let s = setup(
        Fake::new("key-a").script("big", [Act::slow(5_000, "slow")]),
        Fake::new("key-b"),
        DeploymentLimits::none().max_concurrency(1),
        DeploymentLimits::none().tpm(150),
    );
    let (busy, refused) = tokio::join!(s.call10(), async {
        tokio::task::yield_now().await;
        s.call10().await
    });
    assert_eq!(busy.model().as_str(), "big");
    assert_eq!(refused.model().as_str(), "small");
    let outcome = &refused.attempts[0].outcome;
    let AttemptOutcome::NoCapacity {
        retry_after,
        refusals,
    } = outcome
    else {
        panic!("{:?}", refused.attempts)
    };
    assert_eq!(*retry_after, None, "no refusal said when capacity returns");
    let mut refusals: Vec<_> = refusals.iter().map(|(id, why)| (id.to_string(), *why)).collect();
    refusals.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        refusals,
        [
            ("a".to_owned(), Refusal::Concurrency { max: 1 }),
            (
                "b".to_owned(),
                Refusal::TooLarge {
                    tokens: 200,
                    tpm: 150
                }
            ),
        ]
    );
    let shown = outcome.to_string();
    assert!(
        shown.starts_with("no capacity (")
            && shown.contains("a: 1 calls in flight")
            && shown.contains("b: the call needs 200 tokens"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn streamed_calls_feed_the_latency_balancer() {
    use futures::StreamExt;
    // a answers streams after 500 ms, b after 50 ms. LowestLatency tries each unmeasured
    // deployment once, then keeps to the faster: only if streams record their latency.
    let (a, b, plain) = (
        Arc::new(Fake::new("key-a").always("big", Act::slow(500, "slow"))),
        Arc::new(Fake::new("key-b").always("big", Act::slow(50, "fast"))),
        Arc::new(Fake::new("fake")),
    );
    let client = RoutedClient::builder(router())
        .provider(plain as Arc<dyn Provider>)
        .provider_named("key-a", a.clone() as Arc<dyn Provider>)
        .provider_named("key-b", b.clone() as Arc<dyn Provider>)
        .deployments(
            "big",
            [Deployment::new("a", "key-a"), Deployment::new("b", "key-b")],
        )
        .balancer(LowestLatency)
        .seed(7)
        .build()
        .unwrap();
    let mut served = Vec::new();
    for _ in 0..12 {
        let mut s = client
            .stream(&task(), &req(), RequestOptions::within(secs(10)))
            .await
            .unwrap();
        while let Some(ev) = s.next().await {
            ev.unwrap();
        }
        served.push(
            s.attempts()
                .last()
                .unwrap()
                .deployment
                .as_ref()
                .unwrap()
                .to_string(),
        );
    }
    let mut first_two = served[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["a", "b"], "{served:?}");
    assert!(served[2..].iter().all(|d| d == "b"), "{served:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stream_throttled_after_its_first_token_pauses_the_deployment() {
    use futures::StreamExt;
    use taskroute::runtime::DEFAULT_THROTTLE_PAUSE;
    // a's first stream is cut by a rate-limit error after one token (the caller has it: no
    // replay); the deployment rests for the default pause, so the next request is refused
    // before sending and served by "small", and after the pause a serves again.
    let (a, plain) = (
        Arc::new(Fake::new("key-a").script("big", [Act::StreamCutAfter(1, ErrorKind::RateLimited)])),
        Arc::new(Fake::new("fake")),
    );
    let client = RoutedClient::builder(router())
        .provider(plain.clone() as Arc<dyn Provider>)
        .provider_named("key-a", a.clone() as Arc<dyn Provider>)
        .deployments("big", [Deployment::new("a", "key-a")])
        .seed(7)
        .build()
        .unwrap();
    let stream = || async {
        let mut s = client
            .stream(&task(), &req(), RequestOptions::within(secs(10)))
            .await
            .unwrap();
        let mut interrupted = false;
        while let Some(ev) = s.next().await {
            interrupted |= ev.is_err();
        }
        (s.model().to_string(), s.attempts().to_vec(), interrupted)
    };
    let (model, _, interrupted) = stream().await;
    assert_eq!((model.as_str(), interrupted), ("big", true));
    let (model, attempts, _) = stream().await;
    assert_eq!(model, "small", "{attempts:?}");
    assert!(
        matches!(
            &attempts[0].outcome,
            AttemptOutcome::NoCapacity { refusals, .. }
                if matches!(refusals[..], [(_, Refusal::Throttled { .. })])
        ),
        "{attempts:?}"
    );
    tokio::time::advance(DEFAULT_THROTTLE_PAUSE).await;
    let (model, _, _) = stream().await;
    assert_eq!(model, "big");
    assert_eq!(a.calls_to("big"), 2);
}
