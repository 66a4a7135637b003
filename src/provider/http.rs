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

use super::{ChatStream, ErrorKind, FinishReason, ProviderError, StreamEvent, Usage};
use crate::model::Prices;

mod api;
#[cfg(any(feature = "openai", feature = "anthropic"))]
mod keyed;
mod ratelimit;
mod retry_after;
#[cfg(any(feature = "openai", feature = "anthropic"))]
mod sse;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
mod tool_blocks;
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
mod turns;

pub(crate) use api::{
    Answer, Api, Decode, Parse, Streamed, api_provider, codec_decoders, complete, decode_chunks, stream,
};
#[cfg(feature = "anthropic")]
pub(crate) use keyed::ErrorEnvelope;
#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) use keyed::{
    debug_builder, debug_client, json_post, keyed_client_methods, response_error, status_error,
};
pub(crate) use ratelimit::rate_limits;
pub(crate) use retry_after::retry_after;
#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) use sse::{SseFrame, sse_frames};
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
pub(crate) use tool_blocks::ToolBlocks;
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
pub(crate) use turns::{Turns, stop_reason};

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

/// Transport settings every client has, and the client's secrets (to redact from errors).
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    secrets: Vec<Secret>,
}

/// The most redirects followed for one request (all within the base URL's origin).
const MAX_REDIRECTS: usize = 10;

impl Transport {
    /// Builds the settings for a client that talks to `base`. Unless a client is given, makes
    /// one with rustls, a connect timeout, a read timeout (the longest wait between two chunks)
    /// equal to `timeout`, and two rules that keep credentials where they belong:
    ///
    /// - redirects are followed only within `base`'s origin (scheme, host and port), so headers
    ///   such as `x-api-key` and `x-amz-security-token`, which reqwest does not strip, never
    ///   reach another host or go over a downgraded scheme; any other redirect comes back as the
    ///   3xx response, which [`send`](Self::send) turns into an error;
    /// - a loopback `base` never goes through a proxy (`HTTP_PROXY`, `HTTPS_PROXY`,
    ///   `ALL_PROXY`): a key sent over plain http to 127.0.0.1 would reach the proxy in clear.
    ///   Other hosts keep the system proxy settings (`NO_PROXY` included); a key goes over plain
    ///   http only to loopback ([`parse_base_url`]), so through a proxy it is always inside TLS.
    pub(crate) fn new(
        provider: &str,
        base: &reqwest::Url,
        options: HttpOptions,
        secrets: Vec<Secret>,
    ) -> Result<Self, ProviderError> {
        let HttpOptions {
            client,
            timeout,
            max_response_bytes,
        } = options;
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let client = match client {
            Some(c) => c,
            None => {
                let mut b = reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(timeout)
                    .redirect(same_origin_redirects());
                if is_loopback(base) {
                    b = b.no_proxy();
                }
                b.build().map_err(|e| {
                    ProviderError::new(ErrorKind::Config, "could not build the HTTP client")
                        .with_provider(provider)
                        .with_source(e.without_url())
                })?
            }
        };
        Ok(Self {
            client,
            timeout,
            max_response_bytes: max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            secrets,
        })
    }

    /// The client's secrets, as the parsers of its answers take them.
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.secrets.iter().map(|s| s.expose().to_owned()).collect()
    }
}

/// Follows a redirect only to the origin of the first request, at most [`MAX_REDIRECTS`] times.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// The error for a redirect that was not followed (to another origin, or too many).
fn redirect_error(provider: &str, status: u16, headers: &reqwest::header::HeaderMap) -> ProviderError {
    let to = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| reqwest::Url::parse(l).ok())
        .map_or_else(
            || "the same origin".to_owned(),
            |u| u.origin().ascii_serialization(),
        );
    ProviderError::new(
        ErrorKind::Config,
        format!(
            "the server redirected to {to}; redirects are followed only within the base URL's origin (at \
             most {MAX_REDIRECTS}), so credentials never go elsewhere: set the base URL to where the service now is"
        ),
    )
    .with_provider(provider)
    .with_status(status)
}

