//! Outcome tables: what each model achieved and cost on each prompt, stored column-wise.
//!
//! # Layouts
//!
//! **Wide** (RouterBench's own layout, one row per prompt), read by [`Outcomes::read_wide_csv`]:
//!
//! | column | meaning |
//! |---|---|
//! | `sample_id`, `prompt_id` or `id` | the prompt's id; else `"<label>.<row_index>"` (RouteLLM: `"mmlu/anatomy.0"`, `"gsm8k.17"`) |
//! | `eval_name`, `label` or `benchmark` (+ `subject`) | the prompt's label (`"mbpp"`, `"mmlu/anatomy"`) |
//! | `kind` (optional) | the [`TaskKind`]; else derived from the label by [`kind_for_label`] |
//! | `full_prompt_chars` or `prompt_chars` (optional) | prompt length, for token estimates |
//! | `score\|<model>`, `correct\|<model>` or `quality\|<model>` | quality in `[0, 1]` |
//! | `cost_usd\|<model>` | USD the answer cost; else computed from prices (below) |
//! | `latency_ms\|<model>`, `input_tokens\|<model>`, `output_tokens\|<model>` (optional) | as named |
//! | `response_chars\|<model>` (optional) | answer length, for output-token estimates |
//!
//! Other columns (`oracle_model_to_route_to`, `contaminated`, ...) are ignored.
//!
//! **Long** (one row per observation), read by [`Outcomes::read_long`] from CSV or JSONL:
//! `prompt_id`, `model`, `quality`, `cost_usd` (or `cost`), and optionally `latency_ms`,
//! `input_tokens`, `output_tokens`, `kind`, `label`, `text`, `prompt_chars`. Every prompt must have
//! exactly one row for every model.
//!
//! # Costs from prices
//!
//! Where a model has no recorded cost (RouteLLM's `mmlu_gsm8k_outcomes.csv` has none), its cost
//! on a prompt is computed from [`LoadOptions::prices`] (USD per million tokens, e.g.
//! `../shared/data/prices.csv` read by [`PriceTable::read_csv`]) and token estimates:
//! input tokens `= ceil(prompt_chars / chars_per_token)`, output tokens `= ceil(response_chars /
//! chars_per_token)` where the answer length is recorded, else [`LoadOptions::default_output_tokens`]
//! (a loader error when that is unset). `chars_per_token` defaults to 4, the usual rule of thumb
//! for English text with GPT-style tokenizers.
//!
//! # Storage
//!
//! Observations are stored prompt-major (`prompt * models + model`): quality as one bit per
//! observation when every value is 0 or 1 (else an `f32`), cost as an `f32`, and latency and
//! token counts in separate optional `f32`/`u32` columns that cost nothing when absent. A
//! RouterBench table therefore takes 4.125 bytes per observation
//! ([`Outcomes::bytes_per_observation`]), plus per-prompt ids, labels and texts.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xorshift::XorShiftRng;

use super::EvalError;
use crate::model::{ModelId, Prices};
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

/// Prices per model, in USD per million tokens (the shared `prices.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    prices: HashMap<String, Prices>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a model's prices.
    pub fn insert(&mut self, model: impl Into<String>, prices: Prices) {
        self.prices.insert(model.into(), prices);
    }

    /// A model's prices.
    pub fn get(&self, model: &str) -> Option<Prices> {
        self.prices.get(model).copied()
    }

    /// Number of models priced.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether no model is priced.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// Reads a CSV with columns `model`, `input_usd_per_mtok`, `output_usd_per_mtok` (others ignored).
    ///
    /// # Errors
    /// [`EvalError::Io`], [`EvalError::MissingColumn`], or [`EvalError::Parse`] naming the line
    /// and column of a price that is not a finite number `>= 0`.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref();
        let mut rdr = csv_reader(path)?;
        let headers = headers(&mut rdr, path)?;
        let col = |name: &str| {
            find(&headers, &[name]).ok_or_else(|| EvalError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                hint: "a price table has columns model, input_usd_per_mtok, output_usd_per_mtok".into(),
            })
        };
        let (m, i, o) = (
            col("model")?,
            col("input_usd_per_mtok")?,
            col("output_usd_per_mtok")?,
        );
        let mut table = PriceTable::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| csv_error(path, e))?;
            let line = line_of(&rec);
            let price = |c: usize| -> Result<f64, EvalError> {
                let v = num(path, line, c, &headers, &rec)?;
                if v >= 0.0 {
                    Ok(v)
                } else {
                    Err(bad(
                        path,
                        line,
                        c,
                        &headers,
                        &rec,
                        "a finite price >= 0 (USD per million tokens)",
                    ))
                }
            };
            table.insert(&rec[m], Prices::new(price(i)?, price(o)?));
        }
        Ok(table)
    }
}

/// Options for the loaders: where costs come from when the data has none.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Prices for models whose cost is not recorded.
    pub prices: Option<PriceTable>,
    /// Output tokens assumed where a cost must be computed and no answer length is recorded.
    pub default_output_tokens: Option<u32>,
    /// Characters per token for token estimates from text lengths (default 4).
    pub chars_per_token: f64,
    /// Input tokens assumed where a cost must be computed and neither tokens, a prompt length
    /// nor a text is recorded.
    pub default_input_tokens: Option<u32>,
    /// The range of recorded scores, `(worst, best)`: each is mapped linearly onto `[0, 1]`
    /// (MT-Bench's 1–10 judge scores: `(1.0, 10.0)`). Without it, qualities must be in `[0, 1]`.
    pub quality_range: Option<(f64, f64)>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            prices: None,
            default_output_tokens: None,
            chars_per_token: 4.0,
            default_input_tokens: None,
            quality_range: None,
        }
    }
}

impl LoadOptions {
    /// Default options: costs must be recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes missing costs from these prices.
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Output tokens to assume where no answer length is recorded.
    pub fn default_output_tokens(mut self, n: u32) -> Self {
        self.default_output_tokens = Some(n);
        self
    }

    /// Characters per token for estimates from lengths.
    pub fn chars_per_token(mut self, c: f64) -> Self {
        self.chars_per_token = c;
        self
    }

    /// Input tokens to assume where nothing tells the prompt's length.
    pub fn default_input_tokens(mut self, n: u32) -> Self {
        self.default_input_tokens = Some(n);
        self
    }

    /// Maps recorded scores from `[worst, best]` onto `[0, 1]`.
    pub fn quality_range(mut self, worst: f64, best: f64) -> Self {
        self.quality_range = Some((worst, best));
        self
    }

    /// The recorded score `v` as a quality in `[0, 1]`, or what was expected.
    fn quality(&self, v: f64) -> Result<f64, String> {
        match self.quality_range {
            None if (0.0..=1.0).contains(&v) => Ok(v),
            None => Err("a quality in [0, 1] (rescale other scores with a quality range)".into()),
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                if (lo..=hi).contains(&v) {
                    Ok((v - lo) / (hi - lo))
                } else {
                    Err(format!("a score in [{lo}, {hi}]"))
                }
            }
            Some((lo, hi)) => Err(format!(
                "a valid quality range, not [{lo}, {hi}] (needs worst < best)"
            )),
        }
    }

    fn tokens(&self, chars: f64) -> u32 {
        (chars / self.chars_per_token)
            .ceil()
            .clamp(0.0, f64::from(u32::MAX)) as u32
    }
}

/// How to join prompt texts from a JSONL file onto an [`Outcomes`] table.
///
/// Each line is a JSON object; `key_field` (a string or a number) prefixed with `key_prefix`
/// must equal a prompt's [`id`](Outcomes::id); `text_field` is the text. Lines whose key
/// matches no prompt are skipped (a prompts file may cover more than the table). With
/// [`fewshot_prefixes`](Self::fewshot_prefixes), the text is the prefix of the line's label
/// followed by the query, exactly as RouterBench sent it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PromptJoin {
    /// The JSONL file.
    pub path: PathBuf,
    /// The field holding the key.
    pub key_field: String,
    /// Prepended to the key to form the prompt id.
    pub key_prefix: String,
    /// The field holding the text.
    pub text_field: String,
    /// A JSON object mapping label to few-shot prefix, the field naming the line's label and the
    /// boolean field saying whether the prefix applies.
    pub fewshot: Option<(PathBuf, String, String)>,
}

