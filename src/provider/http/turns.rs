//! What Anthropic's Messages API and Bedrock's Converse share beside their block shapes (which
//! differ: `{"type": "text", "text": …}` against `{"text": …}`): a conversation as alternating
//! `user`/`assistant` turns, and the stop reasons Converse took over from Messages.

use serde::Serialize;

use crate::provider::{FinishReason, Role};

/// One turn: `{"role": …, "content": [blocks]}`.
#[derive(Serialize)]
pub(crate) struct Turn<B> {
    role: &'static str,
    content: Vec<B>,
}

/// The conversation as turns. Tool results travel in user turns, and the blocks of consecutive
/// messages of one role go into one turn.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct Turns<B>(Vec<Turn<B>>);

impl<B> Turns<B> {
    pub(crate) fn with_capacity(messages: usize) -> Self {
        Self(Vec::with_capacity(messages))
    }

    /// Adds a message of `role` with these blocks (an empty message still opens its turn).
    pub(crate) fn push(&mut self, role: Role, blocks: impl IntoIterator<Item = B>) {
        let role = match role {
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        match self.0.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.0.push(Turn {
                role,
                content: blocks.into_iter().collect(),
            }),
        }
    }

    /// The last block so far (where Anthropic puts a cache breakpoint).
    #[cfg(feature = "anthropic")]
    pub(crate) fn last_block_mut(&mut self) -> Option<&mut B> {
        self.0.last_mut().and_then(|t| t.content.last_mut())
    }
}

/// The finish reason a `stop_reason` names; `filtered` are the provider's names for an answer
/// stopped by a content filter.
pub(crate) fn stop_reason(s: &str, filtered: &[&str]) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        s if filtered.contains(&s) => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}
