//! [`ChatResponse`], [`StreamEvent`] and the [`Collector`] that turns a stream into a response.

use serde::{Deserialize, Serialize};

use super::error::{ErrorKind, ProviderError};
use super::ratelimit::RateLimits;
use super::request::ToolCall;
use crate::model::{ModelId, ModelSpec, Prices};
use crate::prices::TokenCounts;

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// It finished its answer (or hit a stop sequence).
    Stop,
    /// It reached `max_tokens` (or the context window).
    Length,
    /// It called tools and waits for their results.
    ToolCalls,
    /// A content filter or guardrail stopped it.
    ContentFilter,
    /// Another reason, as the provider named it.
    Other(String),
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Input (prompt) tokens, including the cached ones.
    pub input_tokens: u32,
    /// Output (completion) tokens.
    pub output_tokens: u32,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cached_input_tokens: u32,
    /// The part of `input_tokens` written to the provider's prompt cache (5-minute time to
    /// live, Anthropic's default), billed at the model's cache-write price.
    #[serde(default)]
    pub cache_write_tokens: u32,
}

impl Usage {
    /// Token counts; `cached_input_tokens` is part of `input_tokens`.
    pub const fn new(input_tokens: u32, output_tokens: u32, cached_input_tokens: u32) -> Self {
        Self {
            input_tokens,
            output_tokens,
            cached_input_tokens,
            cache_write_tokens: 0,
        }
    }

    /// Sets the part of the input written to the prompt cache.
    pub const fn with_cache_write_tokens(mut self, n: u32) -> Self {
        self.cache_write_tokens = n;
        self
    }

    /// The counts as [`Prices::cost`] bills them.
    pub const fn tokens(&self) -> TokenCounts {
        TokenCounts::new(self.input_tokens, self.output_tokens)
            .with_cache_read(self.cached_input_tokens)
            .with_cache_writes(self.cache_write_tokens, 0)
    }

    /// The cost in USD of these tokens at `prices` (see [`Prices::cost`]).
    pub fn cost_usd(&self, prices: &Prices) -> f64 {
        prices.cost(&self.tokens())
    }
}

/// A complete answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatResponse {
    /// The catalog id of the model that answered.
    pub model: ModelId,
    /// The text of the answer (empty if the model only called tools).
    pub text: String,
    /// The tools the model called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Usage,
    /// Cost in USD from the model's catalog prices.
    pub cost_usd: f64,
    /// What the provider's rate-limit headers said, where it sent them (for a stream, its
    /// [`StreamEvent::RateLimits`], kept by the [`Collector`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
}

impl ChatResponse {
    /// A response from `model`, with the cost computed from its prices.
    pub fn new(
        model: &ModelSpec,
        text: String,
        tool_calls: Vec<ToolCall>,
        finish_reason: FinishReason,
        usage: Usage,
    ) -> Self {
        Self {
            model: model.id.clone(),
            text,
            tool_calls,
            finish_reason,
            usage,
            cost_usd: usage.cost_usd(&model.prices),
            rate_limits: None,
        }
    }

    /// A finished text answer from `model` (no tool calls, [`FinishReason::Stop`]), with the
    /// cost computed from its prices: what a fake or a simple custom [`Provider`](crate::provider::Provider) returns.
    pub fn text(model: &ModelSpec, text: impl Into<String>, usage: Usage) -> Self {
        Self::new(model, text.into(), Vec::new(), FinishReason::Stop, usage)
    }

    /// With what the provider's rate-limit headers said.
    pub fn with_rate_limits(mut self, limits: Option<RateLimits>) -> Self {
        self.rate_limits = limits;
        self
    }
}

/// One event of a streamed answer. A well-formed stream ends with exactly one
/// [`Finish`](Self::Finish).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StreamEvent {
    /// More text.
    TextDelta(String),
    /// Part of a tool call. The first delta of a call carries its `id` and `name`; the
    /// `arguments` fragments of one `index`, concatenated, are the arguments' JSON text.
    ToolCallDelta {
        /// Which call of this answer (0, 1, ...).
        index: usize,
        /// The call's id (first delta only).
        id: Option<String>,
        /// The tool's name (first delta only).
        name: Option<String>,
        /// A fragment of the arguments' JSON text.
        arguments: String,
    },
    /// What the provider's rate-limit headers said about the key (sent before the first
    /// token by the clients whose provider sends such headers; a runtime's limiter learns
    /// from it as from [`ChatResponse::rate_limits`]).
    RateLimits(RateLimits),
    /// The end: why it stopped, token counts and cost.
    Finish {
        /// Why it stopped.
        finish_reason: FinishReason,
        /// Token counts.
        usage: Usage,
        /// Cost in USD from the model's catalog prices.
        cost_usd: f64,
    },
}

/// Builds a [`ChatResponse`] from [`StreamEvent`]s.
///
/// ```
/// use futures::StreamExt;
/// # async fn demo(mut stream: taskroute::provider::ChatStream, model: &taskroute::ModelSpec)
/// #     -> Result<(), taskroute::provider::ProviderError> {
/// let mut c = taskroute::provider::Collector::new();
/// while let Some(ev) = stream.next().await {
///     c.push(ev?);
/// }
/// let response = c.finish(model)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Collector {
    text: String,
    calls: Vec<(Option<String>, Option<String>, String)>,
    finish: Option<(FinishReason, Usage)>,
    rate_limits: Option<RateLimits>,
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event.
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::TextDelta(t) => self.text.push_str(&t),
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                // Indexes come from the server; cap them so a hostile one cannot make us allocate.
                let index = index.min(1_024);
                if self.calls.len() <= index {
                    self.calls.resize(index + 1, (None, None, String::new()));
                }
                let c = &mut self.calls[index];
                if id.is_some() {
                    c.0 = id;
                }
                if name.is_some() {
                    c.1 = name;
                }
                c.2.push_str(&arguments);
            }
            StreamEvent::RateLimits(limits) => self.rate_limits = Some(limits),
            StreamEvent::Finish {
                finish_reason, usage, ..
            } => self.finish = Some((finish_reason, usage)),
        }
    }

    /// Whether a [`StreamEvent::Finish`] was seen.
    pub fn is_finished(&self) -> bool {
        self.finish.is_some()
    }

    /// The response so far.
    ///
    /// # Errors
    /// [`ErrorKind::MalformedResponse`] if the stream ended without a `Finish` event.
    pub fn finish(self, model: &ModelSpec) -> Result<ChatResponse, ProviderError> {
        let Some((finish_reason, usage)) = self.finish else {
            return Err(ProviderError::new(
                ErrorKind::MalformedResponse,
                "the stream ended before its finish event (truncated)",
            ));
        };
        let tool_calls = self
            .calls
            .into_iter()
            .filter(|(id, name, _)| id.is_some() || name.is_some())
            .map(|(id, name, args)| {
                ToolCall::from_json_text(id.unwrap_or_default(), name.unwrap_or_default(), &args)
            })
            .collect();
        Ok(
            ChatResponse::new(model, self.text, tool_calls, finish_reason, usage)
                .with_rate_limits(self.rate_limits),
        )
    }
}
