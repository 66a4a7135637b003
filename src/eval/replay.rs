//! Replay: run any [`Policy`] through the real [`Router`] over every prompt of an [`Outcomes`]
//! table and report what it would have achieved and cost.
//!
//! Each prompt becomes a [`ReplayTask`] (kind, token estimates, text). The candidates are the
//! table's models as [`ModelSpec`]s: prices from a [`PriceTable`] where it has the model, else
//! derived from the model's mean recorded cost (input and output both priced at
//! `mean cost / mean (input + output) tokens`). The quality estimator is any
//! [`QualityEstimator`]; [`StaticQuality`](super::StaticQuality) (mean quality per task kind or label and model, fitted
//! on a training split) ships with the crate.
//!
//! The router's filter and estimate stages run once per prompt ([`Router::evaluate_candidates`]);
//! each policy run then resets the verdicts and runs the policy's own
//! [`rank`](Policy::rank) and the router's rank stage, exactly as
//! [`Router::route_with`] does, so sweeps cost one policy call per prompt and knob value.
//! [`Replay::run_routed`] calls [`Router::route_with`] itself and gives the same choices (tested).
//!
//! The chosen model's *recorded* quality and cost are what a run reports. A prompt no model is
//! eligible for (every candidate above a quality-first ceiling, say) is *unrouted*: it counts
//! as quality 0 and cost 0, and the share of such prompts is reported.

use std::collections::HashMap;
use std::sync::Arc;

use derive_setters::Setters;
use serde::Serialize;

use super::EvalError;
use super::data::{Outcomes, PriceTable};
use super::metrics::Point;
use super::static_quality::KindSource;
use crate::decision::{Candidate, Decision};
use crate::estimate::{OutputEstimator, PriorQuality, QualityEstimator};
use crate::model::{ModelId, ModelSpec, Prices};
use crate::policy::Policy;
use crate::router::Router;
use crate::task::{Task, TaskKind};

/// Context window given to replayed models: large enough that no recorded prompt is filtered.
const REPLAY_CONTEXT_WINDOW: u32 = 100_000_000;

/// One prompt of an outcome table seen as a [`Task`].
#[derive(Clone, Copy, Debug)]
pub struct ReplayTask<'a> {
    data: &'a Outcomes,
    prompt: usize,
    kind: &'a TaskKind,
    output_tokens: u32,
}

impl ReplayTask<'_> {
    /// The prompt's index in the table.
    pub fn prompt(&self) -> usize {
        self.prompt
    }
}

impl Task for ReplayTask<'_> {
    fn kind(&self) -> &TaskKind {
        self.kind
    }
    fn input_tokens(&self) -> u32 {
        self.data.input_tokens(self.prompt)
    }
    fn output_tokens(&self) -> u32 {
        self.output_tokens
    }
    fn text(&self) -> Option<&str> {
        self.data.text(self.prompt)
    }
}

/// What one policy run achieved.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// The policy's (or baseline's) name.
    pub policy: String,
    /// The knob value, for sweep points.
    pub knob: Option<f64>,
    /// Mean recorded quality of the chosen models (unrouted prompts count 0).
    pub quality: f64,
    /// Mean recorded cost in USD per prompt (unrouted prompts count 0).
    pub cost: f64,
    /// Share of prompts routed to each model, in the table's model order.
    pub share: Vec<f64>,
    /// Share of prompts no model was eligible for.
    pub unrouted: f64,
}

impl Summary {
    /// The run's operating point.
    pub fn point(&self) -> Point {
        Point::new(self.cost, self.quality)
    }

    pub(super) fn from_choices(
        policy: String,
        knob: Option<f64>,
        data: &Outcomes,
        choices: &[Option<usize>],
    ) -> Self {
        let n = choices.len().max(1) as f64;
        let mut share = vec![0.0; data.models().len()];
        let (mut q, mut c, mut un) = (0.0, 0.0, 0.0);
        for (p, ch) in choices.iter().enumerate() {
            match *ch {
                Some(j) => {
                    q += data.quality(p, j);
                    c += data.cost(p, j);
                    share[j] += 1.0;
                }
                None => un += 1.0,
            }
        }
        share.iter_mut().for_each(|s| *s /= n);
        Summary {
            policy,
            knob,
            quality: q / n,
            cost: c / n,
            share,
            unrouted: un / n,
        }
    }
}

