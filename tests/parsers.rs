//! The parsers that read outside input in `eval` and `learn`: estimator files
//! (`LearnedEstimator::from_json`) and outcome tables (wide CSV, long CSV and JSON Lines).
//!
//! - **Bad input is an error, never a panic**: hand-made bad files, and proptest with arbitrary
//!   bytes and with random damage to valid files; the side files (price tables, prompt texts)
//!   under the same bytes.
//! - **Memory in proportion to the input**: a per-thread counting allocator records the peak of
//!   live heap bytes during each parse; files that *claim* huge shapes (an estimator's weight
//!   matrix, a long table's prompts × models) must be refused before that claim is allocated.
//!   The allocator (`tests/peak_heap`) also refuses any single allocation above 2 GiB, so a
//!   regression aborts the test binary at once instead of eating a shared machine's memory.
//! - **Linear time**: each parser reads a 4 MiB input within a fixed time bound (generous for a
//!   debug build on a loaded 2-core machine; the quadratic wide-header lookup this replaced took
//!   minutes on such an input).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use taskroute::TaskKind;
use taskroute::eval::{EvalError, Outcomes};
use taskroute::learn::{Corruption, LearnError, LearnedEstimator, Learner, TrainConfig, TrainingSet};

mod peak_heap;
use peak_heap::peak_heap as metered;

#[global_allocator]
static ALLOC: peak_heap::Counting = peak_heap::Counting;

/// The memory a parse of `len` input bytes may hold: 64 bytes per input byte plus 4 MiB.
/// (The densest legal table, a wide CSV of one-character scores, costs 33 bytes per observation
/// while it is built from 2 bytes of text.)
fn memory_bound(len: usize) -> usize {
    64 * len + (4 << 20)
}

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/parsers");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

// ---- estimator files ------------------------------------------------------------------------------

/// A small trained estimator of `learner` (2 models, 8 hash bits).
fn small_estimator(learner: Learner, prompts: usize) -> LearnedEstimator {
    let mut t = TrainingSet::new(["weak", "strong"]).unwrap();
    for i in 0..prompts {
        let hard = i % 3 == 0;
        let text = if hard {
            format!("prove lemma {i} on manifolds")
        } else {
            format!("cat fact {i}")
        };
        let weak = if hard { Some(0.0) } else { Some(1.0) };
        let strong = if i % 7 == 0 { None } else { Some(1.0) };
        t.push(text, TaskKind::Chat, &[weak, strong], &[]).unwrap();
    }
    let features = taskroute::learn::FeatureConfig::default().with_hash_bits(8);
    let cfg = TrainConfig::new(learner).with_features(features).with_epochs(2);
    LearnedEstimator::train(&t, &cfg).unwrap()
}

/// `file` with its payload replaced by `payload` and the checksum recomputed, as an attacker
/// (or a buggy writer) can do: the checksum guards against damage, not against intent.
fn with_payload(payload: &str) -> String {
    let sum = xxhash_rust::xxh3::xxh3_64(payload.as_bytes());
    format!(
        "{{\"magic\":\"{}\",\"version\":{},\"checksum\":\"{sum:016x}\",\"payload\":{payload}}}",
        taskroute::learn::FORMAT_MAGIC,
        taskroute::learn::FORMAT_VERSION
    )
}

fn payload_of(json: &str) -> &str {
    let start = json.find("\"payload\":").unwrap() + "\"payload\":".len();
    &json[start..json.len() - 1]
}

/// Loads the estimator file with `payload` (described as `what`), checking that the parse's
/// peak memory stays within [`memory_bound`] of the file's size.
fn load_within_memory_bound(what: &str, payload: &str) -> Result<LearnedEstimator, LearnError> {
    let file = with_payload(payload);
    let (result, peak) = metered(|| LearnedEstimator::from_json(&file));
    eprintln!("{what}: {} bytes, peak {peak} bytes: {result:?}", file.len());
    assert!(
        peak <= memory_bound(file.len()),
        "{what}: peak {peak} bytes for a {}-byte file",
        file.len()
    );
    result
}

