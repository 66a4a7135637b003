//! AWS Bedrock Converse client (feature `bedrock`): `POST {endpoint}/model/{id}/converse` and
//! `/converse-stream`, signed with SigV4 (`aws-sigv4`) or a Bedrock API key (bearer token);
//! streams decoded from AWS event-stream frames (`aws-smithy-eventstream`).
//!
//! ```no_run
//! use taskroute::provider::{ChatRequest, Provider, bedrock::Bedrock};
//! # async fn demo(model: &taskroute::ModelSpec) -> Result<(), taskroute::provider::ProviderError> {
//! // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, ...
//! let client = Bedrock::from_env()?;
//! let answer = client.complete(model, &ChatRequest::new().user("Hello")).await?;
//! println!("{} (${:.6})", answer.text, answer.cost_usd);
//! # Ok(()) }
//! ```
//!
//! Credentials come from the standard variables only (no profiles, SSO or instance metadata):
//! bring those through your own code with [`BedrockBuilder::credentials`].

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::RequestBuilder;

use super::http::{self, Api, Decode, ErrorResponse, HttpOptions, Parse, Secret, Transport};
use super::{ChatRequest, ErrorKind, ProviderError};
use crate::model::ModelSpec;

mod error;
mod stream;
mod wire;

pub(crate) const PROVIDER: &str = "bedrock";

/// The SigV4 signing name of the Bedrock runtime.
const SIGNING_NAME: &str = "bedrock";

#[derive(Clone)]
enum Auth {
    SigV4 {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    Bearer(Secret),
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A client for the Bedrock runtime's Converse API.
///
/// Cheap to clone; its `Debug` never shows the secret key, session token or API key.
#[derive(Clone)]
pub struct Bedrock {
    endpoint: reqwest::Url,
    region: String,
    auth: Auth,
    transport: Transport,
    clock: Clock,
}

impl fmt::Debug for Bedrock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::SigV4 { access_key_id, .. } => format!("SigV4 ({access_key_id}, secret [REDACTED])"),
            Auth::Bearer(_) => "Bedrock API key [REDACTED]".to_owned(),
        };
        let mut d = f.debug_struct("Bedrock");
        d.field("endpoint", &self.endpoint.as_str())
            .field("region", &self.region)
            .field("auth", &auth);
        self.transport.debug_fields(&mut d).finish()
    }
}

/// Builds a [`Bedrock`] client. Its `Debug` never shows secrets.
#[derive(Default)]
pub struct BedrockBuilder {
    region: Option<String>,
    endpoint: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<Secret>,
    session_token: Option<Secret>,
    bearer: Option<Secret>,
    http: HttpOptions,
    clock: Option<Clock>,
}

impl fmt::Debug for BedrockBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BedrockBuilder");
        d.field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &http::redacted(&self.secret_access_key))
            .field("session_token", &http::redacted(&self.session_token))
            .field("bearer_token", &http::redacted(&self.bearer));
        self.http.debug_fields(&mut d).finish()
    }
}

impl BedrockBuilder {
    /// Sets the region (`us-east-1`); it picks the endpoint and signs the requests.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends requests to this endpoint instead of `https://bedrock-runtime.{region}.amazonaws.com`
    /// (a VPC endpoint, a proxy, a local mock).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Signs with these AWS credentials (SigV4).
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(Secret::new(secret_access_key));
        self
    }

    /// Adds a session token to temporary credentials.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Secret::new(token));
        self
    }

    /// Authenticates with a Bedrock API key (`Authorization: Bearer`) instead of SigV4.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(Secret::new(token));
        self
    }

    http::http_setters!();

    /// The clock that dates signatures (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Fills unset fields from the standard AWS variables: `AWS_REGION` (else
    /// `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` (else `AWS_ENDPOINT_URL`),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and
    /// `AWS_BEARER_TOKEN_BEDROCK` (a Bedrock API key).
    pub fn from_env(self) -> Self {
        self.from_vars(|k| std::env::var(k).ok())
    }

    /// Fills unset fields from a variable lookup.
    pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if self.region.is_none() {
            self.region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        }
        if self.endpoint.is_none() {
            self.endpoint = get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME").or_else(|| get("AWS_ENDPOINT_URL"));
        }
        if self.access_key_id.is_none() && self.bearer.is_none() {
            if let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
                self.access_key_id = Some(id);
                self.secret_access_key = Some(Secret::new(secret));
                if self.session_token.is_none() {
                    self.session_token = get("AWS_SESSION_TOKEN").map(Secret::new);
                }
            } else if let Some(token) = get("AWS_BEARER_TOKEN_BEDROCK") {
                self.bearer = Some(Secret::new(token));
            }
        }
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] without a region or credentials, with an invalid endpoint, or with
    /// an endpoint over plain http that is not a loopback address.
    pub fn build(self) -> Result<Bedrock, ProviderError> {
        let config = |m: &str| ProviderError::new(ErrorKind::Config, m).with_provider(PROVIDER);
        let region = self.region.ok_or_else(|| {
            config("no region: set AWS_REGION (or AWS_DEFAULT_REGION) or call BedrockBuilder::region")
        })?;
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(config(
                "the region must be letters, digits and dashes (`us-east-1`)",
            ));
        }
        let auth = match (self.bearer, self.access_key_id, self.secret_access_key) {
            (Some(b), _, _) => Auth::Bearer(b),
            (None, Some(id), Some(secret)) => Auth::SigV4 {
                access_key_id: id,
                secret_access_key: secret,
                session_token: self.session_token,
            },
            _ => {
                return Err(config(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_BEARER_TOKEN_BEDROCK), \
                     or call BedrockBuilder::credentials",
                ));
            }
        };
        let raw = self
            .endpoint
            .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
        let endpoint = http::parse_base_url(PROVIDER, &raw, true)?;
        let secrets = match &auth {
            Auth::SigV4 {
                secret_access_key,
                session_token,
                ..
            } => std::iter::once(secret_access_key)
                .chain(session_token)
                .cloned()
                .collect(),
            Auth::Bearer(b) => vec![b.clone()],
        };
        let transport = self.http.transport(PROVIDER, &endpoint, secrets)?;
        Ok(Bedrock {
            endpoint,
            region,
            auth,
            transport,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
        })
    }
}

