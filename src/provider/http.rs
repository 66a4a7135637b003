//! HTTP plumbing the clients share: settings, secrets, size caps, error mapping, and the
//! driver that turns frames (SSE events, AWS event-stream messages) into [`StreamEvent`]s.
//!
//! Compiled with any client feature; holds no provider-specific knowledge.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::{ChatStream, ErrorKind, ProviderError, StreamEvent};

/// Default time allowed for a whole non-streamed request, and for a streamed answer to start.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default cap on a response body (whole or streamed), in bytes.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Default time allowed to connect.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret (API key, AWS secret key, session token) that never prints.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Transport settings every client has.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

impl Transport {
    /// Builds the settings; unless a client is given, makes one with rustls, a connect timeout and
    /// a read timeout (the longest wait between two chunks) equal to `timeout`.
    pub(crate) fn new(
        provider: &str,
        client: Option<reqwest::Client>,
        timeout: Option<Duration>,
        max_response_bytes: Option<usize>,
    ) -> Result<Self, ProviderError> {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let client = match client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(timeout)
                .build()
                .map_err(|e| {
                    ProviderError::new(ErrorKind::Config, "could not build the HTTP client")
                        .with_provider(provider)
                        .with_source(e.without_url())
                })?,
        };
        Ok(Self {
            client,
            timeout,
            max_response_bytes: max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        })
    }
}

