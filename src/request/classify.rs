//! [`KindClassifier`]: names the [`TaskKind`] of a prompt, with a confidence; [`RuleClassifier`]
//! is the built-in, rule-based one.

use std::fmt;
use std::sync::{Arc, LazyLock};

use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;

use super::words::{DIGIT, MATH_SIGN, UPPER, words};
use crate::closure::closure_adapter;
use crate::task::TaskKind;

/// What a classifier sees of a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassifyInput<'a> {
    /// The instruction: the last user message's text.
    pub text: &'a str,
    /// The system prompt, if any.
    pub system: Option<&'a str>,
    /// All input text, in characters (long inputs lean towards summarisation).
    pub input_chars: usize,
    /// Whether the request asks for structured (JSON) output.
    pub structured_output: bool,
    /// Whether the request carries a code suffix (fill-in-the-middle).
    pub code_suffix: bool,
}

impl<'a> ClassifyInput<'a> {
    /// An input of just this text.
    pub fn text(text: &'a str) -> Self {
        Self {
            text,
            input_chars: text.chars().count(),
            ..Self::default()
        }
    }
}

/// A kind and how sure the classifier is of it, in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Classified {
    /// The kind.
    pub kind: TaskKind,
    /// The confidence, in `[0, 1]`.
    pub confidence: f32,
}

impl Classified {
    /// A kind with a confidence (clamped into `[0, 1]`; NaN becomes 0).
    pub fn new(kind: TaskKind, confidence: f32) -> Self {
        let confidence = if confidence.is_nan() {
            0.0
        } else {
            confidence.clamp(0.0, 1.0)
        };
        Self { kind, confidence }
    }
}

/// Names the kind of task a prompt asks for.
///
/// [`classifier_fn`] makes one of a closure.
pub trait KindClassifier: Send + Sync {
    /// The kind of `input`, with a confidence.
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified;
}

closure_adapter! {
    /// A [`KindClassifier`] made of a closure by [`classifier_fn`].
    pub struct ClassifierFn;
    /// A classifier from a closure `Fn(&ClassifyInput) -> Classified`.
    pub fn classifier_fn;
    impl KindClassifier { fn classify(&self, input: &ClassifyInput<'_>) -> Classified; }
}

impl<T: KindClassifier + ?Sized> KindClassifier for &T {
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified {
        (**self).classify(input)
    }
}

impl<T: KindClassifier + ?Sized> KindClassifier for Box<T> {
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified {
        (**self).classify(input)
    }
}

impl<T: KindClassifier + ?Sized> KindClassifier for Arc<T> {
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified {
        (**self).classify(input)
    }
}

/// The rule-based classifier: cue words and shapes scored per kind.
///
/// - fill-in-the-middle markers or a code suffix: code completion;
/// - code fences, code words (`function`, `python`, `implement`, ...): code generation;
/// - plans, steps, itineraries: planning;
/// - arithmetic, equations and word problems (numbers with "how many/much"): math;
/// - "summarise", or a long input with a short instruction: summarisation;
/// - "classify", "categorise", sentiment, labels: classification;
/// - a JSON schema, "extract", "identify the ... entities", JSON/CSV output: extraction;
/// - riddles, "why", "explain", logic: reasoning; else chat.
///
/// The confidence is the winning score's share of the winning and runner-up scores plus one
/// (so a lone weak cue is not a sure answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleClassifier;

impl RuleClassifier {
    /// The rule-based classifier.
    pub const fn new() -> Self {
        RuleClassifier
    }
}

/// A score per built-in kind, in [`TaskKind::BUILTIN`]'s order.
#[derive(Default)]
struct Scores([f32; TaskKind::BUILTIN_COUNT]);

impl Scores {
    fn add(&mut self, k: &TaskKind, w: f32) {
        if let Some(i) = k.builtin_index() {
            self.0[i] += w;
        }
    }
}

impl fmt::Debug for Scores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(TaskKind::BUILTIN.iter().zip(self.0.iter()))
            .finish()
    }
}

