//! Reading an OpenAI Chat Completions request body (as services receive it) into a
//! [`ChatRequest`].

use serde::Deserialize;

use crate::provider::{
    ChatRequest, ContentPart, Image, Message, OpenAiToolCall, Reasoning, ReasoningEffort, ResponseFormat,
    Role, ToolChoice, ToolDefinition, ToolResult,
};

/// Why an OpenAI-style request body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestBodyError {
    /// Not JSON, or not the shape of a Chat Completions request.
    #[error("not an OpenAI chat request body: {source}")]
    Json {
        /// The parser's error (with line and column).
        #[from]
        source: serde_json::Error,
    },
    /// A message role this crate does not carry.
    #[error("message {index}: unknown role `{role}` (expected system, developer, user, assistant or tool)")]
    UnknownRole {
        /// The message's position.
        index: usize,
        /// The role given.
        role: String,
    },
    /// An image that is not an inline `data:` URL.
    #[error("message {index}: only inline `data:<media type>;base64,` image URLs are read")]
    ImageUrl {
        /// The message's position.
        index: usize,
    },
    /// A `reasoning_effort` or `tool_choice` value this crate does not know.
    #[error("`{field}`: unknown value `{value}`")]
    UnknownValue {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    messages: Vec<WireMessage>,
    #[serde(default)]
    tools: Vec<WireTool>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    stop: Option<Stop>,
    response_format: Option<WireFormat>,
    reasoning_effort: Option<String>,
    tool_choice: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Option<Content>,
    #[serde(default)]
    tool_calls: Vec<OpenAiToolCall>,
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: Url,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Url {
    url: String,
}

#[derive(Deserialize)]
struct WireTool {
    function: ToolFunction,
}

#[derive(Deserialize)]
struct ToolFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: WireSchema },
}

#[derive(Deserialize)]
struct WireSchema {
    name: String,
    #[serde(default)]
    schema: serde_json::Value,
    #[serde(default)]
    strict: Option<bool>,
}

/// Reads an OpenAI Chat Completions request body: messages (text, inline images, tool calls and
/// results), tools, `max_tokens`/`max_completion_tokens`, temperature, stop, `response_format`,
/// `reasoning_effort` and `tool_choice`. Other fields (`model`, `stream`, ...) are ignored.
///
/// # Errors
///
/// [`RequestBodyError`] saying which field is wrong.
pub fn chat_request_from_openai(body: &str) -> Result<ChatRequest, RequestBodyError> {
    let b: Body = serde_json::from_str(body)?;
    let mut req = ChatRequest::new();
    let mut system = Vec::new();
    for (index, m) in b.messages.into_iter().enumerate() {
        let mut parts = Vec::new();
        match m.content {
            Some(Content::Text(t)) => parts.push(ContentPart::text(t)),
            Some(Content::Parts(ps)) => {
                for p in ps {
                    match p {
                        Part::Text { text } => parts.push(ContentPart::text(text)),
                        Part::ImageUrl { image_url } => {
                            parts.push(ContentPart::Image(data_url(&image_url.url, index)?))
                        }
                        Part::Other => {}
                    }
                }
            }
            None => {}
        }
        let role = match m.role.as_str() {
            "system" | "developer" => {
                system.extend(parts.into_iter().filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text),
                    _ => None,
                }));
                continue;
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => {
                let text: String = parts
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::Text { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                req = req.message(Message::tool_result(ToolResult::new(
                    m.tool_call_id.unwrap_or_default(),
                    text,
                )));
                continue;
            }
            other => {
                return Err(RequestBodyError::UnknownRole {
                    index,
                    role: other.to_owned(),
                });
            }
        };
        parts.extend(m.tool_calls.into_iter().map(|c| ContentPart::ToolCall(c.into())));
        req = req.message(Message::new(role, parts));
    }
    if !system.is_empty() {
        req = req.system(system.join("\n"));
    }
    for t in b.tools {
        req = req.tool(ToolDefinition::new(
            t.function.name,
            t.function.description,
            t.function.parameters,
        ));
    }
    req.max_tokens = b.max_completion_tokens.or(b.max_tokens);
    req.temperature = b.temperature;
    req.stop = match b.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    req.response_format = match b.response_format {
        None | Some(WireFormat::Text) => None,
        Some(WireFormat::JsonObject) => Some(ResponseFormat::JsonObject),
        Some(WireFormat::JsonSchema { json_schema: s }) => {
            let mut f = ResponseFormat::json_schema(s.name, s.schema);
            if let (ResponseFormat::JsonSchema(inner), Some(strict)) = (&mut f, s.strict) {
                inner.strict = strict;
            }
            Some(f)
        }
    };
    req.reasoning = match b.reasoning_effort.as_deref() {
        None => None,
        Some(e) => Some(Reasoning::Effort(match e {
            "minimal" => ReasoningEffort::Minimal,
            "low" => ReasoningEffort::Low,
            "medium" => ReasoningEffort::Medium,
            "high" => ReasoningEffort::High,
            other => return Err(unknown("reasoning_effort", other)),
        })),
    };
    req.tool_choice = match b.tool_choice {
        None => None,
        Some(serde_json::Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => return Err(unknown("tool_choice", other)),
        }),
        Some(v) => match v.pointer("/function/name").and_then(|n| n.as_str()) {
            Some(name) => Some(ToolChoice::Tool(name.to_owned())),
            None => return Err(unknown("tool_choice", &v.to_string())),
        },
    };
    Ok(req)
}

