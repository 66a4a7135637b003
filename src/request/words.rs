//! The rule classifier's word scan: the words of a prompt between spaces and the punctuation
//! `, . ? ! : ; ( ) " '`, each with what the rules ask of it (a digit, a capital, an arithmetic
//! sign), found in one pass over the bytes.

/// The word has an ASCII digit.
pub(crate) const DIGIT: u8 = 1;
/// The word has an ASCII capital.
pub(crate) const UPPER: u8 = 2;
/// The word has one of `+ * ^ = / % $`.
pub(crate) const MATH_SIGN: u8 = 4;
/// A byte that ends a word: ASCII white space or the punctuation above.
const DELIMITER: u8 = 8;
/// A byte of a non-ASCII character (which ends a word if the character is white space).
const NON_ASCII: u8 = 16;

static BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => DIGIT,
            b'A'..=b'Z' => UPPER,
            b'+' | b'*' | b'^' | b'=' | b'/' | b'%' | b'$' => MATH_SIGN,
            // `char::is_whitespace` on ASCII: \t \n \x0B \x0C \r and the space.
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' => DELIMITER,
            b',' | b'.' | b'?' | b'!' | b':' | b';' | b'(' | b')' | b'"' | b'\'' => DELIMITER,
            0x80..=0xFF => NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// A word and its flags ([`DIGIT`], [`UPPER`], [`MATH_SIGN`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    pub(crate) text: &'a str,
    pub(crate) flags: u8,
}

/// The words of `text`: the non-empty parts of
/// `text.split(|c| c.is_whitespace() || ", . ? ! : ; ( ) \" '".contains(c))`.
pub(crate) fn words(text: &str) -> Words<'_> {
    Words { text, pos: 0 }
}

/// The iterator of [`words`].
#[derive(Debug)]
pub(crate) struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl Words<'_> {
    /// The length of the non-ASCII character at `i` if it is white space.
    #[inline]
    fn unicode_space(&self, i: usize) -> Option<usize> {
        let c = self.text.get(i..)?.chars().next()?;
        c.is_whitespace().then(|| c.len_utf8())
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    fn next(&mut self) -> Option<Word<'a>> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        // Skip delimiters.
        loop {
            let class = BYTE[usize::from(*bytes.get(i)?)];
            if class & DELIMITER != 0 {
                i += 1;
            } else if class & NON_ASCII != 0
                && let Some(n) = self.unicode_space(i)
            {
                i += n;
            } else {
                break;
            }
        }
        let start = i;
        let mut flags = 0;
        while let Some(&b) = bytes.get(i) {
            let class = BYTE[usize::from(b)];
            if class & DELIMITER != 0 {
                break;
            }
            if class & NON_ASCII != 0 {
                if self.unicode_space(i).is_some() {
                    break;
                }
                // A lead byte: skip the whole character.
                i += self.text[i..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            flags |= class;
            i += 1;
        }
        self.pos = i;
        Some(Word {
            text: &self.text[start..i],
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The split the rules used before this scan.
    fn by_chars(text: &str) -> Vec<&str> {
        text.split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '.' | '?' | '!' | ':' | ';' | '(' | ')' | '"' | '\'')
        })
        .filter(|w| !w.is_empty())
        .collect()
    }

    fn check(text: &str) {
        let got: Vec<Word<'_>> = words(text).collect();
        let texts: Vec<&str> = got.iter().map(|w| w.text).collect();
        assert_eq!(texts, by_chars(text), "{text:?}");
        for w in got {
            let flag = |f: u8, p: fn(u8) -> bool| (w.flags & f != 0) == w.text.bytes().any(p);
            assert!(flag(DIGIT, |b| b.is_ascii_digit()), "{w:?}");
            assert!(flag(UPPER, |b| b.is_ascii_uppercase()), "{w:?}");
            assert!(flag(MATH_SIGN, |b| b"+*^=/%$".contains(&b)), "{w:?}");
        }
    }

    #[test]
    fn words_as_the_char_split_gives_them() {
        for t in [
            "",
            "  ",
            "Write a Python function, then 2+2=4 (or $5/3)!",
            "x\u{a0}y\u{2028}z\u{3000}w\u{85}v 日本語 Ünï",
            "'quoted' \"also\"; a:b... end.",
        ] {
            check(t);
        }
    }

    proptest! {
        #[test]
        fn words_as_the_char_split_gives_them_on_any_text(t in "(?s).{0,80}") {
            check(&t);
        }

        #[test]
        fn words_on_ascii_and_unicode_spaces(
            t in "[ -~\t\n\r\u{b}\u{c}\u{85}\u{a0}\u{2000}\u{2028}\u{3000}é中🦀]{0,80}"
        ) {
            check(&t);
        }
    }
}
