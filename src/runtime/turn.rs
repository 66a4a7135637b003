//! One model's turn, shared by [`complete`](RoutedClient::complete),
//! [`stream`](RoutedClient::stream) and [`cascade`](RoutedClient::cascade): for each call,
//! reserve → breaker permit → call (within the deadline) → settle → back off and retry, or hand
//! over to the next model.
//!
//! What is called is a [`ModelCall`]: a whole answer for `complete`, the first event of a stream
//! for `stream`. The turn returns the call's output with everything still open (the breaker
//! permit, the budget [`Charge`]) in a [`Won`], and the caller closes them: `complete` at once,
//! a stream when it ends.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Either, select};
use tracing::Instrument;

use crate::decision::Candidate;
use crate::model::{ModelId, ModelSpec};
use crate::provider::{ChatRequest, ErrorKind, Provider, ProviderError, Usage};
use crate::runtime::attempt::{Attempt, AttemptOutcome, CostBasis};
use crate::runtime::breaker::{BreakerPermit, CallOutcome};
use crate::runtime::budget::BudgetError;
use crate::runtime::charge::Charge;
use crate::runtime::client::RoutedClient;
use crate::runtime::deploy::Slot;
use crate::runtime::request::{RequestCtx, Stop, Turn};
use crate::runtime::spans;

/// What a turn calls: one request to one model.
pub(crate) trait ModelCall: Sync {
    /// What a successful call gives.
    type Output: Send;
    /// The request (for the reservation's `max_tokens`).
    fn request(&self) -> &ChatRequest;
    /// Makes the call.
    fn call<'a>(
        &'a self,
        provider: &'a dyn Provider,
        model: &'a ModelSpec,
    ) -> BoxFuture<'a, Result<Self::Output, ProviderError>>;
    /// The tokens a successful call reported, when its output says (for the call's span).
    fn usage<'o>(&self, _output: &'o Self::Output) -> Option<&'o Usage> {
        None
    }
}

/// A successful call, with its breaker permit and budget charge still open.
pub(crate) struct Won<'m, O> {
    pub(crate) output: O,
    pub(crate) model: &'m ModelSpec,
    pub(crate) rank: u32,
    pub(crate) retry: u32,
    pub(crate) start: Instant,
    pub(crate) latency: Duration,
    pub(crate) permit: Option<BreakerPermit>,
    pub(crate) charge: Charge,
    /// The router's latency estimate for the call, in ms (for [`deadline_outcome`]).
    pub(crate) expected_ms: f64,
    /// The deployment's admission, still open (for a model with deployments).
    pub(crate) slot: Option<Slot>,
}

/// Whether to retry after a failed call.
enum Next {
    Retry,
    MoveOn,
}

/// A call cut by the request's deadline is the model's fault (a breaker failure) only when it
/// had run this many times the router's latency estimate; before that, the caller's deadline
/// was too short for the model, and the breaker is not told.
pub(crate) const SLOW_CALL_FACTOR: f64 = 2.0;

/// How a call cut by the deadline after `ran` counts for the model's health.
pub(crate) fn deadline_outcome(expected_ms: f64, ran: Duration) -> CallOutcome {
    if expected_ms.is_finite() && expected_ms > 0.0 && ms(ran) >= SLOW_CALL_FACTOR * expected_ms {
        CallOutcome::Failure
    } else {
        CallOutcome::Neutral
    }
}

