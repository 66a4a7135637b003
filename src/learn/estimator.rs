//! [`LearnedEstimator`]: training and estimating (settings in `config.rs`, the file format in
//! `format.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::config::{Learner, TrainConfig};
use super::data::TrainingSet;
use super::features::{Features, Featurizer};
use super::learners::{Irt, KindPriors, Knn, LogReg, Model, Scratch, TrainInput};
use super::lengths::{LengthModel, OutputLengths};
use super::mf::Mf;
use super::report::CvReport;
use super::{Corruption, LearnError};
use crate::estimate::{QualityEstimator, one_by_batch};
use crate::model::{ModelId, ModelSpec};
use crate::task::{Task, TaskKind};

/// The serialized part of an estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Payload {
    pub(super) config: TrainConfig,
    pub(super) models: Vec<ModelId>,
    trained_on: usize,
    priors: KindPriors,
    /// Boilerplate shared by every training prompt of a kind (a few-shot prefix), stripped
    /// before featurizing.
    prefixes: Vec<(TaskKind, String)>,
    /// No training prompt had text: the estimator learned from kinds and lengths only, and
    /// estimates tasks without text from those too.
    text_free: bool,
    model: Model,
    /// The cross-validation that chose the settings ([`LearnedEstimator::fit`]); `None` for
    /// [`LearnedEstimator::train`] and files of format version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cv: Option<CvReport>,
    /// The output-length model ([`TrainConfig::lengths`]); `None` for
    /// [`OutputLengths::Task`] and older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lengths: Option<LengthModel>,
}

/// Shortest shared prefix worth stripping, in bytes.
const MIN_PREFIX: usize = 64;

/// For each kind with at least two prompts, their longest common prefix where it is at least
/// [`MIN_PREFIX`] bytes long (cut back to a character boundary).
fn common_prefixes(data: &TrainingSet) -> Vec<(TaskKind, String)> {
    let mut by_kind: Vec<(TaskKind, &str, usize, usize)> = Vec::new(); // kind, prefix, len, count
    for i in 0..data.len() {
        let (k, t) = (data.kind(i), data.text(i));
        match by_kind.iter_mut().find(|e| &e.0 == k) {
            Some(e) => {
                let n = e.1.as_bytes()[..e.2]
                    .iter()
                    .zip(t.as_bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                e.2 = n;
                e.3 += 1;
            }
            None => by_kind.push((k.clone(), t, t.len(), 1)),
        }
    }
    by_kind
        .into_iter()
        .filter(|e| e.3 >= 2)
        .filter_map(|(k, t, mut len, _)| {
            while !t.is_char_boundary(len) {
                len -= 1;
            }
            (len >= MIN_PREFIX).then(|| (k, t[..len].to_owned()))
        })
        .collect()
}

/// `text` without its kind's shared prefix, where it starts with it.
fn strip_prefix<'a>(prefixes: &[(TaskKind, String)], kind: &TaskKind, text: &'a str) -> &'a str {
    prefixes
        .iter()
        .find(|(k, _)| k == kind)
        .and_then(|(_, p)| text.strip_prefix(p.as_str()))
        .unwrap_or(text)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A [`QualityEstimator`] learned from recorded outcomes and prompt texts.
///
/// Train it with [`train`](Self::train), save it with [`save`](Self::save) /
/// [`to_json`](Self::to_json), load it with [`load`](Self::load) /
/// [`from_json`](Self::from_json). Cheap to clone (shared behind an `Arc`), `Send + Sync`.
///
/// Boilerplate that every training prompt of a kind starts with (a fixed few-shot prefix, a
/// system preamble) is learned at training time and stripped before featurizing, so the
/// features describe the part of the prompt that varies.
///
/// ## What it returns
/// For a model it was trained on and a task with text: the learner's probability that the
/// model does the task well, shrunk toward the model's success rate on the task's kind
/// ([`TrainConfig::shrink`]). Then, by case:
/// - **Task without text** ([`Task::text`] is `None`): the per-kind prior alone; except for an
///   estimator trained on prompts that all lacked text (kinds and lengths only, e.g. MMLU as
///   shared), which estimates every task from its kind and [`Task::input_tokens`].
/// - **Empty text**: the learner's estimate for an empty prompt (its biases), shrunk as usual.
/// - **A kind not in the training data**: the model's overall success rate serves as prior.
/// - **A model it was not trained on**: the model's catalog prior for the task's kind
///   ([`QualityPriors::get`](crate::QualityPriors::get)), and `None` where the catalog has
///   none, so the router rejects it with
///   [`Rejection::NoQualityEstimate`](crate::Rejection::NoQualityEstimate).
#[derive(Clone)]
pub struct LearnedEstimator {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) payload: Payload,
    featurizer: Featurizer,
    index: HashMap<ModelId, usize>,
    name: String,
    /// Unique per loaded or trained estimator: the key of the thread's featurized-prompt cache.
    id: u64,
}

