//! The OpenAI client against aimock (`bash scripts/setup-aimock.sh`) and a raw local server.
#![cfg(feature = "openai")]

mod common;

use std::time::Duration;

use common::{Reply, aimock_url, close_delimited, http_response, model, raw_server, truncated_response};
use futures::StreamExt;
use serde_json::json;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{
    ChatRequest, Collector, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent, ToolDefinition,
    Usage,
};

const KEY: &str = "sk-aimock-secret-key-123";

async fn client() -> OpenAi {
    let base = aimock_url().await;
    OpenAi::builder()
        .base_url(format!("{base}/v1"))
        .api_key(KEY)
        .build()
        .unwrap()
}

fn weather_request() -> ChatRequest {
    ChatRequest::new()
        .user("What is the weather in Paris?")
        .tool(ToolDefinition::new(
            "get_weather",
            "Current weather for a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        ))
}

async fn collect(
    p: &dyn Provider,
    req: &ChatRequest,
) -> Result<(Vec<StreamEvent>, taskroute::provider::ChatResponse), ProviderError> {
    let m = model("openai", "gpt-4o-mini");
    let mut s = p.stream(&m, req).await?;
    let mut events = Vec::new();
    let mut c = Collector::new();
    while let Some(ev) = s.next().await {
        let ev = ev?;
        events.push(ev.clone());
        c.push(ev);
    }
    Ok((events, c.finish(&m)?))
}

#[tokio::test]
async fn complete_returns_text_usage_and_cost() {
    let p = client().await;
    let r = p
        .complete(
            &model("openai", "gpt-4o-mini"),
            &ChatRequest::new().system("Be brief.").user("Please say hello"),
        )
        .await
        .unwrap();
    assert_eq!(r.text, "Hello from aimock.");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage, Usage::new(12, 5, 0));
    assert!(
        (r.cost_usd - (12.0 * 1.0 + 5.0 * 2.0) / 1e6).abs() < 1e-15,
        "{}",
        r.cost_usd
    );
    assert_eq!(r.model.as_str(), "test-openai");
}

#[tokio::test]
async fn stream_gives_the_same_answer_as_complete() {
    let p = client().await;
    let req = ChatRequest::new().user("Please say hello");
    let whole = p.complete(&model("openai", "gpt-4o-mini"), &req).await.unwrap();
    let (events, streamed) = collect(&p, &req).await.unwrap();
    assert!(
        matches!(events.first(), Some(StreamEvent::TextDelta(_))),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish { .. })),
        "{events:?}"
    );
    assert_eq!(streamed, whole);
}

#[tokio::test]
async fn tool_calls_complete_and_stream() {
    let p = client().await;
    let m = model("openai", "gpt-4o-mini");
    let r = p.complete(&m, &weather_request()).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].id, "call_weather_1");
    assert_eq!(r.tool_calls[0].name, "get_weather");
    assert_eq!(
        r.tool_calls[0].arguments,
        json!({"city": "Paris", "unit": "celsius"})
    );
    let (events, streamed) = collect(&p, &weather_request()).await.unwrap();
    let deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
        .count();
    assert!(deltas >= 2, "arguments arrive in pieces: {events:?}");
    assert_eq!(streamed.tool_calls, r.tool_calls);
    assert_eq!(streamed.finish_reason, FinishReason::ToolCalls);
}

async fn error_for(prompt: &str) -> ProviderError {
    let p = client().await;
    p.complete(&model("openai", "gpt-4o-mini"), &ChatRequest::new().user(prompt))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn rate_limit_has_retry_after() {
    let e = error_for("trigger rate limit").await;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable() && e.can_fallback());
    // The same error before the first streamed byte comes from `stream` itself.
    let p = client().await;
    let Err(e) = p
        .stream(
            &model("openai", "gpt-4o-mini"),
            &ChatRequest::new().user("trigger rate limit"),
        )
        .await
    else {
        panic!("expected an error");
    };
    assert_eq!(e.kind(), ErrorKind::RateLimited);
}

#[tokio::test]
async fn server_error_is_retryable() {
    let e = error_for("trigger server error").await;
    assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(500)), "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn auth_error_never_shows_the_key() {
    let e = error_for("trigger auth error").await;
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::Authentication, Some(401)),
        "{e}"
    );
    assert!(!e.is_retryable());
    for shown in [e.to_string(), format!("{e:?}"), format!("{:?}", client().await)] {
        assert!(!shown.contains(KEY), "key leaked: {shown}");
    }
    assert!(e.to_string().contains("[REDACTED]"), "{e}");
}

#[tokio::test]
async fn permission_not_found_and_context_errors() {
    let e = error_for("trigger permission error").await;
    assert_eq!((e.kind(), e.status()), (ErrorKind::Permission, Some(403)), "{e}");
    let e = error_for("trigger missing model").await;
    assert_eq!((e.kind(), e.status()), (ErrorKind::NotFound, Some(404)), "{e}");
    assert!(e.can_fallback());
    let e = error_for("nothing in the fixtures matches this").await;
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = error_for("trigger context length").await;
    assert_eq!(e.kind(), ErrorKind::ContextTooLong, "{e}");
    assert!(!e.is_retryable() && e.can_fallback());
}

