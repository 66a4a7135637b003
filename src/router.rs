//! The [`Router`]: runs filter → estimate → score → rank for one task.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::Error;
use crate::date::Date;
use crate::decision::{Candidate, Decision, Verdict};
use crate::estimate::{
    LatencyEstimator, OutputEstimator, PreparedLatency, PreparedQuality, PriorQuality, ProfileLatency,
    QualityEstimator,
};
use crate::filter::{Constraints, Filter, Health, TaskView};
use crate::model::{Model, ModelId, ModelSpec};
use crate::pass::{Pass, ScoreEach};
use crate::policy::Policy;
use crate::rank;
use crate::score::CostFirst;
use crate::table::ModelTable;
use crate::task::Task;

/// Routes tasks to models. Immutable once built, `Send + Sync`, cheap to clone (every part is
/// behind an `Arc`): one router serves every thread.
#[derive(Clone)]
pub struct Router {
    models: Arc<[ModelSpec]>,
    policy: Arc<dyn Policy>,
    quality: Arc<dyn QualityEstimator>,
    /// What `quality.prepare(models)` returned: asked instead of `quality` when present.
    prepared_quality: Option<Arc<dyn PreparedQuality>>,
    latency: Arc<dyn LatencyEstimator>,
    /// What `latency.prepare(models)` returned: asked instead of `latency` when present.
    prepared_latency: Option<Arc<dyn PreparedLatency>>,
    /// Per-model output tokens for the cost estimate ([`RouterBuilder::output_estimator`]).
    output: Option<Arc<dyn OutputEstimator>>,
    constraints: Arc<Constraints>,
    health: Option<Arc<dyn Health>>,
    filters: Arc<[Arc<dyn Filter>]>,
    /// The numbers the filter and estimate stages read, one compact row per model.
    table: Arc<ModelTable>,
    /// How many scored candidates the rank stage orders (see [`RouterBuilder::ranking_depth`]).
    depth: usize,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("models", &self.models.iter().map(|m| &m.id).collect::<Vec<_>>())
            .field("policy", &self.policy.name())
            .field("quality", &self.quality.name())
            .field("constraints", &self.constraints)
            .field("health", &self.health.is_some())
            .field("output_estimator", &self.output.is_some())
            .field("filters", &self.filters.len())
            .field("ranking_depth", &self.depth)
            .finish()
    }
}

impl Router {
    /// The default [ranking depth](RouterBuilder::ranking_depth): the primary and 7 fallbacks.
    pub const DEFAULT_RANKING_DEPTH: usize = 8;

    /// How many scored candidates each decision ranks (see
    /// [`RouterBuilder::ranking_depth`]).
    pub fn ranking_depth(&self) -> usize {
        self.depth
    }

