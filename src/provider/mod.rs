//! Talking to the models a [`Decision`](crate::Decision) picks: one async [`Provider`] trait
//! over a common [`ChatRequest`] and [`ChatResponse`].
//!
//! This module is the vocabulary only (feature `provider`, no HTTP). The clients each live in
//! their own feature and folder with the same files (`mod.rs`, `wire.rs`, `stream.rs`,
//! `error.rs`): `openai`, `anthropic`, `bedrock`.
//!
//! Every client sends `model.api_name()` as the wire model name, and prices the answer with the
//! model's catalog [`Prices`](crate::Prices): [`ChatResponse::cost_usd`].
//!
//! Errors are one opaque [`ProviderError`] whose [`kind`](ProviderError::kind) says what
//! happened and whether a retry ([`is_retryable`](ProviderError::is_retryable)) or another
//! model ([`can_fallback`](ProviderError::can_fallback)) may help.

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::ModelSpec;

mod error;
#[cfg(any(feature = "openai", feature = "anthropic", feature = "bedrock"))]
mod http;
mod options;
mod ratelimit;
mod request;
mod response;
#[cfg(all(test, any(feature = "openai", feature = "anthropic", feature = "bedrock")))]
mod testing;

#[cfg(feature = "anthropic")]
#[cfg_attr(docsrs, doc(cfg(feature = "anthropic")))]
pub mod anthropic;
#[cfg(feature = "bedrock")]
#[cfg_attr(docsrs, doc(cfg(feature = "bedrock")))]
pub mod bedrock;
#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub mod openai;

pub use error::{ErrorKind, ProviderError};
pub use options::{
    CacheBreakpoint, JsonSchemaFormat, Reasoning, ReasoningEffort, RequestOptionError, RequestSetting,
    ResponseFormat, ToolChoice,
};
pub use ratelimit::{LimitWindow, RateLimits};
pub use request::{ChatRequest, ContentPart, Image, Message, Role, ToolCall, ToolDefinition, ToolResult};
pub use response::{ChatResponse, Collector, FinishReason, StreamEvent, Usage};

#[allow(unused_imports)]
pub(crate) use error::{redact, truncate_utf8};
#[allow(unused_imports)]
pub(crate) use request::OpenAiToolCall;

/// A streamed answer: [`StreamEvent`]s ending with [`StreamEvent::Finish`], or an error.
pub type ChatStream = futures::stream::BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// A chat model provider: sends a [`ChatRequest`] to a model and returns its answer.
///
/// Object-safe: routers and runtimes hold `Arc<dyn Provider>`.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name (`"openai"`), as [`ModelSpec::provider`] names it.
    fn name(&self) -> &str;

    /// Sends the request and waits for the whole answer.
    ///
    /// # Errors
    /// A [`ProviderError`]; its kind says whether to retry or fall back.
    async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Sends the request and returns the answer as a stream of events.
    ///
    /// Errors before the first byte of the answer (HTTP status, connection) are returned here;
    /// later ones come through the stream.
    ///
    /// # Errors
    /// A [`ProviderError`]; its kind says whether to retry or fall back.
    async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError>;
}

macro_rules! forward_provider {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Provider + ?Sized> Provider for $ty {
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn complete(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
                (**self).complete(model, req).await
            }
            async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
                (**self).stream(model, req).await
            }
        }
    )*};
}

