//! Text features for learned estimators: hashed word and character n-grams, plus a small block
//! of dense, script-agnostic statistics (length, digits, code and formula markers, question form).
//!
//! The featurizer downloads nothing and holds no vocabulary: every n-gram is hashed with
//! XXH3 (a fixed, specified hash, so a saved estimator featurizes the same way on every machine
//! and Rust version) into `2^hash_bits` buckets, with a hash-derived sign so collisions cancel
//! on average. The result is a sparse [`Features`] vector whose first [`DENSE_FEATURES`]
//! indices are the dense statistics (index 0 is a constant bias) and whose other indices are
//! the hashed n-grams, scaled so that the n-gram part has unit norm.
//!
//! ## Defined behaviour on any input
//! - **Empty text**: only the dense block (with the `empty` marker set) and the task-kind
//!   feature; a learner then predicts from its biases.
//! - **Long text**: n-grams and the detailed statistics (shares of digits, code and formula
//!   markers, words) are taken from the first [`FeatureConfig::max_chars`] characters
//!   (default 8,192); the length, line count and final question mark are counted over the
//!   whole text, and the `truncated` marker is set. A 1 MB prompt is featurized in well under a
//!   millisecond (`cargo bench --bench learn --features learn -- featurize/1mb_prompt`).
//! - **Any script**: words are maximal runs of Unicode alphanumeric characters, lowercased
//!   with Unicode rules; character n-grams are taken over Unicode scalar values, so
//!   scripts without spaces (Chinese, Japanese, Thai) are covered by the character n-grams.
//!   Question marks of several scripts (`?`, fullwidth `？`, Arabic `؟`, Greek `;` U+037E) count.
//!
//! Featurizing is deterministic: the same text, kind and [`FeatureConfig`] always give the same
//! vector.

use derive_setters::Setters;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::task::TaskKind;

/// Number of dense features at the start of every vector (index 0 is the bias).
pub const DENSE_FEATURES: usize = 21;

/// Number of word-problem features appended after the hashed block when
/// [`FeatureConfig::math_features`] is on.
pub const MATH_FEATURES: usize = 18;

/// Names of the word-problem features, in index order (they start at
/// `DENSE_FEATURES + 2^hash_bits`).
pub const MATH_FEATURE_NAMES: [&str; MATH_FEATURES] = [
    "log_quantities",
    "log_distinct_numbers",
    "log_sentences",
    "log_question_words",
    "log_operation_words",
    "each",
    "per",
    "times",
    "percent",
    "twice",
    "half",
    "total",
    "left",
    "remaining",
    "fractions",
    "percent_signs",
    "currency_signs",
    "decimals",
];

/// Index of the first operation-word count in the word-problem block.
const OPS_SLOT: usize = 5;

/// The operation words counted, one feature each: their names in [`MATH_FEATURE_NAMES`] from
/// `OPS_SLOT` on.
const OPERATION_WORDS: &[&str] = MATH_FEATURE_NAMES.as_slice().split_at(OPS_SLOT).1.split_at(9).0;

/// Names of the dense features, in index order.
pub const DENSE_FEATURE_NAMES: [&str; DENSE_FEATURES] = [
    "bias",
    "log_chars",
    "log_words",
    "digit_share",
    "upper_share",
    "non_ascii_share",
    "punct_share",
    "code_markers",
    "formula_markers",
    "has_question_mark",
    "ends_with_question",
    "log_lines",
    "log_numbers",
    "mean_word_len",
    "option_lines",
    "type_token_ratio",
    "truncated",
    "empty",
    "max_number_digits",
    "imperative_code_words",
    "log_input_tokens",
];

const SEED_WORD: u64 = 0x7461_736b_726f_7574; // "taskrout"
const SEED_CHAR: u64 = 0x6368_6172_6e67_7261; // "charngra"
const SEED_KIND: u64 = 0x6b69_6e64_6b69_6e64; // "kindkind"

