//! [`LearnedClassifier`]: the task kind from the `learn` featurizer's text features by
//! multinomial logistic regression, trained from labelled prompts (features `request` and
//! `learn`).
//!
//! ```
//! use taskroute::TaskKind;
//! use taskroute::request::{ClassifierTraining, ClassifyInput, KindClassifier, LearnedClassifier};
//!
//! let mut examples = Vec::new();
//! for i in 0..20 {
//!     examples.push((format!("Write a Python function number {i} that sorts a list"), TaskKind::CodeGeneration));
//!     examples.push((format!("Tom has {i} apples and buys 3 more. How many apples does he have?"), TaskKind::Math));
//! }
//! let c = LearnedClassifier::train(&examples, &ClassifierTraining::default())?;
//! let got = c.classify(&ClassifyInput::text("Write a Python function that reverses a string"));
//! assert_eq!(got.kind, TaskKind::CodeGeneration);
//! let c = LearnedClassifier::from_json(&c.to_json()?)?; // saved and loaded back
//! # Ok::<(), taskroute::request::ClassifierError>(())
//! ```
//!
//! Below a confidence threshold (the top class's probability), [`RequestAnalyzer`] falls back to
//! the caller's kind, as for any [`KindClassifier`].
//!
//! [`RequestAnalyzer`]: super::RequestAnalyzer

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::classify::{Classified, ClassifyInput, KindClassifier};
use crate::learn::{Envelope, FeatureConfig, Features, Featurizer, LearnError, envelope_json};
use crate::task::TaskKind;

/// The `magic` field of every classifier file.
pub const CLASSIFIER_MAGIC: &str = "taskroute-kind-classifier";
/// The classifier file version this build writes and reads.
pub const CLASSIFIER_VERSION: u32 = 1;
/// The most weights a classifier may have (kinds × feature dimension): 2^26.
const MAX_WEIGHTS: u64 = 1 << 26;

/// How a [`LearnedClassifier`] is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassifierTraining {
    /// The featurizer's settings (default: 2^14 hashed buckets, word 1-2-grams, character
    /// 3-4-grams, the word-problem statistics; the task-kind feature is always off).
    pub features: FeatureConfig,
    /// Passes over the examples (default 12).
    pub epochs: u32,
    /// Initial step size of stochastic gradient descent (default 0.5), decaying as 1/(1 + epoch).
    pub learning_rate: f32,
    /// Weighs each example by the inverse of its kind's frequency, so that a kind with few
    /// examples is not drowned by a large one (default true).
    pub balance_kinds: bool,
    /// The seed of the example order.
    pub seed: u64,
    /// Featurizes the instruction (the text's first non-empty line) a second time, in its own
    /// block of weights, so that the words of the instruction weigh apart from those of the
    /// material it quotes (default true; files without the setting load as `false`, the classifier without the block).
    #[serde(default)]
    pub instruction_features: bool,
}

impl Default for ClassifierTraining {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default()
                .with_hash_bits(14)
                .with_math_features(true),
            epochs: 12,
            learning_rate: 0.5,
            balance_kinds: true,
            seed: 0x6b69_6e64,
            instruction_features: true,
        }
    }
}