/// Whether a provider error says something about the model's health.
pub(crate) fn health_outcome(e: &ProviderError) -> CallOutcome {
    match e.kind() {
        ErrorKind::InvalidRequest
        | ErrorKind::ContextTooLong
        | ErrorKind::ResponseTooLarge
        | ErrorKind::Unsupported
        | ErrorKind::Config => CallOutcome::Neutral,
        _ => CallOutcome::Failure,
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl RoutedClient {
    /// One model's turn; see the [module docs](self).
    pub(crate) async fn run_model<'m, C: ModelCall>(
        &'m self,
        ctx: &mut RequestCtx,
        cand: &Candidate,
        rank: u32,
        call: &C,
    ) -> Turn<Won<'m, C::Output>> {
        let Some(model) = self.router.model(cand.model.as_str()) else {
            return Turn::Next;
        };
        let deps = self.deployments.get(&model.id);
        let default_provider = self.providers.get(&model.provider);
        if deps.is_none() && default_provider.is_none() {
            tracing::info!(model = %model.id, rank, provider = %model.provider, "no provider registered");
            ctx.attempts
                .push(Attempt::new(&model.id, rank, 0, AttemptOutcome::NoProvider));
            return Turn::Next;
        }
        let expected_ms = cand.estimate.map_or(f64::NAN, |e| e.latency_ms);
        let mut retry = 0;
        // The deployments that failed during this turn (a bit per index), tried last.
        let mut avoid = 0_u64;
        loop {
            if ctx.expired(self.clock.now()) {
                return Turn::Stop(Stop::Deadline);
            }
            let mut slot = match deps {
                None => None,
                Some(d) => match self
                    .take_slot(ctx, d, model, rank, retry, call.request(), avoid)
                    .await
                {
                    Ok(s) => Some(s),
                    Err(turn) => return turn,
                },
            };
            let live = slot.as_ref().zip(deps).map(|(s, d)| &d.list[s.index]);
            let (provider, sent_model) = match (live, default_provider) {
                (Some(l), _) => match self.providers.get(&l.deployment.provider) {
                    Some(p) => (p, &l.model),
                    None => return Turn::Next,
                },
                (None, Some(p)) => (p, model),
                (None, None) => return Turn::Next,
            };
            let deployment = slot.as_ref().map(|s| s.id.clone());
            let mut charge = match self.reserve(ctx, cand, rank, retry, model, call.request()).await {
                Ok(c) => c,
                Err(turn) => {
                    if let Some(s) = slot {
                        s.cancel();
                    }
                    return turn;
                }
            };
            let Some(permit) = self.permit(ctx, &model.id, rank, retry) else {
                if let Some(s) = slot {
                    s.cancel();
                }
                charge.release().await;
                return Turn::Next;
            };
            let start = self.clock.now();
            let remaining = ctx.remaining(start);
            charge.mark_sent();
            if let Some(s) = &mut slot {
                s.mark_sent();
            }
            let span = spans::attempt(model, rank, retry);
            let sent = call.call(provider.as_ref(), sent_model).instrument(span.clone());
            let result = match select(sent, self.clock.sleep(remaining)).await {
                Either::Left((r, _)) => Some(r),
                Either::Right(((), _)) => None,
            };
            let latency = self.clock.now().saturating_duration_since(start);
            let e = match result {
                Some(Ok(output)) => {
                    if let Some(usage) = call.usage(&output) {
                        spans::answered(&span, &model.provider, &model.id, usage);
                    }
                    return Turn::Done(Won {
                        output,
                        model,
                        rank,
                        retry,
                        start,
                        latency,
                        permit,
                        charge,
                        expected_ms,
                        slot,
                    });
                }
                None => {
                    // The deadline ran out mid-call: the call was dropped after it was sent, so
                    // it may have been billed.
                    spans::failed(&span, "deadline_exceeded");
                    self.note_failure(permit, &model.id, deadline_outcome(expected_ms, latency));
                    let cost = charge.amount_usd();
                    charge.settle(cost).await;
                    #[cfg(feature = "metrics")]
                    self.metrics.failed(model, latency, None, cost, &ctx.scopes);
                    tracing::info!(model = %model.id, rank, retry, latency_ms = ms(latency), charged_usd = cost, "attempt cut by the deadline");
                    ctx.attempts.push(
                        Attempt::new(&model.id, rank, retry, AttemptOutcome::DeadlineExceeded)
                            .via(deployment.as_ref())
                            .took(latency)
                            .charged(cost, CostBasis::Reserved),
                    );
                    return Turn::Stop(Stop::Deadline);
                }
                Some(Err(e)) => e,
            };
            // Another deployment of the model may serve the call: try it at once, and leave the
            // model's breaker out of it (the failure is this deployment's).
            let switch = match (&slot, deps) {
                (Some(s), Some(d)) if e.is_retryable() => {
                    avoid |= 1 << s.index.min(63);
                    d.untried(avoid) && retry < self.retry.max_retries + d.list.len() as u32
                }
                _ => false,
            };
            if let Some(s) = slot {
                s.fail(&e);
            }
            let outcome = if switch {
                CallOutcome::Neutral
            } else {
                health_outcome(&e)
            };
            spans::failed(&span, e.kind().code());
            self.note_failure(permit, &model.id, outcome);
            let attempt = Attempt::new(&model.id, rank, retry, AttemptOutcome::from_error(&e))
                .via(deployment.as_ref())
                .took(latency);
            let attempt = if e.is_timeout() {
                // Timed out after it was sent: it may have been billed.
                let cost = charge.amount_usd();
                charge.settle(cost).await;
                attempt.charged(cost, CostBasis::Reserved)
            } else {
                charge.release().await;
                attempt
            };
            #[cfg(feature = "metrics")]
            self.metrics
                .failed(model, latency, Some(e.kind()), attempt.cost_usd, &ctx.scopes);
            tracing::info!(model = %model.id, rank, retry, latency_ms = ms(latency), kind = %e.kind(), status = e.status(), charged_usd = attempt.cost_usd, "attempt failed");
            ctx.attempts.push(attempt);
            if switch {
                tracing::debug!(model = %model.id, rank, retry, "trying another deployment");
                retry += 1;
                continue;
            }
            match self.backoff(ctx, &e, &model.id, retry).await {
                Next::Retry => retry += 1,
                Next::MoveOn if e.can_fallback() => return Turn::Next,
                Next::MoveOn => return Turn::Stop(Stop::Rejected),
            }
        }
    }

    /// Reserves budget for one call of a candidate. Refused: recorded, and the request moves
    /// on (stepping down) or stops.
    async fn reserve<T>(
        &self,
        ctx: &mut RequestCtx,
        cand: &Candidate,
        rank: u32,
        retry: u32,
        model: &ModelSpec,
        request: &ChatRequest,
    ) -> Result<Charge, Turn<T>> {
        let estimated = cand.estimate.map_or(0.0, |e| e.cost_usd);
        let at_max = request
            .max_tokens
            .map_or(0.0, |n| model.prices.cost_usd(ctx.input_tokens, 0, n));
        let Some(b) = &self.budget else {
            return Ok(Charge::unbudgeted(estimated.max(at_max)));
        };
        let amount = estimated.max(at_max) * b.policy.reserve_factor;
        let within = ctx.remaining(self.clock.now());
        let reserving = b.store.reserve_within(&ctx.scopes, amount, within);
        let Some(reserved) = self.before_deadline(ctx, reserving).await else {
            tracing::info!(model = %model.id, rank, reserve_usd = amount, "the deadline ran out while the budget store reserved");
            return Err(Turn::Stop(Stop::Deadline));
        };
        match reserved {
            Ok(r) => Ok(Charge::reserved(std::sync::Arc::clone(&b.store), r)),
            Err(e) => {
                tracing::info!(model = %model.id, rank, reserve_usd = amount, "budget refused");
                ctx.attempts.push(Attempt::new(
                    &model.id,
                    rank,
                    retry,
                    AttemptOutcome::BudgetRefused { error: e.clone() },
                ));
                if !b.policy.step_down || matches!(e, BudgetError::Store(_)) {
                    return Err(Turn::Stop(Stop::Budget(e)));
                }
                ctx.budget_refusal = Some(e);
                Err(Turn::Next)
            }
        }
    }

    /// Runs a budget store's `fut` (the step-down read, a reserve) within the request's
    /// deadline: `None` when the deadline comes first, and the future is dropped (a store whose
    /// `reserve` is dropped gives the amount back: the in-memory store cannot be dropped
    /// mid-way, the Redis store releases in the background). Settles and releases are not cut
    /// short: they are awaited, so the spend is recorded when the request returns (a store's own
    /// timeout bounds them). A store that answers at once costs no timer.
    pub(crate) async fn before_deadline<F: Future>(&self, ctx: &RequestCtx, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        if let Some(out) = fut.as_mut().now_or_never() {
            return Some(out);
        }
        let remaining = ctx.remaining(self.clock.now());
        match select(fut, self.clock.sleep(remaining)).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(((), _)) => None,
        }
    }

    /// Takes a breaker permit; `None` (after recording the refusal) when the circuit is open.
    fn permit(
        &self,
        ctx: &mut RequestCtx,
        model: &ModelId,
        rank: u32,
        retry: u32,
    ) -> Option<Option<BreakerPermit>> {
        let Some(reg) = &self.breakers else {
            return Some(None);
        };
        match reg.breaker(model).try_acquire(self.clock.now()) {
            Ok(p) => Some(Some(p)),
            Err(_) => {
                tracing::info!(model = %model, rank, retry, "circuit open");
                ctx.attempts
                    .push(Attempt::new(model, rank, retry, AttemptOutcome::CircuitOpen));
                None
            }
        }
    }

    /// Records a failed call in the breaker and the statistics.
    pub(crate) fn note_failure(&self, permit: Option<BreakerPermit>, model: &ModelId, outcome: CallOutcome) {
        let now = self.clock.now();
        if let Some(p) = permit {
            p.record(outcome, now);
        }
        if outcome == CallOutcome::Failure
            && let Some(s) = &self.stats
        {
            s.record_failure(model);
        }
    }

    /// Records a successful call in the breaker and the statistics.
    pub(crate) fn note_success(
        &self,
        permit: Option<BreakerPermit>,
        model: &ModelSpec,
        latency: Duration,
        output_tokens: u32,
    ) {
        if let Some(p) = permit {
            p.record(CallOutcome::Success, self.clock.now());
        }
        if let Some(s) = &self.stats {
            s.record_success(model, latency, output_tokens);
        }
    }

    /// After a failed call: wait and retry, or move on. A `Retry-After` longer than the policy
    /// waits out, or than the time left, moves on at once (to the next model).
    async fn backoff(&self, ctx: &mut RequestCtx, err: &ProviderError, model: &ModelId, retry: u32) -> Next {
        if !err.is_retryable() || retry >= self.retry.max_retries {
            return Next::MoveOn;
        }
        if let Some(reg) = &self.breakers
            && !reg.breaker(model).is_available(self.clock.now())
        {
            return Next::MoveOn;
        }
        let remaining = ctx.remaining(self.clock.now());
        let Some(delay) = self
            .retry
            .delay(retry, err.retry_after(), remaining, &mut ctx.rng)
        else {
            tracing::debug!(model = %model, retry, retry_after_ms = err.retry_after().map(ms), "no time to wait: moving on");
            return Next::MoveOn;
        };
        if let Some(last) = ctx.attempts.last_mut() {
            last.backoff = delay;
        }
        tracing::debug!(model = %model, retry, delay_ms = ms(delay), "backing off");
        self.clock.sleep(delay).await;
        Next::Retry
    }
}
