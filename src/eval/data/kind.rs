//! Benchmark label → task kind.

use crate::task::TaskKind;

/// The task kind a benchmark label stands for.
///
/// The label's part before a `/` is the benchmark (`"mmlu/anatomy"` → `"mmlu"`):
/// `mbpp`, `humaneval` → [`TaskKind::CodeGeneration`]; `gsm8k`, `math` → [`TaskKind::Math`];
/// `arc-challenge`, `arc-easy`, `mmlu`, `hellaswag` → [`TaskKind::Reasoning`]; `winogrande`
/// (choose one of two fillers) → [`TaskKind::Classification`]; `mt-bench`, `mtbench` →
/// [`TaskKind::Chat`]; MT-Bench's categories: `coding` → [`TaskKind::CodeGeneration`],
/// `writing`, `roleplay`, `stem`, `humanities` → [`TaskKind::Chat`] (`math`, `reasoning` and
/// `extraction` are built-in names); anything else → the built-in kind of that name, else a
/// custom kind.
pub fn kind_for_label(label: &str) -> TaskKind {
    let bench = label.split('/').next().unwrap_or(label).to_ascii_lowercase();
    match bench.as_str() {
        "mbpp" | "humaneval" => TaskKind::CodeGeneration,
        "gsm8k" | "math" => TaskKind::Math,
        "arc-challenge" | "arc-easy" | "arc" | "mmlu" | "hellaswag" => TaskKind::Reasoning,
        "winogrande" => TaskKind::Classification,
        "mt-bench" | "mtbench" | "writing" | "roleplay" | "stem" | "humanities" => TaskKind::Chat,
        "coding" => TaskKind::CodeGeneration,
        _ => TaskKind::from_name(label),
    }
}