/// How text is turned into features. Saved with a trained estimator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Setters)]
#[setters(prefix = "with_", generate = false)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FeatureConfig {
    /// The hashed part has `2^hash_bits` buckets (8 to 24; default 16).
    #[setters(generate)]
    pub hash_bits: u8,
    /// Word n-grams of length 1 to this (0 disables words; default 2).
    #[setters(generate)]
    pub word_ngrams: u8,
    /// Shortest character n-gram (default 3; 0 disables character n-grams).
    pub char_ngram_min: u8,
    /// Longest character n-gram (default 4).
    pub char_ngram_max: u8,
    /// N-grams are taken from at most this many characters (default 8,192).
    #[setters(generate)]
    pub max_chars: usize,
    /// Adds a hashed feature for the task's kind (default true).
    pub kind_feature: bool,
    /// Appends the [`MATH_FEATURES`] word-problem statistics (numeric quantities, distinct
    /// numbers, sentences, operation words, fraction / percent / currency symbols, question
    /// length) after the hashed block (default false; files without the field read as false).
    #[serde(default)]
    #[setters(generate)]
    pub math_features: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            hash_bits: 16,
            word_ngrams: 2,
            char_ngram_min: 3,
            char_ngram_max: 4,
            max_chars: 8_192,
            kind_feature: true,
            math_features: false,
        }
    }
}

impl FeatureConfig {
    /// Sets the character n-gram range (`min == 0` disables them).
    pub fn with_char_ngrams(mut self, min: u8, max: u8) -> Self {
        self.char_ngram_min = min;
        self.char_ngram_max = max;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`](super::LearnError::InvalidConfig) naming the bad field.
    pub fn validate(&self) -> Result<(), super::LearnError> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(super::LearnError::InvalidConfig {
                field,
                value,
                expected,
            })
        };
        if !(8..=24).contains(&self.hash_bits) {
            return bad("features.hash_bits", self.hash_bits.to_string(), "8 to 24");
        }
        if self.word_ngrams > 4 {
            return bad("features.word_ngrams", self.word_ngrams.to_string(), "0 to 4");
        }
        if self.char_ngram_min > 0 && (self.char_ngram_max < self.char_ngram_min || self.char_ngram_max > 8) {
            return bad(
                "features.char_ngram_max",
                self.char_ngram_max.to_string(),
                "char_ngram_min to 8",
            );
        }
        if self.max_chars == 0 {
            return bad("features.max_chars", "0".into(), "at least 1");
        }
        Ok(())
    }

    /// Size of the feature space: the dense block, the hash buckets and, when on, the
    /// word-problem block.
    pub fn dim(&self) -> usize {
        DENSE_FEATURES + (1usize << self.hash_bits) + if self.math_features { MATH_FEATURES } else { 0 }
    }
}

/// A sparse feature vector: parallel `indices` and `values`.
///
/// Indices below [`DENSE_FEATURES`] are the dense statistics, each present once, in order;
/// the hashed indices follow, unsorted and possibly repeated (a dot product adds repeats,
/// which is the same as counting them).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Features {
    /// Feature indices, each `< FeatureConfig::dim()`.
    pub indices: Vec<u32>,
    /// Feature values, same length as `indices`.
    pub values: Vec<f32>,
}

impl Features {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored entries.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Clears the vector, keeping its buffers.
    pub fn clear(&mut self) {
        self.indices.clear();
        self.values.clear();
    }

    /// The value of dense feature `i` (see [`DENSE_FEATURE_NAMES`]).
    pub fn dense(&self, i: usize) -> f32 {
        if i < DENSE_FEATURES && self.indices.get(i) == Some(&(i as u32)) {
            self.values[i]
        } else {
            0.0
        }
    }

    /// Dot product with a dense weight vector; indices outside `w` count as zero.
    pub fn dot(&self, w: &[f32]) -> f32 {
        self.indices
            .iter()
            .zip(&self.values)
            .map(|(&i, &v)| w.get(i as usize).map_or(0.0, |w| w * v))
            .sum()
    }
}

/// Turns a task's text and kind into [`Features`]. Cheap to clone; `Send + Sync`.
///
/// ```
/// use taskroute::learn::{FeatureConfig, Featurizer, DENSE_FEATURES};
/// use taskroute::TaskKind;
/// let f = Featurizer::new(FeatureConfig::default())?;
/// let x = f.featurize("What is 2 + 2?", &TaskKind::Math);
/// assert!(x.len() > DENSE_FEATURES);
/// assert_eq!(x, f.featurize("What is 2 + 2?", &TaskKind::Math)); // deterministic
/// # Ok::<(), taskroute::learn::LearnError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Featurizer {
    config: FeatureConfig,
    shift: u32,
}

impl Featurizer {
    /// A featurizer with `config`.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`](super::LearnError::InvalidConfig) for a bad setting.
    pub fn new(config: FeatureConfig) -> Result<Self, super::LearnError> {
        config.validate()?;
        let shift = 64 - u32::from(config.hash_bits);
        Ok(Self { config, shift })
    }

