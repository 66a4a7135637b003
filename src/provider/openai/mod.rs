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

use super::http::{self, HttpOptions, KeyedEndpoint, Secret, Transport};
use super::{ChatRequest, ChatResponse, ChatStream, Provider, ProviderError};
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
        http::debug_client(f, "OpenAi", &self.base, &self.key, &self.transport)
    }
}

/// Builds an [`OpenAi`] client. Its `Debug` never shows the key.
#[derive(Default)]
pub struct OpenAiBuilder {
    endpoint: KeyedEndpoint,
    http: HttpOptions,
    max_completion_tokens: Option<bool>,
}

impl fmt::Debug for OpenAiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        http::debug_builder(f, "OpenAiBuilder", &self.endpoint, &self.http)
    }
}

impl OpenAiBuilder {
    /// Sets the API key (sent as `Authorization: Bearer`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.endpoint.api_key = Some(Secret::new(key));
        self
    }

    /// Sets the base URL, including the version path (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:8000/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint.base_url = Some(url.into());
        self
    }

    http::http_setters!();

    /// Sends the output limit as `max_completion_tokens` (OpenAI's current name, required by
    /// reasoning models) rather than `max_tokens` (what most compatible servers read). Defaults
    /// to `true` for OpenAI's own endpoint and `false` for any other base URL.
    pub fn max_completion_tokens(mut self, yes: bool) -> Self {
        self.max_completion_tokens = Some(yes);
        self
    }

    http::keyed_env_setters!("OPENAI_API_KEY", "OPENAI_BASE_URL");

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::provider::ErrorKind::Config) if the base URL is invalid, if a key would go over plain http to a
    /// non-loopback host, or if OpenAI's own endpoint is used without a key.
    pub fn build(self) -> Result<OpenAi, ProviderError> {
        let (base, key, explicit_base) = self.endpoint.resolve(
            PROVIDER,
            DEFAULT_BASE_URL,
            "no API key: set OPENAI_API_KEY or call OpenAiBuilder::api_key (a key-less server needs OPENAI_BASE_URL)",
        )?;
        let transport = self.http.transport(PROVIDER, &base)?;
        Ok(OpenAi {
            base,
            key,
            transport,
            max_completion_tokens: self.max_completion_tokens.unwrap_or(!explicit_base),
        })
    }
}

impl OpenAi {
    http::keyed_client_methods!(OpenAiBuilder, "OPENAI_API_KEY", "OPENAI_BASE_URL");

    async fn send(&self, body: Vec<u8>, streaming: bool) -> Result<reqwest::Response, ProviderError> {
        let url = http::join(&self.base, "chat/completions");
        let mut rb = http::json_post(&self.transport, url, streaming, body);
        if let Some(k) = &self.key {
            let v = http::sensitive_header(PROVIDER, &format!("Bearer {}", k.expose()), "the API key")?;
            rb = rb.header(reqwest::header::AUTHORIZATION, v);
        }
        http::send_keyed(
            &self.transport,
            PROVIDER,
            rb,
            streaming,
            &self.secrets(),
            error::from_body,
        )
        .await
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
        http::read_response(&self.transport, PROVIDER, resp, |bytes| {
            wire::decode(model, bytes)
        })
        .await
    }

    async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = wire::encode(model, req, true, self.max_completion_tokens)?;
        let resp = self.send(body, true).await?;
        let (prices, secrets) = (model.prices.clone(), self.secrets());
        Ok(http::stream_response(&self.transport, PROVIDER, resp, |bytes| {
            stream::parse(bytes, prices, secrets)
        }))
    }
}

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
    use futures::Stream;

    use super::*;

    /// The JSON body of a Chat Completions request.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::provider::ErrorKind::InvalidRequest) if the request cannot be encoded.
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
    /// [`ErrorKind::MalformedResponse`](crate::provider::ErrorKind::MalformedResponse) if the body is not a chat completion.
    pub fn decode_response(model: &ModelSpec, body: &[u8]) -> Result<ChatResponse, ProviderError> {
        wire::decode(model, body)
    }

    /// Parses an error response.
    pub fn decode_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
        http::status_error(PROVIDER, (status, retry_after), body, &[], error::from_body)
    }

    /// Parses a streamed response body, given as chunks split anywhere.
    pub fn decode_stream<S>(model: &ModelSpec, chunks: S) -> ChatStream
    where
        S: Stream<Item = Result<Vec<u8>, ProviderError>> + Send + 'static,
    {
        stream::parse(
            http::chunk_stream(PROVIDER, chunks),
            model.prices.clone(),
            Vec::new(),
        )
    }
}
