//! Anthropic streamed messages: server-sent events `message_start`, `content_block_start`,
//! `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`, `error`.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;

use super::super::http::{ByteStream, FrameParser, SseFrame, drive, sse_frames};
use super::super::{ChatStream, FinishReason, ProviderError, StreamEvent};
use super::wire::{WireUsage, finish_reason, malformed};
use super::{PROVIDER, error};
use crate::model::Prices;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {},
    MessageDelta {
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop {},
    Ping {},
    Error {},
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the wire's names
enum Delta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    stop_reason: Option<String>,
}

pub(crate) struct Parser {
    prices: Prices,
    usage: WireUsage,
    /// Content block index → tool call ordinal.
    tools: HashMap<usize, usize>,
    finish: Option<FinishReason>,
    done: bool,
    secrets: Vec<String>,
}

impl Parser {
    pub(crate) fn new(prices: Prices, secrets: Vec<String>) -> Self {
        Self {
            prices,
            usage: WireUsage::default(),
            tools: HashMap::new(),
            finish: None,
            done: false,
            secrets,
        }
    }

    fn emit_finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        let Some(finish_reason) = self.finish.take() else {
            return Err(malformed(
                "the stream ended before message_delta's stop_reason (truncated)",
            ));
        };
        self.done = true;
        let usage = self.usage.usage();
        out.push_back(StreamEvent::Finish {
            finish_reason,
            usage,
            cost_usd: usage.cost_usd(&self.prices),
        });
        Ok(())
    }
}

impl FrameParser for Parser {
    type Frame = SseFrame;

    fn frame(&mut self, frame: SseFrame, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if frame.data.trim().is_empty() {
            return Ok(());
        }
        if frame.event == "error" {
            let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
            return Err(error::from_event(&frame.data, &secrets));
        }
        let ev: Event = serde_json::from_str(&frame.data)
            .map_err(|e| malformed(format_args!("a stream event is not valid JSON ({e})")))?;
        match ev {
            Event::MessageStart { message } => {
                if let Some(u) = message.usage {
                    self.usage.merge(u);
                }
            }
            Event::ContentBlockStart { index, content_block } => match content_block {
                StartBlock::Text { text } if !text.is_empty() => out.push_back(StreamEvent::TextDelta(text)),
                StartBlock::ToolUse { id, name } => {
                    let ordinal = self.tools.len();
                    self.tools.insert(index, ordinal);
                    out.push_back(StreamEvent::ToolCallDelta {
                        index: ordinal,
                        id: Some(id),
                        name: Some(name),
                        arguments: String::new(),
                    });
                }
                _ => {}
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                Delta::TextDelta { text } if !text.is_empty() => out.push_back(StreamEvent::TextDelta(text)),
                Delta::InputJsonDelta { partial_json } => {
                    let Some(&ordinal) = self.tools.get(&index) else {
                        return Err(malformed(format_args!(
                            "input_json_delta for block {index}, which is not a tool_use block"
                        )));
                    };
                    out.push_back(StreamEvent::ToolCallDelta {
                        index: ordinal,
                        id: None,
                        name: None,
                        arguments: partial_json,
                    });
                }
                _ => {}
            },
            Event::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    self.usage.merge(u);
                }
                if let Some(r) = delta.stop_reason {
                    self.finish = Some(finish_reason(&r));
                }
            }
            Event::MessageStop {} => return self.emit_finish(out),
            Event::Error {} => {
                let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
                return Err(error::from_event(&frame.data, &secrets));
            }
            Event::ContentBlockStop {} | Event::Ping {} | Event::Unknown => {}
        }
        Ok(())
    }

    fn end(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        let _ = out;
        Err(malformed("the stream ended before message_stop (truncated)"))
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Parses an Anthropic event stream.
pub(crate) fn parse(bytes: ByteStream, prices: Prices, secrets: Vec<String>) -> ChatStream {
    drive(sse_frames(PROVIDER, bytes), Parser::new(prices, secrets))
}