    /// The configuration.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Size of the feature space.
    pub fn dim(&self) -> usize {
        self.config.dim()
    }

    /// Featurizes `text` of a task of `kind` into a new vector.
    pub fn featurize(&self, text: &str, kind: &TaskKind) -> Features {
        let mut out = Features::new();
        let mut scratch = String::new();
        self.featurize_into(text, kind, &mut scratch, &mut out);
        out
    }

    /// Featurizes into `out`, reusing `scratch` (for the normalised text) and `out`'s buffers,
    /// so a warm call allocates nothing.
    pub fn featurize_into(&self, text: &str, kind: &TaskKind, scratch: &mut String, out: &mut Features) {
        out.clear();
        // Detailed statistics over the first `max_chars` characters; length, lines and the final
        // question mark over the whole text (fast passes), so a huge prompt costs little.
        let end = text
            .char_indices()
            .nth(self.config.max_chars)
            .map_or(text.len(), |(i, _)| i);
        let mut stats = TextStats::count(&text[..end]);
        if end < text.len() {
            let rest = &text[end..];
            stats.chars += rest.chars().count();
            stats.lines += rest.bytes().filter(|&b| b == b'\n').count();
            stats.ends_with_question = matches!(
                text.trim_end().chars().next_back(),
                Some('?' | '？' | '؟' | '\u{037E}')
            );
        }
        for (i, v) in stats.dense(self.config.max_chars).iter().enumerate() {
            out.indices.push(i as u32);
            out.values.push(*v);
        }
        // Normalised text for n-grams: lowercased, whitespace runs collapsed to one space,
        // at most `max_chars` characters.
        scratch.clear();
        let mut taken = 0usize;
        let mut last_space = true;
        for c in text.chars() {
            if taken >= self.config.max_chars {
                break;
            }
            if c.is_whitespace() {
                if !last_space {
                    scratch.push(' ');
                    taken += 1;
                }
                last_space = true;
                continue;
            }
            last_space = false;
            if c.is_ascii() {
                scratch.push(c.to_ascii_lowercase());
            } else {
                scratch.extend(c.to_lowercase());
            }
            taken += 1;
        }
        let start = out.indices.len();
        self.word_ngrams(scratch, out);
        self.char_ngrams(scratch, out);
        if self.config.kind_feature {
            let h = xxh3_64_with_seed(kind.name().as_bytes(), SEED_KIND);
            self.push_hashed(h, 1.0, out);
        }
        // Unit norm for the hashed part (repeats counted as if distinct: an upper-bound-free
        // approximation that keeps one pass and no sorting).
        let n = out.indices.len() - start;
        if n > 0 {
            let scale = 1.0 / (n as f32).sqrt();
            for v in &mut out.values[start..] {
                *v *= scale;
            }
        }
        if self.config.math_features {
            let base = (DENSE_FEATURES + (1usize << self.config.hash_bits)) as u32;
            for (i, v) in math_stats(scratch).iter().enumerate() {
                out.indices.push(base + i as u32);
                out.values.push(*v);
            }
        }
    }

    /// As [`featurize_into`](Self::featurize_into), with the task's input token count for the
    /// `log_input_tokens` feature (instead of the text's length / 4). Learned estimators use
    /// this, so a task without text still has a length.
    pub fn featurize_task_into(
        &self,
        text: &str,
        kind: &TaskKind,
        input_tokens: u32,
        scratch: &mut String,
        out: &mut Features,
    ) {
        self.featurize_into(text, kind, scratch, out);
        out.values[TOKENS_SLOT] = log_tokens(input_tokens as usize);
    }

