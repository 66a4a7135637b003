//! OpenAI streamed chat completions: server-sent events of `chat.completion.chunk`, ending with
//! `data: [DONE]`.

use std::collections::VecDeque;

use super::super::http::{ByteStream, FrameParser, SseFrame, StreamEnd, drive, sse_frames};
use super::super::{ChatStream, ProviderError, StreamEvent, Usage};
use super::wire::{Chunk, finish_reason, malformed};
use super::{PROVIDER, error};
use crate::model::Prices;

/// Turns chunks into events. The `Finish` event waits for `[DONE]`, because the usage chunk
/// comes after the chunk with `finish_reason`; a body that ends before `[DONE]` is truncated.
pub(crate) struct Parser {
    end: StreamEnd,
    usage: Usage,
}

impl Parser {
    pub(crate) fn new(prices: Prices, secrets: Vec<String>) -> Self {
        Self {
            end: StreamEnd::new(prices, secrets),
            usage: Usage::default(),
        }
    }

    fn emit_finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.end.finish(out, self.usage, || {
            malformed("the stream ended before a finish_reason (truncated)", None)
        })
    }
}

impl FrameParser for Parser {
    type Frame = SseFrame;

    fn frame(&mut self, frame: SseFrame, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        let data = frame.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            return self.emit_finish(out);
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| malformed(format_args!("a stream chunk is not valid JSON ({e})"), None))?;
        if let Some(err) = chunk.error {
            let secrets = self.end.secrets();
            return Err(error::from_value(err, &secrets));
        }
        if let Some(u) = chunk.usage {
            self.usage = u.into();
        }
        for choice in chunk.choices {
            if let Some(t) = choice.delta.content.or(choice.delta.refusal)
                && !t.is_empty()
            {
                out.push_back(StreamEvent::TextDelta(t));
            }
            for (pos, c) in choice.delta.tool_calls.into_iter().enumerate() {
                let (name, arguments) = match c.function {
                    Some(f) => (f.name, f.arguments.unwrap_or_default()),
                    None => (None, String::new()),
                };
                out.push_back(StreamEvent::ToolCallDelta {
                    index: c.index.unwrap_or(pos),
                    id: c.id,
                    name,
                    arguments,
                });
            }
            if let Some(r) = choice.finish_reason {
                self.end.finish = Some(finish_reason(&r));
            }
        }
        Ok(())
    }

    fn truncated(&self) -> ProviderError {
        // Without `[DONE]` the usage chunk may be missing too: a truncated stream, not a short one.
        malformed(
            if self.end.finish.is_some() {
                "the stream ended before `data: [DONE]` (truncated; usage may be missing)"
            } else {
                "the stream ended before a finish_reason (truncated)"
            },
            None,
        )
    }

    fn finished(&self) -> bool {
        self.end.done
    }
}

/// Parses an OpenAI event stream.
pub(crate) fn parse(bytes: ByteStream, prices: Prices, secrets: Vec<String>) -> ChatStream {
    drive(sse_frames(PROVIDER, bytes), Parser::new(prices, secrets))
}
