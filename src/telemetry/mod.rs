//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//!
//! The crate records; the application chooses the exporter (Prometheus, StatsD, OpenTelemetry,
//! ...) by installing a recorder. A library never installs one. [`Metrics`] keeps a handle for
//! every series it has recorded, so that a request formats no label and allocates nothing; with
//! no recorder installed, the handles do nothing. The routed client ([`crate::runtime`]) keeps
//! its own [`Metrics`] and records through it; it is public so that a service with its own
//! execution loop can record the same series.
//!
//! Names and attributes follow the OpenTelemetry GenAI semantic conventions where one exists
//! (see [`names`] and [`attrs`]); the rest are `taskroute.*`. Label values are bounded: model
//! ids and provider names (the router's), task kinds and policy names (at most
//! [`MAX_DECISION_KINDS`] pairs per model, then `other`), response models (at most
//! [`MAX_RESPONSE_MODELS`] per model, then `other`), budget names (at most
//! [`MAX_BUDGET_NAMES`] per scope, then `other`) and fixed codes. No prompt or answer text, no
//! request ids, no caller keys.
//!
//! | name | kind | unit | attributes |
//! |---|---|---|---|
//! | `taskroute.decisions` | counter | | `taskroute.policy`, `taskroute.task.kind`, `gen_ai.request.model` (`none` when no model was eligible) |
//! | `taskroute.rejections` | counter | | `taskroute.rejection.reason`, `gen_ai.request.model` |
//! | `taskroute.attempts` | counter | | `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model`, `taskroute.outcome`, `error.type` |
//! | `gen_ai.client.operation.duration` | histogram | s | as attempts, plus `gen_ai.response.model` on success |
//! | `gen_ai.client.operation.time_to_first_chunk` | histogram | s | `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model` (streams only) |
//! | `gen_ai.client.token.usage` | histogram | {token} | `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.token.type` (`input`, `output`) (on success) |
//! | `taskroute.tokens.cached_input` | counter | {token} | `gen_ai.system`, `gen_ai.request.model` |
//! | `taskroute.attempt.cost` | histogram | USD | `gen_ai.system`, `gen_ai.request.model` |
//! | `taskroute.budget.spend` | histogram | USD | `taskroute.budget.scope`, `taskroute.budget.name` |
//! | `taskroute.budget.remaining` | gauge | USD | `taskroute.budget.scope`, `taskroute.budget.name` |
//! | `taskroute.capacity.refusals` | counter | | `gen_ai.system`, `gen_ai.request.model` (no deployment of the model had capacity) |
//! | `taskroute.capacity.wait` | histogram | s | `gen_ai.system`, `gen_ai.request.model` (time in line for capacity) |
//! | `taskroute.breaker.transitions` | counter | | `gen_ai.request.model`, `taskroute.breaker.state` (the new state) |
//! | `taskroute.breaker.state` | gauge | | `gen_ai.request.model`; 0 closed, 1 half-open, 2 open |
//!
//! Prometheus exporters replace the dots with underscores (`taskroute_decisions`,
//! `gen_ai_client_operation_duration_seconds` with a unit suffix where the exporter adds one).

use std::time::Duration;

use derive_setters::Setters;
use metrics::{counter, gauge};

use crate::filter::Rejection;
use crate::model::ModelId;

mod series;
pub use series::{MAX_BUDGET_NAMES, MAX_DECISION_KINDS, MAX_RESPONSE_MODELS, Metrics};

/// Metric names.
pub mod names {
    /// Routing decisions (counter).
    pub const DECISIONS: &str = "taskroute.decisions";
    /// Candidates rejected, by reason (counter).
    pub const REJECTIONS: &str = "taskroute.rejections";
    /// Provider calls, by outcome (counter).
    pub const ATTEMPTS: &str = "taskroute.attempts";
    /// Duration of one provider call, seconds (histogram; OpenTelemetry GenAI).
    pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
    /// Time to the first streamed chunk, seconds (histogram; OpenTelemetry GenAI).
    pub const TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
    /// Input and output tokens per call (histogram; OpenTelemetry GenAI).
    pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
    /// Input tokens read from the provider's prompt cache (counter).
    pub const CACHED_INPUT_TOKENS: &str = "taskroute.tokens.cached_input";
    /// Cost of one call, USD (histogram).
    pub const ATTEMPT_COST: &str = "taskroute.attempt.cost";
    /// Spend settled against a budget, USD per call (histogram; its sum is the spend).
    pub const BUDGET_SPEND: &str = "taskroute.budget.spend";
    /// What a budget has left, USD (gauge).
    pub const BUDGET_REMAINING: &str = "taskroute.budget.remaining";
    /// Calls of a model refused because none of its deployments had capacity (counter).
    pub const CAPACITY_REFUSALS: &str = "taskroute.capacity.refusals";
    /// Time a request waited in line for a deployment's capacity, seconds (histogram).
    pub const CAPACITY_WAIT: &str = "taskroute.capacity.wait";
    /// Circuit-breaker state changes (counter).
    pub const BREAKER_TRANSITIONS: &str = "taskroute.breaker.transitions";
    /// Circuit-breaker state: 0 closed, 1 half-open, 2 open (gauge).
    pub const BREAKER_STATE: &str = "taskroute.breaker.state";
}

