//! Anthropic Messages request and response bodies.

use serde::{Deserialize, Serialize};

use super::super::http;
use super::super::{
    ChatRequest, ChatResponse, ContentPart, ErrorKind, FinishReason, ProviderError, Role, ToolCall, Usage,
};
use super::PROVIDER;
use crate::model::ModelSpec;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
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
    let mut messages: Vec<WireMessage<'_>> = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        // Tool results travel in user turns; consecutive turns of one role are merged.
        let role = match m.role {
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        let blocks = m.content.iter().map(|p| match p {
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
        });
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(WireMessage {
                role,
                content: blocks.collect(),
            }),
        }
    }
    let body = Body {
        model: model.api_name(),
        max_tokens: req.max_tokens_or_default(model),
        system: req.system.as_deref(),
        messages,
        temperature: req.temperature,
        stop_sequences: &req.stop,
        tools: req
            .tools
            .iter()
            .map(|t| WireTool {
                name: &t.name,
                description: &t.description,
                input_schema: &t.parameters,
            })
            .collect(),
        stream,
    };
    http::encode_json(PROVIDER, &body)
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
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::MalformedResponse, what.to_string()).with_provider(PROVIDER)
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
    use crate::provider::{Image, Message, ToolDefinition, ToolResult};

    fn model() -> ModelSpec {
        ModelSpec::new(
            "claude",
            "anthropic",
            Prices::new(3.0, 15.0).with_cached_input(0.3),
            200_000,
        )
        .with_max_output_tokens(64_000)
        .with_api_name("claude-sonnet-4-5")
    }

    #[test]
    fn encodes_every_part_and_merges_turns() {
        let req = ChatRequest::new()
            .system("sys")
            .message(Message::user("look").with_image(Image::base64("image/png", "QUJD")))
            .message(Message::assistant_tool_calls(
                None,
                vec![ToolCall::new("toolu_1", "get_weather", json!({"city": "Paris"}))],
            ))
            .message(Message::tool_result(ToolResult::error("toolu_1", "boom")))
            .user("and now?")
            .tool(ToolDefinition::new(
                "get_weather",
                "weather",
                json!({"type": "object"}),
            ))
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

    // Example response from https://docs.anthropic.com/en/api/messages (with cache usage fields).
    #[test]
    fn decodes_documented_response_with_cache_usage() {
        let body = br#"{"content":[{"text":"Hi! My name is Claude.","type":"text"}],"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "model":"claude-sonnet-4-5","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message",
            "usage":{"input_tokens":2095,"output_tokens":503,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000}}"#;
        let r = decode(&model(), body).unwrap();
        assert_eq!(r.text, "Hi! My name is Claude.");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Usage::new(3195, 503, 1000));
        let expected = (2195.0 * 3.0 + 1000.0 * 0.3 + 503.0 * 15.0) / 1e6;
        assert!((r.cost_usd - expected).abs() < 1e-12);
    }

    #[test]
    fn bad_bodies_are_malformed_errors() {
        for body in [
            &b"nope"[..],
            b"{\"type\":\"message\"}",
            b"{\"type\":\"error\",\"content\":[]}",
            b"{\"content\":[],\"stop_reason\":null}",
        ] {
            assert_eq!(
                decode(&model(), body).unwrap_err().kind(),
                ErrorKind::MalformedResponse
            );
        }
    }
}
