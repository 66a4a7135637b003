//! Server-sent events: the body is cut into lines here, each line checked (size, UTF-8), and
//! `eventsource-stream` parses the lines one at a time.
//!
//! Why not hand `eventsource-stream` 0.2 the body as it comes: it re-parses its whole buffer
//! from the start every time a chunk arrives without completing a line, and moves the rest of
//! the buffer after every line it parses. A line that arrives in n chunks costs it O(n × line),
//! and a chunk of k lines O(k × chunk): quadratic (a 1 MiB line took 1.2 s of CPU, 8 MiB 73 s).
//! Its UTF-8 layer keeps an invalid byte and everything after it in a buffer that never decodes,
//! so one stray 0xFF silently swallowed the rest of the stream. Fed one complete, valid line per
//! item, its buffer never holds more than that line, so each byte is parsed once.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};

use super::super::{ErrorKind, ProviderError};
use super::ByteStream;

/// The largest line, and the largest event (all its lines together, from one blank line to the
/// next), accepted in a server-sent event stream, in bytes. Chat completion events are a few
/// hundred bytes; a whole answer sent as one event fits many times over.
pub(crate) const MAX_EVENT_BYTES: usize = 4 << 20;

/// One server-sent event: its `event:` name (empty if none) and `data:`.
#[derive(Debug)]
pub(crate) struct SseFrame {
    #[cfg_attr(not(feature = "anthropic"), allow(dead_code))]
    pub(crate) event: String,
    pub(crate) data: String,
}

/// Cuts a byte stream into lines (ending in `\n`, `\r\n` or `\r`, as the SSE grammar says),
/// each checked for UTF-8, and counts the bytes of the event in progress against a cap.
struct Lines {
    provider: &'static str,
    max: usize,
    /// The start of a line whose end has not arrived.
    partial: BytesMut,
    /// Bytes since the last blank line, `partial` included.
    event_len: usize,
    /// The last line ended with `\r` at the end of a chunk: a `\n` starting the next chunk
    /// completes that `\r\n`.
    after_cr: bool,
}

impl Lines {
    fn new(provider: &'static str, max: usize) -> Self {
        Self {
            provider,
            max,
            partial: BytesMut::new(),
            event_len: 0,
            after_cr: false,
        }
    }

    /// Pushes the complete lines of `chunk` (with their line ends) onto `out`; keeps the rest.
    fn push(
        &mut self,
        mut chunk: Bytes,
        out: &mut VecDeque<Result<Bytes, ProviderError>>,
    ) -> Result<(), ProviderError> {
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            // The parser holds the `\r` line and takes this `\n` as the rest of its line end.
            out.push_back(Ok(chunk.split_to(1)));
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let mut len = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(len) {
                    Some(b'\n') => len += 1,
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let piece = chunk.split_to(len);
            let blank = self.partial.is_empty() && end == 0;
            self.count(piece.len())?;
            let line = if self.partial.is_empty() {
                piece
            } else {
                self.partial.extend_from_slice(&piece);
                self.partial.split().freeze()
            };
            self.check_utf8(&line)?;
            if blank {
                self.event_len = 0;
            }
            out.push_back(Ok(line));
        }
        self.count(chunk.len())?;
        self.partial.extend_from_slice(&chunk);
        Ok(())
    }

    /// At the end of the body: a last line without a line end can end no event, so it is
    /// dropped, but it must still be text.
    fn finish(&mut self) -> Result<(), ProviderError> {
        self.check_utf8(&self.partial)
    }

    /// Adds `n` bytes to the event in progress.
    fn count(&mut self, n: usize) -> Result<(), ProviderError> {
        self.event_len = self.event_len.saturating_add(n);
        if self.event_len > self.max {
            return Err(ProviderError::new(
                ErrorKind::ResponseTooLarge,
                format!(
                    "a server-sent event (or one of its lines) is longer than the cap of {} bytes",
                    self.max
                ),
            )
            .with_provider(self.provider));
        }
        Ok(())
    }

    fn check_utf8(&self, line: &[u8]) -> Result<(), ProviderError> {
        std::str::from_utf8(line).map(drop).map_err(|e| {
            ProviderError::new(
                ErrorKind::MalformedResponse,
                "the event stream is not valid UTF-8",
            )
            .with_provider(self.provider)
            .with_source(e)
        })
    }
}