/// The next [`Inner::id`] (0 is never given: an empty cache).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl fmt::Debug for LearnedEstimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LearnedEstimator")
            .field("learner", &self.inner.payload.config.learner)
            .field("models", &self.inner.payload.models)
            .field("trained_on", &self.inner.payload.trained_on)
            .finish_non_exhaustive()
    }
}

impl LearnedEstimator {
    /// Trains an estimator on `data` with `config`. Deterministic for a given seed.
    ///
    /// A model whose outcomes are all one class is handled: its weights stay near its (smoothed)
    /// success rate. Prompts where a model has no outcome are left out of that model's fit.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for a bad setting, [`LearnError::EmptyTrainingSet`],
    /// [`LearnError::NoObservations`] when a model has no outcome at all.
    pub fn train(data: &TrainingSet, config: &TrainConfig) -> Result<Self, LearnError> {
        Self::train_inner(data, config, None)
    }

    /// As [`train`](Self::train), recording the cross-validation that chose `config`.
    pub(super) fn train_with_report(
        data: &TrainingSet,
        config: &TrainConfig,
        report: CvReport,
    ) -> Result<Self, LearnError> {
        Self::train_inner(data, config, Some(report))
    }

    fn train_inner(
        data: &TrainingSet,
        config: &TrainConfig,
        cv: Option<CvReport>,
    ) -> Result<Self, LearnError> {
        config.validate()?;
        data.check_trainable()?;
        let featurizer = Featurizer::new(config.features.clone())?;
        let priors = KindPriors::fit(data);
        let prefixes = common_prefixes(data);
        let feats: Vec<Features> = (0..data.len())
            .map(|i| {
                let text = strip_prefix(&prefixes, data.kind(i), data.text(i));
                let mut x = Features::new();
                featurizer.featurize_task_into(
                    text,
                    data.kind(i),
                    data.input_tokens(i),
                    &mut String::new(),
                    &mut x,
                );
                x
            })
            .collect();
        let kind_of: Vec<Option<usize>> = (0..data.len()).map(|i| priors.kind_index(data.kind(i))).collect();
        let input = TrainInput {
            data,
            feats: &feats,
            kind_of: &kind_of,
            priors: &priors,
            dim: featurizer.dim(),
            h: config.hyper(),
        };
        let by_kind = config
            .knn_by_kind
            .then_some((kind_of.as_slice(), priors.kinds.len()));
        let knn = || Knn::train(&feats, data, config.k, config.knn_bits, 2.0, by_kind);
        let model = match config.learner {
            Learner::Prior => Model::Prior,
            Learner::LogReg => Model::LogReg(LogReg::train(input)),
            Learner::Knn => Model::Knn(knn()),
            Learner::Irt => Model::Irt(Irt::train(input)),
            Learner::Mf => Model::Mf(Mf::train(input, config.rank)),
            Learner::Ensemble => Model::Ensemble {
                members: vec![
                    (1.0, Model::Irt(Irt::train(input))),
                    (1.0, Model::LogReg(LogReg::train(input))),
                    (1.0, Model::Knn(knn())),
                ],
            },
        };
        let lengths = match config.lengths {
            OutputLengths::Task => None,
            l if !data.has_output_tokens() => {
                let _ = l;
                return Err(LearnError::NoOutputTokens);
            }
            l => Some(LengthModel::train(input, l == OutputLengths::Text)),
        };
        Self::from_payload(Payload {
            config: config.clone(),
            models: data.models().to_vec(),
            trained_on: data.len(),
            priors,
            prefixes,
            text_free: (0..data.len()).all(|i| data.text(i).is_empty()),
            model,
            cv,
            lengths,
        })
    }