impl Bedrock {
    /// A builder with nothing set.
    pub fn builder() -> BedrockBuilder {
        BedrockBuilder::default()
    }

    /// A client configured from the standard AWS variables (see [`BedrockBuilder::from_env`]).
    ///
    /// # Errors
    /// As [`BedrockBuilder::build`].
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::builder().from_env().build()
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn url(&self, model_id: &str, op: &str) -> Result<reqwest::Url, ProviderError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ProviderError::new(ErrorKind::Config, "the endpoint cannot take a path")
                    .with_provider(PROVIDER)
            })?
            .pop_if_empty()
            .push("model")
            .push(model_id)
            .push(op);
        Ok(url)
    }

    /// The headers that authenticate a request (SigV4 or bearer).
    fn auth_headers(
        &self,
        url: &reqwest::Url,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Vec<(String, reqwest::header::HeaderValue)>, ProviderError> {
        let sensitive = |v: &str| http::sensitive_header(PROVIDER, v, "a credential");
        match &self.auth {
            Auth::Bearer(b) => Ok(vec![(
                "authorization".to_owned(),
                sensitive(&format!("Bearer {}", b.expose()))?,
            )]),
            Auth::SigV4 {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                let signing_error = |what: String| {
                    ProviderError::new(ErrorKind::Config, format!("could not sign the request: {what}"))
                        .with_provider(PROVIDER)
                };
                let identity = aws_credential_types::Credentials::new(
                    access_key_id.clone(),
                    secret_access_key.expose().to_owned(),
                    session_token.as_ref().map(|t| t.expose().to_owned()),
                    None,
                    "taskroute",
                )
                .into();
                let params = aws_sigv4::sign::v4::SigningParams::builder()
                    .identity(&identity)
                    .region(&self.region)
                    .name(SIGNING_NAME)
                    .time((self.clock)())
                    .settings(aws_sigv4::http_request::SigningSettings::default())
                    .build()
                    .map_err(|e| signing_error(e.to_string()))?
                    .into();
                let signable = aws_sigv4::http_request::SignableRequest::new(
                    "POST",
                    url.as_str(),
                    headers.iter().copied(),
                    aws_sigv4::http_request::SignableBody::Bytes(body),
                )
                .map_err(|e| signing_error(e.to_string()))?;
                let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
                    .map_err(|e| signing_error(e.to_string()))?
                    .into_parts();
                instructions
                    .headers()
                    .map(|(k, v)| Ok((k.to_owned(), sensitive(v)?)))
                    .collect()
            }
        }
    }
}

impl Api for Bedrock {
    const PROVIDER: &'static str = PROVIDER;

    fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Converse and ConverseStream take the same body (the URL says which).
    fn encode(&self, model: &ModelSpec, req: &ChatRequest, _stream: bool) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req)
    }

    fn post(&self, model: &ModelSpec, body: Vec<u8>, stream: bool) -> Result<RequestBuilder, ProviderError> {
        let url = self.url(
            model.api_name(),
            if stream { "converse-stream" } else { "converse" },
        )?;
        let accept = if stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let signed: [(&str, &str); 2] = [("content-type", "application/json"), ("accept", accept)];
        let auth = self.auth_headers(&url, &body, &signed)?;
        let mut rb = self.transport.client.post(url);
        for (k, v) in signed {
            rb = rb.header(k, v);
        }
        for (k, v) in auth {
            rb = rb.header(k, v);
        }
        Ok(rb.body(body))
    }

    fn error(e: ErrorResponse<'_>) -> ProviderError {
        let error_type = e.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        error::from_status(e.status, error_type, e.retry_after, e.body, e.secrets)
    }

    const DECODE: Decode = wire::decode;

    const PARSE: Parse = stream::parse;
}

http::api_provider!(Bedrock);

/// The wire format without HTTP: for custom transports, tests and benchmarks.
pub mod codec {
    use super::*;