#[test]
fn an_estimator_file_claiming_huge_weights_is_refused_before_allocating() {
    // Issue 10 item 6: a small file claiming a 2^25 x 4096 weight matrix (512 GiB) made the
    // loader allocate it while deserializing, before any shape or checksum check.
    let json = small_estimator(Learner::LogReg, 30).to_json().unwrap();
    let payload = payload_of(&json);
    let at = payload.find("\"weights\":{\"dim\":").unwrap();
    let rows = payload[at..].find(",\"rows\":").unwrap() + at;
    let huge = format!(
        "{}\"weights\":{{\"dim\":33554432,\"m\":4096{}",
        &payload[..at],
        &payload[rows..]
    );
    let result = load_within_memory_bound("2^25 x 4096 claim", &huge);
    assert!(
        matches!(result, Err(LearnError::Corrupt(Corruption::Shape { .. }))),
        "{result:?}"
    );

    // A claim consistent with the settings (2^24 hash buckets, 4096 models listed) is refused by
    // size: 2^36 weights is above the loader's limit of 2^28.
    let models: Vec<String> = (0..4096).map(|i| format!("m{i}")).collect();
    let models_json = serde_json::to_string(&models).unwrap();
    let priors_at = huge.find("\"priors\":").unwrap();
    let priors_end = huge.find(",\"prefixes\":").unwrap();
    let priors = format!(
        "\"priors\":{{\"kinds\":[],\"table\":[],\"global\":{}}}",
        serde_json::to_string(&vec![0.5f32; 4096]).unwrap()
    );
    let big = format!("{}{priors}{}", &huge[..priors_at], &huge[priors_end..])
        .replacen("\"hash_bits\":8", "\"hash_bits\":24", 1)
        .replacen("[\"weak\",\"strong\"]", &models_json, 1)
        .replacen("\"dim\":33554432", &format!("\"dim\":{}", 21 + (1 << 24)), 1);
    let result = load_within_memory_bound("consistent 2^24 x 4096 claim", &big);
    assert!(
        matches!(
            result,
            Err(LearnError::Corrupt(Corruption::TooLarge { elements, .. }))
                if elements == (21 + (1u64 << 24)) * 4096
        ),
        "{result:?}"
    );
}

