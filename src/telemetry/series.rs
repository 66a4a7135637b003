//! [`Metrics`]: the metric handles of every series, registered once and reused, so that
//! recording a request formats no label and allocates nothing.
//!
//! A series (a name with its label values) is registered with the recorder on its first use,
//! and its handle (a [`Counter`] or [`Histogram`]) is kept; later uses only look the handle up,
//! by the model's position in the router's table, a fixed code (error type, rejection reason)
//! or a short list (policy and task kind, response model, budget name).
//!
//! Handles belong to the recorder that was installed when they were registered: install the
//! recorder before the first request (or build the [`Metrics`] after installing it).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Label, counter, histogram};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::{Attempt, OPERATION_CHAT, Tokens, attrs, names};
use crate::decision::{Decision, Verdict};
use crate::filter::Rejection;
use crate::kind::TaskKind;
use crate::model::{ModelId, ModelSpec};

/// The response models kept apart per request model; the rest share the value `other`.
pub const MAX_RESPONSE_MODELS: usize = 4;
/// The (policy, task kind) pairs kept apart per chosen model; the rest share the policy and
/// kind `other`.
pub const MAX_DECISION_KINDS: usize = 64;
/// The budget names (tenants, keys) kept apart per scope; the rest share the name `other`.
pub const MAX_BUDGET_NAMES: usize = 1024;

/// The label value for what is past a cardinality bound.
const OTHER: &str = "other";

/// The fixed `error.type` codes ([`super::error_type`] and a cut by the deadline).
pub(crate) const ERROR_TYPES: [&str; 15] = [
    "rate_limited",
    "context_too_long",
    "authentication",
    "permission",
    "invalid_request",
    "not_found",
    "overloaded",
    "server",
    "timeout",
    "transport",
    "malformed_response",
    "response_too_large",
    "config",
    "unsupported",
    "deadline_exceeded",
];

/// The fixed `taskroute.rejection.reason` codes, in [`rejection_index`] order.
pub(crate) const REJECTION_REASONS: [&str; 16] = [
    "not_allowed",
    "denied",
    "retired",
    "unhealthy",
    "missing_capabilities",
    "context_window",
    "max_output",
    "missing_tag",
    "price_cap",
    "cost_limit",
    "latency_limit",
    "no_quality_estimate",
    "bad_quality_estimate",
    "above_cost_ceiling",
    "filter",
    "policy",
];

/// The position of a rejection's code in [`REJECTION_REASONS`].
pub(crate) fn rejection_index(r: &Rejection) -> usize {
    match r {
        Rejection::NotAllowed => 0,
        Rejection::Denied => 1,
        Rejection::Retired { .. } => 2,
        Rejection::Unhealthy => 3,
        Rejection::MissingCapabilities { .. } => 4,
        Rejection::ContextWindow { .. } => 5,
        Rejection::MaxOutput { .. } => 6,
        Rejection::MissingTag { .. } => 7,
        Rejection::PriceCap { .. } => 8,
        Rejection::CostLimit { .. } => 9,
        Rejection::LatencyLimit { .. } => 10,
        Rejection::NoQualityEstimate => 11,
        Rejection::BadQualityEstimate { .. } => 12,
        Rejection::AboveCostCeiling { .. } => 13,
        Rejection::Filter { .. } => 14,
        Rejection::Policy { .. } => 15,
    }
}

/// The maps' hasher: xxh3 hashes a short id in a fraction of SipHash's time. Keys are model ids
/// and budget names, both bounded.
type Map<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

/// A handle registered on first use.
type Lazy<T> = OnceLock<T>;

/// The series of one successful (request model, response model) pair.
struct Success {
    attempts: Counter,
    duration: Histogram,
    input: Histogram,
    output: Histogram,
}

/// The series of one failure code.
struct Failure {
    attempts: Counter,
    duration: Histogram,
}

