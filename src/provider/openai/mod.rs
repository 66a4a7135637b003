//! OpenAI Chat Completions client (feature `openai`); works with any OpenAI-compatible server
//! (vLLM, Ollama, LiteLLM's proxy, aimock) through its base URL.
//!
//! ```no_run
//! use taskroute::provider::{ChatRequest, Provider, openai::OpenAi};
//! # async fn demo(model: &taskroute::ModelSpec) -> Result<(), taskroute::provider::ProviderError> {
//! let client = OpenAi::from_env()?; // OPENAI_API_KEY, OPENAI_BASE_URL
//! let answer = client.complete(model, &ChatRequest::new().user("Hello")).await?;
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

pub(crate) const PROVIDER: &str = "openai";

/// OpenAI's own endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A client for the Chat Completions API (`POST {base}/chat/completions`).
///
/// Cheap to clone (the HTTP client is shared). Its `Debug` never shows the key.
#[derive(Clone)]
pub struct OpenAi {
    base: reqwest::Url,
    key: Option<Secret>,
    transport: Transport,
    max_completion_tokens: bool,
}

impl fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAi")
            .field("base_url", &self.base.as_str())
            .field("api_key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.transport.timeout)
            .field("max_response_bytes", &self.transport.max_response_bytes)
            .finish()
    }
}

/// Builds an [`OpenAi`] client. Its `Debug` never shows the key.
#[derive(Default)]
pub struct OpenAiBuilder {
    api_key: Option<Secret>,
    base_url: Option<String>,
    client: Option<reqwest::Client>,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
    max_completion_tokens: Option<bool>,
}

impl fmt::Debug for OpenAiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl OpenAiBuilder {
    /// Sets the API key (sent as `Authorization: Bearer`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }

    /// Sets the base URL, including the version path (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:8000/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses this HTTP client (connection pool, proxy, TLS settings) instead of a new one.
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

    /// Largest response body accepted, in bytes (default 16 MiB); a streamed answer counts
    /// all its bytes.
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = Some(max);
        self
    }

    /// Sends the output limit as `max_completion_tokens` (OpenAI's current name, required by
    /// reasoning models) rather than `max_tokens` (what most compatible servers read). Defaults
    /// to `true` for OpenAI's own endpoint and `false` for any other base URL.
    pub fn max_completion_tokens(mut self, yes: bool) -> Self {
        self.max_completion_tokens = Some(yes);
        self
    }

    /// Fills unset fields from the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`.
    pub fn from_env(self) -> Self {
        self.from_vars(|k| std::env::var(k).ok())
    }

    /// Fills unset fields from a variable lookup (for tests and custom configuration sources).
    pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let nonempty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if self.api_key.is_none() {
            self.api_key = nonempty("OPENAI_API_KEY").map(Secret::new);
        }
        if self.base_url.is_none() {
            self.base_url = nonempty("OPENAI_BASE_URL");
        }
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if the base URL is invalid, if a key would go over plain http to a
    /// non-loopback host, or if OpenAI's own endpoint is used without a key.
    pub fn build(self) -> Result<OpenAi, ProviderError> {
        let explicit_base = self.base_url.is_some();
        let raw = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let base = http::parse_base_url(PROVIDER, raw, self.api_key.is_some())?;
        if !explicit_base && self.api_key.is_none() {
            return Err(ProviderError::new(
                ErrorKind::Config,
                "no API key: set OPENAI_API_KEY or call OpenAiBuilder::api_key (a key-less server needs OPENAI_BASE_URL)",
            )
            .with_provider(PROVIDER));
        }
        let transport = Transport::new(PROVIDER, self.client, self.timeout, self.max_response_bytes)?;
        Ok(OpenAi {
            base,
            key: self.api_key,
            transport,
            max_completion_tokens: self.max_completion_tokens.unwrap_or(!explicit_base),
        })
    }
}

impl OpenAi {
    /// A builder with nothing set.
    pub fn builder() -> OpenAiBuilder {
        OpenAiBuilder::default()
    }

    /// A client configured from `OPENAI_API_KEY` and `OPENAI_BASE_URL`.
    ///
    /// # Errors
    /// As [`OpenAiBuilder::build`].
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
        let url = http::join(&self.base, "chat/completions");
        let mut rb = self
            .transport
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
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
            let mut v =
                reqwest::header::HeaderValue::try_from(format!("Bearer {}", k.expose())).map_err(|_| {
                    ProviderError::new(
                        ErrorKind::Config,
                        "the API key contains characters not allowed in a header",
                    )
                    .with_provider(PROVIDER)
                })?;
            v.set_sensitive(true);
            rb = rb.header(reqwest::header::AUTHORIZATION, v);
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
impl Provider for OpenAi {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = wire::encode(model, req, false, self.max_completion_tokens)?;
        let resp = self.send(body, false).await?;
        let bytes = http::read_capped(PROVIDER, resp, self.transport.max_response_bytes).await?;
        wire::decode(model, &bytes)
    }

    async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = wire::encode(model, req, true, self.max_completion_tokens)?;
        let resp = self.send(body, true).await?;
        let bytes = http::capped_bytes(PROVIDER, resp, self.transport.max_response_bytes);
        Ok(stream::parse(bytes, model.prices, self.secrets()))
    }
}

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
    use futures::Stream;

    use super::*;

    /// The JSON body of a Chat Completions request.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] if the request cannot be encoded.
    pub fn encode_request(
        model: &ModelSpec,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req, stream, false)
    }

    /// Parses a non-streamed response body.
    ///
    /// # Errors
    /// [`ErrorKind::MalformedResponse`] if the body is not a chat completion.
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
