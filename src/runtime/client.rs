//! The [`RoutedClient`]: route a task, call the chosen model, retry, fall back, record every
//! attempt. Its parts: [`builder`](crate::runtime::builder) (the builder),
//! [`request`](crate::runtime::request) (options and per-request state),
//! `turn` (one model's turn, shared with streams and cascades),
//! [`attempt`](crate::runtime::attempt) (the records) and [`error`](crate::runtime::error).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tracing::Instrument;

use crate::decision::Decision;
use crate::model::{ModelId, ModelSpec};
use crate::provider::{ChatRequest, ChatResponse, Provider, ProviderError};
use crate::router::Router;
use crate::runtime::attempt::CostBasis;
use crate::runtime::backoff::{JitterRng, RetryPolicy};
use crate::runtime::breaker::BreakerRegistry;
use crate::runtime::budget::BudgetScope;
use crate::runtime::builder::{Budget, mix};
use crate::runtime::clock::Clock;
use crate::runtime::deploy::{Balancer, Deployments};
use crate::runtime::error::short;
use crate::runtime::request::{LimitedTask, RequestCtx, Stop, Turn};
use crate::runtime::spans;
use crate::runtime::stats::RuntimeStats;
use crate::runtime::turn::{ModelCall, Won, ms};
use crate::task::Task;

// The types that lived here before the split, at their old paths.
pub use crate::runtime::attempt::{Attempt, AttemptOutcome};
pub use crate::runtime::builder::RoutedClientBuilder;
pub use crate::runtime::error::RoutedError;
pub use crate::runtime::request::RequestOptions;

/// A successful routed request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RoutedResponse {
    /// The answer.
    pub response: ChatResponse,
    /// Every attempt, the successful one last.
    pub attempts: Vec<Attempt>,
    /// The routing decision the request followed.
    pub decision: Decision,
}

impl RoutedResponse {
    /// The model that answered.
    pub fn model(&self) -> &ModelId {
        &self.response.model
    }

    /// What every attempt cost, in USD.
    pub fn total_cost_usd(&self) -> f64 {
        self.attempts.iter().map(|a| a.cost_usd).sum()
    }
}

/// Runs requests along routing decisions: retries with backoff, falls back down the ranking,
/// keeps circuit breakers, budgets and statistics, and never runs past a request's deadline.
///
/// Cheap to share (`Arc` it); every method takes `&self`.
///
/// ```no_run
/// # async fn demo(router: taskroute::Router, openai: std::sync::Arc<dyn taskroute::provider::Provider>)
/// #     -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use taskroute::{TaskKind, TaskSpec};
/// use taskroute::provider::ChatRequest;
/// use taskroute::runtime::{RequestOptions, RoutedClient};
///
/// let client = RoutedClient::builder(router).provider(openai).build()?;
/// let task = TaskSpec::new(TaskKind::Chat, 200);
/// let req = ChatRequest::new().user("Hello");
/// let answer = client.complete(&task, &req, RequestOptions::within(Duration::from_secs(30))).await?;
/// println!("{} via {} after {} attempts", answer.response.text, answer.model(), answer.attempts.len());
/// # Ok(()) }
/// ```
pub struct RoutedClient {
    pub(crate) router: Router,
    pub(crate) providers: HashMap<String, Arc<dyn Provider>>,
    pub(crate) breakers: Option<Arc<BreakerRegistry>>,
    pub(crate) budget: Option<Budget>,
    pub(crate) stats: Option<Arc<RuntimeStats>>,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) seed: u64,
    pub(crate) requests: AtomicU64,
    pub(crate) deployments: HashMap<ModelId, Deployments>,
    pub(crate) balancer: Arc<dyn Balancer>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Arc<crate::telemetry::Metrics>,
}