fn unknown(field: &'static str, value: &str) -> RequestBodyError {
    let mut value = value.to_owned();
    value.truncate(value.floor_char_boundary(100));
    RequestBodyError::UnknownValue { field, value }
}

fn data_url(url: &str, index: usize) -> Result<Image, RequestBodyError> {
    let rest = url
        .strip_prefix("data:")
        .ok_or(RequestBodyError::ImageUrl { index })?;
    let (media, data) = rest
        .split_once(";base64,")
        .ok_or(RequestBodyError::ImageUrl { index })?;
    Ok(Image::base64(media, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_body() {
        let body = r#"{"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "max_completion_tokens": 300, "stop": "END", "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": false}},
            "tool_choice": {"type": "function", "function": {"name": "f"}}}"#;
        let r = chat_request_from_openai(body).unwrap();
        assert_eq!(r.system.as_deref(), Some("Be terse."));
        assert_eq!(r.messages.len(), 3);
        assert!(matches!(&r.messages[0].content[1], ContentPart::Image(i) if i.media_type == "image/png"));
        assert!(matches!(&r.messages[1].content[0], ContentPart::ToolCall(c) if c.name == "f"));
        assert_eq!(r.messages[2].role, Role::Tool);
        assert_eq!(
            (r.max_tokens, r.stop.clone()),
            (Some(300), vec!["END".to_owned()])
        );
        assert_eq!(r.reasoning, Some(Reasoning::Effort(ReasoningEffort::Low)));
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert!(matches!(&r.response_format, Some(ResponseFormat::JsonSchema(s)) if !s.strict));
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        type Check = fn(&RequestBodyError) -> bool;
        let cases: [(&str, Check); 5] = [
            ("not json", |e: &RequestBodyError| {
                matches!(e, RequestBodyError::Json { .. })
            }),
            (
                r#"{"messages": [{"role": "wizard", "content": "x"}]}"#,
                |e: &RequestBodyError| matches!(e, RequestBodyError::UnknownRole { index: 0, .. }),
            ),
            (
                r#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}"#,
                |e: &RequestBodyError| matches!(e, RequestBodyError::ImageUrl { index: 0 }),
            ),
            (
                r#"{"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]}]}"#,
                |e: &RequestBodyError| matches!(e, RequestBodyError::Json { .. }),
            ),
            (
                r#"{"messages": [], "reasoning_effort": "extreme"}"#,
                |e: &RequestBodyError| {
                    matches!(
                        e,
                        RequestBodyError::UnknownValue {
                            field: "reasoning_effort",
                            ..
                        }
                    )
                },
            ),
        ];
        for (body, ok) in cases {
            let e = chat_request_from_openai(body).unwrap_err();
            assert!(ok(&e), "{body}: {e}");
        }
    }
}