/// What went wrong training, saving or loading a [`LearnedClassifier`].
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    /// Fewer than two kinds among the examples.
    #[error("the examples name {found} kind(s): a classifier needs at least two")]
    TooFewKinds {
        /// Distinct kinds found.
        found: usize,
    },
    /// A training setting is out of range.
    #[error("invalid setting `{field}` = {value}: expected {expected}")]
    InvalidSetting {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The feature settings are invalid.
    #[error("feature settings: {0}")]
    Features(#[from] LearnError),
    /// The file could not be read or written.
    #[error("cannot {action} classifier file {}: {source}", .path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Arc<std::io::Error>,
    },
    /// The text is not JSON of the classifier file's shape.
    #[error("not a valid classifier file ({source})")]
    Json {
        /// The parser's error.
        source: Arc<serde_json::Error>,
    },
    /// The `magic` field is missing or wrong.
    #[error(
        "not a taskroute kind-classifier file: expected \"magic\": \"{CLASSIFIER_MAGIC}\", found {found}"
    )]
    NotAClassifierFile {
        /// What was found.
        found: String,
    },
    /// Another file version.
    #[error("classifier file version {found} is not supported (this build reads {supported}): retrain it")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The checksum does not match the contents.
    #[error("checksum {recorded} does not match the contents ({computed}): the file was changed or damaged")]
    Checksum {
        /// The checksum in the file.
        recorded: String,
        /// The contents' checksum.
        computed: String,
    },
    /// The weights do not fit the kinds and features, are too many, or are not finite.
    #[error("weights: {found} values for {kinds} kinds × {dim} features, or a value that is not finite")]
    Shape {
        /// Values found.
        found: u64,
        /// Kinds listed.
        kinds: usize,
        /// The features' dimension.
        dim: u64,
    },
    /// A kind is listed twice.
    #[error("kind `{kind}` listed twice")]
    DuplicateKind {
        /// The kind.
        kind: String,
    },
}

/// A multinomial logistic regression over the `learn` featurizer's features; see the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct LearnedClassifier {
    featurizer: Featurizer,
    /// Whether the instruction is featurized again (`ClassifierTraining::instruction_features`).
    instruction: bool,
    kinds: Vec<TaskKind>,
    /// `kinds.len()` rows of [`dim`](Self::dim) weights.
    weights: Vec<f32>,
}

/// The saved contents.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    features: FeatureConfig,
    /// Absent (false) in files written before it existed, so their checksums still hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    instruction: bool,
    kinds: Vec<String>,
    weights: Vec<f32>,
}