impl PromptJoin {
    /// Join `text_field` by `key_field` from `path`.
    pub fn new(
        path: impl Into<PathBuf>,
        key_field: impl Into<String>,
        text_field: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            key_field: key_field.into(),
            key_prefix: String::new(),
            text_field: text_field.into(),
            fewshot: None,
        }
    }

    /// Prepends `prefix` to each key before matching ids.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Prepends per-label few-shot prefixes from a JSON object file where `flag_field` is true.
    pub fn fewshot_prefixes(
        mut self,
        path: impl Into<PathBuf>,
        label_field: impl Into<String>,
        flag_field: impl Into<String>,
    ) -> Self {
        self.fewshot = Some((path.into(), label_field.into(), flag_field.into()));
        self
    }

    /// RouterBench as shared: `prompts.jsonl` (`sample_id`, `query`) plus `fewshot_prefixes.json`.
    pub fn routerbench(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self::new(dir.join("prompts.jsonl"), "sample_id", "query").fewshot_prefixes(
            dir.join("fewshot_prefixes.json"),
            "eval_name",
            "has_fewshot_prefix",
        )
    }

    /// RouteLLM's GSM8K prompts (`gsm8k_prompts.jsonl`, keyed by `row_index`) onto ids
    /// `gsm8k.<row_index>` as [`Outcomes::read_wide_csv`] names RouteLLM's rows.
    pub fn routellm_gsm8k(dir: impl AsRef<Path>) -> Self {
        Self::new(dir.as_ref().join("gsm8k_prompts.jsonl"), "row_index", "prompt").key_prefix("gsm8k.")
    }
}

/// A train/test partition of prompt indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Split {
    /// Indices of the training prompts, ascending.
    pub train: Vec<usize>,
    /// Indices of the test prompts, ascending.
    pub test: Vec<usize>,
}

impl Split {
    /// A seeded random split of `n` prompts with `round(n * test_fraction)` in the test part.
    ///
    /// The permutation is a Fisher–Yates shuffle driven by `XorShiftRng::seed_from_u64(seed)`
    /// (crate `rand_xorshift`): the same seed gives the same split on every machine.
    ///
    /// # Errors
    /// [`EvalError::InvalidArgument`] when `test_fraction` is not in `(0, 1)` or a part would be empty.
    pub fn seeded(n: usize, test_fraction: f64, seed: u64) -> Result<Split, EvalError> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(EvalError::invalid(
                "test fraction",
                format!("{test_fraction} is not in (0, 1)"),
            ));
        }
        let n_test = (n as f64 * test_fraction).round() as usize;
        if n_test == 0 || n_test >= n {
            return Err(EvalError::invalid(
                "test fraction",
                format!("{test_fraction} of {n} prompts leaves a part empty"),
            ));
        }
        let perm = permutation(n, seed);
        let mut test = perm[..n_test].to_vec();
        let mut train = perm[n_test..].to_vec();
        test.sort_unstable();
        train.sort_unstable();
        Ok(Split { train, test })
    }

    /// Prompts for which `is_test` holds are the test part, the rest the training part.
    pub fn by(n: usize, is_test: impl Fn(usize) -> bool) -> Split {
        let (test, train) = (0..n).partition(|&p| is_test(p));
        Split { train, test }
    }

    /// Prompts whose label is one of `test_labels` are the test part (hold out whole tasks).
    pub fn by_label(data: &Outcomes, test_labels: &[&str]) -> Split {
        Split::by(data.prompts(), |p| test_labels.contains(&data.label(p)))
    }

    /// `k` folds of a seeded permutation (as [`seeded`](Self::seeded)); fold `i` tests on the
    /// `i`-th slice and trains on the rest. Every prompt is tested exactly once.
    ///
    /// # Errors
    /// [`EvalError::InvalidArgument`] when `k < 2` or `k > n`.
    pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<Split>, EvalError> {
        if k < 2 || k > n {
            return Err(EvalError::invalid(
                "fold count",
                format!("k = {k} for {n} prompts: need 2 <= k <= prompts"),
            ));
        }
        let perm = permutation(n, seed);
        Ok((0..k)
            .map(|i| {
                let (lo, hi) = (i * n / k, (i + 1) * n / k);
                let mut test = perm[lo..hi].to_vec();
                let mut train: Vec<usize> = perm[..lo].iter().chain(&perm[hi..]).copied().collect();
                test.sort_unstable();
                train.sort_unstable();
                Split { train, test }
            })
            .collect())
    }
}

fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut XorShiftRng::seed_from_u64(seed));
    v
}

#[derive(Clone, Debug, PartialEq)]
enum QualityColumn {
    /// One bit per observation: every quality is 0 or 1.
    Binary(Vec<u64>),
    /// Any quality in `[0, 1]`.
    Real(Vec<f32>),
}

impl QualityColumn {
    fn from_values(v: Vec<f32>) -> Self {
        if v.iter().all(|&q| q == 0.0 || q == 1.0) {
            let mut bits = vec![0u64; v.len().div_ceil(64)];
            for (i, &q) in v.iter().enumerate() {
                if q == 1.0 {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            QualityColumn::Binary(bits)
        } else {
            QualityColumn::Real(v)
        }
    }

    #[inline]
    fn get(&self, i: usize) -> f64 {
        match self {
            QualityColumn::Binary(b) => ((b[i / 64] >> (i % 64)) & 1) as f64,
            QualityColumn::Real(v) => f64::from(v[i]),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            QualityColumn::Binary(b) => b.len() * 8,
            QualityColumn::Real(v) => v.len() * 4,
        }
    }
}

/// A table of recorded outcomes: for each prompt and each model, the quality the model's answer
/// achieved and what it cost, plus each prompt's id, label, [`TaskKind`], token estimate and text.
///
/// Prompts and models are addressed by index (`0..prompts()`, `0..models().len()`).
/// Every (prompt, model) pair has an observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcomes {
    source: PathBuf,
    models: Vec<ModelId>,
    ids: Vec<Box<str>>,
    label_names: Vec<Arc<str>>,
    labels: Vec<u32>,
    kind_table: Vec<TaskKind>,
    kinds: Vec<u16>,
    input_tokens: Vec<u32>,
    texts: Vec<Option<Box<str>>>,
    quality: QualityColumn,
    cost: Vec<f32>,
    latency_ms: Option<Vec<f32>>,
    obs_input_tokens: Option<Vec<u32>>,
    obs_output_tokens: Option<Vec<u32>>,
}

/// One prompt's metadata while loading.
struct PromptMeta {
    id: String,
    label: String,
    kind: Option<String>,
    chars: Option<f64>,
    text: Option<String>,
}

/// Collects columns and interns labels and kinds; checks and packs at the end.
struct Builder {
    source: PathBuf,
    chars_per_token: f64,
    models: Vec<ModelId>,
    prompts: Vec<PromptMeta>,
    quality: Vec<f32>,
    cost: Vec<f32>,
    latency: Vec<Option<f32>>,
    in_tok: Vec<Option<u32>>,
    out_tok: Vec<Option<u32>>,
}

impl Builder {
    fn finish(self) -> Result<Outcomes, EvalError> {
        if self.models.is_empty() {
            return Err(EvalError::Empty {
                path: self.source,
                what: "no models: expected `score|<model>` (or `correct|`, `quality|`) columns, or `model` values".into(),
            });
        }
        if self.prompts.is_empty() {
            return Err(EvalError::Empty {
                path: self.source,
                what: "no prompts: the table has a header but no rows".into(),
            });
        }
        let n_models = self.models.len();
        let mut label_ix: HashMap<String, u32> = HashMap::new();
        let mut label_names = Vec::new();
        let mut kind_ix: HashMap<TaskKind, u16> = HashMap::new();
        let mut kind_table = Vec::new();
        let mut labels = Vec::with_capacity(self.prompts.len());
        let mut kinds = Vec::with_capacity(self.prompts.len());
        let mut ids = Vec::with_capacity(self.prompts.len());
        let mut texts = Vec::with_capacity(self.prompts.len());
        let mut input_tokens = Vec::with_capacity(self.prompts.len());
        for (p, meta) in self.prompts.into_iter().enumerate() {
            let l = *label_ix.entry(meta.label.clone()).or_insert_with(|| {
                label_names.push(Arc::from(meta.label.as_str()));
                (label_names.len() - 1) as u32
            });
            let kind = match &meta.kind {
                Some(k) => TaskKind::from_name(k),
                None => kind_for_label(&meta.label),
            };
            let k = *kind_ix.entry(kind.clone()).or_insert_with(|| {
                kind_table.push(kind);
                (kind_table.len() - 1) as u16
            });
            // Prompt tokens: the mean recorded input tokens, else from the length in characters.
            let recorded: Vec<u32> = self.in_tok[p * n_models..(p + 1) * n_models]
                .iter()
                .flatten()
                .copied()
                .collect();
            let tokens = if recorded.is_empty() {
                let chars = meta
                    .chars
                    .or_else(|| meta.text.as_ref().map(|t| t.chars().count() as f64))
                    .unwrap_or(0.0);
                (chars / self.chars_per_token).ceil() as u32
            } else {
                (recorded.iter().map(|&t| u64::from(t)).sum::<u64>() / recorded.len() as u64) as u32
            };
            labels.push(l);
            kinds.push(k);
            ids.push(meta.id.into_boxed_str());
            texts.push(meta.text.map(String::into_boxed_str));
            input_tokens.push(tokens);
        }
        let all = |v: &[Option<f32>]| v.iter().all(Option::is_some);
        let opt_f32 =
            |v: Vec<Option<f32>>| (!v.is_empty() && all(&v)).then(|| v.into_iter().flatten().collect());
        let opt_u32 = |v: Vec<Option<u32>>| {
            (!v.is_empty() && v.iter().all(Option::is_some)).then(|| v.into_iter().flatten().collect())
        };
        Ok(Outcomes {
            source: self.source,
            models: self.models,
            ids,
            label_names,
            labels,
            kind_table,
            kinds,
            input_tokens,
            texts,
            quality: QualityColumn::from_values(self.quality),
            cost: self.cost,
            latency_ms: opt_f32(self.latency),
            obs_input_tokens: opt_u32(self.in_tok),
            obs_output_tokens: opt_u32(self.out_tok),
        })
    }
}

impl Outcomes {
    /// Number of prompts.
    pub fn prompts(&self) -> usize {
        self.ids.len()
    }