    #[inline]
    fn push_hashed(&self, h: u64, weight: f32, out: &mut Features) {
        let bucket = (h >> self.shift) as u32;
        let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
        out.indices.push(DENSE_FEATURES as u32 + bucket);
        out.values.push(sign * weight);
    }

    fn word_ngrams(&self, text: &str, out: &mut Features) {
        let n = usize::from(self.config.word_ngrams);
        if n == 0 {
            return;
        }
        // A ring of the last n-1 word hashes.
        let mut prev = [0u64; 4];
        for (count, word) in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .enumerate()
        {
            let h1 = xxh3_64_with_seed(word.as_bytes(), SEED_WORD);
            self.push_hashed(h1, 1.0, out);
            // Longer n-grams chain the hash: h(w_{i-k}..w_i) = xxh3(h(w_{i-k+1}..w_i), seed = h(w_{i-k})).
            let mut h = h1;
            for k in 1..n.min(count + 1) {
                let earlier = prev[(count + 4 - k) % 4];
                h = xxh3_64_with_seed(&h.to_le_bytes(), earlier.rotate_left(k as u32));
                self.push_hashed(h, 1.0, out);
            }
            prev[count % 4] = h1;
        }
    }

    fn char_ngrams(&self, text: &str, out: &mut Features) {
        let (lo, hi) = (
            usize::from(self.config.char_ngram_min),
            usize::from(self.config.char_ngram_max),
        );
        if lo == 0 {
            return;
        }
        // Byte offsets of the last `hi + 1` char boundaries.
        let mut bounds = [0usize; 9];
        let mut seen = 0usize;
        for (pos, c) in text.char_indices() {
            let end = pos + c.len_utf8();
            if seen == 0 {
                bounds[0] = pos;
            }
            seen += 1;
            bounds[seen % 9] = end;
            for n in lo..=hi.min(seen) {
                let start = bounds[(seen + 9 - n) % 9];
                let h = xxh3_64_with_seed(&text.as_bytes()[start..end], SEED_CHAR ^ n as u64);
                self.push_hashed(h, 1.0, out);
            }
        }
    }
}

/// The word-problem block over normalised (lowercased, whitespace-collapsed) text.
fn math_stats(text: &str) -> [f32; MATH_FEATURES] {
    let ln = |x: usize| (x as f32).ln_1p();
    let mut numbers: Vec<&str> = Vec::new();
    let (mut sentences, mut fractions, mut percents, mut currency, mut decimals) = (0usize, 0, 0, 0, 0);
    let mut ops = [0usize; OPERATION_WORDS.len()];
    let mut words_in_sentence = 0usize;
    let mut last_sentence_words = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0usize;
    let mut word_start: Option<usize> = None;
    let flush_word = |w: &str, ops: &mut [usize; OPERATION_WORDS.len()]| {
        if let Some(k) = OPERATION_WORDS.iter().position(|o| *o == w) {
            ops[k] += 1;
        }
    };
    // Numbers: digit runs with inner `,` or `.` followed by a digit ("80,000", "2.5").
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            if let Some(st) = word_start.take() {
                flush_word(&text[st..i], &mut ops);
                words_in_sentence += 1;
            }
            let st = i;
            let mut dot = false;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || (matches!(bytes[i], b',' | b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                dot |= bytes[i] == b'.';
                i += 1;
            }
            numbers.push(&text[st..i]);
            decimals += usize::from(dot);
            words_in_sentence += 1;
            if bytes.get(i) == Some(&b'/') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                fractions += 1;
            }
            continue;
        }
        let c_len = text[i..].chars().next().map_or(1, char::len_utf8);
        let c = text[i..].chars().next().unwrap_or(' ');
        if c.is_alphabetic() {
            if word_start.is_none() {
                word_start = Some(i);
            }
        } else {
            if let Some(st) = word_start.take() {
                flush_word(&text[st..i], &mut ops);
                words_in_sentence += 1;
            }
            match c {
                '%' => percents += 1,
                '$' | '€' | '£' | '¥' | '₹' => currency += 1,
                '.' | '!' | '?' | '。' | '？' | '！'
                    if words_in_sentence > 0
                        && text[i + c_len..]
                            .chars()
                            .next()
                            .is_none_or(|n| n == ' ' || n == '\n') =>
                {
                    sentences += 1;
                    last_sentence_words = words_in_sentence;
                    words_in_sentence = 0;
                }
                _ => {}
            }
        }
        i += c_len;
    }
    if let Some(st) = word_start {
        flush_word(&text[st..], &mut ops);
        words_in_sentence += 1;
    }
    if words_in_sentence > 0 {
        sentences += 1;
        last_sentence_words = words_in_sentence;
    }
    let quantities = numbers.len();
    numbers.sort_unstable();
    numbers.dedup();
    let sat = |x: usize| (x as f32 / 3.0).min(1.0);
    let mut out = [0.0f32; MATH_FEATURES];
    out[0] = ln(quantities) / 2.0;
    out[1] = ln(numbers.len()) / 2.0;
    out[2] = ln(sentences) / 2.0;
    out[3] = ln(last_sentence_words) / 3.0;
    out[4] = ln(ops.iter().sum()) / 2.0;
    for (k, n) in ops.iter().enumerate() {
        out[OPS_SLOT + k] = sat(*n);
    }
    out[14] = sat(fractions);
    out[15] = sat(percents);
    out[16] = sat(currency);
    out[17] = sat(decimals);
    out
}