/// Builds a [`Replay`].
#[derive(Clone, Default, Setters)]
#[setters(generate = false)]
pub struct ReplayBuilder {
    /// Prices for the candidate models (else derived from recorded costs).
    #[setters(generate, strip_option)]
    prices: Option<PriceTable>,
    /// The quality estimator, shared.
    #[setters(generate, strip_option, rename = "shared_estimator")]
    estimator: Option<Arc<dyn QualityEstimator>>,
    /// Each model's output tokens for the router's cost estimate (default: none, every model
    /// priced on the task's output tokens; see [`RouterBuilder::output_estimator`](crate::RouterBuilder::output_estimator)).
    #[setters(generate, strip_option, rename = "shared_output_estimator")]
    output: Option<Arc<dyn OutputEstimator>>,
    /// Which kind replayed tasks carry (default [`KindSource::Kind`]).
    #[setters(generate)]
    kinds: KindSource,
    output_tokens_from: Option<Outcomes>,
}

impl std::fmt::Debug for ReplayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayBuilder")
            .field("prices", &self.prices.as_ref().map(PriceTable::len))
            .field("estimator", &self.estimator.as_ref().map(|e| e.name().to_owned()))
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl ReplayBuilder {
    /// The quality estimator (default: [`PriorQuality`] over the models' priors, which replayed
    /// models do not have: set one).
    pub fn estimator(mut self, e: impl QualityEstimator + 'static) -> Self {
        self.estimator = Some(Arc::new(e));
        self
    }

    /// Estimates each label's expected output tokens from `train` (by inverting recorded costs
    /// with the candidates' prices; see [`Replay::output_tokens`]); default: the kind's typical
    /// output.
    pub fn output_tokens_from(mut self, train: &Outcomes) -> Self {
        self.output_tokens_from = Some(train.clone());
        self
    }

    /// Builds the replay over `data` (usually a test split).
    ///
    /// # Errors
    /// [`EvalError::Router`] when the router refuses the derived models (a NaN price).
    pub fn build(self, data: &Outcomes) -> Result<Replay, EvalError> {
        let models = candidate_models(data, self.prices.as_ref())?;
        let mut builder = Router::builder().models(models.clone());
        if let Some(e) = &self.estimator {
            builder = builder.shared_quality_estimator(e.clone());
        } else {
            builder = builder.quality_estimator(PriorQuality);
        }
        if let Some(o) = &self.output {
            builder = builder.shared_output_estimator(o.clone());
        }
        let router = builder.build()?;
        let per_label = self
            .output_tokens_from
            .as_ref()
            .map(|train| output_tokens_per_label(train, &models));
        let kinds: Vec<TaskKind> = (0..data.prompts()).map(|p| self.kinds.kind_of(data, p)).collect();
        let output_tokens: Vec<u32> = (0..data.prompts())
            .map(|p| {
                per_label
                    .as_ref()
                    .and_then(|m| m.get(data.label(p)).copied())
                    .unwrap_or_else(|| data.kind(p).typical_output_tokens())
            })
            .collect();
        let mut replay = Replay {
            data: data.clone(),
            router,
            kinds,
            output_tokens,
            prepared: Vec::new(),
        };
        let mut d = Decision::new();
        let mut prepared = Vec::with_capacity(data.prompts());
        for p in 0..data.prompts() {
            replay.router.evaluate_candidates(&replay.task(p), &mut d);
            prepared.push(d.candidates.clone());
        }
        replay.prepared = prepared;
        Ok(replay)
    }
}

/// Candidate models for a table: prices from `prices` where known, else derived from the mean
/// recorded cost (both prices `= mean cost / mean (input + typical output) tokens` per million).
fn candidate_models(data: &Outcomes, prices: Option<&PriceTable>) -> Result<Vec<ModelSpec>, EvalError> {
    let n = data.prompts().max(1) as f64;
    let mean_tokens = (0..data.prompts())
        .map(|p| f64::from(data.input_tokens(p)) + f64::from(data.kind(p).typical_output_tokens()))
        .sum::<f64>()
        / n;
    data.models()
        .iter()
        .enumerate()
        .map(|(j, id)| {
            let (p, source) = match prices.and_then(|t| t.get(id.as_str())) {
                Some(p) => (p, "price table"),
                None => {
                    let per_mtok = data.mean_cost(j) / mean_tokens.max(1.0) * 1e6;
                    (Prices::new(per_mtok, per_mtok), "derived from mean recorded cost")
                }
            };
            let mut m = ModelSpec::new(id.clone(), "replay", p, REPLAY_CONTEXT_WINDOW);
            m.source = Some(source.to_owned());
            m.validate()?;
            Ok(m)
        })
        .collect()
}

