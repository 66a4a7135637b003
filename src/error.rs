//! The crate's error type.

use crate::id::ModelId;
use crate::kind::TaskKind;
use crate::rejection::Rejection;

/// What went wrong while building a router or routing a task, or which value was invalid.
///
/// Loading a catalog fails with its own `CatalogError` (feature
/// `catalog`), which holds this type for an invalid value; this module imports no other
/// module of the crate but the shared vocabulary (ids, kinds, rejections), so it stays a leaf.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No model passed the filters and the policy. Lists every candidate and its reason.
    #[error("no model can serve this {task_kind} task: {}", list_rejections(.rejections))]
    NoEligibleModel {
        /// The task's kind.
        task_kind: TaskKind,
        /// Every candidate and why it was rejected.
        rejections: Vec<(ModelId, Rejection)>,
    },
    /// A number is NaN, infinite, negative or out of range where it enters.
    #[error("invalid value {value} for `{field}`: expected {expected}")]
    InvalidValue {
        /// The field, as a path (`models[gpt-4o].prices.input`).
        field: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Two models share an id.
    #[error("duplicate model id `{id}`: every model needs its own id")]
    DuplicateModel {
        /// The id.
        id: ModelId,
    },
    /// A list names a model the router does not have.
    #[error("unknown model `{id}`: it is not among the router's models")]
    UnknownModel {
        /// The id.
        id: ModelId,
    },
    /// The router has no models.
    #[error("the router has no models: add some with `RouterBuilder::model` or a catalog")]
    NoModels,
}

impl Error {
    /// An [`Error::InvalidValue`]: `field` holds `value`, where `expected` is what is accepted.
    pub(crate) fn invalid(field: impl Into<String>, value: impl ToString, expected: &'static str) -> Self {
        Error::InvalidValue {
            field: field.into(),
            value: value.to_string(),
            expected,
        }
    }
}

fn list_rejections(r: &[(ModelId, Rejection)]) -> String {
    if r.is_empty() {
        return "the router has no candidates".to_owned();
    }
    r.iter()
        .map(|(m, why)| format!("{m} ({why})"))
        .collect::<Vec<_>>()
        .join("; ")
}
