//! What the clients that send JSON and authenticate with an API key (OpenAI, Anthropic) do
//! alike: the POST itself, the error bodies, and their `Debug`.

use std::fmt;

use super::{
    ErrorResponse, HttpOptions, KeyedEndpoint, Secret, Transport, redacted, status_kind,
    unparsed_error_message, with_status,
};
use crate::provider::ProviderError;

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

/// The `{"error": {...}}` wrapper OpenAI and Anthropic put around an error object.
#[derive(serde::Deserialize)]
pub(crate) struct ErrorEnvelope<B> {
    pub(crate) error: B,
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

/// [`status_error`] for an error response as [`Transport::send`] hands it over.
pub(crate) fn response_error<B: serde::de::DeserializeOwned>(
    provider: &str,
    e: ErrorResponse<'_>,
    from_body: impl FnOnce(Option<u16>, B, &[&str]) -> ProviderError,
) -> ProviderError {
    status_error(provider, (e.status, e.retry_after), e.body, e.secrets, from_body)
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

/// `builder`, `from_env` and `base_url` for a keyed client with a `base` field, built by
/// `$builder` from the variables `$key` and `$base`.
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
    };
}
pub(crate) use keyed_client_methods;