#[test]
fn bad_estimator_files_are_typed_errors() {
    let good = small_estimator(Learner::Ensemble, 40).to_json().unwrap();
    let payload = payload_of(&good);
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("not json", "{".into()),
        ("an array", "[1,2,3]".into()),
        ("no magic", "{\"version\":3}".into()),
        ("no version", good.replacen("\"version\":3,", "", 1)),
        (
            "version as text",
            good.replacen("\"version\":3", "\"version\":\"2\"", 1),
        ),
        ("half a file", good[..good.len() / 2].to_owned()),
        ("payload not an object", with_payload("[]")),
    ];
    // One edit of the payload each, with the checksum recomputed so that the edit is what the
    // loader must catch.
    let edits: [(&str, &str, &str); 11] = [
        ("no models", "[\"weak\",\"strong\"]", "[]"),
        ("a model twice", "[\"weak\",\"strong\"]", "[\"weak\",\"weak\"]"),
        ("hash bits out of range", "\"hash_bits\":8", "\"hash_bits\":64"),
        ("k of zero", "\"k\":40", "\"k\":0"),
        ("fold bits out of range", "\"fold_bits\":8", "\"fold_bits\":63"),
        ("a prior above 1", "\"global\":[", "\"global\":[7.0,"),
        ("kNN outcomes cut short", "\"outcomes\":[", "\"outcomes\":[1.0,"),
        (
            "an ensemble weight of 0",
            "\"members\":[[1.0",
            "\"members\":[[0.0",
        ),
        (
            "weight row out of range",
            "\"rows\":[[",
            "\"rows\":[[4000000000,[1.0]],[",
        ),
        (
            "kind offsets decreasing",
            "\"kind_offsets\":[]",
            "\"kind_offsets\":[5,1]",
        ),
        ("a negative trained_on", "\"trained_on\":", "\"trained_on\":-"),
    ];
    let mut cases = cases;
    for (what, from, to) in edits {
        assert!(payload.contains(from), "{what}: the good file has no `{from}`");
        cases.push((what, with_payload(&payload.replace(from, to))));
    }
    for (what, file) in &cases {
        let result = std::panic::catch_unwind(|| LearnedEstimator::from_json(file));
        match result {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("{what}: loaded"),
            Err(_) => panic!("{what}: panicked"),
        }
    }
    // The good file still loads; so does one with a k far above the training prompts, and it
    // predicts without a k-sized allocation (the neighbour buffer holds at most every row).
    LearnedEstimator::from_json(&good).unwrap();
    let huge_k = with_payload(&payload.replace("\"k\":40", "\"k\":18446744073709551615"));
    let est = LearnedEstimator::from_json(&huge_k).unwrap();
    let mut out = [0.0; 2];
    let (result, peak) = metered(|| est.predict_into(Some("cat fact 1"), &TaskKind::Chat, &mut out));
    result.unwrap();
    assert!(peak < 1 << 20, "peak {peak}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_never_an_estimator_and_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let (result, peak) = metered(|| LearnedEstimator::from_json(&text));
        prop_assert!(result.is_err());
        prop_assert!(peak <= memory_bound(text.len()), "peak {}", peak);
    }

    #[test]
    fn damaged_estimator_files_are_errors_not_panics(
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let good = GOOD_KNN.with(Clone::clone);
        let mut bytes = good.into_bytes();
        for (at, b) in cuts {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        let (result, peak) = metered(|| {
            LearnedEstimator::from_json(&text).map(|e| {
                // Whatever loads must estimate without panicking.
                let mut out = [0.0; 2];
                e.predict_into(Some("prove lemma 3"), &TaskKind::Chat, &mut out).map(|()| out)
            })
        });
        if let Ok(Ok(out)) = result {
            prop_assert!(out.iter().all(|q| (0.0..=1.0).contains(q)), "{:?}", out);
        }
        prop_assert!(peak <= memory_bound(text.len()), "peak {}", peak);
    }
}

thread_local! {
    static GOOD_KNN: String = small_estimator(Learner::Ensemble, 40).to_json().unwrap();
}

// ---- outcome tables ------------------------------------------------------------------------------

/// Every outcome-table reader on `bytes`: wide CSV, long CSV, long JSONL.
fn read_all(name: &str, bytes: &[u8]) -> Vec<(Result<Outcomes, EvalError>, usize)> {
    ["wide.csv", "long.csv", "long.jsonl"]
        .iter()
        .map(|suffix| {
            let path = scratch(&format!("{name}-{suffix}"), bytes);
            metered(|| {
                if suffix.starts_with("wide") {
                    Outcomes::read_wide_csv(&path)
                } else {
                    Outcomes::read_long(&path)
                }
            })
        })
        .collect()
}

/// The side files a table is read with, on `bytes`: a price table (CSV) and a prompts file
/// (JSONL, joined onto a two-prompt table). Each parse's peak memory.
fn read_side_files(name: &str, bytes: &[u8]) -> Vec<usize> {
    let table = scratch(
        &format!("{name}-table.csv"),
        b"sample_id,eval_name,score|a,cost_usd|a\np1,mbpp,1,0.001\n2,gsm8k,0,0.001\n",
    );
    let data = Outcomes::read_wide_csv(table).unwrap();
    let prices = scratch(&format!("{name}-prices.csv"), bytes);
    let prompts = scratch(&format!("{name}-prompts.jsonl"), bytes);
    let (_, p1) = metered(|| taskroute::eval::PriceTable::read_csv(&prices));
    let join = taskroute::eval::PromptJoin::new(&prompts, "sample_id", "text");
    let (_, p2) = metered(move || data.with_prompts_jsonl(&join));
    vec![p1, p2]
}

