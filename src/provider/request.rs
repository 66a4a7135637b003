//! [`ChatRequest`] and its parts: what every provider client sends.

use derive_setters::Setters;
use serde::{Deserialize, Serialize};

use super::options::{CacheBreakpoint, Reasoning, RequestOptionError, ResponseFormat, ToolChoice};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// The user (or the application speaking for them).
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model called.
    Tool,
}

/// An image given inline, base64-encoded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Image {
    /// The media type (`"image/png"`, `"image/jpeg"`, `"image/gif"`, `"image/webp"`).
    pub media_type: String,
    /// The image bytes, base64-encoded (standard alphabet, with padding).
    pub data_base64: String,
}

impl Image {
    /// An image from its media type and base64-encoded bytes.
    pub fn base64(media_type: impl Into<String>, data_base64: impl Into<String>) -> Self {
        Self {
            media_type: media_type.into(),
            data_base64: data_base64.into(),
        }
    }

    /// The format name Bedrock uses (`"png"` for `"image/png"`).
    pub fn format(&self) -> &str {
        self.media_type.strip_prefix("image/").unwrap_or(&self.media_type)
    }
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("media_type", &self.media_type)
            .field("data_base64", &format_args!("<{} bytes>", self.data_base64.len()))
            .finish()
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolDefinition {
    /// The tool's name (`"get_weather"`).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// The JSON schema of the tool's arguments (an `"object"` schema).
    pub parameters: serde_json::Value,
}

impl ToolDefinition {
    /// A tool from its name, description and JSON schema of its arguments.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// A call the model made to a tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The provider's id for the call; a [`ToolResult`] answers it by this id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments. Where a model produced arguments that are not valid JSON, this is a JSON
    /// string holding the raw text.
    pub arguments: serde_json::Value,
}

impl ToolCall {
    /// A tool call from its id, tool name and arguments.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: serde_json::Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }

    /// A tool call whose arguments arrive as JSON text: parsed where valid, else kept as a string.
    pub fn from_json_text(id: impl Into<String>, name: impl Into<String>, arguments: &str) -> Self {
        let args = if arguments.trim().is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str(arguments)
                .unwrap_or_else(|_| serde_json::Value::String(arguments.to_owned()))
        };
        Self::new(id, name, args)
    }

    /// The arguments as JSON text.
    pub fn arguments_json(&self) -> String {
        match &self.arguments {
            serde_json::Value::String(raw) => raw.clone(),
            v => v.to_string(),
        }
    }
}

/// A tool call as OpenAI's Chat Completions writes it, in a request's assistant message and in
/// an answer: `{"id": …, "function": {"name": …, "arguments": "<JSON text>"}}`. A call without
/// `function.name` is refused: nothing can run a tool with no name.
#[derive(Deserialize)]
pub(crate) struct OpenAiToolCall {
    #[serde(default)]
    id: String,
    function: OpenAiFunction,
}

#[derive(Deserialize)]
struct OpenAiFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

impl From<OpenAiToolCall> for ToolCall {
    fn from(c: OpenAiToolCall) -> Self {
        ToolCall::from_json_text(c.id, c.function.name, &c.function.arguments)
    }
}

/// The result of running a tool, sent back to the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolResult {
    /// The id of the [`ToolCall`] this answers.
    pub call_id: String,
    /// The result, as text (often JSON).
    pub content: String,
    /// Whether the tool failed; the content then says how.
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result.
    pub fn new(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            call_id: call_id.into(),
            content: content.into(),
            is_error: false,
        }
    }

    /// A failed result.
    pub fn error(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            is_error: true,
            ..Self::new(call_id, content)
        }
    }
}

/// One part of a message's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image (user messages).
    Image(Image),
    /// A tool call (assistant messages).
    ToolCall(ToolCall),
    /// A tool result (tool messages).
    ToolResult(ToolResult),
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text { text: text.into() }
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says, in order.
    pub content: Vec<ContentPart>,
}

impl Message {
    /// A message from its role and parts.
    pub fn new(role: Role, content: Vec<ContentPart>) -> Self {
        Self { role, content }
    }

