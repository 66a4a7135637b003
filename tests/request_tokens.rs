//! The crate's OpenAI token counts (`bpe-openai`) against an independent implementation
//! (`tiktoken-rs`, a port of OpenAI's tiktoken with its own copy of the ranks), on a corpus of
//! the crate's own sources and docs, edge cases, and, where `../shared/data` is present, every
//! benchmark prompt there; and the crate's pre-tokenizer against `bpe-openai`'s regex split,
//! piece by piece, on the same corpus.
#![cfg(feature = "request")]

use taskroute::request::{Encoding, pretokenize};

fn corpus() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut docs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "héllo wörld — 東京 🚀🚀 emoji\u{200d}test".into(),
        "    indented\n\tcode\r\n  ".into(),
        "a".repeat(5_000),
        "!!!???...".into(),
        "12345678901234567890 3.14159".into(),
        "def f(x):\n    return x**2  # comment\n".into(),
        "Привет, как дела? مرحبا كيف حالك؟ 안녕하세요".into(),
        "<|endoftext|> is ordinary text here".into(),
    ];
    for dir in ["src", "src/request", "src/provider", "docs", "tests"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                docs.extend(text.split("\n\n").map(str::to_owned));
            }
        }
    }
    let data = std::env::var("TASKROUTE_DATA_DIR").unwrap_or_else(|_| format!("{root}/../shared/data"));
    for (file, field) in [
        ("routerbench/prompts.jsonl", "query"),
        ("routellm/gsm8k_prompts.jsonl", "prompt"),
        ("routellm/mtbench_questions.jsonl", "turns"),
    ] {
        let Ok(text) = std::fs::read_to_string(format!("{data}/{file}")) else {
            eprintln!("skipped {file}: shared data not found at {data} (set TASKROUTE_DATA_DIR)");
            continue;
        };
        {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                match &v[field] {
                    serde_json::Value::Array(turns) => {
                        docs.extend(turns.iter().map(|t| t.as_str().unwrap().to_owned()))
                    }
                    v => docs.push(v.as_str().unwrap().to_owned()),
                }
            }
        }
    }
    docs
}

#[test]
fn pieces_equal_bpe_openais_split_on_the_corpus() {
    let docs = corpus();
    let mut pieces = 0;
    for d in &docs {
        for (e, tokenizer) in [
            (Encoding::O200kBase, bpe_openai::o200k_base()),
            (Encoding::Cl100kBase, bpe_openai::cl100k_base()),
        ] {
            let ours: Vec<&str> = pretokenize::split(e, d).collect();
            let theirs: Vec<&str> = tokenizer.split(d).collect();
            assert_eq!(ours, theirs, "{}: {d:?}", e.name());
            pieces += ours.len();
        }
    }
    eprintln!("{} documents, {pieces} pieces: equal", docs.len());
}

#[test]
fn counts_equal_tiktoken_rs_on_the_corpus() {
    let docs = corpus();
    assert!(docs.len() > 200, "{} documents", docs.len());
    let o200k = tiktoken_rs::o200k_base().unwrap();
    let cl100k = tiktoken_rs::cl100k_base().unwrap();
    let mut total = 0;
    for d in &docs {
        assert_eq!(
            Encoding::O200kBase.count(d),
            o200k.encode_ordinary(d).len(),
            "o200k: {d:?}"
        );
        assert_eq!(
            Encoding::Cl100kBase.count(d),
            cl100k.encode_ordinary(d).len(),
            "cl100k: {d:?}"
        );
        total += d.len();
    }
    eprintln!("{} documents, {total} bytes: equal", docs.len());
}