#[test]
fn a_long_table_claiming_many_prompts_and_models_is_refused_in_proportion_to_its_size() {
    // Issue 10 item 7: 20,000 prompts each with a different one of 20,000 models (1.3 MB)
    // made the loader allocate 20,000 x 20,000 cells six times over (about 13 GB) before it
    // found that the table is incomplete.
    let mut jsonl = String::new();
    for i in 0..20_000 {
        jsonl.push_str(&format!(
            "{{\"prompt_id\":\"p{i}\",\"model\":\"m{i}\",\"quality\":1,\"cost_usd\":0.001}}\n"
        ));
    }
    let path = scratch("sparse.jsonl", jsonl.as_bytes());
    let (result, peak) = metered(|| Outcomes::read_long(&path));
    eprintln!("20k x 20k long table: {} bytes, peak {peak} bytes", jsonl.len());
    assert!(
        matches!(&result, Err(EvalError::MissingObservation { prompt, model, .. }) if prompt == "p0" && model == "m1"),
        "{result:?}"
    );
    assert!(
        peak <= memory_bound(jsonl.len()),
        "peak {peak} bytes for {} bytes",
        jsonl.len()
    );
    // A duplicate is named even when the row count happens to match prompts x models.
    let dup = "{\"prompt_id\":1,\"model\":\"a\",\"quality\":1,\"cost_usd\":0}\n\
               {\"prompt_id\":1,\"model\":\"b\",\"quality\":1,\"cost_usd\":0}\n\
               {\"prompt_id\":2,\"model\":\"a\",\"quality\":1,\"cost_usd\":0}\n\
               {\"prompt_id\":2,\"model\":\"a\",\"quality\":1,\"cost_usd\":0}\n";
    let result = Outcomes::read_long(scratch("dup-count.jsonl", dup.as_bytes()));
    assert!(
        matches!(&result, Err(EvalError::DuplicateObservation { line: 4, .. })),
        "{result:?}"
    );
}