/// Cue words (lower-case) and the kind and weight each adds.
const CUES: &[(&[&str], TaskKind, f32)] = &[
    // code
    (
        &[
            "python",
            "javascript",
            "typescript",
            "java",
            "c++",
            "rust",
            "golang",
            "sql",
            "html",
            "css",
            "bash",
            "regex",
            "json_schema",
        ],
        TaskKind::CodeGeneration,
        2.0,
    ),
    (
        &[
            "function",
            "functions",
            "program",
            "implement",
            "code",
            "script",
            "algorithm",
            "compile",
            "debug",
            "bug",
            "def",
            "class",
            "return",
            "returns",
            "assert",
            "array",
            "arrays",
            "string",
            "strings",
            "list",
            "lists",
            "tuple",
            "tuples",
            "integer",
            "integers",
            "dictionary",
            "recursion",
            "complexity",
            "binary",
            "tree",
            "node",
            "nodes",
            "sorted",
            "substring",
            "api",
            "website",
        ],
        TaskKind::CodeGeneration,
        1.0,
    ),
    // math
    (
        &[
            "calculate",
            "compute",
            "solve",
            "equation",
            "equations",
            "probability",
            "area",
            "remainder",
            "sum",
            "total",
            "percent",
            "percentage",
            "average",
            "divided",
            "multiply",
            "times",
            "cost",
            "costs",
            "pay",
            "paid",
            "earn",
            "earns",
            "profit",
            "dollars",
            "cents",
            "each",
            "per",
            "half",
            "twice",
            "triple",
            "hours",
            "minutes",
            "miles",
            "inequality",
            "dice",
            "triangle",
            "square",
            "value",
        ],
        TaskKind::Math,
        1.0,
    ),
    // extraction
    (
        &["extract", "extraction", "entities", "json", "csv"],
        TaskKind::Extraction,
        4.0,
    ),
    (
        &["named", "fields", "records", "parse", "retrieve"],
        TaskKind::Extraction,
        2.0,
    ),
    (
        &["identify", "format", "present", "output"],
        TaskKind::Extraction,
        1.5,
    ),
    // summarisation
    (
        &[
            "summarize",
            "summarise",
            "summary",
            "summarization",
            "summarisation",
            "tl;dr",
            "tldr",
            "condense",
            "gist",
            "recap",
        ],
        TaskKind::Summarization,
        3.0,
    ),
    // classification
    (
        &[
            "classify",
            "categorize",
            "categorise",
            "category",
            "categories",
            "label",
            "labels",
            "sentiment",
            "scale",
            "rate",
            "evaluate",
        ],
        TaskKind::Classification,
        1.5,
    ),
    // planning
    (
        &[
            "plan",
            "plans",
            "planning",
            "itinerary",
            "roadmap",
            "schedule",
            "milestones",
            "steps",
            "strategy",
            "outline",
            "agenda",
        ],
        TaskKind::Planning,
        2.0,
    ),
    // reasoning
    (
        &[
            "why",
            "explain",
            "reason",
            "reasons",
            "riddle",
            "puzzle",
            "logic",
            "logical",
            "deduce",
            "true",
            "false",
            "uncertain",
            "relationship",
            "position",
            "overtaken",
            "brothers",
            "sisters",
            "father",
            "direction",
        ],
        TaskKind::Reasoning,
        1.0,
    ),
    // chat and writing
    (
        &[
            "write",
            "compose",
            "draft",
            "story",
            "poem",
            "essay",
            "email",
            "blog",
            "imagine",
            "pretend",
            "character",
            "describe",
            "discuss",
        ],
        TaskKind::Chat,
        1.0,
    ),
];

/// [`CUES`] as a table, built once: one hash lookup per word instead of a comparison per cue.
static CUE_TABLE: LazyLock<FxHashMap<&'static str, (&'static TaskKind, f32)>> = LazyLock::new(|| {
    CUES.iter()
        .flat_map(|(words, k, w)| words.iter().map(move |word| (*word, (k, *w))))
        .collect()
});

