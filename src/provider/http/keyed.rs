//! What the clients that send JSON and authenticate with an API key (OpenAI, Anthropic) do
//! alike: the POST itself, the secrets to scrub, reading the answer, and their `Debug`.

use std::fmt;

use super::{
    HttpOptions, KeyedEndpoint, Secret, Transport, rate_limits, redacted, status_kind,
    unparsed_error_message, with_status,
};
use crate::provider::{ChatResponse, ChatStream, ProviderError, StreamEvent};

/// The exposed form of an optional API key, for scrubbing it from errors.
pub(crate) fn key_secrets(key: Option<&Secret>) -> Vec<String> {
    key.iter().map(|k| k.expose().to_owned()).collect()
}

/// A POST of the JSON `body` to `url`, accepting an SSE stream when `streaming`, else JSON.
pub(crate) fn json_post(
    transport: &Transport,
    url: reqwest::Url,
    streaming: bool,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    transport
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
        .body(body)
}

/// Reads a whole (non-streamed) answer, decodes it with `decode`, and attaches the rate limits
/// its headers announce.
pub(crate) async fn read_response(
    transport: &Transport,
    provider: &str,
    resp: reqwest::Response,
    decode: impl FnOnce(&[u8]) -> Result<ChatResponse, ProviderError>,
) -> Result<ChatResponse, ProviderError> {
    let limits = rate_limits(resp.headers(), std::time::SystemTime::now());
    let bytes = transport.read_body(provider, resp).await?;
    Ok(decode(&bytes)?.with_rate_limits(limits))
}

/// The `{"error": {...}}` wrapper OpenAI and Anthropic put around an error object.
#[derive(serde::Deserialize)]
pub(crate) struct ErrorEnvelope<B> {
    pub(crate) error: B,
}

/// Sends a keyed client's request through `transport`; an error status becomes the client's
/// typed error through [`status_error`] and its `from_body`.
pub(crate) async fn send_keyed<B: serde::de::DeserializeOwned>(
    transport: &Transport,
    provider: &'static str,
    rb: reqwest::RequestBuilder,
    streaming: bool,
    secrets: &[String],
    from_body: impl FnOnce(Option<u16>, B, &[&str]) -> ProviderError,
) -> Result<reqwest::Response, ProviderError> {
    transport
        .send(provider, rb, streaming, secrets, |e| {
            status_error(provider, (e.status, e.retry_after), e.body, e.secrets, from_body)
        })
        .await
}

/// The error for an HTTP error status: what `from_body` makes of the error object of a
/// `{"error": {...}}` body (given the status), or, for a body without one, the status's kind with
/// the start of the (redacted) body; either way with the status and the `Retry-After` wait.
pub(crate) fn status_error<B: serde::de::DeserializeOwned>(
    provider: &str,
    (status, retry_after): (u16, Option<std::time::Duration>),
    body: &[u8],
    secrets: &[&str],
    from_body: impl FnOnce(Option<u16>, B, &[&str]) -> ProviderError,
) -> ProviderError {
    let err = match serde_json::from_slice::<ErrorEnvelope<B>>(body) {
        Ok(e) => from_body(Some(status), e.error, secrets),
        Err(_) => ProviderError::new(status_kind(status), unparsed_error_message(body, secrets))
            .with_provider(provider),
    };
    with_status(err, status, retry_after)
}

/// A streamed answer: the events `parse` makes of the body, after a
/// [`StreamEvent::RateLimits`](crate::provider::StreamEvent::RateLimits) with what the
/// response's rate-limit headers announce (when they announce anything), so that a runtime
/// learns from streams as from whole answers.
pub(crate) fn stream_response(
    transport: &Transport,
    provider: &'static str,
    resp: reqwest::Response,
    parse: impl FnOnce(super::ByteStream) -> ChatStream,
) -> ChatStream {
    use futures::StreamExt;
    let limits = rate_limits(resp.headers(), std::time::SystemTime::now());
    let events = parse(transport.body_stream(provider, resp));
    match limits {
        Some(l) => futures::stream::once(async move { Ok(StreamEvent::RateLimits(l)) })
            .chain(events)
            .boxed(),
        None => events,
    }
}

/// The `Debug` of a keyed client: its base URL, its key (redacted) and its transport settings.
pub(crate) fn debug_client(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    base: &reqwest::Url,
    key: &Option<Secret>,
    transport: &Transport,
) -> fmt::Result {
    let mut d = f.debug_struct(name);
    d.field("base_url", &super::shown_url(base.as_str()))
        .field("api_key", &redacted(key));
    transport.debug_fields(&mut d).finish()
}

/// The `Debug` of a keyed client's builder: its endpoint (key redacted) and HTTP options.
pub(crate) fn debug_builder(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    endpoint: &KeyedEndpoint,
    http: &HttpOptions,
) -> fmt::Result {
    let mut d = f.debug_struct(name);
    endpoint.debug_fields(&mut d);
    http.debug_fields(&mut d).finish()
}

/// `builder`, `from_env`, `base_url` and the private `secrets` for a keyed client with `base`
/// and `key` fields, built by `$builder` from the variables `$key` and `$base`.
macro_rules! keyed_client_methods {
    ($builder:ident, $key:literal, $base:literal) => {
        /// A builder with nothing set.
        pub fn builder() -> $builder {
            $builder::default()
        }

        #[doc = concat!("A client configured from `", $key, "` and `", $base, "`.")]
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($builder), "::build`].")]
        pub fn from_env() -> Result<Self, $crate::provider::ProviderError> {
            Self::builder().from_env().build()
        }

        /// The base URL requests go to.
        pub fn base_url(&self) -> &str {
            self.base.as_str()
        }

        fn secrets(&self) -> Vec<String> {
            $crate::provider::http::key_secrets(self.key.as_ref())
        }
    };
}
pub(crate) use keyed_client_methods;
