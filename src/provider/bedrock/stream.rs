//! Bedrock ConverseStream: AWS event-stream binary frames (decoded by `aws-smithy-eventstream`,
//! CRCs checked) carrying JSON events `messageStart`, `contentBlockStart`, `contentBlockDelta`,
//! `contentBlockStop`, `messageStop`, `metadata`, or exceptions.

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::BytesMut;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::super::http::{ByteStream, FrameParser, StreamEnd, ToolBlocks, drive};
use super::super::{ChatStream, ProviderError, StreamEvent, Usage};
use super::error;
use super::wire::{WireUsage, finish_reason, malformed};
use crate::model::Prices;

/// Decodes the byte stream into event-stream messages. A frame cut off at the end of the body,
/// or one that fails its length or CRC checks, is a malformed-response error.
pub(crate) fn frames(bytes: ByteStream) -> impl Stream<Item = Result<Message, ProviderError>> + Send + Unpin {
    struct St {
        bytes: ByteStream,
        buf: BytesMut,
        decoder: MessageFrameDecoder,
        partial: bool,
        done: bool,
    }
    let st = St {
        bytes,
        buf: BytesMut::new(),
        decoder: MessageFrameDecoder::new(),
        partial: false,
        done: false,
    };
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.decoder.decode_frame(&mut st.buf) {
                Ok(DecodedFrame::Complete(m)) => {
                    st.partial = !st.buf.is_empty();
                    return Some((Ok(m), st));
                }
                Ok(DecodedFrame::Incomplete) => {}
                Err(e) => {
                    st.done = true;
                    return Some((
                        Err(malformed(format_args!(
                            "a frame of the event stream is invalid: {e}"
                        ))),
                        st,
                    ));
                }
            }
            match st.bytes.next().await {
                Some(Ok(chunk)) => {
                    st.buf.extend_from_slice(&chunk);
                    st.partial = true;
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    if st.partial {
                        return Some((
                            Err(malformed("the event stream ends inside a frame (truncated)")),
                            st,
                        ));
                    }
                    return None;
                }
            }
        }
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    content_block_index: usize,
    #[serde(default)]
    start: Option<StartBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    tool_use: Option<StartToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToolUse {
    tool_use_id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    content_block_index: usize,
    delta: DeltaBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaBody {
    text: Option<String>,
    tool_use: Option<DeltaToolUse>,
}

#[derive(Deserialize)]
struct DeltaToolUse {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    stop_reason: String,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    usage: Option<WireUsage>,
}

pub(crate) struct Parser {
    end: StreamEnd,
    tools: ToolBlocks,
    usage: Usage,
}

impl Parser {
    pub(crate) fn new(prices: Prices, secrets: Vec<String>) -> Self {
        Self {
            end: StreamEnd::new(prices, secrets),
            tools: ToolBlocks::default(),
            usage: Usage::default(),
        }
    }

    fn emit_finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.end.finish(out, self.usage, || {
            malformed("the stream ended before messageStop (truncated)")
        })
    }
}

fn header<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn json<'a, T: Deserialize<'a>>(event: &str, payload: &'a [u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(payload)
        .map_err(|e| malformed(format_args!("the `{event}` event is not valid ({e})")))
}

impl FrameParser for Parser {
    type Frame = Message;

    fn frame(&mut self, m: Message, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        let secrets = self.end.secrets();
        match header(&m, ":message-type").unwrap_or("event") {
            "event" => {}
            "exception" => {
                let name = header(&m, ":exception-type").unwrap_or("unknownException");
                return Err(error::from_exception(name, m.payload(), &secrets));
            }
            "error" => {
                let code = header(&m, ":error-code").unwrap_or("unknownError");
                let msg = header(&m, ":error-message").unwrap_or("no message");
                return Err(error::from_exception(
                    code,
                    serde_json::json!({ "message": msg }).to_string().as_bytes(),
                    &secrets,
                ));
            }
            other => {
                return Err(malformed(format_args!(
                    "unknown event-stream message type `{other}`"
                )));
            }
        }
        let event = header(&m, ":event-type").unwrap_or("");
        let payload = m.payload();
        match event {
            "messageStart" | "contentBlockStop" => {}
            "contentBlockStart" => {
                // aimock sends `"start": {}` for text blocks; the real service starts only tool blocks.
                let s: BlockStart = json(event, payload)?;
                if let Some(t) = s.start.and_then(|b| b.tool_use) {
                    out.push_back(self.tools.start(s.content_block_index, t.tool_use_id, t.name));
                }
            }
            "contentBlockDelta" => {
                let d: BlockDelta = json(event, payload)?;
                if let Some(t) = d.delta.text
                    && !t.is_empty()
                {
                    out.push_back(StreamEvent::TextDelta(t));
                }
                if let Some(t) = d.delta.tool_use {
                    let Some(delta) = self.tools.delta(d.content_block_index, t.input) else {
                        return Err(malformed(format_args!(
                            "a toolUse delta for block {}, which was not started as a tool block",
                            d.content_block_index
                        )));
                    };
                    out.push_back(delta);
                }
            }
            "messageStop" => {
                let s: MessageStop = json(event, payload)?;
                self.end.finish = Some(finish_reason(&s.stop_reason));
            }
            "metadata" => {
                let md: Metadata = json(event, payload)?;
                if let Some(u) = md.usage {
                    self.usage = u.into();
                }
                if self.end.finish.is_some() {
                    return self.emit_finish(out);
                }
            }
            // Events this client does not use (reasoning, citations, guardrail traces).
            _ => {}
        }
        Ok(())
    }

    fn truncated(&self) -> ProviderError {
        malformed(if self.end.finish.is_some() {
            "the stream ended before the metadata event with usage (truncated)"
        } else {
            "the stream ended before messageStop (truncated)"
        })
    }

    fn finished(&self) -> bool {
        self.end.done
    }
}

/// Parses a ConverseStream body.
pub(crate) fn parse(bytes: ByteStream, prices: Prices, secrets: Vec<String>) -> ChatStream {
    drive(frames(bytes), Parser::new(prices, secrets))
}

/// Encodes one event as an event-stream frame (for tests, benches and the wire fixtures).
pub(crate) fn encode_event(message_type: &str, type_header: &str, name: &str, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::Header;
    let m = Message::new(bytes::Bytes::copy_from_slice(payload))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_owned().into()),
        ))
        .add_header(Header::new(
            type_header.to_owned(),
            HeaderValue::String(name.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".to_owned().into()),
        ));
    let mut out = Vec::new();
    // Writing to a Vec fails only for headers or payloads over the format's limits.
    let _ = aws_smithy_eventstream::frame::write_message_to(&m, &mut out);
    out
}
