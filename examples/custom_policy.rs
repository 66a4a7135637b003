//! Writing your own routing logic, as a library author would:
//!
//! (a) a custom [`Scorer`]: expected quality per dollar, with a latency SLO, used through
//!     [`ScorerPolicy`];
//! (b) a [`Policy`] written from scratch over the whole candidate set: a RouteLLM-style
//!     threshold between a weak and a strong model.
//!
//! Each routes a few tasks on the built-in catalog and prints the explained decision.
//!
//! Run: `cargo run --example custom_policy`

use std::borrow::Cow;

use taskroute::{
    Candidate, Error, Estimate, ModelId, Policy, Rejection, Router, Score, Scorer, ScorerPolicy, Task,
    TaskKind, TaskSpec, Verdict,
};

#[path = "support/catalog.rs"]
mod catalog;
use catalog::builtin_catalog;

// ---------------------------------------------------------------------------------------------
// (a) A scorer: quality per dollar under a latency SLO
// ---------------------------------------------------------------------------------------------

/// Scores a candidate by expected quality per dollar; candidates expected to miss the latency
/// SLO, or below a minimum quality, are rejected with a reason the decision records.
#[derive(Debug)]
struct ValueWithinSlo {
    slo_ms: f64,
    min_quality: f64,
}

impl Scorer for ValueWithinSlo {
    fn score(&self, _task: &dyn Task, e: &Estimate) -> Result<Score, Rejection> {
        if e.latency_ms > self.slo_ms {
            // `Cow::Borrowed`: a static reason costs no allocation per decision.
            return Err(Rejection::Policy {
                detail: Cow::Borrowed("expected to miss the latency SLO"),
            });
        }
        if e.quality < self.min_quality {
            return Err(Rejection::Policy {
                detail: Cow::Borrowed("below the minimum quality"),
            });
        }
        // Quality points per dollar; the small constant keeps free models finite.
        Ok(Score::new(e.quality / (e.cost_usd + 1e-6)))
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("quality-per-dollar within SLO")
    }
}

// ---------------------------------------------------------------------------------------------
// (b) A whole-set policy: weak/strong threshold
// ---------------------------------------------------------------------------------------------

/// RouteLLM-style binary routing: send the task to the strong model when its expected quality
/// advantage over the weak model on this task is at least `threshold`, else to the weak one;
/// the other of the pair is the fallback. Every other model is ruled out.
///
/// It needs both estimates at once, so it is a [`Policy`] over the whole candidate set rather
/// than a per-candidate [`Scorer`]. Raising `threshold` sends fewer calls to the strong model
/// (RouteLLM calibrates it to a target share of strong calls).
#[derive(Debug)]
struct WeakStrongThreshold {
    weak: ModelId,
    strong: ModelId,
    threshold: f64,
}

impl Policy for WeakStrongThreshold {
    fn rank(&self, _task: &dyn Task, candidates: &mut [Candidate]) {
        // Expected quality of a pair member that passed the filters.
        let quality = |id: &ModelId, cands: &[Candidate]| {
            cands
                .iter()
                .find(|c| &c.model == id && c.verdict == Verdict::Pending)
                .and_then(|c| c.estimate)
                .map(|e| e.quality)
        };
        let weak_q = quality(&self.weak, candidates);
        let strong_q = quality(&self.strong, candidates);
        let use_strong = match (weak_q, strong_q) {
            (Some(w), Some(s)) => s - w >= self.threshold,
            // Only one of the pair passed the filters: that one.
            (None, Some(_)) => true,
            _ => false,
        };
        for c in candidates.iter_mut() {
            if c.verdict != Verdict::Pending {
                continue; // already rejected by a filter: keep its reason
            }
            let is_strong = c.model == self.strong;
            c.verdict = if c.model != self.weak && !is_strong {
                Verdict::Rejected(Rejection::Policy {
                    detail: Cow::Borrowed("not in the weak/strong pair"),
                })
            } else if is_strong == use_strong {
                Verdict::Scored(Score::new(1.0)) // the chosen one
            } else {
                Verdict::Scored(Score::new(0.0)) // the other: the fallback
            };
        }
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("weak/strong threshold")
    }
}

// ---------------------------------------------------------------------------------------------

/// A task of `kind` with `input` tokens in and `output` tokens out.
fn task(kind: TaskKind, input: u32, output: u32) -> TaskSpec {
    TaskSpec::new(kind, input).with_output_tokens(output)
}

/// Routes each `(description, task)` of `tasks` on `router` and prints the decision explained.
fn route_each(router: &Router, tasks: &[(&str, TaskSpec)]) -> Result<(), Error> {
    for (what, task) in tasks {
        println!("-- {what}");
        match router.route(task) {
            Ok(decision) => print!("{}", decision.explain()),
            Err(Error::NoEligibleModel { rejections, .. }) => {
                println!("no model can serve it:");
                for (model, why) in rejections {
                    println!("  {model:<34} {why}");
                }
            }
            Err(e) => return Err(e),
        }
        println!();
    }
    Ok(())
}

/// The first of `preferred` the router has, else the model whose output price `better` ranks
/// first.
fn pick(router: &Router, preferred: &[&str], better: impl Fn(f64, f64) -> bool) -> ModelId {
    if let Some(m) = preferred.iter().find_map(|id| router.model(id)) {
        return m.id.clone();
    }
    let mut best = &router.models()[0];
    for m in router.models() {
        if better(m.prices.output, best.prices.output) {
            best = m;
        }
    }
    best.id.clone()
}

fn main() -> Result<(), Error> {
    let catalog = builtin_catalog();
    let router = Router::builder().models(catalog.into_models()).build()?;

    println!("==================== (a) custom scorer via ScorerPolicy ====================");
    let value = router.with_policy(ScorerPolicy(ValueWithinSlo {
        slo_ms: 6_000.0,
        min_quality: 0.6,
    }));
    let tasks = [
        ("a chat reply", task(TaskKind::Chat, 800, 200)),
        (
            "code completion at the cursor",
            task(TaskKind::CodeCompletion, 2_000, 48),
        ),
        (
            "summarise a 6 000-token document",
            task(TaskKind::Summarization, 6_000, 250),
        ),
    ];
    route_each(&value, &tasks)?;

    println!("==================== (b) whole-set policy: weak/strong threshold ====================");
    // The usual pair if the catalog has it, else its cheapest and dearest models.
    let weak = pick(&router, &["gpt-5-nano", "gpt-4o-mini"], |a, b| a < b);
    let strong = pick(&router, &["gpt-5", "claude-sonnet-4-5"], |a, b| a > b);
    let threshold = 0.12;
    println!("weak model {weak}, strong model {strong}, threshold {threshold}\n");
    let pair = router.with_policy(WeakStrongThreshold {
        weak,
        strong,
        threshold,
    });
    let tasks = [
        ("a math word problem", task(TaskKind::Math, 400, 600)),
        (
            "generate a module from a spec",
            task(TaskKind::CodeGeneration, 3_000, 1_500),
        ),
        (
            "a hard reasoning question",
            task(TaskKind::Reasoning, 3_000, 1_500),
        ),
    ];
    route_each(&pair, &tasks)?;
    Ok(())
}
