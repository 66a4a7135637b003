//! `taskroute classify`: the task kind of each prompt in a JSONL file; accuracy and a confusion
//! matrix when the lines carry labels.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use taskroute::TaskKind;
use taskroute::request::{
    ClassifierTraining, ClassifyInput, KindClassifier, LearnedClassifier, RuleClassifier,
};

use crate::CliError;

/// Label prompts with their task kind (rule-based, or a learned classifier).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSONL file, one object per line with the prompt in --text-field (and optionally the true
    /// kind in --label-field).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The field holding the prompt.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// The field holding the true kind; when present on every line, accuracy and a confusion
    /// matrix are printed instead of the labels.
    #[arg(long, default_value = "kind")]
    label_field: String,
    /// Classify with this learned classifier (written by --save) instead of the rules.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["save", "cross_validate"])]
    learned: Option<PathBuf>,
    /// Train a learned classifier on the labelled input and save it here.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// K-fold cross-validation (stratified by kind): train the learned classifier on K-1 folds,
    /// score it and the rules on the held-out fold; per-kind recall and accuracy as mean ± sd
    /// over the folds, and the confusion matrices of all held-out predictions.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(2..=50))]
    cross_validate: Option<u32>,
    /// With --cross-validate: repeat it with this many fold draws (seeds --seed, --seed + 1,
    /// ...) and report each kind's recall as mean ± sd over the repeats (each repeat's held-out
    /// predictions pooled) and over all folds of all repeats.
    #[arg(long, value_name = "R", default_value_t = 1, requires = "cross_validate",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    repeats: u32,
    /// Seed of the folds and of the training order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    let rows = read(args)?;
    let labelled: Option<Vec<(&str, TaskKind)>> = (!rows.is_empty())
        .then(|| rows.iter().map(|(t, l)| Some((t.as_str(), l.clone()?))).collect())
        .flatten();
    let mut training = ClassifierTraining::default();
    training.seed = args.seed;
    if let Some(path) = &args.save {
        let examples = labelled
            .as_ref()
            .ok_or_else(|| CliError::msg(format!("--save needs `{}` on every line", args.label_field)))?;
        let c = LearnedClassifier::train(examples, &training)?;
        c.save(path)?;
        eprintln!(
            "trained on {} prompts ({} kinds); saved {}",
            examples.len(),
            c.kinds().len(),
            path.display()
        );
    }
    if let Some(k) = args.cross_validate {
        let examples = labelled.as_ref().ok_or_else(|| {
            CliError::msg(format!(
                "--cross-validate needs `{}` on every line",
                args.label_field
            ))
        })?;
        if args.repeats > 1 {
            // Repeat r uses seed --seed + r: the last one must be a seed too.
            if training.seed.checked_add(u64::from(args.repeats) - 1).is_none() {
                return Err(CliError::msg(format!(
                    "--seed {} with --repeats {}: the repeats' seeds (--seed, --seed + 1, ...) would pass {}",
                    training.seed,
                    args.repeats,
                    u64::MAX
                )));
            }
            return repeated_cross_validation(examples, k as usize, args.repeats, &training);
        }
        return cross_validate(examples, k as usize, &training);
    }
    if args.save.is_some() {
        return Ok(());
    }
    let classifier: Box<dyn KindClassifier> = match &args.learned {
        Some(path) => Box::new(LearnedClassifier::load(path)?),
        None => Box::new(RuleClassifier::new()),
    };
    let classify = |t: &str| classifier.classify(&ClassifyInput::text(t));
    match &labelled {
        Some(examples) => print!(
            "{}",
            report(examples.iter().map(|(t, l)| (l.clone(), classify(t).kind)))
        ),
        None => {
            for (t, _) in &rows {
                let c = classify(t);
                println!("{}\t{:.2}", c.kind, c.confidence);
            }
        }
    }
    Ok(())
}

/// The prompts and their labels (where the line has one).
fn read(args: &Args) -> Result<Vec<(String, Option<TaskKind>)>, CliError> {
    let text = std::fs::read_to_string(&args.input).map_err(|e| CliError::io("read", &args.input, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| CliError::msg(format!("{}:{}: not JSON: {e}", args.input.display(), i + 1)))?;
        let prompt = v.get(&args.text_field).and_then(|t| t.as_str()).ok_or_else(|| {
            CliError::msg(format!(
                "{}:{}: no string field `{}`",
                args.input.display(),
                i + 1,
                args.text_field
            ))
        })?;
        let label = v
            .get(&args.label_field)
            .and_then(|t| t.as_str())
            .map(TaskKind::from_name);
        rows.push((prompt.to_owned(), label));
    }
    Ok(rows)
}

