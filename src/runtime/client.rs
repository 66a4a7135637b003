//! The [`RoutedClient`]: route a task, call the chosen model, retry, fall back, record every
//! attempt.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::{Either, select};
use tracing::Instrument;

use crate::Error;
use crate::decision::{Candidate, Decision};
use crate::filter::Health;
use crate::model::{Capabilities, ModelId, ModelSpec, Tag};
use crate::provider::{ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError};
use crate::router::Router;
use crate::runtime::backoff::{JitterRng, RetryPolicy};
use crate::runtime::breaker::{BreakerPermit, BreakerRegistry, CallOutcome};
use crate::runtime::budget::{BudgetError, BudgetPolicy, BudgetScope, BudgetStore, Reservation};
use crate::runtime::clock::{Clock, TokioClock};
use crate::runtime::stats::RuntimeStats;
use crate::task::{Limits, Task, TaskKind};

/// Per-request settings: the deadline and the budget scopes the call is charged to.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Time allowed for the whole request, retries and fallbacks included.
    pub deadline: Duration,
    /// Budget scopes charged (the global scope is always charged when a budget is set).
    pub scopes: Vec<BudgetScope>,
}

impl RequestOptions {
    /// A request that must end within `deadline`.
    pub fn within(deadline: Duration) -> Self {
        Self {
            deadline,
            scopes: vec![BudgetScope::Global],
        }
    }

    /// Charges the request to a tenant.
    pub fn tenant(mut self, tenant: impl AsRef<str>) -> Self {
        self.scopes.push(BudgetScope::tenant(tenant));
        self
    }

    /// Charges the request to a key id.
    pub fn key(mut self, key_id: impl AsRef<str>) -> Self {
        self.scopes.push(BudgetScope::key(key_id));
        self
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The model answered (and, in a cascade, the answer was accepted).
    Success,
    /// The provider returned an error.
    Failed {
        /// What kind.
        kind: ErrorKind,
        /// The HTTP status, where there was one.
        status: Option<u16>,
        /// The provider's message (never a key; no prompt text is added by the runtime).
        message: String,
    },
    /// The request's deadline ran out during the attempt.
    DeadlineExceeded,
    /// The model's circuit breaker refused the call.
    CircuitOpen,
    /// The budget refused the reservation.
    BudgetRefused {
        /// What the budget said.
        reason: String,
    },
    /// No provider is registered under the model's provider name.
    NoProvider,
    /// A cascade's acceptance check turned the answer down.
    NotAccepted {
        /// The check's reason.
        reason: String,
    },
    /// A stream failed after its first token reached the caller.
    StreamInterrupted {
        /// The error's kind.
        kind: ErrorKind,
    },
}

impl AttemptOutcome {
    fn from_error(e: &ProviderError) -> Self {
        AttemptOutcome::Failed {
            kind: e.kind(),
            status: e.status(),
            message: e.message().to_owned(),
        }
    }

    /// A short label (`"success"`, `"rate limited"`, `"circuit open"`), as logged.
    pub fn label(&self) -> &str {
        match self {
            AttemptOutcome::Success => "success",
            AttemptOutcome::Failed { kind, .. } | AttemptOutcome::StreamInterrupted { kind } => {
                kind.description()
            }
            AttemptOutcome::DeadlineExceeded => "deadline exceeded",
            AttemptOutcome::CircuitOpen => "circuit open",
            AttemptOutcome::BudgetRefused { .. } => "budget refused",
            AttemptOutcome::NoProvider => "no provider",
            AttemptOutcome::NotAccepted { .. } => "not accepted",
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Failed { kind, status, .. } => match status {
                Some(s) => write!(f, "{kind} ({s})"),
                None => write!(f, "{kind}"),
            },
            AttemptOutcome::BudgetRefused { reason } => write!(f, "budget refused: {reason}"),
            AttemptOutcome::NotAccepted { reason } => write!(f, "not accepted: {reason}"),
            AttemptOutcome::StreamInterrupted { kind } => {
                write!(f, "stream cut after the first token: {kind}")
            }
            other => f.write_str(other.label()),
        }
    }
}

/// One call (or refused call) of one model during a request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Attempt {
    /// The model.
    pub model: ModelId,
    /// Its place in the ranking (0 = primary).
    pub rank: u32,
    /// 0 for the first call of this model, then 1, 2, ... for retries.
    pub retry: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Wall time of the call (zero when no call was made).
    pub latency: Duration,
    /// What the call cost in USD (0 for failed calls: providers bill no usage for them).
    pub cost_usd: f64,
    /// The backoff waited after this attempt before the next one.
    pub backoff: Duration,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.model)?;
        if self.retry > 0 {
            write!(f, " (retry {})", self.retry)?;
        }
        write!(f, ": {} after {:?}", self.outcome, self.latency)
    }
}