/// Index of the `log_input_tokens` dense feature.
const TOKENS_SLOT: usize = DENSE_FEATURES - 1;

/// Centred and scaled so that 50 to 20,000 tokens map to about -1 to 2: linear learners
/// need a wide range to weigh length quickly.
fn log_tokens(tokens: usize) -> f32 {
    ((tokens as f32).ln_1p() - 5.0) / 2.0
}

/// Counts for the dense block, over the whole text in one pass.
#[derive(Default)]
struct TextStats {
    /// Characters of the whole text.
    chars: usize,
    /// Characters scanned for the detailed statistics (the shares are of these).
    scanned: usize,
    words: usize,
    word_chars: usize,
    digits: usize,
    letters: usize,
    upper: usize,
    non_ascii: usize,
    punct: usize,
    code: usize,
    formula: usize,
    question_marks: usize,
    ends_with_question: bool,
    lines: usize,
    numbers: usize,
    max_number_digits: usize,
    option_lines: usize,
    distinct_words_of_first_256: usize,
    first_words: usize,
    imperative_code: usize,
}

const CODE_WORDS: [&str; 14] = [
    "def", "return", "function", "class", "import", "fn", "let", "const", "var", "int", "void", "print",
    "elif", "lambda",
];
const IMPERATIVE_CODE: [&str; 6] = ["write", "implement", "python", "function", "code", "program"];

