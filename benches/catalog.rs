#![allow(missing_docs)]
//! Importing LiteLLM's price map: `Catalog::from_litellm_json` on the whole file.
//!
//! The file is not in the repository; get it from LiteLLM's wheel (docs/catalog.md) and run
//!
//! ```text
//! TASKROUTE_LITELLM_JSON=/path/to/model_prices_and_context_window_backup.json \
//!     cargo bench --bench catalog -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! `TASKROUTE_BENCH_CLOCK=thread-cpu` measures CPU time (benches/support/clock.rs). Without
//! `TASKROUTE_LITELLM_JSON` it imports the 55-entry test fixture and says so.

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use taskroute::{Catalog, LitellmOptions};

fn run<M: Measurement + 'static>(mut c: Criterion<M>, prefix: &str) {
    let path = std::env::var("TASKROUTE_LITELLM_JSON").unwrap_or_else(|_| {
        eprintln!("TASKROUTE_LITELLM_JSON is not set: importing the trimmed test fixture instead");
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/litellm_prices_trimmed.json"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all = LitellmOptions::new();
    let first_party = LitellmOptions::new().providers(["openai", "anthropic", "bedrock", "google"]);
    let out = Catalog::from_litellm_json(&text, &all).expect("a LiteLLM price map");
    eprintln!(
        "{path}: {} bytes, {} chat models imported, {} not chat, {} problems",
        text.len(),
        out.catalog.models.len(),
        out.skipped_not_chat(),
        out.problems.len()
    );
    let mut g = c.benchmark_group(format!("{prefix}litellm_import"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("all_providers", |b| {
        b.iter(|| Catalog::from_litellm_json(black_box(&text), &all))
    });
    g.bench_function("openai_anthropic_bedrock_google", |b| {
        b.iter(|| Catalog::from_litellm_json(black_box(&text), &first_party))
    });
    g.finish();
    c.final_summary();
}

clock::clock_main!(run);

#[path = "support/clock.rs"]
mod clock;
