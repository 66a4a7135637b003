//! Routed streaming: fall back only before the first token reaches the caller.
//!
//! [`RoutedClient::stream`] calls the ranked models in turn, exactly like
//! [`complete`](RoutedClient::complete), until one of them produces its first event. Errors up
//! to that point (the call failing, the stream failing or ending before any event, the deadline)
//! are retried or fall back as usual: the caller has seen nothing. From the first event on, the
//! caller owns what it has been given, so a later failure is **surfaced, never replayed**: the
//! stream yields one [`StreamInterrupted`] error carrying what was delivered and every attempt,
//! then ends. The deadline still applies to the whole stream.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use tracing::Instrument;

use crate::model::{ModelId, ModelSpec};
use crate::provider::{ChatRequest, ChatStream, ErrorKind, Provider, ProviderError, RateLimits, StreamEvent};
use crate::runtime::attempt::{Attempt, AttemptOutcome, CostBasis};
use crate::runtime::breaker::{BreakerPermit, CallOutcome};
use crate::runtime::charge::Charge;
use crate::runtime::client::RoutedClient;
use crate::runtime::clock::{Clock, Sleep};
use crate::runtime::deploy::{DeploymentId, Slot};
use crate::runtime::error::RoutedError;
use crate::runtime::request::RequestOptions;
use crate::runtime::spans;
use crate::runtime::stats::RuntimeStats;
use crate::runtime::turn::{ModelCall, deadline_outcome, health_outcome, ms};
use crate::task::Task;

/// A stream failed after its first event reached the caller. Not replayed: what was delivered
/// stands, and the caller decides what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "stream from `{model}` failed after {delivered_events} events reached the caller ({error}); \
     it was not replayed on another model"
)]
#[non_exhaustive]
pub struct StreamInterrupted {
    /// The model that was streaming.
    pub model: ModelId,
    /// What went wrong ([`ErrorKind::Timeout`] when the request's deadline ran out).
    pub error: ProviderError,
    /// Whether the request's deadline ran out.
    pub deadline_exceeded: bool,
    /// The text delivered before the failure.
    pub delivered_text: String,
    /// The number of events delivered before the failure.
    pub delivered_events: usize,
    /// Every attempt of the request, the interrupted one last.
    pub attempts: Vec<Attempt>,
}

struct Live {
    model: ModelSpec,
    rank: u32,
    retry: u32,
    start: Instant,
    expected_ms: f64,
    permit: Option<BreakerPermit>,
    /// Settled when the stream ends; charged whole when it is dropped early.
    charge: Option<Charge>,
    stats: Option<Arc<RuntimeStats>>,
    clock: Arc<dyn Clock>,
    /// The deployment's admission (for a model with deployments): closed with the usage at
    /// the end, or on drop with the whole reservation.
    slot: Option<Slot>,
    deployment: Option<DeploymentId>,
    /// The request's span (`taskroute.stream`), told the usage when the stream finishes.
    span: tracing::Span,
    /// The client's metrics, and the request's budget scopes (for the spend metric).
    #[cfg(feature = "metrics")]
    metrics: (Arc<crate::telemetry::Metrics>, Vec<crate::runtime::BudgetScope>),
}

/// A routed stream of [`StreamEvent`]s; see the [module docs](self).
///
/// The budget is settled before the [`Finish`](StreamEvent::Finish) event is handed over (with
/// a store that answers without waiting, such as [`InMemoryBudgetStore`]; others finish on the
/// tokio runtime). Dropped early, the breaker slot is freed at once and the whole reservation
/// is charged: the tokens produced so far were billed.
///
/// [`InMemoryBudgetStore`]: crate::runtime::InMemoryBudgetStore
pub struct RoutedStream {
    inner: ChatStream,
    first: Option<StreamEvent>,
    deadline: Sleep,
    deadline_len: Duration,
    live: Live,
    attempts: Vec<Attempt>,
    delivered_text: String,
    delivered_events: usize,
    finished: bool,
    done: bool,
}

