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

use reqwest::RequestBuilder;

use super::http::{self, Api, Decode, ErrorResponse, HttpOptions, KeyedEndpoint, Parse, Secret, Transport};
use super::{ChatRequest, ProviderError};
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
        http::debug_client(f, "Anthropic", &self.base, &self.key, &self.transport)
    }
}

/// Builds an [`Anthropic`] client. Its `Debug` never shows the key.
#[derive(Default)]
pub struct AnthropicBuilder {
    endpoint: KeyedEndpoint,
    http: HttpOptions,
}

impl fmt::Debug for AnthropicBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        http::debug_builder(f, "AnthropicBuilder", &self.endpoint, &self.http)
    }
}

impl AnthropicBuilder {
    /// Sets the API key (sent as `x-api-key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.endpoint.api_key = Some(Secret::new(key));
        self
    }

    /// Sets the base URL, without `/v1` (`https://api.anthropic.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint.base_url = Some(url.into());
        self
    }

    http::http_setters!();

    http::keyed_env_setters!("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL");

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::provider::ErrorKind::Config) if the base URL is invalid, if a key would go over plain http to a
    /// non-loopback host, or if Anthropic's own endpoint is used without a key.
    pub fn build(self) -> Result<Anthropic, ProviderError> {
        let (base, key, _) = self.endpoint.resolve(
            PROVIDER,
            DEFAULT_BASE_URL,
            "no API key: set ANTHROPIC_API_KEY or call AnthropicBuilder::api_key",
        )?;
        let transport = self.http.transport(PROVIDER, &base, key.clone())?;
        Ok(Anthropic { base, key, transport })
    }
}

impl Anthropic {
    http::keyed_client_methods!(AnthropicBuilder, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL");
}

impl Api for Anthropic {
    const PROVIDER: &'static str = PROVIDER;

    fn transport(&self) -> &Transport {
        &self.transport
    }

    fn encode(&self, model: &ModelSpec, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req, stream)
    }

    fn post(&self, _model: &ModelSpec, body: Vec<u8>, stream: bool) -> Result<RequestBuilder, ProviderError> {
        let url = http::join(&self.base, "v1/messages");
        let rb = http::json_post(&self.transport, url, stream, body).header("anthropic-version", API_VERSION);
        let Some(key) = &self.key else {
            return Ok(rb);
        };
        Ok(rb.header(
            "x-api-key",
            http::sensitive_header(PROVIDER, key.expose(), "the API key")?,
        ))
    }

    fn error(e: ErrorResponse<'_>) -> ProviderError {
        http::response_error(PROVIDER, e, error::from_body)
    }

    const DECODE: Decode = wire::decode;

    const PARSE: Parse = stream::parse;
}

http::api_provider!(Anthropic);

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
    use super::*;

    /// The JSON body of a Messages request.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::provider::ErrorKind::InvalidRequest) if the request cannot be encoded.
    pub fn encode_request(
        model: &ModelSpec,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req, stream)
    }

    /// Parses an error response.
    pub fn decode_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
        http::status_error(PROVIDER, (status, retry_after), body, &[], error::from_body)
    }

    http::codec_decoders!(
        Anthropic,
        /// Parses a non-streamed response body.
        ///
        /// # Errors
        /// [`ErrorKind::MalformedResponse`](crate::provider::ErrorKind::MalformedResponse) if the body is not a message.
        decode_response,
        /// Parses a streamed response body, given as chunks split anywhere.
        decode_stream,
    );
}
