//! `taskroute eval --experiment …`: replay a live A/B experiment on recorded outcomes.
//!
//! The test prompts of every split (all prompts with `--kfold`) are the live traffic. Each
//! variant is routed over them once, through the same replayed router the sweeps use; its reward
//! on a prompt is the recorded quality of the model it chose. Then, for every replay: the
//! prompts arrive in a seeded random order, each is assigned to a variant by the
//! [`Experiment`]'s sticky hash of the prompt's id (salted per replay), its reward is fed to a
//! [`SequentialTest`], and the replay stops when the test names a winner. The report says how
//! many prompts the rule needed and whether it named the variant with the best mean quality over
//! all of the traffic (the "full replay").

use std::path::Path;

use serde::Serialize;
use taskroute::eval::{Builtin, Outcomes, PriceTable, Split};
use taskroute::experiment::{Arm, Conclusion, Experiment, SequentialTest};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::{CliError, estimator};

/// Experiment replay flags of `taskroute eval`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExperimentArgs {
    /// Replay an A/B experiment instead of sweeping: comma-separated variants, each
    /// `cost-first:FLOOR`, `quality-first:CEILING_USD`, `weighted:COST_WEIGHT` or `model:ID`.
    #[arg(long, value_name = "VARIANTS")]
    experiment: Option<String>,
    /// Traffic shares of the variants, comma-separated (default: equal).
    #[arg(long, value_name = "SHARES", value_delimiter = ',', requires = "experiment")]
    shares: Vec<f64>,
    /// Confidence at which the stopping rule names a winner.
    #[arg(long, default_value_t = 0.95, requires = "experiment")]
    confidence: f64,
    /// Number of replays, each with its own prompt order and assignment (seeds --seed, --seed+1, …).
    #[arg(long, default_value_t = 1, requires = "experiment")]
    replays: u64,
}

impl ExperimentArgs {
    pub(crate) fn is_set(&self) -> bool {
        self.experiment.is_some()
    }
}

/// What `taskroute eval` hands over: the loaded table and its splits.
pub(crate) struct Setup<'a> {
    pub(crate) data: &'a Outcomes,
    pub(crate) splits: &'a [Split],
    pub(crate) split: &'a str,
    pub(crate) estimator: &'a str,
    pub(crate) fit: estimator::FitOptions<'a>,
    pub(crate) prices: Option<&'a PriceTable>,
    pub(crate) seed: u64,
    pub(crate) json: Option<&'a Path>,
}

#[derive(Debug, Serialize)]
struct VariantReport {
    name: String,
    share: f64,
    /// Mean recorded quality over all of the traffic.
    quality: f64,
    /// Mean recorded cost (USD per prompt) over all of the traffic.
    cost: f64,
}

#[derive(Debug, Serialize)]
struct ReplayReport {
    seed: u64,
    /// The variant the rule named, if it stopped.
    winner: Option<String>,
    /// Prompts seen when it stopped (all of them when it did not).
    prompts: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    split: String,
    estimator: String,
    traffic_prompts: usize,
    confidence: f64,
    variants: Vec<VariantReport>,
    best: String,
    picked_best: usize,
    picked_other: usize,
    undecided: usize,
    median_prompts_to_decide: Option<u64>,
    replays: Vec<ReplayReport>,
}

fn parse_variants(spec: &str, shares: &[f64], data: &Outcomes) -> Result<Experiment, CliError> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if !shares.is_empty() && shares.len() != parts.len() {
        return Err(CliError::msg(format!(
            "--shares gives {} shares for {} variants",
            shares.len(),
            parts.len()
        )));
    }
    let mut builder = Experiment::builder("replay");
    for (i, part) in parts.iter().enumerate() {
        let share = shares.get(i).copied().unwrap_or(1.0);
        let bad = || {
            CliError::msg(format!(
                "--experiment variant `{part}`: expected cost-first:FLOOR, quality-first:CEILING_USD, \
                 weighted:COST_WEIGHT or model:ID"
            ))
        };
        let (kind, value) = part.split_once(':').ok_or_else(bad)?;
        let arm = match kind {
            "model" => {
                if data.model_index(value).is_none() {
                    return Err(CliError::msg(format!(
                        "--experiment variant `{part}`: the outcome table has no model `{value}`"
                    )));
                }
                Arm::Model(value.into())
            }
            _ => {
                let which = match kind {
                    "cost-first" => Builtin::CostFirst,
                    "quality-first" => Builtin::QualityFirst,
                    "weighted" => Builtin::Weighted,
                    _ => return Err(bad()),
                };
                let knob: f64 = value.parse().map_err(|_| bad())?;
                Arm::Policy(which.policy(knob)?)
            }
        };
        builder = builder.arm(part.to_string(), arm, share);
    }
    builder
        .build()
        .map_err(|e| CliError::msg(format!("--experiment: {e}")))
}

/// Per variant, per prompt of the table: the model index it chose (`None`: unrouted or not
/// in the traffic).
fn variant_choices(exp: &Experiment, setup: &Setup<'_>) -> Result<Vec<Vec<Option<usize>>>, CliError> {
    let data = setup.data;
    let mut choices = vec![vec![None; data.prompts()]; exp.variants().len()];
    for split in setup.splits {
        let train = data.subset(&split.train);
        let test = data.subset(&split.test);
        let fitted = estimator::fit(setup.estimator, &train, &setup.fit)?;
        let replay = fitted.replay(&train, &test, setup.prices)?;
        for (v, variant) in exp.variants().iter().enumerate() {
            let chosen = match &variant.arm {
                Arm::Policy(p) => replay.choices(&**p),
                // Checked by `parse_variants`; the subset keeps the table's model order.
                Arm::Model(id) => vec![data.model_index(id.as_str()); split.test.len()],
                _ => return Err(CliError::msg("unsupported experiment arm")),
            };
            for (&p, c) in split.test.iter().zip(chosen) {
                choices[v][p] = c;
            }
        }
    }
    Ok(choices)
}