impl TextStats {
    fn count(text: &str) -> Self {
        let mut s = TextStats {
            lines: usize::from(!text.is_empty()),
            ..TextStats::default()
        };
        let mut prev = ' ';
        let mut run_digits = 0usize;
        let mut word_start: Option<usize> = None;
        let mut line_start = true;
        let mut line_prefix = 0usize; // chars seen on the line so far
        let mut line_head = ['\0'; 2];
        let mut seen_words: Vec<u64> = Vec::new();
        let mut last_non_ws = ' ';
        for (pos, c) in text.char_indices() {
            s.chars += 1;
            if !c.is_whitespace() {
                last_non_ws = c;
            }
            if c.is_ascii_digit() || c.is_numeric() {
                s.digits += 1;
                run_digits += 1;
            } else {
                if run_digits > 0 {
                    s.numbers += 1;
                    s.max_number_digits = s.max_number_digits.max(run_digits);
                }
                run_digits = 0;
            }
            if c.is_alphabetic() {
                s.letters += 1;
                if c.is_uppercase() {
                    s.upper += 1;
                }
            }
            if !c.is_ascii() {
                s.non_ascii += 1;
            }
            if c.is_ascii_punctuation() {
                s.punct += 1;
            }
            match c {
                '{' | '}' | ';' | '[' | ']' | '_' | '`' | '#' => s.code += 1,
                '(' if prev.is_alphanumeric() => s.code += 1,
                '=' | '+' | '*' | '/' | '^' | '<' | '>' | '\\' | '$' | '%' => s.formula += 1,
                '-' if prev.is_ascii_digit() || prev == ' ' => s.formula += 1,
                '∑' | '∫' | '√' | '≤' | '≥' | '≠' | '±' | '×' | '÷' | 'π' | '∞' => {
                    s.formula += 1
                }
                '?' | '？' | '؟' | '\u{037E}' => s.question_marks += 1,
                _ => {}
            }
            if c == '\n' {
                s.lines += 1;
                line_start = true;
                line_prefix = 0;
                line_head = ['\0'; 2];
            } else if line_start {
                if line_prefix == 0 && c == ' ' {
                    // leading indentation: a code marker when deep
                } else if line_prefix < 2 {
                    line_head[line_prefix] = c;
                    line_prefix += 1;
                    if line_prefix == 2 {
                        let [a, b] = line_head;
                        if a.is_ascii_uppercase() && matches!(b, ')' | '.' | ':') {
                            s.option_lines += 1;
                        }
                        line_start = false;
                    }
                }
            }
            // Words.
            if c.is_alphanumeric() {
                if word_start.is_none() {
                    word_start = Some(pos);
                }
            } else if let Some(st) = word_start.take() {
                s.note_word(&text[st..pos], &mut seen_words);
            }
            prev = c;
        }
        if run_digits > 0 {
            s.numbers += 1;
            s.max_number_digits = s.max_number_digits.max(run_digits);
        }
        if let Some(st) = word_start {
            s.note_word(&text[st..], &mut seen_words);
        }
        s.scanned = s.chars;
        s.ends_with_question = matches!(last_non_ws, '?' | '？' | '؟' | '\u{037E}');
        s
    }

    fn note_word(&mut self, w: &str, seen: &mut Vec<u64>) {
        self.words += 1;
        self.word_chars += w.chars().count();
        if w.len() <= 8 {
            let lw = w.to_ascii_lowercase();
            if CODE_WORDS.contains(&lw.as_str()) {
                self.code += 1;
            }
            if IMPERATIVE_CODE.contains(&lw.as_str()) {
                self.imperative_code += 1;
            }
        }
        if self.first_words < 256 {
            self.first_words += 1;
            let h = xxh3_64_with_seed(w.as_bytes(), 0);
            if !seen.contains(&h) {
                seen.push(h);
                self.distinct_words_of_first_256 += 1;
            }
        }
    }

    fn dense(&self, max_chars: usize) -> [f32; DENSE_FEATURES] {
        let ln = |x: usize| (x as f32).ln_1p();
        let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f32 / b as f32 };
        let sat = |x: usize, scale: f32| (x as f32 / scale).min(1.0);
        [
            1.0,
            ln(self.chars) / 10.0,
            ln(self.words) / 8.0,
            share(self.digits, self.scanned),
            share(self.upper, self.letters),
            share(self.non_ascii, self.scanned),
            share(self.punct, self.scanned),
            sat(self.code, 20.0),
            sat(self.formula, 10.0),
            f32::from(u8::from(self.question_marks > 0)),
            f32::from(u8::from(self.ends_with_question)),
            ln(self.lines) / 5.0,
            ln(self.numbers) / 4.0,
            if self.words == 0 {
                0.0
            } else {
                (self.word_chars as f32 / self.words as f32 / 10.0).min(2.0)
            },
            sat(self.option_lines, 5.0),
            share(self.distinct_words_of_first_256, self.first_words),
            f32::from(u8::from(self.chars > max_chars)),
            f32::from(u8::from(self.chars == 0)),
            sat(self.max_number_digits, 10.0),
            sat(self.imperative_code, 3.0),
            // Replaced by the task's own token count in `featurize_task_into`.
            log_tokens(self.chars.div_ceil(4)),
        ]
    }
}

#[cfg(test)]
mod tests;
