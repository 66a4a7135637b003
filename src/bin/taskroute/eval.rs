//! `taskroute eval`: replay policies on recorded outcomes, print the table, write JSON and SVG.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use taskroute::ModelId;
use taskroute::eval::metrics::{self, Point};
use taskroute::eval::{Baselines, Builtin, Calibration, Curve, Outcomes, Split, Summary, Target};

use taskroute::learn::OutputLengths;
use taskroute::request::{ClassifyInput, KindClassifier, LearnedClassifier, RuleClassifier};

use crate::data::DataArgs;
use crate::{CliError, estimator, experiment, plot};

/// `--lengths`: an [`OutputLengths`] by name.
pub(crate) fn parse_lengths(s: &str) -> Result<OutputLengths, String> {
    OutputLengths::from_name(s).ok_or_else(|| format!("`{s}`: expected task, kind or text"))
}

/// The classifier `--infer-kind` names: `rules`, or a learned classifier file.
fn classifier(spec: &str) -> Result<Box<dyn KindClassifier>, CliError> {
    Ok(match spec {
        "rules" => Box::new(RuleClassifier::new()),
        path => Box::new(LearnedClassifier::load(path)?),
    })
}

/// Replay routing policies on recorded outcomes.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Policies to sweep, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "cost-first,quality-first,weighted"
    )]
    policy: Vec<PolicyName>,
    /// Train/test split: `seed=N,test=F` (seeded random), `labels=A|B` (hold out those labels), or
    /// `none` (test on every prompt, for an --estimator FILE trained on another file).
    #[arg(long, default_value = "seed=42,test=0.3", conflicts_with = "kfold")]
    split: String,
    /// K-fold cross-validation instead of one split (seeded by --seed).
    #[arg(long, value_name = "K")]
    kfold: Option<usize>,
    /// Seed for --kfold and the random baseline.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Quality estimator: `static` (per task kind), `static-label` (per label), `learned`
    /// (`taskroute train`'s defaults on each training split), `learned-<learner>` (prior,
    /// logreg, knn, irt, ensemble, mf; fixed settings), or an estimator FILE.
    #[arg(long, default_value = "static", value_name = "SPEC")]
    estimator: String,
    /// Output lengths of a learned --estimator, for each model's expected cost: `task` (none:
    /// the label's mean output tokens for every model), `kind` (each model's mean per task kind)
    /// or `text` (per prompt, from its text). With `learned` the setting is only a candidate of
    /// its cross-validation (default: `kind` and `text`); with `learned-<learner>` it is trained as given
    /// (default `task`). Reading output tokens from recorded costs needs --prices.
    #[arg(long, value_name = "task|kind|text", value_parser = parse_lengths)]
    lengths: Option<OutputLengths>,
    /// Route the test prompts by the task kind a classifier infers from their text (`rules`, or
    /// a classifier FILE written by `taskroute classify --save`) instead of the data's kind; the
    /// estimator is still fitted on the training prompts' own kinds. Needs --prompts.
    #[arg(long, value_name = "rules|FILE", requires = "prompts")]
    infer_kind: Option<String>,
    /// Knob values per policy sweep.
    #[arg(long, default_value_t = 101, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    grid: u32,
    /// Weak model for PGR/APGR/CPT (default: the cheapest single model).
    #[arg(long, value_name = "MODEL")]
    weak: Option<String>,
    /// Strong model for PGR/APGR/CPT (default: the best single model).
    #[arg(long, value_name = "MODEL")]
    strong: Option<String>,
    /// Budgets (USD per prompt) at which to report quality; default 25 % and 50 % of the best
    /// single model's cost.
    #[arg(long, value_name = "USD", value_delimiter = ',')]
    budget: Vec<f64>,
    /// Calibrate each policy's knob to a target: `share=MODEL:F` (share of calls to MODEL, as
    /// RouteLLM calibrates its threshold), `cost=USD` (mean cost per prompt) or `quality=Q`.
    /// Done on the (first) split's test prompts.
    #[arg(long, value_name = "TARGET")]
    calibrate: Option<String>,
    /// Write the full report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the cost-quality plot as SVG.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// No progress bar (it is off anyway when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    experiment: experiment::ExperimentArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PolicyName {
    CostFirst,
    QualityFirst,
    Weighted,
}

