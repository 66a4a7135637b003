//! From request to task: [`TaskSpec::from_request`] derives from a [`ChatRequest`] the
//! capabilities it needs, its input tokens ([`tokens`]), its expected output and its kind
//! ([`classify`]); [`Router::route_request`] routes it in one call, and (with the `runtime`
//! feature) `RoutedClient::complete_request` sends it along that route.
//!
//! ```
//! use taskroute::provider::{ChatRequest, ResponseFormat};
//! use taskroute::{Capability, TaskKind, TaskSpec};
//!
//! let req = ChatRequest::new()
//!     .user("Extract every person and date from this memo as JSON: ...")
//!     .response_format(ResponseFormat::JsonObject);
//! let task = TaskSpec::from_request(&req);
//! assert_eq!(task.kind, TaskKind::Extraction);
//! assert!(task.capabilities.contains(Capability::JsonMode));
//! ```

pub mod classify;
#[cfg(feature = "learn")]
#[cfg_attr(docsrs, doc(cfg(feature = "learn")))]
pub mod learned;
mod openai_body;
#[doc(hidden)]
pub mod piece_cache;
#[doc(hidden)]
pub mod pretokenize;
#[cfg(feature = "runtime")]
mod routed;
pub mod tokens;
mod words;

use derive_setters::Setters;

use crate::decision::Decision;
use crate::error::Error;
use crate::model::{Capabilities, Capability};
use crate::provider::{ChatRequest, ContentPart, Role, ToolChoice};
use crate::router::Router;
use crate::task::{TaskKind, TaskSpec};

pub use classify::{Classified, ClassifierFn, ClassifyInput, KindClassifier, RuleClassifier, classifier_fn};
#[cfg(feature = "learn")]
pub use learned::{ClassifierError, ClassifierTraining, LearnedClassifier};
pub use openai_body::{RequestBodyError, chat_request_from_openai};
pub use tokens::{Encoding, TokenCount, TokenCounter};

/// How a request becomes a task: the classifier, the token counter, the confidence below which
/// the fallback kind is used, and any value the caller fixes in advance.
#[derive(Clone, Debug, Setters)]
#[setters(generate = false)]
#[non_exhaustive]
pub struct RequestAnalyzer<C = RuleClassifier> {
    /// Names the kind.
    pub classifier: C,
    /// Counts the input tokens (for example [`TokenCounter::for_model`] of the likely model).
    #[setters(generate)]
    pub counter: TokenCounter,
    /// Below this confidence, [`fallback_kind`](Self::fallback_kind) is used.
    pub min_confidence: f32,
    /// The kind used when the classifier is unsure.
    pub fallback_kind: TaskKind,
    /// A kind fixed by the caller: the classifier is not asked.
    #[setters(generate, strip_option)]
    pub kind: Option<TaskKind>,
    /// Expected output tokens fixed by the caller (else `max_tokens`, else the kind's prior).
    #[setters(generate, strip_option)]
    pub output_tokens: Option<u32>,
}

/// The default confidence threshold of [`RequestAnalyzer::new`].
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.3;

impl Default for RequestAnalyzer {
    fn default() -> Self {
        Self::new(RuleClassifier)
    }
}

impl<C: KindClassifier> RequestAnalyzer<C> {
    /// An analyzer with this classifier, exact `o200k_base` counts, a confidence threshold of
    /// [`DEFAULT_MIN_CONFIDENCE`] and [`TaskKind::Chat`] as the fallback kind.
    pub fn new(classifier: C) -> Self {
        Self {
            classifier,
            counter: TokenCounter::Exact(Encoding::O200kBase),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            fallback_kind: TaskKind::Chat,
            kind: None,
            output_tokens: None,
        }
    }

    /// Below `min_confidence`, the task gets `kind`.
    pub fn fallback(mut self, kind: TaskKind, min_confidence: f32) -> Self {
        self.fallback_kind = kind;
        self.min_confidence = min_confidence;
        self
    }

    /// The kind of a request, with the confidence behind it (1 when the caller fixed it; the
    /// classifier's own confidence when it fell back).
    pub fn classify(&self, req: &ChatRequest) -> Classified {
        if let Some(kind) = &self.kind {
            return Classified::new(kind.clone(), 1.0);
        }
        let c = self.classifier.classify(&classify_input(req));
        if c.confidence < self.min_confidence {
            Classified::new(self.fallback_kind.clone(), c.confidence)
        } else {
            c
        }
    }

    /// The task a request describes.
    pub fn task(&self, req: &ChatRequest) -> TaskSpec {
        let kind = self.classify(req).kind;
        let input = self.counter.count_request(req).tokens;
        let mut task = TaskSpec::new(kind, input);
        task.output_tokens = self.output_tokens.or(req.max_tokens);
        task.capabilities = required_capabilities(req);
        task
    }
}