    pub(super) fn from_payload(mut payload: Payload) -> Result<Self, LearnError> {
        payload
            .config
            .validate()
            .map_err(|e| Corruption::Settings(Box::new(e)))?;
        let featurizer = Featurizer::new(payload.config.features.clone())?;
        let m = payload.models.len();
        if m == 0 {
            return Err(Corruption::NoModels.into());
        }
        payload.priors.validate(m)?;
        let kinds = payload.priors.kinds.len();
        payload.model.validate(featurizer.dim(), m, kinds)?;
        if let Some(l) = &mut payload.lengths {
            l.validate(featurizer.dim(), m, kinds)?;
        }
        if payload.cv.as_ref().is_some_and(|r| !r.is_consistent()) {
            return Err(Corruption::Shape {
                part: "cross-validation report",
            }
            .into());
        }
        let mut index = HashMap::with_capacity(m);
        for (j, id) in payload.models.iter().enumerate() {
            if index.insert(id.clone(), j).is_some() {
                return Err(Corruption::DuplicateModel { model: id.clone() }.into());
            }
        }
        let name = format!("learned ({})", payload.config.learner);
        Ok(Self {
            inner: Arc::new(Inner {
                payload,
                featurizer,
                index,
                name,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            }),
        })
    }

    /// The models it was trained on, in column order.
    pub fn models(&self) -> &[ModelId] {
        &self.inner.payload.models
    }

    /// The settings it was trained with.
    pub fn config(&self) -> &TrainConfig {
        &self.inner.payload.config
    }

    /// The cross-validation figures that chose its learner and settings, for an estimator made
    /// by [`fit`](Self::fit) (`None` for [`train`](Self::train)).
    pub fn cv_report(&self) -> Option<&CvReport> {
        self.inner.payload.cv.as_ref()
    }