impl fmt::Debug for RoutedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedStream")
            .field("model", &self.live.model.id)
            .field("attempts", &self.attempts.len())
            .field("delivered_events", &self.delivered_events)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RoutedStream {
    /// The model streaming the answer.
    pub fn model(&self) -> &ModelId {
        &self.live.model.id
    }

    /// The attempts so far: the failed ones before this model, and this one once it finished.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Settles the budget with `cost`, or with the whole reservation when `cost` is `None`
    /// (unknown); returns what was charged.
    fn settle(&mut self, cost: Option<f64>) -> (f64, CostBasis) {
        let Some(charge) = self.live.charge.take() else {
            return (0.0, CostBasis::NotCharged);
        };
        let (usd, basis) = match cost {
            Some(c) => (c, CostBasis::Reported),
            None => (charge.amount_usd(), CostBasis::Reserved),
        };
        charge.settle_now(usd);
        (usd, basis)
    }

    fn on_event(&mut self, ev: StreamEvent) -> Result<StreamEvent, StreamInterrupted> {
        self.delivered_events += 1;
        match &ev {
            StreamEvent::TextDelta(t) => self.delivered_text.push_str(t),
            StreamEvent::Finish { usage, cost_usd, .. } => {
                self.finished = true;
                self.done = true;
                let now = self.live.clock.now();
                let latency = now.saturating_duration_since(self.live.start);
                if let Some(p) = self.live.permit.take() {
                    p.record(CallOutcome::Success, now);
                }
                if let Some(s) = &self.live.stats {
                    s.record_success(&self.live.model, latency, usage.output_tokens);
                }
                let reported = usage.input_tokens > 0 || usage.output_tokens > 0;
                if !reported {
                    tracing::warn!(model = %self.live.model.id, "the stream reported no usage: charged the whole reservation");
                }
                let (cost, basis) = self.settle(reported.then_some(*cost_usd));
                if let Some(slot) = self.live.slot.take() {
                    let used = u64::from(usage.input_tokens) + u64::from(usage.output_tokens);
                    slot.finish(latency, reported.then_some(used), None);
                }
                spans::answered(
                    &self.live.span,
                    &self.live.model.provider,
                    &self.live.model.id,
                    usage,
                );
                #[cfg(feature = "metrics")]
                {
                    let (metrics, scopes) = &self.live.metrics;
                    metrics.succeeded(&self.live.model, latency, usage, cost, scopes);
                }
                tracing::debug!(model = %self.live.model.id, latency_ms = ms(latency), cost_usd = cost, "stream finished");
                self.attempts.push(
                    Attempt::new(
                        &self.live.model.id,
                        self.live.rank,
                        self.live.retry,
                        AttemptOutcome::Success,
                    )
                    .via(self.live.deployment.as_ref())
                    .took(latency)
                    .charged(cost, basis),
                );
            }
            StreamEvent::ToolCallDelta { .. } => {}
            // `StreamEvent` may grow; a new kind of event is passed on as it is.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Ok(ev)
    }

    fn on_failure(&mut self, error: ProviderError, deadline_exceeded: bool) -> StreamInterrupted {
        self.done = true;
        let now = self.live.clock.now();
        let latency = now.saturating_duration_since(self.live.start);
        let outcome = if deadline_exceeded {
            deadline_outcome(self.live.expected_ms, latency)
        } else {
            health_outcome(&error)
        };
        if let Some(p) = self.live.permit.take() {
            p.record(outcome, now);
        }
        if outcome == CallOutcome::Failure
            && let Some(s) = &self.live.stats
        {
            s.record_failure(&self.live.model.id);
        }
        // Tokens were delivered, so they were probably billed: charge the whole reservation.
        let (cost, basis) = self.settle(None);
        if let Some(slot) = self.live.slot.take() {
            slot.interrupted(&error);
        }
        #[cfg(feature = "metrics")]
        {
            let (metrics, scopes) = &self.live.metrics;
            // A cut by the deadline is recorded as `deadline_exceeded`, as in `complete`.
            let kind = (!deadline_exceeded).then(|| error.kind());
            metrics.failed(&self.live.model, latency, kind, cost, scopes);
        }
        tracing::warn!(model = %self.live.model.id, kind = %error.kind(), delivered_events = self.delivered_events, charged_usd = cost, "stream interrupted after the first token; not replayed");
        self.attempts.push(
            Attempt::new(
                &self.live.model.id,
                self.live.rank,
                self.live.retry,
                AttemptOutcome::StreamInterrupted { kind: error.kind() },
            )
            .via(self.live.deployment.as_ref())
            .took(latency)
            .charged(cost, basis),
        );
        StreamInterrupted {
            model: self.live.model.id.clone(),
            error,
            deadline_exceeded,
            delivered_text: std::mem::take(&mut self.delivered_text),
            delivered_events: self.delivered_events,
            attempts: self.attempts.clone(),
        }
    }
}

impl Stream for RoutedStream {
    type Item = Result<StreamEvent, StreamInterrupted>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(ev) = this.first.take() {
            return Poll::Ready(Some(this.on_event(ev)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let e = ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "the request's deadline of {:?} ran out mid-stream",
                    this.deadline_len
                ),
            );
            return Poll::Ready(Some(Err(this.on_failure(e, true))));
        }
        let item = loop {
            match ready!(this.inner.poll_next_unpin(cx)) {
                // The provider's rate-limit headers: for the deployment's limiter, not the caller.
                Some(Ok(StreamEvent::RateLimits(seen))) => {
                    if let Some(slot) = &this.live.slot {
                        slot.learn(&seen);
                    }
                }
                other => break other,
            }
        };
        Poll::Ready(match item {
            Some(Ok(ev)) => Some(this.on_event(ev)),
            Some(Err(e)) => Some(Err(this.on_failure(e, false))),
            None if this.finished => {
                this.done = true;
                None
            }
            None => Some(Err(this.on_failure(
                ProviderError::new(
                    ErrorKind::MalformedResponse,
                    "the stream ended before its finish event",
                ),
                false,
            ))),
        })
    }
}

