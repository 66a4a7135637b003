//! The columnar outcome table and the packing step every reader ends with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::kind_for_label;
use crate::eval::EvalError;
use crate::model::ModelId;
use crate::task::TaskKind;

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
    pub(super) ids: Vec<Box<str>>,
    label_names: Vec<Arc<str>>,
    labels: Vec<u32>,
    kind_table: Vec<TaskKind>,
    kinds: Vec<u32>,
    input_tokens: Vec<u32>,
    pub(super) texts: Vec<Option<Box<str>>>,
    quality: QualityColumn,
    cost: Vec<f32>,
    latency_ms: Option<Vec<f32>>,
    obs_input_tokens: Option<Vec<u32>>,
    obs_output_tokens: Option<Vec<u32>>,
}

/// One prompt's metadata while loading.
pub(super) struct PromptMeta {
    pub(super) id: String,
    pub(super) label: String,
    pub(super) kind: Option<String>,
    pub(super) chars: Option<f64>,
    pub(super) text: Option<String>,
}

/// Collects columns and interns labels and kinds; checks and packs at the end.
pub(super) struct Builder {
    pub(super) source: PathBuf,
    pub(super) chars_per_token: f64,
    pub(super) models: Vec<ModelId>,
    pub(super) prompts: Vec<PromptMeta>,
    pub(super) quality: Vec<f32>,
    pub(super) cost: Vec<f32>,
    pub(super) latency: Vec<Option<f32>>,
    pub(super) in_tok: Vec<Option<u32>>,
    pub(super) out_tok: Vec<Option<u32>>,
}

impl Builder {
    pub(super) fn finish(self) -> Result<Outcomes, EvalError> {
        if self.models.is_empty() {
            return Err(EvalError::NoModels { path: self.source });
        }
        if self.prompts.is_empty() {
            return Err(EvalError::NoPrompts { path: self.source });
        }
        let n_models = self.models.len();
        let mut label_ix: HashMap<String, u32> = HashMap::new();
        let mut label_names = Vec::new();
        let mut kind_ix: HashMap<TaskKind, u32> = HashMap::new();
        let mut kind_table = Vec::new();
        let mut labels = Vec::with_capacity(self.prompts.len());
        let mut kinds = Vec::with_capacity(self.prompts.len());
        let mut ids = Vec::with_capacity(self.prompts.len());
        let mut texts = Vec::with_capacity(self.prompts.len());
        let mut input_tokens = Vec::with_capacity(self.prompts.len());
        for (p, meta) in self.prompts.into_iter().enumerate() {
            let l = match label_ix.get(&meta.label) {
                Some(&l) => l,
                None => {
                    let l = index_u32(&self.source, "distinct labels", label_names.len())?;
                    label_names.push(Arc::from(meta.label.as_str()));
                    label_ix.insert(meta.label.clone(), l);
                    l
                }
            };
            let kind = match &meta.kind {
                Some(k) => TaskKind::from_name(k),
                None => kind_for_label(&meta.label),
            };
            let k = match kind_ix.get(&kind) {
                Some(&k) => k,
                None => {
                    let k = index_u32(&self.source, "distinct task kinds", kind_table.len())?;
                    kind_ix.insert(kind.clone(), k);
                    kind_table.push(kind);
                    k
                }
            };
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
        let m = self.models.len();
        assert!(
            prompt < self.ids.len() && model < m,
            "observation (prompt {prompt}, model {model}) out of range: the table has {} prompts and {m} models",
            self.ids.len()
        );
        prompt * m + model
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
    /// characters (recorded, or of its text) divided by [`LoadOptions::chars_per_token`](super::LoadOptions::chars_per_token), rounded
    /// up; 0 when nothing is known.
    pub fn input_tokens(&self, prompt: usize) -> u32 {
        self.input_tokens[prompt]
    }

    /// The prompt's task kind.
    pub fn kind(&self, prompt: usize) -> &TaskKind {
        &self.kind_table[self.kinds[prompt] as usize]
    }

    /// The same table with each prompt's kind replaced by `kind(prompt)`; outcomes, labels and
    /// texts unchanged. Replaying it routes by those kinds, for example ones a classifier
    /// inferred from the texts instead of the benchmark's.
    pub fn with_kinds(&self, mut kind: impl FnMut(usize) -> TaskKind) -> Outcomes {
        let mut out = self.clone();
        out.kind_table.clear();
        for p in 0..self.prompts() {
            let k = kind(p);
            let i = match out.kind_table.iter().position(|x| *x == k) {
                Some(i) => i,
                None => {
                    out.kind_table.push(k);
                    out.kind_table.len() - 1
                }
            };
            // At most one entry per prompt, and prompts are indexed by u32 already.
            out.kinds[p] = i as u32;
        }
        out
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
            + self.prompts() * (4 + 4 + 4)
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
}

/// `len` as the next index of an interned table, or [`EvalError::TooLarge`] past `u32::MAX`.
fn index_u32(path: &Path, what: &'static str, len: usize) -> Result<u32, EvalError> {
    u32::try_from(len).map_err(|_| EvalError::TooLarge {
        path: path.to_owned(),
        what,
        count: len as u64 + 1,
        limit: u64::from(u32::MAX) + 1,
    })
}