    /// The models, in column order.
    pub fn models(&self) -> &[ModelId] {
        &self.models
    }

    /// The index of the model with this id.
    pub fn model_index(&self, id: &str) -> Option<usize> {
        self.models.iter().position(|m| m.as_str() == id)
    }

    /// The file the table was read from (`<memory>` for tables built in code).
    pub fn source(&self) -> &Path {
        &self.source
    }

    #[inline]
    fn at(&self, prompt: usize, model: usize) -> usize {
        debug_assert!(model < self.models.len());
        prompt * self.models.len() + model
    }

    /// The quality `model` achieved on `prompt`, in `[0, 1]`.
    ///
    /// # Panics
    /// When an index is out of range.
    #[inline]
    pub fn quality(&self, prompt: usize, model: usize) -> f64 {
        self.quality.get(self.at(prompt, model))
    }

    /// What `model`'s answer to `prompt` cost, in USD.
    ///
    /// # Panics
    /// When an index is out of range.
    #[inline]
    pub fn cost(&self, prompt: usize, model: usize) -> f64 {
        f64::from(self.cost[self.at(prompt, model)])
    }

    /// Recorded latency in milliseconds, where the data has a latency column.
    pub fn latency_ms(&self, prompt: usize, model: usize) -> Option<f64> {
        let i = self.at(prompt, model);
        self.latency_ms.as_ref().map(|v| f64::from(v[i]))
    }

    /// Recorded output tokens, where the data has them.
    pub fn output_tokens(&self, prompt: usize, model: usize) -> Option<u32> {
        let i = self.at(prompt, model);
        self.obs_output_tokens.as_ref().map(|v| v[i])
    }

    /// Recorded input tokens of `model` on `prompt` (tokenizers differ), where the data has them.
    pub fn recorded_input_tokens(&self, prompt: usize, model: usize) -> Option<u32> {
        let i = self.at(prompt, model);
        self.obs_input_tokens.as_ref().map(|v| v[i])
    }

    /// The prompt's estimated input tokens: the mean recorded input tokens, else its length in
    /// characters (recorded, or of its text) divided by [`LoadOptions::chars_per_token`], rounded
    /// up; 0 when nothing is known.
    pub fn input_tokens(&self, prompt: usize) -> u32 {
        self.input_tokens[prompt]
    }

    /// The prompt's task kind.
    pub fn kind(&self, prompt: usize) -> &TaskKind {
        &self.kind_table[self.kinds[prompt] as usize]
    }

    /// The prompt's raw label (`eval_name`, or `benchmark/subject`).
    pub fn label(&self, prompt: usize) -> &str {
        &self.label_names[self.labels[prompt] as usize]
    }

    /// The index of the prompt's label in [`labels`](Self::labels).
    pub fn label_index(&self, prompt: usize) -> usize {
        self.labels[prompt] as usize
    }

    /// Every distinct label, in order of first appearance.
    pub fn labels(&self) -> &[Arc<str>] {
        &self.label_names
    }

    /// The prompt's text, where known.
    pub fn text(&self, prompt: usize) -> Option<&str> {
        self.texts[prompt].as_deref()
    }

    /// The prompt's id.
    pub fn id(&self, prompt: usize) -> &str {
        &self.ids[prompt]
    }

    /// Whether every quality is 0 or 1 (stored as bits).
    pub fn is_binary(&self) -> bool {
        matches!(self.quality, QualityColumn::Binary(_))
    }

    /// Mean quality of one model over every prompt.
    pub fn mean_quality(&self, model: usize) -> f64 {
        (0..self.prompts()).map(|p| self.quality(p, model)).sum::<f64>() / self.prompts() as f64
    }

    /// Mean cost of one model over every prompt, in USD.
    pub fn mean_cost(&self, model: usize) -> f64 {
        (0..self.prompts()).map(|p| self.cost(p, model)).sum::<f64>() / self.prompts() as f64
    }

    fn observation_bytes(&self) -> usize {
        self.quality.heap_bytes()
            + self.cost.len() * 4
            + self.latency_ms.as_ref().map_or(0, |v| v.len() * 4)
            + self.obs_input_tokens.as_ref().map_or(0, |v| v.len() * 4)
            + self.obs_output_tokens.as_ref().map_or(0, |v| v.len() * 4)
    }

    /// Bytes of heap used by the per-observation columns (quality, cost, and the optional
    /// latency and token columns) divided by the number of observations.
    pub fn bytes_per_observation(&self) -> f64 {
        self.observation_bytes() as f64 / self.cost.len() as f64
    }

    /// Bytes of heap used by the whole table, per-prompt columns and texts included (approximate:
    /// counts lengths and one 16-byte pointer per id and text, not allocator slack).
    pub fn heap_bytes(&self) -> usize {
        self.observation_bytes()
            + self.ids.iter().map(|s| s.len() + 16).sum::<usize>()
            + self
                .texts
                .iter()
                .map(|t| t.as_ref().map_or(0, |s| s.len()) + 16)
                .sum::<usize>()
            + self.prompts() * (4 + 2 + 4)
    }

    /// A table of the prompts at `idx` (in that order), with every model.
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn subset(&self, idx: &[usize]) -> Outcomes {
        let m = self.models.len();
        let gather_obs = |v: &[f32]| {
            idx.iter()
                .flat_map(|&p| v[p * m..(p + 1) * m].iter().copied())
                .collect()
        };
        let gather_u32 = |v: &[u32]| {
            idx.iter()
                .flat_map(|&p| v[p * m..(p + 1) * m].iter().copied())
                .collect()
        };
        let quality = QualityColumn::from_values(
            idx.iter()
                .flat_map(|&p| (0..m).map(move |j| (p, j)))
                .map(|(p, j)| self.quality(p, j) as f32)
                .collect(),
        );
        Outcomes {
            source: self.source.clone(),
            models: self.models.clone(),
            ids: idx.iter().map(|&p| self.ids[p].clone()).collect(),
            label_names: self.label_names.clone(),
            labels: idx.iter().map(|&p| self.labels[p]).collect(),
            kind_table: self.kind_table.clone(),
            kinds: idx.iter().map(|&p| self.kinds[p]).collect(),
            input_tokens: idx.iter().map(|&p| self.input_tokens[p]).collect(),
            texts: idx.iter().map(|&p| self.texts[p].clone()).collect(),
            quality,
            cost: gather_obs(&self.cost),
            latency_ms: self.latency_ms.as_deref().map(gather_obs),
            obs_input_tokens: self.obs_input_tokens.as_deref().map(gather_u32),
            obs_output_tokens: self.obs_output_tokens.as_deref().map(gather_u32),
        }
    }

    /// Reads a wide CSV table (see the [module docs](self)); costs must be recorded.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_wide_csv(path: impl AsRef<Path>) -> Result<Outcomes, EvalError> {
        Self::read_wide_csv_with(path, &LoadOptions::default())
    }

