//! The Anthropic client against aimock (`bash scripts/setup-aimock.sh`) and a raw local server.
//! The checks every client passes are in `common::checks` (run by the `common::*_test(s)!` macros);
//! this file keeps what is Anthropic's own.
#![cfg(feature = "anthropic")]

mod common;

use common::{aimock_url, checks, model};
use taskroute::ModelSpec;
use taskroute::provider::ErrorKind;
use taskroute::provider::anthropic::{Anthropic, codec};

const KEY: &str = "sk-aimock-secret-key-123";

async fn client() -> Anthropic {
    let base = aimock_url().await;
    Anthropic::builder().base_url(base).api_key(KEY).build().unwrap()
}

common::key_client_tests!(Anthropic, client().await, m(), "anthropic");

fn m() -> ModelSpec {
    model("anthropic", "claude-sonnet-4-5")
}

#[tokio::test]
async fn error_event_mid_stream_is_a_typed_error() {
    // As documented at https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events
    let body = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"x\",\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
    let e = checks::raw_stream(raw_client, &m(), "text/event-stream", body).await;
    assert_eq!(e.kind(), ErrorKind::Overloaded, "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn sends_the_key_header_version_and_api_name() {
    let body = br#"{"type":"message","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
    let req = checks::request_sent(raw_client, "anthropic", body).await;
    assert!(req.starts_with("POST /v1/messages "), "{req}");
    let lower = req.to_ascii_lowercase();
    assert!(
        lower.contains(&format!("x-api-key: {KEY}").to_ascii_lowercase()),
        "{req}"
    );
    assert!(lower.contains("anthropic-version: 2023-06-01"), "{req}");
    assert!(!lower.contains("authorization:"), "{req}");
}

common::key_config_test!(Anthropic, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "http://127.0.0.1:9" => "http://127.0.0.1:9/", "http://example.com");

#[tokio::test]
async fn aimock_bad_json_request_maps_to_invalid_request() {
    checks::aimock_bad_json_request_maps_to_invalid_request("/v1/messages", codec::decode_error).await;
}
