//! The evaluator's error type.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What went wrong while loading outcome data, splitting it or replaying a policy on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// A value is not what the layout requires.
    #[error("{}:{line}{}: {}expected {expected}{}", .path.display(), col_suffix(*.column), field_prefix(.field), found_suffix(.found))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column (CSV: the field's position in the record; JSON: the character), where known.
        column: Option<u64>,
        /// The column or JSON field name, where known.
        field: Option<String>,
        /// What was expected.
        expected: Cow<'static, str>,
        /// What was found, where it is one value.
        found: Option<Box<str>>,
    },
    /// A JSON line is not the object the layout requires.
    #[error("{}:{line}:{column}: expected {expected}: {source}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What the line should be.
        expected: &'static str,
        /// The JSON parser's error.
        source: Arc<serde_json::Error>,
    },
    /// A CSV record has another number of fields than the header.
    #[error("{}:{line}: expected {expected} fields like the header, found {found}", .path.display())]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Fields in the header.
        expected: u64,
        /// Fields in the record.
        found: u64,
    },
    /// A CSV field is not UTF-8.
    #[error("{}:{line}{}: expected UTF-8 text", .path.display(), col_suffix(*.column))]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based field position, where known.
        column: Option<u64>,
    },
    /// A required column or field is absent.
    #[error("{}: missing column `{column}`: {hint}", .path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column that is needed.
        column: String,
        /// What the layout expects.
        hint: &'static str,
    },
    /// The file is empty: no header line.
    #[error("{}: the file is empty: expected a header line", .path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The table names no model.
    #[error("{}: no models: expected `score|<model>` (or `correct|<model>`, `quality|<model>`) columns, or `model` values", .path.display())]
    NoModels {
        /// The file.
        path: PathBuf,
    },
    /// The table has a header but no rows.
    #[error("{}: no prompts: the table has a header but no rows", .path.display())]
    NoPrompts {
        /// The file.
        path: PathBuf,
    },
    /// A prompt id (or a prompt file's key) appears twice.
    #[error("{}:{line}: duplicate prompt id `{prompt}` (first on line {first_line})", .path.display())]
    DuplicatePrompt {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: u64,
        /// The prompt id or key.
        prompt: String,
        /// 1-based line of the first occurrence.
        first_line: u64,
    },
    /// A wide table has two quality columns for one model.
    #[error("{}:1: duplicate quality column for model `{model}` (column {column})", .path.display())]
    DuplicateModelColumn {
        /// The file.
        path: PathBuf,
        /// The model id.
        model: String,
        /// 1-based position of the second column.
        column: u64,
    },
    /// A long table has two rows for one (prompt, model) pair.
    #[error("{}:{line}: duplicate observation of model `{model}` on prompt `{prompt}`", .path.display())]
    DuplicateObservation {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: u64,
        /// The prompt id.
        prompt: String,
        /// The model id.
        model: String,
    },
    /// A long table lacks the observation of one model on one prompt (tables must be complete).
    #[error("{}: no observation of model `{model}` on prompt `{prompt}`: every prompt needs a row for every model", .path.display())]
    MissingObservation {
        /// The file.
        path: PathBuf,
        /// The prompt id.
        prompt: String,
        /// The model id.
        model: String,
    },
    /// A model's cost is neither recorded nor computable from a price.
    #[error("{}: no cost for model `{model}`: add `cost_usd|{model}` columns or give its prices", .path.display())]
    NoCost {
        /// The file.
        path: PathBuf,
        /// The model id.
        model: String,
    },
    /// A cost must be computed from prices but a token count is neither recorded nor
    /// estimable, and no default is set.
    #[error("{}:{line}: the cost of `{model}` must be computed from prices but the row gives no {side} length: record it or set a default {side} token count", .path.display())]
    NoTokenCount {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The model id.
        model: String,
        /// `"input"` or `"output"`.
        side: &'static str,
    },
    /// Two rows of one prompt disagree on a per-prompt field (`label`, `kind`).
    #[error("{}:{line}: column `{field}`: prompt `{prompt}` has {field} `{earlier}` on an earlier row and `{here}` here", .path.display())]
    Conflict {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The prompt id.
        prompt: String,
        /// The field.
        field: &'static str,
        /// The earlier value.
        earlier: Box<str>,
        /// This row's value.
        here: Box<str>,
    },
    /// A prompt has a few-shot prefix but the prefix file has none for its label.
    #[error("{}:{line}: the prompt has a few-shot prefix but the prefix file has none for label `{label}`", .path.display())]
    MissingPrefix {
        /// The prompts file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The label.
        label: String,
    },
    /// The data is larger than the loader handles (it says what and the limit).
    #[error("{}: {count} {what} exceed the limit of {limit}", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is counted.
        what: &'static str,
        /// How many the file has (or would need).
        count: u64,
        /// The most the loader takes.
        limit: u64,
    },
    /// A policy picked a model, or a caller named one, that the data does not have.
    #[error("unknown model `{model}`: the outcome data has no observations for it")]
    UnknownModel {
        /// The model id.
        model: String,
    },
    /// An argument is out of range (a split fraction, a fold count, an empty grid, ...).
    #[error("invalid {what} {value}: expected {expected}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The router refused to build or to route.
    #[error(transparent)]
    Router(#[from] crate::Error),
}

fn col_suffix(c: Option<u64>) -> String {
    c.map_or_else(String::new, |c| format!(":{c}"))
}

fn field_prefix(f: &Option<String>) -> String {
    f.as_ref().map_or_else(String::new, |f| format!("column `{f}`: "))
}

fn found_suffix(f: &Option<Box<str>>) -> String {
    f.as_ref().map_or_else(String::new, |f| format!(", got `{f}`"))
}

impl EvalError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        EvalError::Io {
            path: path.to_owned(),
            source: Arc::new(e),
        }
    }

    pub(crate) fn parse(
        path: &Path,
        line: u64,
        column: Option<u64>,
        field: Option<&str>,
        expected: impl Into<Cow<'static, str>>,
        found: Option<String>,
    ) -> Self {
        EvalError::Parse {
            path: path.to_owned(),
            line,
            column,
            field: field.map(str::to_owned),
            expected: expected.into(),
            found: found.map(String::into_boxed_str),
        }
    }

    pub(crate) fn json(path: &Path, line: u64, expected: &'static str, e: serde_json::Error) -> Self {
        EvalError::Json {
            path: path.to_owned(),
            line,
            column: e.column() as u64,
            expected,
            source: Arc::new(e),
        }
    }

    pub(crate) fn invalid(what: &'static str, value: impl ToString, expected: &'static str) -> Self {
        EvalError::InvalidArgument {
            what,
            value: value.to_string(),
            expected,
        }
    }
}