impl PolicyName {
    fn builtin(self) -> Builtin {
        match self {
            PolicyName::CostFirst => Builtin::CostFirst,
            PolicyName::QualityFirst => Builtin::QualityFirst,
            PolicyName::Weighted => Builtin::Weighted,
        }
    }
}

/// Everything `--json` writes.
#[derive(Debug, Serialize)]
struct Report {
    outcomes: PathBuf,
    prompts: usize,
    models: Vec<String>,
    /// Heap bytes of the per-observation columns per (prompt, model) observation.
    bytes_per_observation: f64,
    split: String,
    test_prompts: usize,
    estimator: String,
    /// With several splits: the estimator fitted on each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    estimator_per_split: Vec<String>,
    /// With several splits: each policy's AIQ on each split's test prompts alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fold_aiq: Vec<FoldAiq>,
    /// The cross-validation that chose a learned estimator's settings (`taskroute train`).
    #[serde(skip_serializing_if = "Option::is_none")]
    estimator_cv: Option<taskroute::learn::CvReport>,
    grid: u32,
    weak: String,
    strong: String,
    /// `share_of_calls_to_strong` (two models) or `normalised_cost`.
    pgr_axis: &'static str,
    policies: Vec<PolicyReport>,
    calibrations: Vec<CalibrationReport>,
    zero_router: ZeroRouter,
    baselines: Baselines,
    timings_ms: Timings,
}

#[derive(Debug, Serialize)]
struct PolicyReport {
    policy: String,
    knob: String,
    aiq: Option<f64>,
    aiq_own_range: Option<f64>,
    cost_share_at_parity: Option<f64>,
    /// Cost, as a share of the best single model's, at which the hull reaches 95 % of its quality.
    cost_share_at_95: Option<f64>,
    apgr: Option<f64>,
    cpt50: Option<f64>,
    cpt80: Option<f64>,
    quality_at_budget: Vec<(f64, Option<f64>)>,
    best: Summary,
    curve: Curve,
}

/// A policy's AIQ per fold (each over its own fold's best single model's cost), with the
/// mean and the sample standard deviation.
#[derive(Debug, Serialize)]
struct FoldAiq {
    policy: String,
    folds: Vec<f64>,
    mean: f64,
    sd: f64,
}

impl FoldAiq {
    fn new(policy: &str, folds: Vec<f64>) -> Self {
        let n = folds.len() as f64;
        let mean = folds.iter().sum::<f64>() / n;
        let sd = (folds.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        Self {
            policy: policy.to_owned(),
            folds,
            mean,
            sd,
        }
    }
}

#[derive(Debug, Serialize)]
struct CalibrationReport {
    policy: String,
    target: String,
    calibration: Calibration,
}

#[derive(Debug, Serialize)]
struct ZeroRouter {
    aiq: Option<f64>,
    cost_share_at_parity: Option<f64>,
    cost_share_at_95: Option<f64>,
    hull: Vec<Point>,
    quality_at_budget: Vec<(f64, Option<f64>)>,
}

#[derive(Debug, Serialize)]
struct Timings {
    load: f64,
    replay: f64,
    total: f64,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    let start = Instant::now();
    let (data, prices) = args.data.load()?;
    let fit = estimator::FitOptions {
        prices: prices.as_ref(),
        lengths: args.lengths,
    };
    if args.experiment.is_set() {
        let (splits, split_desc) = splits(args, &data)?;
        let setup = experiment::Setup {
            data: &data,
            splits: &splits,
            split: &split_desc,
            estimator: &args.estimator,
            fit,
            prices: prices.as_ref(),
            seed: args.seed,
            json: args.json.as_deref(),
        };
        return experiment::run(&args.experiment, &setup);
    }
    let load_ms = ms(start);

    let (splits, split_desc) = splits(args, &data)?;
    let policies: Vec<Builtin> = args.policy.iter().map(|p| p.builtin()).collect();
    let n_grid = args.grid as usize;
    let bar = progress(args, (splits.len() * policies.len() * n_grid) as u64);