/// The capabilities a request needs: tools (tools given, or a tool choice that requires a call),
/// vision (an image), JSON mode (a response format), reasoning (a reasoning setting).
pub fn required_capabilities(req: &ChatRequest) -> Capabilities {
    let mut caps = Capabilities::NONE;
    if !req.tools.is_empty() && req.tool_choice != Some(ToolChoice::None) {
        caps = caps.with(Capability::Tools);
    }
    if req
        .messages
        .iter()
        .any(|m| m.content.iter().any(|p| matches!(p, ContentPart::Image(_))))
    {
        caps = caps.with(Capability::Vision);
    }
    if req.response_format.is_some() {
        caps = caps.with(Capability::JsonMode);
    }
    if req.reasoning.is_some() {
        caps = caps.with(Capability::Reasoning);
    }
    caps
}

/// What the classifier sees: the last user message's first text part, the system prompt, the
/// size of all input text, and whether structured output is asked for.
fn classify_input(req: &ChatRequest) -> ClassifyInput<'_> {
    let mut input = ClassifyInput::default();
    let mut chars = req.system.as_deref().map_or(0, str::len);
    for m in &req.messages {
        for p in &m.content {
            if let ContentPart::Text { text } = p {
                chars += text.len();
                if m.role == Role::User {
                    input.text = text;
                }
            }
        }
    }
    input.system = req.system.as_deref();
    input.input_chars = chars;
    input.structured_output = req.response_format.is_some();
    input
}

impl TaskSpec {
    /// The task a chat request describes, with the default [`RequestAnalyzer`]: capabilities
    /// from its tools, images, response format and reasoning; input tokens counted with
    /// `o200k_base`; expected output from `max_tokens` (else the kind's prior); the kind from
    /// [`RuleClassifier`] (chat below a confidence of 0.3). Override any field afterwards, or use
    /// [`RequestAnalyzer`] to change how they are derived.
    pub fn from_request(req: &ChatRequest) -> TaskSpec {
        RequestAnalyzer::default().task(req)
    }
}

impl Router {
    /// Routes a chat request: [`TaskSpec::from_request`], then [`route`](Router::route).
    ///
    /// # Errors
    ///
    /// As [`Router::route`].
    pub fn route_request(&self, req: &ChatRequest) -> Result<Decision, Error> {
        self.route(&TaskSpec::from_request(req))
    }

    /// Routes a chat request with a caller's [`RequestAnalyzer`].
    ///
    /// # Errors
    ///
    /// As [`Router::route`].
    pub fn route_request_with<C: KindClassifier>(
        &self,
        req: &ChatRequest,
        analyzer: &RequestAnalyzer<C>,
    ) -> Result<Decision, Error> {
        self.route(&analyzer.task(req))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::{Image, Message, Reasoning, ReasoningEffort, ResponseFormat, ToolDefinition};

    #[test]
    fn derives_capabilities_tokens_output_and_kind() {
        let req = ChatRequest::new()
            .system("You are a careful assistant.")
            .message(
                Message::user("Write a python function that parses this chart.")
                    .with_image(Image::base64("image/png", "QUJD")),
            )
            .tool(ToolDefinition::new("run", "Run code", json!({"type": "object"})))
            .response_format(ResponseFormat::JsonObject)
            .reasoning(Reasoning::Effort(ReasoningEffort::High))
            .max_tokens(900);
        let t = TaskSpec::from_request(&req);
        for c in [
            Capability::Tools,
            Capability::Vision,
            Capability::JsonMode,
            Capability::Reasoning,
        ] {
            assert!(t.capabilities.contains(c), "{c:?}");
        }
        assert_eq!(t.kind, TaskKind::CodeGeneration);
        assert_eq!(t.output_tokens, Some(900));
        assert_eq!(
            t.input_tokens,
            TokenCounter::Exact(Encoding::O200kBase)
                .count_request(&req)
                .tokens
        );
        let plain = TaskSpec::from_request(&ChatRequest::new().user("hi"));
        assert_eq!(plain.capabilities, Capabilities::NONE);
        assert_eq!(plain.output_tokens, None, "the kind's prior applies");
        let none = ChatRequest::new()
            .user("hi")
            .tool(ToolDefinition::new("run", "", json!({})))
            .tool_choice(ToolChoice::None);
        assert!(
            !TaskSpec::from_request(&none)
                .capabilities
                .contains(Capability::Tools)
        );
    }

    #[test]
    fn the_caller_overrides_and_low_confidence_falls_back() {
        let req = ChatRequest::new().user("Tom has 3 apples and buys 5 more. How many apples?");
        let a = RequestAnalyzer::default();
        assert_eq!(a.task(&req).kind, TaskKind::Math);
        let fixed = RequestAnalyzer::default()
            .kind(TaskKind::Planning)
            .output_tokens(7);
        let t = fixed.task(&req);
        assert_eq!((t.kind, t.output_tokens), (TaskKind::Planning, Some(7)));
        let unsure = RequestAnalyzer::default().fallback(TaskKind::Reasoning, 1.1);
        assert_eq!(unsure.task(&req).kind, TaskKind::Reasoning);
        let custom = RequestAnalyzer::new(classifier_fn(|_: &ClassifyInput<'_>| {
            Classified::new(TaskKind::Summarization, 0.9)
        }));
        assert_eq!(custom.task(&req).kind, TaskKind::Summarization);
    }
}
