//! The OpenAI client against aimock (`bash scripts/setup-aimock.sh`) and a raw local server. The
//! checks every client passes are in `common::checks` (run by the `common::*_test(s)!` macros);
//! this file keeps what is OpenAI's own.
#![cfg(feature = "openai")]

mod common;

use std::time::Duration;

use common::{Reply, aimock_url, checks, close_delimited, http_response, model, raw_server};
use taskroute::ModelSpec;
use taskroute::provider::openai::{OpenAi, codec};
use taskroute::provider::{ChatRequest, ErrorKind, Provider};

const KEY: &str = "sk-aimock-secret-key-123";

async fn client() -> OpenAi {
    let base = aimock_url().await;
    OpenAi::builder()
        .base_url(format!("{base}/v1"))
        .api_key(KEY)
        .build()
        .unwrap()
}

common::key_client_tests!(OpenAi, client().await, m(), "openai");

fn m() -> ModelSpec {
    model("openai", "gpt-4o-mini")
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let first =
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
    let (base, _) = raw_server(Reply::Stall(
        close_delimited("text/event-stream", first),
        Duration::from_secs(5),
    ))
    .await;
    let started = std::time::Instant::now();
    let s = raw_client(&base)
        .stream(&model("openai", "m"), &ChatRequest::new().user("hi"))
        .await
        .unwrap();
    let e = checks::error_after_text(s, "Hel").await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sends_the_key_as_a_bearer_token_and_the_api_name() {
    let body = br#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#;
    let req = checks::request_sent(raw_client, "openai", body).await;
    assert!(req.starts_with("POST /chat/completions "), "{req}");
    assert!(
        req.to_ascii_lowercase()
            .contains(&format!("authorization: bearer {KEY}").to_ascii_lowercase()),
        "{req}"
    );
}

common::key_config_test!(OpenAi, "OPENAI_API_KEY", "OPENAI_BASE_URL", "http://127.0.0.1:9/v1" => "http://127.0.0.1:9/v1", "http://example.com/v1");

#[tokio::test]
async fn aimock_bad_json_request_maps_to_invalid_request() {
    checks::aimock_bad_json_request_maps_to_invalid_request("/v1/chat/completions", codec::decode_error)
        .await;
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    // Port 1 on loopback: nothing listens there.
    let e = raw_client("http://127.0.0.1:1")
        .complete(&model("openai", "m"), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.is_retryable() && e.can_fallback());
    assert!(std::error::Error::source(&e).is_some());
}

#[tokio::test]
async fn a_caller_supplied_http_client_is_used() {
    let base = aimock_url().await;
    let http = reqwest::Client::builder()
        .user_agent("taskroute-test-agent")
        .build()
        .unwrap();
    let p = OpenAi::builder()
        .base_url(format!("{base}/v1"))
        .api_key(KEY)
        .http_client(http)
        .build()
        .unwrap();
    let r = p
        .complete(
            &model("openai", "gpt-4o-mini"),
            &ChatRequest::new().user("Please say hello"),
        )
        .await
        .unwrap();
    assert_eq!(r.text, "Hello from aimock.");
    let body = br#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#;
    let (raw, seen) = raw_server(Reply::Bytes(http_response("200 OK", "application/json", body))).await;
    let http = reqwest::Client::builder()
        .user_agent("taskroute-test-agent")
        .build()
        .unwrap();
    OpenAi::builder()
        .base_url(raw)
        .http_client(http)
        .build()
        .unwrap()
        .complete(&model("openai", "m"), &ChatRequest::new().user("hi"))
        .await
        .unwrap();
    let req = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(req.contains("user-agent: taskroute-test-agent"), "{req}");
    assert!(!req.contains("authorization:"), "no key, no header: {req}");
}