/// One (policy, task kind) decision counter.
struct DecisionSeries {
    policy: Box<str>,
    kind: Option<TaskKind>,
    counter: Counter,
}

/// Every series of one model (`gen_ai.request.model`), or of no model (`none`) for decisions.
struct ModelSeries {
    id: ModelId,
    system: Box<str>,
    decisions: RwLock<Vec<DecisionSeries>>,
    other_decisions: Lazy<Counter>,
    rejections: [Lazy<Counter>; REJECTION_REASONS.len()],
    successes: RwLock<Vec<(Box<str>, Success)>>,
    other_success: Lazy<Success>,
    failures: [Lazy<Failure>; ERROR_TYPES.len()],
    time_to_first_chunk: Lazy<Histogram>,
    cached_input: Lazy<Counter>,
    cost: Lazy<Histogram>,
    /// Deployment capacity: the routed client's (feature `runtime`).
    #[cfg(feature = "runtime")]
    capacity_refusals: Lazy<Counter>,
    #[cfg(feature = "runtime")]
    capacity_wait: Lazy<Histogram>,
}

impl ModelSeries {
    fn new(system: &str, id: ModelId) -> Self {
        Self {
            id,
            system: system.into(),
            decisions: RwLock::default(),
            other_decisions: Lazy::new(),
            rejections: Default::default(),
            successes: RwLock::default(),
            other_success: Lazy::new(),
            failures: Default::default(),
            time_to_first_chunk: Lazy::new(),
            cached_input: Lazy::new(),
            cost: Lazy::new(),
            #[cfg(feature = "runtime")]
            capacity_refusals: Lazy::new(),
            #[cfg(feature = "runtime")]
            capacity_wait: Lazy::new(),
        }
    }

    fn model_label(&self) -> Label {
        Label::new(attrs::REQUEST_MODEL, self.id.as_str().to_owned())
    }

    /// `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model`.
    fn base(&self) -> [Label; 3] {
        [
            Label::new(attrs::OPERATION_NAME, OPERATION_CHAT),
            Label::new(attrs::SYSTEM, self.system.to_string()),
            self.model_label(),
        ]
    }

    fn with(&self, extra: &[Label]) -> Vec<Label> {
        self.base().into_iter().chain(extra.iter().cloned()).collect()
    }

    fn decision(&self, policy: &str, kind: Option<&TaskKind>) {
        let find = |list: &[DecisionSeries]| {
            list.iter()
                .position(|s| &*s.policy == policy && s.kind.as_ref() == kind)
        };
        {
            let list = read(&self.decisions);
            if let Some(i) = find(&list) {
                return list[i].counter.increment(1);
            }
        }
        let mut list = write(&self.decisions);
        if find(&list).is_none() {
            if list.len() >= MAX_DECISION_KINDS {
                drop(list);
                return self
                    .other_decisions
                    .get_or_init(|| self.register_decision(OTHER, OTHER))
                    .increment(1);
            }
            let counter = self.register_decision(policy, kind.map_or("", |k| k.name()));
            list.push(DecisionSeries {
                policy: policy.into(),
                kind: kind.cloned(),
                counter,
            });
        }
        if let Some(i) = find(&list) {
            list[i].counter.increment(1);
        }
    }

    fn register_decision(&self, policy: &str, kind: &str) -> Counter {
        counter!(
            names::DECISIONS,
            attrs::POLICY => policy.to_owned(),
            attrs::TASK_KIND => kind.to_owned(),
            attrs::REQUEST_MODEL => self.id.as_str().to_owned(),
        )
    }

    fn rejection(&self, r: &Rejection) {
        let i = rejection_index(r);
        self.rejections[i]
            .get_or_init(|| {
                let labels = [
                    Label::new(attrs::REJECTION_REASON, REJECTION_REASONS[i]),
                    self.model_label(),
                ];
                counter!(names::REJECTIONS, labels.iter())
            })
            .increment(1);
    }

