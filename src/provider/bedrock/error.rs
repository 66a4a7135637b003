//! Bedrock errors to [`ProviderError`]: the exception name from the `x-amzn-ErrorType` header
//! (or the body's `__type`, or an event-stream `:exception-type`), the message from the body.

use std::time::Duration;

use serde::Deserialize;

use super::super::http::{status_kind, unparsed_error_message, with_status};
use super::super::{ErrorKind, ProviderError, redact};
use super::PROVIDER;

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default, alias = "Message")]
    message: Option<String>,
    #[serde(default, rename = "__type")]
    kind: Option<String>,
    /// The Anthropic-shaped body some mocks and proxies send.
    #[serde(default)]
    error: Option<Inner>,
}

#[derive(Deserialize, Default)]
struct Inner {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The error kind for a Bedrock exception name (`ThrottlingException`, `throttlingException`).
pub(crate) fn exception_kind(name: &str, message: &str) -> Option<ErrorKind> {
    let lower = name.to_ascii_lowercase();
    let msg = message.to_ascii_lowercase();
    Some(match lower.as_str() {
        "validationexception" if is_context_message(&msg) => ErrorKind::ContextTooLong,
        "validationexception" => ErrorKind::InvalidRequest,
        "throttlingexception" | "servicequotaexceededexception" | "toomanyrequestsexception" => {
            ErrorKind::RateLimited
        }
        "accessdeniedexception" => ErrorKind::Permission,
        "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "incompletesignature"
        | "missingauthenticationtokenexception"
        | "expiredtokenexception"
        | "invalidclienttokenid" => ErrorKind::Authentication,
        "resourcenotfoundexception" => ErrorKind::NotFound,
        "modelnotreadyexception" | "serviceunavailableexception" => ErrorKind::Overloaded,
        "modeltimeoutexception" | "requesttimeoutexception" => ErrorKind::Timeout,
        "internalserverexception"
        | "internalfailure"
        | "modelerrorexception"
        | "modelstreamerrorexception" => ErrorKind::Server,
        _ => return None,
    })
}

fn is_context_message(msg: &str) -> bool {
    msg.contains("too long")
        || msg.contains("context window")
        || msg.contains("context length")
        || msg.contains("maximum context")
        || msg.contains("too many input tokens")
        || msg.contains("exceed context limit")
}

/// The exception name without the `:http://...` suffix AWS adds to `x-amzn-ErrorType`.
fn clean(name: &str) -> &str {
    let name = name.split(':').next().unwrap_or(name);
    name.rsplit('#').next().unwrap_or(name).trim()
}

/// The error for an HTTP error status.
pub(crate) fn from_status(
    status: u16,
    error_type: Option<&str>,
    retry_after: Option<Duration>,
    body: &[u8],
    secrets: &[&str],
) -> ProviderError {
    let parsed: Option<Body> = serde_json::from_slice(body).ok();
    let (kind, name, message) = match parsed {
        Some(b) => {
            let name = error_type
                .map(clean)
                .or(b.kind.as_deref().map(clean))
                .map(str::to_owned)
                .or_else(|| b.error.as_ref().and_then(|e| e.kind.clone()));
            let message = b
                .message
                .or_else(|| b.error.and_then(|e| e.message))
                .unwrap_or_else(|| "no message".to_owned());
            let kind = name
                .as_deref()
                .and_then(|n| exception_kind(n, &message))
                .unwrap_or_else(|| status_kind(status));
            let kind =
                if kind == ErrorKind::InvalidRequest && is_context_message(&message.to_ascii_lowercase()) {
                    ErrorKind::ContextTooLong
                } else {
                    kind
                };
            (kind, name, message)
        }
        None => {
            let message = unparsed_error_message(body, secrets);
            let name = error_type.map(clean).map(str::to_owned);
            let kind = name
                .as_deref()
                .and_then(|n| exception_kind(n, ""))
                .unwrap_or_else(|| status_kind(status));
            (kind, name, message)
        }
    };
    let mut err = ProviderError::new(kind, redact(&message, secrets)).with_provider(PROVIDER);
    if let Some(n) = name {
        err = err.with_code(redact(&n, secrets));
    }
    with_status(err, status, retry_after)
}

/// An exception message inside an event stream (`:message-type: exception`).
pub(crate) fn from_exception(name: &str, payload: &[u8], secrets: &[&str]) -> ProviderError {
    let body: Body = serde_json::from_slice(payload).unwrap_or_default();
    let message = body.message.unwrap_or_else(|| "no message".to_owned());
    let kind = exception_kind(name, &message).unwrap_or(ErrorKind::Server);
    ProviderError::new(kind, redact(&message, secrets))
        .with_provider(PROVIDER)
        .with_code(redact(name, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Exception names and statuses from
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
    // and https://docs.aws.amazon.com/bedrock/latest/userguide/troubleshooting-api-error-codes.html
    #[test]
    fn maps_documented_exceptions() {
        let cases: &[(u16, &str, &str, ErrorKind)] = &[
            (
                429,
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "Too many requests, please wait before trying again.",
                ErrorKind::RateLimited,
            ),
            (
                400,
                "ValidationException",
                "Malformed input request: #: extraneous key [foo] is not permitted",
                ErrorKind::InvalidRequest,
            ),
            (
                400,
                "ValidationException",
                "Input is too long for requested model.",
                ErrorKind::ContextTooLong,
            ),
            (
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
                ErrorKind::Permission,
            ),
            (
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                ErrorKind::Authentication,
            ),
            (
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
                ErrorKind::Authentication,
            ),
            (
                404,
                "ResourceNotFoundException",
                "Could not resolve the foundation model from the provided model identifier.",
                ErrorKind::NotFound,
            ),
            (
                429,
                "ModelNotReadyException",
                "Model is not ready",
                ErrorKind::Overloaded,
            ),
            (
                503,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
                ErrorKind::Overloaded,
            ),
            (
                408,
                "ModelTimeoutException",
                "Model has timed out in processing the request.",
                ErrorKind::Timeout,
            ),
            (
                500,
                "InternalServerException",
                "The server encountered an internal error.",
                ErrorKind::Server,
            ),
            (424, "ModelErrorException", "The model failed.", ErrorKind::Server),
            (
                400,
                "ServiceQuotaExceededException",
                "Your request exceeds the service quota for your account.",
                ErrorKind::RateLimited,
            ),
        ];
        for (status, name, message, kind) in cases {
            let body = format!("{{\"message\":\"{message}\"}}");
            let e = from_status(*status, Some(name), None, body.as_bytes(), &[]);
            assert_eq!(e.kind(), *kind, "{name}");
            assert_eq!(e.status(), Some(*status));
            assert!(!e.code().unwrap().contains("http"), "{e}");
            assert!(e.message().contains(&message[..10]), "{e}");
        }
    }

    #[test]
    fn body_type_and_anthropic_shape_and_plain_status() {
        let e = from_status(
            400,
            None,
            None,
            br#"{"__type":"com.amazon.coral.validate#ValidationException","Message":"Input is too long"}"#,
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::ContextTooLong);
        assert_eq!(e.code(), Some("ValidationException"));
        // The shape aimock sends: Anthropic's, without x-amzn-ErrorType.
        let e = from_status(
            429,
            None,
            None,
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#,
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.message(), "slow");
        let e = from_status(502, None, None, b"<html>bad gateway</html>", &[]);
        assert_eq!(e.kind(), ErrorKind::Server);
    }

    #[test]
    fn stream_exceptions() {
        let e = from_exception("throttlingException", br#"{"message":"Too many tokens"}"#, &[]);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = from_exception("modelStreamErrorException", b"garbage", &[]);
        assert_eq!(e.kind(), ErrorKind::Server);
    }
}
