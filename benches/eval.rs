//! Replay throughput: (prompt, candidate) evaluations per second on one thread, on the shared
//! RouterBench table (skipped with a message where `../shared/data` is absent).
//!
//! `cargo bench --bench eval --features eval`

use criterion::{Criterion, Throughput, criterion_main};
use taskroute::eval::{Builtin, KindSource, Outcomes, PriceTable, PromptJoin, Replay, StaticQuality};
use taskroute::{CostFirst, QualityFirst, Weighted};

#[path = "../tests/shared_data/mod.rs"]
mod shared_data;

fn bench(c: &mut Criterion) {
    let Some(dir) = shared_data::shared_data() else {
        return;
    };
    let rb = dir.join("routerbench");
    let data = Outcomes::read_wide_csv(rb.join("outcomes.csv"))
        .and_then(|d| d.with_prompts_jsonl(&PromptJoin::routerbench(&rb)))
        .expect("routerbench loads");
    let prices = PriceTable::read_csv(dir.join("prices.csv")).expect("prices load");
    let replay = Replay::builder()
        .prices(prices)
        .estimator(StaticQuality::fit(&data, KindSource::Kind))
        .output_tokens_from(&data)
        .build(&data)
        .expect("replay builds");
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(replay.evaluations_per_run() as u64));
    let cost_first = CostFirst::new(0.7).unwrap();
    let mut scratch = replay.scratch();
    g.bench_function("cost-first run (2205 prompts x 11 models)", |b| {
        b.iter(|| replay.choices_with(&cost_first, &mut scratch))
    });
    let quality_first = QualityFirst::new(0.001).unwrap();
    g.bench_function("quality-first run", |b| {
        b.iter(|| replay.choices_with(&quality_first, &mut scratch))
    });
    let weighted = Weighted::new(100.0).unwrap();
    g.bench_function("weighted run", |b| {
        b.iter(|| replay.choices_with(&weighted, &mut scratch))
    });
    g.finish();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    g.throughput(Throughput::Elements(
        replay.evaluations_per_run() as u64 * 101 * 3,
    ));
    g.bench_function("3 built-in policies x 101 points", |b| {
        b.iter(|| {
            for which in Builtin::ALL {
                replay.sweep_builtin(which, 101).unwrap();
            }
        })
    });
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
