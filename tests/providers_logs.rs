//! No credential, prompt or answer text ever reaches the logs, at any level: every client
//! (OpenAI, Anthropic, Bedrock with SigV4 and a session token, Bedrock with an API key) and the
//! routed client run answers, streams, error bodies that echo the credentials, rate limits and a
//! refused redirect against raw servers on 127.0.0.1, with a global subscriber recording every
//! `tracing` event and span at TRACE, and every `log` record (reqwest and hyper-util log through
//! `log`; `tracing-log` forwards them).
//!
//! The recorder is process-wide, so this binary holds this one test only.
#![cfg(all(
    feature = "openai",
    feature = "anthropic",
    feature = "bedrock",
    feature = "runtime"
))]

mod common;
mod log_capture;

use std::sync::Arc;
use std::time::Duration;

use common::{Reply, close_delimited, http_response, leak, model, raw_server, response_with};
use futures::StreamExt;
use taskroute::provider::anthropic::Anthropic;
use taskroute::provider::bedrock::Bedrock;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, Provider};
use taskroute::runtime::{RequestOptions, RetryPolicy, RoutedClient};
use taskroute::{ModelSpec, Prices, TaskKind, TaskSpec};

// No two share 8 consecutive bytes.
const KEY: &str = "sk-logs-Hb3Nq8Wz1Kv5";
const AWS_SECRET: &str = "aws/logs-Tf6Pm2Yc9Rx4";
const SESSION: &str = "sess-logs-Ld7Gj3Us0Ea8";
const BEDROCK_KEY: &str = "brk-logs-Vo5Ik1Zn6Qw2";
const PROMPT: &str = "prompt-text-Jm4Xe9Bt";
const ANSWER: &str = "answer-text-Cy2Fu7Hs";

fn clients(base: &str) -> Vec<(Box<dyn Provider>, ModelSpec)> {
    let t = Duration::from_secs(3);
    let bedrock = || Bedrock::builder().region("us-east-1").endpoint(base).timeout(t);
    vec![
        (
            Box::new(
                OpenAi::builder()
                    .base_url(base)
                    .api_key(KEY)
                    .timeout(t)
                    .build()
                    .unwrap(),
            ),
            model("openai", "m"),
        ),
        (
            Box::new(
                Anthropic::builder()
                    .base_url(base)
                    .api_key(KEY)
                    .timeout(t)
                    .build()
                    .unwrap(),
            ),
            model("anthropic", "m"),
        ),
        (
            Box::new(
                bedrock()
                    .credentials("AKIDLOGS", AWS_SECRET)
                    .session_token(SESSION)
                    .build()
                    .unwrap(),
            ),
            model("bedrock", "m"),
        ),
        (
            Box::new(bedrock().bearer_token(BEDROCK_KEY).build().unwrap()),
            model("bedrock", "m"),
        ),
    ]
}

