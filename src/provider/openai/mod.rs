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

use reqwest::RequestBuilder;

use super::http::{self, Api, Decode, ErrorResponse, HttpOptions, KeyedEndpoint, Parse, Secret, Transport};
use super::{ChatRequest, ProviderError};
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
        let transport = self.http.transport(PROVIDER, &base, key.clone())?;
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
}

impl Api for OpenAi {
    const PROVIDER: &'static str = PROVIDER;

    fn transport(&self) -> &Transport {
        &self.transport
    }

    fn encode(&self, model: &ModelSpec, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req, stream, self.max_completion_tokens)
    }

    fn post(&self, _model: &ModelSpec, body: Vec<u8>, stream: bool) -> Result<RequestBuilder, ProviderError> {
        let url = http::join(&self.base, "chat/completions");
        let rb = http::json_post(&self.transport, url, stream, body);
        let Some(key) = &self.key else {
            return Ok(rb);
        };
        let bearer = http::sensitive_header(PROVIDER, &format!("Bearer {}", key.expose()), "the API key")?;
        Ok(rb.header(reqwest::header::AUTHORIZATION, bearer))
    }

    fn error(e: ErrorResponse<'_>) -> ProviderError {
        http::response_error(PROVIDER, e, error::from_body)
    }

    const DECODE: Decode = wire::decode;

    const PARSE: Parse = stream::parse;
}

http::api_provider!(OpenAi);

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
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

    /// Parses an error response.
    pub fn decode_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
        http::status_error(PROVIDER, (status, retry_after), body, &[], error::from_body)
    }

    http::codec_decoders!(
        OpenAi,
        /// Parses a non-streamed response body.
        ///
        /// # Errors
        /// [`ErrorKind::MalformedResponse`](crate::provider::ErrorKind::MalformedResponse) if the body is not a chat completion.
        decode_response,
        /// Parses a streamed response body, given as chunks split anywhere.
        decode_stream,
    );
}