impl Transport {
    /// Adds the settings worth showing (`timeout`, `max_response_bytes`) to a client's `Debug`.
    pub(crate) fn debug_fields<'a, 'b, 'c: 'b>(
        &self,
        d: &'a mut fmt::DebugStruct<'b, 'c>,
    ) -> &'a mut fmt::DebugStruct<'b, 'c> {
        debug_limits(d, &self.timeout, &self.max_response_bytes)
    }

    /// Sends `rb` with the request timeout (five times as long for a stream) and returns a 2xx
    /// response as is. For any other status, reads at most 1 MiB of the body and returns the
    /// error `on_error` makes of it, with the client's secrets to redact.
    pub(crate) async fn send(
        &self,
        provider: &'static str,
        rb: reqwest::RequestBuilder,
        streaming: bool,
        on_error: impl FnOnce(ErrorResponse<'_>) -> ProviderError,
    ) -> Result<reqwest::Response, ProviderError> {
        let timeout = if streaming {
            self.timeout.saturating_mul(5)
        } else {
            self.timeout
        };
        let resp = rb
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport_error(provider, e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        if (300..400).contains(&status) {
            return Err(redirect_error(provider, status, &headers));
        }
        let now = std::time::SystemTime::now();
        let retry_after = retry_after(&headers, now);
        let body = read_capped(provider, resp, self.max_response_bytes.min(1 << 20)).await?;
        let secrets: Vec<&str> = self.secrets.iter().map(Secret::expose).collect();
        let err = on_error(ErrorResponse {
            status,
            headers: &headers,
            retry_after,
            body: &body,
            secrets: &secrets,
        });
        Err(match rate_limits(&headers, now) {
            Some(limits) => err.with_rate_limits(limits),
            None => err,
        })
    }

    /// A whole (non-streamed) response body, capped at `max_response_bytes`.
    pub(crate) async fn read_body(
        &self,
        provider: &str,
        resp: reqwest::Response,
    ) -> Result<Vec<u8>, ProviderError> {
        read_capped(provider, resp, self.max_response_bytes).await
    }

    /// A streamed response body, capped at `max_response_bytes` in total.
    pub(crate) fn body_stream(&self, provider: &'static str, resp: reqwest::Response) -> ByteStream {
        capped_bytes(provider, resp, self.max_response_bytes)
    }
}

/// An HTTP error response, as [`Transport::send`] hands it to the provider's error mapping.
pub(crate) struct ErrorResponse<'a> {
    pub(crate) status: u16,
    #[cfg_attr(not(feature = "bedrock"), allow(dead_code))]
    pub(crate) headers: &'a reqwest::header::HeaderMap,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: &'a [u8],
    pub(crate) secrets: &'a [&'a str],
}

/// The HTTP settings every client builder takes: its own `reqwest` client, the timeout, the
/// response size cap. Each builder embeds one as its `http` field and gets the setters from
/// [`http_setters!`].
#[derive(Default)]
pub(crate) struct HttpOptions {
    pub(crate) client: Option<reqwest::Client>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_response_bytes: Option<usize>,
}

impl HttpOptions {
    /// The transport these settings make for a client of `base` that holds `secrets` (see
    /// [`Transport::new`]).
    pub(crate) fn transport(
        self,
        provider: &str,
        base: &reqwest::Url,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Transport, ProviderError> {
        Transport::new(provider, base, self, secrets.into_iter().collect())
    }

    /// Adds `timeout` and `max_response_bytes` (as set, or unset) to a builder's `Debug`.
    pub(crate) fn debug_fields<'a, 'b, 'c: 'b>(
        &self,
        d: &'a mut fmt::DebugStruct<'b, 'c>,
    ) -> &'a mut fmt::DebugStruct<'b, 'c> {
        debug_limits(d, &self.timeout, &self.max_response_bytes)
    }
}

/// The two settings a client's and a builder's `Debug` both show.
fn debug_limits<'a, 'b, 'c: 'b>(
    d: &'a mut fmt::DebugStruct<'b, 'c>,
    timeout: &dyn fmt::Debug,
    max_response_bytes: &dyn fmt::Debug,
) -> &'a mut fmt::DebugStruct<'b, 'c> {
    d.field("timeout", timeout)
        .field("max_response_bytes", max_response_bytes)
}

/// The setters of [`HttpOptions`] for a builder that has it as its `http` field.
macro_rules! http_setters {
    () => {
        /// Uses this HTTP client (connection pool, proxy, TLS settings) instead of a new one.
        ///
        /// It keeps its own redirect and proxy policy. The built-in client follows redirects
        /// only within the base URL's origin and sends nothing to a loopback base URL through a
        /// proxy; reqwest's default policy instead forwards headers such as `x-api-key` and
        /// `x-amz-security-token` to any host a redirect names. Give yours
        /// `.redirect(reqwest::redirect::Policy::none())` (and `.no_proxy()` for a plain-http
        /// base URL) unless you trust every host the server may redirect to.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.http.client = Some(client);
            self
        }

        /// Time allowed for a whole request (default 120 s). A stream gets five times as long in
        /// total and, with the built-in HTTP client, at most this long between two chunks.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.timeout = Some(timeout);
            self
        }

        /// Largest response body accepted, in bytes (default 16 MiB); a streamed answer counts
        /// all its bytes.
        pub fn max_response_bytes(mut self, max: usize) -> Self {
            self.http.max_response_bytes = Some(max);
            self
        }
    };
}
pub(crate) use http_setters;

