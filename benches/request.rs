#![allow(missing_docs)]
//! From request to task: `TaskSpec::from_request` on a 2 KB prompt (count + classify +
//! capabilities), its parts alone (with `learn`, the learned classifier too), and the tokenizers'
//! throughput (MB/s) on the same text; `from_request` also with the piece cache emptied, on that
//! prompt and on 2 KB of prose; the pre-tokenizer alone, `bpe-openai`'s regex against the crate's.
//!
//! `cargo bench --bench request --features request`; `TASKROUTE_BENCH_CLOCK=thread-cpu` measures
//! CPU time (benches/support/clock.rs).

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput};
use taskroute::TaskSpec;
use taskroute::provider::ChatRequest;
use taskroute::request::{ClassifyInput, Encoding, KindClassifier, RuleClassifier, piece_cache, pretokenize};

/// A 2 KB prompt: an instruction over a paragraph of prose with numbers and code words.
fn prompt() -> String {
    let para = "The quarterly report lists 14 regional offices, their revenue in dollars, and the \
                names of the managers who run them. Each office also filed a short note about \
                hiring plans, customer complaints and the state of its software systems. ";
    let mut p =
        String::from("Extract every office, its revenue and its manager from the report below as JSON.\n\n");
    while p.len() < 2048 {
        p.push_str(para);
    }
    p.truncate(2048);
    p
}

/// 2 KB of prose with no repeated paragraph: an instruction over the Apache licence's terms.
fn prose() -> String {
    let licence = include_str!("../LICENSE-APACHE");
    let start = licence
        .find("1. Definitions.")
        .expect("the licence's first section");
    let mut p = String::from("Summarise the obligations in the licence below.\n\n");
    p.extend(licence[start..].chars().take(2048 - p.len()));
    p
}

/// A learned classifier over five kinds, trained on a few synthetic prompts: its speed depends on
/// the features and the number of kinds, not on what it learned.
#[cfg(feature = "learn")]
fn learned_classifier() -> taskroute::request::LearnedClassifier {
    use taskroute::TaskKind;
    let kinds = [
        (
            TaskKind::CodeGeneration,
            "Write a Python function that sorts a list",
        ),
        (
            TaskKind::Math,
            "Sam has 4 apples and buys 3 more. How many does he have?",
        ),
        (
            TaskKind::Extraction,
            "Extract every name and date from this memo as JSON",
        ),
        (
            TaskKind::Reasoning,
            "Why does the tallest of three brothers sit first?",
        ),
        (TaskKind::Chat, "Tell me about your favourite city"),
    ];
    let examples: Vec<(String, TaskKind)> = (0..20)
        .flat_map(|i| kinds.iter().map(move |(k, t)| (format!("{t} {i}"), k.clone())))
        .collect();
    taskroute::request::LearnedClassifier::train(&examples, &Default::default()).expect("two kinds or more")
}

fn run<M: Measurement + 'static>(mut c: Criterion<M>, prefix: &str) {
    let text = prompt();
    let req = ChatRequest::new()
        .system("You are a careful analyst.")
        .user(text.clone());
    c.bench_function(&format!("{prefix}from_request/2KB"), |b| {
        b.iter(|| TaskSpec::from_request(black_box(&req)))
    });
    // The token counts of short pieces are cached per thread: above, after the first iteration,
    // every piece is a hit. Cold: the cache is emptied before each call (outside the timing),
    // so only the prompt's own repeats hit; then the same on 2 KB of prose that repeats no
    // paragraph (the Apache licence's terms).
    c.bench_function(&format!("{prefix}from_request/2KB-cold"), |b| {
        b.iter_batched(
            piece_cache::clear,
            |()| TaskSpec::from_request(black_box(&req)),
            BatchSize::PerIteration,
        )
    });
    let prose_req = ChatRequest::new()
        .system("You are a careful analyst.")
        .user(prose());
    c.bench_function(&format!("{prefix}from_request/2KB-prose-cold"), |b| {
        b.iter_batched(
            piece_cache::clear,
            |()| TaskSpec::from_request(black_box(&prose_req)),
            BatchSize::PerIteration,
        )
    });
    c.bench_function(&format!("{prefix}classify/rules/2KB"), |b| {
        b.iter(|| RuleClassifier::new().classify(&ClassifyInput::text(black_box(&text))))
    });
    #[cfg(feature = "learn")]
    {
        let learned = learned_classifier();
        c.bench_function(&format!("{prefix}classify/learned/2KB"), |b| {
            b.iter(|| learned.classify(&ClassifyInput::text(black_box(&text))))
        });
    }
    let mut g = c.benchmark_group(format!("{prefix}tokenize"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    for e in [Encoding::O200kBase, Encoding::Cl100kBase] {
        let _ = e.count("warm up");
        g.bench_function(e.name(), |b| b.iter(|| e.count(black_box(&text))));
    }
    g.finish();
    // The same counts without the piece cache: bpe-openai's own `count`.
    let mut g = c.benchmark_group(format!("{prefix}tokenize-uncached"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("o200k_base", |b| {
        b.iter(|| bpe_openai::o200k_base().count(black_box(text.as_str())))
    });
    let prose_text = prose();
    g.bench_function("o200k_base/prose", |b| {
        b.iter(|| bpe_openai::o200k_base().count(black_box(prose_text.as_str())))
    });
    g.finish();
    // The pre-tokenizer alone: bpe-openai's regex split against the crate's (the same pieces).
    let mut g = c.benchmark_group(format!("{prefix}split"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    for (name, t) in [("prompt", &text), ("prose", &prose_text)] {
        g.bench_function(format!("bpe-openai/o200k_base/{name}"), |b| {
            b.iter(|| bpe_openai::o200k_base().split(black_box(t.as_str())).count())
        });
        g.bench_function(format!("taskroute/o200k_base/{name}"), |b| {
            b.iter(|| pretokenize::split(Encoding::O200kBase, black_box(t.as_str())).count())
        });
    }
    g.finish();
    // With the cache, emptied before each count.
    c.bench_function(&format!("{prefix}tokenize-cold/o200k_base/prose"), |b| {
        b.iter_batched(
            piece_cache::clear,
            |()| Encoding::O200kBase.count(black_box(&prose_text)),
            BatchSize::PerIteration,
        )
    });
    c.final_summary();
}

clock::clock_main!(run);

#[path = "support/clock.rs"]
mod clock;
