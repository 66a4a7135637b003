//! The routed client over the real OpenAI client against aimock on loopback
//! (`bash scripts/setup-aimock.sh`; fixtures in `tests/fixtures/aimock/runtime_fallback.json`):
//! fallback on a 500, `Retry-After` waited out over the wire, fallback when a stream fails (or its
//! connection drops) before the first token, and a stream cut after it surfaced, not replayed.
//!
//! Every run sends its own `X-Test-Id`, so aimock's per-fixture match counts
//! (`sequenceIndex`) start from zero and the test can be re-run against a running server.
#![cfg(all(feature = "runtime", feature = "openai"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::aimock_url;
use futures::StreamExt;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, ErrorKind, Provider, StreamEvent};
use taskroute::runtime::{
    AttemptOutcome, Jitter, RequestOptions, RetryPolicy, RoutedClient, RoutedResponse, RoutedStream,
};
use taskroute::{Prices, TaskKind, TaskSpec};

async fn client(retry: RetryPolicy) -> RoutedClient {
    let base = aimock_url().await;
    let test_id = format!(
        "runtime-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-test-id", test_id.parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let openai = OpenAi::builder()
        .base_url(format!("{base}/v1"))
        .http_client(http)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let router = common::primary_and_backup(
        ("rt-primary", Prices::new(0.15, 0.6)),
        ("rt-backup", Prices::new(2.5, 10.0)),
    );
    RoutedClient::builder(router)
        .provider(Arc::new(openai) as Arc<dyn Provider>)
        .retry(retry)
        .build()
        .unwrap()
}

fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, 20).with_output_tokens(10)
}

fn within(secs: u64) -> RequestOptions {
    RequestOptions::within(Duration::from_secs(secs))
}

/// The text of a stream that must not fail.
async fn text_of(s: &mut RoutedStream) -> String {
    let mut text = String::new();
    while let Some(ev) = s.next().await {
        if let StreamEvent::TextDelta(t) = ev.unwrap() {
            text.push_str(&t);
        }
    }
    text
}

/// Streams `prompt` with no retries.
/// `prompt`'s answer from a client with `retry`.
async fn complete(retry: RetryPolicy, prompt: &str) -> RoutedResponse {
    client(retry)
        .await
        .complete(&task(), &ChatRequest::new().user(prompt), within(10))
        .await
        .unwrap()
}

async fn stream(prompt: &str) -> RoutedStream {
    client(RetryPolicy::no_retries())
        .await
        .stream(&task(), &ChatRequest::new().user(prompt), within(10))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_500_from_the_primary_falls_back_over_the_wire() {
    let r = complete(RetryPolicy::no_retries(), "runtime: fallback on 500").await;
    assert_eq!(r.model().as_str(), "rt-backup");
    assert_eq!(r.response.text, "Answer from the backup model.");
    match &r.attempts[0].outcome {
        AttemptOutcome::Failed { kind, status, .. } => {
            assert_eq!((*kind, *status), (ErrorKind::Server, Some(500)));
        }
        other => panic!("expected the primary's 500, got {other}"),
    }
    // cost from the catalog prices and aimock's usage: 20 x 2.5e-6 + 6 x 10e-6
    assert!(
        (r.total_cost_usd() - 0.00011).abs() < 1e-12,
        "{}",
        r.total_cost_usd()
    );
}

#[tokio::test]
async fn retry_after_from_the_server_is_waited_out() {
    let retry = RetryPolicy::default()
        .with_jitter(Jitter::None)
        .with_delays(Duration::from_millis(10), Duration::from_secs(1));
    let t0 = Instant::now();
    let r = complete(retry, "runtime: retry after").await;
    let took = t0.elapsed();
    assert_eq!(r.model().as_str(), "rt-primary");
    assert_eq!(r.response.text, "Answer after waiting out Retry-After.");
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    assert_eq!(r.attempts[0].outcome.label(), "rate limited");
    assert_eq!(r.attempts[0].backoff, Duration::from_secs(1), "Retry-After: 1");
    assert!(took >= Duration::from_secs(1), "took {took:?}");
}

/// Streams `prompt`, whose answer fails before its first token: the backup answers `text`.
/// Returns the stream, for its attempts.
async fn stream_falls_back(prompt: &str, text: &str) -> RoutedStream {
    let mut s = stream(prompt).await;
    assert_eq!(s.model().as_str(), "rt-backup");
    assert_eq!(text_of(&mut s).await, text);
    s
}

#[tokio::test]
async fn a_stream_failing_before_its_first_token_falls_back() {
    let s = stream_falls_back("runtime: stream fallback", "Streamed by the backup model.").await;
    assert_eq!(s.attempts()[0].outcome.label(), "overloaded");
    assert_eq!(s.attempts().last().unwrap().outcome, AttemptOutcome::Success);
}

#[tokio::test]
async fn a_connection_dropped_before_the_first_token_falls_back() {
    let s = stream_falls_back("runtime: stream dies early", "The backup took over.").await;
    assert_eq!(s.attempts()[0].model.as_str(), "rt-primary");
    assert!(matches!(s.attempts()[0].outcome, AttemptOutcome::Failed { .. }));
}

#[tokio::test]
async fn a_stream_cut_after_its_first_token_is_surfaced_not_replayed() {
    let mut s = stream("runtime: stream cut").await;
    assert_eq!(s.model().as_str(), "rt-primary");
    let mut delivered = String::new();
    let mut failure = None;
    while let Some(ev) = s.next().await {
        match ev {
            Ok(StreamEvent::TextDelta(t)) => delivered.push_str(&t),
            Ok(_) => {}
            Err(e) => failure = Some(e),
        }
    }
    let f = failure.expect("the cut stream must end in an error");
    assert!(!delivered.is_empty());
    assert_eq!(
        f.delivered_text, delivered,
        "the error carries what was delivered"
    );
    assert!(
        "one two three four five six seven eight nine ten".starts_with(&delivered),
        "{delivered:?}"
    );
    assert_eq!(f.attempts.len(), 1, "no other model was tried: {:?}", f.attempts);
    assert_eq!(f.model.as_str(), "rt-primary");
}