/// The first non-empty line: the instruction, when a prompt quotes material after it.
fn instruction(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The features of `text`: the featurizer's, then (with `instruction`) those of its first line,
/// shifted into a second block of the featurizer's dimension.
fn featurize(featurizer: &Featurizer, instruction_block: bool, text: &str, scratch: &mut String) -> Features {
    let mut x = Features::new();
    featurizer.featurize_into(text, &TaskKind::Chat, scratch, &mut x);
    if instruction_block {
        let mut first = Features::new();
        featurizer.featurize_into(instruction(text), &TaskKind::Chat, scratch, &mut first);
        let offset = featurizer.dim() as u32;
        x.indices.extend(first.indices.iter().map(|i| i + offset));
        x.values.extend(first.values);
    }
    x
}

/// The kind feature is the label here: never a feature.
fn config_without_kind(mut c: FeatureConfig) -> FeatureConfig {
    c.kind_feature = false;
    c
}

impl LearnedClassifier {
    /// Trains on `(prompt, kind)` pairs; the kinds are those the examples name, in first-seen
    /// order.
    ///
    /// # Errors
    /// [`ClassifierError::TooFewKinds`] with fewer than two kinds; [`ClassifierError::Features`]
    /// or [`ClassifierError::InvalidSetting`] for a bad setting.
    pub fn train<S: AsRef<str>>(
        examples: &[(S, TaskKind)],
        config: &ClassifierTraining,
    ) -> Result<Self, ClassifierError> {
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(ClassifierError::InvalidSetting {
                field: "learning_rate",
                value: config.learning_rate.to_string(),
                expected: "a finite number > 0",
            });
        }
        let featurizer = Featurizer::new(config_without_kind(config.features.clone()))?;
        let mut kinds: Vec<TaskKind> = Vec::new();
        let mut labels = Vec::with_capacity(examples.len());
        for (_, k) in examples {
            let i = kinds.iter().position(|x| x == k).unwrap_or_else(|| {
                kinds.push(k.clone());
                kinds.len() - 1
            });
            labels.push(i);
        }
        if kinds.len() < 2 {
            return Err(ClassifierError::TooFewKinds { found: kinds.len() });
        }
        let dim = featurizer.dim() * if config.instruction_features { 2 } else { 1 };
        if (kinds.len() as u64) * (dim as u64) > MAX_WEIGHTS {
            return Err(ClassifierError::InvalidSetting {
                field: "features.hash_bits",
                value: featurizer.config().hash_bits.to_string(),
                expected: "fewer buckets: kinds × features must stay within 2^26 weights",
            });
        }
        let mut counts = vec![0usize; kinds.len()];
        labels.iter().for_each(|&l| counts[l] += 1);
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&n| match config.balance_kinds {
                true => examples.len() as f32 / (kinds.len() * n) as f32,
                false => 1.0,
            })
            .collect();
        let mut scratch = String::new();
        let xs: Vec<Features> = examples
            .iter()
            .map(|(text, _)| {
                featurize(
                    &featurizer,
                    config.instruction_features,
                    text.as_ref(),
                    &mut scratch,
                )
            })
            .collect();
        let mut c = LearnedClassifier {
            featurizer,
            instruction: config.instruction_features,
            weights: vec![0.0; kinds.len() * dim],
            kinds,
        };
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
        let mut p = vec![0.0f32; c.kinds.len()];
        for epoch in 0..config.epochs {
            order.shuffle(&mut rng);
            let rate = config.learning_rate / (1.0 + epoch as f32);
            for &i in &order {
                let x = &xs[i];
                c.probabilities_into(x, &mut p);
                for (k, pk) in p.iter().enumerate() {
                    let y = if k == labels[i] { 1.0 } else { 0.0 };
                    let g = rate * class_weight[labels[i]] * (pk - y);
                    let row = &mut c.weights[k * dim..(k + 1) * dim];
                    for (&j, &v) in x.indices.iter().zip(&x.values) {
                        row[j as usize] -= g * v;
                    }
                }
            }
        }
        Ok(c)
    }

    /// Weights per kind: the featurizer's dimension, twice with the instruction block.
    fn dim(&self) -> usize {
        self.featurizer.dim() * if self.instruction { 2 } else { 1 }
    }

    /// The kinds it tells apart.
    pub fn kinds(&self) -> &[TaskKind] {
        &self.kinds
    }

    /// The probability of each of [`kinds`](Self::kinds) for `text`.
    pub fn probabilities(&self, text: &str) -> Vec<f32> {
        let x = featurize(&self.featurizer, self.instruction, text, &mut String::new());
        let mut p = vec![0.0; self.kinds.len()];
        self.probabilities_into(&x, &mut p);
        p
    }

    /// Softmax of the kinds' scores.
    fn probabilities_into(&self, x: &Features, p: &mut [f32]) {
        let dim = self.dim();
        for (k, pk) in p.iter_mut().enumerate() {
            *pk = x.dot(&self.weights[k * dim..(k + 1) * dim]);
        }
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for pk in p.iter_mut() {
            *pk = (*pk - max).exp();
            sum += *pk;
        }
        p.iter_mut().for_each(|pk| *pk /= sum);
    }

    /// Writes the classifier as versioned JSON: `{"magic", "version", "checksum", "payload"}`.
    ///
    /// # Errors
    /// [`ClassifierError::Json`] if serializing fails (weights are always finite, so it does not).
    pub fn to_json(&self) -> Result<String, ClassifierError> {
        let payload = Payload {
            features: self.featurizer.config().clone(),
            instruction: self.instruction,
            kinds: self.kinds.iter().map(|k| k.name().to_owned()).collect(),
            weights: self.weights.clone(),
        };
        let text = serde_json::to_string(&payload).map_err(json_error)?;
        Ok(envelope_json(CLASSIFIER_MAGIC, CLASSIFIER_VERSION, &text))
    }

    /// Reads a classifier written by [`to_json`](Self::to_json), checking its magic, version,
    /// checksum and the weights' shape.
    ///
    /// # Errors
    /// A [`ClassifierError`] saying what is wrong.
    pub fn from_json(json: &str) -> Result<Self, ClassifierError> {
        let file: Envelope<Payload> = serde_json::from_str(json).map_err(json_error)?;
        if file.magic != CLASSIFIER_MAGIC {
            return Err(ClassifierError::NotAClassifierFile {
                found: format!("{:?}", file.magic.chars().take(40).collect::<String>()),
            });
        }
        if file.version != CLASSIFIER_VERSION {
            return Err(ClassifierError::UnsupportedVersion {
                found: file.version,
                supported: CLASSIFIER_VERSION,
            });
        }
        let p = file.checked_payload(json_error, |recorded, computed| ClassifierError::Checksum {
            recorded,
            computed,
        })?;
        let featurizer = Featurizer::new(config_without_kind(p.features))?;
        let mut kinds: Vec<TaskKind> = Vec::with_capacity(p.kinds.len());
        for name in &p.kinds {
            let k = TaskKind::from_name(name);
            if kinds.contains(&k) {
                return Err(ClassifierError::DuplicateKind { kind: name.clone() });
            }
            kinds.push(k);
        }
        let dim = featurizer.dim() as u64 * if p.instruction { 2 } else { 1 };
        if kinds.len() < 2
            || p.weights.len() as u64 != kinds.len() as u64 * dim
            || p.weights.iter().any(|w| !w.is_finite())
        {
            return Err(ClassifierError::Shape {
                found: p.weights.len() as u64,
                kinds: kinds.len(),
                dim,
            });
        }
        Ok(Self {
            featurizer,
            instruction: p.instruction,
            kinds,
            weights: p.weights,
        })
    }

    /// Saves to `path` (see [`to_json`](Self::to_json)).
    ///
    /// # Errors
    /// [`ClassifierError::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ClassifierError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()?).map_err(|e| io_error("write", path, e))
    }

    /// Loads from `path` (see [`from_json`](Self::from_json)).
    ///
    /// # Errors
    /// [`ClassifierError::Io`] when it cannot be read, else as [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClassifierError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
        Self::from_json(&text)
    }
}