#[test]
fn bad_outcome_tables_are_typed_errors() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("header only", b"sample_id,score|a,cost_usd|a\n"),
        ("ragged", b"sample_id,score|a,cost_usd|a\np1,1\n"),
        ("not utf-8", b"sample_id,score|a,cost_usd|a\np1,\xff,0\n"),
        ("nan", b"sample_id,score|a,cost_usd|a\np1,NaN,0\n"),
        (
            "huge count",
            b"prompt_id,model,quality,cost_usd,input_tokens\np,a,1,0,99999999999999\n",
        ),
        ("quality 2", b"prompt_id,model,quality,cost_usd\np,a,2,0\n"),
        (
            "json garbage",
            b"{\"prompt_id\":[1],\"model\":\"a\",\"quality\":1}\n{{{\n",
        ),
        ("json deep", &[b'['; 10_000]),
        (
            "duplicate model column",
            b"sample_id,score|a,score|a,cost_usd|a\np1,1,1,0\n",
        ),
    ];
    for (what, bytes) in cases {
        for (result, peak) in read_all(&format!("bad-{what}"), bytes) {
            assert!(result.is_err(), "{what}: loaded {result:?}");
            assert!(peak <= memory_bound(bytes.len()), "{what}: peak {peak}");
        }
        for peak in read_side_files(&format!("bad-{what}"), bytes) {
            assert!(peak <= memory_bound(bytes.len()), "{what}: peak {peak}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_an_outcome_reader(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let name = format!("fuzz-{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        let tables = read_all(&name, &bytes).into_iter().map(|(_, peak)| peak);
        for peak in tables.chain(read_side_files(&name, &bytes)) {
            prop_assert!(peak <= memory_bound(bytes.len()), "peak {}", peak);
        }
    }

    #[test]
    fn csv_shaped_noise_never_panics_an_outcome_reader(
        header in proptest::sample::subsequence(
            vec!["sample_id", "prompt_id", "model", "quality", "cost_usd", "eval_name", "kind",
                 "score|a", "score|b", "cost_usd|a", "cost_usd|b", "latency_ms|a", "input_tokens|a",
                 "output_tokens|b", "response_chars|a", "prompt_chars", "text", "benchmark", "row_index"],
            1..8,
        ),
        cells in proptest::collection::vec(
            prop_oneof!["", "0", "1", "0.5", "-1", "1e308", "NaN", "a", "b", "p1", "4294967296", "\"x,y\""],
            0..64,
        ),
    ) {
        let mut csv = header.join(",");
        csv.push('\n');
        for row in cells.chunks(header.len()) {
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        let name = format!("shaped-{:016x}", xxhash_rust::xxh3::xxh3_64(csv.as_bytes()));
        for (result, peak) in read_all(&name, csv.as_bytes()) {
            if let Ok(d) = result {
                for p in 0..d.prompts() {
                    for j in 0..d.models().len() {
                        prop_assert!((0.0..=1.0).contains(&d.quality(p, j)));
                        prop_assert!(d.cost(p, j) >= 0.0);
                    }
                }
            }
            prop_assert!(peak <= memory_bound(csv.len()), "peak {}", peak);
        }
    }
}

// ---- linear time on 4 MiB -------------------------------------------------------------------------

const FOUR_MIB: usize = 4 << 20;
/// Generous for a debug build on a shared 2-core machine; a quadratic parser takes minutes.
const TIME_BOUND: Duration = Duration::from_secs(30);

fn timed<T>(what: &str, len: usize, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    eprintln!("{what}: {len} bytes in {took:?}");
    assert!(took < TIME_BOUND, "{what}: {len} bytes took {took:?}");
    out
}

#[test]
fn each_parser_reads_4_mib_in_linear_time() {
    // Wide, many rows.
    let mut wide = String::from("sample_id,eval_name,score|a,score|b,cost_usd|a,cost_usd|b\n");
    let mut i = 0;
    while wide.len() < FOUR_MIB {
        wide.push_str(&format!("p{i},mmlu,1,0,0.001,0.01\n"));
        i += 1;
    }
    let path = scratch("wide-4mib.csv", wide.as_bytes());
    let d = timed("wide rows", wide.len(), || Outcomes::read_wide_csv(&path)).unwrap();
    assert_eq!(d.prompts(), i);

    // Wide, one header naming hundreds of thousands of models (model lookups were quadratic).
    let mut header = String::from("sample_id");
    let mut row = String::from("p0");
    let mut m = 0;
    while header.len() + row.len() < FOUR_MIB {
        header.push_str(&format!(",score|m{m},cost_usd|m{m}"));
        row.push_str(",1,0");
        m += 1;
    }
    let text = format!("{header}\n{row}\n");
    let path = scratch("wide-header-4mib.csv", text.as_bytes());
    let d = timed("wide header", text.len(), || Outcomes::read_wide_csv(&path)).unwrap();
    assert_eq!(d.models().len(), m);

    // Long CSV and JSONL: 100 models per prompt.
    type Row = fn(usize, usize) -> String;
    let tables: [(&str, &str, Row); 2] = [
        ("long-4mib.csv", "prompt_id,model,quality,cost_usd\n", |p, j| {
            format!("p{p},m{j},1,0.001\n")
        }),
        ("long-4mib.jsonl", "", |p, j| {
            format!("{{\"prompt_id\":\"p{p}\",\"model\":\"m{j}\",\"quality\":1,\"cost_usd\":0.001}}\n")
        }),
    ];
    for (name, header, row) in tables {
        let mut text = String::from(header);
        let mut p = 0;
        while text.len() < FOUR_MIB {
            for j in 0..100 {
                text.push_str(&row(p, j));
            }
            p += 1;
        }
        let path = scratch(name, text.as_bytes());
        let d = timed(name, text.len(), || Outcomes::read_long(&path)).unwrap();
        assert_eq!((d.prompts(), d.models().len()), (p, 100));
    }

    // An estimator file: a kNN estimator over enough prompts to weigh 4 MiB.
    let mut n = 200;
    let json = loop {
        let json = small_estimator(Learner::Knn, n).to_json().unwrap();
        if json.len() >= FOUR_MIB {
            break json;
        }
        n = n * FOUR_MIB / json.len() + 50;
    };
    timed("estimator file", json.len(), || {
        LearnedEstimator::from_json(&json)
    })
    .unwrap();
}