    /// Reads a wide CSV table, computing missing costs as `options` say.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_wide_csv_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
        let path = path.as_ref();
        let mut rdr = csv_reader(path)?;
        let headers = headers(&mut rdr, path)?;
        let id_col = find(&headers, &["sample_id", "prompt_id", "id"]);
        let bench_col = find(&headers, &["benchmark"]);
        let row_col = find(&headers, &["row_index"]);
        if id_col.is_none() && (bench_col.is_none() || row_col.is_none()) {
            return Err(EvalError::MissingColumn {
                path: path.to_owned(),
                column: "sample_id".into(),
                hint: "a wide table needs a prompt id column (`sample_id`, `prompt_id`, `id`, or `benchmark` with `row_index`)".into(),
            });
        }
        let label_col = find(&headers, &["eval_name", "label"]);
        let subject_col = find(&headers, &["subject"]);
        let kind_col = find(&headers, &["kind"]);
        let chars_col = find(&headers, &["full_prompt_chars", "prompt_chars"]);
        let text_col = find(&headers, &["text"]);

        // Model columns, in order of their quality columns.
        let mut models: Vec<ModelId> = Vec::new();
        let mut q_cols = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            for prefix in ["score|", "correct|", "quality|"] {
                if let Some(m) = h.strip_prefix(prefix) {
                    if models.iter().any(|x| x.as_str() == m) {
                        return Err(EvalError::Duplicate {
                            path: path.to_owned(),
                            line: 1,
                            what: format!("quality column for model `{m}` (column {})", i + 1),
                        });
                    }
                    models.push(ModelId::new(m));
                    q_cols.push(i);
                }
            }
        }
        if models.is_empty() {
            return Err(EvalError::Empty {
                path: path.to_owned(),
                what: "no models: expected `score|<model>` (or `correct|<model>`, `quality|<model>`) columns"
                    .into(),
            });
        }
        let per_model = |prefix: &str| -> Vec<Option<usize>> {
            models
                .iter()
                .map(|m| headers.iter().position(|h| *h == format!("{prefix}{m}")))
                .collect()
        };
        let cost_cols = per_model("cost_usd|");
        let lat_cols = per_model("latency_ms|");
        let in_cols = per_model("input_tokens|");
        let out_cols = per_model("output_tokens|");
        let resp_cols = per_model("response_chars|");
        // Models without a cost column need a price.
        let mut prices = Vec::with_capacity(models.len());
        for (j, m) in models.iter().enumerate() {
            prices.push(match cost_cols[j] {
                Some(_) => None,
                None => match options.prices.as_ref().and_then(|t| t.get(m.as_str())) {
                    Some(p) => Some(p),
                    None => {
                        return Err(EvalError::NoCost {
                            path: path.to_owned(),
                            model: m.to_string(),
                        });
                    }
                },
            });
        }
        if prices.iter().any(Option::is_some) && chars_col.is_none() && in_cols.iter().any(Option::is_none) {
            return Err(EvalError::MissingColumn {
                path: path.to_owned(),
                column: "prompt_chars".into(),
                hint: "costs computed from prices need the prompt length (`prompt_chars` or `full_prompt_chars`) or `input_tokens|<model>`".into(),
            });
        }

        let n_models = models.len();
        let mut b = Builder {
            source: path.to_owned(),
            chars_per_token: options.chars_per_token,
            models,
            prompts: Vec::new(),
            quality: Vec::new(),
            cost: Vec::new(),
            latency: Vec::new(),
            in_tok: Vec::new(),
            out_tok: Vec::new(),
        };
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, e)),
            }
            let line = line_of(&rec);

            let label = match (label_col, bench_col, subject_col) {
                (Some(c), _, _) => rec[c].to_owned(),
                (None, Some(bc), Some(sc)) if !rec[sc].is_empty() => format!("{}/{}", &rec[bc], &rec[sc]),
                (None, Some(bc), _) => rec[bc].to_owned(),
                _ => String::new(),
            };
            let id = match id_col {
                Some(c) => rec[c].to_owned(),
                None => format!("{label}.{}", &rec[row_col.unwrap_or_default()]),
            };
            if id.is_empty() {
                return Err(bad(
                    path,
                    line,
                    id_col.unwrap_or(0),
                    &headers,
                    &rec,
                    "a non-empty prompt id",
                ));
            }
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(EvalError::Duplicate {
                    path: path.to_owned(),
                    line,
                    what: format!("prompt id `{id}` (first on line {first})"),
                });
            }
            let chars = match chars_col {
                Some(c) => Some(num(path, line, c, &headers, &rec)?),
                None => None,
            };
            if let Some(c) = chars
                && c < 0.0
            {
                return Err(bad(
                    path,
                    line,
                    chars_col.unwrap_or(0),
                    &headers,
                    &rec,
                    "a length >= 0",
                ));
            }
            for j in 0..n_models {
                let q = num(path, line, q_cols[j], &headers, &rec)?;
                let q = options
                    .quality(q)
                    .map_err(|expected| bad(path, line, q_cols[j], &headers, &rec, &expected))?;
                b.quality.push(q as f32);
                let in_tok = opt_count(path, line, in_cols[j], &headers, &rec)?;
                let out_tok = opt_count(path, line, out_cols[j], &headers, &rec)?;
                let cost = match (cost_cols[j], prices[j]) {
                    (Some(c), _) => {
                        let v = num(path, line, c, &headers, &rec)?;
                        if v < 0.0 {
                            return Err(bad(path, line, c, &headers, &rec, "a finite cost >= 0 (USD)"));
                        }
                        v
                    }
                    (None, Some(p)) => {
                        let input = in_tok.unwrap_or_else(|| options.tokens(chars.unwrap_or(0.0)));
                        let output = match (out_tok, opt_num(path, line, resp_cols[j], &headers, &rec)?) {
                            (Some(t), _) => t,
                            (None, Some(rc)) => options.tokens(rc),
                            (None, None) => options.default_output_tokens.ok_or_else(|| {
                                EvalError::parse(
                                    path,
                                    line,
                                    None,
                                    None,
                                    format!(
                                        "the cost of `{}` must be computed from prices but the row records no answer length: set a default output token count",
                                        b.models[j]
                                    ),
                                )
                            })?,
                        };
                        p.cost_usd(input, 0, output)
                    }
                    (None, None) => unreachable!("checked above: every model has a cost column or a price"),
                };
                b.cost.push(cost as f32);
                b.latency
                    .push(match opt_num(path, line, lat_cols[j], &headers, &rec)? {
                        Some(v) if v < 0.0 => {
                            return Err(bad(
                                path,
                                line,
                                lat_cols[j].unwrap_or(0),
                                &headers,
                                &rec,
                                "a latency >= 0 ms",
                            ));
                        }
                        v => v.map(|v| v as f32),
                    });
                b.in_tok.push(in_tok);
                b.out_tok.push(out_tok);
            }
            b.prompts.push(PromptMeta {
                id,
                label,
                kind: kind_col.map(|c| rec[c].to_owned()).filter(|k| !k.is_empty()),
                chars,
                text: text_col.map(|c| rec[c].to_owned()).filter(|t| !t.is_empty()),
            });
        }
        b.finish()
    }

    /// Reads a long table from CSV (`*.csv`) or JSON Lines (any other extension); costs must be
    /// recorded. See the [module docs](self).
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_long(path: impl AsRef<Path>) -> Result<Outcomes, EvalError> {
        Self::read_long_with(path, &LoadOptions::default())
    }

    /// Reads a long table, computing missing costs as `options` say.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_long_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
        let path = path.as_ref();
        let rows = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
            long_rows_csv(path)?
        } else {
            long_rows_jsonl(path)?
        };
        long_build(path, rows, options)
    }

    /// Joins prompt texts (see [`PromptJoin`]); prompts the file does not cover keep their text
    /// (or none).
    ///
    /// # Errors
    /// [`EvalError::Io`]; [`EvalError::Parse`] for a line that is not a JSON object with the key
    /// and text fields, a label without a few-shot prefix; [`EvalError::Duplicate`] for a key
    /// seen twice.
    pub fn with_prompts_jsonl(mut self, join: &PromptJoin) -> Result<Outcomes, EvalError> {
        let path = join.path.as_path();
        let prefixes: Option<(HashMap<String, String>, &str, &str)> = match &join.fewshot {
            None => None,
            Some((ppath, label_field, flag_field)) => {
                let text = std::fs::read_to_string(ppath).map_err(|e| EvalError::io(ppath, e))?;
                let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
                    EvalError::parse(
                        ppath,
                        e.line() as u64,
                        Some(e.column() as u64),
                        None,
                        format!("expected a JSON object of label -> prefix text: {e}"),
                    )
                })?;
                Some((map, label_field.as_str(), flag_field.as_str()))
            }
        };
        let index: HashMap<&str, usize> = self.ids.iter().enumerate().map(|(i, s)| (&**s, i)).collect();
        let mut texts: Vec<Option<String>> = vec![None; self.ids.len()];
        let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let lineno = n as u64 + 1;
            let line = line.map_err(|e| EvalError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let obj: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&line).map_err(|e| {
                    EvalError::parse(
                        path,
                        lineno,
                        Some(e.column() as u64),
                        None,
                        format!("expected a JSON object: {e}"),
                    )
                })?;
            let key = match obj.get(&join.key_field) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(EvalError::parse(
                        path,
                        lineno,
                        None,
                        Some(&join.key_field),
                        "expected a string or number key",
                    ));
                }
            };
            let id = format!("{}{key}", join.key_prefix);
            if let Some(first) = seen.insert(id.clone(), lineno) {
                return Err(EvalError::Duplicate {
                    path: path.to_owned(),
                    line: lineno,
                    what: format!("prompt key `{key}` (first on line {first})"),
                });
            }
            let Some(&p) = index.get(id.as_str()) else {
                continue;
            };
            let Some(serde_json::Value::String(query)) = obj.get(&join.text_field) else {
                return Err(EvalError::parse(
                    path,
                    lineno,
                    None,
                    Some(&join.text_field),
                    "expected a string",
                ));
            };
            let text = match &prefixes {
                Some((map, label_field, flag_field))
                    if obj.get(*flag_field).and_then(|v| v.as_bool()) == Some(true) =>
                {
                    let label = obj
                        .get(*label_field)
                        .and_then(|v| v.as_str())
                        .unwrap_or(self.label(p));
                    let prefix = map.get(label).ok_or_else(|| {
                        EvalError::parse(
                            path,
                            lineno,
                            None,
                            Some(flag_field),
                            format!("the prompt has a few-shot prefix but the prefix file has none for label `{label}`"),
                        )
                    })?;
                    format!("{prefix}{query}")
                }
                _ => query.clone(),
            };
            texts[p] = Some(text);
        }
        for (slot, t) in self.texts.iter_mut().zip(texts) {
            if let Some(t) = t {
                *slot = Some(t.into_boxed_str());
            }
        }
        Ok(self)
    }
}