/// Mean output tokens per label implied by recorded costs: for each observation of a model with
/// a positive output price, `(cost - input_tokens * input_price) / output_price`, floored at 1.
fn output_tokens_per_label(train: &Outcomes, models: &[ModelSpec]) -> HashMap<String, u32> {
    let mut acc: HashMap<&str, (f64, f64)> = HashMap::new();
    for p in 0..train.prompts() {
        let input = f64::from(train.input_tokens(p));
        for (j, m) in models.iter().enumerate() {
            if m.prices.output <= 0.0 {
                continue;
            }
            let out = match train.output_tokens(p, j) {
                Some(t) => f64::from(t),
                None => (train.cost(p, j) * 1e6 - input * m.prices.input) / m.prices.output,
            };
            let e = acc.entry(train.label(p)).or_insert((0.0, 0.0));
            e.0 += out.max(0.0);
            e.1 += 1.0;
        }
    }
    acc.into_iter()
        .map(|(l, (s, n))| (l.to_owned(), (s / n).round().max(1.0) as u32))
        .collect()
}

/// Working memory for [`Replay::choices_with`] (see [`Replay::scratch`]).
#[derive(Clone, Debug)]
pub struct Scratch {
    candidates: Vec<Vec<Candidate>>,
    ranking: Vec<u32>,
    rank: crate::rank::RankScratch,
}

/// A prepared replay of one outcome table: see the [module docs](self).
#[derive(Clone)]
pub struct Replay {
    pub(super) data: Outcomes,
    router: Router,
    kinds: Vec<TaskKind>,
    output_tokens: Vec<u32>,
    pub(super) prepared: Vec<Vec<Candidate>>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("prompts", &self.data.prompts())
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// A builder.
    pub fn builder() -> ReplayBuilder {
        ReplayBuilder::default()
    }

    /// The table replayed.
    pub fn data(&self) -> &Outcomes {
        &self.data
    }

    /// The router (its models are the table's, in the same order).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The expected output tokens replayed prompt `p` carries.
    pub fn output_tokens(&self, p: usize) -> u32 {
        self.output_tokens[p]
    }

