//! Learned estimators: featurize one prompt and estimate 11 models; train on 2,205 prompts.
//!
//! Uses the RouterBench prompt texts from `../shared/data/routerbench/prompts.jsonl` (or
//! `$TASKROUTE_DATA_DIR/routerbench/prompts.jsonl`) when present, else synthetic prompts of the
//! same length. Outcomes and output lengths are seeded random: speed does not depend on their
//! values.
//!
//! `cargo bench --bench learn --features learn`; `TASKROUTE_BENCH_CLOCK=thread-cpu` measures
//! the thread's CPU time (benches/support/clock.rs).
#![allow(missing_docs)]
use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion};
use taskroute::learn::{
    FeatureConfig, Featurizer, LearnedEstimator, Learner, OutputLengths, TrainConfig, TrainingSet,
};
use taskroute::{ModelSpec, OutputEstimator, Prices, QualityEstimator, TaskKind, TaskSpec};

const MODELS: usize = 11;

fn prompts() -> Vec<(String, TaskKind)> {
    let dir = std::env::var("TASKROUTE_DATA_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data").to_owned());
    let path = format!("{dir}/routerbench/prompts.jsonl");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let rows: Vec<(String, TaskKind)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                let q = v.get("query")?.as_str()?.to_owned();
                let kind = match v.get("eval_name")?.as_str()? {
                    "mbpp" => TaskKind::CodeGeneration,
                    "winogrande" => TaskKind::Classification,
                    _ => TaskKind::Reasoning,
                };
                Some((q, kind))
            })
            .collect();
        if rows.len() >= 2_000 {
            eprintln!("learn bench: {} RouterBench prompts from {path}", rows.len());
            return rows;
        }
    }
    eprintln!("learn bench: {path} absent; using 2,205 synthetic prompts");
    (0..2_205)
        .map(|i| {
            (
                format!(
                    "Question {i}: which of these statements about the water cycle is true? \
                     A) evaporation cools the surface B) rain is made of salt C) clouds are solid \
                     D) rivers flow uphill. Print only a single choice from A, B, C or D. Answer:"
                ),
                TaskKind::Reasoning,
            )
        })
        .collect()
}

fn training_set(rows: &[(String, TaskKind)]) -> TrainingSet {
    let names: Vec<String> = (0..MODELS).map(|j| format!("model-{j}")).collect();
    let mut t = TrainingSet::new(names).expect("models");
    let mut state = 0x1234_5678_u64;
    for (text, kind) in rows {
        let outcomes: Vec<Option<f64>> = (0..MODELS)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Some(if (state >> 33) % 10 < 7 { 1.0 } else { 0.0 })
            })
            .collect();
        let costs: Vec<Option<f64>> = (0..MODELS)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Some(((state >> 33) % 500) as f64 * 1e-6)
            })
            .collect();
        t.push(text.clone(), kind.clone(), &outcomes, &costs)
            .expect("row");
    }
    // Prices of $1 per million tokens: each answer's output tokens are read from its cost.
    t.with_prices(&vec![Some(Prices::new(1.0, 1.0)); MODELS])
        .expect("prices")
}

fn run<M: Measurement + 'static>(mut c: Criterion<M>, prefix: &str) {
    let rows = prompts();
    let data = training_set(&rows);
    let models: Vec<ModelSpec> = (0..MODELS)
        .map(|j| ModelSpec::new(format!("model-{j}"), "p", Prices::new(1.0, 1.0), 100_000))
        .collect();
    // A typical prompt (the median length).
    let mut by_len: Vec<&(String, TaskKind)> = rows.iter().collect();
    by_len.sort_by_key(|r| r.0.len());
    let (text, kind) = by_len[by_len.len() / 2];
    eprintln!("learn bench: median prompt {} bytes", text.len());
    // The estimates alternate between the median prompt and the next longer one, so that every
    // call featurizes its prompt as a new decision does (an estimator keeps the last prompt's
    // features for the output-length estimate of the same decision).
    let tasks: Vec<TaskSpec> = by_len[by_len.len() / 2..][..2]
        .iter()
        .map(|(t, k)| TaskSpec::new(k.clone(), 200).with_text(t.clone()))
        .collect();
    let mut turn = 0usize;
    let mut next = move || {
        turn ^= 1;
        turn
    };

    let f = Featurizer::new(FeatureConfig::default()).expect("config");
    c.bench_function(&format!("{prefix}featurize/median_prompt"), |b| {
        let mut scratch = String::new();
        let mut out = taskroute::learn::Features::new();
        b.iter(|| f.featurize_into(black_box(text), kind, &mut scratch, &mut out))
    });

    // A 1 MB prompt: n-grams from the first `max_chars` characters, statistics over all of it.
    let big = text.repeat((1 << 20) / text.len().max(1) + 1);
    c.bench_function(&format!("{prefix}featurize/1mb_prompt"), |b| {
        let mut scratch = String::new();
        let mut out = taskroute::learn::Features::new();
        b.iter(|| f.featurize_into(black_box(&big), kind, &mut scratch, &mut out))
    });

    let mut g = c.benchmark_group(format!("{prefix}estimate_all_11_models"));
    for learner in [
        Learner::Prior,
        Learner::LogReg,
        Learner::Irt,
        Learner::Knn,
        Learner::Ensemble,
        Learner::Mf,
    ] {
        let est = LearnedEstimator::train(&data, &TrainConfig::new(learner)).expect("train");
        let mut out = vec![None; MODELS];
        g.bench_function(BenchmarkId::from_parameter(learner), |b| {
            b.iter(|| est.estimate_all(black_box(&tasks[next()]), &models, &mut out))
        });
    }
    // kNN searching only the prompts of the query's kind (the per-kind bucketed index).
    let est = LearnedEstimator::train(&data, &TrainConfig::new(Learner::Knn).with_knn_by_kind(true))
        .expect("train");
    let mut out = vec![None; MODELS];
    g.bench_function(BenchmarkId::from_parameter("knn_by_kind"), |b| {
        b.iter(|| est.estimate_all(black_box(&tasks[next()]), &models, &mut out))
    });
    g.finish();

    // What a router decision asks a learned estimator that predicts output lengths: quality
    // and output tokens of every model (the prompt is featurized once for both).
    let mut g = c.benchmark_group(format!("{prefix}estimate_with_lengths_11_models"));
    for (learner, lengths) in [
        (Learner::Prior, OutputLengths::Task),
        (Learner::Prior, OutputLengths::Kind),
        (Learner::Prior, OutputLengths::Text),
        (Learner::LogReg, OutputLengths::Text),
    ] {
        let config = TrainConfig::new(learner).with_lengths(lengths);
        let est = LearnedEstimator::train(&data, &config).expect("train");
        let (mut out, mut tokens) = (vec![None; MODELS], vec![None; MODELS]);
        g.bench_function(BenchmarkId::from_parameter(format!("{learner}+{lengths}")), |b| {
            b.iter(|| {
                let task = black_box(&tasks[next()]);
                est.estimate_all(task, &models, &mut out);
                est.output_tokens_all(task, &models, &mut tokens);
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{prefix}train_2205_prompts"));
    g.sample_size(10);
    for learner in [
        Learner::LogReg,
        Learner::Irt,
        Learner::Knn,
        Learner::Ensemble,
        Learner::Mf,
    ] {
        g.bench_function(BenchmarkId::from_parameter(learner), |b| {
            b.iter(|| LearnedEstimator::train(black_box(&data), &TrainConfig::new(learner)).expect("train"))
        });
    }
    g.finish();
    c.final_summary();
}

clock::clock_main!(run);

#[path = "support/clock.rs"]
mod clock;
