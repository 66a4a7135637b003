//! OpenAI Chat Completions request and response bodies.

use serde::{Deserialize, Serialize};

use super::super::http;
use super::super::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, OpenAiToolCall, ProviderError, Reasoning,
    RequestOptionError, RequestSetting, ResponseFormat, Role, ToolCall, ToolChoice, Usage,
};
use super::PROVIDER;
use crate::model::ModelSpec;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(&'a str),
    Owned(String),
    Parts(Vec<Part<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Serialize)]
struct ImageUrl {
    url: String,
}

#[derive(Serialize)]
struct WireToolCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: String,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolFunction<'a>,
}

#[derive(Serialize)]
struct ToolFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    parameters: &'a serde_json::Value,
}

/// Which field carries the output-token limit.
pub(crate) fn encode(
    model: &ModelSpec,
    req: &ChatRequest,
    stream: bool,
    max_completion_tokens: bool,
) -> Result<Vec<u8>, ProviderError> {
    let options = Options::of(req).map_err(|e| e.into_provider_error(PROVIDER))?;
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        messages.push(WireMessage {
            role: "system",
            content: Some(Content::Text(system)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }
    for m in &req.messages {
        match m.role {
            Role::Tool => {
                for p in &m.content {
                    if let ContentPart::ToolResult(r) = p {
                        messages.push(WireMessage {
                            role: "tool",
                            content: Some(Content::Text(&r.content)),
                            tool_calls: Vec::new(),
                            tool_call_id: Some(&r.call_id),
                        });
                    }
                }
            }
            Role::User | Role::Assistant => {
                let role = if m.role == Role::User { "user" } else { "assistant" };
                let mut parts = Vec::new();
                let mut calls = Vec::new();
                for p in &m.content {
                    match p {
                        ContentPart::Text { text } => parts.push(Part::Text { text }),
                        ContentPart::Image(img) => parts.push(Part::ImageUrl {
                            image_url: ImageUrl {
                                url: format!("data:{};base64,{}", img.media_type, img.data_base64),
                            },
                        }),
                        ContentPart::ToolCall(c) => calls.push(WireToolCallOut {
                            id: &c.id,
                            kind: "function",
                            function: FunctionOut {
                                name: &c.name,
                                arguments: c.arguments_json(),
                            },
                        }),
                        ContentPart::ToolResult(r) => {
                            // A tool result outside a tool message: send it as its own tool message.
                            messages.push(WireMessage {
                                role: "tool",
                                content: Some(Content::Text(&r.content)),
                                tool_calls: Vec::new(),
                                tool_call_id: Some(&r.call_id),
                            });
                        }
                    }
                }
                let content = match parts.as_slice() {
                    [] if !calls.is_empty() => None,
                    [] => Some(Content::Text("")),
                    [Part::Text { text }] => Some(Content::Text(text)),
                    _ if parts.iter().all(|p| matches!(p, Part::Text { .. })) => Some(Content::Owned(
                        parts
                            .iter()
                            .map(|p| match p {
                                Part::Text { text } => *text,
                                Part::ImageUrl { .. } => "",
                            })
                            .collect(),
                    )),
                    _ => Some(Content::Parts(parts)),
                };
                messages.push(WireMessage {
                    role,
                    content,
                    tool_calls: calls,
                    tool_call_id: None,
                });
            }
        }
    }
    let body = Body {
        model: model.api_name(),
        messages,
        max_tokens: if max_completion_tokens {
            None
        } else {
            req.max_tokens
        },
        max_completion_tokens: if max_completion_tokens {
            req.max_tokens
        } else {
            None
        },
        temperature: req.temperature,
        stop: &req.stop,
        tools: req
            .tools
            .iter()
            .map(|t| WireTool {
                kind: "function",
                function: ToolFunction {
                    name: &t.name,
                    description: &t.description,
                    parameters: &t.parameters,
                },
            })
            .collect(),
        stream,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
        response_format: options.response_format,
        reasoning_effort: options.reasoning_effort,
        tool_choice: options.tool_choice,
    };
    http::encode_json(PROVIDER, &body)
}

/// The request's response format, reasoning and tool choice on the wire. Cache breakpoints need
/// nothing: OpenAI caches prompt prefixes automatically.
struct Options {
    response_format: Option<serde_json::Value>,
    reasoning_effort: Option<&'static str>,
    tool_choice: Option<serde_json::Value>,
}

impl Options {
    fn of(req: &ChatRequest) -> Result<Self, RequestOptionError> {
        req.check_options()?;
        let response_format = req.response_format.as_ref().map(|f| match f {
            ResponseFormat::JsonObject => serde_json::json!({"type": "json_object"}),
            ResponseFormat::JsonSchema(s) => serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": s.name, "schema": s.schema, "strict": s.strict},
            }),
        });
        let reasoning_effort = match req.reasoning {
            None => None,
            Some(Reasoning::Effort(e)) => Some(e.name()),
            Some(Reasoning::BudgetTokens(_)) => {
                return Err(RequestOptionError::unsupported(
                    PROVIDER,
                    RequestSetting::ThinkingBudget,
                    "Chat Completions takes a reasoning effort, not a token budget",
                ));
            }
        };
        let tool_choice = req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => serde_json::json!("auto"),
            ToolChoice::None => serde_json::json!("none"),
            ToolChoice::Required => serde_json::json!("required"),
            ToolChoice::Tool(name) => serde_json::json!({"type": "function", "function": {"name": name}}),
        });
        Ok(Options {
            response_format,
            reasoning_effort,
            tool_choice,
        })
    }
}

