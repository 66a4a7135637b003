//! What every client does the same way around its own wire format. A client says how it
//! encodes, sends and parses ([`Api`]); the round trip (encode → send → read the whole answer,
//! or the stream) is written once here, and [`api_provider!`] makes the client a
//! [`Provider`](crate::provider::Provider) that runs it. [`codec_decoders!`] gives its `codec`
//! module the two decoders every client has.

use futures::Stream;
use reqwest::RequestBuilder;

use super::{ByteStream, ErrorResponse, Transport, chunk_stream, rate_limits};
use crate::model::{ModelSpec, Prices};
use crate::provider::{ChatRequest, ChatResponse, ChatStream, ProviderError, StreamEvent};

/// What [`Provider::complete`](crate::provider::Provider::complete) returns.
pub(crate) type Answer = Result<ChatResponse, ProviderError>;

/// What [`Provider::stream`](crate::provider::Provider::stream) returns.
pub(crate) type Streamed = Result<ChatStream, ProviderError>;

/// How a client parses a whole answer.
pub(crate) type Decode = fn(&ModelSpec, &[u8]) -> Answer;

/// How a client parses a streamed answer, given the model's prices and the secrets to redact.
pub(crate) type Parse = fn(ByteStream, Prices, Vec<String>) -> ChatStream;

/// A provider's HTTP API, as a client speaks it: the request's body and its POST, the error an
/// error status means, and the parsers of the answer.
pub(crate) trait Api: Send + Sync {
    /// The provider's name (`"openai"`), in errors and as [`Provider::name`](crate::provider::Provider::name).
    const PROVIDER: &'static str;

    /// The client's HTTP settings and secrets.
    fn transport(&self) -> &Transport;

    /// The request body.
    fn encode(&self, model: &ModelSpec, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ProviderError>;

    /// The POST of `body` for `model`: its URL, headers and credentials.
    fn post(&self, model: &ModelSpec, body: Vec<u8>, stream: bool) -> Result<RequestBuilder, ProviderError>;

    /// The typed error for an HTTP error status.
    fn error(e: ErrorResponse<'_>) -> ProviderError;

    /// Parses a whole (non-streamed) answer.
    const DECODE: Decode;

    /// Parses a streamed answer.
    const PARSE: Parse;
}

/// [`Provider::complete`](crate::provider::Provider::complete) for an [`Api`].
pub(crate) async fn complete<A: Api>(api: &A, model: &ModelSpec, req: &ChatRequest) -> Answer {
    let resp = send(api, model, req, false).await?;
    read_response(api.transport(), A::PROVIDER, resp, |bytes| {
        (A::DECODE)(model, bytes)
    })
    .await
}

/// [`Provider::stream`](crate::provider::Provider::stream) for an [`Api`].
pub(crate) async fn stream<A: Api>(api: &A, model: &ModelSpec, req: &ChatRequest) -> Streamed {
    let resp = send(api, model, req, true).await?;
    let (prices, secrets) = (model.prices.clone(), api.transport().secrets());
    Ok(stream_response(api.transport(), A::PROVIDER, resp, |bytes| {
        (A::PARSE)(bytes, prices, secrets)
    }))
}

/// Encodes and sends the request; a 2xx response as is, any other status as the provider's
/// typed error.
async fn send<A: Api>(
    api: &A,
    model: &ModelSpec,
    req: &ChatRequest,
    stream: bool,
) -> Result<reqwest::Response, ProviderError> {
    let body = api.encode(model, req, stream)?;
    let rb = api.post(model, body, stream)?;
    api.transport().send(A::PROVIDER, rb, stream, A::error).await
}

/// Reads a whole (non-streamed) answer, decodes it with `decode`, and attaches the rate limits
/// its headers announce.
async fn read_response(
    transport: &Transport,
    provider: &str,
    resp: reqwest::Response,
    decode: impl FnOnce(&[u8]) -> Result<ChatResponse, ProviderError>,
) -> Result<ChatResponse, ProviderError> {
    let limits = rate_limits(resp.headers(), std::time::SystemTime::now());
    let bytes = transport.read_body(provider, resp).await?;
    Ok(decode(&bytes)?.with_rate_limits(limits))
}

/// A streamed answer: the events `parse` makes of the body, after a
/// [`StreamEvent::RateLimits`] with what the
/// response's rate-limit headers announce (when they announce anything), so that a runtime
/// learns from streams as from whole answers.
fn stream_response(
    transport: &Transport,
    provider: &'static str,
    resp: reqwest::Response,
    parse: impl FnOnce(ByteStream) -> ChatStream,
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

/// A streamed answer handed in as chunks split anywhere (the codecs' `decode_stream`), parsed
/// without a size cap and with no secrets to redact.
pub(crate) fn decode_chunks<A: Api, S>(model: &ModelSpec, chunks: S) -> ChatStream
where
    S: Stream<Item = Result<Vec<u8>, ProviderError>> + Send + 'static,
{
    (A::PARSE)(
        chunk_stream(A::PROVIDER, chunks),
        model.prices.clone(),
        Vec::new(),
    )
}

/// `impl Provider for $client` through its [`Api`] impl (in a block of its own, so that its
/// imports stay out of the client's module).
macro_rules! api_provider {
    ($client:ty) => {
        const _: () = {
            use $crate::model::ModelSpec;
            use $crate::provider::http::{self, Answer, Api, Streamed};
            use $crate::provider::{ChatRequest, Provider};

            #[async_trait::async_trait]
            impl Provider for $client {
                fn name(&self) -> &str {
                    <Self as Api>::PROVIDER
                }

                async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Answer {
                    http::complete(self, model, req).await
                }

                async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Streamed {
                    http::stream(self, model, req).await
                }
            }
        };
    };
}
pub(crate) use api_provider;

/// A client's public `codec::decode_response` and `codec::decode_stream`, with the docs given
/// before each name, parsing as `$client`'s [`Api`] does.
macro_rules! codec_decoders {
    ($client:ty, $(#[$response_doc:meta])* decode_response, $(#[$stream_doc:meta])* decode_stream $(,)?) => {
        $(#[$response_doc])*
        pub fn decode_response(
            model: &$crate::model::ModelSpec,
            body: &[u8],
        ) -> Result<$crate::provider::ChatResponse, $crate::provider::ProviderError> {
            (<$client as $crate::provider::http::Api>::DECODE)(model, body)
        }

        $(#[$stream_doc])*
        pub fn decode_stream<S>(model: &$crate::model::ModelSpec, chunks: S) -> $crate::provider::ChatStream
        where
            S: futures::Stream<Item = Result<Vec<u8>, $crate::provider::ProviderError>> + Send + 'static,
        {
            $crate::provider::http::decode_chunks::<$client, S>(model, chunks)
        }
    };
}
pub(crate) use codec_decoders;