/// `from_env` and `from_vars` for a builder that has a [`KeyedEndpoint`] as its `endpoint`
/// field, reading the key from `$key` and the base URL from `$base`.
#[cfg(any(feature = "openai", feature = "anthropic"))]
macro_rules! keyed_env_setters {
    ($key:literal, $base:literal) => {
        #[doc = concat!("Fills unset fields from the environment: `", $key, "`, `", $base, "`.")]
        pub fn from_env(self) -> Self {
            self.from_vars(|k| std::env::var(k).ok())
        }

        /// Fills unset fields from a variable lookup (for tests and custom configuration sources).
        pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
            self.endpoint.fill_from_vars(var, $key, $base);
            self
        }
    };
}
#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) use keyed_env_setters;

/// The API key and base URL of a client that authenticates with a key (OpenAI, Anthropic).
#[cfg(any(feature = "openai", feature = "anthropic"))]
#[derive(Default)]
pub(crate) struct KeyedEndpoint {
    pub(crate) api_key: Option<Secret>,
    pub(crate) base_url: Option<String>,
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
impl KeyedEndpoint {
    /// Fills what is unset from the non-empty variables `key_var` and `base_var`.
    pub(crate) fn fill_from_vars(
        &mut self,
        var: impl Fn(&str) -> Option<String>,
        key_var: &str,
        base_var: &str,
    ) {
        let nonempty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if self.api_key.is_none() {
            self.api_key = nonempty(key_var).map(Secret::new);
        }
        if self.base_url.is_none() {
            self.base_url = nonempty(base_var);
        }
    }

    /// Checks the settings: the base URL (`default_base` when unset; see [`parse_base_url`]),
    /// and a key when the default base is used (else [`ErrorKind::Config`] with `no_key`).
    /// Returns the URL, the key, and whether the base URL was given.
    pub(crate) fn resolve(
        self,
        provider: &str,
        default_base: &str,
        no_key: &str,
    ) -> Result<(reqwest::Url, Option<Secret>, bool), ProviderError> {
        let explicit_base = self.base_url.is_some();
        let raw = self.base_url.as_deref().unwrap_or(default_base);
        let base = parse_base_url(provider, raw, self.api_key.is_some())?;
        if !explicit_base && self.api_key.is_none() {
            return Err(ProviderError::new(ErrorKind::Config, no_key).with_provider(provider));
        }
        Ok((base, self.api_key, explicit_base))
    }

    /// Adds `api_key` (redacted) and `base_url` to a builder's `Debug`.
    pub(crate) fn debug_fields<'a, 'b, 'c: 'b>(
        &self,
        d: &'a mut fmt::DebugStruct<'b, 'c>,
    ) -> &'a mut fmt::DebugStruct<'b, 'c> {
        d.field("api_key", &redacted(&self.api_key))
            .field("base_url", &self.base_url.as_deref().map(shown_url))
    }
}

/// What a builder's `Debug` shows for a secret it may hold.
pub(crate) fn redacted(secret: &Option<Secret>) -> Option<&'static str> {
    secret.as_ref().map(|_| "[REDACTED]")
}

