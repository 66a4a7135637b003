//! The evaluator's error type.

use std::fmt;
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
    /// A value or a line is malformed.
    #[error("{}:{line}{}: {}{message}", .path.display(), col_suffix(*.column), field_prefix(.field))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column (CSV: the field's position in the record; JSON: the character), where known.
        column: Option<u64>,
        /// The column or JSON field name, where known.
        field: Option<String>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A required column or field is absent.
    #[error("{}: missing column `{column}`: {hint}", .path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column that is needed.
        column: String,
        /// What the layout expects.
        hint: String,
    },
    /// The data has no prompts, or no models.
    #[error("{}: {what}", .path.display())]
    Empty {
        /// The file (or `<memory>`).
        path: PathBuf,
        /// What is empty.
        what: String,
    },
    /// A prompt id appears twice in a wide table, or a (prompt, model) pair twice in a long one.
    #[error("{}:{line}: duplicate {what}", .path.display())]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: u64,
        /// What is duplicated.
        what: String,
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
    /// A policy picked a model, or a caller named one, that the data does not have.
    #[error("unknown model `{model}`: the outcome data has no observations for it")]
    UnknownModel {
        /// The model id.
        model: String,
    },
    /// An argument is out of range (a split fraction, a fold count, an empty grid, ...).
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// What is wrong and what is accepted.
        message: String,
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
        message: impl fmt::Display,
    ) -> Self {
        EvalError::Parse {
            path: path.to_owned(),
            line,
            column,
            field: field.map(str::to_owned),
            message: message.to_string(),
        }
    }

    pub(crate) fn invalid(what: &'static str, message: impl fmt::Display) -> Self {
        EvalError::InvalidArgument {
            what,
            message: message.to_string(),
        }
    }
}