#[derive(Deserialize)]
struct Resp {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: RespMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct RespMessage {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<OpenAiToolCall>,
    refusal: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u32>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage::new(
            u.prompt_tokens,
            u.completion_tokens,
            u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
        )
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub(crate) fn malformed(what: impl std::fmt::Display, e: Option<serde_json::Error>) -> ProviderError {
    let err = http::malformed(PROVIDER, what);
    match e {
        Some(e) => err.with_source(e),
        None => err,
    }
}

pub(crate) fn decode(model: &ModelSpec, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let resp: Resp = serde_json::from_slice(body)
        .map_err(|e| malformed(format_args!("the response is not a chat completion ({e})"), None))?;
    let Some(choice) = resp.choices.into_iter().next() else {
        return Err(malformed("the response has no choices", None));
    };
    let text = choice
        .message
        .content
        .or(choice.message.refusal)
        .unwrap_or_default();
    let tool_calls: Vec<ToolCall> = choice
        .message
        .tool_calls
        .into_iter()
        .map(ToolCall::from)
        .collect();
    let finish = match choice.finish_reason.as_deref() {
        Some(r) => finish_reason(r),
        None if !tool_calls.is_empty() => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    let usage = resp.usage.map(Usage::from).unwrap_or_default();
    Ok(ChatResponse::new(model, text, tool_calls, finish, usage))
}

// ---- streaming chunks ----

#[derive(Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub(crate) choices: Vec<ChunkChoice>,
    pub(crate) usage: Option<WireUsage>,
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(crate) struct ChunkChoice {
    #[serde(default)]
    pub(crate) delta: Delta,
    pub(crate) finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Delta {
    pub(crate) content: Option<String>,
    pub(crate) refusal: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Vec<DeltaToolCall>,
}

#[derive(Deserialize)]
pub(crate) struct DeltaToolCall {
    pub(crate) index: Option<usize>,
    pub(crate) id: Option<String>,
    pub(crate) function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
pub(crate) struct DeltaFunction {
    pub(crate) name: Option<String>,
    pub(crate) arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::Prices;
    use crate::provider::ErrorKind;
    use crate::provider::testing::assert_malformed;
    use crate::provider::{Image, Message, ToolDefinition, ToolResult};

    fn model() -> ModelSpec {
        ModelSpec::new("gpt", "openai", Prices::new(1.0, 2.0), 1000).with_api_name("gpt-4o-mini")
    }

    #[test]
    fn encodes_every_part() {
        let req = ChatRequest::new()
            .system("sys")
            .user("hi")
            .message(Message::user("look").with_image(Image::base64("image/png", "QUJD")))
            .message(Message::assistant_tool_calls(
                Some("calling".into()),
                vec![ToolCall::new("c1", "get_weather", json!({"city": "Paris"}))],
            ))
            .message(Message::tool_result(ToolResult::new("c1", "{\"t\":20}")))
            .tool(ToolDefinition::new(
                "get_weather",
                "weather",
                json!({"type": "object"}),
            ))
            .max_tokens(50)
            .temperature(0.5)
            .stop("END");
        let v: serde_json::Value =
            serde_json::from_slice(&encode(&model(), &req, true, false).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "hi"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}
                    ]},
                    {"role": "assistant", "content": "calling", "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                    ]},
                    {"role": "tool", "content": "{\"t\":20}", "tool_call_id": "c1"}
                ],
                "max_tokens": 50,
                "temperature": 0.5,
                "stop": ["END"],
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": {"type": "object"}}}],
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
        let v: serde_json::Value =
            serde_json::from_slice(&encode(&model(), &req, false, true).unwrap()).unwrap();
        assert_eq!(v["max_completion_tokens"], 50);
        assert!(v.get("max_tokens").is_none() && v.get("stream").is_none());
    }

    fn tool() -> ToolDefinition {
        ToolDefinition::new("get_weather", "weather", json!({"type": "object"}))
    }

    fn body(req: &ChatRequest) -> Result<serde_json::Value, ProviderError> {
        encode(&model(), req, false, false).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn encodes_response_format_reasoning_and_tool_choice() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let req = ChatRequest::new()
            .user("hi")
            .tool(tool())
            .response_format(ResponseFormat::json_schema("answer", schema.clone()))
            .reasoning(Reasoning::Effort(crate::provider::ReasoningEffort::High))
            .tool_choice(ToolChoice::Tool("get_weather".into()))
            .cache_breakpoint(crate::provider::CacheBreakpoint::Message(0));
        let v = body(&req).unwrap();
        assert_eq!(
            v["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}})
        );
        assert_eq!(v["reasoning_effort"], "high");
        assert_eq!(
            v["tool_choice"],
            json!({"type": "function", "function": {"name": "get_weather"}})
        );
        let plain = ChatRequest::new().user("hi").tool(tool());
        for (choice, wire) in [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (ToolChoice::Required, json!("required")),
        ] {
            assert_eq!(
                body(&plain.clone().tool_choice(choice)).unwrap()["tool_choice"],
                wire
            );
        }
        let v = body(&plain.clone().response_format(ResponseFormat::JsonObject)).unwrap();
        assert_eq!(v["response_format"], json!({"type": "json_object"}));
        let v = body(&plain).unwrap();
        for absent in ["response_format", "reasoning_effort", "tool_choice"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn unhonourable_or_inconsistent_options_are_typed_errors() {
        let e = body(
            &ChatRequest::new()
                .user("hi")
                .reasoning(Reasoning::BudgetTokens(2048)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.can_fallback() && !e.is_retryable());
        let e = body(&ChatRequest::new().user("hi").tool_choice(ToolChoice::Required)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        let e = body(
            &ChatRequest::new()
                .user("hi")
                .tool(tool())
                .tool_choice(ToolChoice::Tool("other".into())),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        let e = body(
            &ChatRequest::new()
                .user("hi")
                .cache_breakpoint(crate::provider::CacheBreakpoint::Message(1)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }

    #[test]
    fn decodes_text_tool_calls_and_cached_usage() {
        let body = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":100,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":60}}}"#;
        let r = decode(&model(), body).unwrap();
        assert_eq!(r.text, "");
        assert_eq!(r.tool_calls, vec![ToolCall::new("call_1", "f", json!({"a": 1}))]);
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.usage, Usage::new(100, 10, 60));
        assert!((r.cost_usd - (100.0 * 1.0 + 10.0 * 2.0) / 1e6).abs() < 1e-15);
    }

    #[test]
    fn bad_bodies_are_malformed_errors() {
        assert_malformed(
            |body| decode(&model(), body),
            &[
                b"not json",
                b"{\"choices\":[]}",
                b"{\"choices\":[{\"message\":",
                b"",
                b"[1,2]",
            ],
        );
    }
}
