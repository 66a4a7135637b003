//! Bedrock Converse request and response bodies.

use serde::{Deserialize, Serialize};

use super::super::http::{self, Turns};
use super::super::options::thinking_budget;
use super::super::{
    CacheBreakpoint, ChatRequest, ChatResponse, ContentPart, FinishReason, ProviderError, Reasoning,
    RequestOptionError, RequestSetting, ResponseFormat, ToolCall, ToolChoice, Usage,
};
use super::PROVIDER;
use crate::model::ModelSpec;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    messages: Turns<Block<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_model_request_fields: Option<serde_json::Value>,
}

/// `{"type": "default"}`: Converse's cache point, a block of its own after the cached prefix.
#[derive(Serialize)]
struct CachePoint {
    #[serde(rename = "type")]
    kind: &'static str,
}

const CACHE_POINT: CachePoint = CachePoint { kind: "default" };

#[derive(Serialize)]
struct TextBlock<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Tool<'a> {
    ToolSpec(ToolSpec<'a>),
    CachePoint(CachePoint),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: JsonSchema<'a>,
}

#[derive(Serialize)]
struct JsonSchema<'a> {
    json: &'a serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Block<'a> {
    Text(&'a str),
    Image {
        format: &'a str,
        source: ImageSource<'a>,
    },
    ToolUse {
        #[serde(rename = "toolUseId")]
        tool_use_id: &'a str,
        name: &'a str,
        input: &'a serde_json::Value,
    },
    ToolResult {
        #[serde(rename = "toolUseId")]
        tool_use_id: &'a str,
        content: [TextBlock<'a>; 1],
        status: &'static str,
    },
    CachePoint(CachePoint),
}

#[derive(Serialize)]
struct ImageSource<'a> {
    bytes: &'a str,
}

pub(crate) fn encode(model: &ModelSpec, req: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
    let options = Options::of(model, req).map_err(|e| e.into_provider_error(PROVIDER))?;
    let mut messages = Turns::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let blocks = m.content.iter().map(|p| match p {
            ContentPart::Text { text } => Block::Text(text),
            ContentPart::Image(img) => Block::Image {
                format: img.format(),
                source: ImageSource {
                    bytes: &img.data_base64,
                },
            },
            ContentPart::ToolCall(c) => Block::ToolUse {
                tool_use_id: &c.id,
                name: &c.name,
                input: http::object_or_empty(&c.arguments),
            },
            ContentPart::ToolResult(r) => Block::ToolResult {
                tool_use_id: &r.call_id,
                content: [TextBlock { text: &r.content }],
                status: if r.is_error { "error" } else { "success" },
            },
        });
        let cache = req
            .cache_after(CacheBreakpoint::Message(i))
            .then_some(Block::CachePoint(CACHE_POINT));
        messages.push(m.role, blocks.chain(cache));
    }
    let body = Body {
        messages,
        system: req
            .system
            .as_deref()
            .map(Block::Text)
            .into_iter()
            .chain(
                req.cache_after(CacheBreakpoint::System)
                    .then_some(Block::CachePoint(CACHE_POINT)),
            )
            .collect(),
        inference_config: InferenceConfig {
            max_tokens: options.max_tokens,
            temperature: req.temperature,
            stop_sequences: &req.stop,
        },
        tool_config: (!req.tools.is_empty()).then(|| ToolConfig {
            tools: req
                .tools
                .iter()
                .map(|t| {
                    Tool::ToolSpec(ToolSpec {
                        name: &t.name,
                        description: &t.description,
                        input_schema: JsonSchema { json: &t.parameters },
                    })
                })
                .chain(
                    req.cache_after(CacheBreakpoint::Tools)
                        .then_some(Tool::CachePoint(CACHE_POINT)),
                )
                .collect(),
            tool_choice: options.tool_choice,
        }),
        additional_model_request_fields: options.additional_fields,
    };
    http::encode_json(PROVIDER, &body)
}

/// The request's settings on the wire.
struct Options {
    max_tokens: Option<u32>,
    tool_choice: Option<serde_json::Value>,
    additional_fields: Option<serde_json::Value>,
}

