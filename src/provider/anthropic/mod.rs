//! Anthropic Messages client (feature `anthropic`): `POST {base}/v1/messages`.
//!
//! ```no_run
//! use taskroute::provider::{ChatRequest, Provider, anthropic::Anthropic};
//! # async fn demo(model: &taskroute::ModelSpec) -> Result<(), taskroute::provider::ProviderError> {
//! let client = Anthropic::from_env()?; // ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
//! let answer = client.complete(model, &ChatRequest::new().user("Hello").max_tokens(256)).await?;
//! println!("{} (${:.6})", answer.text, answer.cost_usd);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::http::{self, Secret, Transport};
use super::{ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError};
use crate::model::ModelSpec;

mod error;
mod stream;
mod wire;

pub(crate) const PROVIDER: &str = "anthropic";

/// Anthropic's own endpoint (without `/v1`, as `ANTHROPIC_BASE_URL` is given to the official SDKs).
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header sent with every request.
pub const API_VERSION: &str = "2023-06-01";

/// A client for the Messages API.
///
/// When a request has no `max_tokens`, it sends the smaller of the model's `max_output_tokens`
/// and 4096 (the API requires a value). Cheap to clone; its `Debug` never shows the key.
#[derive(Clone)]
pub struct Anthropic {
    base: reqwest::Url,
    key: Option<Secret>,
    transport: Transport,
}

impl fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anthropic")
            .field("base_url", &self.base.as_str())
            .field("api_key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.transport.timeout)
            .field("max_response_bytes", &self.transport.max_response_bytes)
            .finish()
    }
}

/// Builds an [`Anthropic`] client. Its `Debug` never shows the key.
#[derive(Default)]
pub struct AnthropicBuilder {
    api_key: Option<Secret>,
    base_url: Option<String>,
    client: Option<reqwest::Client>,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
}

impl fmt::Debug for AnthropicBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl AnthropicBuilder {
    /// Sets the API key (sent as `x-api-key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }

    /// Sets the base URL, without `/v1` (`https://api.anthropic.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses this HTTP client instead of a new one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Time allowed for a whole request (default 120 s). A stream gets five times as long in
    /// total and, with the built-in HTTP client, at most this long between two chunks.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Largest response body accepted, in bytes (default 16 MiB).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = Some(max);
        self
    }

    /// Fills unset fields from `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`.
    pub fn from_env(self) -> Self {
        self.from_vars(|k| std::env::var(k).ok())
    }

    /// Fills unset fields from a variable lookup.
    pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let nonempty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if self.api_key.is_none() {
            self.api_key = nonempty("ANTHROPIC_API_KEY").map(Secret::new);
        }
        if self.base_url.is_none() {
            self.base_url = nonempty("ANTHROPIC_BASE_URL");
        }
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if the base URL is invalid, if a key would go over plain http to a
    /// non-loopback host, or if Anthropic's own endpoint is used without a key.
    pub fn build(self) -> Result<Anthropic, ProviderError> {
        let explicit_base = self.base_url.is_some();
        let raw = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let base = http::parse_base_url(PROVIDER, raw, self.api_key.is_some())?;
        if !explicit_base && self.api_key.is_none() {
            return Err(ProviderError::new(
                ErrorKind::Config,
                "no API key: set ANTHROPIC_API_KEY or call AnthropicBuilder::api_key",
            )
            .with_provider(PROVIDER));
        }
        let transport = Transport::new(PROVIDER, self.client, self.timeout, self.max_response_bytes)?;
        Ok(Anthropic {
            base,
            key: self.api_key,
            transport,
        })
    }
}

impl Anthropic {
    /// A builder with nothing set.
    pub fn builder() -> AnthropicBuilder {
        AnthropicBuilder::default()
    }

    /// A client configured from `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`.
    ///
    /// # Errors
    /// As [`AnthropicBuilder::build`].
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::builder().from_env().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn secrets(&self) -> Vec<String> {
        self.key.iter().map(|k| k.expose().to_owned()).collect()
    }

    async fn send(&self, body: Vec<u8>, streaming: bool) -> Result<reqwest::Response, ProviderError> {
        let url = http::join(&self.base, "v1/messages");
        let mut rb = self
            .transport
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("anthropic-version", API_VERSION)
            .header(
                reqwest::header::ACCEPT,
                if streaming {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .body(body);
        rb = if streaming {
            rb.timeout(self.transport.timeout.saturating_mul(5))
        } else {
            rb.timeout(self.transport.timeout)
        };
        if let Some(k) = &self.key {
            let mut v = reqwest::header::HeaderValue::try_from(k.expose()).map_err(|_| {
                ProviderError::new(
                    ErrorKind::Config,
                    "the API key contains characters not allowed in a header",
                )
                .with_provider(PROVIDER)
            })?;
            v.set_sensitive(true);
            rb = rb.header("x-api-key", v);
        }
        let resp = rb.send().await.map_err(|e| http::transport_error(PROVIDER, e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let retry = http::retry_after(resp.headers());
        let body = http::read_capped(PROVIDER, resp, self.transport.max_response_bytes.min(1 << 20)).await?;
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        Err(error::from_status(status, retry, &body, &secrets))
    }
}

#[async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = wire::encode(model, req, false)?;
        let resp = self.send(body, false).await?;
        let bytes = http::read_capped(PROVIDER, resp, self.transport.max_response_bytes).await?;
        wire::decode(model, &bytes)
    }

    async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = wire::encode(model, req, true)?;
        let resp = self.send(body, true).await?;
        let bytes = http::capped_bytes(PROVIDER, resp, self.transport.max_response_bytes);
        Ok(stream::parse(bytes, model.prices, self.secrets()))
    }
}

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
    use futures::Stream;

    use super::*;

    /// The JSON body of a Messages request.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] if the request cannot be encoded.
    pub fn encode_request(
        model: &ModelSpec,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req, stream)
    }

    /// Parses a non-streamed response body.
    ///
    /// # Errors
    /// [`ErrorKind::MalformedResponse`] if the body is not a message.
    pub fn decode_response(model: &ModelSpec, body: &[u8]) -> Result<ChatResponse, ProviderError> {
        wire::decode(model, body)
    }

    /// Parses an error response.
    pub fn decode_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
        error::from_status(status, retry_after, body, &[])
    }

    /// Parses a streamed response body, given as chunks split anywhere.
    pub fn decode_stream<S>(model: &ModelSpec, chunks: S) -> ChatStream
    where
        S: Stream<Item = Result<Vec<u8>, ProviderError>> + Send + 'static,
    {
        let bytes = http::cap_stream(PROVIDER, chunks.map(|r| r.map(bytes::Bytes::from)), usize::MAX);
        stream::parse(bytes, model.prices, Vec::new())
    }
}
