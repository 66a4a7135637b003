//! What the router knows about a unit of work: [`Task`], [`TaskKind`], and the ready-made
//! [`TaskSpec`].

use derive_setters::Setters;
use serde::{Deserialize, Serialize};

use crate::capability::Capabilities;
use crate::id::Tag;
pub use crate::kind::TaskKind;

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Setters)]
#[setters(prefix = "with_", generate = false)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TaskSpec {
    /// The kind of task.
    pub kind: TaskKind,
    /// Estimated input tokens.
    pub input_tokens: u32,
    /// Expected output tokens; `None` uses the kind's typical value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub output_tokens: Option<u32>,
    /// Expected prompt-cache hits among the input tokens.
    #[serde(default)]
    #[setters(generate)]
    pub cached_input_tokens: u32,
    /// Capabilities the model must have.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Tags the model must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Cost and latency limits.
    #[serde(default)]
    #[setters(generate)]
    pub limits: Limits,
    /// The prompt text, for learned estimators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option, into)]
    pub text: Option<String>,
    /// A feature vector, for learned estimators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub features: Option<Vec<f32>>,
    /// Who is asking, for sticky experiments (see [`Task::caller_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option, into)]
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

macro_rules! forward_task {
    ($($ptr:ty),*) => {$(
impl<T: Task + ?Sized> Task for $ptr {
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
    )*};
}
forward_task!(&T, Box<T>, std::sync::Arc<T>);

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
