//! OpenAI error bodies (`{"error": {"message", "type", "param", "code"}}`) to [`ProviderError`].

use serde::Deserialize;

use super::super::http::status_kind;
use super::super::{ErrorKind, ProviderError, redact};
use super::PROVIDER;

#[derive(Deserialize)]
pub(crate) struct Body {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// An error object found in a body (`error` field) or a stream chunk.
pub(crate) fn from_value(v: serde_json::Value, secrets: &[&str]) -> ProviderError {
    match serde_json::from_value::<Body>(v) {
        Ok(b) => from_body(None, b, secrets),
        Err(_) => ProviderError::new(ErrorKind::Server, "the stream carried an error without details")
            .with_provider(PROVIDER),
    }
}

/// The error an error object says; `status` is the HTTP status, for an error response.
pub(crate) fn from_body(status: Option<u16>, b: Body, secrets: &[&str]) -> ProviderError {
    let code = match &b.code {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let message = redact(b.message.as_deref().unwrap_or("no message"), secrets);
    let ty = b.kind.as_deref().unwrap_or("");
    let c = code.as_deref().unwrap_or("");
    let lower = message.to_ascii_lowercase();
    let kind = if c == "context_length_exceeded"
        || c == "string_above_max_length"
        || lower.contains("maximum context length")
        || lower.contains("context length")
        || lower.contains("context window")
    {
        ErrorKind::ContextTooLong
    } else if c == "insufficient_quota" || ty == "insufficient_quota" {
        // Billing: waiting does not help, another provider may.
        ErrorKind::Permission
    } else if c == "rate_limit_exceeded" || ty == "rate_limit_error" || ty == "tokens" || ty == "requests" {
        ErrorKind::RateLimited
    } else if c == "invalid_api_key" || ty == "authentication_error" {
        ErrorKind::Authentication
    } else if c == "model_not_found" {
        ErrorKind::NotFound
    } else if let Some(s) = status {
        status_kind(s)
    } else if ty == "server_error" {
        ErrorKind::Server
    } else if ty == "invalid_request_error" {
        ErrorKind::InvalidRequest
    } else {
        ErrorKind::Server
    };
    let mut err = ProviderError::new(kind, message).with_provider(PROVIDER);
    if let Some(c) = code.or_else(|| b.kind.clone()) {
        err = err.with_code(redact(&c, secrets));
    }
    err
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::provider::http::status_error;
    use crate::provider::testing::assert_status_kinds;

    // Bodies as documented at https://platform.openai.com/docs/guides/error-codes and as the API
    // sends them.
    #[test]
    fn maps_documented_errors() {
        let from_status = |status, body: &[u8]| {
            let e = status_error(PROVIDER, (status, None), body, &["sk-abc123secret"], from_body);
            assert!(!e.to_string().contains("sk-abc123secret"), "{e}");
            e
        };
        assert_status_kinds(
            from_status,
            &[
                (
                    401,
                    r#"{"error":{"message":"Incorrect API key provided: sk-abc123secret. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                    ErrorKind::Authentication,
                ),
                (
                    429,
                    r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 30000, Requested 100.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
                    ErrorKind::RateLimited,
                ),
                (
                    429,
                    r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
                    ErrorKind::Permission,
                ),
                (
                    400,
                    r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                    ErrorKind::ContextTooLong,
                ),
                (
                    404,
                    r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
                    ErrorKind::NotFound,
                ),
                (
                    400,
                    r#"{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}}"#,
                    ErrorKind::InvalidRequest,
                ),
                (
                    500,
                    r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
                    ErrorKind::Server,
                ),
                (
                    503,
                    r#"{"error":{"message":"The engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}}"#,
                    ErrorKind::Overloaded,
                ),
                (
                    403,
                    r#"{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}"#,
                    ErrorKind::Permission,
                ),
            ],
        );
    }

    #[test]
    fn non_json_and_empty_bodies_fall_back_to_the_status() {
        let three = Some(Duration::from_secs(3));
        let e = status_error(
            PROVIDER,
            (502, three),
            b"<html>Bad Gateway</html>",
            &[],
            from_body,
        );
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(e.message().contains("non-JSON"), "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = status_error(PROVIDER, (429, None), b"", &[], from_body);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }
}
