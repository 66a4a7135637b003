//! `taskroute classify`: the task kind of each prompt in a JSONL file; accuracy and a confusion
//! matrix when the lines carry labels.

use std::collections::BTreeMap;
use std::path::PathBuf;

use taskroute::TaskKind;
use taskroute::request::{ClassifyInput, KindClassifier, RuleClassifier};

use crate::CliError;

/// Label prompts with their task kind (rule-based classifier).
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
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.input).map_err(|e| CliError::io("read", &args.input, e))?;
    let classifier = RuleClassifier::new();
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
        let c = classifier.classify(&ClassifyInput::text(prompt));
        rows.push((c, label));
    }
    if rows.is_empty() || rows.iter().any(|(_, l)| l.is_none()) {
        for (c, _) in &rows {
            println!("{}\t{:.2}", c.kind, c.confidence);
        }
        return Ok(());
    }
    print!(
        "{}",
        report(
            rows.iter()
                .map(|(c, l)| (l.clone().unwrap_or(TaskKind::Chat), c.kind.clone()))
        )
    );
    Ok(())
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