    let replay_start = Instant::now();
    let mut grids: Vec<Vec<f64>> = Vec::new();
    let mut fold_curves: Vec<Vec<Curve>> = Vec::new();
    let mut fold_sizes = Vec::new();
    let mut tested: Vec<usize> = Vec::new();
    let mut description = String::new();
    let mut descriptions = Vec::new();
    let mut estimator_cv = None;
    let mut fold_aiq: Vec<Vec<f64>> = vec![Vec::new(); policies.len()];
    let mut calibrations = Vec::new();
    let classifier = args.infer_kind.as_deref().map(classifier).transpose()?;
    let (mut inferred, mut agreed) = (0usize, 0usize);
    for split in &splits {
        let (train, mut test) = (data.subset(&split.train), data.subset(&split.test));
        if let Some(c) = &classifier {
            let text = |p: usize| ClassifyInput::text(test.text(p).unwrap_or(""));
            let relabelled = test.with_kinds(|p| c.classify(&text(p)).kind);
            inferred += test.prompts();
            agreed += (0..test.prompts())
                .filter(|&p| relabelled.kind(p) == test.kind(p))
                .count();
            test = relabelled;
        }
        let fitted = estimator::fit(&args.estimator, &train, &fit)?;
        let replay = fitted.replay(&train, &test, prices.as_ref())?;
        description = fitted.description.clone();
        descriptions.push(fitted.description);
        estimator_cv = fitted.cv;
        if grids.is_empty() {
            // One grid per policy, from the first fold, so folds can be pooled point by point.
            grids = policies.iter().map(|&w| replay.grid(w, n_grid)).collect();
            if let Some(spec) = &args.calibrate {
                let target = parse_target(spec)?;
                for (&which, grid) in policies.iter().zip(&grids) {
                    let (lo, hi) = grid
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &k| {
                            (a.min(k), b.max(k))
                        });
                    let calibration = replay.calibrate(lo, hi, &target, |k| which.policy(k))?;
                    calibrations.push(CalibrationReport {
                        policy: which.name().to_owned(),
                        target: spec.clone(),
                        calibration,
                    });
                }
            }
        }
        let mut curves = Vec::new();
        for (&which, grid) in policies.iter().zip(&grids) {
            let mut tick = |_: usize| bar.inc(1);
            let mut curve = replay.sweep_with_progress(which.knob(), grid, |k| which.policy(k), &mut tick)?;
            curve.policy = which.name().to_owned();
            curves.push(curve);
        }
        let fold_best = Baselines::compute(&test, args.seed);
        let fold_best_cost = fold_best.singles[fold_best.best_single].cost;
        for (a, c) in fold_aiq.iter_mut().zip(&curves) {
            a.push(metrics::aiq(&c.points(), fold_best_cost).unwrap_or(f64::NAN));
        }
        fold_curves.push(curves);
        fold_sizes.push(split.test.len());
        tested.extend_from_slice(&split.test);
    }
    bar.finish_and_clear();
    if let Some(spec) = &args.infer_kind {
        eprintln!(
            "kinds inferred by {spec}: {agreed} of {inferred} test prompts ({:.1} %) get their data's kind",
            100.0 * agreed as f64 / inferred.max(1) as f64
        );
    }
    let curves = pool(fold_curves, &fold_sizes);
    let test = data.subset(&tested);
    let baselines = Baselines::compute(&test, args.seed);
    let replay_ms = ms(replay_start);