    /// A builder.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The models, in catalog order.
    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    /// The model with this id.
    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id.as_str() == id)
    }

    /// The policy.
    pub fn policy(&self) -> &dyn Policy {
        &*self.policy
    }

    /// A copy of this router with another policy (the models and estimators are shared).
    pub fn with_policy(&self, policy: impl Policy + 'static) -> Router {
        Router {
            policy: Arc::new(policy),
            ..self.clone()
        }
    }

    /// A copy of this router with another quality estimator.
    pub fn with_quality_estimator(&self, quality: impl QualityEstimator + 'static) -> Router {
        Router {
            prepared_quality: quality.prepare(&self.models).map(Arc::from),
            quality: Arc::new(quality),
            ..self.clone()
        }
    }

    /// A copy of this router with another health hook.
    pub fn with_health(&self, health: impl Health + 'static) -> Router {
        Router {
            health: Some(Arc::new(health)),
            ..self.clone()
        }
    }

    /// Routes a task.
    ///
    /// Allocates the [`Decision`]'s two vectors (candidates and ranking) and nothing else, with a
    /// ranking depth of at most 16 and up to 1,024 models (see
    /// [`route_into`](Self::route_into) to allocate nothing).
    ///
    /// # Errors
    /// [`Error::NoEligibleModel`] listing every candidate and why it was rejected.
    pub fn route(&self, task: &dyn Task) -> Result<Decision, Error> {
        let mut d = Decision::new();
        self.route_into(task, &mut d)?;
        Ok(d)
    }

    /// Routes a task into `out`, reusing its buffers: once `out` has held a decision over this
    /// router's models, routing with the built-in policies and estimators allocates nothing.
    ///
    /// The estimators' answers and the expected costs are kept on the stack for routers of up
    /// to 1,024 models (32 bytes a model, at most 32 KiB; more models use buffers in `out`).
    ///
    /// # Errors
    /// [`Error::NoEligibleModel`] listing every candidate and why it was rejected; `out` still
    /// holds the full decision.
    pub fn route_into(&self, task: &dyn Task, out: &mut Decision) -> Result<(), Error> {
        // `decide` inlined here, the one entry point the default policy's decisions take: a
        // call, its register saves and argument moves less per decision.
        let policy = &*self.policy;
        self.decide_inline(task, Some(policy), out);
        Self::conclude(task, policy, out)
    }

    /// Routes a task with another policy (sweeps and evaluations), reusing `out`'s buffers.
    ///
    /// # Errors
    /// As [`route_into`](Self::route_into).
    pub fn route_with(&self, task: &dyn Task, policy: &dyn Policy, out: &mut Decision) -> Result<(), Error> {
        self.decide(task, Some(policy), out);
        Self::conclude(task, policy, out)
    }

    /// Names the policy in `out`, and fails when it ranks no candidate.
    #[inline(always)]
    fn conclude(task: &dyn Task, policy: &dyn Policy, out: &mut Decision) -> Result<(), Error> {
        out.policy = policy.name();
        if out.ranking.is_empty() {
            return Err(Self::no_eligible_model(task, out));
        }
        Ok(())
    }

    /// The error of a decision that ranks no candidate.
    #[cold]
    #[inline(never)]
    fn no_eligible_model(task: &dyn Task, out: &Decision) -> Error {
        Error::NoEligibleModel {
            task_kind: task.kind().clone(),
            rejections: out.rejected().map(|(m, r)| (m.clone(), r.clone())).collect(),
        }
    }

    /// Makes `out`'s candidates one entry per model, in order, each naming its model: the pass
    /// then overwrites the rest in place. A decision this router filled last already is (the
    /// common case of a reused decision: nothing to read); one of the same size has each entry
    /// naming another model renamed (no id clones, no moves otherwise); any other starts afresh.
    #[inline(always)]
    fn name_models(&self, out: &mut Decision) {
        if out
            .filled_by
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(t, &self.table))
        {
            return;
        }
        self.rename_models(out);
    }

    /// [`name_models`](Self::name_models) for a decision this router did not fill last.
    #[cold]
    #[inline(never)]
    fn rename_models(&self, out: &mut Decision) {
        let ids = self.table.ids();
        if out.candidates.len() == ids.len() {
            for (c, id) in out.candidates.iter_mut().zip(ids) {
                if !c.model.same_arc(id) {
                    c.model = id.clone();
                }
            }
        } else {
            out.candidates.clear();
            out.candidates.reserve(ids.len());
            out.candidates.extend(ids.iter().map(|id| Candidate {
                model: id.clone(),
                estimate: None,
                verdict: Verdict::Pending,
                rank: None,
            }));
        }
        out.filled_by = Some(Arc::clone(&self.table));
    }

    /// Runs the filter and estimate stages only: every candidate ends [`Verdict::Pending`]
    /// with its estimate, or rejected with its reason.
    pub fn evaluate_candidates(&self, task: &dyn Task, out: &mut Decision) {
        self.decide(task, None, out);
    }

    /// Runs the pipeline into `out`: the filter and estimate stages, then, with a policy, the
    /// score and rank stages.
    #[inline(never)]
    fn decide(&self, task: &dyn Task, policy: Option<&dyn Policy>, out: &mut Decision) {
        self.decide_inline(task, policy, out);
    }

    /// [`decide`](Self::decide), inlined into [`route_into`](Self::route_into).
    #[inline(always)]
    fn decide_inline(&self, task: &dyn Task, policy: Option<&dyn Policy>, out: &mut Decision) {
        let n = self.models.len();
        out.ranking.clear();
        // Room for the whole ranking up front, so a decision warmed up on any task never grows
        // (the ranking of a task most models can serve is longer than one few can serve).
        out.ranking.reserve(n.min(self.depth));
        if self.depth > rank::SMALL_DEPTH && n > rank::FEW {
            out.scratch_rank.reserve(n);
        }
        out.task_kind = Some(task.kind().clone());
        self.name_models(out);
        // The estimators' answers and the costs for every model go to buffers on the stack (up
        // to 1,024 models: 32 KiB), else to the decision's own.
        match n {
            0..=16 => self.decide_on_stack::<16>(task, policy, out),
            17..=64 => self.decide_on_big_stack::<64>(task, policy, out),
            65..=256 => self.decide_on_big_stack::<256>(task, policy, out),
            257..=1024 => self.decide_on_big_stack::<1024>(task, policy, out),
            _ => {
                let (mut quality, mut latency, mut cost) = std::mem::take(&mut out.scratch_estimates);
                let view = TaskView::of(task);
                latency.clear();
                latency.resize(n, f64::INFINITY);
                cost.clear();
                cost.resize(n, 0.0);
                self.table
                    .costs(&self.models, (view.input, view.cached, view.output), &mut cost);
                match self.quality_column(task) {
                    Some(column) => {
                        self.decide_with(task, view, policy, out, column, &mut latency, &mut cost)
                    }
                    None => {
                        quality.clear();
                        quality.resize(n, None);
                        self.estimate_quality(task, &mut quality);
                        self.decide_with(task, view, policy, out, &quality, &mut latency, &mut cost);
                    }
                }
                out.scratch_estimates = (quality, latency, cost);
            }
        }
    }

    /// [`decide_on_stack`](Self::decide_on_stack) in a frame of its own: inlined, the largest
    /// buffers made every decision's frame 32 KiB, and each decision touched (probed) its 8
    /// pages, 16 candidates or 1,024.
    #[inline(never)]
    fn decide_on_big_stack<const N: usize>(
        &self,
        task: &dyn Task,
        policy: Option<&dyn Policy>,
        out: &mut Decision,
    ) {
        self.decide_on_stack::<N>(task, policy, out);
    }

    #[inline(always)]
    fn decide_on_stack<const N: usize>(
        &self,
        task: &dyn Task,
        policy: Option<&dyn Policy>,
        out: &mut Decision,
    ) {
        let n = self.models.len();
        // The task's numbers, read once rather than once per candidate.
        let view = TaskView::of(task);
        let mut latency = [f64::INFINITY; N];
        // The costs from the table's rate columns. (Made whole with `array::from_fn` above 256
        // models instead, the column took fewer instructions, no 8 KiB `rep stosb`, but more
        // time: the made array is copied, and the frame grows by 8 KiB; docs/performance.md,
        // round 12.)
        let mut cost = [0.0; N];
        self.table.costs(
            &self.models,
            (view.input, view.cached, view.output),
            &mut cost[..n],
        );
        let (latency, cost) = (&mut latency[..n], &mut cost[..n]);
        if let Some(column) = self.quality_column(task) {
            return self.decide_with(task, view, policy, out, column, latency, cost);
        }
        let mut quality = [None; N];
        self.estimate_quality(task, &mut quality[..n]);
        self.decide_with(task, view, policy, out, &quality[..n], latency, cost);
    }

    /// Re-prices each model the output estimator predicts an output length for on that length
    /// instead of the task's (answers on the stack for up to 64 models, else in `scratch`, which
    /// a reused decision keeps).
    fn price_predicted_outputs(
        &self,
        o: &dyn OutputEstimator,
        task: &dyn Task,
        view: &TaskView,
        cost: &mut [f64],
        scratch: &mut Vec<Option<u32>>,
    ) {
        const ON_STACK: usize = 64;
        let n = self.models.len();
        let mut stack = [None; ON_STACK];
        let tokens = if n <= ON_STACK {
            &mut stack[..n]
        } else {
            scratch.resize(n, None);
            &mut scratch[..]
        };
        o.output_tokens_all(task, &self.models, tokens);
        for ((c, t), m) in cost.iter_mut().zip(tokens.iter()).zip(self.models.iter()) {
            if let Some(t) = t {
                *c = m.prices.cost_usd(view.input, view.cached, *t);
            }
        }
    }

    /// The prepared quality estimator's column for `task`, when it holds one of the right
    /// length.
    fn quality_column(&self, task: &dyn Task) -> Option<&[Option<f64>]> {
        let column = self.prepared_quality.as_deref()?.column(task)?;
        (column.len() == self.models.len()).then_some(column)
    }

    /// Asks the quality estimator about every model at once, from its prepared state if it has
    /// one.
    fn estimate_quality(&self, task: &dyn Task, out: &mut [Option<f64>]) {
        match &self.prepared_quality {
            Some(p) => p.estimate_all(task, &self.models, out),
            None => self.quality.estimate_all(task, &self.models, out),
        }
    }

    /// The pipeline, with the task's numbers `view`, the estimators' `quality` answers,
    /// `latency` (one entry per model) to hold the latency estimates and `cost` holding the
    /// expected costs at the flat rates (the output estimator's lengths re-price some).
    ///
    /// Inlined into each stack size's frame: as a call it took ten arguments and saved and
    /// spilled most registers, about 55 instructions a decision (docs/performance.md, round 10).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // inlined: the arguments are the frame's locals
    fn decide_with(
        &self,
        task: &dyn Task,
        view: TaskView<'_>,
        policy: Option<&dyn Policy>,
        out: &mut Decision,
        quality: &[Option<f64>],
        latency: &mut [f64],
        cost: &mut [f64],
    ) {
        // The latency estimator answers for every model at once, from its prepared state if it
        // has one; the costs come from the table's rate columns.
        let models = &self.models[..];
        match &self.prepared_latency {
            Some(p) => p.latency_all(task, models, latency),
            None => self.latency.latency_all(task, models, latency),
        }
        if let Some(o) = &self.output {
            self.price_predicted_outputs(&**o, task, &view, cost, &mut out.scratch_outputs);
        }
        let pass = Pass {
            task,
            view,
            models,
            table: &self.table,
            constraints: &self.constraints,
            health: self.health.as_deref(),
            filters: &self.filters,
            quality,
            latency,
            cost,
            rejected: Cell::new(false),
            scored: Cell::new(false),
        };
        // The pass writes each verdict without reading the one it replaces, so none may own
        // memory: the last decision's rejections are dropped first. The note stays set until
        // the pass ends: a filter, a scorer or a policy that panics part-way leaves it set.
        if out.may_hold_rejections {
            drop_rejections(&mut out.candidates);
        }
        out.may_hold_rejections = true;
        let Some(policy) = policy else {
            pass.run(&mut out.candidates, |_, _, v| v.set_unrejected(Verdict::Pending));
            out.may_hold_rejections = pass.rejected.get();
            return;
        };
        let each = ScoreEach {
            pass: &pass,
            candidates: &mut out.candidates,
            ranking: &mut out.ranking,
            scratch: &mut out.scratch_rank,
            depth: self.depth,
        };
        // `Some` counts only when `score_with` ran for this decision (not a proof kept from
        // another one).
        if policy.score_each(each).is_some() && pass.scored.get() {
            out.may_hold_rejections = pass.rejected.get();
        } else {
            // A policy may have run the pass (`score_with`) and still answered `None` (or
            // answered with a kept proof): the rejections that run wrote are dropped before
            // the pass runs again.
            if pass.rejected.get() {
                drop_rejections(&mut out.candidates);
            }
            pass.run(&mut out.candidates, |_, _, v| v.set_unrejected(Verdict::Pending));
            // The policy may change any entry, its model too: the next decision names them again
            // (and the policy and the rank stage may reject: the note stays set).
            out.filled_by = None;
            policy.rank(task, &mut out.candidates);
            rank::rank(
                &mut out.candidates,
                &mut out.ranking,
                &mut out.scratch_rank,
                self.depth,
            );
        }
    }
}