impl Options {
    fn of(model: &ModelSpec, req: &ChatRequest) -> Result<Self, RequestOptionError> {
        req.check_options()?;
        if let Some(format) = &req.response_format {
            let setting = match format {
                ResponseFormat::JsonObject => RequestSetting::JsonObject,
                _ => RequestSetting::JsonSchema,
            };
            return Err(RequestOptionError::unsupported(
                PROVIDER,
                setting,
                "Converse has no response format; ask for JSON in the prompt or use a forced tool",
            ));
        }
        let tool_choice = match &req.tool_choice {
            // Without tools nothing can be called: every choice check_options lets through holds.
            _ if req.tools.is_empty() => None,
            None => None,
            Some(ToolChoice::Auto) => Some(serde_json::json!({"auto": {}})),
            Some(ToolChoice::Required) => Some(serde_json::json!({"any": {}})),
            Some(ToolChoice::Tool(name)) => Some(serde_json::json!({"tool": {"name": name}})),
            Some(_) => {
                return Err(RequestOptionError::unsupported(
                    PROVIDER,
                    RequestSetting::ToolChoice,
                    "Converse's toolChoice has no `none`; send the request without tools",
                ));
            }
        };
        let (max_tokens, additional_fields) = match req.reasoning {
            None => (req.max_tokens, None),
            Some(_) if is_claude(model) => {
                let (max_tokens, budget) = thinking_budget(PROVIDER, model, req)?;
                let thinking =
                    budget.map(|b| serde_json::json!({"thinking": {"type": "enabled", "budget_tokens": b}}));
                (Some(max_tokens), thinking)
            }
            Some(r) => {
                let setting = match r {
                    Reasoning::BudgetTokens(_) => RequestSetting::ThinkingBudget,
                    _ => RequestSetting::ReasoningEffort,
                };
                return Err(RequestOptionError::unsupported(
                    PROVIDER,
                    setting,
                    "reasoning is mapped for Claude models only (additionalModelRequestFields.thinking)",
                ));
            }
        };
        Ok(Options {
            max_tokens,
            tool_choice,
            additional_fields,
        })
    }
}

/// Whether the model is Claude (`anthropic.claude-…`, `us.anthropic.claude-…`, or an ARN).
fn is_claude(model: &ModelSpec) -> bool {
    model.api_name().contains("anthropic.claude")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resp {
    output: Output,
    stop_reason: String,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct Output {
    message: RespMessage,
}

#[derive(Deserialize)]
struct RespMessage {
    #[serde(default)]
    content: Vec<RespBlock>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RespBlock {
    text: Option<String>,
    tool_use: Option<RespToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RespToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default)]
    input: serde_json::Value,
}

/// Bedrock's token usage; `inputTokens` excludes the cache reads and writes.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUsage {
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
    #[serde(default)]
    cache_read_input_tokens: u32,
    #[serde(default)]
    cache_write_input_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        let input = u
            .input_tokens
            .saturating_add(u.cache_read_input_tokens)
            .saturating_add(u.cache_write_input_tokens);
        Usage::new(input, u.output_tokens, u.cache_read_input_tokens)
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    http::stop_reason(s, &["guardrail_intervened", "content_filtered"])
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    http::malformed(PROVIDER, what)
}