impl fmt::Debug for RoutedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut providers: Vec<_> = self.providers.keys().collect();
        providers.sort();
        f.debug_struct("RoutedClient")
            .field("router", &self.router)
            .field("providers", &providers)
            .field("breakers", &self.breakers.is_some())
            .field("budget", &self.budget.as_ref().map(|b| b.policy))
            .field("stats", &self.stats.is_some())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RoutedClient {
    /// The same client routing with another policy (everything else shared or kept).
    pub fn with_policy(mut self, policy: impl crate::Policy + 'static) -> Self {
        self.router = self.router.with_policy(policy);
        self
    }

    /// The router (with the client's health hook).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Starts a request: deadline, jitter seed, budget step-down, routing.
    pub(crate) async fn begin<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        opts: &RequestOptions,
    ) -> Result<(RequestCtx, Decision), RoutedError> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let rng = JitterRng::with_seed(mix(self.seed ^ mix(n)));
        let mut ctx = RequestCtx::new(self.clock.now(), task, opts, rng);
        if self.budget.is_some() && !ctx.scopes.contains(&BudgetScope::Global) {
            ctx.scopes.push(BudgetScope::Global);
        }
        let mut limits = task.limits();
        let mut budget_limited = false;
        if let Some(b) = &self.budget
            && b.policy.step_down
        {
            let Some(left) = self.before_deadline(&ctx, b.store.remaining(&ctx.scopes)).await else {
                return Err(ctx.fail(Stop::Deadline));
            };
            let left = left.map_err(|source| RoutedError::Budget {
                source,
                attempts: Vec::new(),
            })?;
            let stepped = b.policy.limits(limits, left);
            budget_limited = stepped != limits;
            limits = stepped;
        }
        let limited = LimitedTask { inner: task, limits };
        let mut decision = Decision::new();
        let routed = self.router.route_into(&limited, &mut decision);
        spans::routed(&tracing::Span::current(), &decision);
        #[cfg(feature = "metrics")]
        self.metrics.decision(&decision);
        if let Err(source) = routed {
            tracing::warn!(budget_limited, "no eligible model");
            return Err(RoutedError::NoRoute {
                source,
                budget_limited,
            });
        }
        // Every eligible model is a fallback here, beyond the router's ranking depth.
        decision.rank_all();
        Ok((ctx, decision))
    }

    /// Starts a request and runs `call` down the ranking, one model's turn after another, until
    /// a call succeeds (shared by `complete` and `stream`): the request's state, the decision,
    /// and the successful call with its permit and charge still open.
    pub(crate) async fn first_won<'m, T: Task + Sync + ?Sized, C: ModelCall>(
        &'m self,
        task: &T,
        opts: &RequestOptions,
        call: &C,
    ) -> Result<(RequestCtx, Decision, Won<'m, C::Output>), RoutedError> {
        let (mut ctx, decision) = self.begin(task, opts).await?;
        for rank in 0..decision.ranking.len() {
            let cand = &decision.candidates[decision.ranking[rank] as usize];
            match self.run_model(&mut ctx, cand, rank as u32, call).await {
                Turn::Done(won) => return Ok((ctx, decision, won)),
                Turn::Next => {}
                Turn::Stop(stop) => return Err(ctx.fail(stop)),
            }
        }
        Err(ctx.exhausted())
    }

    /// Sends `request` along the routing decision for `task`: the primary first, retries with
    /// backoff on retryable errors, then the fallbacks in ranked order on errors another model
    /// may not have, all within `opts.deadline`.
    ///
    /// Cancel-safe: dropping the future mid-request releases the budget reservation of a call
    /// not yet sent, and charges the whole reservation of a call in flight (the provider may
    /// bill it).
    ///
    /// # Errors
    /// A [`RoutedError`] listing every attempt.
    pub async fn complete<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: RequestOptions,
    ) -> Result<RoutedResponse, RoutedError> {
        let span = spans::request_span!(
            "taskroute.request",
            task,
            opts,
            model = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        let out = self
            .complete_inner(task, request, &opts)
            .instrument(span.clone())
            .await;
        match &out {
            Ok(r) => {
                span.record("model", tracing::field::display(r.model()));
                let system = self.router.model(r.model().as_str()).map_or("", |m| &m.provider);
                spans::answered(&span, system, r.model(), &r.response.usage);
                span.record("attempts", r.attempts.len());
            }
            Err(e) => {
                span.record("attempts", e.attempts().len());
                tracing::warn!(parent: &span, error = %short(e), "request failed");
            }
        }
        out
    }

    async fn complete_inner<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: &RequestOptions,
    ) -> Result<RoutedResponse, RoutedError> {
        let (mut ctx, decision, won) = self.first_won(task, opts, &Complete(request)).await?;
        let response = self.finish_complete(&mut ctx, won).await;
        Ok(RoutedResponse {
            response,
            attempts: ctx.attempts,
            decision,
        })
    }

    /// One model's turn for a whole answer (also a cascade's step): the shared turn, then the
    /// success recorded and the budget settled.
    pub(crate) async fn complete_turn(
        &self,
        ctx: &mut RequestCtx,
        cand: &crate::decision::Candidate,
        rank: u32,
        request: &ChatRequest,
    ) -> Turn<ChatResponse> {
        match self.run_model(ctx, cand, rank, &Complete(request)).await {
            Turn::Done(won) => Turn::Done(self.finish_complete(ctx, won).await),
            Turn::Next => Turn::Next,
            Turn::Stop(s) => Turn::Stop(s),
        }
    }

    async fn finish_complete(&self, ctx: &mut RequestCtx, won: Won<'_, ChatResponse>) -> ChatResponse {
        let Won {
            output: response,
            model,
            rank,
            retry,
            latency,
            permit,
            charge,
            slot,
            ..
        } = won;
        let deployment = slot.as_ref().map(|s| s.id.clone());
        if let Some(slot) = slot {
            let used = reported_usage(&response)
                .then(|| u64::from(response.usage.input_tokens) + u64::from(response.usage.output_tokens));
            slot.finish(latency, used, response.rate_limits.as_ref());
        }
        let out = match response.usage.output_tokens {
            0 => ctx.expected_output,
            n => n,
        };
        self.note_success(permit, model, latency, out);
        let (cost, basis) = if reported_usage(&response) {
            (response.cost_usd, CostBasis::Reported)
        } else {
            let cost = charge.amount_usd();
            tracing::warn!(model = %model.id, charged_usd = cost, "the response reported no usage: charged the whole reservation");
            (cost, CostBasis::Reserved)
        };
        charge.settle(cost).await;
        #[cfg(feature = "metrics")]
        self.metrics
            .succeeded(model, latency, &response.usage, cost, &ctx.scopes);
        tracing::debug!(model = %model.id, rank, retry, latency_ms = ms(latency), cost_usd = cost, "attempt succeeded");
        ctx.attempts.push(
            Attempt::new(&model.id, rank, retry, AttemptOutcome::Success)
                .via(deployment.as_ref())
                .took(latency)
                .charged(cost, basis),
        );
        response
    }
}

/// Whether a response carries token counts (a response with none cannot be priced).
pub(crate) fn reported_usage(r: &ChatResponse) -> bool {
    r.usage.input_tokens > 0 || r.usage.output_tokens > 0
}

/// A whole answer.
struct Complete<'r>(&'r ChatRequest);

impl ModelCall for Complete<'_> {
    type Output = ChatResponse;
    fn request(&self) -> &ChatRequest {
        self.0
    }
    fn call<'a>(
        &'a self,
        provider: &'a dyn Provider,
        model: &'a ModelSpec,
    ) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        provider.complete(model, self.0)
    }
    fn usage<'o>(&self, output: &'o ChatResponse) -> Option<&'o crate::provider::Usage> {
        Some(&output.usage)
    }
}
