//! The learned estimators' error types.

use std::path::PathBuf;
use std::sync::Arc;

use super::FORMAT_MAGIC;
use crate::model::ModelId;

/// What went wrong while training, saving, loading or feeding back to a learned estimator.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    /// A setting is out of range.
    #[error("invalid setting `{field}` = {value}: expected {expected}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The training set has no examples.
    #[error("the training set is empty: add examples with outcomes before training")]
    EmptyTrainingSet,
    /// A training set was given no model.
    #[error("no models: name at least one")]
    NoModels,
    /// A model id is empty.
    #[error("model id {index} is empty")]
    EmptyModelId {
        /// 0-based position in the list.
        index: usize,
    },
    /// A model is named twice.
    #[error("model `{model}` is named twice")]
    DuplicateModel {
        /// The model.
        model: ModelId,
    },
    /// An example's outcome or cost list does not have one entry per model.
    #[error("example {example}: {found} {list} for {expected} models")]
    WrongLength {
        /// 0-based index of the example.
        example: usize,
        /// `"outcomes"` or `"costs"`.
        list: &'static str,
        /// Entries given.
        found: usize,
        /// Models in the set.
        expected: usize,
    },
    /// An outcome (of a training example, or fed back to an online estimator) is outside
    /// `[0, 1]` or NaN.
    #[error("{}outcome {value} for model `{model}`: expected a quality in [0, 1]", example_prefix(*.example))]
    OutcomeOutOfRange {
        /// 0-based index of the training example; `None` for feedback.
        example: Option<usize>,
        /// The model.
        model: ModelId,
        /// The value given.
        value: f64,
    },
    /// A cost (of a training example, or fed back) is negative or not finite.
    #[error("{}cost {value} for model `{model}`: expected a finite cost >= 0", example_prefix(*.example))]
    InvalidCost {
        /// 0-based index of the training example; `None` for feedback.
        example: Option<usize>,
        /// The model.
        model: ModelId,
        /// The value given.
        value: f64,
    },
    /// An output buffer does not have one slot per trained model.
    #[error("the output buffer has {found} slots for {expected} trained models")]
    OutputLength {
        /// Slots given.
        found: usize,
        /// Trained models.
        expected: usize,
    },
    /// A price list does not have one entry per model.
    #[error("{found} prices for {expected} models: give one (or none) per model, in the set's model order")]
    PriceCount {
        /// Entries given.
        found: usize,
        /// Models in the set.
        expected: usize,
    },
    /// Output lengths were asked for ([`OutputLengths`](super::OutputLengths)) but no answer's
    /// output tokens are known.
    #[error(
        "no output tokens are known for any answer: give the models' prices (TrainingSet::with_prices, `--prices`) so they can be read from the recorded costs"
    )]
    NoOutputTokens,
    /// A model has no outcome at all in the training set.
    #[error("model `{model}` has no outcomes in the training set: drop it or add data for it")]
    NoObservations {
        /// The model.
        model: ModelId,
    },
    /// Cross-validation needs at least 2 prompts per fold.
    #[error(
        "{prompts} prompts are too few for {folds}-fold cross-validation: use fewer folds or train a fixed learner"
    )]
    TooFewForCv {
        /// Prompts in the training set.
        prompts: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// The file could not be read or written.
    #[error("cannot {action} estimator file {}: {source}", .path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The file is not a taskroute estimator file.
    #[error("not a taskroute estimator file: expected \"magic\": \"{FORMAT_MAGIC}\", found {found}")]
    NotAnEstimatorFile {
        /// What the file has instead.
        found: String,
    },
    /// The file was written by another version of the format.
    #[error(
        "estimator file format version {found} is not supported (this build reads version {supported}): retrain with `taskroute train`"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is damaged: it does not parse, its checksum does not match, or its numbers are
    /// inconsistent.
    #[error("corrupted estimator file: {0}")]
    Corrupt(#[from] Corruption),
}

fn example_prefix(example: Option<usize>) -> String {
    example.map_or_else(|| "feedback: ".to_owned(), |e| format!("example {e}: "))
}

/// How an estimator file is damaged (see [`LearnError::Corrupt`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The text is not JSON, or not the estimator format.
    #[error("not a valid estimator file ({source})")]
    Json {
        /// The parser's error.
        source: Arc<serde_json::Error>,
    },
    /// `"version"` is missing or not a number.
    #[error("\"version\" is missing or not a number")]
    MissingVersion,
    /// The checksum does not match the payload.
    #[error("checksum {recorded} does not match the payload ({computed}): the file was changed or damaged")]
    Checksum {
        /// The checksum the file records.
        recorded: String,
        /// The checksum of its payload.
        computed: String,
    },
    /// The saved settings are invalid.
    #[error("bad settings: {0}")]
    Settings(Box<LearnError>),
    /// The model list is empty.
    #[error("no models")]
    NoModels,
    /// A model is listed twice.
    #[error("model `{model}` listed twice")]
    DuplicateModel {
        /// The model.
        model: ModelId,
    },
    /// A table's shape does not match the features, models or kinds.
    #[error("{part}: shape does not match the features, models or kinds")]
    Shape {
        /// Which table.
        part: &'static str,
    },
    /// A prior is outside `[0, 1]`.
    #[error("a prior is outside [0, 1]")]
    PriorOutOfRange,
    /// An ensemble has no member or a weight that is not positive and finite.
    #[error("an ensemble needs members with positive weights")]
    EnsembleWeights,
    /// A table would need more memory than this build loads.
    #[error("{part}: {elements} values exceed the limit of {limit}")]
    TooLarge {
        /// Which table.
        part: &'static str,
        /// Values it would hold.
        elements: u64,
        /// The most this build loads.
        limit: u64,
    },
}