pub(crate) fn decode(model: &ModelSpec, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let resp: Resp = serde_json::from_slice(body)
        .map_err(|e| malformed(format_args!("the response is not a Converse output ({e})")))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in resp.output.message.content {
        if let Some(t) = b.text {
            text.push_str(&t);
        }
        if let Some(t) = b.tool_use {
            calls.push(ToolCall::new(t.tool_use_id, t.name, t.input));
        }
    }
    Ok(ChatResponse::new(
        model,
        text,
        calls,
        finish_reason(&resp.stop_reason),
        resp.usage.into(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::Prices;
    use crate::provider::ErrorKind;
    use crate::provider::testing::{assert_malformed, tool_round};
    use crate::provider::{ToolDefinition, ToolResult};

    fn model() -> ModelSpec {
        ModelSpec::new(
            "haiku",
            "bedrock",
            Prices::new(1.0, 5.0).with_cached_input(0.1),
            200_000,
        )
        .with_api_name("anthropic.claude-3-haiku-20240307-v1:0")
    }

    #[test]
    fn encodes_every_part() {
        let req = tool_round("t1", ToolResult::new("t1", "20C"))
            .max_tokens(100)
            .stop("END");
        let v: serde_json::Value = serde_json::from_slice(&encode(&model(), &req).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "messages": [
                    {"role": "user", "content": [
                        {"text": "look"},
                        {"image": {"format": "png", "source": {"bytes": "QUJD"}}}
                    ]},
                    {"role": "assistant", "content": [
                        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}
                    ]},
                    {"role": "user", "content": [
                        {"toolResult": {"toolUseId": "t1", "content": [{"text": "20C"}], "status": "success"}}
                    ]}
                ],
                "system": [{"text": "sys"}],
                "inferenceConfig": {"maxTokens": 100, "stopSequences": ["END"]},
                "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "weather", "inputSchema": {"json": {"type": "object"}}}}]}
            })
        );
    }

    // Response shape from https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
    fn body(model: &ModelSpec, req: &ChatRequest) -> Result<serde_json::Value, ProviderError> {
        encode(model, req).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn encodes_tool_choice_thinking_and_cache_points() {
        use crate::provider::{CacheBreakpoint, ReasoningEffort};
        let req = ChatRequest::new()
            .system("sys")
            .user("one")
            .assistant("two")
            .tool(ToolDefinition::new("a", "", json!({"type": "object"})))
            .reasoning(Reasoning::Effort(ReasoningEffort::Minimal))
            .tool_choice(ToolChoice::Auto)
            .cache_breakpoint(CacheBreakpoint::Tools)
            .cache_breakpoint(CacheBreakpoint::System)
            .cache_breakpoint(CacheBreakpoint::Message(0));
        let v = body(&model(), &req).unwrap();
        let cp = json!({"cachePoint": {"type": "default"}});
        assert_eq!(v["system"], json!([{"text": "sys"}, cp]));
        assert_eq!(v["messages"][0]["content"], json!([{"text": "one"}, cp]));
        assert_eq!(v["messages"][1]["content"], json!([{"text": "two"}]));
        assert_eq!(v["toolConfig"]["tools"][1], cp);
        assert_eq!(v["toolConfig"]["toolChoice"], json!({"auto": {}}));
        assert_eq!(
            v["additionalModelRequestFields"],
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})
        );
        assert_eq!(v["inferenceConfig"]["maxTokens"], 1024 + 4096);
        let tools =
            ChatRequest::new()
                .user("x")
                .tool(ToolDefinition::new("a", "", json!({"type": "object"})));
        for (choice, wire) in [
            (ToolChoice::Required, json!({"any": {}})),
            (ToolChoice::Tool("a".into()), json!({"tool": {"name": "a"}})),
        ] {
            let v = body(&model(), &tools.clone().tool_choice(choice)).unwrap();
            assert_eq!(v["toolConfig"]["toolChoice"], wire);
        }
        let v = body(
            &model(),
            &ChatRequest::new().user("x").tool_choice(ToolChoice::None),
        )
        .unwrap();
        assert!(v.get("toolConfig").is_none());
    }

    #[test]
    fn unhonourable_options_are_typed_errors() {
        let tools =
            ChatRequest::new()
                .user("x")
                .tool(ToolDefinition::new("a", "", json!({"type": "object"})));
        let nova = ModelSpec::new("nova", "bedrock", Prices::new(1.0, 1.0), 300_000)
            .with_api_name("amazon.nova-pro-v1:0");
        for (m, req) in [
            (model(), tools.clone().tool_choice(ToolChoice::None)),
            (
                model(),
                tools
                    .clone()
                    .response_format(crate::provider::ResponseFormat::JsonObject),
            ),
            (nova, tools.clone().reasoning(Reasoning::BudgetTokens(2048))),
        ] {
            let e = body(&m, &req).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        }
        let e = body(
            &model(),
            &tools.max_tokens(1500).reasoning(Reasoning::BudgetTokens(2048)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }

    #[test]
    fn decodes_documented_response() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Let me check."},
            {"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"top_song","input":{"sign":"WZPZ"}}}]}},
            "stopReason":"tool_use","usage":{"inputTokens":375,"outputTokens":36,"totalTokens":411,
            "cacheReadInputTokens":100,"cacheWriteInputTokens":0},"metrics":{"latencyMs":2470}}"#;
        let r = decode(&model(), body).unwrap();
        assert_eq!(r.text, "Let me check.");
        assert_eq!(r.tool_calls[0].name, "top_song");
        assert_eq!(r.tool_calls[0].arguments, json!({"sign": "WZPZ"}));
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.usage, Usage::new(475, 36, 100));
    }

    #[test]
    fn bad_bodies_are_malformed_errors() {
        assert_malformed(
            |body| decode(&model(), body),
            &[
                b"<xml/>",
                b"{}",
                b"{\"output\":{}}",
                b"{\"output\":{\"message\":{}}}",
            ],
        );
    }
}