/// Parses a base URL and checks that a key may be sent to it: `https`, or `http` to a loopback
/// address (`127.0.0.0/8`, `::1`, `localhost`) only.
pub(crate) fn parse_base_url(
    provider: &str,
    raw: &str,
    sends_secret: bool,
) -> Result<reqwest::Url, ProviderError> {
    let config = |msg: String| ProviderError::new(ErrorKind::Config, msg).with_provider(provider);
    let url = reqwest::Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| config(format!("base URL `{raw}` is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if sends_secret && !is_loopback(&url) {
                return Err(config(format!(
                    "refusing to send credentials over plain http to `{}`: use https, or http to a loopback \
                     address (127.0.0.1, ::1, localhost)",
                    url.host_str().unwrap_or("")
                )));
            }
        }
        other => return Err(config(format!("base URL scheme `{other}` is not http or https"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(config(format!("base URL `{raw}` has no host")));
    }
    Ok(url)
}

/// Whether the URL's host is a loopback address.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Joins a base URL and a path (`/v1/chat/completions`), keeping the base's own path.
#[cfg_attr(not(any(feature = "openai", feature = "anthropic")), allow(dead_code))]
pub(crate) fn join(base: &reqwest::Url, path: &str) -> reqwest::Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

/// Maps a reqwest error (without its URL) to a provider error.
pub(crate) fn transport_error(provider: &str, e: reqwest::Error) -> ProviderError {
    let e = e.without_url();
    let (kind, msg) = if e.is_timeout() {
        (ErrorKind::Timeout, "the request timed out")
    } else if e.is_connect() {
        (ErrorKind::Transport, "could not connect")
    } else if e.is_body() || e.is_decode() {
        (
            ErrorKind::Transport,
            "the connection failed while reading the response",
        )
    } else if e.is_builder() {
        (ErrorKind::Config, "could not build the request")
    } else {
        (ErrorKind::Transport, "the request failed")
    };
    ProviderError::new(kind, msg)
        .with_provider(provider)
        .with_source(e)
}

/// `Retry-After` (seconds, possibly fractional) or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && (0.0..=86_400_000.0).contains(&ms)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let secs = get("retry-after")?.parse::<f64>().ok()?;
    (secs.is_finite() && (0.0..=86_400.0).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// The error kind an HTTP status suggests when the body says nothing more specific.
pub(crate) fn status_kind(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        413 => ErrorKind::InvalidRequest,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::InvalidRequest,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::MalformedResponse,
    }
}

/// Reads a whole body, failing once it passes `max` bytes (checked against `Content-Length`
/// first, then while reading).
pub(crate) async fn read_capped(
    provider: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ProviderError> {
    if let Some(len) = resp.content_length()
        && len > max as u64
    {
        return Err(too_large(provider, max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(provider, e))? {
        if body.len() + chunk.len() > max {
            return Err(too_large(provider, max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn too_large(provider: &str, max: usize) -> ProviderError {
    ProviderError::new(
        ErrorKind::ResponseTooLarge,
        format!("the response is larger than the cap of {max} bytes"),
    )
    .with_provider(provider)
}

/// A boxed stream of body chunks.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

/// The response body as a stream of chunks, failing once the total passes `max` bytes.
pub(crate) fn capped_bytes(provider: &'static str, resp: reqwest::Response, max: usize) -> ByteStream {
    cap_stream(
        provider,
        resp.bytes_stream()
            .map(move |r| r.map_err(|e| transport_error(provider, e))),
        max,
    )
}

/// Caps the total size of a chunk stream; after an error the stream ends.
pub(crate) fn cap_stream<S>(provider: &'static str, inner: S, max: usize) -> ByteStream
where
    S: Stream<Item = Result<Bytes, ProviderError>> + Send + 'static,
{
    let mut seen = 0usize;
    Box::pin(
        inner
            .map(move |r| match r {
                Ok(b) => {
                    seen = seen.saturating_add(b.len());
                    if seen > max {
                        Err(too_large(provider, max))
                    } else {
                        Ok(b)
                    }
                }
                Err(e) => Err(e),
            })
            .scan(false, |stop, r| {
                if *stop {
                    return futures::future::ready(None);
                }
                *stop = r.is_err();
                futures::future::ready(Some(r))
            }),
    )
}

/// Turns provider frames into [`StreamEvent`]s. One per stream; the driver calls
/// [`frame`](Self::frame) for each frame and [`end`](Self::end) once the input ends.
pub(crate) trait FrameParser: Send + 'static {
    /// What the framing layer yields.
    type Frame: Send;
    /// Handles one frame, pushing any events.
    fn frame(&mut self, frame: Self::Frame, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// The input ended; push the final events or fail if the stream was cut short.
    fn end(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// Whether the answer is complete; the driver stops reading once it is.
    fn finished(&self) -> bool;
}

struct Drive<S, P> {
    frames: S,
    parser: P,
    out: VecDeque<StreamEvent>,
    done: bool,
}

/// Runs a [`FrameParser`] over a frame stream. The result ends after the parser's
/// [`StreamEvent::Finish`] or after the first error.
pub(crate) fn drive<S, P>(frames: S, parser: P) -> ChatStream
where
    S: Stream<Item = Result<P::Frame, ProviderError>> + Send + Unpin + 'static,
    P: FrameParser,
{
    let state = Drive {
        frames,
        parser,
        out: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.out.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            let step = match st.frames.next().await {
                Some(Ok(frame)) => st.parser.frame(frame, &mut st.out),
                Some(Err(e)) => Err(e),
                None => {
                    st.done = true;
                    st.parser.end(&mut st.out)
                }
            };
            if let Err(e) = step {
                st.done = true;
                st.out.clear();
                return Some((Err(e), st));
            }
            if st.parser.finished() {
                st.done = true;
            }
        }
    })
    .boxed()
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) use sse::{SseFrame, sse_frames};

#[cfg(any(feature = "openai", feature = "anthropic"))]
mod sse {
    use super::*;
    use eventsource_stream::{EventStreamError, Eventsource};

    /// One server-sent event: its `event:` name (empty if none) and `data:`.
    #[derive(Debug)]
    pub(crate) struct SseFrame {
        #[cfg_attr(not(feature = "anthropic"), allow(dead_code))]
        pub(crate) event: String,
        pub(crate) data: String,
    }

    /// Cuts chunks after each blank line (`\n\n` or `\n\r\n`), so that `eventsource-stream`
    /// sees about one event at a time.
    ///
    /// `eventsource-stream` 0.2 moves the rest of its buffer after every line it parses
    /// (`String::split_off`), which is quadratic in the chunk size: a 16 KiB network chunk of small
    /// events costs it ~80 copies of the remainder. Fed event by event, the remainder is a line or
    /// two. `\n` never occurs inside a UTF-8 sequence, so no character is split; `Bytes::slice`
    /// copies nothing. Streams with `\r`-only line ends are passed through uncut (correct, slower).
    fn events(bytes: ByteStream) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send {
        bytes.flat_map(|r| {
            let pieces: Vec<Result<Bytes, ProviderError>> = match r {
                Ok(chunk) => {
                    let mut out = Vec::new();
                    let mut start = 0;
                    for i in 1..chunk.len() {
                        if chunk[i] == b'\n'
                            && (chunk[i - 1] == b'\n'
                                || (i >= 2 && chunk[i - 1] == b'\r' && chunk[i - 2] == b'\n'))
                        {
                            out.push(Ok(chunk.slice(start..=i)));
                            start = i + 1;
                        }
                    }
                    if start < chunk.len() {
                        out.push(Ok(chunk.slice(start..)));
                    }
                    out
                }
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(pieces)
        })
    }

    /// Parses a byte stream as server-sent events (`eventsource-stream`).
    pub(crate) fn sse_frames(
        provider: &'static str,
        bytes: ByteStream,
    ) -> impl Stream<Item = Result<SseFrame, ProviderError>> + Send + Unpin + 'static {
        Box::pin(events(bytes)).eventsource().map(move |r| match r {
            Ok(ev) => Ok(SseFrame {
                event: ev.event,
                data: ev.data,
            }),
            Err(EventStreamError::Transport(e)) => Err(e),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_eq!(s.expose(), "sk-very-secret");
    }

    #[test]
    fn keys_go_over_http_only_to_loopback() {
        for ok in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:4010/v1",
            "http://127.9.9.9",
            "http://[::1]:8080",
            "http://localhost:11434/v1/",
        ] {
            assert!(parse_base_url("t", ok, true).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5/v1",
            "http://example.com",
            "ftp://127.0.0.1",
            "nonsense",
        ] {
            let e = parse_base_url("t", bad, true).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
        }
        // Without a key, plain http anywhere is the user's business.
        assert!(parse_base_url("t", "http://example.com", false).is_ok());
    }

    #[test]
    fn join_keeps_base_path() {
        let b = parse_base_url("t", "http://127.0.0.1:1/v1/", true).unwrap();
        assert_eq!(
            join(&b, "/chat/completions").as_str(),
            "http://127.0.0.1:1/v1/chat/completions"
        );
        let b = parse_base_url("t", "https://x.com", true).unwrap();
        assert_eq!(join(&b, "v1/messages").as_str(), "https://x.com/v1/messages");
    }

    #[test]
    fn retry_after_reads_seconds_and_ms() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", "1.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn status_kinds() {
        assert_eq!(status_kind(429), ErrorKind::RateLimited);
        assert_eq!(status_kind(529), ErrorKind::Overloaded);
        assert_eq!(status_kind(502), ErrorKind::Server);
        assert_eq!(status_kind(422), ErrorKind::InvalidRequest);
        assert_eq!(status_kind(504), ErrorKind::Timeout);
    }

    #[tokio::test]
    async fn cap_stream_stops_after_the_cap() {
        let chunks = futures::stream::iter((0..10).map(|_| Ok(Bytes::from_static(b"0123456789"))));
        let got: Vec<_> = cap_stream("t", chunks, 35).collect().await;
        assert_eq!(got.len(), 4);
        assert!(got[..3].iter().all(Result::is_ok));
        assert_eq!(got[3].as_ref().unwrap_err().kind(), ErrorKind::ResponseTooLarge);
    }
}
