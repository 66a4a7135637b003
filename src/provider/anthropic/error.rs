//! Anthropic error bodies (`{"type": "error", "error": {"type", "message"}}`) to [`ProviderError`].

use serde::Deserialize;

use super::super::http::{ErrorEnvelope, status_kind};
use super::super::{ErrorKind, ProviderError, redact};
use super::PROVIDER;

#[derive(Deserialize)]
pub(crate) struct Body {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// An `error` event in a stream (`{"type": "error", "error": {...}}`).
pub(crate) fn from_event(data: &str, secrets: &[&str]) -> ProviderError {
    match serde_json::from_str::<ErrorEnvelope<Body>>(data) {
        Ok(e) => from_body(None, e.error, secrets),
        Err(_) => ProviderError::new(ErrorKind::Server, "the stream carried an error without details")
            .with_provider(PROVIDER),
    }
}

/// The error an error object says; `status` is the HTTP status, for an error response.
pub(crate) fn from_body(status: Option<u16>, b: Body, secrets: &[&str]) -> ProviderError {
    let message = redact(b.message.as_deref().unwrap_or("no message"), secrets);
    let lower = message.to_ascii_lowercase();
    let ty = b.kind.as_deref().unwrap_or("");
    let kind = match ty {
        "invalid_request_error"
            if lower.contains("prompt is too long")
                || lower.contains("exceed context limit")
                || lower.contains("context window")
                || lower.contains("maximum context length") =>
        {
            ErrorKind::ContextTooLong
        }
        // A more specific status wins over the generic type (proxies and mocks send 404 or 429
        // with `invalid_request_error`).
        "invalid_request_error" if status.is_some_and(|s| !matches!(s, 400 | 413 | 422)) => {
            status.map_or(ErrorKind::InvalidRequest, status_kind)
        }
        "invalid_request_error" | "request_too_large" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "permission_error" | "billing_error" => ErrorKind::Permission,
        "not_found_error" => ErrorKind::NotFound,
        "rate_limit_error" => ErrorKind::RateLimited,
        "overloaded_error" => ErrorKind::Overloaded,
        "api_error" => ErrorKind::Server,
        "timeout_error" => ErrorKind::Timeout,
        _ => status.map_or(ErrorKind::Server, status_kind),
    };
    let mut err = ProviderError::new(kind, message).with_provider(PROVIDER);
    if let Some(t) = b.kind {
        err = err.with_code(redact(&t, secrets));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::http::status_error;
    use crate::provider::testing::assert_status_kinds;

    // Error shapes and types from https://docs.anthropic.com/en/api/errors.
    #[test]
    fn maps_documented_errors() {
        let from_status = |status, body: &[u8]| status_error(PROVIDER, (status, None), body, &[], from_body);
        assert_status_kinds(
            from_status,
            &[
                (
                    400,
                    r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles must alternate"}}"#,
                    ErrorKind::InvalidRequest,
                ),
                (
                    400,
                    r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#,
                    ErrorKind::ContextTooLong,
                ),
                (
                    400,
                    r#"{"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 197626 + 8192 > 200000, decrease input length or `max_tokens` and try again"}}"#,
                    ErrorKind::ContextTooLong,
                ),
                (
                    401,
                    r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
                    ErrorKind::Authentication,
                ),
                (
                    402,
                    r#"{"type":"error","error":{"type":"billing_error","message":"billing issue"}}"#,
                    ErrorKind::Permission,
                ),
                (
                    403,
                    r#"{"type":"error","error":{"type":"permission_error","message":"no access"}}"#,
                    ErrorKind::Permission,
                ),
                (
                    404,
                    r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}"#,
                    ErrorKind::NotFound,
                ),
                (
                    413,
                    r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
                    ErrorKind::InvalidRequest,
                ),
                (
                    429,
                    r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
                    ErrorKind::RateLimited,
                ),
                (
                    500,
                    r#"{"type":"error","error":{"type":"api_error","message":"An unexpected error has occurred internal to Anthropic's systems."}}"#,
                    ErrorKind::Server,
                ),
                (
                    504,
                    r#"{"type":"error","error":{"type":"timeout_error","message":"Request timed out"}}"#,
                    ErrorKind::Timeout,
                ),
                (
                    529,
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                    ErrorKind::Overloaded,
                ),
            ],
        );
        let e = from_status(529, b"upstream connect error");
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert!(e.is_retryable());
    }
}