pub(crate) fn run(args: &ExperimentArgs, setup: &Setup<'_>) -> Result<(), CliError> {
    let spec = args.experiment.as_deref().unwrap_or_default();
    let data = setup.data;
    let exp = parse_variants(spec, &args.shares, data)?;
    let choices = variant_choices(&exp, setup)?;
    let mut traffic: Vec<usize> = setup.splits.iter().flat_map(|s| s.test.iter().copied()).collect();
    traffic.sort_unstable();
    traffic.dedup();
    let reward = |v: usize, p: usize| choices[v][p].map_or(0.0, |m| data.quality(p, m).clamp(0.0, 1.0));
    let cost = |v: usize, p: usize| choices[v][p].map_or(0.0, |m| data.cost(p, m));
    let n = traffic.len().max(1) as f64;
    let variants: Vec<VariantReport> = exp
        .variants()
        .iter()
        .enumerate()
        .map(|(v, var)| VariantReport {
            name: var.name.to_string(),
            share: var.share,
            quality: traffic.iter().map(|&p| reward(v, p)).sum::<f64>() / n,
            cost: traffic.iter().map(|&p| cost(v, p)).sum::<f64>() / n,
        })
        .collect();
    let best = (0..variants.len())
        .max_by(|&a, &b| variants[a].quality.total_cmp(&variants[b].quality))
        .unwrap_or(0);

    let mut replays = Vec::new();
    let mut order = traffic.clone();
    for r in 0..args.replays {
        let seed = setup.seed.wrapping_add(r);
        order.sort_by_key(|&p| xxh3_64_with_seed(&(p as u64).to_le_bytes(), seed));
        // A new name salts the assignment hash: every replay splits the callers afresh.
        let live = rename(&exp, seed)?;
        let mut test = SequentialTest::new(variants.len(), args.confidence)
            .map_err(|e| CliError::msg(format!("--confidence: {e}")))?;
        let mut winner = None;
        for &p in &order {
            let v = live.assign(data.id(p));
            test.record(v, reward(v, p))
                .map_err(|e| CliError::msg(e.to_string()))?;
            if let Conclusion::Winner { variant, .. } = test.conclusion() {
                winner = Some(variant);
                break;
            }
        }
        replays.push((seed, winner, test.observations()));
    }
    let picked_best = replays.iter().filter(|r| r.1 == Some(best)).count();
    let undecided = replays.iter().filter(|r| r.1.is_none()).count();
    let mut decided: Vec<u64> = replays.iter().filter(|r| r.1.is_some()).map(|r| r.2).collect();
    decided.sort_unstable();
    let report = Report {
        split: setup.split.to_owned(),
        estimator: setup.estimator.to_owned(),
        traffic_prompts: traffic.len(),
        confidence: args.confidence,
        best: variants[best].name.clone(),
        picked_best,
        picked_other: replays.len() - picked_best - undecided,
        undecided,
        median_prompts_to_decide: decided
            .get(decided.len() / 2)
            .copied()
            .filter(|_| !decided.is_empty()),
        replays: replays
            .iter()
            .map(|&(seed, w, prompts)| ReplayReport {
                seed,
                winner: w.map(|v| variants[v].name.clone()),
                prompts,
            })
            .collect(),
        variants,
    };
    print_report(&report, &decided);
    if let Some(path) = setup.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).map_err(|e| CliError::io("write", path, e))?;
    }
    Ok(())
}

/// The same variants under another name (so another assignment salt).
fn rename(exp: &Experiment, seed: u64) -> Result<Experiment, CliError> {
    exp.variants()
        .iter()
        .fold(Experiment::builder(format!("replay-{seed}")), |b, v| {
            b.arm(v.name.clone(), v.arm.clone(), v.share)
        })
        .build()
        .map_err(|e| CliError::msg(e.to_string()))
}

fn print_report(r: &Report, decided: &[u64]) {
    println!(
        "experiment replay: {} traffic prompts ({}; estimator {}), confidence {}",
        r.traffic_prompts, r.split, r.estimator, r.confidence
    );
    println!(
        "{:<36} {:>6} {:>9} {:>12}",
        "variant", "share", "quality", "cost m$/pr"
    );
    for v in &r.variants {
        println!(
            "{:<36} {:>6.3} {:>9.4} {:>12.4}",
            v.name,
            v.share,
            v.quality,
            v.cost * 1e3
        );
    }
    println!("best over the full replay: {}", r.best);
    let total = r.replays.len();
    println!(
        "{total} replays: picked the best {} ({:.0} %), another {}, undecided {}",
        r.picked_best,
        100.0 * r.picked_best as f64 / total.max(1) as f64,
        r.picked_other,
        r.undecided
    );
    if let (Some(med), Some(lo), Some(hi)) = (
        r.median_prompts_to_decide,
        decided.get(decided.len() / 10),
        decided.get(decided.len() * 9 / 10),
    ) {
        println!("prompts to decide (decided replays): median {med}, p10 {lo}, p90 {hi}");
    }
}