/// Sets every rejected candidate pending, dropping what its rejection owns. Out of line, so
/// that the pass's set-up stays small; not cold, as a real catalog rejects some candidates on
/// most decisions (as `benches/route.rs`'s does on every one).
#[inline(never)]
fn drop_rejections(candidates: &mut [Candidate]) {
    for c in candidates {
        if let Verdict::Rejected(_) = c.verdict {
            c.verdict = Verdict::Pending;
        }
    }
}

/// Builds a [`Router`]; [`build`](RouterBuilder::build) checks every model and setting.
#[derive(Default)]
pub struct RouterBuilder {
    models: Vec<ModelSpec>,
    policy: Option<Arc<dyn Policy>>,
    quality: Option<Arc<dyn QualityEstimator>>,
    latency: Option<Arc<dyn LatencyEstimator>>,
    output: Option<Arc<dyn OutputEstimator>>,
    constraints: Constraints,
    health: Option<Arc<dyn Health>>,
    filters: Vec<Arc<dyn Filter>>,
    depth: Option<usize>,
}

impl fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("models", &self.models.len())
            .field("constraints", &self.constraints)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// Adds a model (any [`Model`]; a snapshot is taken).
    pub fn model<M: Model>(mut self, model: M) -> Self {
        self.models.push(ModelSpec::from_model(&model));
        self
    }

    /// Adds a [`ModelSpec`] as it is (keeps `api_name`, `source`, `as_of`).
    pub fn model_spec(mut self, model: ModelSpec) -> Self {
        self.models.push(model);
        self
    }

    /// Adds many models.
    pub fn models<I: IntoIterator<Item = ModelSpec>>(mut self, models: I) -> Self {
        self.models.extend(models);
        self
    }

    /// Sets the policy (default: [`CostFirst`] with floor 0.7).
    pub fn policy(mut self, policy: impl Policy + 'static) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Sets the policy from a shared one.
    pub fn shared_policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sets the quality estimator (default: [`PriorQuality`]).
    pub fn quality_estimator(mut self, q: impl QualityEstimator + 'static) -> Self {
        self.quality = Some(Arc::new(q));
        self
    }

    /// Sets the quality estimator from a shared one.
    pub fn shared_quality_estimator(mut self, q: Arc<dyn QualityEstimator>) -> Self {
        self.quality = Some(q);
        self
    }

    /// Sets the latency estimator (default: [`ProfileLatency`]).
    pub fn latency_estimator(mut self, l: impl LatencyEstimator + 'static) -> Self {
        self.latency = Some(Arc::new(l));
        self
    }

    /// Sets the latency estimator from a shared one.
    pub fn shared_latency_estimator(mut self, l: Arc<dyn LatencyEstimator>) -> Self {
        self.latency = Some(l);
        self
    }

    /// Sets an estimator of each model's output tokens, used for the cost estimate (default:
    /// none, every model's cost uses the task's [`output_tokens`](Task::output_tokens)).
    pub fn output_estimator(mut self, o: impl OutputEstimator + 'static) -> Self {
        self.output = Some(Arc::new(o));
        self
    }

    /// Sets the output estimator from a shared one.
    pub fn shared_output_estimator(mut self, o: Arc<dyn OutputEstimator>) -> Self {
        self.output = Some(o);
        self
    }

    /// Only these models may be chosen.
    pub fn allow<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<ModelId>,
    {
        self.constraints.allow = Some(ids.into_iter().map(Into::into).collect::<BTreeSet<_>>());
        self
    }

    /// These models are never chosen.
    pub fn deny<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<ModelId>,
    {
        self.constraints.deny.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Caps the input price (USD per million tokens).
    pub fn max_input_price(mut self, usd_per_mtok: f64) -> Self {
        self.constraints.max_input_price = Some(usd_per_mtok);
        self
    }

    /// Caps the output price (USD per million tokens).
    pub fn max_output_price(mut self, usd_per_mtok: f64) -> Self {
        self.constraints.max_output_price = Some(usd_per_mtok);
        self
    }

    /// Rejects models retired on or before `today` ([`Rejection::Retired`](crate::Rejection::Retired)).
    /// The router reads no clock: pass today's date
    /// (`Date::from_system_time(SystemTime::now())`), and rebuild the router to move it on.
    pub fn exclude_retired(mut self, today: Date) -> Self {
        self.constraints.retired_by = Some(today);
        self
    }

    /// Sets the health hook (e.g. circuit breakers).
    pub fn health(mut self, health: impl Health + 'static) -> Self {
        self.health = Some(Arc::new(health));
        self
    }

    /// Sets the health hook from a shared one.
    pub fn shared_health(mut self, health: Arc<dyn Health>) -> Self {
        self.health = Some(health);
        self
    }

    /// How many scored candidates each decision ranks: the primary and `depth - 1` fallbacks
    /// (default [`Router::DEFAULT_RANKING_DEPTH`], 8; `usize::MAX` ranks them all).
    ///
    /// The other scored candidates stay in the [`Decision`] with their estimate and score,
    /// unranked ([`Decision::unranked`]); [`Decision::rank_all`] puts them in order after the
    /// ranked ones when a caller needs every fallback (the runtime does). Ranking only the
    /// best few makes a decision over many models cheaper: with a depth of at most 16 the rank
    /// stage keeps them on the stack and allocates nothing.
    pub fn ranking_depth(mut self, depth: usize) -> Self {
        self.depth = Some(depth);
        self
    }

    /// Adds a filter of your own.
    pub fn filter(mut self, f: impl Filter + 'static) -> Self {
        self.filters.push(Arc::new(f));
        self
    }

    /// Checks everything and builds the router.
    ///
    /// # Errors
    /// [`Error::NoModels`] without models; [`Error::DuplicateModel`] when two share an id;
    /// [`Error::InvalidValue`] naming a bad number (a model's price, a price cap);
    /// [`Error::UnknownModel`] when an allow or deny list names a model the router lacks;
    /// [`Error::InvalidValue`] for a ranking depth of 0.
    pub fn build(self) -> Result<Router, Error> {
        if self.models.is_empty() {
            return Err(Error::NoModels);
        }
        let depth = self.depth.unwrap_or(Router::DEFAULT_RANKING_DEPTH);
        if depth == 0 {
            return Err(Error::InvalidValue {
                field: "ranking_depth".to_owned(),
                value: "0".to_owned(),
                expected: "a depth of at least 1",
            });
        }
        let mut seen = BTreeSet::new();
        for m in &self.models {
            m.validate()?;
            if !seen.insert(m.id.clone()) {
                return Err(Error::DuplicateModel { id: m.id.clone() });
            }
        }
        let listed = self
            .constraints
            .allow
            .iter()
            .flatten()
            .chain(self.constraints.deny.iter());
        for id in listed {
            if !seen.contains(id) {
                return Err(Error::UnknownModel { id: id.clone() });
            }
        }
        for (field, v) in [
            ("max_input_price", self.constraints.max_input_price),
            ("max_output_price", self.constraints.max_output_price),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(Error::InvalidValue {
                    field: field.to_owned(),
                    value: v.to_string(),
                    expected: "a finite price >= 0",
                });
            }
        }
        let policy = match self.policy {
            Some(p) => p,
            None => Arc::new(CostFirst::new(0.7)?),
        };
        // No estimator set means the built-in ones.
        let quality = self.quality.unwrap_or_else(|| Arc::new(PriorQuality));
        let latency = self
            .latency
            .unwrap_or_else(|| Arc::new(ProfileLatency::default()));
        let table = ModelTable::new(
            &self.models,
            self.constraints.allow.as_ref(),
            &self.constraints.deny,
            self.constraints.retired_by,
            (
                self.constraints.max_input_price,
                self.constraints.max_output_price,
            ),
        );
        let prepared_quality = quality.prepare(&self.models).map(Arc::from);
        let prepared_latency = latency.prepare(&self.models).map(Arc::from);
        Ok(Router {
            models: self.models.into(),
            policy,
            quality,
            prepared_quality,
            latency,
            prepared_latency,
            output: self.output,
            constraints: Arc::new(self.constraints),
            health: self.health,
            filters: self.filters.into(),
            table: Arc::new(table),
            depth,
        })
    }
}

#[cfg(test)]
mod tests;
