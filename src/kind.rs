//! [`TaskKind`]: the kind of a unit of work (planning, chat, math, ...). A leaf module: the
//! model's quality priors and the task both use it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of a task. Quality priors are kept per kind.
///
/// Serialized as its snake-case name (`"code_completion"`); any other name is a
/// [`TaskKind::Custom`] kind.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TaskKind {
    /// Breaking a goal into steps, agent planning.
    Planning,
    /// Multi-step reasoning, analysis, hard questions.
    Reasoning,
    /// Completing code at a cursor (short, latency-sensitive).
    CodeCompletion,
    /// Writing or changing code from an instruction.
    CodeGeneration,
    /// Open conversation.
    Chat,
    /// Summarising a document.
    Summarization,
    /// Pulling structured fields out of text.
    Extraction,
    /// Choosing a label.
    Classification,
    /// Mathematics and arithmetic word problems.
    Math,
    /// A kind of your own, by name.
    Custom(Arc<str>),
}

impl TaskKind {
    /// Number of built-in kinds.
    pub const BUILTIN_COUNT: usize = 9;

    /// The built-in kinds, in a fixed order.
    pub const BUILTIN: [TaskKind; Self::BUILTIN_COUNT] = [
        TaskKind::Planning,
        TaskKind::Reasoning,
        TaskKind::CodeCompletion,
        TaskKind::CodeGeneration,
        TaskKind::Chat,
        TaskKind::Summarization,
        TaskKind::Extraction,
        TaskKind::Classification,
        TaskKind::Math,
    ];

    /// The kind's name (`"code_completion"`, or a custom kind's own name).
    pub fn name(&self) -> &str {
        match self {
            TaskKind::Planning => "planning",
            TaskKind::Reasoning => "reasoning",
            TaskKind::CodeCompletion => "code_completion",
            TaskKind::CodeGeneration => "code_generation",
            TaskKind::Chat => "chat",
            TaskKind::Summarization => "summarization",
            TaskKind::Extraction => "extraction",
            TaskKind::Classification => "classification",
            TaskKind::Math => "math",
            TaskKind::Custom(name) => name,
        }
    }

    /// The kind with this name: a built-in one where the name is one, else a custom kind.
    /// `"summarisation"` is accepted for [`TaskKind::Summarization`].
    pub fn from_name(name: &str) -> TaskKind {
        match name {
            "summarisation" => TaskKind::Summarization,
            _ => Self::BUILTIN
                .iter()
                .find(|k| k.name() == name)
                .cloned()
                .unwrap_or_else(|| TaskKind::Custom(Arc::from(name))),
        }
    }

    /// Position among the built-in kinds, `None` for a custom kind.
    pub fn builtin_index(&self) -> Option<usize> {
        Some(match self {
            TaskKind::Planning => 0,
            TaskKind::Reasoning => 1,
            TaskKind::CodeCompletion => 2,
            TaskKind::CodeGeneration => 3,
            TaskKind::Chat => 4,
            TaskKind::Summarization => 5,
            TaskKind::Extraction => 6,
            TaskKind::Classification => 7,
            TaskKind::Math => 8,
            TaskKind::Custom(_) => return None,
        })
    }

    /// A typical number of output tokens for the kind, used when a task does not say.
    pub fn typical_output_tokens(&self) -> u32 {
        match self {
            TaskKind::Planning => 800,
            TaskKind::Reasoning => 1200,
            TaskKind::CodeCompletion => 64,
            TaskKind::CodeGeneration => 600,
            TaskKind::Chat => 300,
            TaskKind::Summarization => 250,
            TaskKind::Extraction => 150,
            TaskKind::Classification => 8,
            TaskKind::Math => 500,
            TaskKind::Custom(_) => 300,
        }
    }
}

impl fmt::Debug for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TaskKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TaskKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name.is_empty() {
            return Err(serde::de::Error::custom("a task kind must not be empty"));
        }
        Ok(TaskKind::from_name(&name))
    }
}
