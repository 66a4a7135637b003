//! An in-process fake provider for the runtime's fault-injection and load tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};
use taskroute::{ModelSpec, Prices, Router, RouterBuilder};

/// What the fake does on one call.
#[derive(Clone, Debug)]
pub enum Act {
    /// Answer `text` after `delay`.
    Ok { delay: Duration, text: String },
    /// Fail as the fault says.
    Err(Fault),
    /// Answer `text` at once, with no usage (all token counts zero).
    NoUsage(String),
    /// Never answer.
    Hang,
    /// Stream: fail before any event.
    StreamCutBefore(ErrorKind),
    /// Stream: deliver `n` text events, then fail with `kind`.
    StreamCutAfter(usize, ErrorKind),
}

impl Act {
    pub fn ok(text: &str) -> Self {
        Act::Ok {
            delay: Duration::ZERO,
            text: text.to_owned(),
        }
    }
    pub fn slow(ms: u64, text: &str) -> Self {
        Act::Ok {
            delay: Duration::from_millis(ms),
            text: text.to_owned(),
        }
    }
    pub fn err(kind: ErrorKind, status: u16) -> Self {
        Act::Err(Fault {
            delay: Duration::ZERO,
            kind,
            status: Some(status),
            retry_after: None,
        })
    }
    pub fn rate_limited(retry_after: Duration) -> Self {
        Act::Err(Fault {
            delay: Duration::ZERO,
            kind: ErrorKind::RateLimited,
            status: Some(429),
            retry_after: Some(retry_after),
        })
    }
}

/// A failure: `kind` (and `status`, `retry_after`) after `delay`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub delay: Duration,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

impl Fault {
    /// Waits the delay, then gives the error.
    async fn fail(self) -> ProviderError {
        pause(self.delay).await;
        error(self.kind, self.status, self.retry_after)
    }
}

/// A scripted provider: per model, a queue of acts, then a default act.
#[derive(Debug)]
pub struct Fake {
    pub name: String,
    scripts: Mutex<HashMap<String, VecDeque<Act>>>,
    default: Mutex<HashMap<String, Act>>,
    pub calls: Mutex<Vec<(String, tokio::time::Instant)>>,
}

impl Fake {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            scripts: Mutex::new(HashMap::new()),
            default: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Queues acts for `model`.
    pub fn script(self, model: &str, acts: impl IntoIterator<Item = Act>) -> Self {
        self.scripts
            .lock()
            .unwrap()
            .entry(model.to_owned())
            .or_default()
            .extend(acts);
        self
    }

    /// What `model` does once its queue is empty (default: answers "ok").
    pub fn always(self, model: &str, act: Act) -> Self {
        self.default.lock().unwrap().insert(model.to_owned(), act);
        self
    }

    pub fn calls_to(&self, model: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == model)
            .count()
    }

    pub fn call_times(&self, model: &str) -> Vec<tokio::time::Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == model)
            .map(|(_, t)| *t)
            .collect()
    }

    fn next(&self, model: &str) -> Act {
        self.calls
            .lock()
            .unwrap()
            .push((model.to_owned(), tokio::time::Instant::now()));
        if let Some(a) = self
            .scripts
            .lock()
            .unwrap()
            .get_mut(model)
            .and_then(VecDeque::pop_front)
        {
            return a;
        }
        self.default
            .lock()
            .unwrap()
            .get(model)
            .cloned()
            .unwrap_or_else(|| Act::ok("ok"))
    }
}

/// Sleeps on tokio's clock, but not at all for a zero delay (so a zero-delay act completes in
/// its first poll, whatever clock the client uses).
async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

pub fn usage_for(text: &str) -> Usage {
    Usage::new(100, text.split_whitespace().count().max(1) as u32, 0)
}

fn error(kind: ErrorKind, status: Option<u16>, retry_after: Option<Duration>) -> ProviderError {
    let mut e = ProviderError::new(kind, "injected fault").with_provider("fake");
    if let Some(s) = status {
        e = e.with_status(s);
    }
    if let Some(r) = retry_after {
        e = e.with_retry_after(r);
    }
    e
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        match self.next(model.id.as_str()) {
            Act::Ok { delay, text } => {
                pause(delay).await;
                let usage = usage_for(&text);
                Ok(ChatResponse::text(model, text, usage))
            }
            Act::Err(fault) => Err(fault.fail().await),
            Act::NoUsage(text) => Ok(ChatResponse::text(model, text, Usage::default())),
            Act::Hang => futures::future::pending().await,
            Act::StreamCutBefore(kind) | Act::StreamCutAfter(_, kind) => Err(error(kind, None, None)),
        }
    }

    async fn stream(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let finish = |text: &str| {
            let usage = usage_for(text);
            StreamEvent::Finish {
                finish_reason: FinishReason::Stop,
                usage,
                cost_usd: usage.cost_usd(&model.prices),
            }
        };
        match self.next(model.id.as_str()) {
            Act::Ok { delay, text } => {
                pause(delay).await;
                let mut evs: Vec<Result<StreamEvent, ProviderError>> = text
                    .split_inclusive(' ')
                    .map(|w| Ok(StreamEvent::TextDelta(w.to_owned())))
                    .collect();
                evs.push(Ok(finish(&text)));
                Ok(futures::stream::iter(evs).boxed())
            }
            Act::Err(fault) => Err(fault.fail().await),
            Act::NoUsage(text) => Ok(futures::stream::iter(vec![
                Ok(StreamEvent::TextDelta(text)),
                Ok(StreamEvent::Finish {
                    finish_reason: FinishReason::Stop,
                    usage: Usage::default(),
                    cost_usd: 0.0,
                }),
            ])
            .boxed()),
            Act::Hang => Ok(futures::stream::pending().boxed()),
            Act::StreamCutBefore(kind) => {
                Ok(futures::stream::iter(vec![Err(error(kind, None, None))]).boxed())
            }
            Act::StreamCutAfter(n, kind) => {
                let mut evs: Vec<Result<StreamEvent, ProviderError>> = (0..n)
                    .map(|i| Ok(StreamEvent::TextDelta(format!("tok{i} "))))
                    .collect();
                evs.push(Err(error(kind, None, None)));
                Ok(futures::stream::iter(evs).boxed())
            }
        }
    }
}

/// A model served by the fake provider `p`, with quality and prices in USD per Mtok.
pub fn model(id: &str, provider: &str, price: f64, quality: f64) -> ModelSpec {
    ModelSpec::new(id, provider, Prices::new(price, price * 4.0), 128_000)
        .with_max_output_tokens(4096)
        .with_default_quality(quality)
}

/// A router builder with "cheap" ($0.1, quality 0.8) and "dear" ($5, quality 0.95), both served
/// by `fake`; the policy (and anything else) is the caller's.
pub fn cheap_and_dear() -> RouterBuilder {
    Router::builder()
        .model_spec(model("cheap", "fake", 0.1, 0.8))
        .model_spec(model("dear", "fake", 5.0, 0.95))
}
