//! [`ProviderError`]: what went wrong talking to a provider, and whether retrying or falling back
//! can help.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use super::ratelimit::RateLimits;

/// The longest message kept from a provider's error body, in bytes; the rest is cut.
const MAX_MESSAGE_LEN: usize = 1_000;

/// What kind of failure a [`ProviderError`] is.
///
/// New kinds may be added; match with a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Too many requests or tokens (HTTP 429); see [`ProviderError::retry_after`].
    RateLimited,
    /// The prompt (plus the requested output) does not fit the model's context window.
    ContextTooLong,
    /// The key or credentials are missing, wrong or expired (HTTP 401).
    Authentication,
    /// The credentials are valid but not allowed to do this (HTTP 403).
    Permission,
    /// The provider rejected the request as malformed or unsupported (HTTP 400, 422).
    InvalidRequest,
    /// The model or endpoint does not exist (HTTP 404).
    NotFound,
    /// The provider is overloaded (Anthropic 529, Bedrock `ServiceUnavailable`, HTTP 503).
    Overloaded,
    /// The provider failed (HTTP 5xx).
    Server,
    /// The request or the response took longer than the configured timeout.
    Timeout,
    /// The connection failed (DNS, TCP, TLS, reset) before a complete response arrived.
    Transport,
    /// The response arrived but could not be understood: not JSON, wrong shape, truncated
    /// stream, bad framing.
    MalformedResponse,
    /// The response was larger than the configured cap, or a server-sent event (or one of its
    /// lines) was longer than 4 MiB.
    ResponseTooLarge,
    /// The client is misconfigured: missing key, bad base URL, a key over plain HTTP, or a base
    /// URL that redirects to another origin (not followed, so credentials stay where they were
    /// configured to go).
    Config,
    /// The provider cannot honour a request setting (a response format, reasoning, tool choice
    /// or cache breakpoints; see [`RequestOptionError`](super::RequestOptionError)). Found before
    /// sending; another provider may honour it.
    Unsupported,
}

impl ErrorKind {
    /// A fixed snake-case code for the kind (`rate_limited`, `server`, ...), as metrics and
    /// traces record it (`error.type`).
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ContextTooLong => "context_too_long",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::MalformedResponse => "malformed_response",
            ErrorKind::ResponseTooLarge => "response_too_large",
            ErrorKind::Config => "config",
            ErrorKind::Unsupported => "unsupported",
        }
    }

    /// A short description of the kind, as shown in messages.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::ContextTooLong => "context too long",
            ErrorKind::Authentication => "authentication failed",
            ErrorKind::Permission => "permission denied",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::NotFound => "not found",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Transport => "transport error",
            ErrorKind::MalformedResponse => "malformed response",
            ErrorKind::ResponseTooLarge => "response too large",
            ErrorKind::Config => "configuration error",
            ErrorKind::Unsupported => "unsupported request setting",
        }
    }

    /// Whether the same request to the same model may succeed later.
    ///
    /// True for [`RateLimited`](Self::RateLimited), [`Overloaded`](Self::Overloaded),
    /// [`Server`](Self::Server), [`Timeout`](Self::Timeout) and [`Transport`](Self::Transport).
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Transport
        )
    }

    /// Whether sending the same request to another model (or provider) may succeed.
    ///
    /// True for everything except [`InvalidRequest`](Self::InvalidRequest): a bad request is
    /// bad everywhere, but a longer context window, another key, another region or a healthier
    /// provider can help with the rest.
    pub const fn can_fallback(self) -> bool {
        !matches!(self, ErrorKind::InvalidRequest)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An error from a [`Provider`](super::Provider).
///
/// Opaque like `reqwest::Error`, so it can gain cases without breaking callers: ask it with
/// [`kind`](Self::kind), [`status`](Self::status), [`retry_after`](Self::retry_after),
/// [`is_retryable`](Self::is_retryable) and [`can_fallback`](Self::can_fallback).
///
/// Its message says what happened, with the provider's own words where it gave some. It never
/// contains a key: clients redact their secrets from anything a server echoes back before the
/// message is built.
pub struct ProviderError {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    provider: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    rate_limits: Option<RateLimits>,
    code: Option<String>,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl ProviderError {
    /// An error of `kind` with a message saying what happened.
    ///
    /// The message is cut to 1000 bytes; it must not contain secrets.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        truncate_utf8(&mut message, MAX_MESSAGE_LEN);
        Self {
            inner: Box::new(Inner {
                kind,
                provider: String::new(),
                status: None,
                retry_after: None,
                rate_limits: None,
                code: None,
                message,
                source: None,
            }),
        }
    }

    /// Sets the provider's name (`"openai"`), shown first in the message.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.inner.provider = provider.into();
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Sets how long the provider asked to wait before retrying.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner.retry_after = Some(after);
        self
    }

    /// Sets what the provider's rate-limit headers said.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.inner.rate_limits = Some(limits);
        self
    }

    /// Sets the provider's own error code or type (`"rate_limit_error"`,
    /// `"ThrottlingException"`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// Sets the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The provider's name, if set.
    pub fn provider(&self) -> Option<&str> {
        (!self.inner.provider.is_empty()).then_some(self.inner.provider.as_str())
    }

    /// The HTTP status, where the provider answered with one.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// How long the provider asked to wait, where it said: OpenAI's `retry-after-ms`, else
    /// `Retry-After` as delta-seconds of any size or as an HTTP-date (any of RFC 9110's three
    /// forms, measured from the response's `Date` header when it has one). Not capped: a value
    /// too large for a [`Duration`] is [`Duration::MAX`]; whether a wait fits a deadline is the
    /// caller's decision.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// What the provider's rate-limit headers said, where it sent them.
    pub fn rate_limits(&self) -> Option<&RateLimits> {
        self.inner.rate_limits.as_ref()
    }

    /// The provider's own error code or type, where it gave one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The message, without the provider, kind and status prefix.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Whether the same request to the same model may succeed later.
    /// See [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.inner.kind.is_retryable()
    }

    /// Whether another model or provider may succeed with the same request.
    /// See [`ErrorKind::can_fallback`].
    pub fn can_fallback(&self) -> bool {
        self.inner.kind.can_fallback()
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// Whether this is a rate limit.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == ErrorKind::RateLimited
    }
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ProviderError");
        d.field("kind", &self.inner.kind);
        if !self.inner.provider.is_empty() {
            d.field("provider", &self.inner.provider);
        }
        if let Some(s) = self.inner.status {
            d.field("status", &s);
        }
        if let Some(r) = self.inner.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(c) = &self.inner.code {
            d.field("code", c);
        }
        d.field("message", &self.inner.message);
        if let Some(s) = &self.inner.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.inner.provider.is_empty() {
            write!(f, "{}: ", self.inner.provider)?;
        }
        f.write_str(self.inner.kind.description())?;
        if let Some(s) = self.inner.status {
            write!(f, " (HTTP {s})")?;
        }
        if let Some(c) = &self.inner.code {
            write!(f, " [{c}]")?;
        }
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        if let Some(r) = self.inner.retry_after {
            write!(f, "; retry after {:.3}s", r.as_secs_f64())?;
        }
        Ok(())
    }
}

