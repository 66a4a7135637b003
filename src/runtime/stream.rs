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

use futures::future::{BoxFuture, Either, select};
use futures::{Stream, StreamExt};
use tracing::Instrument;

use crate::model::{ModelId, ModelSpec};
use crate::provider::{ChatRequest, ChatStream, ErrorKind, ProviderError, StreamEvent};
use crate::runtime::breaker::{BreakerPermit, CallOutcome};
use crate::runtime::budget::{BudgetStore, Reservation};
use crate::runtime::client::{
    Attempt, AttemptOutcome, RequestOptions, RoutedClient, RoutedError, Turn, health_outcome, ms,
};
use crate::runtime::clock::{Clock, Sleep};
use crate::runtime::stats::RuntimeStats;
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
    permit: Option<BreakerPermit>,
    reservation: Option<Reservation>,
    store: Option<Arc<dyn BudgetStore>>,
    stats: Option<Arc<RuntimeStats>>,
    clock: Arc<dyn Clock>,
}

/// A routed stream of [`StreamEvent`]s; see the [module docs](self).
///
/// Read it to the end: the budget is settled before the [`Finish`](StreamEvent::Finish) event is
/// handed over. Dropped early, the breaker slot is freed at once and the budget reservation
/// expires after the store's time-to-live.
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
    settling: Option<BoxFuture<'static, ()>>,
    pending: Option<Result<StreamEvent, StreamInterrupted>>,
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

    fn settle_future(&mut self, cost: f64) -> Option<BoxFuture<'static, ()>> {
        let store = self.live.store.clone()?;
        let r = self.live.reservation.take()?;
        Some(Box::pin(async move {
            if let Err(e) = store.settle(&r, cost).await {
                tracing::error!(error = %e, "budget store failed to settle a stream");
            }
        }))
    }

    fn on_event(&mut self, ev: StreamEvent) -> Option<Result<StreamEvent, StreamInterrupted>> {
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
                tracing::debug!(model = %self.live.model.id, latency_ms = ms(latency), cost_usd, "stream finished");
                self.attempts.push(Attempt {
                    model: self.live.model.id.clone(),
                    rank: self.live.rank,
                    retry: self.live.retry,
                    outcome: AttemptOutcome::Success,
                    latency,
                    cost_usd: *cost_usd,
                    backoff: Duration::ZERO,
                });
                if let Some(f) = self.settle_future(*cost_usd) {
                    self.settling = Some(f);
                    self.pending = Some(Ok(ev));
                    return None;
                }
            }
            StreamEvent::ToolCallDelta { .. } => {}
            // `StreamEvent` may grow; a new kind of event is passed on as it is.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Some(Ok(ev))
    }

    fn on_failure(
        &mut self,
        error: ProviderError,
        deadline_exceeded: bool,
    ) -> Option<Result<StreamEvent, StreamInterrupted>> {
        self.done = true;
        let now = self.live.clock.now();
        let latency = now.saturating_duration_since(self.live.start);
        let outcome = health_outcome(&error);
        if let Some(p) = self.live.permit.take() {
            p.record(outcome, now);
        }
        if outcome == CallOutcome::Failure
            && let Some(s) = &self.live.stats
        {
            s.record_failure(&self.live.model.id);
        }
        tracing::warn!(model = %self.live.model.id, kind = %error.kind(), delivered_events = self.delivered_events, "stream interrupted after the first token; not replayed");
        self.attempts.push(Attempt {
            model: self.live.model.id.clone(),
            rank: self.live.rank,
            retry: self.live.retry,
            outcome: AttemptOutcome::StreamInterrupted { kind: error.kind() },
            latency,
            cost_usd: 0.0,
            backoff: Duration::ZERO,
        });
        let err = StreamInterrupted {
            model: self.live.model.id.clone(),
            error,
            deadline_exceeded,
            delivered_text: std::mem::take(&mut self.delivered_text),
            delivered_events: self.delivered_events,
            attempts: self.attempts.clone(),
        };
        // Tokens were delivered, so they were probably billed: charge the whole reservation.
        let full = self
            .live
            .reservation
            .as_ref()
            .map_or(0.0, Reservation::amount_usd);
        if let Some(f) = self.settle_future(full) {
            self.settling = Some(f);
            self.pending = Some(Err(err));
            return None;
        }
        Some(Err(err))
    }
}

impl Stream for RoutedStream {
    type Item = Result<StreamEvent, StreamInterrupted>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(f) = this.settling.as_mut() {
            ready!(f.as_mut().poll(cx));
            this.settling = None;
            return Poll::Ready(this.pending.take());
        }
        if let Some(ev) = this.first.take() {
            if let Some(out) = this.on_event(ev) {
                return Poll::Ready(Some(out));
            }
            return self.poll_next(cx);
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
            return match this.on_failure(e, true) {
                Some(out) => Poll::Ready(Some(out)),
                None => self.poll_next(cx),
            };
        }
        let item = ready!(this.inner.poll_next_unpin(cx));
        let out = match item {
            Some(Ok(ev)) => this.on_event(ev),
            Some(Err(e)) => this.on_failure(e, false),
            None if this.finished => {
                this.done = true;
                return Poll::Ready(None);
            }
            None => this.on_failure(
                ProviderError::new(
                    ErrorKind::MalformedResponse,
                    "the stream ended before its finish event",
                ),
                false,
            ),
        };
        match out {
            Some(out) => Poll::Ready(Some(out)),
            None => self.poll_next(cx),
        }
    }
}

