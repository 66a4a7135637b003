//! A per-thread cache of token counts per pre-tokenized piece.
//!
//! `bpe-openai` counts a text by splitting it with its pre-tokenizer regex and counting each
//! piece with a backtracking BPE encoder, which allocates two buffers per piece. A piece's count
//! depends only on the piece, and prompts reuse the same short pieces (`" the"`, `","`, `" of"`)
//! over and over, so the count of each short piece is kept: the split is the crate's (found by
//! [`pretokenize`](super::pretokenize), which gives the same pieces faster), only the encoder is
//! skipped for a piece seen before. Counts stay exactly the crate's.
//!
//! Bounded: pieces longer than 24 bytes (`MAX_PIECE_BYTES`) are not kept, and a thread's cache
//! is emptied when it holds 4,096 pieces (`MAX_ENTRIES`) per encoding (about 0.5 MB per thread
//! at most).

use std::cell::RefCell;

use bpe_openai::Tokenizer;
use rustc_hash::FxHashMap;

use super::pretokenize;
use super::tokens::Encoding;

/// Longer pieces are counted every time (they are rare: long words, runs of digits are split
/// in threes, runs of spaces and punctuation).
const MAX_PIECE_BYTES: usize = 24;
/// Pieces kept per encoding and thread before the cache is emptied.
const MAX_ENTRIES: usize = 4096;

thread_local! {
    static CACHE: RefCell<[FxHashMap<Box<str>, u32>; 2]> = RefCell::default();
}

/// The number of tokens in `text` with `encoding`, as `Tokenizer::count` gives it.
pub(crate) fn count(encoding: Encoding, text: &str) -> usize {
    let tokenizer = pretokenize::tokenizer(encoding);
    let slot = match encoding {
        Encoding::O200kBase => 0,
        Encoding::Cl100kBase => 1,
    };
    let text = tokenizer.normalize(text);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let cache = &mut cache[slot];
        pretokenize::split(encoding, text.as_str())
            .map(|piece| piece_count(tokenizer, cache, piece))
            .sum()
    })
}

fn piece_count(tokenizer: &Tokenizer, cache: &mut FxHashMap<Box<str>, u32>, piece: &str) -> usize {
    if piece.len() > MAX_PIECE_BYTES {
        return tokenizer.bpe.count(piece.as_bytes());
    }
    if let Some(&n) = cache.get(piece) {
        return n as usize;
    }
    let n = tokenizer.bpe.count(piece.as_bytes());
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    // A piece of at most 24 bytes has at most 24 tokens.
    cache.insert(piece.into(), n as u32);
    n
}

/// Empties this thread's cache (benchmarks measure a cold cache with it).
#[doc(hidden)]
pub fn clear() {
    CACHE.with(|cache| cache.borrow_mut().iter_mut().for_each(FxHashMap::clear));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_counts_equal_the_crates_counts_and_the_cache_stays_bounded() {
        let text = "The quarterly report lists 14 regional offices, their revenue in dollars, and \
                    the   names\n\n of the managers.  Ünïcödé 日本語 🦀🦀 x=1234567; supercalifragilistic!";
        for e in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let tok = pretokenize::tokenizer(e);
            clear();
            let cold = count(e, text);
            let warm = count(e, text);
            assert_eq!((cold, warm), (tok.count(text), tok.count(text)), "{}", e.name());
        }
        // More distinct pieces than the cache holds: it is emptied, never grows past the bound.
        let word = |mut i: usize| {
            let mut w = String::from(" q");
            while i > 0 {
                w.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
            }
            w
        };
        let many: String = (1..=MAX_ENTRIES + 100).map(word).collect();
        let expected = bpe_openai::o200k_base().count(many.as_str());
        assert_eq!(count(Encoding::O200kBase, &many), expected);
        CACHE.with(|c| assert!(c.borrow()[0].len() <= MAX_ENTRIES));
    }
}