/// Attribute (label) names.
pub mod attrs {
    /// The operation: `chat` (OpenTelemetry GenAI).
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// The provider: `openai`, `anthropic`, `aws.bedrock`, ... (OpenTelemetry GenAI).
    pub const SYSTEM: &str = "gen_ai.system";
    /// The model asked for (OpenTelemetry GenAI).
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The model that answered, as the provider names it (OpenTelemetry GenAI).
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// `input` or `output` (OpenTelemetry GenAI).
    pub const TOKEN_TYPE: &str = "gen_ai.token.type";
    /// The error class of a failed call (OpenTelemetry).
    pub const ERROR_TYPE: &str = "error.type";
    /// The routing policy's name.
    pub const POLICY: &str = "taskroute.policy";
    /// The task's kind.
    pub const TASK_KIND: &str = "taskroute.task.kind";
    /// Why a candidate was rejected (see [`rejection_reason`](super::rejection_reason)).
    pub const REJECTION_REASON: &str = "taskroute.rejection.reason";
    /// `success` or `error`.
    pub const OUTCOME: &str = "taskroute.outcome";
    /// `global`, `tenant` or `key`.
    pub const BUDGET_SCOPE: &str = "taskroute.budget.scope";
    /// The tenant name or key id of a budget (empty for the global one).
    pub const BUDGET_NAME: &str = "taskroute.budget.name";
    /// A breaker's new state: `closed`, `half_open`, `open`.
    pub const BREAKER_STATE: &str = "taskroute.breaker.state";
}

/// The operation name the routed client records (`gen_ai.operation.name`).
pub const OPERATION_CHAT: &str = "chat";

/// A fixed, snake-case code for a rejection (the `taskroute.rejection.reason` label).
pub fn rejection_reason(r: &Rejection) -> &'static str {
    series::REJECTION_REASONS[series::rejection_index(r)]
}
/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tokens {
    /// Input tokens, cached ones included.
    pub input: u32,
    /// Output tokens.
    pub output: u32,
    /// The part of `input` read from the prompt cache.
    pub cached_input: u32,
}

impl Tokens {
    /// Token counts.
    pub const fn new(input: u32, output: u32, cached_input: u32) -> Self {
        Self {
            input,
            output,
            cached_input,
        }
    }
}

/// One provider call, as [`Metrics::attempt`] records it.
#[derive(Clone, Copy, Debug, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct Attempt<'a> {
    /// The provider (`gen_ai.system`).
    pub system: &'a str,
    /// The model asked for.
    pub request_model: &'a ModelId,
    /// The model that answered, as the provider names it.
    #[setters(generate, strip_option)]
    pub response_model: Option<&'a str>,
    /// `None` on success, else a fixed error code (`error.type`).
    pub error: Option<&'static str>,
    /// From sending the request to the last byte (or the failure).
    pub duration: Duration,
    /// From sending the request to the first streamed chunk.
    #[setters(generate, strip_option)]
    pub time_to_first_chunk: Option<Duration>,
    /// Token counts, when the provider reported them.
    #[setters(generate, strip_option)]
    pub tokens: Option<Tokens>,
    /// What the call cost, USD.
    #[setters(generate, strip_option)]
    pub cost_usd: Option<f64>,
}

impl<'a> Attempt<'a> {
    /// A successful call of `request_model` on `system` that took `duration`.
    pub fn success(system: &'a str, request_model: &'a ModelId, duration: Duration) -> Self {
        Self {
            system,
            request_model,
            response_model: None,
            error: None,
            duration,
            time_to_first_chunk: None,
            tokens: None,
            cost_usd: None,
        }
    }

    /// A failed call; `error` is a fixed code such as [`error_type`]'s.
    pub fn failure(
        system: &'a str,
        request_model: &'a ModelId,
        duration: Duration,
        error: &'static str,
    ) -> Self {
        Self {
            error: Some(error),
            ..Self::success(system, request_model, duration)
        }
    }
}

/// Records what a budget has left.
pub fn record_budget_remaining(scope: &'static str, name: &str, usd: f64) {
    gauge!(names::BUDGET_REMAINING, attrs::BUDGET_SCOPE => scope, attrs::BUDGET_NAME => name.to_owned())
        .set(usd);
}

/// Asks `store` what each of `scopes` has left and records it ([`record_budget_remaining`];
/// a scope with no cap is not recorded). The routed client does not do this on its own (it
/// would cost a store call per scope per request): call it from a periodic task. Pass only
/// scopes you bound (your tenants and keys).
///
/// # Errors
/// The store's, if it fails.
#[cfg(feature = "runtime")]
pub async fn sample_budgets(
    store: &dyn crate::runtime::BudgetStore,
    scopes: &[crate::runtime::BudgetScope],
) -> Result<(), crate::runtime::BudgetError> {
    for scope in scopes {
        if let Some(left) = store.remaining(std::slice::from_ref(scope)).await? {
            let (kind, name) = scope_labels(scope);
            record_budget_remaining(kind, name, left);
        }
    }
    Ok(())
}