fn raw_client(base: &str) -> OpenAi {
    OpenAi::builder()
        .base_url(base)
        .api_key(KEY)
        .timeout(Duration::from_millis(500))
        .max_response_bytes(4096)
        .build()
        .unwrap()
}

async fn raw_complete(reply: Reply) -> ProviderError {
    let (base, _) = raw_server(reply).await;
    raw_client(&base)
        .complete(&model("openai", "m"), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn bad_json_truncated_oversized_and_slow_responses_are_typed_errors() {
    let e = raw_complete(Reply::Bytes(http_response(
        "200 OK",
        "application/json",
        b"{\"choices\": [oops",
    )))
    .await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    let e = raw_complete(Reply::Bytes(http_response(
        "200 OK",
        "text/html",
        b"<html>hello</html>",
    )))
    .await;
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    let e = raw_complete(Reply::Bytes(truncated_response(
        "application/json",
        b"{\"choices\":[",
        500,
    )))
    .await;
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    let big = format!("{{\"choices\":[],\"pad\":\"{}\"}}", "x".repeat(10_000));
    let e = raw_complete(Reply::Bytes(http_response(
        "200 OK",
        "application/json",
        big.as_bytes(),
    )))
    .await;
    assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
    let e = raw_complete(Reply::Bytes(close_delimited("application/json", big.as_bytes()))).await;
    assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
    let e = raw_complete(Reply::Delayed(Duration::from_secs(3), Vec::new())).await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    let e = raw_complete(Reply::Bytes(http_response(
        "502 Bad Gateway",
        "text/html",
        b"<h1>502</h1>",
    )))
    .await;
    assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(502)), "{e}");
}

#[tokio::test]
async fn truncated_and_oversized_streams_are_typed_errors() {
    let cut =
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
    let (base, _) = raw_server(Reply::Bytes(close_delimited("text/event-stream", cut))).await;
    let e = collect(&raw_client(&base), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    let mut big = Vec::new();
    for _ in 0..100 {
        big.extend_from_slice(cut);
    }
    let (base, _) = raw_server(Reply::Bytes(close_delimited("text/event-stream", &big))).await;
    let e = collect(&raw_client(&base), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
    let (base, _) = raw_server(Reply::Bytes(close_delimited(
        "text/event-stream",
        b"data: {not json\n\n",
    )))
    .await;
    let e = collect(&raw_client(&base), &ChatRequest::new().user("hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
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
    let got: Vec<_> = s.collect().await;
    assert!(
        matches!(&got[0], Ok(StreamEvent::TextDelta(t)) if t == "Hel"),
        "{got:?}"
    );
    let e = got.last().unwrap().as_ref().unwrap_err();
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
    let (base, seen) = raw_server(Reply::Bytes(http_response("200 OK", "application/json", body))).await;
    let r = raw_client(&base)
        .complete(&model("openai", "wire-name"), &ChatRequest::new().user("hi"))
        .await
        .unwrap();
    assert_eq!(r.text, "ok");
    let req = seen.lock().unwrap()[0].clone();
    assert!(req.starts_with("POST /chat/completions "), "{req}");
    assert!(
        req.to_ascii_lowercase()
            .contains(&format!("authorization: bearer {KEY}").to_ascii_lowercase()),
        "{req}"
    );
    assert!(req.contains("\"model\":\"wire-name\""), "{req}");
}

#[test]
fn configuration_from_variables() {
    let vars = |k: &str| match k {
        "OPENAI_API_KEY" => Some(KEY.to_owned()),
        "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1".to_owned()),
        _ => None,
    };
    let c = OpenAi::builder().from_vars(vars).build().unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:9/v1");
    assert!(!format!("{c:?}").contains(KEY));
    let e = OpenAi::builder().from_vars(|_| None).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let e = OpenAi::builder()
        .api_key(KEY)
        .base_url("http://example.com/v1")
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.to_string().contains(KEY));
    // A key-less local server over plain http is fine.
    assert!(
        OpenAi::builder()
            .base_url("http://example.com/v1")
            .build()
            .is_ok()
    );
}

/// aimock answers a request body that is not JSON with a 400; the client cannot send one, so the
/// bytes are sent by hand and the answer goes through the client's error decoder.
#[tokio::test]
async fn aimock_bad_json_request_maps_to_invalid_request() {
    let base = aimock_url().await;
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body("{\"model\": \"m\", \"messages\": [")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    let e = taskroute::provider::openai::codec::decode_error(status, None, &body);
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::InvalidRequest, Some(400)),
        "{e}"
    );
    assert!(!e.can_fallback() && !e.is_retryable());
    assert!(e.message().to_ascii_lowercase().contains("json"), "{e}");
}

#[test]
fn client_is_send_sync_clone_and_object_safe() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<OpenAi>();
    let _: Option<std::sync::Arc<dyn Provider>> = None::<std::sync::Arc<OpenAi>>.map(|c| c as _);
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