/// The cue (kind and weight) of one lower-cased word.
fn word_cue(w: &str) -> Option<(&'static TaskKind, f32)> {
    CUE_TABLE.get(w).copied()
}

/// The longest word that can be a cue (or "how", "write", ... in the rules below).
const MAX_CUE_BYTES: usize = 16;
/// The shortest cue word: shorter words ("a", "of", "to") are not looked up.
const MIN_CUE_BYTES: usize = 3;

impl KindClassifier for RuleClassifier {
    fn classify(&self, input: &ClassifyInput<'_>) -> Classified {
        let text = input.text;
        let mut s = Scores::default();
        let (fim, fence) = markers(text);
        if input.code_suffix || fim {
            return Classified::new(TaskKind::CodeCompletion, 0.95);
        }
        if input.structured_output {
            s.add(&TaskKind::Extraction, 3.0);
        }
        if fence {
            s.add(&TaskKind::CodeGeneration, 3.0);
        }
        let mut numbers = 0u32;
        let mut word_count = 0u32;
        let mut prev_how = false;
        let mut write_a = false;
        for word in words(text) {
            let raw = word.text;
            word_count += 1;
            if word.flags & DIGIT != 0 {
                numbers += 1;
                if word.flags & MATH_SIGN != 0 {
                    s.add(&TaskKind::Math, 1.0);
                }
                continue;
            }
            if raw.len() > MAX_CUE_BYTES {
                // No cue is this long.
                prev_how = false;
                write_a = false;
                continue;
            }
            let mut lower = [0u8; MAX_CUE_BYTES];
            let w = if word.flags & UPPER != 0 {
                let lower = &mut lower[..raw.len()];
                lower.copy_from_slice(raw.as_bytes());
                lower.make_ascii_lowercase();
                // Only ASCII bytes changed: still UTF-8.
                std::str::from_utf8(lower).unwrap_or(raw)
            } else {
                raw
            };
            if prev_how && matches!(w, "many" | "much" | "long" | "far" | "old") {
                s.add(&TaskKind::Math, 2.0);
            }
            if write_a && matches!(w, "function" | "program" | "script" | "python" | "sql" | "query") {
                s.add(&TaskKind::CodeGeneration, 3.0);
            }
            prev_how = w == "how";
            write_a = matches!(w, "write" | "a" | "an") && (write_a || w == "write");
            if w.len() >= MIN_CUE_BYTES
                && let Some((k, weight)) = word_cue(w)
            {
                s.add(k, weight);
            }
        }
        // Word problems: several numbers in a question.
        if numbers >= 2 {
            s.add(&TaskKind::Math, (numbers.min(6) as f32) * 0.4);
        }
        // A long input with a short instruction: summarise it.
        if input.input_chars > 6_000 && word_count < 60 {
            s.add(&TaskKind::Summarization, 2.0);
        }
        s.add(&TaskKind::Chat, 0.5);
        let (best, second) = top_two(&s);
        let confidence = s.0[best] / (s.0[best] + s.0[second] + 1.0);
        Classified::new(TaskKind::BUILTIN[best].clone(), confidence)
    }
}

fn top_two(s: &Scores) -> (usize, usize) {
    let mut best = TaskKind::Chat.builtin_index().unwrap_or_default();
    for (i, v) in s.0.iter().enumerate() {
        if *v > s.0[best] {
            best = i;
        }
    }
    let mut second = if best == 0 { 1 } else { 0 };
    for (i, v) in s.0.iter().enumerate() {
        if i != best && *v > s.0[second] {
            second = i;
        }
    }
    (best, second)
}

/// Fill-in-the-middle markers of the common code models, then a code fence (the last pattern).
const MARKERS: [&str; 8] = [
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<fim_prefix>",
    "<fim_suffix>",
    "<PRE>",
    "<SUF>",
    "<|fim▁begin|>",
    "```",
];