/// The body as complete lines, one per item; an error (too long, not UTF-8, transport) ends it.
fn lines(
    provider: &'static str,
    bytes: ByteStream,
    max: usize,
) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send {
    struct St {
        bytes: ByteStream,
        lines: Lines,
        ready: VecDeque<Result<Bytes, ProviderError>>,
        done: bool,
    }
    let st = St {
        bytes,
        lines: Lines::new(provider, max),
        ready: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.ready.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            let step = match st.bytes.next().await {
                Some(Ok(chunk)) => st.lines.push(chunk, &mut st.ready),
                Some(Err(e)) => Err(e),
                None => {
                    st.done = true;
                    st.lines.finish()
                }
            };
            if let Err(e) = step {
                st.done = true;
                st.ready.push_back(Err(e));
            }
        }
    })
}

/// Parses a byte stream as server-sent events, with no line or event over [`MAX_EVENT_BYTES`].
pub(crate) fn sse_frames(
    provider: &'static str,
    bytes: ByteStream,
) -> impl Stream<Item = Result<SseFrame, ProviderError>> + Send + Unpin + 'static {
    Box::pin(lines(provider, bytes, MAX_EVENT_BYTES))
        .eventsource()
        .map(move |r| match r {
            Ok(ev) => Ok(SseFrame {
                event: ev.event,
                data: ev.data,
            }),
            Err(EventStreamError::Transport(e)) => Err(e),
            // The lines were checked above; kept for completeness.
            Err(EventStreamError::Utf8(e)) => Err(ProviderError::new(
                ErrorKind::MalformedResponse,
                "the event stream is not valid UTF-8",
            )
            .with_provider(provider)
            .with_source(e)),
            Err(EventStreamError::Parser(e)) => Err(ProviderError::new(
                ErrorKind::MalformedResponse,
                format!("the event stream is not valid server-sent events: {e}"),
            )
            .with_provider(provider)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `chunks` give, as text, or the kind of the error that ended them.
    fn run(chunks: &[&[u8]], max: usize) -> (Vec<String>, Option<ErrorKind>) {
        let mut l = Lines::new("t", max);
        let mut out = VecDeque::new();
        let mut err = None;
        for c in chunks {
            if let Err(e) = l.push(Bytes::copy_from_slice(c), &mut out) {
                err = Some(e.kind());
                break;
            }
        }
        if err.is_none() {
            err = l.finish().err().map(|e| e.kind());
        }
        let lines = out
            .into_iter()
            .map(|r| String::from_utf8(r.unwrap().to_vec()).unwrap())
            .collect();
        (lines, err)
    }

    #[test]
    fn lines_end_at_lf_crlf_and_cr_even_across_chunks() {
        let (lines, err) = run(
            &[b"data: a\n\nda", b"ta: b\r", b"\n\r", b"\ndata: c\rdata: d\r\r"],
            100,
        );
        assert_eq!(err, None);
        assert_eq!(
            lines,
            [
                "data: a\n",
                "\n",
                "data: b\r",
                "\n",
                "\r",
                "\n",
                "data: c\r",
                "data: d\r",
                "\r"
            ]
        );
        // A last line without its end is held back (it can end no event).
        let (lines, _) = run(&[b"data: a\n", b"data: cut"], 100);
        assert_eq!(lines, ["data: a\n"]);
    }

    #[test]
    fn a_line_or_event_over_the_cap_is_an_error() {
        // 10 bytes per event are fine, spread over lines and chunks.
        let (lines, err) = run(&[b"data: 1\n\n", b"data", b": 2\n\ndata: 3\n\n"], 10);
        assert_eq!((lines.len(), err), (6, None));
        // One line of 11 bytes, in pieces, fails before its end arrives.
        let (_, err) = run(&[b"data: ", b"12345"], 10);
        assert_eq!(err, Some(ErrorKind::ResponseTooLarge));
        // Two lines of one event, 12 bytes together.
        let (lines, err) = run(&[b"data: 1\ndata: 2\n\n"], 10);
        assert_eq!(
            (lines, err),
            (vec!["data: 1\n".to_owned()], Some(ErrorKind::ResponseTooLarge))
        );
    }

    #[test]
    fn a_stray_byte_that_is_not_utf8_is_an_error_at_its_line() {
        let (lines, err) = run(&[b"data: a\n\ndata: \xff\n\ndata: b\n\n"], 100);
        assert_eq!(
            (lines, err),
            (
                vec!["data: a\n".to_owned(), "\n".to_owned()],
                Some(ErrorKind::MalformedResponse)
            )
        );
        let (_, err) = run(&[b"data: \xff"], 100);
        assert_eq!(err, Some(ErrorKind::MalformedResponse));
        // A character split across chunks is fine.
        let (lines, err) = run(&[b"data: \xc3", b"\xa9\n"], 100);
        assert_eq!((lines, err), (vec!["data: é\n".to_owned()], None));
    }
}