    /// Runs `f` on the series of a success answered by `response_model`.
    fn success(&self, response_model: &str, f: impl FnOnce(&Success)) {
        let find = |list: &[(Box<str>, Success)]| list.iter().position(|(m, _)| &**m == response_model);
        {
            let list = read(&self.successes);
            if let Some(i) = find(&list) {
                return f(&list[i].1);
            }
        }
        let mut list = write(&self.successes);
        if find(&list).is_none() {
            if list.len() >= MAX_RESPONSE_MODELS {
                drop(list);
                return f(self.other_success.get_or_init(|| self.register_success(OTHER)));
            }
            let s = self.register_success(response_model);
            list.push((response_model.into(), s));
        }
        if let Some(i) = find(&list) {
            f(&list[i].1);
        }
    }

    fn register_success(&self, response_model: &str) -> Success {
        let response = Label::new(attrs::RESPONSE_MODEL, response_model.to_owned());
        let tokens = |t: &'static str| {
            histogram!(
                names::TOKEN_USAGE,
                self.with(&[response.clone(), Label::new(attrs::TOKEN_TYPE, t)])
            )
        };
        Success {
            attempts: counter!(
                names::ATTEMPTS,
                self.with(&[response.clone(), Label::new(attrs::OUTCOME, "success")])
            ),
            duration: histogram!(
                names::OPERATION_DURATION,
                self.with(std::slice::from_ref(&response))
            ),
            input: tokens("input"),
            output: tokens("output"),
        }
    }

    fn failure(&self, code: &'static str) -> Option<&Failure> {
        let i = ERROR_TYPES.iter().position(|c| *c == code)?;
        Some(self.failures[i].get_or_init(|| self.register_failure(ERROR_TYPES[i])))
    }

    fn register_failure(&self, code: &'static str) -> Failure {
        let error = Label::new(attrs::ERROR_TYPE, code);
        Failure {
            attempts: counter!(
                names::ATTEMPTS,
                self.with(&[error.clone(), Label::new(attrs::OUTCOME, "error")])
            ),
            duration: histogram!(names::OPERATION_DURATION, self.with(&[error])),
        }
    }

    fn attempt(&self, a: &Attempt<'_>) {
        match a.error {
            Some(code) => {
                let unknown;
                let f = match self.failure(code) {
                    Some(f) => f,
                    None => {
                        // A code of the caller's own: registered each time (not cached).
                        unknown = self.register_failure(code);
                        &unknown
                    }
                };
                f.attempts.increment(1);
                f.duration.record(a.duration.as_secs_f64());
            }
            None => {
                self.success(a.response_model.unwrap_or(self.id.as_str()), |s| {
                    s.attempts.increment(1);
                    s.duration.record(a.duration.as_secs_f64());
                    if let Some(t) = a.tokens {
                        s.input.record(t.input);
                        s.output.record(t.output);
                    }
                });
            }
        }
        if let Some(t) = a.time_to_first_chunk {
            self.time_to_first_chunk(t);
        }
        if let Some(Tokens { cached_input, .. }) = a.tokens
            && cached_input > 0
        {
            self.cached_input
                .get_or_init(|| counter!(names::CACHED_INPUT_TOKENS, self.base()[1..].iter()))
                .increment(u64::from(cached_input));
        }
        if let Some(usd) = a.cost_usd {
            self.cost
                .get_or_init(|| histogram!(names::ATTEMPT_COST, self.base()[1..].iter()))
                .record(usd);
        }
    }

    fn time_to_first_chunk(&self, t: Duration) {
        self.time_to_first_chunk
            .get_or_init(|| histogram!(names::TIME_TO_FIRST_CHUNK, self.base().iter()))
            .record(t.as_secs_f64());
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The spend histograms of one budget scope, by budget name.
#[derive(Default)]
struct SpendSeries {
    /// The empty name (the global budget's), without a map lookup.
    unnamed: Lazy<Histogram>,
    by_name: RwLock<Map<Box<str>, Histogram>>,
    other: Lazy<Histogram>,
}

impl SpendSeries {
    fn record(&self, scope: &'static str, name: &str, usd: f64) {
        let register = |name: &str| histogram!(names::BUDGET_SPEND, attrs::BUDGET_SCOPE => scope, attrs::BUDGET_NAME => name.to_owned());
        if name.is_empty() {
            return self.unnamed.get_or_init(|| register(name)).record(usd);
        }
        if let Some(h) = read(&self.by_name).get(name) {
            return h.record(usd);
        }
        let mut map = write(&self.by_name);
        if map.len() >= MAX_BUDGET_NAMES && !map.contains_key(name) {
            drop(map);
            return self.other.get_or_init(|| register(OTHER)).record(usd);
        }
        map.entry(name.into())
            .or_insert_with(|| register(name))
            .record(usd);
    }
}

/// The handles of every series the crate records, for one set of models; see the
/// [module docs](crate::telemetry). A series is registered with the recorder on its first use and
/// its handle kept, so later uses format no label and allocate nothing. Handles belong to the
/// recorder installed when they were registered: install the recorder before the first request.
/// Share it (it is `Sync`); the routed client keeps its own.
///
/// ```
/// # fn demo(router: &taskroute::Router, decision: &taskroute::Decision) {
/// use taskroute::telemetry::Metrics;
/// // Install the recorder (a Prometheus exporter, ...) first, then:
/// let metrics = Metrics::new(router.models());
/// metrics.decision(decision);
/// # }
/// ```
pub struct Metrics {
    models: Box<[ModelSeries]>,
    by_id: Map<ModelId, usize>,
    /// Decisions with no eligible model (`gen_ai.request.model` = `none`).
    none: ModelSeries,
    /// `global`, `tenant`, `key`.
    spend: [SpendSeries; 3],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("models", &self.models.len())
            .finish_non_exhaustive()
    }
}

