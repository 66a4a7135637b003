//! Anthropic streamed messages: server-sent events `message_start`, `content_block_start`,
//! `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`, `error`.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::Deserialize;

use super::super::http::{ByteStream, FrameParser, SseFrame, StreamEnd, ToolBlocks, drive, sse_frames};
use super::super::{ChatStream, ProviderError, StreamEvent};
use super::wire::{WireUsage, finish_reason, malformed};
use super::{PROVIDER, error};
use crate::model::Prices;

// Events are read by their SSE name into flat structs: serde's internally tagged enums buffer
// every event into an intermediate tree first, which halved the throughput.

/// Only the `type` field, for events that come without an SSE `event:` name.
#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// `content_block_start` and `content_block_delta`: a block's index, and the block a start opens
/// (in `content_block`) or the delta to it (in `delta`). Each event reads its own field only.
#[derive(Deserialize)]
struct BlockEvent<'a> {
    index: usize,
    #[serde(default, borrow)]
    content_block: Option<Block<'a>>,
    #[serde(default, borrow)]
    delta: Option<Block<'a>>,
}

/// A block or a delta: its type, and the fields of the types this client reads (`text` of
/// `text` and `text_delta`, `id` and `name` of `tool_use`, `partial_json` of `input_json_delta`).
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
}

#[derive(Deserialize)]
struct MessageDeltaEvent {
    delta: MessageDelta,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct MessageDelta {
    stop_reason: Option<String>,
}

fn json<'a, T: Deserialize<'a>>(event: &str, data: &'a str) -> Result<T, ProviderError> {
    serde_json::from_str(data)
        .map_err(|e| malformed(format_args!("the `{event}` event is not valid JSON ({e})")))
}

pub(crate) struct Parser {
    end: StreamEnd,
    usage: WireUsage,
    tools: ToolBlocks,
}

impl Parser {
    pub(crate) fn new(prices: Prices, secrets: Vec<String>) -> Self {
        Self {
            end: StreamEnd::new(prices, secrets),
            usage: WireUsage::default(),
            tools: ToolBlocks::default(),
        }
    }

    fn emit_finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.end.finish(out, self.usage.usage(), || {
            malformed("the stream ended before message_delta's stop_reason (truncated)")
        })
    }
}

impl FrameParser for Parser {
    type Frame = SseFrame;

    fn frame(&mut self, frame: SseFrame, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if frame.data.trim().is_empty() {
            return Ok(());
        }
        let typed;
        let name = if frame.event.is_empty() {
            typed = json::<TypeOnly<'_>>("unnamed", &frame.data)?;
            typed.kind.as_ref()
        } else {
            frame.event.as_str()
        };
        match name {
            "message_start" => {
                let m: MessageStart = json(name, &frame.data)?;
                if let Some(u) = m.message.usage {
                    self.usage.merge(u);
                }
            }
            // The block's type says what it carries: `text` and `tool_use` open a block (in a
            // `content_block_start`), `text_delta` and `input_json_delta` add to one (in a
            // `content_block_delta`). A type of the other event's kind is ignored, like any
            // type this client does not know.
            "content_block_start" | "content_block_delta" => {
                let b: BlockEvent<'_> = json(name, &frame.data)?;
                let start = name == "content_block_start";
                let (block, field) = if start {
                    (b.content_block, "content_block")
                } else {
                    (b.delta, "delta")
                };
                let Some(block) = block else {
                    return Err(malformed(format_args!("{name} without its {field}")));
                };
                match (start, block.kind.as_ref()) {
                    (true, "text") | (false, "text_delta") => {
                        if let Some(t) = block.text.filter(|t| !t.is_empty()) {
                            out.push_back(StreamEvent::TextDelta(t));
                        }
                    }
                    (true, "tool_use") => {
                        let (id, name) = (block.id, block.name);
                        out.push_back(self.tools.start(
                            b.index,
                            id.unwrap_or_default(),
                            name.unwrap_or_default(),
                        ));
                    }
                    (false, "input_json_delta") => {
                        let args = block.partial_json.unwrap_or_default();
                        let Some(delta) = self.tools.delta(b.index, args) else {
                            return Err(malformed(format_args!(
                                "input_json_delta for block {}, which is not a tool_use block",
                                b.index
                            )));
                        };
                        out.push_back(delta);
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let m: MessageDeltaEvent = json(name, &frame.data)?;
                if let Some(u) = m.usage {
                    self.usage.merge(u);
                }
                if let Some(r) = m.delta.stop_reason {
                    self.end.finish = Some(finish_reason(&r));
                }
            }
            "message_stop" => return self.emit_finish(out),
            "error" => {
                let secrets = self.end.secrets();
                return Err(error::from_event(&frame.data, &secrets));
            }
            // ping, content_block_stop, and events this client does not use.
            _ => {}
        }
        Ok(())
    }

    fn truncated(&self) -> ProviderError {
        malformed("the stream ended before message_stop (truncated)")
    }

    fn finished(&self) -> bool {
        self.end.done
    }
}

/// Parses an Anthropic event stream.
pub(crate) fn parse(bytes: ByteStream, prices: Prices, secrets: Vec<String>) -> ChatStream {
    drive(sse_frames(PROVIDER, bytes), Parser::new(prices, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(frames: &[(&str, &str)]) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut p = Parser::new(Prices::new(1.0, 1.0), Vec::new());
        let mut out = VecDeque::new();
        for (event, data) in frames {
            let frame = SseFrame {
                event: (*event).to_owned(),
                data: (*data).to_owned(),
            };
            p.frame(frame, &mut out)?;
        }
        Ok(out.into())
    }

    #[test]
    fn a_block_event_with_a_type_of_the_other_event_kind_is_ignored() {
        let start = "content_block_start";
        let delta = "content_block_delta";
        let wrong = [
            (
                delta,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text","text":"x"}}"#,
            ),
            (
                delta,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"tool_use","id":"t","name":"f"}}"#,
            ),
            (
                start,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text_delta","text":"x"}}"#,
            ),
            (
                start,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"input_json_delta","partial_json":"{}"}}"#,
            ),
        ];
        for (event, data) in wrong {
            // named by the SSE `event:` line, and unnamed (read from `type`)
            for name in [event, ""] {
                let got = events(&[(name, data)]);
                assert!(matches!(&got, Ok(e) if e.is_empty()), "{name:?} {data}: {got:?}");
            }
        }
        // After a tool_use block opened, a start that carries a delta type adds nothing to it.
        let tool = r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f"}}"#;
        let stray = r#"{"type":"content_block_start","index":1,"content_block":{"type":"input_json_delta","partial_json":"{}"}}"#;
        let got = events(&[(start, tool), (start, stray)]).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn a_block_event_reads_its_own_field_only() {
        // A delta under a start's field name, and a block under a delta's: each event has
        // nothing in the field it reads.
        let swapped = [
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"content_block":{"type":"text_delta","text":"x"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"delta":{"type":"text","text":"x"}}"#,
            ),
        ];
        for (event, data) in swapped {
            let got = events(&[(event, data)]);
            assert!(
                matches!(&got, Err(e) if e.kind() == crate::provider::ErrorKind::MalformedResponse),
                "{event} {data}: {got:?}"
            );
        }
    }

    #[test]
    fn block_events_of_the_right_kind_are_read() {
        let got = events(&[
            ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"a"}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"b"}}"#),
            ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f"}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#),
        ])
        .unwrap();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], StreamEvent::TextDelta("a".to_owned()));
        assert_eq!(got[1], StreamEvent::TextDelta("b".to_owned()));
    }
}
