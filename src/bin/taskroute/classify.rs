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

/// Stratified k-fold cross-validation of the rules and the learned classifier.
fn cross_validate(
    examples: &[(&str, TaskKind)],
    k: usize,
    training: &ClassifierTraining,
) -> Result<(), CliError> {
    // Folds: each kind's examples shuffled (seeded) and dealt round-robin.
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
    let rules = RuleClassifier::new();
    let mut pooled: [Vec<(TaskKind, TaskKind)>; 2] = [Vec::new(), Vec::new()];
    let mut per_fold: [Vec<Vec<(TaskKind, TaskKind)>>; 2] = [Vec::new(), Vec::new()];
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
            pooled[c].extend(p.iter().cloned());
            per_fold[c].push(p);
        }
    }
    println!(
        "{k}-fold cross-validation (stratified by kind, seed {}), {} prompts",
        training.seed,
        examples.len()
    );
    for (c, name) in [
        "rules (RuleClassifier; not trained: the same rules on every fold)",
        "learned (LearnedClassifier, trained on the other folds)",
    ]
    .iter()
    .enumerate()
    {
        println!("\n== {name}\nper fold, mean ± sd over {k} folds:");
        let acc: Vec<f64> = per_fold[c]
            .iter()
            .map(|p| p.iter().filter(|(t, q)| t == q).count() as f64 / p.len() as f64)
            .collect();
        println!("  {:<16} {}", "accuracy", mean_sd(&acc));
        for kind in by_kind.keys() {
            let recall: Vec<f64> = per_fold[c]
                .iter()
                .filter_map(|p| {
                    let of: Vec<_> = p.iter().filter(|(t, _)| t == *kind).collect();
                    (!of.is_empty())
                        .then(|| of.iter().filter(|(t, q)| t == q).count() as f64 / of.len() as f64)
                })
                .collect();
            println!("  {:<16} {} (recall)", kind.name(), mean_sd(&recall));
        }
        println!("all held-out predictions pooled:");
        print!("{}", report(pooled[c].iter().cloned()));
    }
    Ok(())
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