/// The budget scopes, in [`Metrics::spend`] order.
const SCOPES: [&str; 3] = ["global", "tenant", "key"];

impl Metrics {
    /// The series of `models` (the router's: [`Router::models`](crate::Router::models)). Series
    /// of other models are recorded too, but registered on every use.
    pub fn new<'a>(models: impl IntoIterator<Item = &'a ModelSpec>) -> Self {
        let models: Box<[ModelSeries]> = models
            .into_iter()
            .map(|m| ModelSeries::new(&m.provider, m.id.clone()))
            .collect();
        let by_id = models
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Self {
            models,
            by_id,
            none: ModelSeries::new("", ModelId::new("none")),
            spend: Default::default(),
        }
    }

    /// The series of a model: by its position (the router's order) when `hint` is right, else
    /// by the id's allocation (the router's ids are shared), else by the id's text.
    fn model(&self, id: &ModelId, hint: Option<usize>) -> Option<&ModelSeries> {
        if let Some(s) = hint.and_then(|i| self.models.get(i))
            && s.id.same_arc(id)
        {
            return Some(s);
        }
        if let Some(s) = self.models.iter().find(|s| s.id.same_arc(id)) {
            return Some(s);
        }
        self.by_id.get(id.as_str()).map(|&i| &self.models[i])
    }

    /// Runs `f` on a model's series (a throwaway one, registered now, for an unknown model).
    fn with_model(&self, system: &str, id: &ModelId, hint: Option<usize>, f: impl FnOnce(&ModelSeries)) {
        match self.model(id, hint) {
            Some(s) => f(s),
            None => f(&ModelSeries::new(system, id.clone())),
        }
    }

    /// Records one routing decision: its policy, task kind and chosen model (`none` when no
    /// model was eligible), and each rejected candidate's reason. Call it with the decision
    /// [`Router::route_into`](crate::Router::route_into) filled, whether or not it routed.
    pub fn decision(&self, d: &Decision) {
        let kind = d.task_kind.as_ref();
        match d.ranking.first() {
            Some(&i) => {
                let c = &d.candidates[i as usize];
                self.with_model("", &c.model, Some(i as usize), |s| s.decision(&d.policy, kind));
            }
            None => self.none.decision(&d.policy, kind),
        }
        for (i, c) in d.candidates.iter().enumerate() {
            if let Verdict::Rejected(r) = &c.verdict {
                self.with_model("", &c.model, Some(i), |s| s.rejection(r));
            }
        }
    }

    /// Records one provider call: the attempt counter, its duration, time to first chunk,
    /// tokens and cost.
    pub fn attempt(&self, a: &Attempt<'_>) {
        self.with_model(a.system, a.request_model, None, |s| s.attempt(a));
    }

    /// Records the time to the first streamed chunk of a call of `model` (on `system`).
    pub fn time_to_first_chunk(&self, system: &str, model: &ModelId, ttfc: Duration) {
        self.with_model(system, model, None, |s| s.time_to_first_chunk(ttfc));
    }

    /// Records spend settled against a budget (`scope`: `global`, `tenant` or `key`; `name`:
    /// the tenant or key id, empty for the global budget). Past [`MAX_BUDGET_NAMES`] names in
    /// a scope, the rest are recorded under `other`; an unknown scope is not recorded.
    pub fn spend(&self, scope: &str, name: &str, usd: f64) {
        if let Some(i) = SCOPES.iter().position(|s| *s == scope) {
            self.spend[i].record(SCOPES[i], name, usd);
        }
    }
}

