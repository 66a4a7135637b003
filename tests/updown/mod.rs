//! A routed client over two fake providers, shared by tests/runtime_spans.rs and
//! tests/runtime_metrics.rs: `cheap` (the primary, on `down`, which answers 503) and `solid` (on
//! `up`, which answers [`ANSWER`] with [`usage`]). No retries, so a request makes one failed and
//! one successful call.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};
use taskroute::runtime::{RetryPolicy, RoutedClient};
use taskroute::{CostFirst, ModelSpec, Prices, Router};

/// The prompt text the tests send (it must never reach a label, a span or a log).
pub(crate) const PROMPT: &str = "SECRET PROMPT about the merger";
/// The answer text `up` gives (it must never reach a label, a span or a log).
pub(crate) const ANSWER: &str = "SECRET ANSWER: approve it";

/// What `up` reports: 120 input tokens (100 of them cached), 30 output.
pub(crate) fn usage() -> Usage {
    Usage::new(120, 30, 100)
}

#[derive(Debug)]
struct Fake {
    name: &'static str,
    up: bool,
}

impl Fake {
    fn check(&self) -> Result<(), ProviderError> {
        if self.up {
            Ok(())
        } else {
            Err(ProviderError::new(ErrorKind::Overloaded, "down").with_status(503))
        }
    }
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        self.name
    }
    async fn complete(&self, m: &ModelSpec, _r: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.check()?;
        Ok(ChatResponse::text(m, ANSWER, usage()))
    }
    async fn stream(&self, m: &ModelSpec, _r: &ChatRequest) -> Result<ChatStream, ProviderError> {
        self.check()?;
        let events = vec![
            Ok(StreamEvent::TextDelta(ANSWER.to_owned())),
            Ok(StreamEvent::Finish {
                finish_reason: FinishReason::Stop,
                usage: usage(),
                cost_usd: usage().cost_usd(&m.prices),
            }),
        ];
        Ok(futures::stream::iter(events).boxed())
    }
}

/// A provider named `name` that answers (`up`) or fails with 503.
pub(crate) fn fake(name: &'static str, up: bool) -> Arc<dyn Provider> {
    Arc::new(Fake { name, up })
}

/// "cheap" (quality 0.8, the cost-first primary) on the provider `cheap_on`, "solid" (0.9) on
/// "up".
pub(crate) fn router(cheap_on: &str) -> Router {
    Router::builder()
        .model_spec(
            ModelSpec::new("cheap", cheap_on, Prices::new(0.1, 0.4), 128_000).with_default_quality(0.8),
        )
        .model_spec(ModelSpec::new("solid", "up", Prices::new(1.0, 4.0), 128_000).with_default_quality(0.9))
        .policy(CostFirst::new(0.7).unwrap())
        .build()
        .unwrap()
}

/// The client; see the module docs.
pub(crate) fn client() -> RoutedClient {
    RoutedClient::builder(router("down"))
        .provider(fake("down", false))
        .provider(fake("up", true))
        .retry(RetryPolicy::default().with_max_retries(0))
        .build()
        .unwrap()
}