fn list(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no attempt was made".to_owned();
    }
    attempts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a routed request failed. Every variant lists the attempts made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoutedError {
    /// The router found no eligible model (its error lists every rejection).
    #[error("no model could be routed to: {source}")]
    NoRoute {
        /// The router's error.
        source: Error,
        /// Whether the budget lowered the task's cost limit (stepped down) before routing.
        budget_limited: bool,
    },
    /// Every ranked model was tried and failed.
    #[error("every model failed ({} attempts): {}", .attempts.len(), list(.attempts))]
    AllFailed {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The provider said the request itself is bad; no retry or other model can help.
    #[error("the request was refused and no other model can help: {}", list(.attempts))]
    Rejected {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The deadline ran out.
    #[error("deadline of {deadline:?} exceeded after {} attempts: {}", .attempts.len(), list(.attempts))]
    DeadlineExceeded {
        /// The request's deadline.
        deadline: Duration,
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The budget refused the request (stepping down is off, or nothing cheaper was left).
    #[error("{source}; attempts: {}", list(.attempts))]
    Budget {
        /// What the budget said.
        source: BudgetError,
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
}

impl RoutedError {
    /// The attempts made before giving up, in order.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            RoutedError::NoRoute { .. } => &[],
            RoutedError::AllFailed { attempts }
            | RoutedError::Rejected { attempts }
            | RoutedError::DeadlineExceeded { attempts, .. }
            | RoutedError::Budget { attempts, .. } => attempts,
        }
    }
}

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

/// The router's health hook as the client sees it: the model has a provider, and its breaker
/// (if any) lets calls through.
struct ClientHealth {
    served: HashSet<ModelId>,
    breakers: Option<Arc<BreakerRegistry>>,
}

impl Health for ClientHealth {
    fn is_available(&self, model: &ModelId) -> bool {
        self.served.contains(model) && self.breakers.as_ref().is_none_or(|b| b.is_available(model))
    }
}

/// A task with its cost limit lowered by the budget.
struct LimitedTask<'a, T: ?Sized> {
    inner: &'a T,
    limits: Limits,
}

impl<T: Task + ?Sized> Task for LimitedTask<'_, T> {
    fn kind(&self) -> &TaskKind {
        self.inner.kind()
    }
    fn input_tokens(&self) -> u32 {
        self.inner.input_tokens()
    }
    fn output_tokens(&self) -> u32 {
        self.inner.output_tokens()
    }
    fn cached_input_tokens(&self) -> u32 {
        self.inner.cached_input_tokens()
    }
    fn required_capabilities(&self) -> Capabilities {
        self.inner.required_capabilities()
    }
    fn required_tags(&self) -> &[Tag] {
        self.inner.required_tags()
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn text(&self) -> Option<&str> {
        self.inner.text()
    }
    fn features(&self) -> Option<&[f32]> {
        self.inner.features()
    }
    fn caller_key(&self) -> Option<&str> {
        self.inner.caller_key()
    }
}

pub(crate) struct Budget {
    pub(crate) store: Arc<dyn BudgetStore>,
    pub(crate) policy: BudgetPolicy,
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
    seed: u64,
    requests: AtomicU64,
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

/// Builds a [`RoutedClient`].
pub struct RoutedClientBuilder {
    router: Router,
    providers: HashMap<String, Arc<dyn Provider>>,
    breakers: Option<Arc<BreakerRegistry>>,
    budget: Option<Budget>,
    stats: Option<Arc<RuntimeStats>>,
    retry: RetryPolicy,
    clock: Option<Arc<dyn Clock>>,
    seed: u64,
}

impl fmt::Debug for RoutedClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedClientBuilder")
            .field("providers", &self.providers.len())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RoutedClientBuilder {
    /// Registers a provider under its [`name`](Provider::name); models whose
    /// [`provider`](ModelSpec::provider) is that name are sent to it.
    pub fn provider(self, provider: Arc<dyn Provider>) -> Self {
        let name = provider.name().to_owned();
        self.provider_named(name, provider)
    }

    /// Registers providers from a map of provider name to provider.
    pub fn providers<I, S>(mut self, providers: I) -> Self
    where
        I: IntoIterator<Item = (S, Arc<dyn Provider>)>,
        S: Into<String>,
    {
        self.providers
            .extend(providers.into_iter().map(|(name, p)| (name.into(), p)));
        self
    }

    /// Registers a provider under another name.
    pub fn provider_named(mut self, name: impl Into<String>, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(name.into(), provider);
        self
    }

    /// Keeps circuit breakers; models with open breakers leave the ranking.
    pub fn breakers(mut self, breakers: Arc<BreakerRegistry>) -> Self {
        self.breakers = Some(breakers);
        self
    }

    /// Keeps a budget.
    pub fn budget(mut self, store: Arc<dyn BudgetStore>, policy: BudgetPolicy) -> Self {
        self.budget = Some(Budget { store, policy });
        self
    }

    /// Records observed latency and errors (give the same [`RuntimeStats`] to the router's
    /// [`ObservedLatency`](crate::runtime::ObservedLatency) or
    /// [`FailureAwareQuality`](crate::runtime::FailureAwareQuality) to close the loop).
    pub fn stats(mut self, stats: Arc<RuntimeStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Sets the retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the clock (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the seed of the backoff jitter (default 0): request `n` jitters from
    /// `seed` and `n`, so a run is reproducible.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings and builds the client. The router gets a health hook that keeps out
    /// models without a registered provider and models whose breaker is open (it replaces any
    /// health hook the router had).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an invalid retry or budget policy, or when no router model
    /// has a registered provider.
    pub fn build(self) -> Result<RoutedClient, Error> {
        self.retry.validate()?;
        if let Some(b) = &self.budget {
            b.policy.validate()?;
        }
        let served: HashSet<ModelId> = self
            .router
            .models()
            .iter()
            .filter(|m| self.providers.contains_key(&m.provider))
            .map(|m| m.id.clone())
            .collect();
        if served.is_empty() {
            return Err(Error::InvalidValue {
                field: "providers".to_owned(),
                value: format!("{:?}", self.providers.keys().collect::<Vec<_>>()),
                expected: "a provider for at least one of the router's models (register one named as ModelSpec::provider)",
            });
        }
        let health = ClientHealth {
            served,
            breakers: self.breakers.clone(),
        };
        Ok(RoutedClient {
            router: self.router.with_health(health),
            providers: self.providers,
            breakers: self.breakers,
            budget: self.budget,
            stats: self.stats,
            retry: self.retry,
            clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock)),
            seed: self.seed,
            requests: AtomicU64::new(0),
        })
    }
}

/// splitmix64: spreads consecutive request numbers into unrelated seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether a provider error says something about the model's health.
pub(crate) fn health_outcome(e: &ProviderError) -> CallOutcome {
    match e.kind() {
        ErrorKind::InvalidRequest
        | ErrorKind::ContextTooLong
        | ErrorKind::ResponseTooLarge
        | ErrorKind::Config => CallOutcome::Neutral,
        _ => CallOutcome::Failure,
    }
}

/// What one model's turn produced.
pub(crate) enum Turn<T> {
    Done(T),
    /// Try the next model.
    Next,
    /// Stop: the request cannot succeed.
    Stop(RoutedError),
}

/// Per-request state shared by complete, stream and cascade.
pub(crate) struct RequestCtx {
    pub(crate) deadline_at: Instant,
    pub(crate) deadline: Duration,
    pub(crate) scopes: Vec<BudgetScope>,
    pub(crate) rng: JitterRng,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) budget_refusal: Option<BudgetError>,
}

impl RequestCtx {
    pub(crate) fn remaining(&self, now: Instant) -> Duration {
        self.deadline_at.saturating_duration_since(now)
    }

    pub(crate) fn deadline_error(&mut self) -> RoutedError {
        RoutedError::DeadlineExceeded {
            deadline: self.deadline,
            attempts: std::mem::take(&mut self.attempts),
        }
    }

    pub(crate) fn exhausted(&mut self) -> RoutedError {
        let attempts = std::mem::take(&mut self.attempts);
        match self.budget_refusal.take() {
            Some(source) if attempts.iter().all(|a| a.outcome != AttemptOutcome::Success) => {
                RoutedError::Budget { source, attempts }
            }
            _ => RoutedError::AllFailed { attempts },
        }
    }
}

impl RoutedClient {
    /// A builder over `router`.
    pub fn builder(router: Router) -> RoutedClientBuilder {
        RoutedClientBuilder {
            router,
            providers: HashMap::new(),
            breakers: None,
            budget: None,
            stats: None,
            retry: RetryPolicy::default(),
            clock: None,
            seed: 0,
        }
    }

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
        let now = self.clock.now();
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let mut ctx = RequestCtx {
            deadline_at: now + opts.deadline,
            deadline: opts.deadline,
            scopes: opts.scopes.clone(),
            rng: JitterRng::with_seed(mix(self.seed ^ mix(n))),
            attempts: Vec::new(),
            budget_refusal: None,
        };
        if self.budget.is_some() && !ctx.scopes.contains(&BudgetScope::Global) {
            ctx.scopes.push(BudgetScope::Global);
        }
        let mut limits = task.limits();
        let mut budget_limited = false;
        if let Some(b) = &self.budget
            && b.policy.step_down
        {
            let left = b
                .store
                .remaining(&ctx.scopes)
                .await
                .map_err(|source| RoutedError::Budget {
                    source,
                    attempts: Vec::new(),
                })?;
            let stepped = b.policy.limits(limits, left);
            budget_limited = stepped != limits;
            limits = stepped;
        }
        let limited = LimitedTask { inner: task, limits };
        let mut decision = Decision::new();
        if let Err(source) = self.router.route_into(&limited, &mut decision) {
            tracing::warn!(budget_limited, "no eligible model");
            return Err(RoutedError::NoRoute {
                source,
                budget_limited,
            });
        }
        Ok((ctx, decision))
    }

    /// Reserves budget for a candidate; `Err(Turn)` when refused.
    pub(crate) async fn reserve(
        &self,
        ctx: &mut RequestCtx,
        cand: &Candidate,
        rank: u32,
        model: &ModelSpec,
        request: &ChatRequest,
        input_tokens: u32,
    ) -> Result<Option<Reservation>, Turn<()>> {
        let Some(b) = &self.budget else {
            return Ok(None);
        };
        let estimated = cand.estimate.map_or(0.0, |e| e.cost_usd);
        let at_max = request
            .max_tokens
            .map_or(0.0, |n| model.prices.cost_usd(input_tokens, 0, n));
        let amount = estimated.max(at_max) * b.policy.reserve_factor;
        match b.store.reserve(&ctx.scopes, amount).await {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                tracing::info!(model = %model.id, rank, reserve_usd = amount, "budget refused");
                ctx.attempts.push(Attempt {
                    model: model.id.clone(),
                    rank,
                    retry: 0,
                    outcome: AttemptOutcome::BudgetRefused {
                        reason: e.to_string(),
                    },
                    latency: Duration::ZERO,
                    cost_usd: 0.0,
                    backoff: Duration::ZERO,
                });
                let stop = !b.policy.step_down || matches!(e, BudgetError::Store(_));
                if stop {
                    return Err(Turn::Stop(RoutedError::Budget {
                        source: e,
                        attempts: std::mem::take(&mut ctx.attempts),
                    }));
                }
                ctx.budget_refusal = Some(e);
                Err(Turn::Next)
            }
        }
    }

    pub(crate) async fn settle(&self, reservation: Option<Reservation>, cost: Option<f64>) {
        if let (Some(b), Some(r)) = (&self.budget, reservation) {
            let res = match cost {
                Some(c) => b.store.settle(&r, c).await,
                None => b.store.release(&r).await,
            };
            if let Err(e) = res {
                tracing::error!(error = %e, "budget store failed to settle; the reservation expires on its own");
            }
        }
    }

    /// Takes a breaker permit; `None` (after recording the refusal) when the circuit is open.
    pub(crate) fn permit(
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
                ctx.attempts.push(Attempt {
                    model: model.clone(),
                    rank,
                    retry,
                    outcome: AttemptOutcome::CircuitOpen,
                    latency: Duration::ZERO,
                    cost_usd: 0.0,
                    backoff: Duration::ZERO,
                });
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

    /// After a failed call: wait and retry (`true`), or move on (`false`).
    pub(crate) async fn backoff(
        &self,
        ctx: &mut RequestCtx,
        err: &ProviderError,
        model: &ModelId,
        retry: u32,
    ) -> bool {
        if !err.is_retryable() || retry >= self.retry.max_retries {
            return false;
        }
        if let Some(reg) = &self.breakers
            && !reg.breaker(model).is_available(self.clock.now())
        {
            return false;
        }
        let remaining = ctx.remaining(self.clock.now());
        let Some(delay) = self
            .retry
            .delay(retry, err.retry_after(), remaining, &mut ctx.rng)
        else {
            return false;
        };
        if let Some(last) = ctx.attempts.last_mut() {
            last.backoff = delay;
        }
        tracing::debug!(model = %model, retry, delay_ms = delay.as_secs_f64() * 1000.0, "backing off");
        self.clock.sleep(delay).await;
        true
    }

    /// Sends `request` along the routing decision for `task`: the primary first, retries with
    /// backoff on retryable errors, then the fallbacks in ranked order on errors another model
    /// may not have, all within `opts.deadline`.
    ///
    /// # Errors
    /// A [`RoutedError`] listing every attempt.
    pub async fn complete<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        opts: RequestOptions,
    ) -> Result<RoutedResponse, RoutedError> {
        let span = tracing::info_span!(
            "taskroute.request",
            kind = %task.kind(),
            deadline_ms = opts.deadline.as_millis() as u64,
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
        let (mut ctx, decision) = self.begin(task, opts).await?;
        let input_tokens = task.input_tokens();
        let expected_output = task.output_tokens();
        for rank in 0..decision.ranking.len() {
            let cand = &decision.candidates[decision.ranking[rank] as usize];
            match self
                .run_model(
                    &mut ctx,
                    cand,
                    rank as u32,
                    request,
                    input_tokens,
                    expected_output,
                )
                .await
            {
                Turn::Done(response) => {
                    return Ok(RoutedResponse {
                        response,
                        attempts: ctx.attempts,
                        decision,
                    });
                }
                Turn::Next => continue,
                Turn::Stop(e) => return Err(e),
            }
        }
        Err(ctx.exhausted())
    }

    /// One model's turn: reserve, call, retry, settle.
    pub(crate) async fn run_model(
        &self,
        ctx: &mut RequestCtx,
        cand: &Candidate,
        rank: u32,
        request: &ChatRequest,
        input_tokens: u32,
        expected_output: u32,
    ) -> Turn<ChatResponse> {
        let Some(model) = self.router.model(cand.model.as_str()) else {
            return Turn::Next;
        };
        let Some(provider) = self.providers.get(&model.provider) else {
            ctx.attempts.push(Attempt {
                model: model.id.clone(),
                rank,
                retry: 0,
                outcome: AttemptOutcome::NoProvider,
                latency: Duration::ZERO,
                cost_usd: 0.0,
                backoff: Duration::ZERO,
            });
            return Turn::Next;
        };
        if self.clock.now() >= ctx.deadline_at {
            return Turn::Stop(ctx.deadline_error());
        }
        let reservation = match self.reserve(ctx, cand, rank, model, request, input_tokens).await {
            Ok(r) => r,
            Err(Turn::Stop(e)) => return Turn::Stop(e),
            Err(_) => return Turn::Next,
        };
        let mut retry = 0;
        loop {
            let Some(permit) = self.permit(ctx, &model.id, rank, retry) else {
                self.settle(reservation, None).await;
                return Turn::Next;
            };
            let start = self.clock.now();
            let remaining = ctx.remaining(start);
            if remaining.is_zero() {
                drop(permit);
                self.settle(reservation, None).await;
                return Turn::Stop(ctx.deadline_error());
            }
            let call = provider.complete(model, request);
            let result = match select(call, self.clock.sleep(remaining)).await {
                Either::Left((r, _)) => Some(r),
                Either::Right(((), _)) => None,
            };
            let latency = self.clock.now().saturating_duration_since(start);
            match result {
                Some(Ok(response)) => {
                    let out = response.usage.output_tokens;
                    let out = if out == 0 { expected_output } else { out };
                    self.note_success(permit, model, latency, out);
                    self.settle(reservation, Some(response.cost_usd)).await;
                    tracing::debug!(model = %model.id, rank, retry, latency_ms = ms(latency), cost_usd = response.cost_usd, "attempt succeeded");
                    ctx.attempts.push(Attempt {
                        model: model.id.clone(),
                        rank,
                        retry,
                        outcome: AttemptOutcome::Success,
                        latency,
                        cost_usd: response.cost_usd,
                        backoff: Duration::ZERO,
                    });
                    return Turn::Done(response);
                }
                None => {
                    // The deadline ran out mid-call: the call was dropped (cancelled).
                    self.note_failure(permit, &model.id, CallOutcome::Failure);
                    self.settle(reservation, None).await;
                    tracing::info!(model = %model.id, rank, retry, latency_ms = ms(latency), "attempt cut by the deadline");
                    ctx.attempts.push(Attempt {
                        model: model.id.clone(),
                        rank,
                        retry,
                        outcome: AttemptOutcome::DeadlineExceeded,
                        latency,
                        cost_usd: 0.0,
                        backoff: Duration::ZERO,
                    });
                    return Turn::Stop(ctx.deadline_error());
                }
                Some(Err(e)) => {
                    self.note_failure(permit, &model.id, health_outcome(&e));
                    tracing::info!(model = %model.id, rank, retry, latency_ms = ms(latency), kind = %e.kind(), status = e.status(), "attempt failed");
                    ctx.attempts.push(Attempt {
                        model: model.id.clone(),
                        rank,
                        retry,
                        outcome: AttemptOutcome::from_error(&e),
                        latency,
                        cost_usd: 0.0,
                        backoff: Duration::ZERO,
                    });
                    if self.backoff(ctx, &e, &model.id, retry).await {
                        retry += 1;
                        continue;
                    }
                    self.settle(reservation, None).await;
                    if !e.can_fallback() {
                        return Turn::Stop(RoutedError::Rejected {
                            attempts: std::mem::take(&mut ctx.attempts),
                        });
                    }
                    return Turn::Next;
                }
            }
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn short(e: &RoutedError) -> &'static str {
    match e {
        RoutedError::NoRoute { .. } => "no route",
        RoutedError::AllFailed { .. } => "all models failed",
        RoutedError::Rejected { .. } => "request rejected",
        RoutedError::DeadlineExceeded { .. } => "deadline exceeded",
        RoutedError::Budget { .. } => "budget",
    }
}
