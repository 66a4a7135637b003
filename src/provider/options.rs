//! What a [`ChatRequest`] asks of the model beyond its messages: a response
//! format, a reasoning effort, a tool choice and prompt-cache breakpoints; and the typed error a
//! client returns, before sending anything, when its provider cannot honour one of them.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(any(feature = "anthropic", feature = "bedrock"))]
use super::ChatRequest;
#[cfg(any(feature = "openai", feature = "anthropic", feature = "bedrock"))]
use super::{ErrorKind, ProviderError};
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
use crate::model::ModelSpec;

/// The shape the answer must take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum ResponseFormat {
    /// Any valid JSON object (OpenAI's JSON mode).
    JsonObject,
    /// JSON that follows a schema (structured output).
    JsonSchema(JsonSchemaFormat),
}

impl ResponseFormat {
    /// JSON that follows `schema`, named `name` (OpenAI requires a name: `[a-zA-Z0-9_-]`, at
    /// most 64 characters), strictly enforced.
    pub fn json_schema(name: impl Into<String>, schema: serde_json::Value) -> Self {
        ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: name.into(),
            schema,
            strict: true,
        })
    }
}

/// A JSON schema the answer must follow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JsonSchemaFormat {
    /// The schema's name.
    pub name: String,
    /// The JSON schema.
    pub schema: serde_json::Value,
    /// Whether the provider must enforce the schema exactly (OpenAI `strict`).
    pub strict: bool,
}

/// How hard a reasoning model should think.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasoningEffort {
    /// As little reasoning as the model allows.
    Minimal,
    /// Little reasoning.
    Low,
    /// The default amount.
    Medium,
    /// Much reasoning.
    High,
}

impl ReasoningEffort {
    /// The effort's wire name (`"low"`), as OpenAI spells it.
    pub const fn name(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }

    /// The thinking budget used where a provider takes a token budget instead of an effort
    /// (Anthropic `thinking.budget_tokens`): 1024 (Anthropic's minimum), 4096, 10 000 and
    /// 32 000 tokens.
    pub const fn budget_tokens(self) -> u32 {
        match self {
            ReasoningEffort::Minimal => 1_024,
            ReasoningEffort::Low => 4_096,
            ReasoningEffort::Medium => 10_000,
            ReasoningEffort::High => 32_000,
        }
    }
}

/// Reasoning asked of the model: an effort, or an explicit thinking budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reasoning {
    /// An effort level (OpenAI `reasoning_effort`; a budget from
    /// [`ReasoningEffort::budget_tokens`] where the provider takes budgets).
    Effort(ReasoningEffort),
    /// A thinking budget in tokens (Anthropic `thinking.budget_tokens`). OpenAI takes no budget:
    /// asking it for one is an [`ErrorKind::Unsupported`] error.
    BudgetTokens(u32),
}

/// Whether and which tool the model must call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides (the default where tools are given).
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool (one of the request's tools, by name).
    Tool(String),
}

/// A prompt-cache breakpoint: the prompt prefix up to and including this part may be cached.
///
/// The prefix order is tools, then system, then messages, as every provider builds the prompt.
/// OpenAI caches prompt prefixes of 1024 tokens or more automatically and takes no breakpoints;
/// its client accepts them and sends nothing for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CacheBreakpoint {
    /// After the tool definitions.
    Tools,
    /// After the system prompt.
    System,
    /// After the message at this index of [`ChatRequest::messages`](super::ChatRequest::messages).
    Message(usize),
}

/// A setting of a [`ChatRequest`], as named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestSetting {
    /// [`ResponseFormat::JsonObject`].
    JsonObject,
    /// [`ResponseFormat::JsonSchema`].
    JsonSchema,
    /// [`Reasoning::Effort`].
    ReasoningEffort,
    /// [`Reasoning::BudgetTokens`].
    ThinkingBudget,
    /// A [`ToolChoice`].
    ToolChoice,
    /// A [`CacheBreakpoint`].
    CacheBreakpoint,
}

impl fmt::Display for RequestSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestSetting::JsonObject => "a JSON-object response format",
            RequestSetting::JsonSchema => "a JSON-schema response format",
            RequestSetting::ReasoningEffort => "a reasoning effort",
            RequestSetting::ThinkingBudget => "a thinking budget",
            RequestSetting::ToolChoice => "this tool choice",
            RequestSetting::CacheBreakpoint => "prompt-cache breakpoints",
        })
    }
}