impl StdError for ProviderError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
}

/// Replaces every occurrence of each non-empty secret in `text` with `[REDACTED]`.
///
/// Clients run anything a server sent back through this before it enters an error.
#[cfg_attr(
    not(any(feature = "openai", feature = "anthropic", feature = "bedrock")),
    allow(dead_code)
)]
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.len() >= 4 && out.contains(*s) {
            out = out.replace(*s, "[REDACTED]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_and_fallback_predicates_follow_the_kind() {
        let e = ProviderError::new(ErrorKind::RateLimited, "slow down")
            .with_provider("openai")
            .with_status(429)
            .with_retry_after(Duration::from_secs(2));
        assert!(e.is_retryable() && e.can_fallback() && e.is_rate_limited());
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(
            e.to_string(),
            "openai: rate limited (HTTP 429): slow down; retry after 2.000s"
        );
        let bad = ProviderError::new(ErrorKind::InvalidRequest, "bad");
        assert!(!bad.is_retryable() && !bad.can_fallback());
        let ctx = ProviderError::new(ErrorKind::ContextTooLong, "too long");
        assert!(!ctx.is_retryable() && ctx.can_fallback());
        for k in [
            ErrorKind::Authentication,
            ErrorKind::Permission,
            ErrorKind::NotFound,
        ] {
            assert!(!k.is_retryable() && k.can_fallback(), "{k:?}");
        }
        for k in [
            ErrorKind::Overloaded,
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::Transport,
        ] {
            assert!(k.is_retryable(), "{k:?}");
        }
    }

    #[test]
    fn message_is_capped_on_a_char_boundary() {
        let long = "é".repeat(2_000);
        let e = ProviderError::new(ErrorKind::Server, long);
        assert!(e.message().len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
        assert!(e.message().ends_with('…'));
    }

    #[test]
    fn redact_removes_secrets() {
        let msg = "Incorrect API key provided: sk-secret-123. Try again; sk-secret-123";
        let r = redact(msg, &["sk-secret-123", ""]);
        assert!(!r.contains("sk-secret-123"), "{r}");
        assert_eq!(r.matches("[REDACTED]").count(), 2);
    }

    #[test]
    fn source_is_kept_and_debug_shows_fields() {
        let io = std::io::Error::other("reset");
        let e = ProviderError::new(ErrorKind::Transport, "connection failed").with_source(io);
        assert!(e.source().is_some());
        let d = format!("{e:?}");
        assert!(d.contains("Transport") && d.contains("reset"), "{d}");
    }
}
