//! The pre-tokenizer of `o200k_base` and `cl100k_base`, hand-scanned on ASCII and `bpe-openai`'s
//! own regex elsewhere: the same pieces as `Tokenizer::split`, several times faster on English
//! prose and code.
//!
//! `bpe-openai` splits a text with one anchored regex search per piece (`regex-automata`), and
//! each search looks only at the text from the piece's start on. So any piece may be found by
//! another means, provided it is the same piece. Here a piece whose every character the patterns
//! examine is ASCII is found by a scanner that follows the patterns' alternatives in their order
//! of preference (leftmost-first, greedy); as soon as the scanner would read a non-ASCII byte it
//! gives up, and that piece comes from `bpe-openai`'s regex on the rest of the text. Non-ASCII
//! text therefore costs what it cost before; ASCII costs a table lookup per byte.
//!
//! The patterns (from `bpe-openai` 0.3, which writes tiktoken's `\s+(?!\S)` as the look-ahead
//! pattern `\s+\s` minus its last character):
//!
//! ```text
//! o200k_base:
//!   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//!   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//!   \p{N}{1,3}  |   ?[^\s\p{L}\p{N}]+[\r\n/]*  |  \s*[\r\n]+  |  \s+$  |  \s+\s (look-ahead)  |  \s+
//! cl100k_base:
//!   (?i:'s|'t|'re|'ve|'m|'ll|'d)  |  [^\r\n\p{L}\p{N}]?\p{L}+  |  \p{N}{1,3}
//!   |   ?[^\s\p{L}\p{N}]+[\r\n]*  |  \s*[\r\n]+  |  \s+$  |  \s+\s (look-ahead)  |  \s+
//! ```
//!
//! On ASCII, `\p{L}` is `[A-Za-z]` (`\p{Lu}` the capitals, `\p{Ll}` the small letters; no ASCII
//! character is `Lt`, `Lm`, `Lo` or `M`), `\p{N}` is `[0-9]` and `\s` is `[\t\n\x0B\x0C\r ]`.
//! Exactness is tested piece by piece against `Tokenizer::split` (a property test below and the
//! corpus of `tests/request_tokens.rs`), and the counts against `tiktoken-rs`.

use bpe_openai::Tokenizer;

use super::tokens::Encoding;

/// The pieces of `text`, as `bpe-openai`'s `Tokenizer::split` gives them for `encoding`.
pub fn split(encoding: Encoding, text: &str) -> Pieces<'_> {
    Pieces {
        tokenizer: tokenizer(encoding),
        encoding,
        rest: text,
    }
}

/// `bpe-openai`'s tokenizer of an encoding.
pub(crate) fn tokenizer(encoding: Encoding) -> &'static Tokenizer {
    match encoding {
        Encoding::O200kBase => bpe_openai::o200k_base(),
        Encoding::Cl100kBase => bpe_openai::cl100k_base(),
    }
}

/// The iterator of [`split`].
pub struct Pieces<'a> {
    tokenizer: &'static Tokenizer,
    encoding: Encoding,
    rest: &'a str,
}

impl std::fmt::Debug for Pieces<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("encoding", &self.encoding)
            .field("rest", &self.rest.len())
            .finish()
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest.as_bytes();
        let scanned = match self.encoding {
            Encoding::O200kBase => o200k(bytes),
            Encoding::Cl100kBase => cl100k(bytes),
        };
        // The regex's next piece depends only on the text from here on (an anchored search of
        // the rest), so asking it about the rest gives the piece `Tokenizer::split` gives here.
        let len = match scanned {
            Some(len) => len,
            None => self.tokenizer.split(self.rest).next().map_or(0, str::len),
        };
        if len == 0 {
            // No pattern matched: `bpe-openai` stops here too.
            self.rest = "";
            return None;
        }
        let (piece, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(piece)
    }
}