    /// Prompt `p` as a task.
    pub fn task(&self, p: usize) -> ReplayTask<'_> {
        ReplayTask {
            data: &self.data,
            prompt: p,
            kind: &self.kinds[p],
            output_tokens: self.output_tokens[p],
        }
    }

    /// Number of (prompt, candidate) evaluations one policy run makes.
    pub fn evaluations_per_run(&self) -> usize {
        self.data.prompts() * self.data.models().len()
    }

    /// Runs `policy` over every prompt; the chosen model's index per prompt (`None`: unrouted).
    pub fn choices(&self, policy: &dyn Policy) -> Vec<Option<usize>> {
        let mut scratch = self.scratch();
        self.choices_with(policy, &mut scratch)
    }

    /// Working memory for [`choices_with`](Self::choices_with): a copy of every prompt's
    /// estimated candidates. Make one per thread and reuse it across runs.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            candidates: self.prepared.clone(),
            ranking: Vec::with_capacity(self.data.models().len()),
            rank: crate::rank::RankScratch::default(),
        }
    }

    /// [`choices`](Self::choices) reusing `scratch`: allocates only the returned vector.
    ///
    /// Per prompt: every candidate's verdict is reset to what the filter and estimate stages
    /// gave, then the policy's [`rank`](Policy::rank) and the router's rank stage run.
    pub fn choices_with(&self, policy: &dyn Policy, scratch: &mut Scratch) -> Vec<Option<usize>> {
        let mut out = Vec::with_capacity(self.data.prompts());
        for (p, (cands, prepared)) in scratch.candidates.iter_mut().zip(&self.prepared).enumerate() {
            for (c, orig) in cands.iter_mut().zip(prepared) {
                c.verdict.clone_from(&orig.verdict);
                c.rank = None;
            }
            let task = self.task(p);
            policy.rank(&task, cands);
            // Only the primary is read: a ranking of depth 1.
            crate::rank::rank(cands, &mut scratch.ranking, &mut scratch.rank, 1);
            // Candidates are in the router's model order, which is the table's.
            out.push(scratch.ranking.first().map(|&i| i as usize));
        }
        out
    }

    /// Runs `policy` over every prompt with [`Router::route_with`] (the production path, one
    /// full routing per prompt); gives the same choices as [`choices`](Self::choices).
    ///
    /// # Errors
    /// [`EvalError::UnknownModel`] when a decision names a model the table lacks.
    pub fn run_routed(&self, policy: &dyn Policy) -> Result<Summary, EvalError> {
        let mut d = Decision::new();
        let mut choices = Vec::with_capacity(self.data.prompts());
        for p in 0..self.data.prompts() {
            choices.push(match self.router.route_with(&self.task(p), policy, &mut d) {
                Ok(()) => {
                    let id = d.primary_model().map(ModelId::as_str).unwrap_or_default();
                    Some(
                        self.data
                            .model_index(id)
                            .ok_or_else(|| EvalError::UnknownModel { model: id.to_owned() })?,
                    )
                }
                Err(crate::Error::NoEligibleModel { .. }) => None,
                Err(e) => return Err(e.into()),
            });
        }
        Ok(Summary::from_choices(
            policy.name().into_owned(),
            None,
            &self.data,
            &choices,
        ))
    }

    /// Runs `policy` over every prompt and summarises.
    pub fn run(&self, policy: &dyn Policy) -> Summary {
        self.run_with(policy, &mut self.scratch())
    }

    /// [`run`](Self::run) reusing `scratch`.
    pub fn run_with(&self, policy: &dyn Policy, scratch: &mut Scratch) -> Summary {
        let choices = self.choices_with(policy, scratch);
        Summary::from_choices(policy.name().into_owned(), None, &self.data, &choices)
    }
}

/// A policy that always picks one model (the single-model baseline run through the router).
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct Always(pub(crate) ModelId);

