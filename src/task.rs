//! What the router knows about a unit of work: [`Task`], [`TaskKind`], and the ready-made
//! [`TaskSpec`].

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Capabilities, Tag};

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

/// Per-task limits; a candidate whose estimate exceeds one is filtered out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Largest acceptable expected cost of the call, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Largest acceptable expected latency of the call, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
}

impl Limits {
    /// No limits.
    pub const NONE: Limits = Limits {
        max_cost_usd: None,
        max_latency_ms: None,
    };

    /// Sets the cost limit (USD per call).
    pub const fn with_max_cost_usd(mut self, usd: f64) -> Self {
        self.max_cost_usd = Some(usd);
        self
    }

    /// Sets the latency limit (ms).
    pub const fn with_max_latency_ms(mut self, ms: f64) -> Self {
        self.max_latency_ms = Some(ms);
        self
    }
}

/// What the router needs to know about a unit of work.
///
/// Only [`kind`](Task::kind) and [`input_tokens`](Task::input_tokens) are required; everything
/// else has a default. [`TaskSpec`] is the ready-made implementation.
pub trait Task {
    /// The kind of task.
    fn kind(&self) -> &TaskKind;
    /// Estimated input (prompt) tokens.
    fn input_tokens(&self) -> u32;
    /// Expected output tokens; defaults to [`TaskKind::typical_output_tokens`].
    fn output_tokens(&self) -> u32 {
        self.kind().typical_output_tokens()
    }
    /// How many of the input tokens are expected to be prompt-cache hits.
    fn cached_input_tokens(&self) -> u32 {
        0
    }
    /// Capabilities the model must have.
    fn required_capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }
    /// Tags the model must carry (region, data policy, ...).
    fn required_tags(&self) -> &[Tag] {
        &[]
    }
    /// Cost and latency limits.
    fn limits(&self) -> Limits {
        Limits::NONE
    }
    /// The prompt text, for learned estimators.
    fn text(&self) -> Option<&str> {
        None
    }
    /// A feature vector, for learned estimators that take one.
    fn features(&self) -> Option<&[f32]> {
        None
    }
    /// Who is asking (a user, tenant or session id), for policies that must treat one caller
    /// the same way every time: an A/B experiment hashes it into a sticky variant. Never used
    /// as a metric label.
    fn caller_key(&self) -> Option<&str> {
        None
    }
}

/// The ready-made, serde-loadable [`Task`].
///
/// ```
/// use taskroute::{Capability, TaskKind, TaskSpec};
/// let task = TaskSpec::new(TaskKind::Planning, 2_000)
///     .with_output_tokens(800)
///     .require(Capability::Tools);
/// assert_eq!(task.input_tokens, 2_000);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TaskSpec {
    /// The kind of task.
    pub kind: TaskKind,
    /// Estimated input tokens.
    pub input_tokens: u32,
    /// Expected output tokens; `None` uses the kind's typical value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u32>,
    /// Expected prompt-cache hits among the input tokens.
    #[serde(default)]
    pub cached_input_tokens: u32,
    /// Capabilities the model must have.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Tags the model must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Cost and latency limits.
    #[serde(default)]
    pub limits: Limits,
    /// The prompt text, for learned estimators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A feature vector, for learned estimators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<f32>>,
    /// Who is asking, for sticky experiments (see [`Task::caller_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_key: Option<String>,
}

impl TaskSpec {
    /// A task of `kind` with `input_tokens` tokens of input.
    pub fn new(kind: TaskKind, input_tokens: u32) -> Self {
        Self {
            kind,
            input_tokens,
            output_tokens: None,
            cached_input_tokens: 0,
            capabilities: Capabilities::NONE,
            tags: Vec::new(),
            limits: Limits::NONE,
            text: None,
            features: None,
            caller_key: None,
        }
    }

    /// Sets the expected output tokens.
    pub fn with_output_tokens(mut self, n: u32) -> Self {
        self.output_tokens = Some(n);
        self
    }

    /// Sets the expected prompt-cache hits.
    pub fn with_cached_input_tokens(mut self, n: u32) -> Self {
        self.cached_input_tokens = n;
        self
    }

    /// Adds a required capability.
    pub fn require(mut self, cap: crate::Capability) -> Self {
        self.capabilities = self.capabilities.with(cap);
        self
    }

    /// Adds a required tag.
    pub fn require_tag(mut self, tag: impl Into<Tag>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the prompt text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets a feature vector.
    pub fn with_features(mut self, features: Vec<f32>) -> Self {
        self.features = Some(features);
        self
    }

    /// Sets the caller key (see [`Task::caller_key`]).
    pub fn with_caller_key(mut self, key: impl Into<String>) -> Self {
        self.caller_key = Some(key.into());
        self
    }
}

impl Task for TaskSpec {
    fn kind(&self) -> &TaskKind {
        &self.kind
    }
    fn input_tokens(&self) -> u32 {
        self.input_tokens
    }
    fn output_tokens(&self) -> u32 {
        self.output_tokens
            .unwrap_or_else(|| self.kind.typical_output_tokens())
    }
    fn cached_input_tokens(&self) -> u32 {
        self.cached_input_tokens
    }
    fn required_capabilities(&self) -> Capabilities {
        self.capabilities
    }
    fn required_tags(&self) -> &[Tag] {
        &self.tags
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn features(&self) -> Option<&[f32]> {
        self.features.as_deref()
    }
    fn caller_key(&self) -> Option<&str> {
        self.caller_key.as_deref()
    }
}

impl<T: Task + ?Sized> Task for &T {
    fn kind(&self) -> &TaskKind {
        (**self).kind()
    }
    fn input_tokens(&self) -> u32 {
        (**self).input_tokens()
    }
    fn output_tokens(&self) -> u32 {
        (**self).output_tokens()
    }
    fn cached_input_tokens(&self) -> u32 {
        (**self).cached_input_tokens()
    }
    fn required_capabilities(&self) -> Capabilities {
        (**self).required_capabilities()
    }
    fn required_tags(&self) -> &[Tag] {
        (**self).required_tags()
    }
    fn limits(&self) -> Limits {
        (**self).limits()
    }
    fn text(&self) -> Option<&str> {
        (**self).text()
    }
    fn features(&self) -> Option<&[f32]> {
        (**self).features()
    }
    fn caller_key(&self) -> Option<&str> {
        (**self).caller_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in TaskKind::BUILTIN {
            assert_eq!(TaskKind::from_name(k.name()), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<TaskKind>(&json).unwrap(), k);
        }
        assert_eq!(TaskKind::from_name("summarisation"), TaskKind::Summarization);
        assert_eq!(TaskKind::from_name("legal").name(), "legal");
        assert!(serde_json::from_str::<TaskKind>(r#""""#).is_err());
    }

    #[test]
    fn task_spec_defaults_output_tokens_to_kind() {
        let t = TaskSpec::new(TaskKind::CodeCompletion, 100);
        assert_eq!(t.output_tokens(), 64);
        assert_eq!(t.with_output_tokens(10).output_tokens(), 10);
    }

    #[test]
    fn task_spec_refuses_unknown_fields() {
        let ok = r#"{"kind": "math", "input_tokens": 10, "capabilities": ["tools"]}"#;
        let t: TaskSpec = serde_json::from_str(ok).unwrap();
        assert_eq!(t.kind, TaskKind::Math);
        let bad = r#"{"kind": "math", "input_tokens": 10, "colour": "red"}"#;
        assert!(serde_json::from_str::<TaskSpec>(bad).is_err());
    }
}