/// One observation of a long table, before packing.
struct LongRow {
    line: u64,
    prompt: String,
    model: String,
    quality: f64,
    cost: Option<f64>,
    latency_ms: Option<f64>,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    kind: Option<String>,
    label: Option<String>,
    text: Option<String>,
    prompt_chars: Option<f64>,
    output_chars: Option<f64>,
}

fn long_rows_csv(path: &Path) -> Result<Vec<LongRow>, EvalError> {
    let mut rdr = csv_reader(path)?;
    let headers = headers(&mut rdr, path)?;
    let need = |names: &[&str]| {
        find(&headers, names).ok_or_else(|| EvalError::MissingColumn {
            path: path.to_owned(),
            column: names[0].to_owned(),
            hint: "a long table needs columns prompt_id, model, quality, cost_usd".into(),
        })
    };
    // MT-Bench judgments (`question_id`, `turn`, `score`, `category`, `answer_chars`) load too:
    // the prompt id is `<question_id>.<turn>`.
    let pc = need(&["prompt_id", "question_id"])?;
    let turn = if headers[pc] == "question_id" {
        find(&headers, &["turn"])
    } else {
        None
    };
    let (mc, qc) = (need(&["model"])?, need(&["quality", "score"])?);
    let occ = find(&headers, &["output_chars", "answer_chars", "response_chars"]);
    let cc = find(&headers, &["cost_usd", "cost"]);
    let lc = find(&headers, &["latency_ms"]);
    let ic = find(&headers, &["input_tokens"]);
    let oc = find(&headers, &["output_tokens"]);
    let kc = find(&headers, &["kind"]);
    let labc = find(&headers, &["label", "category"]);
    let tc = find(&headers, &["text"]);
    let chc = find(&headers, &["prompt_chars"]);
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        let line = line_of(&rec);
        let s = |c: Option<usize>| c.map(|c| rec[c].to_owned()).filter(|s| !s.is_empty());
        rows.push(LongRow {
            line,
            prompt: match turn {
                Some(t) => format!("{}.{}", &rec[pc], &rec[t]),
                None => rec[pc].to_owned(),
            },
            model: rec[mc].to_owned(),
            quality: num(path, line, qc, &headers, &rec)?,
            cost: opt_num(path, line, cc, &headers, &rec)?,
            latency_ms: opt_num(path, line, lc, &headers, &rec)?,
            input_tokens: opt_count(path, line, ic, &headers, &rec)?,
            output_tokens: opt_count(path, line, oc, &headers, &rec)?,
            kind: s(kc),
            label: s(labc),
            text: s(tc),
            prompt_chars: opt_num(path, line, chc, &headers, &rec)?,
            output_chars: opt_num(path, line, occ, &headers, &rec)?,
        });
    }
    Ok(rows)
}

fn long_rows_jsonl(path: &Path) -> Result<Vec<LongRow>, EvalError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Row {
        prompt_id: serde_json::Value,
        model: String,
        quality: f64,
        #[serde(default, alias = "cost")]
        cost_usd: Option<f64>,
        #[serde(default)]
        latency_ms: Option<f64>,
        #[serde(default)]
        input_tokens: Option<u32>,
        #[serde(default)]
        output_tokens: Option<u32>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        prompt_chars: Option<f64>,
    }
    let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let lineno = n as u64 + 1;
        let line = line.map_err(|e| EvalError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Row = serde_json::from_str(&line).map_err(|e| {
            EvalError::parse(
                path,
                lineno,
                Some(e.column() as u64),
                None,
                format!("expected an observation {{prompt_id, model, quality, cost_usd, ...}}: {e}"),
            )
        })?;
        let prompt = match r.prompt_id {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(EvalError::parse(
                    path,
                    lineno,
                    None,
                    Some("prompt_id"),
                    "expected a string or number",
                ));
            }
        };
        rows.push(LongRow {
            line: lineno,
            prompt,
            model: r.model,
            quality: r.quality,
            cost: r.cost_usd,
            latency_ms: r.latency_ms,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            kind: r.kind,
            label: r.label,
            text: r.text,
            prompt_chars: r.prompt_chars,
            output_chars: None,
        });
    }
    Ok(rows)
}