/// A request setting that is wrong, or that the provider cannot honour. Found before anything
/// is sent; the [`ProviderError`] a client returns carries it as its
/// [`source`](std::error::Error::source).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestOptionError {
    /// The provider (or this model on it) has no way to honour the setting.
    #[error("{provider} cannot honour {setting}: {why}; drop the setting or route to another provider")]
    Unsupported {
        /// The provider (`"bedrock"`).
        provider: &'static str,
        /// The setting.
        setting: RequestSetting,
        /// Why not.
        why: &'static str,
    },
    /// The tool choice names a tool the request does not define.
    #[error("the tool choice names {name:?}, which is not among the request's tools")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },
    /// A tool choice that requires a call, on a request without tools.
    #[error("the tool choice requires a tool call, but the request has no tools")]
    NoTools,
    /// A cache breakpoint after a message that does not exist.
    #[error("a cache breakpoint follows message {index}, but the request has {len} messages")]
    BreakpointOutOfRange {
        /// The breakpoint's message index.
        index: usize,
        /// The number of messages.
        len: usize,
    },
    /// More cache breakpoints than the provider allows.
    #[error("{provider} allows at most {max} cache breakpoints; the request has {got}")]
    TooManyBreakpoints {
        /// The provider.
        provider: &'static str,
        /// Its limit.
        max: usize,
        /// How many the request has.
        got: usize,
    },
    /// A thinking budget below the provider's minimum, or not below `max_tokens`.
    #[error(
        "a thinking budget of {budget} tokens does not fit: {provider} needs at least {min}, and \
         below max_tokens ({max_tokens})"
    )]
    ThinkingBudget {
        /// The provider.
        provider: &'static str,
        /// The budget asked for.
        budget: u32,
        /// The provider's minimum.
        min: u32,
        /// The request's output limit.
        max_tokens: u32,
    },
}

#[cfg(any(feature = "openai", feature = "anthropic", feature = "bedrock"))]
impl RequestOptionError {
    /// An [`Unsupported`](Self::Unsupported) error.
    pub(crate) const fn unsupported(
        provider: &'static str,
        setting: RequestSetting,
        why: &'static str,
    ) -> Self {
        RequestOptionError::Unsupported {
            provider,
            setting,
            why,
        }
    }

    /// As the [`ProviderError`] a client returns: [`ErrorKind::Unsupported`] for a setting the
    /// provider cannot honour (another provider may), else [`ErrorKind::InvalidRequest`].
    pub(crate) fn into_provider_error(self, provider: &'static str) -> ProviderError {
        let kind = match self {
            RequestOptionError::Unsupported { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidRequest,
        };
        ProviderError::new(kind, self.to_string())
            .with_provider(provider)
            .with_source(self)
    }
}

/// Anthropic's smallest thinking budget (Messages, and Claude on Bedrock).
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
const MIN_THINKING_BUDGET: u32 = 1_024;
/// Output room given beside the thinking budget when the request sets no `max_tokens`.
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
const ANSWER_ROOM: u32 = 4_096;

/// Anthropic-style extended thinking (Messages, and Claude on Bedrock): the request's
/// `max_tokens` (which includes the budget) and its thinking budget, if it asks for reasoning.
///
/// Without `max_tokens`, a budget gets [`ANSWER_ROOM`] tokens beside it, up to the model's
/// output limit. The budget must be at least 1024 and below `max_tokens`; thinking allows no
/// temperature and only the `auto` and `none` tool choices.
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
pub(crate) fn thinking_budget(
    provider: &'static str,
    model: &ModelSpec,
    req: &ChatRequest,
) -> Result<(u32, Option<u32>), RequestOptionError> {
    let (budget, setting) = match req.reasoning {
        None => return Ok((req.max_tokens_or_default(model), None)),
        Some(Reasoning::Effort(e)) => (e.budget_tokens(), RequestSetting::ReasoningEffort),
        Some(Reasoning::BudgetTokens(n)) => (n, RequestSetting::ThinkingBudget),
    };
    let max_tokens = req.max_tokens.unwrap_or_else(|| {
        model
            .max_output_tokens
            .min(budget.saturating_add(ANSWER_ROOM))
            .max(1)
    });
    if budget < MIN_THINKING_BUDGET || budget >= max_tokens {
        return Err(RequestOptionError::ThinkingBudget {
            provider,
            budget,
            min: MIN_THINKING_BUDGET,
            max_tokens,
        });
    }
    if req.temperature.is_some() {
        return Err(RequestOptionError::unsupported(
            provider,
            setting,
            "extended thinking does not allow a temperature",
        ));
    }
    if matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Tool(_))) {
        return Err(RequestOptionError::unsupported(
            provider,
            setting,
            "extended thinking allows only the `auto` and `none` tool choices",
        ));
    }
    Ok((max_tokens, Some(budget)))
}