/// What the routed client records at its call sites (one line each there).
#[cfg(feature = "runtime")]
impl Metrics {
    /// A call that answered, and what it cost against each budget scope of the request.
    pub(crate) fn succeeded(
        &self,
        model: &ModelSpec,
        latency: Duration,
        usage: &crate::provider::Usage,
        cost_usd: f64,
        scopes: &[crate::runtime::BudgetScope],
    ) {
        self.attempt(
            &Attempt::success(&model.provider, &model.id, latency)
                .with_tokens(Tokens::new(
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cached_input_tokens,
                ))
                .with_cost_usd(cost_usd),
        );
        self.spent(scopes, cost_usd);
    }

    /// A call that failed (`None`: cut by the request's deadline), and what it was charged.
    pub(crate) fn failed(
        &self,
        model: &ModelSpec,
        latency: Duration,
        kind: Option<crate::provider::ErrorKind>,
        cost_usd: f64,
        scopes: &[crate::runtime::BudgetScope],
    ) {
        let code = kind.map_or("deadline_exceeded", super::error_type);
        self.attempt(&Attempt::failure(&model.provider, &model.id, latency, code).with_cost_usd(cost_usd));
        if cost_usd > 0.0 {
            self.spent(scopes, cost_usd);
        }
    }

    /// A call of `model` refused: none of its deployments had capacity.
    pub(crate) fn capacity_refused(&self, model: &ModelSpec) {
        self.with_model(&model.provider, &model.id, None, |s| {
            s.capacity_refusals
                .get_or_init(|| counter!(names::CAPACITY_REFUSALS, s.base()[1..].iter()))
                .increment(1);
        });
    }

    /// A request waited `waited` in line for capacity on one of `model`'s deployments.
    pub(crate) fn capacity_waited(&self, model: &ModelSpec, waited: Duration) {
        self.with_model(&model.provider, &model.id, None, |s| {
            s.capacity_wait
                .get_or_init(|| histogram!(names::CAPACITY_WAIT, s.base()[1..].iter()))
                .record(waited.as_secs_f64());
        });
    }

    fn spent(&self, scopes: &[crate::runtime::BudgetScope], usd: f64) {
        for s in scopes {
            let (scope, name) = super::scope_labels(s);
            self.spend(scope, name, usd);
        }
    }
}