/// The held-out (true, predicted) pairs of each fold, for the rules (`[0]`) and the learned
/// classifier (`[1]`).
type FoldPairs = [Vec<Vec<(TaskKind, TaskKind)>>; 2];

/// Stratified k-fold cross-validation: each kind's examples shuffled (seeded by
/// `training.seed`) and dealt round-robin to the folds; the learned classifier trained on the
/// other folds, the rules the same on every fold.
fn run_folds(
    examples: &[(&str, TaskKind)],
    k: usize,
    training: &ClassifierTraining,
) -> Result<FoldPairs, CliError> {
    let mut fold = vec![0usize; examples.len()];
    let mut by_kind: BTreeMap<&TaskKind, Vec<usize>> = BTreeMap::new();
    for (i, (_, l)) in examples.iter().enumerate() {
        by_kind.entry(l).or_default().push(i);
    }
    let mut rng = Pcg64Mcg::seed_from_u64(training.seed);
    for idx in by_kind.values_mut() {
        idx.shuffle(&mut rng);
        for (j, &i) in idx.iter().enumerate() {
            fold[i] = j % k;
        }
    }
    // A fold without a prompt has no accuracy (0 / 0): its figures would print as NaN.
    if let Some(empty) = (0..k).find(|f| !fold.contains(f)) {
        return Err(CliError::msg(format!(
            "--cross-validate {k}: fold {empty} gets no prompt from {} labelled prompts; use fewer folds",
            examples.len()
        )));
    }
    let rules = RuleClassifier::new();
    let mut per_fold: FoldPairs = [Vec::new(), Vec::new()];
    for f in 0..k {
        let train: Vec<(&str, TaskKind)> = (0..examples.len())
            .filter(|&i| fold[i] != f)
            .map(|i| examples[i].clone())
            .collect();
        let learned = LearnedClassifier::train(&train, training)?;
        let mut pairs = [Vec::new(), Vec::new()];
        for i in (0..examples.len()).filter(|&i| fold[i] == f) {
            let (t, l) = &examples[i];
            let input = ClassifyInput::text(t);
            pairs[0].push((l.clone(), rules.classify(&input).kind));
            pairs[1].push((l.clone(), learned.classify(&input).kind));
        }
        for (c, p) in pairs.into_iter().enumerate() {
            per_fold[c].push(p);
        }
    }
    Ok(per_fold)
}

const CLASSIFIERS: [&str; 2] = [
    "rules (RuleClassifier; not trained: the same rules on every fold)",
    "learned (LearnedClassifier, trained on the other folds)",
];

/// The kinds of the examples, in order.
fn kinds_of(examples: &[(&str, TaskKind)]) -> Vec<TaskKind> {
    let set: std::collections::BTreeSet<&TaskKind> = examples.iter().map(|(_, l)| l).collect();
    set.into_iter().cloned().collect()
}

/// Accuracy of a set of pairs, and the recall of `kind` (`None` if it has no example there).
fn accuracy(p: &[(TaskKind, TaskKind)]) -> f64 {
    p.iter().filter(|(t, q)| t == q).count() as f64 / p.len() as f64
}

fn recall(p: &[(TaskKind, TaskKind)], kind: &TaskKind) -> Option<f64> {
    let of: Vec<_> = p.iter().filter(|(t, _)| t == kind).collect();
    (!of.is_empty()).then(|| of.iter().filter(|(t, q)| t == q).count() as f64 / of.len() as f64)
}

/// Stratified k-fold cross-validation of the rules and the learned classifier.
fn cross_validate(
    examples: &[(&str, TaskKind)],
    k: usize,
    training: &ClassifierTraining,
) -> Result<(), CliError> {
    let per_fold = run_folds(examples, k, training)?;
    println!(
        "{k}-fold cross-validation (stratified by kind, seed {}), {} prompts",
        training.seed,
        examples.len()
    );
    for (c, name) in CLASSIFIERS.iter().enumerate() {
        println!("\n== {name}\nper fold, mean ± sd over {k} folds:");
        let acc: Vec<f64> = per_fold[c].iter().map(|p| accuracy(p)).collect();
        println!("  {:<16} {}", "accuracy", mean_sd(&acc));
        for kind in kinds_of(examples) {
            let r: Vec<f64> = per_fold[c].iter().filter_map(|p| recall(p, &kind)).collect();
            println!("  {:<16} {} (recall)", kind.name(), mean_sd(&r));
        }
        println!("all held-out predictions pooled:");
        print!("{}", report(per_fold[c].iter().flatten().cloned()));
    }
    Ok(())
}