#[cfg(test)]
impl Policy for Always {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(format!("always {}", self.0))
    }
    fn rank(&self, _task: &dyn Task, candidates: &mut [Candidate]) {
        for c in candidates.iter_mut() {
            if matches!(c.verdict, crate::Verdict::Pending) {
                c.verdict = if c.model == self.0 {
                    crate::Verdict::Scored(crate::Score::new(1.0))
                } else {
                    crate::Verdict::Rejected(crate::Rejection::Policy {
                        detail: std::borrow::Cow::Borrowed("not the baseline's model"),
                    })
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Split;
    use crate::eval::data::tests::{routerbench, scratch, shared_data};
    use crate::eval::{Baselines, Builtin, StaticQuality, Target, metrics};
    use crate::{CostFirst, QualityFirst};

    /// cheap: right on mbpp, wrong on gsm8k; dear: always right, 10x the price.
    const TABLE: &str = "sample_id,eval_name,full_prompt_chars,score|cheap,score|dear,cost_usd|cheap,cost_usd|dear\n\
        m1,mbpp,400,1,1,0.001,0.01\n\
        m2,mbpp,400,1,1,0.001,0.01\n\
        g1,gsm8k,400,0,1,0.001,0.01\n\
        g2,gsm8k,400,0,1,0.001,0.01\n\
        g3,gsm8k,400,1,0,0.002,0.02\n";

    fn replay() -> Replay {
        let d = Outcomes::read_wide_csv(scratch("replay.csv", TABLE)).unwrap();
        let mut prices = PriceTable::new();
        prices.insert("cheap", Prices::new(1.0, 1.0));
        prices.insert("dear", Prices::new(10.0, 10.0));
        Replay::builder()
            .prices(prices)
            .estimator(StaticQuality::fit(&d, KindSource::Kind))
            .output_tokens_from(&d)
            .build(&d)
            .unwrap()
    }

    #[test]
    fn static_estimator_means_by_kind() {
        let d = Outcomes::read_wide_csv(scratch("replay-static.csv", TABLE)).unwrap();
        let s = StaticQuality::fit(&d, KindSource::Kind);
        assert_eq!(s.mean(&TaskKind::CodeGeneration, "cheap"), Some(1.0));
        assert!((s.mean(&TaskKind::Math, "cheap").unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.mean(&TaskKind::Math, "dear").unwrap() - 2.0 / 3.0).abs() < 1e-12);
        let by_label = StaticQuality::fit(&d, KindSource::Label);
        assert_eq!(by_label.mean(&TaskKind::from_name("mbpp"), "dear"), Some(1.0));
    }

    #[test]
    fn policy_runs_report_realised_quality_cost_and_shares() {
        let r = replay();
        // Floor 0.5: mbpp (cheap est. 1.0) -> cheap; gsm8k (cheap 1/3, dear 2/3) -> dear.
        let s = r.run(&CostFirst::new(0.5).unwrap());
        assert_eq!(s.share, vec![0.4, 0.6]);
        assert!((s.quality - 4.0 / 5.0).abs() < 1e-9, "{s:?}");
        assert!((s.cost - (0.002 + 0.04) / 5.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.unrouted, 0.0);
        // Same choices through the production path.
        for k in [0.0, 0.3, 0.5, 0.9, 1.0] {
            let p = CostFirst::new(k).unwrap();
            assert_eq!(r.run_routed(&p).unwrap(), r.run(&p), "floor {k}");
        }
        let q = QualityFirst::new(0.0).unwrap();
        let none = r.run(&q);
        assert_eq!((none.unrouted, none.quality, none.cost), (1.0, 0.0, 0.0));
        assert_eq!(r.run_routed(&q).unwrap(), none);
        // The single-model policy through the router equals the single-model baseline.
        let b = Baselines::compute(r.data(), 1);
        let always = r.run(&Always(ModelId::new("dear")));
        assert_eq!(
            (always.quality, always.cost),
            (b.singles[1].quality, b.singles[1].cost)
        );
    }

    #[test]
    fn baselines_by_hand() {
        let r = replay();
        let b = Baselines::compute(r.data(), 7);
        assert!((b.singles[0].quality - 0.6).abs() < 1e-9);
        assert!((b.singles[1].quality - 0.8).abs() < 1e-9);
        assert_eq!(b.best_single, 1);
        // Oracle: cheap on m1, m2, g3; dear on g1, g2. Quality 1.
        assert_eq!(b.oracle.quality, 1.0);
        assert!((b.oracle.cost - (0.001 * 2.0 + 0.002 + 0.02) / 5.0).abs() < 1e-9);
        assert_eq!(b.zero_router.len(), 2);
        assert_eq!(b.random, Baselines::compute(r.data(), 7).random);
        assert!((b.random.share.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sweeps_and_calibration() {
        let r = replay();
        let c = r.sweep_builtin(Builtin::CostFirst, 11).unwrap();
        assert_eq!(c.points.len(), 11);
        assert_eq!(c.points[0].share, vec![1.0, 0.0]); // floor 0: always cheapest
        // floor 1: cheap clears it on mbpp; on gsm8k none does and the reserve tier picks dear
        assert_eq!(c.points[10].share, vec![0.4, 0.6]);
        let shares: Vec<f64> = c.points.iter().map(|p| p.share[1]).collect();
        assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{shares:?}");
        let w = r.sweep_builtin(Builtin::Weighted, 21).unwrap();
        assert_eq!(w.points[0].knob, Some(0.0));
        assert!(w.points.last().unwrap().share[0] == 1.0);
        assert!(r.sweep("x", &[], CostFirst::new).is_err());
        assert!(r.sweep("x", &[2.0], CostFirst::new).is_err());
        let cal = r
            .calibrate(
                0.0,
                1.0,
                &Target::Share {
                    model: ModelId::new("dear"),
                    share: 0.6,
                },
                CostFirst::new,
            )
            .unwrap();
        assert_eq!(cal.achieved, 0.6);
        assert!(cal.knob > 1.0 / 3.0 && cal.knob <= 1.0, "{cal:?}");
        let unknown = Target::Share {
            model: ModelId::new("nope"),
            share: 0.5,
        };
        assert!(matches!(
            r.calibrate(0.0, 1.0, &unknown, CostFirst::new),
            Err(EvalError::UnknownModel { .. })
        ));
        let cost = r
            .calibrate(0.0, 1.0, &Target::MeanCost(0.0001), CostFirst::new)
            .unwrap();
        assert_eq!(cost.summary.share[0], 1.0);
    }

    #[test]
    fn shared_routerbench_replay_matches_the_router_and_beats_random() {
        let Some(dir) = shared_data() else { return };
        let d = routerbench(&dir);
        let split = Split::seeded(d.prompts(), 0.3, 42).unwrap();
        let (train, test) = (d.subset(&split.train), d.subset(&split.test));
        let prices = PriceTable::read_csv(dir.join("prices.csv")).unwrap();
        let r = Replay::builder()
            .prices(prices)
            .estimator(StaticQuality::fit(&train, KindSource::Kind))
            .output_tokens_from(&train)
            .build(&test)
            .unwrap();
        for which in Builtin::ALL {
            let grid = r.grid(which, 7);
            for &k in &grid {
                let p = which.policy(k).unwrap();
                assert_eq!(r.run_routed(&*p).unwrap(), r.run(&*p), "{which:?} {k}");
            }
        }
        let b = Baselines::compute(&test, 1);
        let best = b.singles[b.best_single].point();
        let cf = r.sweep_builtin(Builtin::CostFirst, 101).unwrap();
        let aiq = metrics::aiq(&cf.points(), best.cost).unwrap();
        let zero = metrics::aiq(&b.zero_router, best.cost).unwrap();
        let random = metrics::aiq(&[b.random.point()], best.cost).unwrap();
        eprintln!("cost-first AIQ {aiq:.4}, zero router {zero:.4}, random {random:.4}");
        assert!(aiq > random);
        assert!(b.oracle.quality > best.quality && b.oracle.cost < best.cost);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::eval::data::tests::scratch;
    use crate::eval::{Baselines, Builtin, StaticQuality};

    /// A random wide table: `n` prompts over two labels, `m` models.
    fn table() -> impl Strategy<Value = (usize, usize, Vec<(bool, f64, f64)>)> {
        (1usize..12, 1usize..5).prop_flat_map(|(n, m)| {
            (
                Just(n),
                Just(m),
                prop::collection::vec((any::<bool>(), 0.0f64..1.0, 0.0001f64..0.01), n * m),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn fast_replay_matches_router_route_with((n, m, cells) in table(), binary in any::<bool>(), k in 0.0f64..1.0) {
            let mut csv = String::from("sample_id,eval_name");
            for j in 0..m { csv.push_str(&format!(",score|m{j}")); }
            for j in 0..m { csv.push_str(&format!(",cost_usd|m{j}")); }
            csv.push('\n');
            for p in 0..n {
                csv.push_str(&format!("p{p},{}", if p % 2 == 0 { "mbpp" } else { "gsm8k" }));
                for j in 0..m {
                    let (b, q, _) = cells[p * m + j];
                    csv.push_str(&format!(",{}", if binary { f64::from(u8::from(b)) } else { q }));
                }
                for j in 0..m { csv.push_str(&format!(",{}", cells[p * m + j].2)); }
                csv.push('\n');
            }
            let path = scratch(&format!("prop-{}.csv", std::process::id()), &csv);
            let d = Outcomes::read_wide_csv(&path).unwrap();
            let r = Replay::builder().estimator(StaticQuality::fit(&d, KindSource::Kind)).build(&d).unwrap();
            let max_cost = r.estimated_costs().into_iter().fold(0.0, f64::max);
            for which in Builtin::ALL {
                let knob = match which {
                    Builtin::CostFirst => k,
                    Builtin::QualityFirst => k * max_cost,
                    Builtin::Weighted => k * 1000.0,
                };
                let p = which.policy(knob).unwrap();
                let fast = r.run(&*p);
                prop_assert_eq!(r.run_routed(&*p).unwrap(), fast.clone());
                prop_assert!((fast.share.iter().sum::<f64>() + fast.unrouted - 1.0).abs() < 1e-9);
            }
            let b = Baselines::compute(&d, 0);
            // The oracle is at least as good as any single model.
            prop_assert!(b.singles.iter().all(|s| s.quality <= b.oracle.quality + 1e-9));
        }
    }
}