/// Each provider's answer with [`ANSWER`] as its text, whole and streamed.
fn answers(provider: &str) -> (Vec<u8>, Vec<u8>) {
    match provider {
        "openai" => (
            http_response(
                "200 OK",
                "application/json",
                format!(r#"{{"choices":[{{"message":{{"content":"{ANSWER}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":1,"completion_tokens":1}}}}"#).as_bytes(),
            ),
            close_delimited(
                "text/event-stream",
                format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{ANSWER}\"}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1}}}}\n\ndata: [DONE]\n\n").as_bytes(),
            ),
        ),
        "anthropic" => (
            http_response(
                "200 OK",
                "application/json",
                format!(r#"{{"type":"message","content":[{{"type":"text","text":"{ANSWER}"}}],"stop_reason":"end_turn","usage":{{"input_tokens":1,"output_tokens":1}}}}"#).as_bytes(),
            ),
            close_delimited(
                "text/event-stream",
                format!("event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}}}\n\nevent: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{ANSWER}\"}}}}\n\nevent: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":1}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n").as_bytes(),
            ),
        ),
        _ => {
            let frame = |ty: &str, p: String| taskroute::provider::bedrock::codec::encode_frame("event", ty, p.as_bytes());
            let mut stream = frame("contentBlockDelta", format!(r#"{{"contentBlockIndex":0,"delta":{{"text":"{ANSWER}"}}}}"#));
            stream.extend(frame("messageStop", r#"{"stopReason":"end_turn"}"#.to_owned()));
            stream.extend(frame("metadata", r#"{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#.to_owned()));
            (
                http_response(
                    "200 OK",
                    "application/json",
                    format!(r#"{{"output":{{"message":{{"role":"assistant","content":[{{"text":"{ANSWER}"}}]}}}},"stopReason":"end_turn","usage":{{"inputTokens":1,"outputTokens":1,"totalTokens":2}}}}"#).as_bytes(),
                ),
                close_delimited("application/vnd.amazon.eventstream", &stream),
            )
        }
    }
}

fn req() -> ChatRequest {
    ChatRequest::new().user(PROMPT)
}

/// Every client: an answer (whole and streamed), then each error reply.
async fn exercise_clients() {
    let echo = [KEY, AWS_SECRET, SESSION, BEDROCK_KEY, PROMPT].join(" ");
    let (elsewhere, _) = raw_server(Reply::Bytes(http_response("200 OK", "text/plain", b""))).await;
    let errors = [
        response_with(
            "401 Unauthorized",
            &[("content-type", "application/json"), ("x-amzn-errortype", &echo)],
            serde_json::json!({"error": {"message": echo, "type": echo, "code": echo}, "message": echo})
                .to_string()
                .as_bytes(),
        ),
        response_with(
            "401 Unauthorized",
            &[("content-type", "text/plain")],
            echo.as_bytes(),
        ),
        response_with(
            "429 Too Many Requests",
            &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")],
            b"",
        ),
        response_with(
            "307 Temporary Redirect",
            &[("location", &format!("{elsewhere}/x"))],
            b"",
        ),
    ];
    let (base, _) = raw_server(Reply::Bytes(Vec::new())).await;
    for (i, (_, m)) in clients(&base).into_iter().enumerate() {
        let (whole, streamed) = answers(m.provider.as_str());
        let (base, _) = raw_server(Reply::Sequence(vec![whole, streamed])).await;
        let (p, m) = clients(&base).swap_remove(i);
        let r = p.complete(&m, &req()).await.unwrap();
        assert_eq!(r.text, ANSWER, "{}", p.name());
        let mut s = p.stream(&m, &req()).await.unwrap();
        while let Some(ev) = s.next().await {
            ev.unwrap();
        }
        for reply in &errors {
            let (base, _) = raw_server(Reply::Bytes(reply.clone())).await;
            let (p, m) = clients(&base).swap_remove(i);
            assert!(p.complete(&m, &req()).await.is_err());
            assert!(p.stream(&m, &req()).await.is_err());
        }
    }
}

/// The routed client over OpenAI: the primary's 500 echoes the key, the backup answers; then
/// the same as a stream.
async fn exercise_runtime() {
    let fail = response_with(
        "500 Internal Server Error",
        &[("content-type", "text/plain")],
        format!("{KEY} {PROMPT}").as_bytes(),
    );
    let (whole, streamed) = answers("openai");
    let (base, _) = raw_server(Reply::Sequence(vec![fail.clone(), whole, fail, streamed])).await;
    let openai = OpenAi::builder().base_url(&base).api_key(KEY).build().unwrap();
    let router = common::primary_and_backup(
        ("primary", Prices::new(0.1, 0.2)),
        ("backup", Prices::new(1.0, 2.0)),
    );
    let c = RoutedClient::builder(router)
        .provider(Arc::new(openai) as Arc<dyn Provider>)
        .retry(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 20).with_output_tokens(10);
    let opts = || RequestOptions::within(Duration::from_secs(10));
    let r = c.complete(&task, &req(), opts()).await.unwrap();
    assert_eq!(r.response.text, ANSWER);
    let mut s = c.stream(&task, &req(), opts()).await.unwrap();
    while let Some(ev) = s.next().await {
        ev.unwrap();
    }
}

#[test]
fn no_credential_prompt_or_answer_reaches_the_logs_at_any_level() {
    let captured = log_capture::capture_with_log(tracing::Level::TRACE);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            exercise_clients().await;
            exercise_runtime().await;
        });
    let logs = captured.text();
    // The recorder sees everything: the runtime's events, reqwest's `log` records, and a
    // planted secret (so the check below can fail).
    assert!(
        logs.contains("attempt failed"),
        "no runtime events recorded:\n{logs}"
    );
    assert!(
        logs.contains("reqwest"),
        "no reqwest log records recorded:\n{logs}"
    );
    tracing::trace!(planted = KEY, "self-check");
    assert_eq!(leak(&captured.text(), &[KEY]).as_deref(), Some(&KEY[..8]));
    for (what, needle) in [
        ("API key", KEY),
        ("AWS secret key", AWS_SECRET),
        ("session token", SESSION),
        ("Bedrock API key", BEDROCK_KEY),
        ("prompt", PROMPT),
        ("answer", ANSWER),
    ] {
        assert_eq!(
            leak(&logs, &[needle]),
            None,
            "the {what} reached the logs:\n{logs}"
        );
    }
}