impl KindClassifier for LearnedClassifier {
    /// The most probable kind of the input's text, with its probability as the confidence.
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified {
        let p = self.probabilities(input.text);
        let (best, conf) =
            p.iter().copied().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |a, (i, v)| if v > a.1 { (i, v) } else { a },
            );
        Classified::new(self.kinds[best].clone(), conf)
    }
}

fn json_error(e: serde_json::Error) -> ClassifierError {
    ClassifierError::Json { source: Arc::new(e) }
}

fn io_error(action: &'static str, path: &Path, e: std::io::Error) -> ClassifierError {
    ClassifierError::Io {
        action,
        path: path.to_owned(),
        source: Arc::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64;

    fn examples() -> Vec<(String, TaskKind)> {
        let mut v = Vec::new();
        for i in 0..30 {
            v.push((
                format!("Write a Python function {i} that returns the sorted list"),
                TaskKind::CodeGeneration,
            ));
            v.push((
                format!("A shop sells {i} pens at 3 dollars each. How much do they cost in total?"),
                TaskKind::Math,
            ));
            v.push((
                format!("Extract every name and date from memo {i} as JSON"),
                TaskKind::Extraction,
            ));
        }
        v
    }

    #[test]
    fn learns_separable_kinds_and_round_trips() {
        let c = LearnedClassifier::train(&examples(), &ClassifierTraining::default()).unwrap();
        for (text, want) in [
            (
                "Write a Python function that returns the reversed list",
                TaskKind::CodeGeneration,
            ),
            (
                "A farm has 12 cows at 40 dollars each. How much in total?",
                TaskKind::Math,
            ),
            (
                "Extract every company and amount from this report as JSON",
                TaskKind::Extraction,
            ),
        ] {
            let got = c.classify(&ClassifyInput::text(text));
            assert_eq!(got.kind, want, "{text}");
            assert!(got.confidence > 0.5 && got.confidence <= 1.0, "{got:?}");
        }
        let back = LearnedClassifier::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_instruction_block_is_saved_and_files_without_it_still_load() {
        let with = LearnedClassifier::train(&examples(), &ClassifierTraining::default()).unwrap();
        assert!(with.instruction);
        assert_eq!(with.weights.len(), with.kinds.len() * 2 * with.featurizer.dim());
        let json = with.to_json().unwrap();
        assert!(json.contains("\"instruction\":true"), "{}", &json[..200]);
        assert_eq!(LearnedClassifier::from_json(&json).unwrap(), with);
        // A classifier without the block writes no `instruction` field, as files written before
        // it existed: their checksums still hold and they load without the block.
        let old = ClassifierTraining {
            instruction_features: false,
            ..Default::default()
        };
        let without = LearnedClassifier::train(&examples(), &old).unwrap();
        let json = without.to_json().unwrap();
        assert!(!json.contains("instruction"));
        let back = LearnedClassifier::from_json(&json).unwrap();
        assert!(!back.instruction);
        assert_eq!(back.weights.len(), back.kinds.len() * back.featurizer.dim());
        // The block's weights are read by the shape check: half of them is not a classifier.
        let half = with.weights.len() / 2;
        let payload = Payload {
            features: with.featurizer.config().clone(),
            instruction: true,
            kinds: with.kinds.iter().map(|k| k.name().to_owned()).collect(),
            weights: with.weights[..half].to_vec(),
        };
        let text = serde_json::to_string(&payload).unwrap();
        let file = envelope_json(CLASSIFIER_MAGIC, CLASSIFIER_VERSION, &text);
        assert!(matches!(
            LearnedClassifier::from_json(&file),
            Err(ClassifierError::Shape { .. })
        ));
    }

    #[test]
    fn bad_files_and_settings_are_typed_errors() {
        let one_kind = vec![("a", TaskKind::Chat), ("b", TaskKind::Chat)];
        assert!(matches!(
            LearnedClassifier::train(&one_kind, &ClassifierTraining::default()),
            Err(ClassifierError::TooFewKinds { found: 1 })
        ));
        let t = ClassifierTraining {
            learning_rate: f32::NAN,
            ..Default::default()
        };
        assert!(matches!(
            LearnedClassifier::train(&examples(), &t),
            Err(ClassifierError::InvalidSetting { .. })
        ));
        let small = ClassifierTraining {
            features: FeatureConfig::default().with_hash_bits(8),
            ..Default::default()
        };
        let json = LearnedClassifier::train(&examples(), &small)
            .unwrap()
            .to_json()
            .unwrap();
        let tampered = json.replacen("\"weights\":[", "\"weights\":[1.5,", 1);
        assert!(matches!(
            LearnedClassifier::from_json(&tampered),
            Err(ClassifierError::Checksum { .. })
        ));
        let other = json.replace(CLASSIFIER_MAGIC, "taskroute-estimator");
        assert!(matches!(
            LearnedClassifier::from_json(&other),
            Err(ClassifierError::NotAClassifierFile { .. })
        ));
        assert!(matches!(
            LearnedClassifier::from_json("{"),
            Err(ClassifierError::Json { .. })
        ));
        // A payload whose checksum is right but whose weights do not fit.
        let payload = r#"{"features":{"hash_bits":8,"word_ngrams":1,"char_ngram_min":0,"char_ngram_max":0,"max_chars":100,"kind_feature":false,"math_features":false},"kinds":["chat","math"],"weights":[0.0]}"#;
        let file = format!(
            r#"{{"magic":"{CLASSIFIER_MAGIC}","version":1,"checksum":"{:016x}","payload":{payload}}}"#,
            xxh3_64(payload.as_bytes())
        );
        assert!(matches!(
            LearnedClassifier::from_json(&file),
            Err(ClassifierError::Shape {
                found: 1,
                kinds: 2,
                ..
            })
        ));
    }
}