    // Reference points.
    let best = baselines.singles[baselines.best_single].point();
    let p95_target = Point::new(best.cost, 0.95 * best.quality);
    let weak = pick_model(&test, args.weak.as_deref(), || {
        (0..test.models().len())
            .min_by(|&a, &b| baselines.singles[a].cost.total_cmp(&baselines.singles[b].cost))
            .unwrap_or(0)
    })?;
    let strong = pick_model(&test, args.strong.as_deref(), || baselines.best_single)?;
    let (w, s) = (&baselines.singles[weak], &baselines.singles[strong]);
    let two_models = test.models().len() == 2;
    let x_of = |p: &Summary| {
        if two_models {
            p.share[strong]
        } else {
            (p.cost - w.cost) / (s.cost - w.cost)
        }
    };
    let budgets: Vec<f64> = if args.budget.is_empty() {
        vec![0.25 * best.cost, 0.5 * best.cost]
    } else {
        args.budget.clone()
    };
    let singles_pts: Vec<Point> = baselines.singles.iter().map(Summary::point).collect();
    let reports: Vec<PolicyReport> = curves
        .into_iter()
        .map(|curve| {
            let pts = curve.points();
            let xq: Vec<(f64, f64)> = curve.points.iter().map(|p| (x_of(p), p.quality)).collect();
            let best_point = curve
                .points
                .iter()
                .max_by(|a, b| a.quality.total_cmp(&b.quality).then(b.cost.total_cmp(&a.cost)))
                .cloned()
                .unwrap_or_else(|| baselines.oracle.clone());
            PolicyReport {
                policy: curve.policy.clone(),
                knob: curve.knob.clone(),
                aiq: metrics::aiq(&pts, best.cost),
                aiq_own_range: metrics::aiq_own_range(&pts),
                cost_share_at_parity: metrics::cost_share_at_parity(&pts, best),
                cost_share_at_95: metrics::cost_share_at_parity(&pts, p95_target),
                apgr: metrics::apgr(&xq, w.quality, s.quality),
                cpt50: metrics::cpt(&xq, w.quality, s.quality, 0.5),
                cpt80: metrics::cpt(&xq, w.quality, s.quality, 0.8),
                quality_at_budget: budgets
                    .iter()
                    .map(|&b| (b, metrics::quality_at_budget(&pts, b)))
                    .collect(),
                best: best_point,
                curve,
            }
        })
        .collect();
    let zero = ZeroRouter {
        aiq: metrics::aiq(&singles_pts, best.cost),
        cost_share_at_parity: metrics::cost_share_at_parity(&singles_pts, best),
        cost_share_at_95: metrics::cost_share_at_parity(&singles_pts, p95_target),
        quality_at_budget: budgets
            .iter()
            .map(|&b| (b, metrics::quality_at_budget(&singles_pts, b)))
            .collect(),
        hull: baselines.zero_router.clone(),
    };
    let report = Report {
        outcomes: args.data.outcomes.clone(),
        prompts: data.prompts(),
        models: data.models().iter().map(ToString::to_string).collect(),
        bytes_per_observation: data.bytes_per_observation(),
        split: split_desc,
        test_prompts: test.prompts(),
        estimator: description,
        // Listed when the splits' estimators differ (a model selection per split).
        estimator_per_split: if descriptions.iter().any(|d| *d != descriptions[0]) {
            descriptions
        } else {
            Vec::new()
        },
        estimator_cv,
        fold_aiq: if splits.len() > 1 {
            policies
                .iter()
                .zip(fold_aiq)
                .map(|(p, v)| FoldAiq::new(p.name(), v))
                .collect()
        } else {
            Vec::new()
        },
        grid: args.grid,
        weak: test.models()[weak].to_string(),
        strong: test.models()[strong].to_string(),
        pgr_axis: if two_models {
            "share_of_calls_to_strong"
        } else {
            "normalised_cost"
        },
        policies: reports,
        calibrations,
        zero_router: zero,
        baselines,
        timings_ms: Timings {
            load: load_ms,
            replay: replay_ms,
            total: ms(start),
        },
    };
    print_table(&report);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).map_err(|e| CliError::io("write", path, e))?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} ({} test prompts, {})",
            args.data
                .outcomes
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
            report.test_prompts,
            report.split
        );
        let curves: Vec<(&str, Vec<Point>)> = report
            .policies
            .iter()
            .map(|p| (p.policy.as_str(), p.curve.points()))
            .collect();
        let singles: Vec<(String, Point)> = report
            .baselines
            .singles
            .iter()
            .map(|s| (s.policy.clone(), s.point()))
            .collect();
        plot::write_svg(
            path,
            &title,
            &curves,
            &singles,
            &report.baselines.zero_router,
            report.baselines.oracle.point(),
            report.baselines.random.point(),
        )?;
    }
    eprintln!(
        "time: load {:.1} ms, replay and baselines {:.1} ms, total {:.1} ms",
        report.timings_ms.load,
        report.timings_ms.replay,
        ms(start)
    );
    Ok(())
}