// Classes of ASCII bytes, as bits.
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
/// `\r`, `\n`.
const NEWLINE: u8 = 8;
/// `' '`.
const SPACE: u8 = 16;
/// `\t`, `\x0B`, `\x0C`: the rest of ASCII `\s`.
const OTHER_SPACE: u8 = 32;
/// Neither a letter, a digit nor a space: `[^\s\p{L}\p{N}]`.
const PUNCT: u8 = 64;
/// The end of the text (no bit set).
const END: u8 = 0;

const LETTER: u8 = UPPER | LOWER;
const WHITE: u8 = NEWLINE | SPACE | OTHER_SPACE;
/// `[^\r\n\p{L}\p{N}]`: the optional character before a word.
const PREFIX: u8 = SPACE | OTHER_SPACE | PUNCT;

static CLASS: [u8; 128] = {
    let mut t = [PUNCT; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = match c {
            b'A'..=b'Z' => UPPER,
            b'a'..=b'z' => LOWER,
            b'0'..=b'9' => DIGIT,
            b'\r' | b'\n' => NEWLINE,
            b' ' => SPACE,
            b'\t' | 0x0B | 0x0C => OTHER_SPACE,
            _ => PUNCT,
        };
        b += 1;
    }
    t
};

/// The class of byte `i` ([`END`] past the end), or `None` for a non-ASCII byte: its character
/// may be a letter, a digit or a space, which only the regex knows.
#[inline]
fn at(t: &[u8], i: usize) -> Option<u8> {
    match t.get(i) {
        None => Some(END),
        Some(&b) if b < 128 => Some(CLASS[usize::from(b)]),
        Some(_) => None,
    }
}