/// [`cross_validate`] over `repeats` fold draws (seeds `training.seed` on).
fn repeated_cross_validation(
    examples: &[(&str, TaskKind)],
    k: usize,
    repeats: u32,
    training: &ClassifierTraining,
) -> Result<(), CliError> {
    let mut runs = Vec::new();
    for r in 0..repeats {
        let mut t = training.clone();
        t.seed = training.seed + u64::from(r);
        runs.push(run_folds(examples, k, &t)?);
    }
    println!(
        "{k}-fold cross-validation repeated {repeats} times (stratified by kind, seeds {}..={}), {} prompts",
        training.seed,
        training.seed + u64::from(repeats) - 1,
        examples.len()
    );
    for (c, name) in CLASSIFIERS.iter().enumerate() {
        println!(
            "\n== {name}\n  {:<16} {:<34} over all {} folds",
            "",
            format!("over {repeats} repeats (each pooled)"),
            k * repeats as usize
        );
        let pooled: Vec<Vec<(TaskKind, TaskKind)>> = runs
            .iter()
            .map(|r| r[c].iter().flatten().cloned().collect())
            .collect();
        let folds: Vec<&Vec<(TaskKind, TaskKind)>> = runs.iter().flat_map(|r| r[c].iter()).collect();
        let row = |label: &str, per_repeat: Vec<f64>, per_fold: Vec<f64>| {
            println!(
                "  {label:<16} {:<34} {}",
                format!(
                    "{} (min {:.3}, max {:.3})",
                    mean_sd(&per_repeat),
                    min(&per_repeat),
                    max(&per_repeat)
                ),
                mean_sd(&per_fold)
            );
        };
        row(
            "accuracy",
            pooled.iter().map(|p| accuracy(p)).collect(),
            folds.iter().map(|p| accuracy(p)).collect(),
        );
        for kind in kinds_of(examples) {
            row(
                kind.name(),
                pooled.iter().filter_map(|p| recall(p, &kind)).collect(),
                folds.iter().filter_map(|p| recall(p, &kind)).collect(),
            );
        }
        println!("all held-out predictions of every repeat pooled:");
        print!("{}", report(pooled.into_iter().flatten()));
    }
    Ok(())
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn mean_sd(v: &[f64]) -> String {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    format!("{mean:.3} ± {sd:.3}")
}

/// Accuracy, per-class recall and the confusion matrix (rows: true kind, columns: predicted).
fn report(pairs: impl Iterator<Item = (TaskKind, TaskKind)>) -> String {
    let mut matrix: BTreeMap<TaskKind, BTreeMap<TaskKind, usize>> = BTreeMap::new();
    let mut kinds = std::collections::BTreeSet::new();
    let (mut n, mut right) = (0usize, 0usize);
    for (truth, pred) in pairs {
        n += 1;
        right += usize::from(truth == pred);
        kinds.insert(truth.clone());
        kinds.insert(pred.clone());
        *matrix.entry(truth).or_default().entry(pred).or_default() += 1;
    }
    let mut out = format!(
        "accuracy {:.3} ({right}/{n})\n\nper true kind (recall):\n",
        right as f64 / n as f64
    );
    for (truth, row) in &matrix {
        let total: usize = row.values().sum();
        let hit = row.get(truth).copied().unwrap_or(0);
        out += &format!(
            "  {:<16} {:.3} ({hit}/{total})\n",
            truth.name(),
            hit as f64 / total as f64
        );
    }
    out += "\nconfusion (rows true, columns predicted):\n                 ";
    for k in &kinds {
        out += &format!("{:>6}", abbrev(k));
    }
    out += "\n";
    for (truth, row) in &matrix {
        out += &format!("  {:<15}", truth.name());
        for k in &kinds {
            out += &format!("{:>6}", row.get(k).copied().unwrap_or(0));
        }
        out += "\n";
    }
    out
}

fn abbrev(k: &TaskKind) -> String {
    k.name().chars().take(5).collect()
}