fn long_build(path: &Path, rows: Vec<LongRow>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
    let row_err = |line: u64, field: &str, msg: String| EvalError::parse(path, line, None, Some(field), msg);
    let mut prompt_ix: HashMap<String, usize> = HashMap::new();
    let mut model_ix: HashMap<String, usize> = HashMap::new();
    let mut models: Vec<ModelId> = Vec::new();
    let mut metas: Vec<PromptMeta> = Vec::new();
    for r in &rows {
        if r.prompt.is_empty() {
            return Err(row_err(
                r.line,
                "prompt_id",
                "expected a non-empty prompt id".into(),
            ));
        }
        if r.model.is_empty() {
            return Err(row_err(r.line, "model", "expected a non-empty model id".into()));
        }
        if !model_ix.contains_key(&r.model) {
            model_ix.insert(r.model.clone(), models.len());
            models.push(ModelId::new(&r.model));
        }
        if !prompt_ix.contains_key(&r.prompt) {
            prompt_ix.insert(r.prompt.clone(), metas.len());
            metas.push(PromptMeta {
                id: r.prompt.clone(),
                label: String::new(),
                kind: None,
                chars: None,
                text: None,
            });
        }
    }
    let m = models.len();
    let n = metas.len();
    let mut filled = vec![false; n * m];
    let mut b = Builder {
        source: path.to_owned(),
        chars_per_token: options.chars_per_token,
        models,
        prompts: Vec::new(),
        quality: vec![0.0; n * m],
        cost: vec![0.0; n * m],
        latency: vec![None; n * m],
        in_tok: vec![None; n * m],
        out_tok: vec![None; n * m],
    };
    for r in rows {
        let p = prompt_ix[&r.prompt];
        let j = model_ix[&r.model];
        let i = p * m + j;
        if filled[i] {
            return Err(EvalError::Duplicate {
                path: path.to_owned(),
                line: r.line,
                what: format!("observation of model `{}` on prompt `{}`", r.model, r.prompt),
            });
        }
        filled[i] = true;
        let quality = options.quality(r.quality).map_err(|expected| {
            row_err(
                r.line,
                "quality",
                format!("expected {expected}, got {}", r.quality),
            )
        })?;
        let meta = &mut metas[p];
        for (slot, v, field) in [
            (&mut meta.label, r.label, "label"),
            (meta.kind.get_or_insert_with(String::new), r.kind, "kind"),
        ] {
            if let Some(v) = v {
                if slot.is_empty() {
                    *slot = v;
                } else if *slot != v {
                    return Err(row_err(
                        r.line,
                        field,
                        format!(
                            "prompt `{}` has {field} `{slot}` on an earlier row and `{v}` here",
                            r.prompt
                        ),
                    ));
                }
            }
        }
        if r.text.is_some() && meta.text.is_none() {
            meta.text = r.text;
        }
        if r.prompt_chars.is_some() {
            meta.chars = r.prompt_chars;
        }
        let cost = match r.cost {
            Some(c) if c.is_finite() && c >= 0.0 => c,
            Some(c) => {
                return Err(row_err(
                    r.line,
                    "cost_usd",
                    format!("expected a finite cost >= 0 (USD), got {c}"),
                ));
            }
            None => {
                let prices = options
                    .prices
                    .as_ref()
                    .and_then(|t| t.get(&r.model))
                    .ok_or_else(|| EvalError::NoCost {
                        path: path.to_owned(),
                        model: r.model.clone(),
                    })?;
                let input = r
                    .input_tokens
                    .or_else(|| meta.chars.map(|c| options.tokens(c)))
                    .or_else(|| {
                        meta.text
                            .as_ref()
                            .map(|t| options.tokens(t.chars().count() as f64))
                    })
                    .or(options.default_input_tokens)
                    .ok_or_else(|| {
                        row_err(
                            r.line,
                            "input_tokens",
                            "the cost must be computed from prices: give input_tokens, prompt_chars, text or a default input token count"
                                .into(),
                        )
                    })?;
                let output = r
                    .output_tokens
                    .or_else(|| r.output_chars.map(|c| options.tokens(c)))
                    .or(options.default_output_tokens)
                    .ok_or_else(|| {
                    row_err(
                        r.line,
                        "output_tokens",
                        "the cost must be computed from prices: give output_tokens or a default output token count"
                            .into(),
                    )
                })?;
                prices.cost_usd(input, 0, output)
            }
        };
        if let Some(l) = r.latency_ms
            && !(l.is_finite() && l >= 0.0)
        {
            return Err(row_err(
                r.line,
                "latency_ms",
                format!("expected a latency >= 0 ms, got {l}"),
            ));
        }
        b.quality[i] = quality as f32;
        b.cost[i] = cost as f32;
        b.latency[i] = r.latency_ms.map(|v| v as f32);
        b.in_tok[i] = r.input_tokens;
        b.out_tok[i] = r.output_tokens;
    }
    if let Some(i) = filled.iter().position(|f| !f) {
        return Err(EvalError::MissingObservation {
            path: path.to_owned(),
            prompt: metas[i / m].id.clone(),
            model: b.models[i % m].to_string(),
        });
    }
    for meta in &mut metas {
        if meta.kind.as_deref() == Some("") {
            meta.kind = None;
        }
    }
    b.prompts = metas;
    // Latency and token columns are kept only when every observation has them.
    b.finish()
}

// ---- CSV helpers -------------------------------------------------------------------------------

fn csv_reader(path: &Path) -> Result<csv::Reader<File>, EvalError> {
    let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
    Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(file))
}

fn headers(rdr: &mut csv::Reader<File>, path: &Path) -> Result<Vec<String>, EvalError> {
    let h = rdr.headers().map_err(|e| csv_error(path, e))?;
    if h.is_empty() || (h.len() == 1 && h[0].is_empty()) {
        return Err(EvalError::Empty {
            path: path.to_owned(),
            what: "the file is empty: expected a header line".into(),
        });
    }
    Ok(h.iter().map(str::to_owned).collect())
}

fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| headers.iter().position(|h| h == n))
}

fn line_of(rec: &csv::StringRecord) -> u64 {
    rec.position().map_or(0, csv::Position::line)
}

fn csv_error(path: &Path, e: csv::Error) -> EvalError {
    let line = e.position().map_or(0, csv::Position::line);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => EvalError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => EvalError::parse(
            path,
            line,
            None,
            None,
            format!("expected {expected_len} fields like the header, found {len}"),
        ),
        csv::ErrorKind::Utf8 { err, .. } => EvalError::parse(
            path,
            line,
            Some(err.field() as u64 + 1),
            None,
            "expected UTF-8 text",
        ),
        other => EvalError::parse(path, line, None, None, format!("{other:?}")),
    }
}

fn bad(
    path: &Path,
    line: u64,
    col: usize,
    headers: &[String],
    rec: &csv::StringRecord,
    expected: &str,
) -> EvalError {
    EvalError::parse(
        path,
        line,
        Some(col as u64 + 1),
        headers.get(col).map(String::as_str),
        format!("expected {expected}, got `{}`", rec.get(col).unwrap_or("")),
    )
}

fn num(
    path: &Path,
    line: u64,
    col: usize,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<f64, EvalError> {
    match rec[col].trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad(path, line, col, headers, rec, "a finite number")),
    }
}