fn splits(args: &Args, data: &Outcomes) -> Result<(Vec<Split>, String), CliError> {
    if let Some(k) = args.kfold {
        return Ok((
            Split::kfold(data.prompts(), k, args.seed)?,
            format!("{k}-fold, seed {}", args.seed),
        ));
    }
    let spec = args.split.trim();
    if spec == "none" {
        // Every prompt is a test prompt: for an estimator trained on another file.
        return Ok((
            vec![Split::by(data.prompts(), |_| true)],
            "none (every prompt tested; estimator trained elsewhere)".into(),
        ));
    }
    if let Some(labels) = spec.strip_prefix("labels=") {
        let labels: Vec<&str> = labels.split('|').collect();
        let s = Split::by_label(data, &labels);
        if s.test.is_empty() || s.train.is_empty() {
            return Err(CliError::msg(format!(
                "--split {spec}: a part is empty (labels in the data: {})",
                data.labels().iter().map(|l| &**l).collect::<Vec<_>>().join(", ")
            )));
        }
        return Ok((vec![s], format!("held-out labels {}", labels.join(", "))));
    }
    let (mut seed, mut test) = (args.seed, 0.3);
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || CliError::msg(format!("--split `{spec}`: expected seed=N,test=F or labels=A|B"));
        match part.split_once('=') {
            Some(("seed", v)) => seed = v.parse().map_err(|_| bad())?,
            Some(("test", v)) => test = v.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    Ok((
        vec![Split::seeded(data.prompts(), test, seed)?],
        format!("seed {seed}, test {test}"),
    ))
}

/// Pools per-fold curves point by point, weighting each fold by its test size (equal to the
/// summary over every tested prompt, since the grids are shared).
fn pool(mut folds: Vec<Vec<Curve>>, sizes: &[usize]) -> Vec<Curve> {
    if folds.len() == 1 {
        return folds.pop().unwrap_or_default();
    }
    let total: f64 = sizes.iter().sum::<usize>() as f64;
    let mut out = folds[0].clone();
    for (ci, curve) in out.iter_mut().enumerate() {
        for (pi, point) in curve.points.iter_mut().enumerate() {
            let avg = |f: &dyn Fn(&Summary) -> f64| {
                folds
                    .iter()
                    .zip(sizes)
                    .map(|(fold, &n)| f(&fold[ci].points[pi]) * n as f64)
                    .sum::<f64>()
                    / total
            };
            point.quality = avg(&|s| s.quality);
            point.cost = avg(&|s| s.cost);
            point.unrouted = avg(&|s| s.unrouted);
            for j in 0..point.share.len() {
                point.share[j] = avg(&|s| s.share[j]);
            }
        }
    }
    out
}

fn parse_target(spec: &str) -> Result<Target, CliError> {
    let bad = || {
        CliError::msg(format!(
            "--calibrate `{spec}`: expected share=MODEL:FRACTION, cost=USD or quality=Q"
        ))
    };
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| bad());
    match spec.split_once('=') {
        Some(("cost", v)) => Ok(Target::MeanCost(num(v)?)),
        Some(("quality", v)) => Ok(Target::MeanQuality(num(v)?)),
        Some(("share", v)) => {
            let (model, share) = v.rsplit_once(':').ok_or_else(bad)?;
            Ok(Target::Share {
                model: ModelId::new(model),
                share: num(share)?,
            })
        }
        _ => Err(bad()),
    }
}

