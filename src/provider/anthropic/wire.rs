//! Anthropic Messages request and response bodies.

use serde::{Deserialize, Serialize};

use super::super::http::{self, Turns};
use super::super::options::thinking_budget;
use super::super::{
    CacheBreakpoint, ChatRequest, ChatResponse, ContentPart, FinishReason, ProviderError, RequestOptionError,
    RequestSetting, ResponseFormat, ToolCall, ToolChoice, Usage,
};
use super::PROVIDER;
use crate::model::ModelSpec;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<System<'a>>,
    messages: Turns<Cached<Block<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Cached<WireTool<'a>>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<serde_json::Value>,
}

/// The system prompt: a plain string, or one text block when it ends a cached prefix.
#[derive(Serialize)]
#[serde(untagged)]
enum System<'a> {
    Text(&'a str),
    Blocks([Cached<Block<'a>>; 1]),
}

/// `cache_control: {"type": "ephemeral"}`, Anthropic's cache breakpoint on a block or tool.
#[derive(Serialize)]
struct CacheControl {
    #[serde(rename = "type")]
    kind: &'static str,
}

const EPHEMERAL: CacheControl = CacheControl { kind: "ephemeral" };

/// A block or tool that may end a cached prefix.
#[derive(Serialize)]
struct Cached<T> {
    #[serde(flatten)]
    inner: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

impl<T> Cached<T> {
    fn plain(inner: T) -> Self {
        Cached {
            inner,
            cache_control: None,
        }
    }
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a serde_json::Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

#[derive(Serialize)]
struct ImageSource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    media_type: &'a str,
    data: &'a str,
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: &'a serde_json::Value,
}

pub(crate) fn encode(model: &ModelSpec, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ProviderError> {
    let options = Options::of(model, req).map_err(|e| e.into_provider_error(PROVIDER))?;
    let mut messages = Turns::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let blocks = m.content.iter().map(|p| {
            Cached::plain(match p {
                ContentPart::Text { text } => Block::Text { text },
                ContentPart::Image(img) => Block::Image {
                    source: ImageSource {
                        kind: "base64",
                        media_type: &img.media_type,
                        data: &img.data_base64,
                    },
                },
                ContentPart::ToolCall(c) => Block::ToolUse {
                    id: &c.id,
                    name: &c.name,
                    input: http::object_or_empty(&c.arguments),
                },
                ContentPart::ToolResult(r) => Block::ToolResult {
                    tool_use_id: &r.call_id,
                    content: &r.content,
                    is_error: r.is_error,
                },
            })
        });
        messages.push(m.role, blocks);
        if req.cache_after(CacheBreakpoint::Message(i)) {
            // The last block so far ends the prefix through message `i`, even when `i` itself
            // was empty.
            if let Some(block) = messages.last_block_mut() {
                block.cache_control = Some(EPHEMERAL);
            }
        }
    }
    let system = req.system.as_deref().map(|text| {
        if req.cache_after(CacheBreakpoint::System) {
            System::Blocks([Cached {
                inner: Block::Text { text },
                cache_control: Some(EPHEMERAL),
            }])
        } else {
            System::Text(text)
        }
    });
    let cache_tools = req.cache_after(CacheBreakpoint::Tools);
    let body = Body {
        model: model.api_name(),
        max_tokens: options.max_tokens,
        system,
        messages,
        temperature: req.temperature,
        stop_sequences: &req.stop,
        tools: req
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| Cached {
                inner: WireTool {
                    name: &t.name,
                    description: &t.description,
                    input_schema: &t.parameters,
                },
                cache_control: (cache_tools && i + 1 == req.tools.len()).then_some(EPHEMERAL),
            })
            .collect(),
        stream,
        tool_choice: options.tool_choice,
        thinking: options.thinking,
        output_config: options.output_config,
    };
    http::encode_json(PROVIDER, &body)
}

/// Anthropic's limit on cache breakpoints per request.
const MAX_BREAKPOINTS: usize = 4;

/// The request's settings on the wire.
struct Options {
    max_tokens: u32,
    tool_choice: Option<serde_json::Value>,
    thinking: Option<Thinking>,
    output_config: Option<serde_json::Value>,
}

impl Options {
    fn of(model: &ModelSpec, req: &ChatRequest) -> Result<Self, RequestOptionError> {
        req.check_options()?;
        if req.cache_breakpoints.len() > MAX_BREAKPOINTS {
            return Err(RequestOptionError::TooManyBreakpoints {
                provider: PROVIDER,
                max: MAX_BREAKPOINTS,
                got: req.cache_breakpoints.len(),
            });
        }
        let output_config = match &req.response_format {
            None => None,
            Some(ResponseFormat::JsonSchema(s)) => Some(serde_json::json!({
                "format": {"type": "json_schema", "schema": s.schema}
            })),
            Some(ResponseFormat::JsonObject) => {
                return Err(RequestOptionError::unsupported(
                    PROVIDER,
                    RequestSetting::JsonObject,
                    "structured output needs a JSON schema",
                ));
            }
        };
        let (max_tokens, budget) = thinking_budget(PROVIDER, model, req)?;
        let thinking = budget.map(|b| Thinking {
            kind: "enabled",
            budget_tokens: b,
        });
        let tool_choice = req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => serde_json::json!({"type": "auto"}),
            ToolChoice::None => serde_json::json!({"type": "none"}),
            ToolChoice::Required => serde_json::json!({"type": "any"}),
            ToolChoice::Tool(name) => serde_json::json!({"type": "tool", "name": name}),
        });
        Ok(Options {
            max_tokens,
            tool_choice,
            thinking,
            output_config,
        })
    }
}