forward_provider!(&T, Box<T>, Arc<T>);

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::model::Prices;

    /// Answers every request with the last user message, reversed; streams it word by word.
    struct Echo;

    #[async_trait]
    impl Provider for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        async fn complete(
            &self,
            model: &ModelSpec,
            req: &ChatRequest,
        ) -> Result<ChatResponse, ProviderError> {
            let mut c = Collector::new();
            let mut s = self.stream(model, req).await?;
            while let Some(ev) = s.next().await {
                c.push(ev?);
            }
            c.finish(model)
        }
        async fn stream(&self, model: &ModelSpec, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
            let Some(last) = req.messages.last() else {
                return Err(
                    ProviderError::new(ErrorKind::InvalidRequest, "no messages").with_provider("echo")
                );
            };
            let text: String = last.text().chars().rev().collect();
            let usage = Usage::new(10, text.len() as u32, 4);
            let cost = usage.cost_usd(&model.prices);
            let mut events: Vec<Result<StreamEvent, ProviderError>> = text
                .split_inclusive(' ')
                .map(|w| Ok(StreamEvent::TextDelta(w.to_owned())))
                .collect();
            events.push(Ok(StreamEvent::ToolCallDelta {
                index: 0,
                id: Some("call_1".into()),
                name: Some("noop".into()),
                arguments: "{\"a\":".into(),
            }));
            events.push(Ok(StreamEvent::ToolCallDelta {
                index: 0,
                id: None,
                name: None,
                arguments: "1}".into(),
            }));
            events.push(Ok(StreamEvent::Finish {
                finish_reason: FinishReason::ToolCalls,
                usage,
                cost_usd: cost,
            }));
            Ok(futures::stream::iter(events).boxed())
        }
    }

    fn model() -> ModelSpec {
        ModelSpec::new("m", "echo", Prices::new(2.0, 8.0).with_cached_input(0.5), 1000)
            .with_api_name("wire-m")
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn types_are_send_sync_and_trait_is_object_safe() {
        assert_send_sync::<ProviderError>();
        assert_send_sync::<ChatRequest>();
        assert_send_sync::<ChatResponse>();
        fn assert_send<T: Send>() {}
        assert_send::<ChatStream>();
        assert_send_sync::<Arc<dyn Provider>>();
        let _: Box<dyn Provider> = Box::new(Echo);
    }

    #[tokio::test]
    async fn forwarding_impls_and_collector_build_the_response() {
        let m = model();
        assert_eq!(m.api_name(), "wire-m");
        let req = ChatRequest::new().system("s").user("olleh dlrow");
        let arc: Arc<dyn Provider> = Arc::new(Echo);
        let boxed: Box<dyn Provider> = Box::new(Echo);
        for p in [&arc as &dyn Provider, &boxed, &&Echo] {
            assert_eq!(p.name(), "echo");
            let r = p.complete(&m, &req).await.unwrap();
            assert_eq!(r.text, "world hello");
            assert_eq!(r.model.as_str(), "m");
            assert_eq!(r.finish_reason, FinishReason::ToolCalls);
            assert_eq!(
                r.tool_calls,
                vec![ToolCall::new("call_1", "noop", json!({"a": 1}))]
            );
            let expected = (6.0 * 2.0 + 4.0 * 0.5 + 11.0 * 8.0) / 1e6;
            assert!((r.cost_usd - expected).abs() < 1e-15, "{}", r.cost_usd);
        }
        let err = arc.complete(&m, &ChatRequest::new()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.to_string(), "echo: invalid request: no messages");
    }

    #[test]
    fn collector_refuses_a_stream_without_finish() {
        let mut c = Collector::new();
        c.push(StreamEvent::TextDelta("partial".into()));
        assert!(!c.is_finished());
        let e = c.finish(&model()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MalformedResponse);
    }

    #[test]
    fn collector_caps_hostile_indexes_and_keeps_bad_arguments_raw() {
        let mut c = Collector::new();
        c.push(StreamEvent::ToolCallDelta {
            index: usize::MAX,
            id: Some("x".into()),
            name: Some("t".into()),
            arguments: "{not json".into(),
        });
        c.push(StreamEvent::Finish {
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
            cost_usd: 0.0,
        });
        let r = c.finish(&model()).unwrap();
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].arguments, json!("{not json"));
        assert_eq!(r.tool_calls[0].arguments_json(), "{not json");
    }

    #[test]
    fn request_builders_and_defaults() {
        let req = ChatRequest::new()
            .user("hi")
            .assistant("hello")
            .message(Message::assistant_tool_calls(
                None,
                vec![ToolCall::from_json_text("c1", "t", "")],
            ))
            .message(Message::tool_result(ToolResult::error("c1", "boom")))
            .message(Message::user("look").with_image(Image::base64("image/png", "AAAA")))
            .stop("END")
            .temperature(0.5);
        assert_eq!(req.messages.len(), 5);
        assert_eq!(
            req.messages[2].content,
            vec![ContentPart::ToolCall(ToolCall::new("c1", "t", json!({})))]
        );
        assert_eq!(req.stop, vec!["END"]);
        assert_eq!(req.max_tokens_or_default(&model()), 1000);
        let big = ModelSpec::new("b", "p", Prices::new(1.0, 1.0), 200_000);
        assert_eq!(req.max_tokens_or_default(&big), 4096);
        assert_eq!(req.clone().max_tokens(7).max_tokens_or_default(&big), 7);
        let img = Image::base64("image/jpeg", "x".repeat(100));
        assert_eq!(img.format(), "jpeg");
        assert!(!format!("{img:?}").contains("xxxx"));
        // serde round trip of the whole request
        let json = serde_json::to_string(&req).unwrap();
        let back: ChatRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
    }
}