fn opt_num(
    path: &Path,
    line: u64,
    col: Option<usize>,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<Option<f64>, EvalError> {
    match col {
        Some(c) if !rec[c].trim().is_empty() => num(path, line, c, headers, rec).map(Some),
        _ => Ok(None),
    }
}

fn opt_count(
    path: &Path,
    line: u64,
    col: Option<usize>,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<Option<u32>, EvalError> {
    match col {
        Some(c) if !rec[c].trim().is_empty() => rec[c]
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| bad(path, line, c, headers, rec, "a whole number of tokens")),
        _ => Ok(None),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scratch file under the target dir, unique per test.
    pub(crate) fn scratch(name: &str, contents: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/eval-data");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub(crate) fn shared_data() -> Option<PathBuf> {
        let dir = std::env::var_os("TASKROUTE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
        if dir.join("routerbench/outcomes.csv").exists() {
            Some(dir)
        } else {
            eprintln!(
                "skipped: shared data not found at {} (set TASKROUTE_DATA_DIR)",
                dir.display()
            );
            None
        }
    }

    /// RouterBench's outcomes from the shared data, joined with its prompts.
    pub(crate) fn routerbench(dir: &std::path::Path) -> Outcomes {
        let rb = dir.join("routerbench");
        Outcomes::read_wide_csv(rb.join("outcomes.csv"))
            .unwrap()
            .with_prompts_jsonl(&PromptJoin::routerbench(&rb))
            .unwrap()
    }

    const WIDE: &str = "sample_id,eval_name,full_prompt_chars,score|a,score|b,cost_usd|a,cost_usd|b,oracle_model_to_route_to\r\n\
        p1,mbpp,400,1,0,0.001,0.01,a\r\n\
        p2,winogrande,40,0,1,0.002,0.02,b\r\n\
        p3,gsm8k,4,1,1,0.001,0.01,a\r\n";

    #[test]
    fn wide_csv_with_crlf_loads_columns_labels_and_kinds() {
        let p = scratch("wide.csv", WIDE);
        let d = Outcomes::read_wide_csv(&p).unwrap();
        assert_eq!(d.prompts(), 3);
        assert_eq!(d.models(), &[ModelId::new("a"), ModelId::new("b")]);
        assert!(d.is_binary());
        assert_eq!(
            (d.quality(0, 0), d.quality(0, 1), d.quality(1, 1)),
            (1.0, 0.0, 1.0)
        );
        assert!((d.cost(1, 1) - 0.02).abs() < 1e-9);
        assert_eq!(d.kind(0), &TaskKind::CodeGeneration);
        assert_eq!(d.kind(1), &TaskKind::Classification);
        assert_eq!(d.kind(2), &TaskKind::Math);
        assert_eq!(d.label(1), "winogrande");
        assert_eq!(d.id(2), "p3");
        assert_eq!(d.input_tokens(0), 100);
        assert_eq!(d.input_tokens(2), 1);
        assert!((d.mean_quality(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((d.mean_cost(1) - 0.04 / 3.0).abs() < 1e-9);
        assert_eq!(d.text(0), None);
        let s = d.subset(&[2, 0]);
        assert_eq!((s.prompts(), s.id(0), s.id(1)), (2, "p3", "p1"));
        assert_eq!((s.quality(1, 0), s.quality(1, 1)), (1.0, 0.0));
        assert!((s.cost(0, 1) - 0.01).abs() < 1e-9);
        assert_eq!(s.label(1), "mbpp");
    }

    #[test]
    fn real_valued_quality_is_kept_as_f32_and_storage_is_compact() {
        let p = scratch(
            "wide-real.csv",
            "id,label,quality|a,quality|b,cost_usd|a,cost_usd|b,latency_ms|a,latency_ms|b\n\
             x,chat,0.25,0.5,1,2,100,200\n",
        );
        let d = Outcomes::read_wide_csv(&p).unwrap();
        assert!(!d.is_binary());
        assert_eq!(d.quality(0, 0), 0.25);
        assert_eq!(d.latency_ms(0, 1), Some(200.0));
        assert_eq!(d.kind(0), &TaskKind::Chat);
        // f32 quality + f32 cost + f32 latency
        assert_eq!(d.bytes_per_observation(), 12.0);
    }

    fn err(name: &str, contents: &str) -> String {
        let p = scratch(name, contents);
        Outcomes::read_wide_csv(&p).unwrap_err().to_string()
    }

    #[test]
    fn bad_wide_input_names_file_line_column_and_expectation() {
        let e = err(
            "bad-num.csv",
            "sample_id,score|a,cost_usd|a\np1,1,0.1\np2,yes,0.1\n",
        );
        assert!(
            e.contains("bad-num.csv:3:2: column `score|a`: expected a finite number, got `yes`"),
            "{e}"
        );
        let e = err("bad-q.csv", "sample_id,score|a,cost_usd|a\np1,2,0.1\n");
        assert!(
            e.contains(":2:2: column `score|a`: expected a quality in [0, 1]") && e.ends_with("got `2`"),
            "{e}"
        );
        let e = err("nan-cost.csv", "sample_id,score|a,cost_usd|a\np1,1,NaN\n");
        assert!(
            e.contains(":2:3: column `cost_usd|a`: expected a finite number, got `NaN`"),
            "{e}"
        );
        let e = err("neg-cost.csv", "sample_id,score|a,cost_usd|a\np1,1,-0.1\n");
        assert!(e.contains("expected a finite cost >= 0 (USD), got `-0.1`"), "{e}");
        let e = err("no-models.csv", "sample_id,eval_name\np1,mbpp\n");
        assert!(e.contains("no models"), "{e}");
        let e = err("no-rows.csv", "sample_id,score|a,cost_usd|a\r\n");
        assert!(e.contains("no prompts"), "{e}");
        let e = err("empty.csv", "");
        assert!(e.contains("empty"), "{e}");
        let e = err("no-cost.csv", "sample_id,score|a\np1,1\n");
        assert!(e.contains("no cost for model `a`"), "{e}");
        let e = err("short.csv", "sample_id,score|a,cost_usd|a\np1,1\n");
        assert!(
            e.contains("short.csv:2: expected 3 fields like the header, found 2"),
            "{e}"
        );
        let e = err("dup.csv", "sample_id,score|a,cost_usd|a\np1,1,0\np1,0,0\n");
        assert!(
            e.contains("dup.csv:3: duplicate prompt id `p1` (first on line 2)"),
            "{e}"
        );
        let e = err("no-id.csv", "eval_name,score|a,cost_usd|a\nx,1,0\n");
        assert!(e.contains("missing column `sample_id`"), "{e}");
    }

    #[test]
    fn costs_from_prices_use_token_estimates() {
        let p = scratch(
            "routellm-like.csv",
            "benchmark,subject,row_index,prompt_chars,correct|w,correct|s,response_chars|w,response_chars|s\n\
             mmlu,anatomy,0,400,1,1,,\n\
             gsm8k,,0,40,0,1,80,800\n",
        );
        let mut prices = PriceTable::new();
        prices.insert("w", Prices::new(1.0, 2.0));
        prices.insert("s", Prices::new(10.0, 30.0));
        let no_default = Outcomes::read_wide_csv_with(&p, &LoadOptions::new().prices(prices.clone()));
        assert!(no_default.unwrap_err().to_string().contains("no answer length"));
        let d = Outcomes::read_wide_csv_with(&p, &LoadOptions::new().prices(prices).default_output_tokens(1))
            .unwrap();
        assert_eq!((d.id(0), d.id(1)), ("mmlu/anatomy.0", "gsm8k.0"));
        assert_eq!((d.label(0), d.label(1)), ("mmlu/anatomy", "gsm8k"));
        assert_eq!((d.kind(0), d.kind(1)), (&TaskKind::Reasoning, &TaskKind::Math));
        // mmlu: 100 input tokens, 1 output token
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b;
        assert!(
            close(d.cost(0, 1), (100.0 * 10.0 + 30.0) / 1e6),
            "{}",
            d.cost(0, 1)
        );
        // gsm8k: 10 input tokens; w answers 20 tokens, s 200
        assert!(close(d.cost(1, 0), (10.0 + 40.0) / 1e6));
        assert!(close(d.cost(1, 1), (100.0 + 6000.0) / 1e6));
        let e = Outcomes::read_wide_csv(&p).unwrap_err().to_string();
        assert!(e.contains("no cost for model `w`"), "{e}");
    }

    const LONG_CSV: &str = "prompt_id,model,quality,cost_usd,latency_ms,label\n\
        p1,a,1,0.001,100,mbpp\n\
        p1,b,0,0.01,300,mbpp\n\
        p2,b,1,0.02,250,gsm8k\n\
        p2,a,0,0.002,90,gsm8k\n";

    #[test]
    fn long_csv_and_jsonl_load_the_same_table() {
        let c = Outcomes::read_long(scratch("long.csv", LONG_CSV)).unwrap();
        let jsonl = r#"{"prompt_id": "p1", "model": "a", "quality": 1, "cost_usd": 0.001, "latency_ms": 100, "label": "mbpp"}
{"prompt_id": "p1", "model": "b", "quality": 0, "cost_usd": 0.01, "latency_ms": 300, "label": "mbpp"}

{"prompt_id": "p2", "model": "b", "quality": 1, "cost": 0.02, "latency_ms": 250, "label": "gsm8k"}
{"prompt_id": "p2", "model": "a", "quality": 0, "cost_usd": 0.002, "latency_ms": 90, "label": "gsm8k"}
"#;
        let j = Outcomes::read_long(scratch("long.jsonl", jsonl)).unwrap();
        for d in [&c, &j] {
            assert_eq!(d.prompts(), 2);
            assert_eq!(d.models(), &[ModelId::new("a"), ModelId::new("b")]);
            assert_eq!((d.quality(1, 0), d.quality(1, 1)), (0.0, 1.0));
            assert!((d.cost(1, 1) - 0.02).abs() < 1e-9);
            assert_eq!(d.latency_ms(1, 0), Some(90.0));
            assert_eq!(d.kind(1), &TaskKind::Math);
        }
        assert_eq!(c.source(), Path::new(&scratch("long.csv", LONG_CSV)));
    }

    #[test]
    fn bad_long_input_is_refused_with_position() {
        let missing = "prompt_id,model,quality,cost_usd\np1,a,1,0\np1,b,1,0\np2,a,1,0\n";
        let e = Outcomes::read_long(scratch("missing.csv", missing))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no observation of model `b` on prompt `p2`"), "{e}");
        let dup = "prompt_id,model,quality,cost_usd\np1,a,1,0\np1,a,1,0\n";
        let e = Outcomes::read_long(scratch("dup-long.csv", dup))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dup-long.csv:3: duplicate observation of model `a` on prompt `p1`"),
            "{e}"
        );
        let e = Outcomes::read_long(scratch("bad.jsonl", "{\"prompt_id\": 1, \"model\": \"a\", \"quality\": 1, \"cost_usd\": 0}\n{\"prompt_id\": 2, \"model\": \"a\", \"quality\": \"x\"}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.jsonl:2:"), "{e}");
        assert!(e.contains("expected an observation"), "{e}");
        let neg = "{\"prompt_id\": 1, \"model\": \"a\", \"quality\": 1, \"cost_usd\": -1}\n";
        let e = Outcomes::read_long(scratch("neg.jsonl", neg))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("neg.jsonl:1: column `cost_usd`: expected a finite cost >= 0 (USD), got -1"),
            "{e}"
        );
        let e = Outcomes::read_long(scratch("empty.jsonl", "\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no models"), "{e}");
        let e = Outcomes::read_long(scratch("nocol.csv", "prompt_id,model,cost_usd\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing column `quality`"), "{e}");
    }

    #[test]
    fn mtbench_judgments_load_with_a_quality_range_and_priced_costs() {
        let p = scratch(
            "mtbench.csv",
            "question_id,category,turn,model,judge,judge_template,score,answer_chars,contaminated\n\
             81,writing,1,s,gpt-4,single-v1,10.0,4000,1\n\
             81,writing,1,w,gpt-4,single-v1,7.0,400,1\n\
             81,writing,2,s,gpt-4,single-v1-multi-turn,1.0,40,1\n\
             81,writing,2,w,gpt-4,single-v1-multi-turn,5.5,4,1\n",
        );
        let e = Outcomes::read_long(&p).unwrap_err().to_string();
        assert!(
            e.contains("mtbench.csv:2: column `quality`: expected a quality in [0, 1]"),
            "{e}"
        );
        let mut prices = PriceTable::new();
        prices.insert("s", Prices::new(10.0, 30.0));
        prices.insert("w", Prices::new(1.0, 1.0));
        let opts = LoadOptions::new().prices(prices).quality_range(1.0, 10.0);
        let e = Outcomes::read_long_with(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("default input token count"), "{e}");
        let d = Outcomes::read_long_with(&p, &opts.clone().default_input_tokens(100)).unwrap();
        assert_eq!((d.prompts(), d.id(0), d.id(1)), (2, "81.1", "81.2"));
        assert_eq!(d.label(0), "writing");
        assert_eq!(d.kind(0), &TaskKind::Chat);
        assert_eq!((d.quality(0, 0), d.quality(1, 0)), (1.0, 0.0));
        assert!((d.quality(0, 1) - 6.0 / 9.0).abs() < 1e-6);
        assert!((d.quality(1, 1) - 0.5).abs() < 1e-6);
        assert!(!d.is_binary());
        // s on 81.1: 100 input tokens at 10 $/M + 1000 output tokens at 30 $/M
        assert!((d.cost(0, 0) - 0.031).abs() < 1e-8, "{}", d.cost(0, 0));
        let bad = LoadOptions::new().quality_range(10.0, 1.0);
        let e = Outcomes::read_long_with(&p, &bad).unwrap_err().to_string();
        assert!(e.contains("needs worst < best"), "{e}");
    }

    #[test]
    fn prompt_texts_join_by_id_with_fewshot_prefix() {
        let d = Outcomes::read_wide_csv(scratch("join.csv", WIDE)).unwrap();
        let prompts = scratch(
            "join.jsonl",
            "{\"sample_id\": \"p2\", \"eval_name\": \"winogrande\", \"query\": \"Q2\", \"has_fewshot_prefix\": true}\n\
             {\"sample_id\": \"p1\", \"eval_name\": \"mbpp\", \"query\": \"Q1\", \"has_fewshot_prefix\": false}\n\
             {\"sample_id\": \"other\", \"eval_name\": \"mbpp\", \"query\": \"Q\", \"has_fewshot_prefix\": false}\n",
        );
        let prefixes = scratch("prefixes.json", "{\"winogrande\": \"SHOTS\\n\"}");
        let join = PromptJoin::new(&prompts, "sample_id", "query").fewshot_prefixes(
            &prefixes,
            "eval_name",
            "has_fewshot_prefix",
        );
        let d = d.with_prompts_jsonl(&join).unwrap();
        assert_eq!(d.text(0), Some("Q1"));
        assert_eq!(d.text(1), Some("SHOTS\nQ2"));
        assert_eq!(d.text(2), None);
        let empty_prefixes = scratch("prefixes-empty.json", "{}");
        let join = PromptJoin::new(&prompts, "sample_id", "query").fewshot_prefixes(
            &empty_prefixes,
            "eval_name",
            "has_fewshot_prefix",
        );
        let e = Outcomes::read_wide_csv(scratch("join.csv", WIDE))
            .unwrap()
            .with_prompts_jsonl(&join)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("join.jsonl:1: column `has_fewshot_prefix`"),
            "{e}"
        );
    }

    #[test]
    fn splits_are_seeded_disjoint_and_complete() {
        let a = Split::seeded(100, 0.3, 7).unwrap();
        assert_eq!(a, Split::seeded(100, 0.3, 7).unwrap());
        assert_ne!(a, Split::seeded(100, 0.3, 8).unwrap());
        assert_eq!((a.train.len(), a.test.len()), (70, 30));
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert!(Split::seeded(100, 1.0, 7).is_err());
        assert!(Split::seeded(2, 0.1, 7).is_err());
        let folds = Split::kfold(10, 3, 1).unwrap();
        assert_eq!(folds.len(), 3);
        let mut tested: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        tested.sort_unstable();
        assert_eq!(tested, (0..10).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 10);
            assert!(f.test.iter().all(|t| !f.train.contains(t)));
        }
        assert!(Split::kfold(10, 1, 1).is_err());
        let d = Outcomes::read_wide_csv(scratch("split.csv", WIDE)).unwrap();
        let s = Split::by_label(&d, &["mbpp", "gsm8k"]);
        assert_eq!((s.train, s.test), (vec![1], vec![0, 2]));
    }

    #[test]
    fn shared_routerbench_single_models_match_readme() {
        let Some(dir) = shared_data() else { return };
        let d = routerbench(&dir);
        assert_eq!(d.prompts(), 2205);
        assert_eq!(d.models().len(), 11);
        assert!(d.is_binary());
        assert!(d.bytes_per_observation() <= 4.2, "{}", d.bytes_per_observation());
        assert!((0..d.prompts()).all(|p| d.text(p).is_some()));
        // README (whole RouterBench part, train + test): accuracy, m$ per prompt. The shared file
        // holds the train split only, so agreement is expected to within sampling error.
        for (model, acc, mcost) in [
            ("gpt-4-1106-preview", 0.879, 5.0),
            ("zero-one-ai/Yi-34B-Chat", 0.773, 0.33),
            ("mistralai/mixtral-8x7b-chat", 0.741, 0.25),
            ("gpt-3.5-turbo-1106", 0.732, 0.42),
            ("mistralai/mistral-7b-chat", 0.584, 0.08),
        ] {
            let j = d.model_index(model).unwrap();
            let (q, c) = (d.mean_quality(j), d.mean_cost(j) * 1e3);
            eprintln!("{model}: accuracy {q:.3} (README {acc}), {c:.3} m$ (README {mcost})");
            assert!((q - acc).abs() < 0.01, "{model}: {q} vs {acc}");
            assert!((c - mcost).abs() / mcost < 0.03, "{model}: {c} vs {mcost}");
        }
    }

    #[test]
    fn shared_mtbench_turn_one_scores_match_readme() {
        let Some(dir) = shared_data() else { return };
        let prices = PriceTable::read_csv(dir.join("prices.csv")).unwrap();
        let d = Outcomes::read_long_with(
            dir.join("routellm/mtbench_judgments.csv"),
            &LoadOptions::new()
                .prices(prices)
                .quality_range(1.0, 10.0)
                .default_input_tokens(100),
        )
        .unwrap();
        assert_eq!((d.prompts(), d.models().len()), (160, 2));
        let turn1: Vec<usize> = (0..d.prompts()).filter(|&p| d.id(p).ends_with(".1")).collect();
        let t = d.subset(&turn1);
        for (model, readme) in [
            ("mistralai/Mixtral-8x7B-Instruct-v0.1", 8.69),
            ("gpt-4-1106-preview", 9.41),
        ] {
            let j = t.model_index(model).unwrap();
            let score = 1.0 + 9.0 * t.mean_quality(j);
            eprintln!("MT-Bench turn 1 {model}: {score:.3} (README {readme})");
            assert!((score - readme).abs() < 0.006, "{model}: {score}");
        }
    }

    #[test]
    fn shared_routellm_accuracies_match_readme() {
        let Some(dir) = shared_data() else { return };
        let rl = dir.join("routellm");
        let prices = PriceTable::read_csv(dir.join("prices.csv")).unwrap();
        let d = Outcomes::read_wide_csv_with(
            rl.join("mmlu_gsm8k_outcomes.csv"),
            &LoadOptions::new().prices(prices).default_output_tokens(1),
        )
        .unwrap()
        .with_prompts_jsonl(&PromptJoin::routellm_gsm8k(&rl))
        .unwrap();
        assert_eq!(d.prompts(), 14_042 + 1_319);
        for (bench, weak, strong) in [("mmlu", 0.681, 0.806), ("gsm8k", 0.638, 0.857)] {
            let idx: Vec<usize> = (0..d.prompts())
                .filter(|&p| d.label(p).split('/').next() == Some(bench))
                .collect();
            let s = d.subset(&idx);
            let (w, st) = (s.mean_quality(0), s.mean_quality(1));
            eprintln!("{bench}: {} prompts, weak {w:.3}, strong {st:.3}", s.prompts());
            assert!(
                (w - weak).abs() < 0.0005 && (st - strong).abs() < 0.0005,
                "{bench}: {w} {st}"
            );
            if bench == "gsm8k" {
                assert!((0..s.prompts()).all(|p| s.text(p).is_some()));
            }
        }
    }
}