#[derive(Deserialize)]
struct Resp {
    #[serde(rename = "type")]
    kind: Option<String>,
    content: Vec<RespBlock>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RespBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: serde_json::Value,
    },
    #[serde(other)]
    Other,
}

/// Anthropic's usage: `input_tokens` excludes the cache reads and writes, which come separately.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u32>,
}

impl WireUsage {
    /// Overwrites the fields `newer` has.
    pub(crate) fn merge(&mut self, newer: WireUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer.cache_read_input_tokens.or(self.cache_read_input_tokens);
    }

    /// As a [`Usage`] whose input counts every input token, cached or not.
    pub(crate) fn usage(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let input = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
            .saturating_add(read);
        Usage::new(input, self.output_tokens.unwrap_or(0), read)
            .with_cache_write_tokens(self.cache_creation_input_tokens.unwrap_or(0))
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    http::stop_reason(s, &["refusal"])
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    http::malformed(PROVIDER, what)
}

pub(crate) fn decode(model: &ModelSpec, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let resp: Resp = serde_json::from_slice(body)
        .map_err(|e| malformed(format_args!("the response is not a message ({e})")))?;
    if resp.kind.as_deref().is_some_and(|k| k != "message") {
        return Err(malformed(format_args!(
            "the response has type `{}`, not `message`",
            resp.kind.unwrap_or_default()
        )));
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in resp.content {
        match b {
            RespBlock::Text { text: t } => text.push_str(&t),
            RespBlock::ToolUse { id, name, input } => calls.push(ToolCall::new(id, name, input)),
            RespBlock::Other => {}
        }
    }
    let finish = match resp.stop_reason.as_deref() {
        Some(r) => finish_reason(r),
        None => return Err(malformed("the response has no stop_reason")),
    };
    Ok(ChatResponse::new(model, text, calls, finish, resp.usage.usage()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::Prices;
    use crate::provider::Reasoning;
    use crate::provider::testing::{assert_malformed, tool_round};
    use crate::provider::{ErrorKind, Role};
    use crate::provider::{Message, ToolDefinition, ToolResult};

    fn model() -> ModelSpec {
        ModelSpec::new(
            "claude",
            "anthropic",
            Prices::new(3.0, 15.0)
                .with_cached_input(0.3)
                .with_cache_writes(Some(3.75), Some(6.0)),
            200_000,
        )
        .with_max_output_tokens(64_000)
        .with_api_name("claude-sonnet-4-5")
    }

    #[test]
    fn encodes_every_part_and_merges_turns() {
        let req = tool_round("toolu_1", ToolResult::error("toolu_1", "boom"))
            .user("and now?")
            .temperature(0.5)
            .stop("END");
        let v: serde_json::Value = serde_json::from_slice(&encode(&model(), &req, true).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 4096,
                "system": "sys",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "boom", "is_error": true},
                        {"type": "text", "text": "and now?"}
                    ]}
                ],
                "temperature": 0.5,
                "stop_sequences": ["END"],
                "tools": [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}],
                "stream": true
            })
        );
    }

    fn body(req: &ChatRequest) -> Result<serde_json::Value, ProviderError> {
        encode(&model(), req, false).map(|b| serde_json::from_slice(&b).unwrap())
    }

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition::new(name, "", json!({"type": "object"}))
    }

    #[test]
    fn encodes_structured_output_thinking_tool_choice_and_cache_control() {
        use crate::provider::{CacheBreakpoint, ReasoningEffort};
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
        let req = ChatRequest::new()
            .system("sys")
            .user("one")
            .message(Message::new(Role::User, vec![]))
            .assistant("two")
            .user("three")
            .tool(tool("a"))
            .tool(tool("b"))
            .response_format(ResponseFormat::json_schema("answer", schema.clone()))
            .reasoning(Reasoning::Effort(ReasoningEffort::Low))
            .tool_choice(ToolChoice::Auto)
            .cache_breakpoint(CacheBreakpoint::Tools)
            .cache_breakpoint(CacheBreakpoint::System)
            .cache_breakpoint(CacheBreakpoint::Message(1));
        let v = body(&req).unwrap();
        let eph = json!({"type": "ephemeral"});
        assert_eq!(
            v["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}})
        );
        assert_eq!(v["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
        assert_eq!(
            v["max_tokens"],
            4096 + 4096,
            "room for the answer beside the budget"
        );
        assert_eq!(v["tool_choice"], json!({"type": "auto"}));
        assert_eq!(
            v["system"],
            json!([{"type": "text", "text": "sys", "cache_control": eph}])
        );
        assert!(v["tools"][0].get("cache_control").is_none());
        assert_eq!(v["tools"][1]["cache_control"], eph);
        // Message 1 is empty and merged into the first user turn: its prefix ends at "one".
        assert_eq!(v["messages"][0]["content"][0]["cache_control"], eph);
        assert!(v["messages"][1]["content"][0].get("cache_control").is_none());
        assert!(v["messages"][2]["content"][0].get("cache_control").is_none());
        for (choice, wire) in [
            (ToolChoice::None, json!({"type": "none"})),
            (ToolChoice::Required, json!({"type": "any"})),
            (ToolChoice::Tool("b".into()), json!({"type": "tool", "name": "b"})),
        ] {
            let v = body(&ChatRequest::new().user("x").tool(tool("b")).tool_choice(choice)).unwrap();
            assert_eq!(v["tool_choice"], wire);
        }
        let v = body(
            &ChatRequest::new()
                .user("x")
                .max_tokens(3000)
                .reasoning(Reasoning::BudgetTokens(2000)),
        )
        .unwrap();
        assert_eq!(
            (v["max_tokens"].clone(), v["thinking"]["budget_tokens"].clone()),
            (json!(3000), json!(2000))
        );
        let v = body(&ChatRequest::new().system("s").user("x")).unwrap();
        assert_eq!(v["system"], "s");
        for absent in ["thinking", "tool_choice", "output_config"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn unhonourable_or_inconsistent_options_are_typed_errors() {
        use crate::provider::{CacheBreakpoint, RequestOptionError};
        use std::error::Error as _;
        let source = |e: &ProviderError| {
            e.source()
                .and_then(|s| s.downcast_ref::<RequestOptionError>())
                .cloned()
                .unwrap()
        };
        let e = body(
            &ChatRequest::new()
                .user("x")
                .response_format(ResponseFormat::JsonObject),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(matches!(
            source(&e),
            RequestOptionError::Unsupported {
                setting: RequestSetting::JsonObject,
                ..
            }
        ));
        for req in [
            ChatRequest::new()
                .user("x")
                .reasoning(Reasoning::BudgetTokens(512)),
            ChatRequest::new()
                .user("x")
                .max_tokens(2000)
                .reasoning(Reasoning::BudgetTokens(2000)),
        ] {
            let e = body(&req).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
            assert!(
                matches!(source(&e), RequestOptionError::ThinkingBudget { .. }),
                "{e}"
            );
        }
        let thinking = ChatRequest::new()
            .user("x")
            .tool(tool("a"))
            .reasoning(Reasoning::BudgetTokens(2000));
        for req in [
            thinking.clone().temperature(0.3),
            thinking.clone().tool_choice(ToolChoice::Required),
        ] {
            assert_eq!(body(&req).unwrap_err().kind(), ErrorKind::Unsupported);
        }
        let mut five = ChatRequest::new().user("x");
        for _ in 0..5 {
            five = five.cache_breakpoint(CacheBreakpoint::Message(0));
        }
        let e = body(&five).unwrap_err();
        assert!(
            matches!(
                source(&e),
                RequestOptionError::TooManyBreakpoints { max: 4, got: 5, .. }
            ),
            "{e}"
        );
    }

    // Example response from https://docs.anthropic.com/en/api/messages (with cache usage fields).
    #[test]
    fn decodes_documented_response_with_cache_usage() {
        let body = br#"{"content":[{"text":"Hi! My name is Claude.","type":"text"}],"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "model":"claude-sonnet-4-5","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message",
            "usage":{"input_tokens":2095,"output_tokens":503,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000}}"#;
        let r = decode(&model(), body).unwrap();
        assert_eq!(r.text, "Hi! My name is Claude.");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Usage::new(3195, 503, 1000).with_cache_write_tokens(100));
        // The 100 cache-write tokens are billed at the 5-minute write price, not as input.
        let expected = (2095.0 * 3.0 + 1000.0 * 0.3 + 100.0 * 3.75 + 503.0 * 15.0) / 1e6;
        assert!((r.cost_usd - expected).abs() < 1e-12);
    }

    #[test]
    fn bad_bodies_are_malformed_errors() {
        assert_malformed(
            |body| decode(&model(), body),
            &[
                b"nope",
                b"{\"type\":\"message\"}",
                b"{\"type\":\"error\",\"content\":[]}",
                b"{\"content\":[],\"stop_reason\":null}",
            ],
        );
    }
}