/// `value` as a header value marked sensitive (kept out of reqwest's logs); a
/// [`ErrorKind::Config`] error naming `what` if it has characters a header cannot carry.
pub(crate) fn sensitive_header(
    provider: &str,
    value: &str,
    what: &str,
) -> Result<reqwest::header::HeaderValue, ProviderError> {
    let mut v = reqwest::header::HeaderValue::try_from(value).map_err(|_| {
        ProviderError::new(
            ErrorKind::Config,
            format!("{what} contains characters not allowed in a header"),
        )
        .with_provider(provider)
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The longest part of a non-JSON error body kept in a message, in bytes.
const UNPARSED_BODY_SHOWN: usize = 300;

/// The message for an error status whose body the provider's error format does not fit: its
/// first 300 bytes as text. `secrets` are redacted from the whole body before it is cut, so
/// no part of a key that straddles the cut survives.
pub(crate) fn unparsed_error_message(body: &[u8], secrets: &[&str]) -> String {
    let mut text = super::redact(&String::from_utf8_lossy(body), secrets);
    if text.trim().is_empty() {
        return "the server sent an error status with an empty body".to_owned();
    }
    super::truncate_utf8(&mut text, UNPARSED_BODY_SHOWN);
    format!("the server sent an error status with a non-JSON body: {text}")
}

/// A request body as JSON; an [`ErrorKind::InvalidRequest`] error if it cannot be encoded.
pub(crate) fn encode_json<T: serde::Serialize>(provider: &str, body: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|e| {
        ProviderError::new(ErrorKind::InvalidRequest, "could not encode the request as JSON")
            .with_provider(provider)
            .with_source(e)
    })
}

/// Tool-call arguments as the APIs that require an object take them: `args` if it is one,
/// else `{}`.
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
pub(crate) fn object_or_empty(args: &serde_json::Value) -> &serde_json::Value {
    static EMPTY_OBJECT: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(|| serde_json::Value::Object(serde_json::Map::new()));
    if args.is_object() { args } else { &EMPTY_OBJECT }
}

/// An [`ErrorKind::MalformedResponse`] error saying `what`.
pub(crate) fn malformed(provider: &str, what: impl fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::MalformedResponse, what.to_string()).with_provider(provider)
}

/// Adds the HTTP status and the `Retry-After` wait (if any) to an error.
pub(crate) fn with_status(err: ProviderError, status: u16, retry_after: Option<Duration>) -> ProviderError {
    let err = err.with_status(status);
    match retry_after {
        Some(r) => err.with_retry_after(r),
        None => err,
    }
}

/// Parses a base URL and checks that a key may be sent to it: `https`, or `http` to a loopback
/// address (`127.0.0.0/8`, `::1`, `localhost`) only. A URL that carries credentials
/// (`user:password@`) is refused: the key goes in its header. Errors show the URL only as
/// [`shown_url`] does, so a secret pasted into it never reaches an error.
pub(crate) fn parse_base_url(
    provider: &str,
    raw: &str,
    sends_secret: bool,
) -> Result<reqwest::Url, ProviderError> {
    let config = |msg: String| ProviderError::new(ErrorKind::Config, msg).with_provider(provider);
    let url = reqwest::Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| config(format!("the base URL is not a valid URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config(format!(
            "the base URL `{}` carries credentials (user:password@): pass the key as the API key instead",
            shown_url(raw)
        )));
    }
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
        return Err(config(format!("the base URL `{}` has no host", shown_url(raw))));
    }
    Ok(url)
}

/// A base URL as errors and `Debug` show it: without user, password, query or fragment (each may
/// hold a secret; a query is shown as `?…`), and nothing of a string that is not a URL.
pub(crate) fn shown_url(raw: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(raw) else {
        return "<not a URL>".to_owned();
    };
    let had_query = url.query().is_some();
    // Clearing the user and password fails only for URLs that cannot have them (no host); such a
    // URL holds neither.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let mut shown = url.to_string();
    if had_query {
        shown.push_str("?…");
    }
    shown
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

/// Chunks handed in by a caller (the codecs' `decode_stream`, for custom transports, tests and
/// benchmarks) as a body stream, without a cap.
pub(crate) fn chunk_stream<S>(provider: &'static str, chunks: S) -> ByteStream
where
    S: Stream<Item = Result<Vec<u8>, ProviderError>> + Send + 'static,
{
    cap_stream(provider, chunks.map(|r| r.map(Bytes::from)), usize::MAX)
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
/// [`frame`](Self::frame) for each frame until [`finished`](Self::finished), and
/// [`truncated`](Self::truncated) if the input ends first.
pub(crate) trait FrameParser: Send + 'static {
    /// What the framing layer yields.
    type Frame: Send;
    /// Handles one frame, pushing any events.
    fn frame(&mut self, frame: Self::Frame, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// The input ended before the parser [`finished`](Self::finished): the error that says the
    /// stream was cut short.
    fn truncated(&self) -> ProviderError;
    /// Whether the answer is complete; the driver stops reading once it is.
    fn finished(&self) -> bool;
}

/// What every stream parser keeps to end its answer: the prices, the finish reason once the
/// server gave it, whether the `Finish` event went out, and the secrets to redact from errors.
pub(crate) struct StreamEnd {
    prices: Prices,
    pub(crate) finish: Option<FinishReason>,
    pub(crate) done: bool,
    secrets: Vec<String>,
}

impl StreamEnd {
    pub(crate) fn new(prices: Prices, secrets: Vec<String>) -> Self {
        Self {
            prices,
            finish: None,
            done: false,
            secrets,
        }
    }

    /// Pushes the `Finish` event with `usage` and its cost; without a finish reason, the error
    /// `truncated` makes.
    pub(crate) fn finish(
        &mut self,
        out: &mut VecDeque<StreamEvent>,
        usage: Usage,
        truncated: impl FnOnce() -> ProviderError,
    ) -> Result<(), ProviderError> {
        let Some(finish_reason) = self.finish.take() else {
            return Err(truncated());
        };
        self.done = true;
        out.push_back(StreamEvent::Finish {
            finish_reason,
            usage,
            cost_usd: usage.cost_usd(&self.prices),
        });
        Ok(())
    }

    /// The secrets, as the error mappings take them.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }
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
                    Err(st.parser.truncated())
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