fn pick_model(data: &Outcomes, name: Option<&str>, default: impl Fn() -> usize) -> Result<usize, CliError> {
    match name {
        None => Ok(default()),
        Some(n) => data.model_index(n).ok_or_else(|| {
            CliError::msg(format!(
                "unknown model `{n}`: the data has {}",
                data.models()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
    }
}

fn progress(args: &Args, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if args.no_progress || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} policy runs ({elapsed})") {
        bar.set_style(style);
    }
    bar
}

fn mdollars(usd: f64) -> String {
    format!("{:.4}", usd * 1e3)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_owned(), f)
}

fn print_table(r: &Report) {
    println!(
        "{}: {} prompts x {} models ({:.3} bytes per observation); split {}: {} test prompts; estimator {}",
        r.outcomes.display(),
        r.prompts,
        r.models.len(),
        r.bytes_per_observation,
        r.split,
        r.test_prompts,
        r.estimator
    );
    for (i, d) in r.estimator_per_split.iter().enumerate() {
        println!("  split {i}: {d}");
    }
    if let Some(cv) = &r.estimator_cv {
        let whose = if r.estimator_per_split.is_empty() {
            "the estimator records its"
        } else {
            "the last split's estimator records its"
        };
        println!("{whose} {cv}\n");
    }
    let best = &r.baselines.singles[r.baselines.best_single];
    println!(
        "AIQ over cost [0, {} m$] (best single model: {}); PGR weak {} / strong {} on {}\n",
        mdollars(best.cost),
        best.policy,
        r.weak,
        r.strong,
        r.pgr_axis.replace('_', " ")
    );
    let budgets: Vec<String> = r
        .zero_router
        .quality_at_budget
        .iter()
        .map(|(b, _)| format!("q@{}m$", mdollars(*b)))
        .collect();
    println!(
        "{:<16} {:>7} {:>9} {:>6} {:>8} {:>8}  {:>12} {:>12}  {:>7} {:>10}",
        "policy",
        "AIQ",
        "parity",
        "APGR",
        "CPT50",
        "CPT80",
        budgets[0],
        budgets.get(1).map_or("", |s| s),
        "max q",
        "at m$"
    );
    for p in &r.policies {
        let qb = |i: usize| p.quality_at_budget.get(i).and_then(|x| x.1);
        println!(
            "{:<16} {:>7} {:>9} {:>6} {:>8} {:>8}  {:>12} {:>12}  {:>7.4} {:>10}",
            p.policy,
            opt(p.aiq, |v| format!("{v:.4}")),
            opt(p.cost_share_at_parity, |v| format!("{:.1}%", v * 100.0)),
            opt(p.apgr, |v| format!("{v:.3}")),
            opt(p.cpt50, |v| format!("{:.1}%", v * 100.0)),
            opt(p.cpt80, |v| format!("{:.1}%", v * 100.0)),
            opt(qb(0), |v| format!("{v:.4}")),
            opt(qb(1), |v| format!("{v:.4}")),
            p.best.quality,
            mdollars(p.best.cost),
        );
    }
    let zb = |i: usize| r.zero_router.quality_at_budget.get(i).and_then(|x| x.1);
    println!(
        "{:<16} {:>7} {:>9} {:>6} {:>8} {:>8}  {:>12} {:>12}",
        "zero router",
        opt(r.zero_router.aiq, |v| format!("{v:.4}")),
        opt(r.zero_router.cost_share_at_parity, |v| format!(
            "{:.1}%",
            v * 100.0
        )),
        "",
        "",
        "",
        opt(zb(0), |v| format!("{v:.4}")),
        opt(zb(1), |v| format!("{v:.4}")),
    );
    let p95: Vec<String> = r
        .policies
        .iter()
        .map(|p| (p.policy.as_str(), p.cost_share_at_95))
        .chain([("zero router", r.zero_router.cost_share_at_95)])
        .map(|(name, v)| format!("{name} {}", opt(v, |v| format!("{:.1}%", v * 100.0))))
        .collect();
    println!(
        "\ncost at 95 % of {}'s quality, as a share of its cost: {}",
        best.policy,
        p95.join(", ")
    );
    if !r.fold_aiq.is_empty() {
        println!("\nAIQ per fold (each over its own fold's best single model's cost):");
        for f in &r.fold_aiq {
            let folds: Vec<String> = f.folds.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "  {:<16} mean {:.4}  sd {:.4}  folds {}",
                f.policy,
                f.mean,
                f.sd,
                folds.join(" ")
            );
        }
    }
    if !r.calibrations.is_empty() {
        println!(
            "\n{:<16} {:>22} {:>14} {:>10} {:>8} {:>10}",
            "calibrated", "target", "knob", "achieved", "quality", "m$/prompt"
        );
        for c in &r.calibrations {
            let k = &c.calibration;
            println!(
                "{:<16} {:>22} {:>14.6} {:>10.4} {:>8.4} {:>10}",
                c.policy,
                c.target,
                k.knob,
                k.achieved,
                k.summary.quality,
                mdollars(k.summary.cost)
            );
        }
    }
    println!("\n{:<40} {:>8} {:>10}", "baseline", "quality", "m$/prompt");
    for s in r
        .baselines
        .singles
        .iter()
        .chain([&r.baselines.oracle, &r.baselines.random])
    {
        println!("{:<40} {:>8.4} {:>10}", s.policy, s.quality, mdollars(s.cost));
    }
}