    /// A user message with text.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, vec![ContentPart::text(text)])
    }

    /// An assistant message with text.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, vec![ContentPart::text(text)])
    }

    /// An assistant message that called tools (optionally with text before the calls).
    pub fn assistant_tool_calls(text: Option<String>, calls: Vec<ToolCall>) -> Self {
        let mut content: Vec<ContentPart> = text.map(ContentPart::text).into_iter().collect();
        content.extend(calls.into_iter().map(ContentPart::ToolCall));
        Self::new(Role::Assistant, content)
    }

    /// A tool message with one result.
    pub fn tool_result(result: ToolResult) -> Self {
        Self::new(Role::Tool, vec![ContentPart::ToolResult(result)])
    }

    /// Adds an image to the message.
    pub fn with_image(mut self, image: Image) -> Self {
        self.content.push(ContentPart::Image(image));
        self
    }

    /// The message's text parts, concatenated.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A chat request, the same for every provider.
///
/// ```
/// use taskroute::provider::{ChatRequest, ToolDefinition};
/// let req = ChatRequest::new()
///     .system("You are terse.")
///     .user("What is the weather in Paris?")
///     .tool(ToolDefinition::new(
///         "get_weather",
///         "Current weather for a city",
///         serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
///     ))
///     .max_tokens(256)
///     .temperature(0.2);
/// assert_eq!(req.messages.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Setters)]
#[setters(generate = false)]
#[non_exhaustive]
pub struct ChatRequest {
    /// The system prompt.
    #[setters(generate, strip_option, into)]
    pub system: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<ToolDefinition>,
    /// The most output tokens to generate. Providers that require a value (Anthropic) get
    /// the smaller of the model's `max_output_tokens` and 4096 when this is `None`.
    #[setters(generate, strip_option)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[setters(generate, strip_option)]
    pub temperature: Option<f32>,
    /// Sequences that stop generation.
    pub stop: Vec<String>,
    /// The shape the answer must take; `None` is free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub response_format: Option<ResponseFormat>,
    /// Reasoning asked of the model; `None` leaves it to the model's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub reasoning: Option<Reasoning>,
    /// Whether and which tool the model must call; `None` leaves it to the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub tool_choice: Option<ToolChoice>,
    /// Prompt-cache breakpoints, in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_breakpoints: Vec<CacheBreakpoint>,
}

impl ChatRequest {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message.
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Adds a user message with text.
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(Message::user(text))
    }

    /// Adds an assistant message with text.
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(Message::assistant(text))
    }

    /// Adds a tool the model may call.
    pub fn tool(mut self, tool: ToolDefinition) -> Self {
        self.tools.push(tool);
        self
    }

    /// Adds a stop sequence.
    pub fn stop(mut self, s: impl Into<String>) -> Self {
        self.stop.push(s.into());
        self
    }

    /// Adds a prompt-cache breakpoint.
    pub fn cache_breakpoint(mut self, at: CacheBreakpoint) -> Self {
        self.cache_breakpoints.push(at);
        self
    }

    /// Checks the settings every provider needs to be consistent: a tool choice that requires a
    /// call needs tools (and a named tool must be one of them); a breakpoint must follow an
    /// existing message. Clients call it before sending.
    ///
    /// # Errors
    ///
    /// The first inconsistency found.
    pub fn check_options(&self) -> Result<(), RequestOptionError> {
        match &self.tool_choice {
            Some(ToolChoice::Required | ToolChoice::Tool(_)) if self.tools.is_empty() => {
                return Err(RequestOptionError::NoTools);
            }
            Some(ToolChoice::Tool(name)) if !self.tools.iter().any(|t| &t.name == name) => {
                return Err(RequestOptionError::UnknownTool { name: name.clone() });
            }
            _ => {}
        }
        for b in &self.cache_breakpoints {
            if let CacheBreakpoint::Message(index) = *b
                && index >= self.messages.len()
            {
                return Err(RequestOptionError::BreakpointOutOfRange {
                    index,
                    len: self.messages.len(),
                });
            }
        }
        Ok(())
    }

    /// Whether a cache breakpoint follows `at`.
    #[cfg(any(feature = "anthropic", feature = "bedrock"))]
    pub(crate) fn cache_after(&self, at: CacheBreakpoint) -> bool {
        self.cache_breakpoints.contains(&at)
    }

    /// `max_tokens`, or the smaller of the model's limit and 4096 where unset.
    pub fn max_tokens_or_default(&self, model: &crate::ModelSpec) -> u32 {
        self.max_tokens
            .unwrap_or_else(|| model.max_output_tokens.clamp(1, 4096))
    }
}
