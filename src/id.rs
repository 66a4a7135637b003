//! Names: [`ModelId`] and [`Tag`], shared (`Arc<str>`) strings. A leaf module: models,
//! tasks, rejections, decisions and errors all carry them.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A model's identifier, as the catalog and the decisions name it (`"gpt-4o-mini"`).
///
/// Cloning is a reference-count increment, so decisions can carry ids without allocating.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelId(Arc<str>);

/// The constructor, the accessor, `Display` and `From<&str>` of a name kept as a shared
/// `Arc<str>` (`$a $what` names it in the docs: `an id`).
macro_rules! shared_name {
    ($name:ident, $a:literal, $what:literal) => {
        impl $name {
            #[doc = concat!("Makes ", $a, " ", $what, " from a string.")]
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(std::sync::Arc::from(s.as_ref()))
            }

            #[doc = concat!("The ", $what, " as a string slice.")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }
    };
}
#[cfg(feature = "runtime")]
pub(crate) use shared_name;

shared_name!(ModelId, "an", "id");

impl ModelId {
    /// Whether both are the same allocation (a clone of one another): a pointer comparison.
    pub(crate) fn same_arc(&self, other: &ModelId) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<String> for ModelId {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl Borrow<str> for ModelId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ModelId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A free-form label on a model (`"region:eu"`, `"data:no-retention"`, `"open-weights"`).
///
/// Tasks can require tags; models without them are filtered out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(Arc<str>);

shared_name!(Tag, "a", "tag");