    /// Estimates for every trained model on prompt `i` of `data` (its text, kind and input
    /// tokens), into `out` (length `models().len()`).
    pub(super) fn predict_row(&self, data: &TrainingSet, i: usize, out: &mut [f64]) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            self.predict_scratch(Some(data.text(i)), data.kind(i), data.input_tokens(i), &mut s);
            for (o, v) in out.iter_mut().zip(&s.logits) {
                *o = f64::from(*v);
            }
        });
    }

    /// Number of prompts it was trained on.
    pub fn trained_on(&self) -> usize {
        self.inner.payload.trained_on
    }

    /// The featurizer it uses.
    pub fn featurizer(&self) -> &Featurizer {
        &self.inner.featurizer
    }

    /// The per-kind prior of model `j` (column order) for `kind`: its smoothed success rate on
    /// that kind in the training data, or over all kinds for a kind it never saw.
    pub fn prior(&self, kind: &TaskKind, j: usize) -> Option<f64> {
        let p = &self.inner.payload.priors;
        p.row(p.kind_index(kind)).get(j).map(|v| f64::from(*v))
    }

    /// Estimates for every trained model (column order) on a prompt, into `out`
    /// (length [`models().len()`](Self::models)), with input tokens estimated as characters / 4.
    /// `text = None` gives the per-kind priors (unless the estimator was trained without texts).
    ///
    /// # Errors
    /// [`LearnError::OutputLength`] when `out` has the wrong length (nothing is written then).
    pub fn predict_into(
        &self,
        text: Option<&str>,
        kind: &TaskKind,
        out: &mut [f64],
    ) -> Result<(), LearnError> {
        let m = self.inner.payload.models.len();
        if out.len() != m {
            return Err(LearnError::OutputLength {
                found: out.len(),
                expected: m,
            });
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let tokens = text.map_or(0, |t| {
                u32::try_from(t.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
            });
            self.predict_scratch(text, kind, tokens, &mut s);
            for (o, v) in out.iter_mut().zip(&s.logits) {
                *o = f64::from(*v);
            }
        });
        Ok(())
    }

    /// Fills `s.logits` with final probabilities for every trained model.
    fn predict_scratch(&self, text: Option<&str>, kind: &TaskKind, input_tokens: u32, s: &mut Scratch) {
        let p = &self.inner.payload;
        let m = p.models.len();
        let k = p.priors.kind_index(kind);
        let prior = p.priors.row(k);
        s.logits.clear();
        s.logits.extend_from_slice(prior);
        let text = match text {
            Some(t) => t,
            None if p.text_free => "",
            None => return,
        };
        if matches!(p.model, Model::Prior) {
            return;
        }
        self.featurize_cached(text, kind, input_tokens, s);
        let Scratch {
            features,
            logits,
            member,
            knn,
            ..
        } = s;
        logits.resize(m, 0.0);
        p.model.predict(features, k, prior, member, knn, logits);
        let shrink = p.config.shrink as f32;
        for (o, pr) in logits.iter_mut().zip(prior) {
            let v = (1.0 - shrink) * *o + shrink * pr;
            *o = if v.is_finite() { v.clamp(0.0, 1.0) } else { *pr };
        }
    }

    /// Featurizes a prompt into `s.features`, unless they hold this estimator's features of
    /// this very prompt already (a decision asks for quality and then for output lengths).
    fn featurize_cached(&self, text: &str, kind: &TaskKind, input_tokens: u32, s: &mut Scratch) {
        let key = &mut s.featured;
        if key.estimator == self.inner.id
            && key.tokens == input_tokens
            && key.kind.as_ref() == Some(kind)
            && key.text == text
        {
            return;
        }
        let stripped = strip_prefix(&self.inner.payload.prefixes, kind, text);
        self.inner
            .featurizer
            .featurize_task_into(stripped, kind, input_tokens, &mut s.text, &mut s.features);
        key.estimator = self.inner.id;
        key.tokens = input_tokens;
        if key.kind.as_ref() != Some(kind) {
            key.kind = Some(kind.clone());
        }
        key.text.clear();
        key.text.push_str(text);
    }

    /// Fills `s.lengths` with the predicted output tokens of every trained model (column
    /// order; all `None` without a length model).
    fn lengths_scratch(&self, text: Option<&str>, kind: &TaskKind, input_tokens: u32, s: &mut Scratch) {
        let p = &self.inner.payload;
        s.lengths.clear();
        s.lengths.resize(p.models.len(), None);
        let Some(l) = &p.lengths else { return };
        let text = match text {
            Some(t) => Some(t),
            None if p.text_free => Some(""),
            None => None,
        };
        let featured = match text {
            Some(t) if l.uses_text() => {
                self.featurize_cached(t, kind, input_tokens, s);
                true
            }
            _ => false,
        };
        let Scratch {
            features,
            member,
            lengths,
            ..
        } = s;
        l.predict(
            featured.then_some(&*features),
            p.priors.kind_index(kind),
            member,
            lengths,
        );
    }

    /// Predicted output tokens of `models` on a prompt into `out` (see
    /// [`OutputEstimator`](crate::OutputEstimator)).
    pub(super) fn predict_lengths(
        &self,
        text: Option<&str>,
        kind: &TaskKind,
        input_tokens: u32,
        models: &[ModelSpec],
        out: &mut [Option<u32>],
    ) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            self.lengths_scratch(text, kind, input_tokens, &mut s);
            // A model writes at most its `max_output_tokens`: a prediction above that (a long
            // tail in the training answers, the smearing factor) would price an answer it
            // cannot give.
            for (m, o) in models.iter().zip(out.iter_mut()) {
                *o = self
                    .inner
                    .index
                    .get(&m.id)
                    .and_then(|&j| s.lengths[j])
                    .map(|t| t.min(m.max_output_tokens));
            }
        });
    }

    /// Predicted output tokens of every trained model on prompt `i` of `data`, into `out`
    /// (length `models().len()`).
    pub(super) fn predict_lengths_row(&self, data: &TrainingSet, i: usize, out: &mut [Option<u32>]) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            self.lengths_scratch(Some(data.text(i)), data.kind(i), data.input_tokens(i), &mut s);
            out.copy_from_slice(&s.lengths);
        });
    }

    /// Whether it predicts output lengths (trained with [`OutputLengths::Kind`] or
    /// [`OutputLengths::Text`]; see [`OutputEstimator`](crate::OutputEstimator)).
    pub fn predicts_lengths(&self) -> bool {
        self.inner.payload.lengths.is_some()
    }

    fn fallback(task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        model.quality.get(task.kind())
    }
}

impl QualityEstimator for LearnedEstimator {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        one_by_batch(model, |models, out| self.estimate_all(task, models, out))
    }

    /// Featurizes the task once and estimates every model from the same features.
    fn estimate_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<f64>]) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            self.predict_scratch(task.text(), task.kind(), task.input_tokens(), &mut s);
            for (m, o) in models.iter().zip(out.iter_mut()) {
                *o = match self.inner.index.get(&m.id) {
                    Some(&j) => Some(f64::from(s.logits[j])),
                    None => Self::fallback(task, m),
                };
            }
        });
    }

    fn name(&self) -> &str {
        &self.inner.name
    }
}

#[cfg(test)]
#[path = "estimator_tests.rs"]
mod tests;
