//! An in-process stand-in for a provider, shared by the runtime examples (included with
//! `#[path = "support/fake_provider.rs"] mod fake_provider;`): each call answers what a closure
//! says, after an optional delay. It does not stream.
#![allow(dead_code)] // each example uses some of it

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use taskroute::ModelSpec;
use taskroute::provider::{ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError};

/// What a fake answers to its n-th call (counted from 1 over all its calls, whatever the model).
type Answer = dyn Fn(&ModelSpec, u64) -> Result<ChatResponse, ProviderError> + Send + Sync;

/// A provider named `name` that answers each call with `answer(model, n)`.
pub(crate) struct FakeProvider {
    name: &'static str,
    delay: Duration,
    calls: AtomicU64,
    answer: Box<Answer>,
}

impl FakeProvider {
    /// A fake named `name` whose n-th call (from 1, over all models) answers `answer(model, n)` at once.
    pub(crate) fn new(
        name: &'static str,
        answer: impl Fn(&ModelSpec, u64) -> Result<ChatResponse, ProviderError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            delay: Duration::ZERO,
            calls: AtomicU64::new(0),
            answer: Box::new(answer),
        }
    }

    /// Answers after `delay` (tokio's time).
    pub(crate) fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The calls it has had.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// The error of a provider that is down: 503, overloaded.
pub(crate) fn unavailable() -> ProviderError {
    ProviderError::new(ErrorKind::Overloaded, "service unavailable").with_status(503)
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &str {
        self.name
    }
    async fn complete(&self, m: &ModelSpec, _r: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.answer)(m, n)
    }
    async fn stream(&self, _m: &ModelSpec, _r: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::Unsupported,
            "this example does not stream",
        ))
    }
}
