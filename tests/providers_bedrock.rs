//! The Bedrock client against aimock (`bash scripts/setup-aimock.sh`), a raw local server, and
//! wire fixtures from AWS's documentation (`tests/fixtures/wire/`).
#![cfg(feature = "bedrock")]

mod common;

use std::time::Duration;

use common::{Reply, aimock_url, checks, close_delimited, http_response, model, raw_server};
use serde_json::json;
use taskroute::ModelSpec;
use taskroute::provider::bedrock::{Bedrock, codec};
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const API_NAME: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn builder(endpoint: &str) -> taskroute::provider::bedrock::BedrockBuilder {
    Bedrock::builder()
        .region("us-east-1")
        .endpoint(endpoint)
        .credentials("AKIDEXAMPLE", SECRET)
        .session_token("session-token-secret")
}

async fn client() -> Bedrock {
    builder(&aimock_url().await).build().unwrap()
}

common::aimock_tests!(Bedrock, client().await, m());

fn m() -> ModelSpec {
    model("bedrock", API_NAME)
}

async fn collect(
    p: &dyn Provider,
    req: &ChatRequest,
) -> Result<(Vec<StreamEvent>, ChatResponse), ProviderError> {
    checks::collect(p, &m(), req).await
}

async fn drain(s: ChatStream) -> Result<(Vec<StreamEvent>, ChatResponse), ProviderError> {
    checks::drain(&m(), s).await
}

/// Loads a `[event type, payload]` fixture and frames it.
fn framed(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    let events: Vec<(String, serde_json::Value)> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for (ty, payload) in events {
        let payload = payload.to_string();
        match ty.strip_prefix("exception:") {
            Some(ex) => out.extend(codec::encode_frame("exception", ex, payload.as_bytes())),
            None => out.extend(codec::encode_frame("event", &ty, payload.as_bytes())),
        }
    }
    out
}

fn raw_client(base: &str) -> Bedrock {
    builder(base)
        .timeout(Duration::from_millis(500))
        .max_response_bytes(64 * 1024)
        .build()
        .unwrap()
}

#[tokio::test]
async fn documented_stream_without_text_block_start_and_with_padding() {
    let body = framed("bedrock-converse-stream-tool-use.json");
    let (base, seen) = raw_server(Reply::Bytes(close_delimited(
        "application/vnd.amazon.eventstream",
        &body,
    )))
    .await;
    let (events, r) = collect(&raw_client(&base), &checks::weather_request())
        .await
        .unwrap();
    assert_eq!(r.text, "I'll look up the most popular song on WZPZ.");
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(r.tool_calls[0].arguments, json!({"sign": "WZPZ"}));
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.usage, Usage::new(375, 61, 0));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Finish { .. }))
            .count(),
        1
    );
    // The request went to ConverseStream, signed.
    let req = seen.lock().unwrap()[0].clone();
    assert!(
        req.starts_with(&format!("POST /model/{API_NAME}/converse-stream ")),
        "{req}"
    );
    let lower = req.to_ascii_lowercase();
    assert!(
        lower.contains("authorization: aws4-hmac-sha256 credential=akidexample/"),
        "{req}"
    );
    assert!(lower.contains("/us-east-1/bedrock/aws4_request"), "{req}");
    assert!(
        lower.contains("x-amz-security-token: session-token-secret"),
        "{req}"
    );
    assert!(!req.contains(SECRET), "the secret key itself is never sent");
    // The same bytes through the codec, split into 7-byte chunks, give the same events.
    let chunks: Vec<Result<Vec<u8>, ProviderError>> = body.chunks(7).map(|c| Ok(c.to_vec())).collect();
    let (again, _) = drain(codec::decode_stream(&m(), futures::stream::iter(chunks)))
        .await
        .unwrap();
    assert_eq!(again, events);
}

/// A stream from a raw server that answers with the event-stream `body`, then closes.
async fn raw_stream(body: &[u8]) -> ChatStream {
    let reply = close_delimited("application/vnd.amazon.eventstream", body);
    let (base, _) = raw_server(Reply::Bytes(reply)).await;
    raw_client(&base)
        .stream(&m(), &ChatRequest::new().user("hi"))
        .await
        .unwrap()
}

#[tokio::test]
async fn exception_mid_stream_is_a_typed_error() {
    let s = raw_stream(&framed("bedrock-converse-stream-throttled.json")).await;
    let e = checks::error_after_text(s, "Partial").await;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.code(), Some("throttlingException"));
}

#[tokio::test]
async fn documented_http_error_with_error_type_header() {
    let raw = std::fs::read_to_string(format!(
        "{}/tests/fixtures/wire/bedrock-error-throttling.http",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (head, body) = raw.split_once("\n\n").unwrap();
    let body = body.trim_end();
    let bytes = format!(
        "{}\r\ncontent-length: {}\r\n\r\n{body}",
        head.replace('\n', "\r\n"),
        body.len()
    );
    let (base, _) = raw_server(Reply::Bytes(bytes.into_bytes())).await;
    let e = raw_client(&base)
        .complete(&m(), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::RateLimited, Some(429)), "{e}");
    assert_eq!(e.code(), Some("ThrottlingException"));
    assert_eq!(e.message(), "Too many requests, please wait before trying again.");
}

#[tokio::test]
async fn bad_frames_truncation_size_and_json_are_typed_errors() {
    let good = framed("bedrock-converse-stream-tool-use.json");
    let run = |bytes: Vec<u8>| async move { drain(raw_stream(&bytes).await).await.unwrap_err() };
    // Cut inside a frame.
    let e = run(good[..good.len() - 5].to_vec()).await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    // A flipped byte breaks the CRC.
    let mut bad = good.clone();
    bad[40] ^= 0xff;
    let e = run(bad).await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    // A frame claiming to be 1 GB: the size cap stops it before it is buffered.
    let mut huge = vec![0x40, 0, 0, 0, 0, 0, 0, 0];
    huge.extend(std::iter::repeat_n(0u8, 70 * 1024));
    let e = run(huge).await;
    assert!(
        matches!(
            e.kind(),
            ErrorKind::ResponseTooLarge | ErrorKind::MalformedResponse
        ),
        "{e}"
    );
    // Valid framing, invalid JSON payload.
    let e = run(codec::encode_frame("event", "contentBlockDelta", b"{nope")).await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    // Non-JSON complete body.
    let e = checks::raw_complete(
        raw_client,
        &m(),
        Reply::Bytes(http_response("200 OK", "application/json", b"<html/>")),
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    // Too slow.
    let e = checks::raw_complete(
        raw_client,
        &m(),
        Reply::Delayed(Duration::from_secs(3), Vec::new()),
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn bedrock_api_key_goes_as_a_bearer_token_instead_of_sigv4() {
    let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}"#;
    let (base, seen) = raw_server(Reply::Bytes(http_response("200 OK", "application/json", body))).await;
    let c = Bedrock::builder()
        .region("us-west-2")
        .endpoint(base)
        .bearer_token("bedrock-api-key-secret")
        .build()
        .unwrap();
    assert!(!format!("{c:?}").contains("bedrock-api-key-secret"));
    let r = c.complete(&m(), &ChatRequest::new().user("hi")).await.unwrap();
    assert_eq!((r.text.as_str(), r.usage), ("ok", Usage::new(3, 1, 0)));
    let req = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        req.starts_with(&format!(
            "post /model/{}/converse ",
            API_NAME.to_ascii_lowercase()
        )),
        "{req}"
    );
    assert!(
        req.contains("authorization: bearer bedrock-api-key-secret"),
        "{req}"
    );
    assert!(!req.contains("x-amz-date"), "{req}");
}