/// A budget scope's `taskroute.budget.scope` and `taskroute.budget.name` values.
#[cfg(feature = "runtime")]
pub(crate) fn scope_labels(scope: &crate::runtime::BudgetScope) -> (&'static str, &str) {
    use crate::runtime::BudgetScope;
    match scope {
        BudgetScope::Global => ("global", ""),
        BudgetScope::Tenant(t) => ("tenant", t),
        BudgetScope::Key(k) => ("key", k),
    }
}

/// A circuit breaker's state, for [`record_breaker_state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls pass.
    Closed,
    /// Probe calls pass.
    HalfOpen,
    /// Calls are refused.
    Open,
}

impl CircuitState {
    fn code(self) -> (&'static str, f64) {
        match self {
            CircuitState::Closed => ("closed", 0.0),
            CircuitState::HalfOpen => ("half_open", 1.0),
            CircuitState::Open => ("open", 2.0),
        }
    }
}

/// Records a breaker's change of state: the transition counter and the state gauge.
pub fn record_breaker_state(model: &ModelId, state: CircuitState) {
    let (name, value) = state.code();
    counter!(names::BREAKER_TRANSITIONS, attrs::REQUEST_MODEL => model.as_str().to_owned(), attrs::BREAKER_STATE => name)
        .increment(1);
    gauge!(names::BREAKER_STATE, attrs::REQUEST_MODEL => model.as_str().to_owned()).set(value);
}

/// A [`BreakerObserver`](crate::runtime::BreakerObserver) that records every open and close
/// (the observer the runtime's breakers tell; pass it to the breaker registry). It forwards
/// everything to an inner observer, if given, so it can sit in front of another (a fleet's).
#[cfg(feature = "runtime")]
#[derive(Debug, Default, Clone)]
pub struct BreakerMetrics {
    inner: Option<std::sync::Arc<dyn crate::runtime::BreakerObserver>>,
}

#[cfg(feature = "runtime")]
impl BreakerMetrics {
    /// Records, and tells nobody else.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records, then tells `inner`.
    pub fn forwarding_to(inner: std::sync::Arc<dyn crate::runtime::BreakerObserver>) -> Self {
        Self { inner: Some(inner) }
    }
}

#[cfg(feature = "runtime")]
impl crate::runtime::BreakerObserver for BreakerMetrics {
    fn outcome(&self, model: &ModelId, outcome: crate::runtime::CallOutcome) {
        if let Some(i) = &self.inner {
            i.outcome(model, outcome);
        }
    }
    fn opened(&self, model: &ModelId) {
        record_breaker_state(model, CircuitState::Open);
        if let Some(i) = &self.inner {
            i.opened(model);
        }
    }
    fn closed(&self, model: &ModelId) {
        record_breaker_state(model, CircuitState::Closed);
        if let Some(i) = &self.inner {
            i.closed(model);
        }
    }
}

/// The `error.type` code of a provider error kind.
#[cfg(feature = "provider")]
pub fn error_type(kind: crate::provider::ErrorKind) -> &'static str {
    kind.code()
}

/// Registers a description and unit for every metric with the installed recorder (exporters
/// show them as `# HELP` / `# UNIT`). Call it once after installing the recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::DECISIONS,
        "Routing decisions, by policy, task kind and chosen model"
    );
    describe_counter!(names::REJECTIONS, "Candidates rejected by the router, by reason");
    describe_counter!(names::ATTEMPTS, "Provider calls, by model and outcome");
    describe_histogram!(
        names::OPERATION_DURATION,
        Unit::Seconds,
        "Duration of one provider call"
    );
    describe_histogram!(
        names::TIME_TO_FIRST_CHUNK,
        Unit::Seconds,
        "Time to the first streamed chunk"
    );
    describe_histogram!(
        names::TOKEN_USAGE,
        Unit::Count,
        "Input and output tokens per call"
    );
    describe_counter!(
        names::CACHED_INPUT_TOKENS,
        Unit::Count,
        "Input tokens read from the prompt cache"
    );
    describe_histogram!(names::ATTEMPT_COST, "Cost of one provider call, USD");
    describe_histogram!(
        names::BUDGET_SPEND,
        "Spend settled against a budget, USD per call"
    );
    describe_gauge!(
        names::BUDGET_REMAINING,
        "What a budget has left in its window, USD"
    );
    describe_counter!(
        names::CAPACITY_REFUSALS,
        "Calls refused because no deployment of the model had capacity"
    );
    describe_histogram!(
        names::CAPACITY_WAIT,
        Unit::Seconds,
        "Time a request waited in line for a deployment's capacity"
    );
    describe_counter!(
        names::BREAKER_TRANSITIONS,
        "Circuit-breaker state changes, by new state"
    );
    describe_gauge!(
        names::BREAKER_STATE,
        "Circuit-breaker state: 0 closed, 1 half-open, 2 open"
    );
}

#[cfg(test)]
mod tests;
