//! What the provider clients' unit tests share: a conversation with every kind of part, and the
//! check that bodies a client cannot read are malformed-response errors.

use super::{ChatResponse, ErrorKind, ProviderError};

/// A system prompt, a user message with text and an image, the assistant's call
/// `get_weather({"city": "Paris"})` with id `call_id`, its `result`, and the tool's definition.
#[cfg(any(feature = "anthropic", feature = "bedrock"))]
pub(crate) fn tool_round(call_id: &str, result: super::ToolResult) -> super::ChatRequest {
    use serde_json::json;

    use super::{ChatRequest, Image, Message, ToolCall, ToolDefinition};
    ChatRequest::new()
        .system("sys")
        .message(Message::user("look").with_image(Image::base64("image/png", "QUJD")))
        .message(Message::assistant_tool_calls(
            None,
            vec![ToolCall::new(call_id, "get_weather", json!({"city": "Paris"}))],
        ))
        .message(Message::tool_result(result))
        .tool(ToolDefinition::new(
            "get_weather",
            "weather",
            json!({"type": "object"}),
        ))
}

/// Each of `bodies` is a [`ErrorKind::MalformedResponse`] for `decode`.
pub(crate) fn assert_malformed(
    decode: impl Fn(&[u8]) -> Result<ChatResponse, ProviderError>,
    bodies: &[&[u8]],
) {
    for body in bodies {
        let e = decode(body).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::MalformedResponse,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

/// For each `(status, body, kind)` of `cases`, `from_status` gives an error of that kind that
/// keeps the status.
#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) fn assert_status_kinds(
    from_status: impl Fn(u16, &[u8]) -> ProviderError,
    cases: &[(u16, &str, ErrorKind)],
) {
    for &(status, body, kind) in cases {
        let e = from_status(status, body.as_bytes());
        assert_eq!(e.kind(), kind, "{body}");
        assert_eq!(e.status(), Some(status));
    }
}