enum First {
    Event(ChatStream, StreamEvent),
    Failed(ProviderError),
    Deadline,
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
        let span = tracing::info_span!("taskroute.stream", kind = %task.kind(), deadline_ms = opts.deadline.as_millis() as u64);
        self.stream_inner(task, request, &opts).instrument(span).await
    }

    async fn stream_inner<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: &RequestOptions,
    ) -> Result<RoutedStream, RoutedError> {
        let (mut ctx, decision) = self.begin(task, opts).await?;
        let input_tokens = task.input_tokens();
        for (rank, cand) in decision.ranked().enumerate() {
            let rank = rank as u32;
            let Some(model) = self.router.model(cand.model.as_str()) else {
                continue;
            };
            let Some(provider) = self.providers.get(&model.provider) else {
                continue;
            };
            if self.clock.now() >= ctx.deadline_at {
                return Err(ctx.deadline_error());
            }
            let reservation = match self
                .reserve(&mut ctx, cand, rank, model, request, input_tokens)
                .await
            {
                Ok(r) => r,
                Err(Turn::Stop(e)) => return Err(e),
                Err(_) => continue,
            };
            let mut retry = 0;
            loop {
                let Some(permit) = self.permit(&mut ctx, &model.id, rank, retry) else {
                    self.settle(reservation, None).await;
                    break;
                };
                let start = self.clock.now();
                let remaining = ctx.remaining(start);
                let mut deadline = self.clock.sleep(remaining);
                let first = async {
                    let mut s = provider.stream(model, request).await?;
                    match s.next().await {
                        Some(Ok(ev)) => Ok((s, ev)),
                        Some(Err(e)) => Err(e),
                        None => Err(ProviderError::new(
                            ErrorKind::MalformedResponse,
                            "the stream ended before its first event",
                        )),
                    }
                };
                let first = match select(Box::pin(first), &mut deadline).await {
                    Either::Left((Ok((s, ev)), _)) => First::Event(s, ev),
                    Either::Left((Err(e), _)) => First::Failed(e),
                    Either::Right(((), _)) => First::Deadline,
                };
                match first {
                    First::Event(inner, ev) => {
                        tracing::debug!(model = %model.id, rank, retry, "first event: committed to this model");
                        return Ok(RoutedStream {
                            inner,
                            first: Some(ev),
                            deadline,
                            deadline_len: ctx.deadline,
                            live: Live {
                                model: model.clone(),
                                rank,
                                retry,
                                start,
                                permit,
                                reservation,
                                store: self.budget.as_ref().map(|b| Arc::clone(&b.store)),
                                stats: self.stats.clone(),
                                clock: Arc::clone(&self.clock),
                            },
                            attempts: ctx.attempts,
                            delivered_text: String::new(),
                            delivered_events: 0,
                            finished: false,
                            done: false,
                            settling: None,
                            pending: None,
                        });
                    }
                    First::Deadline => {
                        self.note_failure(permit, &model.id, CallOutcome::Failure);
                        self.settle(reservation, None).await;
                        ctx.attempts.push(Attempt {
                            model: model.id.clone(),
                            rank,
                            retry,
                            outcome: AttemptOutcome::DeadlineExceeded,
                            latency: self.clock.now().saturating_duration_since(start),
                            cost_usd: 0.0,
                            backoff: Duration::ZERO,
                        });
                        return Err(ctx.deadline_error());
                    }
                    First::Failed(e) => {
                        let latency = self.clock.now().saturating_duration_since(start);
                        self.note_failure(permit, &model.id, health_outcome(&e));
                        tracing::info!(model = %model.id, rank, retry, kind = %e.kind(), "stream failed before its first event");
                        ctx.attempts.push(Attempt {
                            model: model.id.clone(),
                            rank,
                            retry,
                            outcome: AttemptOutcome::Failed {
                                kind: e.kind(),
                                status: e.status(),
                                message: e.message().to_owned(),
                            },
                            latency,
                            cost_usd: 0.0,
                            backoff: Duration::ZERO,
                        });
                        if self.backoff(&mut ctx, &e, &model.id, retry).await {
                            retry += 1;
                            continue;
                        }
                        self.settle(reservation, None).await;
                        if !e.can_fallback() {
                            return Err(RoutedError::Rejected {
                                attempts: ctx.attempts,
                            });
                        }
                        break;
                    }
                }
            }
        }
        Err(ctx.exhausted())
    }
}