    /// The JSON body of a Converse or ConverseStream request.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] if the request cannot be encoded.
    pub fn encode_request(model: &ModelSpec, req: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
        wire::encode(model, req)
    }

    /// Parses an error response, given its status, `x-amzn-ErrorType` header and body.
    pub fn decode_error(status: u16, error_type: Option<&str>, body: &[u8]) -> ProviderError {
        error::from_status(status, error_type, None, body, &[])
    }

    http::codec_decoders!(
        Bedrock,
        /// Parses a Converse response body.
        ///
        /// # Errors
        /// [`ErrorKind::MalformedResponse`] if the body is not a Converse output.
        decode_response,
        /// Parses a ConverseStream body (AWS event-stream frames), given as chunks split anywhere.
        decode_stream,
    );

    /// One event-stream frame: an `event` with its `:event-type`, or an `exception` with its
    /// `:exception-type`, and a JSON payload. For tests and benchmarks.
    pub fn encode_frame(message_type: &str, name: &str, payload: &[u8]) -> Vec<u8> {
        let type_header = if message_type == "exception" {
            ":exception-type"
        } else {
            ":event-type"
        };
        stream::encode_event(message_type, type_header, name, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Bedrock {
        Bedrock::builder()
            .region("us-east-1")
            .credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .session_token("session-token-secret")
            .clock(|| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
            .build()
            .unwrap()
    }

    #[test]
    fn signs_with_sigv4_for_the_region_and_service() {
        let c = client();
        let url = c
            .url("anthropic.claude-3-haiku-20240307-v1:0", "converse")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0/converse"
        );
        let h = c
            .auth_headers(&url, b"{}", &[("content-type", "application/json")])
            .unwrap();
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("x-amz-date").unwrap(), "20231114T221320Z");
        assert_eq!(get("x-amz-security-token").unwrap(), "session-token-secret");
        assert!(h.iter().all(|(_, v)| v.is_sensitive()));
        // Same inputs, same time: same signature; another body: another signature.
        let again = c
            .auth_headers(&url, b"{}", &[("content-type", "application/json")])
            .unwrap();
        assert_eq!(again[0].1, h[0].1);
        let other = c
            .auth_headers(&url, b"{\"a\":1}", &[("content-type", "application/json")])
            .unwrap();
        assert_ne!(
            other.iter().find(|(k, _)| k == "authorization").unwrap().1,
            h.iter().find(|(k, _)| k == "authorization").unwrap().1
        );
    }

    #[test]
    fn model_ids_with_slashes_are_one_path_segment() {
        let url = client()
            .url(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude",
                "converse-stream",
            )
            .unwrap();
        assert!(
            url.path()
                .contains("inference-profile%2Fus.anthropic.claude/converse-stream"),
            "{url}"
        );
    }

    #[test]
    fn debug_and_errors_never_show_secrets() {
        let c = client();
        let d = format!("{c:?}");
        assert!(
            !d.contains("wJalrXUtnFEMI") && !d.contains("session-token-secret"),
            "{d}"
        );
        assert!(d.contains("AKIDEXAMPLE"));
        let b = Bedrock::builder()
            .credentials("AKID", "topsecretkey")
            .bearer_token("bearer-secret");
        let d = format!("{b:?}");
        assert!(!d.contains("topsecretkey") && !d.contains("bearer-secret"), "{d}");
        let e = error::from_status(
            403,
            Some("InvalidSignatureException"),
            None,
            b"{\"message\":\"signature for wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY is wrong\"}",
            &c.transport
                .secrets()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(!e.to_string().contains("wJalrXUtnFEMI"), "{e}");
    }

    #[test]
    fn configuration_from_variables() {
        let vars = |k: &str| {
            match k {
                "AWS_DEFAULT_REGION" => Some("eu-west-3"),
                "AWS_ACCESS_KEY_ID" => Some("AKID"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:4510"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let c = Bedrock::builder().from_vars(vars).build().unwrap();
        assert_eq!(
            (c.region(), c.endpoint()),
            ("eu-west-3", "http://127.0.0.1:4510/")
        );
        let c = Bedrock::builder()
            .from_vars(|k| {
                match k {
                    "AWS_REGION" => Some("us-west-2"),
                    "AWS_BEARER_TOKEN_BEDROCK" => Some("bedrock-api-key"),
                    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" => Some("https://vpce.example.com"),
                    "AWS_ENDPOINT_URL" => Some("https://ignored.example.com"),
                    _ => None,
                }
                .map(str::to_owned)
            })
            .build()
            .unwrap();
        assert_eq!(c.endpoint(), "https://vpce.example.com/");
        assert!(matches!(c.auth, Auth::Bearer(_)));
        let e = Bedrock::builder().from_vars(|_| None).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = Bedrock::builder().region("us-east-1").build().unwrap_err();
        assert!(e.to_string().contains("no credentials"), "{e}");
        let e = Bedrock::builder()
            .region("us-east-1")
            .credentials("a", "b")
            .endpoint("http://10.1.2.3")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = Bedrock::builder()
            .region("us-east-1/../x")
            .credentials("a", "b")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
