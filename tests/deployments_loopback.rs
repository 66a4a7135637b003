//! Deployments against a loopback server that enforces rpm/tpm per API key and answers 429
//! with OpenAI's headers (`tests/deploy_support`), through the real OpenAI client. The client
//! and the server share a manual clock: a simulated minute takes a few real seconds.
//!
//! - configured limits: 3 deployments, 3,000 requests over a minute: no 429, and the traffic
//!   split matches the weights within ±5 % (relative);
//! - unknown limits: learned from the headers; after the first minute, 429s are under 1 %;
//! - one deployment down: the others absorb its traffic, no request fails;
//! - wait for capacity: requests finish within their deadlines, served in order of arrival;
//! - streams: the rate-limit headers of a streamed answer (OpenAI's and Anthropic's) teach the
//!   limiter as a whole answer's do, so the call that would get a 429 is not sent.
#![cfg(all(feature = "runtime", feature = "openai"))]

mod deploy_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use deploy_support::{KeyLimits, LimitServer, ms, prompt};
use futures::StreamExt;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, LimitWindow, Provider, StreamEvent};
use taskroute::runtime::{
    AttemptOutcome, Clock, Deployment, DeploymentLimits, ManualClock, RequestOptions, RoutedClient,
    RoutedError, RoutedResponse, RoutedStream,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

const WORDS: usize = 20;
const MAX_TOKENS: u32 = 100;
const KEYS: [&str; 3] = ["key-a", "key-b", "key-c"];

fn router() -> Router {
    let m = |id: &str, price: f64, q: f64| {
        ModelSpec::new(id, "free", Prices::new(price, price), 128_000)
            .with_max_output_tokens(4096)
            .with_default_quality(q)
    };
    Router::builder()
        .model_spec(m("big", 1.0, 0.9))
        .model_spec(m("small", 5.0, 0.85))
        .policy(CostFirst::new(0.8).unwrap())
        .build()
        .unwrap()
}

fn openai(server: &LimitServer, key: &str) -> Arc<dyn Provider> {
    Arc::new(
        OpenAi::builder()
            .api_key(key)
            .base_url(&server.base_url)
            .build()
            .unwrap(),
    )
}

/// "big" on the three keys (weights 3:2:1, with `limits` each), "small" on the unlimited key.
fn client(server: &LimitServer, clock: &ManualClock, limits: [DeploymentLimits; 3]) -> RoutedClient {
    let deps: Vec<_> = KEYS
        .iter()
        .zip([3.0, 2.0, 1.0])
        .zip(limits)
        .map(|((k, w), l)| (*k, w, l))
        .collect();
    client_on(server, clock, &deps)
}

/// "big" on these deployments (key, weight, limits), "small" on the unlimited key.
fn client_on(
    server: &LimitServer,
    clock: &ManualClock,
    deps: &[(&str, f64, DeploymentLimits)],
) -> RoutedClient {
    let mut b = RoutedClient::builder(router())
        .provider_named("free", openai(server, "free"))
        .clock(Arc::new(clock.clone()))
        .seed(42);
    for (key, _, _) in deps {
        b = b.provider_named(*key, openai(server, key));
    }
    let deps = deps
        .iter()
        .map(|(key, w, l)| Deployment::new(*key, *key).weight(*w).limits(*l));
    b.deployments("big", deps).build().unwrap()
}

fn keys(limits: [KeyLimits; 3]) -> Vec<(&'static str, KeyLimits)> {
    let mut v: Vec<_> = KEYS.iter().copied().zip(limits).collect();
    v.push(("free", KeyLimits::default()));
    v
}

fn key_limits(rpm: f64, tpm: f64) -> KeyLimits {
    KeyLimits {
        rpm: Some(rpm),
        tpm: Some(tpm),
        down: false,
    }
}

/// Request `i`: a chat task of `WORDS` words with its `req-<i>` prompt, and `MAX_TOKENS`.
fn request(i: u64) -> (TaskSpec, ChatRequest) {
    let task = TaskSpec::new(TaskKind::Chat, WORDS as u32).with_output_tokens(MAX_TOKENS / 2);
    let req = ChatRequest::new().user(prompt(i, WORDS)).max_tokens(MAX_TOKENS);
    (task, req)
}

/// What `request` gives, which must be a success within 30 s of real time: a request that
/// waits on the manual clock (a backoff nobody advances) fails the test instead of hanging it.
async fn ok_in_real_time<T>(request: impl Future<Output = Result<T, RoutedError>>) -> T {
    tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the request hung")
        .unwrap()
}

/// Request `i`, which must succeed.
async fn call(c: &RoutedClient, i: u64, opts: RequestOptions) -> RoutedResponse {
    let (task, req) = request(i);
    ok_in_real_time(c.complete(&task, &req, opts)).await
}

/// Request `i` streamed, whose stream must start.
async fn stream(c: &RoutedClient, i: u64, opts: RequestOptions) -> RoutedStream {
    let (task, req) = request(i);
    ok_in_real_time(c.stream(&task, &req, opts)).await
}

fn total_429(server: &LimitServer) -> u64 {
    KEYS.iter().map(|k| server.stats(k).rejected_429).sum()
}

/// Served by "big" per deployment, from the attempts.
fn split(responses: &[RoutedResponse]) -> [u64; 3] {
    let mut n = [0; 3];
    for r in responses {
        let last = r.attempts.last().unwrap();
        if let Some(d) = &last.deployment {
            n[KEYS.iter().position(|k| *k == d.as_str()).unwrap()] += 1;
        }
    }
    n
}

/// The server's rpm per key (tpm 200 per request).
const RPM: [f64; 3] = [720.0, 480.0, 240.0];

/// A clock and a server whose keys have [`RPM`].
async fn split_server() -> (ManualClock, LimitServer) {
    let clock = ManualClock::new();
    let server = LimitServer::start(
        Arc::new(clock.clone()),
        &keys(RPM.map(|r| key_limits(r, r * 200.0))),
    )
    .await;
    (clock, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_no_429_and_the_split_follows_the_weights() {
    // The limits are the weights' proportions, and together take 2 × 1,440 requests in the
    // minute (a full bucket, then the rate): 3,000 requests are more, so the limits bind.
    let (clock, server) = split_server().await;
    let c = client(
        &server,
        &clock,
        RPM.map(|r| DeploymentLimits::none().rpm(r as u64).tpm(r as u64 * 200)),
    );
    let mut out = Vec::new();
    for i in 0..3000 {
        clock.advance(ms(20));
        out.push(call(&c, i, RequestOptions::within(Duration::from_secs(10))).await);
    }
    assert_eq!(total_429(&server), 0, "the server saw 429s");
    let n = split(&out);
    let served: u64 = n.iter().sum();
    let refused = out
        .iter()
        .filter(|r| matches!(r.attempts[0].outcome, AttemptOutcome::NoCapacity { .. }))
        .count();
    for (i, key) in KEYS.iter().enumerate() {
        assert_eq!(server.stats(key).served, n[i]);
        let share = n[i] as f64 / served as f64;
        let want = [0.5, 1.0 / 3.0, 1.0 / 6.0][i];
        assert!(
            (share / want - 1.0).abs() <= 0.05,
            "{key}: share {share:.4}, weight share {want:.4} ({n:?})"
        );
    }
    assert!(refused > 0, "the limits never bound");
    assert_eq!(served as usize + refused, 3000);
    eprintln!(
        "configured limits: split {n:?}, {refused} refused before sending (fell back to small), 0 429s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_limits_are_learned_from_the_headers() {
    let (clock, server) = split_server().await;
    let c = client(&server, &clock, [DeploymentLimits::none(); 3]);
    let start = clock.now();
    let mut first_window_429 = 0;
    let mut requests_after = 0;
    for i in 0..6000 {
        clock.advance(ms(20));
        if i == 3000 {
            first_window_429 = total_429(&server);
        }
        let r = call(&c, i, RequestOptions::within(Duration::from_secs(10))).await;
        if clock.now() - start > Duration::from_secs(60) {
            requests_after += r.attempts.len() as u64;
        }
    }
    let after = total_429(&server) - first_window_429;
    let share = after as f64 / requests_after as f64;
    eprintln!(
        "unknown limits: {first_window_429} 429s in the first minute, {after} in the second ({:.3} % of {requests_after} attempts)",
        share * 100.0
    );
    assert!(
        share < 0.01,
        "{after} 429s of {requests_after} after the first window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deployment_down_the_others_absorb_it() {
    let clock = ManualClock::new();
    let mut limits = [key_limits(3000.0, 600_000.0); 3];
    limits[1].down = true;
    let server = LimitServer::start(Arc::new(clock.clone()), &keys(limits)).await;
    let c = client(
        &server,
        &clock,
        [DeploymentLimits::none().rpm(3000).tpm(600_000); 3],
    );
    let mut out = Vec::new();
    for i in 0..3000 {
        clock.advance(ms(20));
        out.push(call(&c, i, RequestOptions::within(Duration::from_secs(10))).await);
    }
    assert!(
        out.iter().all(|r| r.model().as_str() == "big"),
        "a request left the model"
    );
    let n = split(&out);
    assert_eq!(n[1], 0);
    assert_eq!(n[0] + n[2], 3000);
    assert_eq!(total_429(&server), 0);
    let down = server.stats("key-b").failed_503;
    assert!(down > 0);
    eprintln!("one down: split {n:?}, key-b answered 503 to {down} calls, each handed over at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_capacity_serves_in_order_within_deadlines() {
    let clock = ManualClock::new();
    // Only key-a serves "big": 120 per minute (120 at once, then 2 per second).
    let server = LimitServer::start(
        Arc::new(clock.clone()),
        &keys([key_limits(120.0, 120.0 * 200.0); 3]),
    )
    .await;
    let c = Arc::new(client_on(
        &server,
        &clock,
        &[("key-a", 1.0, DeploymentLimits::none().rpm(120).tpm(24_000))],
    ));
    let deadline = Duration::from_secs(60);
    let n = 200u64;
    let mut tasks = Vec::new();
    let mut arrived = Vec::new();
    for i in 0..n {
        let c = Arc::clone(&c);
        let clock2 = clock.clone();
        arrived.push(clock.now());
        tasks.push(tokio::spawn(async move {
            let r = call(&c, i, RequestOptions::within(deadline).wait_for_capacity(true)).await;
            (r, clock2.now())
        }));
        clock.advance(ms(10));
        tokio::time::sleep(ms(2)).await;
    }
    // At most 250 simulated seconds.
    for _ in 0..5000 {
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
        clock.advance(ms(50));
        tokio::time::sleep(ms(2)).await;
    }
    let mut late = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let (r, done) = t.await.unwrap();
        assert_eq!(r.model().as_str(), "big", "request {i}: {:?}", r.attempts);
        if done - arrived[i] > deadline {
            late += 1;
        }
    }
    assert_eq!(late, 0, "requests finished after their deadline");
    let order: Vec<u64> = server
        .stats("key-a")
        .order
        .into_iter()
        .filter(|&m| m < n)
        .collect();
    assert_eq!(order.len() as u64, n);
    let displacement = order
        .iter()
        .enumerate()
        .map(|(pos, &m)| (pos as i64 - m as i64).unsigned_abs())
        .max()
        .unwrap();
    let waited: Vec<Instant> = server.stats("key-a").served_at;
    eprintln!(
        "wait for capacity: {n} requests, last served {:?} after the first arrival, largest displacement from arrival order {displacement}",
        *waited.last().unwrap() - arrived[0]
    );
    // Stated tolerance: a request is served at most 2 places from its place of arrival (calls
    // admitted at the same instant race over their connections).
    assert!(
        displacement <= 2,
        "served out of order by {displacement}: {order:?}"
    );
}

/// "big" on key-a alone (through `make`'s client, nothing configured), "small" on the free
/// key; 30 streamed requests 10 ms apart against a server that allows key-a 10 a minute.
/// Returns how many "big" and "small" served.
async fn stream_against_ten_a_minute(make: fn(&LimitServer, &str) -> Arc<dyn Provider>) -> (u64, u64) {
    let clock = ManualClock::new();
    let server = LimitServer::start(Arc::new(clock.clone()), &keys([key_limits(10.0, 100_000.0); 3])).await;
    let c = RoutedClient::builder(router())
        .provider_named("free", make(&server, "free"))
        .provider_named("key-a", make(&server, "key-a"))
        .deployments("big", [Deployment::new("key-a", "key-a")])
        .clock(Arc::new(clock.clone()))
        .seed(42)
        .build()
        .unwrap();
    let (mut big, mut small) = (0, 0);
    for i in 0..30 {
        clock.advance(ms(10));
        let mut s = stream(&c, i, RequestOptions::within(Duration::from_secs(10))).await;
        while let Some(ev) = s.next().await {
            let ev = ev.unwrap();
            assert!(
                !matches!(ev, StreamEvent::RateLimits(_)),
                "the runtime hands the headers to the limiter, not the caller"
            );
        }
        match s.model().as_str() {
            "big" => big += 1,
            _ => {
                assert!(
                    matches!(s.attempts()[0].outcome, AttemptOutcome::NoCapacity { .. }),
                    "{:?}",
                    s.attempts()
                );
                small += 1;
            }
        }
    }
    assert_eq!(
        server.stats("key-a").rejected_429,
        0,
        "a call was sent after the headers said the key was used up"
    );
    assert_eq!(server.stats("key-a").served, big);
    (big, small)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_stream_headers_teach_the_limiter() {
    let (big, small) = stream_against_ten_a_minute(openai).await;
    eprintln!("openai streams: {big} served by key-a, {small} refused before sending, 0 429s");
    assert_eq!((big, small), (10, 20));
}

#[cfg(feature = "anthropic")]
fn anthropic(server: &LimitServer, key: &str) -> Arc<dyn Provider> {
    Arc::new(
        taskroute::provider::anthropic::Anthropic::builder()
            .api_key(key)
            .base_url(server.base_url.trim_end_matches("/v1"))
            .build()
            .unwrap(),
    )
}

#[cfg(feature = "anthropic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_stream_headers_teach_the_limiter() {
    let (big, small) = stream_against_ten_a_minute(anthropic).await;
    eprintln!("anthropic streams: {big} served by key-a, {small} refused before sending, 0 429s");
    assert_eq!((big, small), (10, 20));
}

#[tokio::test]
async fn a_streamed_answer_carries_its_headers_like_a_whole_one() {
    let clock = ManualClock::new();
    let server = LimitServer::start(Arc::new(clock.clone()), &keys([key_limits(10.0, 100_000.0); 3])).await;
    let p = openai(&server, "key-a");
    let m = ModelSpec::new("big", "key-a", Prices::new(1.0, 1.0), 128_000);
    let req = ChatRequest::new().user(prompt(0, WORDS)).max_tokens(MAX_TOKENS);
    let whole = p.complete(&m, &req).await.unwrap();
    let requests = |w: Option<LimitWindow>| w.map(|w| (w.limit, w.remaining));
    assert_eq!(requests(whole.rate_limits.unwrap().requests), Some((10, 9)));
    let mut s = p.stream(&m, &req).await.unwrap();
    let first = s.next().await.unwrap().unwrap();
    let StreamEvent::RateLimits(seen) = first else {
        panic!("{first:?}")
    };
    assert_eq!(requests(seen.requests), Some((10, 8)));
    let mut c = taskroute::provider::Collector::new();
    c.push(StreamEvent::RateLimits(seen));
    while let Some(ev) = s.next().await {
        c.push(ev.unwrap());
    }
    assert_eq!(c.finish(&m).unwrap().rate_limits, Some(seen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_refused_with_retry_after_pauses_the_deployment() {
    let clock = ManualClock::new();
    let server = LimitServer::start(Arc::new(clock.clone()), &keys([key_limits(10.0, 100_000.0); 3])).await;
    // Another service used key-a's 10 requests of this minute.
    let other = openai(&server, "key-a");
    let m = ModelSpec::new("big", "key-a", Prices::new(1.0, 1.0), 128_000);
    for i in 0..10 {
        let req = ChatRequest::new()
            .user(prompt(1000 + i, WORDS))
            .max_tokens(MAX_TOKENS);
        other.complete(&m, &req).await.unwrap();
    }
    let c = client_on(&server, &clock, &[("key-a", 1.0, DeploymentLimits::none())]);
    let mut models = Vec::new();
    for i in 0..5 {
        clock.advance(ms(100));
        // A 2 s deadline: the server's retry-after (6 s) does not fit, so the first request
        // moves on to "small" rather than back off.
        let mut s = stream(&c, i, RequestOptions::within(Duration::from_secs(2))).await;
        while let Some(ev) = s.next().await {
            ev.unwrap();
        }
        models.push((s.model().to_string(), s.attempts()[0].outcome.label().to_owned()));
    }
    eprintln!("stream refused with retry-after: {models:?}");
    // One 429 (the first stream); its retry-after-ms paused key-a, so the others were refused
    // before sending.
    assert_eq!(server.stats("key-a").rejected_429, 1);
    assert_eq!(models[0], ("small".to_owned(), "rate limited".to_owned()));
    for m in &models[1..] {
        assert_eq!(m, &("small".to_owned(), "no capacity".to_owned()));
    }
}