/// The first event of a stream: what a streaming turn waits for before committing.
struct FirstEvent<'r>(&'r ChatRequest);

impl ModelCall for FirstEvent<'_> {
    /// The stream, its first event for the caller, and what the provider's rate-limit headers
    /// said before it (a [`StreamEvent::RateLimits`] is not a token: it does not commit).
    type Output = (ChatStream, StreamEvent, Option<RateLimits>);
    fn request(&self) -> &ChatRequest {
        self.0
    }
    fn call<'a>(
        &'a self,
        provider: &'a dyn Provider,
        model: &'a ModelSpec,
    ) -> BoxFuture<'a, Result<Self::Output, ProviderError>> {
        Box::pin(async move {
            let mut s = provider.stream(model, self.0).await?;
            let mut seen = None;
            let e = loop {
                match s.next().await {
                    Some(Ok(StreamEvent::RateLimits(l))) => seen = Some(l),
                    Some(Ok(ev)) => return Ok((s, ev, seen)),
                    Some(Err(e)) => break e,
                    None => {
                        break ProviderError::new(
                            ErrorKind::MalformedResponse,
                            "the stream ended before its first event",
                        );
                    }
                }
            };
            // The turn's deployment learns from the error: give it the headers too.
            Err(match seen {
                Some(l) if e.rate_limits().is_none() => e.with_rate_limits(l),
                _ => e,
            })
        })
    }
}

impl RoutedClient {
    /// Streams the answer to `request` along the routing decision for `task`: retries and
    /// fallbacks happen only before the first event reaches the caller; see
    /// [`RoutedStream`].
    ///
    /// # Errors
    /// A [`RoutedError`] listing every attempt when no model produced a first event.
    pub async fn stream<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: RequestOptions,
    ) -> Result<RoutedStream, RoutedError> {
        let span = spans::request_span!("taskroute.stream", task, opts);
        self.stream_inner(task, request, &opts).instrument(span).await
    }

    async fn stream_inner<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: &RequestOptions,
    ) -> Result<RoutedStream, RoutedError> {
        // `ctx` gives its metric scopes to the stream (feature `metrics`).
        #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
        let (mut ctx, _decision, won) = self.first_won(task, opts, &FirstEvent(request)).await?;
        let (inner, first, seen) = won.output;
        if let (Some(slot), Some(seen)) = (&won.slot, &seen) {
            slot.learn(seen);
        }
        tracing::debug!(model = %won.model.id, rank = won.rank, retry = won.retry, "first event: committed to this model");
        #[cfg(feature = "metrics")]
        self.metrics
            .time_to_first_chunk(&won.model.provider, &won.model.id, won.latency);
        let deadline = self.clock.sleep(ctx.remaining(self.clock.now()));
        Ok(RoutedStream {
            inner,
            first: Some(first),
            deadline,
            deadline_len: ctx.deadline,
            live: Live {
                model: won.model.clone(),
                rank: won.rank,
                retry: won.retry,
                start: won.start,
                expected_ms: won.expected_ms,
                permit: won.permit,
                charge: Some(won.charge),
                stats: self.stats.clone(),
                clock: Arc::clone(&self.clock),
                deployment: won.slot.as_ref().map(|s| s.id.clone()),
                slot: won.slot,
                span: tracing::Span::current(),
                #[cfg(feature = "metrics")]
                metrics: (Arc::clone(&self.metrics), std::mem::take(&mut ctx.scopes)),
            },
            attempts: ctx.attempts,
            delivered_text: String::new(),
            delivered_events: 0,
            finished: false,
            done: false,
        })
    }
}