/// The end of the run of bytes of the `mask` classes starting at `i`.
#[inline]
fn run(t: &[u8], mut i: usize, mask: u8) -> Option<usize> {
    while at(t, i)? & mask != 0 {
        i += 1;
    }
    Some(i)
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: its end, `Some(None)` if there is none.
#[inline]
fn contraction(t: &[u8], i: usize) -> Option<Option<usize>> {
    if t.get(i) != Some(&b'\'') {
        return Some(None);
    }
    let second = |j: usize, want: u8| -> Option<Option<usize>> {
        at(t, j)?;
        Some((t.get(j).map(u8::to_ascii_lowercase) == Some(want)).then_some(j + 1))
    };
    at(t, i + 1)?;
    match t.get(i + 1).map(u8::to_ascii_lowercase) {
        Some(b's' | b't' | b'm' | b'd') => Some(Some(i + 2)),
        Some(b'r' | b'v') => second(i + 2, b'e'),
        Some(b'l') => second(i + 2, b'l'),
        _ => Some(None),
    }
}

/// `\p{N}{1,3}` at the start (a digit is there).
#[inline]
fn digits(t: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < 3 && at(t, i)? == DIGIT {
        i += 1;
    }
    Some(i)
}

/// ` ?[^\s\p{L}\p{N}]+` then the run of `tail` classes (or `/`): its end, `Some(None)` if the
/// text does not start so.
#[inline]
fn punctuation(t: &[u8], slash: bool) -> Option<Option<usize>> {
    let s = usize::from(t[0] == b' ');
    let end = run(t, s, PUNCT)?;
    if end == s {
        return Some(None);
    }
    let mut i = end;
    while let Some(&b) = t.get(i) {
        if !(b == b'\r' || b == b'\n' || (slash && b == b'/')) {
            break;
        }
        i += 1;
    }
    Some(Some(i))
}

/// The whitespace alternatives, in order: `\s*[\r\n]+`, `\s+$`, `\s+\s` (minus the look-ahead
/// character), `\s+`. The text starts with a space.
#[inline]
fn whitespace(t: &[u8]) -> Option<usize> {
    let w = run(t, 0, WHITE)?;
    if let Some(last) = t[..w].iter().rposition(|&b| b == b'\r' || b == b'\n') {
        return Some(last + 1);
    }
    if w == t.len() {
        return Some(w);
    }
    Some(if w >= 2 { w - 1 } else { w })
}

/// The length of `o200k_base`'s first piece of `t` (not empty), `None` if a non-ASCII character
/// could decide it.
fn o200k(t: &[u8]) -> Option<usize> {
    let c0 = at(t, 0)?;
    // The two word patterns: [prefix]? capitals* small+ | [prefix]? capitals+ small*, then a
    // contraction. On ASCII the classes do not overlap, so a word is its capitals then its
    // small letters, and either pattern matches when there is one letter.
    let start = usize::from(c0 & PREFIX != 0);
    let upper_end = run(t, start, UPPER)?;
    let word_end = run(t, upper_end, LOWER)?;
    if word_end > start {
        return Some(contraction(t, word_end)?.unwrap_or(word_end));
    }
    if c0 == DIGIT {
        return digits(t);
    }
    if let Some(end) = punctuation(t, true)? {
        return Some(end);
    }
    whitespace(t)
}

/// The length of `cl100k_base`'s first piece of `t` (not empty), `None` if a non-ASCII character
/// could decide it.
fn cl100k(t: &[u8]) -> Option<usize> {
    let c0 = at(t, 0)?;
    if let Some(end) = contraction(t, 0)? {
        return Some(end);
    }
    let start = usize::from(c0 & PREFIX != 0);
    let word_end = run(t, start, LETTER)?;
    if word_end > start {
        return Some(word_end);
    }
    if c0 == DIGIT {
        return digits(t);
    }
    if let Some(end) = punctuation(t, false)? {
        return Some(end);
    }
    whitespace(t)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn same_pieces(text: &str) {
        for e in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let ours: Vec<&str> = split(e, text).collect();
            let theirs: Vec<&str> = tokenizer(e).split(text).collect();
            assert_eq!(ours, theirs, "{}: {text:?}", e.name());
        }
    }

    #[test]
    fn the_same_pieces_as_bpe_openai_on_hand_picked_texts() {
        for text in [
            "",
            " ",
            "  ",
            "\n",
            " \n ",
            "Hello, world! It's 2024; we'll see.",
            "HELLOworld helloWORLD Hello'S THEY'RE they'Ve I'M i'll 'd 's 'x 'rx 're",
            "x = a/b // c\r\n\r\n/path/to\n/ file.rs:12:3",
            "  indented\n\tcode\r\n    \n  ",
            "1234567 12 1 a1b2 $5.00 3.14159",
            "\x0b\x0c\t word \x0bword \x1fword \x7fword",
            "trailing spaces   ",
            "trailing newline \n",
            "!!!???... ?! ?!\n\n",
            "naïve café Ünïcödé 日本語 🦀 x\u{a0}y \u{2028}z ſ 's'ſ I'ſ ²³ ½",
            "word\u{301} e\u{301}t\u{e9} A\u{300}B",
            "<|endoftext|> is text",
        ] {
            same_pieces(text);
        }
    }

    /// Characters that exercise every class: ASCII of each kind, and non-ASCII letters, marks,
    /// digits, spaces and symbols that the regex must decide.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(
                " \t\n\r\x0b\x0c\x1f\x7f'/!?.,;:$-_()[]{}#@\"\\aAzZsStTrReEvVlLmMdDxX0159"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            1 => prop::sample::select(vec![
                'é', 'Ü', 'ſ', 'K', 'ǅ', 'ʰ', '中', '\u{301}', '\u{a0}', '\u{2028}', '\u{85}',
                '²', '½', '٣', '🦀', '—', '’',
            ]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_same_pieces_as_bpe_openai(chars in prop::collection::vec(tricky_char(), 0..40)) {
            let text: String = chars.into_iter().collect();
            same_pieces(&text);
        }

        #[test]
        fn the_same_pieces_as_bpe_openai_on_ascii(text in "[ -~\t\n\r]{0,60}") {
            same_pieces(&text);
        }
    }
}