/// [`MARKERS`] as one automaton, built once: the text is scanned once for all of them.
static MARKER_SEARCH: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::new(MARKERS).expect("the markers are a handful of short strings"));

/// Whether `text` has a fill-in-the-middle marker, and whether it has a code fence.
fn markers(text: &str) -> (bool, bool) {
    let fence = MARKERS.len() - 1;
    let mut has_fence = false;
    for m in MARKER_SEARCH.find_overlapping_iter(text) {
        if m.pattern().as_usize() != fence {
            return (true, has_fence);
        }
        has_fence = true;
    }
    (false, has_fence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> TaskKind {
        RuleClassifier.classify(&ClassifyInput::text(text)).kind
    }

    #[test]
    fn names_the_obvious_kinds() {
        assert_eq!(
            kind("Write a python function to reverse a string."),
            TaskKind::CodeGeneration
        );
        assert_eq!(
            kind("<|fim_prefix|>def f(x):\n<|fim_suffix|>\n<|fim_middle|>"),
            TaskKind::CodeCompletion
        );
        assert_eq!(
            kind("Tom has 3 apples and buys 5 more at $2 each. How many apples does he have?"),
            TaskKind::Math
        );
        assert_eq!(
            kind("Summarize this article in three bullet points."),
            TaskKind::Summarization
        );
        assert_eq!(
            kind("Extract the names and dates from the text below and output JSON."),
            TaskKind::Extraction
        );
        assert_eq!(
            kind("Classify the sentiment of this review as positive or negative."),
            TaskKind::Classification
        );
        assert_eq!(
            kind("Make a plan with milestones for launching the product."),
            TaskKind::Planning
        );
        assert_eq!(kind("hello there"), TaskKind::Chat);
        assert_eq!(
            kind("Fix this:\n```\nx = 1\n```\n<PRE> y"),
            TaskKind::CodeCompletion
        );
        assert_eq!(
            kind("Tell me about this:\n```\nx = 1\n```"),
            TaskKind::CodeGeneration
        );
    }

    #[test]
    fn structured_output_and_code_suffix_are_strong_cues() {
        let mut input = ClassifyInput::text("Tell me about the people in this story.");
        input.structured_output = true;
        assert_eq!(RuleClassifier.classify(&input).kind, TaskKind::Extraction);
        input.code_suffix = true;
        let c = RuleClassifier.classify(&input);
        assert_eq!(c.kind, TaskKind::CodeCompletion);
        assert!(c.confidence > 0.9);
    }

    #[test]
    fn every_cue_word_is_in_the_table_once() {
        let words: Vec<&str> = CUES.iter().flat_map(|(w, _, _)| w.iter().copied()).collect();
        assert_eq!(CUE_TABLE.len(), words.len(), "a word listed twice");
        for w in words {
            assert!(
                (MIN_CUE_BYTES..=MAX_CUE_BYTES).contains(&w.len()) && w == w.to_ascii_lowercase(),
                "{w}"
            );
        }
        assert_eq!(kind("WRITE A PYTHON FUNCTION."), TaskKind::CodeGeneration);
    }

    #[test]
    fn confidence_is_in_range_and_closures_classify() {
        for t in ["", "a", "why why why", "1 2 3 4 5 6 7 8"] {
            let c = RuleClassifier.classify(&ClassifyInput::text(t));
            assert!((0.0..=1.0).contains(&c.confidence), "{t}: {c:?}");
        }
        let f = classifier_fn(|_: &ClassifyInput<'_>| Classified::new(TaskKind::Math, 7.0));
        assert_eq!(f.classify(&ClassifyInput::text("x")).confidence, 1.0);
        let boxed: Box<dyn KindClassifier> = Box::new(RuleClassifier);
        assert_eq!(boxed.classify(&ClassifyInput::text("hello")).kind, TaskKind::Chat);
    }
}
