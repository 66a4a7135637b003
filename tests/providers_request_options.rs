//! Request settings (response format, reasoning, tool choice, cache breakpoints) as each client
//! sends them, captured by a raw server on 127.0.0.1; and the settings a provider cannot honour,
//! refused with a typed error before any byte is sent.
#![cfg(all(feature = "openai", feature = "anthropic", feature = "bedrock"))]

mod common;

use common::{Reply, checks, http_response, model, raw_server};
use serde_json::{Value, json};
use taskroute::ModelSpec;
use taskroute::provider::anthropic::Anthropic;
use taskroute::provider::bedrock::Bedrock;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{
    CacheBreakpoint, ChatRequest, ErrorKind, Provider, Reasoning, ReasoningEffort, ResponseFormat, ToolChoice,
};

const OPENAI_OK: &[u8] = br#"{"choices":[{"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
const ANTHROPIC_OK: &[u8] = br#"{"type":"message","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"{}"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
const BEDROCK_OK: &[u8] = br#"{"output":{"message":{"role":"assistant","content":[{"text":"{}"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#;

/// The weather request with a system prompt, a tool choice, reasoning and a cache breakpoint.
fn request() -> ChatRequest {
    checks::weather_request()
        .system("sys")
        .tool_choice(ToolChoice::Auto)
        .reasoning(Reasoning::Effort(ReasoningEffort::Low))
        .cache_breakpoint(CacheBreakpoint::System)
}

/// Sends `req` with a client built for the raw server's base URL; returns the JSON body the
/// server saw, or the client's error and how many requests the server saw.
async fn send<P: Provider>(
    make: impl Fn(&str) -> P,
    model: &ModelSpec,
    ok: &[u8],
    req: &ChatRequest,
) -> Result<Value, (taskroute::provider::ProviderError, usize)> {
    let (base, seen) = raw_server(Reply::Bytes(http_response("200 OK", "application/json", ok))).await;
    let result = make(&base).complete(model, req).await;
    let seen = seen.lock().unwrap().clone();
    match result {
        Ok(r) => {
            assert_eq!(r.text, "{}");
            let raw = &seen[0];
            let body = &raw[raw.find("\r\n\r\n").unwrap() + 4..];
            Ok(serde_json::from_str(body).unwrap())
        }
        Err(e) => Err((e, seen.len())),
    }
}

fn openai(base: &str) -> OpenAi {
    OpenAi::builder()
        .base_url(base)
        .api_key("sk-test")
        .build()
        .unwrap()
}

fn anthropic(base: &str) -> Anthropic {
    Anthropic::builder()
        .base_url(base)
        .api_key("sk-ant-test")
        .build()
        .unwrap()
}

fn bedrock(base: &str) -> Bedrock {
    Bedrock::builder()
        .region("us-east-1")
        .endpoint(base)
        .credentials("AKIDEXAMPLE", "secret")
        .build()
        .unwrap()
}

#[tokio::test]
async fn openai_sends_response_format_reasoning_effort_and_tool_choice() {
    let req = request().response_format(ResponseFormat::json_schema("weather", json!({"type": "object"})));
    let v = send(openai, &model("openai", "o4-mini"), OPENAI_OK, &req)
        .await
        .unwrap();
    assert_eq!(v["reasoning_effort"], "low");
    assert_eq!(v["tool_choice"], "auto");
    assert_eq!(v["response_format"]["type"], "json_schema");
    assert_eq!(v["response_format"]["json_schema"]["name"], "weather");
    // Automatic prefix caching: the breakpoint adds nothing to the body.
    assert_eq!(v["messages"][0], json!({"role": "system", "content": "sys"}));

    let (e, seen) = send(
        openai,
        &model("openai", "o4-mini"),
        OPENAI_OK,
        &request().reasoning(Reasoning::BudgetTokens(2048)),
    )
    .await
    .unwrap_err();
    assert_eq!((e.kind(), seen), (ErrorKind::Unsupported, 0), "{e}");
}

#[tokio::test]
async fn anthropic_sends_thinking_output_config_tool_choice_and_cache_control() {
    let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
    let req = request().response_format(ResponseFormat::json_schema("weather", schema.clone()));
    let v = send(
        anthropic,
        &model("anthropic", "claude-sonnet-4-5"),
        ANTHROPIC_OK,
        &req,
    )
    .await
    .unwrap();
    assert_eq!(v["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
    assert!(v["max_tokens"].as_u64().unwrap() > 4096);
    assert_eq!(v["tool_choice"], json!({"type": "auto"}));
    assert_eq!(
        v["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert_eq!(
        v["system"],
        json!([{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}])
    );

    let (e, seen) = send(
        anthropic,
        &model("anthropic", "claude-sonnet-4-5"),
        ANTHROPIC_OK,
        &request().response_format(ResponseFormat::JsonObject),
    )
    .await
    .unwrap_err();
    assert_eq!((e.kind(), seen), (ErrorKind::Unsupported, 0), "{e}");
}

#[tokio::test]
async fn bedrock_sends_tool_choice_additional_fields_and_cache_point() {
    let claude = model("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
    let v = send(bedrock, &claude, BEDROCK_OK, &request()).await.unwrap();
    assert_eq!(v["toolConfig"]["toolChoice"], json!({"auto": {}}));
    assert_eq!(
        v["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4096}})
    );
    assert_eq!(
        v["system"],
        json!([{"text": "sys"}, {"cachePoint": {"type": "default"}}])
    );

    for (m, req) in [
        (claude.clone(), request().tool_choice(ToolChoice::None)),
        (model("bedrock", "amazon.nova-pro-v1:0"), request()),
        (
            claude,
            request().response_format(ResponseFormat::json_schema("w", json!({"type": "object"}))),
        ),
    ] {
        let (e, seen) = send(bedrock, &m, BEDROCK_OK, &req).await.unwrap_err();
        assert_eq!((e.kind(), seen), (ErrorKind::Unsupported, 0), "{e}");
    }
}
