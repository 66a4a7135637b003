//! Loader tests, and the shared-data helpers other eval tests use.

use std::path::{Path, PathBuf};

use super::*;
use crate::eval::EvalError;
use crate::model::{ModelId, Prices};
use crate::task::TaskKind;

/// A scratch file under the target dir, unique per test.
pub(crate) fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/eval-data");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

// The shared data folder, found as the integration tests and benches find it.
#[path = "../../../tests/shared_data/mod.rs"]
mod shared_data;
pub(crate) use shared_data::shared_data;

/// RouterBench's outcomes from the shared data, joined with its prompts.
pub(crate) fn routerbench(dir: &std::path::Path) -> Outcomes {
    let rb = dir.join("routerbench");
    Outcomes::read_wide_csv(rb.join("outcomes.csv"))
        .unwrap()
        .with_prompts_jsonl(&PromptJoin::routerbench(&rb))
        .unwrap()
}

const WIDE: &str = "sample_id,eval_name,full_prompt_chars,score|a,score|b,cost_usd|a,cost_usd|b,oracle_model_to_route_to\r\n\
    p1,mbpp,400,1,0,0.001,0.01,a\r\n\
    p2,winogrande,40,0,1,0.002,0.02,b\r\n\
    p3,gsm8k,4,1,1,0.001,0.01,a\r\n";

#[test]
fn wide_csv_with_crlf_loads_columns_labels_and_kinds() {
    let p = scratch("wide.csv", WIDE);
    let d = Outcomes::read_wide_csv(&p).unwrap();
    assert_eq!(d.prompts(), 3);
    assert_eq!(d.models(), &[ModelId::new("a"), ModelId::new("b")]);
    assert!(d.is_binary());
    assert_eq!(
        (d.quality(0, 0), d.quality(0, 1), d.quality(1, 1)),
        (1.0, 0.0, 1.0)
    );
    assert!((d.cost(1, 1) - 0.02).abs() < 1e-9);
    assert_eq!(d.kind(0), &TaskKind::CodeGeneration);
    assert_eq!(d.kind(1), &TaskKind::Classification);
    assert_eq!(d.kind(2), &TaskKind::Math);
    assert_eq!(d.label(1), "winogrande");
    assert_eq!(d.id(2), "p3");
    assert_eq!(d.input_tokens(0), 100);
    assert_eq!(d.input_tokens(2), 1);
    assert!((d.mean_quality(0) - 2.0 / 3.0).abs() < 1e-12);
    assert!((d.mean_cost(1) - 0.04 / 3.0).abs() < 1e-9);
    assert_eq!(d.text(0), None);
    let s = d.subset(&[2, 0]);
    assert_eq!((s.prompts(), s.id(0), s.id(1)), (2, "p3", "p1"));
    assert_eq!((s.quality(1, 0), s.quality(1, 1)), (1.0, 0.0));
    assert!((s.cost(0, 1) - 0.01).abs() < 1e-9);
    assert_eq!(s.label(1), "mbpp");
}

#[test]
fn real_valued_quality_is_kept_as_f32_and_storage_is_compact() {
    let p = scratch(
        "wide-real.csv",
        "id,label,quality|a,quality|b,cost_usd|a,cost_usd|b,latency_ms|a,latency_ms|b\n\
         x,chat,0.25,0.5,1,2,100,200\n",
    );
    let d = Outcomes::read_wide_csv(&p).unwrap();
    assert!(!d.is_binary());
    assert_eq!(d.quality(0, 0), 0.25);
    assert_eq!(d.latency_ms(0, 1), Some(200.0));
    assert_eq!(d.kind(0), &TaskKind::Chat);
    // f32 quality + f32 cost + f32 latency
    assert_eq!(d.bytes_per_observation(), 12.0);
}

/// Each `(file, contents, parts)` of `cases`, written to a scratch file and given to `read`, is
/// refused with an error that contains every one of `parts`.
fn assert_refused(read: impl Fn(PathBuf) -> Result<Outcomes, EvalError>, cases: &[(&str, &str, &[&str])]) {
    for (name, contents, parts) in cases {
        let e = read(scratch(name, contents)).unwrap_err().to_string();
        for part in *parts {
            assert!(e.contains(part), "{name}: {e}");
        }
    }
}

#[test]
fn bad_wide_input_names_file_line_column_and_expectation() {
    assert_refused(
        Outcomes::read_wide_csv,
        &[
            (
                "bad-num.csv",
                "sample_id,score|a,cost_usd|a\np1,1,0.1\np2,yes,0.1\n",
                &["bad-num.csv:3:2: column `score|a`: expected a finite number, got `yes`"],
            ),
            (
                "bad-q.csv",
                "sample_id,score|a,cost_usd|a\np1,2,0.1\n",
                &[":2:2: column `score|a`: expected a quality in [0, 1]"],
            ),
            (
                "nan-cost.csv",
                "sample_id,score|a,cost_usd|a\np1,1,NaN\n",
                &[":2:3: column `cost_usd|a`: expected a finite number, got `NaN`"],
            ),
            (
                "neg-cost.csv",
                "sample_id,score|a,cost_usd|a\np1,1,-0.1\n",
                &["expected a finite cost >= 0 (USD), got `-0.1`"],
            ),
            ("no-models.csv", "sample_id,eval_name\np1,mbpp\n", &["no models"]),
            ("no-rows.csv", "sample_id,score|a,cost_usd|a\r\n", &["no prompts"]),
            ("empty.csv", "", &["empty"]),
            (
                "no-cost.csv",
                "sample_id,score|a\np1,1\n",
                &["no cost for model `a`"],
            ),
            (
                "short.csv",
                "sample_id,score|a,cost_usd|a\np1,1\n",
                &["short.csv:2: expected 3 fields like the header, found 2"],
            ),
            (
                "dup.csv",
                "sample_id,score|a,cost_usd|a\np1,1,0\np1,0,0\n",
                &["dup.csv:3: duplicate prompt id `p1` (first on line 2)"],
            ),
            (
                "no-id.csv",
                "eval_name,score|a,cost_usd|a\nx,1,0\n",
                &["missing column `sample_id`"],
            ),
        ],
    );
    // The quality out of range is the message's last word.
    let e = Outcomes::read_wide_csv(scratch("bad-q.csv", "sample_id,score|a,cost_usd|a\np1,2,0.1\n"))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("got `2`"), "{e}");
}

#[test]
fn costs_from_prices_use_token_estimates() {
    let p = scratch(
        "routellm-like.csv",
        "benchmark,subject,row_index,prompt_chars,correct|w,correct|s,response_chars|w,response_chars|s\n\
         mmlu,anatomy,0,400,1,1,,\n\
         gsm8k,,0,40,0,1,80,800\n",
    );
    let mut prices = PriceTable::new();
    prices.insert("w", Prices::new(1.0, 2.0));
    prices.insert("s", Prices::new(10.0, 30.0));
    let no_default = Outcomes::read_wide_csv_with(&p, &LoadOptions::new().prices(prices.clone()));
    assert!(
        matches!(
            no_default,
            Err(EvalError::NoTokenCount {
                side: "output",
                line: 2,
                ..
            })
        ),
        "{no_default:?}"
    );
    let d = Outcomes::read_wide_csv_with(&p, &LoadOptions::new().prices(prices).default_output_tokens(1))
        .unwrap();
    assert_eq!((d.id(0), d.id(1)), ("mmlu/anatomy.0", "gsm8k.0"));
    assert_eq!((d.label(0), d.label(1)), ("mmlu/anatomy", "gsm8k"));
    assert_eq!((d.kind(0), d.kind(1)), (&TaskKind::Reasoning, &TaskKind::Math));
    // mmlu: 100 input tokens, 1 output token
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b;
    assert!(
        close(d.cost(0, 1), (100.0 * 10.0 + 30.0) / 1e6),
        "{}",
        d.cost(0, 1)
    );
    // gsm8k: 10 input tokens; w answers 20 tokens, s 200
    assert!(close(d.cost(1, 0), (10.0 + 40.0) / 1e6));
    assert!(close(d.cost(1, 1), (100.0 + 6000.0) / 1e6));
    let e = Outcomes::read_wide_csv(&p).unwrap_err().to_string();
    assert!(e.contains("no cost for model `w`"), "{e}");
}

const LONG_CSV: &str = "prompt_id,model,quality,cost_usd,latency_ms,label\n\
    p1,a,1,0.001,100,mbpp\n\
    p1,b,0,0.01,300,mbpp\n\
    p2,b,1,0.02,250,gsm8k\n\
    p2,a,0,0.002,90,gsm8k\n";

#[test]
fn long_csv_and_jsonl_load_the_same_table() {
    let c = Outcomes::read_long(scratch("long.csv", LONG_CSV)).unwrap();
    let jsonl = r#"{"prompt_id": "p1", "model": "a", "quality": 1, "cost_usd": 0.001, "latency_ms": 100, "label": "mbpp"}
{"prompt_id": "p1", "model": "b", "quality": 0, "cost_usd": 0.01, "latency_ms": 300, "label": "mbpp"}

{"prompt_id": "p2", "model": "b", "quality": 1, "cost": 0.02, "latency_ms": 250, "label": "gsm8k"}
{"prompt_id": "p2", "model": "a", "quality": 0, "cost_usd": 0.002, "latency_ms": 90, "label": "gsm8k"}
"#;
    let j = Outcomes::read_long(scratch("long.jsonl", jsonl)).unwrap();
    for d in [&c, &j] {
        assert_eq!(d.prompts(), 2);
        assert_eq!(d.models(), &[ModelId::new("a"), ModelId::new("b")]);
        assert_eq!((d.quality(1, 0), d.quality(1, 1)), (0.0, 1.0));
        assert!((d.cost(1, 1) - 0.02).abs() < 1e-9);
        assert_eq!(d.latency_ms(1, 0), Some(90.0));
        assert_eq!(d.kind(1), &TaskKind::Math);
    }
    assert_eq!(c.source(), Path::new(&scratch("long.csv", LONG_CSV)));
}

#[test]
fn bad_long_input_is_refused_with_position() {
    assert_refused(
        Outcomes::read_long,
        &[
            (
                "missing.csv",
                "prompt_id,model,quality,cost_usd\np1,a,1,0\np1,b,1,0\np2,a,1,0\n",
                &["no observation of model `b` on prompt `p2`"],
            ),
            (
                "dup-long.csv",
                "prompt_id,model,quality,cost_usd\np1,a,1,0\np1,a,1,0\n",
                &["dup-long.csv:3: duplicate observation of model `a` on prompt `p1`"],
            ),
            (
                "bad.jsonl",
                "{\"prompt_id\": 1, \"model\": \"a\", \"quality\": 1, \"cost_usd\": 0}\n{\"prompt_id\": 2, \"model\": \"a\", \"quality\": \"x\"}\n",
                &["bad.jsonl:2:", "expected an observation"],
            ),
            (
                "neg.jsonl",
                "{\"prompt_id\": 1, \"model\": \"a\", \"quality\": 1, \"cost_usd\": -1}\n",
                &["neg.jsonl:1: column `cost_usd`: expected a finite cost >= 0 (USD), got `-1`"],
            ),
            ("empty.jsonl", "\n", &["no models"]),
            (
                "nocol.csv",
                "prompt_id,model,cost_usd\n",
                &["missing column `quality`"],
            ),
        ],
    );
}

#[test]
fn mtbench_judgments_load_with_a_quality_range_and_priced_costs() {
    let p = scratch(
        "mtbench.csv",
        "question_id,category,turn,model,judge,judge_template,score,answer_chars,contaminated\n\
         81,writing,1,s,gpt-4,single-v1,10.0,4000,1\n\
         81,writing,1,w,gpt-4,single-v1,7.0,400,1\n\
         81,writing,2,s,gpt-4,single-v1-multi-turn,1.0,40,1\n\
         81,writing,2,w,gpt-4,single-v1-multi-turn,5.5,4,1\n",
    );
    let e = Outcomes::read_long(&p).unwrap_err().to_string();
    assert!(
        e.contains("mtbench.csv:2: column `quality`: expected a quality in [0, 1]"),
        "{e}"
    );
    let mut prices = PriceTable::new();
    prices.insert("s", Prices::new(10.0, 30.0));
    prices.insert("w", Prices::new(1.0, 1.0));
    let opts = LoadOptions::new().prices(prices).quality_range(1.0, 10.0);
    let e = Outcomes::read_long_with(&p, &opts).unwrap_err().to_string();
    assert!(e.contains("default input token count"), "{e}");
    let d = Outcomes::read_long_with(&p, &opts.clone().default_input_tokens(100)).unwrap();
    assert_eq!((d.prompts(), d.id(0), d.id(1)), (2, "81.1", "81.2"));
    assert_eq!(d.label(0), "writing");
    assert_eq!(d.kind(0), &TaskKind::Chat);
    assert_eq!((d.quality(0, 0), d.quality(1, 0)), (1.0, 0.0));
    assert!((d.quality(0, 1) - 6.0 / 9.0).abs() < 1e-6);
    assert!((d.quality(1, 1) - 0.5).abs() < 1e-6);
    assert!(!d.is_binary());
    // s on 81.1: 100 input tokens at 10 $/M + 1000 output tokens at 30 $/M
    assert!((d.cost(0, 0) - 0.031).abs() < 1e-8, "{}", d.cost(0, 0));
    let bad = LoadOptions::new().quality_range(10.0, 1.0);
    let e = Outcomes::read_long_with(&p, &bad).unwrap_err().to_string();
    assert!(e.contains("needs worst < best"), "{e}");
}

#[test]
fn prompt_texts_join_by_id_with_fewshot_prefix() {
    let d = Outcomes::read_wide_csv(scratch("join.csv", WIDE)).unwrap();
    let prompts = scratch(
        "join.jsonl",
        "{\"sample_id\": \"p2\", \"eval_name\": \"winogrande\", \"query\": \"Q2\", \"has_fewshot_prefix\": true}\n\
         {\"sample_id\": \"p1\", \"eval_name\": \"mbpp\", \"query\": \"Q1\", \"has_fewshot_prefix\": false}\n\
         {\"sample_id\": \"other\", \"eval_name\": \"mbpp\", \"query\": \"Q\", \"has_fewshot_prefix\": false}\n",
    );
    let prefixes = scratch("prefixes.json", "{\"winogrande\": \"SHOTS\\n\"}");
    let join = PromptJoin::new(&prompts, "sample_id", "query").fewshot_prefixes(
        &prefixes,
        "eval_name",
        "has_fewshot_prefix",
    );
    let d = d.with_prompts_jsonl(&join).unwrap();
    assert_eq!(d.text(0), Some("Q1"));
    assert_eq!(d.text(1), Some("SHOTS\nQ2"));
    assert_eq!(d.text(2), None);
    let empty_prefixes = scratch("prefixes-empty.json", "{}");
    let join = PromptJoin::new(&prompts, "sample_id", "query").fewshot_prefixes(
        &empty_prefixes,
        "eval_name",
        "has_fewshot_prefix",
    );
    let e = Outcomes::read_wide_csv(scratch("join.csv", WIDE))
        .unwrap()
        .with_prompts_jsonl(&join)
        .unwrap_err();
    assert!(
        matches!(&e, EvalError::MissingPrefix { line: 1, label, .. } if label == "winogrande"),
        "{e}"
    );
}

#[test]
fn splits_are_seeded_disjoint_and_complete() {
    let a = Split::seeded(100, 0.3, 7).unwrap();
    assert_eq!(a, Split::seeded(100, 0.3, 7).unwrap());
    assert_ne!(a, Split::seeded(100, 0.3, 8).unwrap());
    assert_eq!((a.train.len(), a.test.len()), (70, 30));
    let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert!(Split::seeded(100, 1.0, 7).is_err());
    assert!(Split::seeded(2, 0.1, 7).is_err());
    let folds = Split::kfold(10, 3, 1).unwrap();
    assert_eq!(folds.len(), 3);
    let mut tested: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
    tested.sort_unstable();
    assert_eq!(tested, (0..10).collect::<Vec<_>>());
    for f in &folds {
        assert_eq!(f.train.len() + f.test.len(), 10);
        assert!(f.test.iter().all(|t| !f.train.contains(t)));
    }
    assert!(Split::kfold(10, 1, 1).is_err());
    let d = Outcomes::read_wide_csv(scratch("split.csv", WIDE)).unwrap();
    let s = Split::by_label(&d, &["mbpp", "gsm8k"]);
    assert_eq!((s.train, s.test), (vec![1], vec![0, 2]));
}

#[test]
fn shared_routerbench_single_models_match_readme() {
    let Some(dir) = shared_data() else { return };
    let d = routerbench(&dir);
    assert_eq!(d.prompts(), 2205);
    assert_eq!(d.models().len(), 11);
    assert!(d.is_binary());
    assert!(d.bytes_per_observation() <= 4.2, "{}", d.bytes_per_observation());
    assert!((0..d.prompts()).all(|p| d.text(p).is_some()));
    // README (whole RouterBench part, train + test): accuracy, m$ per prompt. The shared file
    // holds the train split only, so agreement is expected to within sampling error.
    for (model, acc, mcost) in [
        ("gpt-4-1106-preview", 0.879, 5.0),
        ("zero-one-ai/Yi-34B-Chat", 0.773, 0.33),
        ("mistralai/mixtral-8x7b-chat", 0.741, 0.25),
        ("gpt-3.5-turbo-1106", 0.732, 0.42),
        ("mistralai/mistral-7b-chat", 0.584, 0.08),
    ] {
        let j = d.model_index(model).unwrap();
        let (q, c) = (d.mean_quality(j), d.mean_cost(j) * 1e3);
        eprintln!("{model}: accuracy {q:.3} (README {acc}), {c:.3} m$ (README {mcost})");
        assert!((q - acc).abs() < 0.01, "{model}: {q} vs {acc}");
        assert!((c - mcost).abs() / mcost < 0.03, "{model}: {c} vs {mcost}");
    }
}

#[test]
fn shared_mtbench_turn_one_scores_match_readme() {
    let Some(dir) = shared_data() else { return };
    let prices = PriceTable::read_csv(dir.join("prices.csv")).unwrap();
    let d = Outcomes::read_long_with(
        dir.join("routellm/mtbench_judgments.csv"),
        &LoadOptions::new()
            .prices(prices)
            .quality_range(1.0, 10.0)
            .default_input_tokens(100),
    )
    .unwrap();
    assert_eq!((d.prompts(), d.models().len()), (160, 2));
    let turn1: Vec<usize> = (0..d.prompts()).filter(|&p| d.id(p).ends_with(".1")).collect();
    let t = d.subset(&turn1);
    for (model, readme) in [
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 8.69),
        ("gpt-4-1106-preview", 9.41),
    ] {
        let j = t.model_index(model).unwrap();
        let score = 1.0 + 9.0 * t.mean_quality(j);
        eprintln!("MT-Bench turn 1 {model}: {score:.3} (README {readme})");
        assert!((score - readme).abs() < 0.006, "{model}: {score}");
    }
}

#[test]
fn shared_routellm_accuracies_match_readme() {
    let Some(dir) = shared_data() else { return };
    let rl = dir.join("routellm");
    let prices = PriceTable::read_csv(dir.join("prices.csv")).unwrap();
    let d = Outcomes::read_wide_csv_with(
        rl.join("mmlu_gsm8k_outcomes.csv"),
        &LoadOptions::new().prices(prices).default_output_tokens(1),
    )
    .unwrap()
    .with_prompts_jsonl(&PromptJoin::routellm_gsm8k(&rl))
    .unwrap();
    assert_eq!(d.prompts(), 14_042 + 1_319);
    for (bench, weak, strong) in [("mmlu", 0.681, 0.806), ("gsm8k", 0.638, 0.857)] {
        let idx: Vec<usize> = (0..d.prompts())
            .filter(|&p| d.label(p).split('/').next() == Some(bench))
            .collect();
        let s = d.subset(&idx);
        let (w, st) = (s.mean_quality(0), s.mean_quality(1));
        eprintln!("{bench}: {} prompts, weak {w:.3}, strong {st:.3}", s.prompts());
        assert!(
            (w - weak).abs() < 0.0005 && (st - strong).abs() < 0.0005,
            "{bench}: {w} {st}"
        );
        if bench == "gsm8k" {
            assert!((0..s.prompts()).all(|p| s.text(p).is_some()));
        }
    }
}

#[test]
#[should_panic(expected = "out of range")]
fn observation_indices_are_checked_in_every_build() {
    // 3 prompts x 2 models: 6 quality bits in one word. Prompt 3 would read bit 6 (a 0)
    // without the check, and model 2 of prompt 0 would read prompt 1's first model.
    let d = Outcomes::read_wide_csv(scratch("bounds.csv", WIDE)).unwrap();
    let _ = d.quality(3, 0);
}

#[test]
#[should_panic(expected = "out of range")]
fn a_model_index_past_the_last_model_is_refused() {
    let d = Outcomes::read_wide_csv(scratch("bounds-model.csv", WIDE)).unwrap();
    let _ = d.cost(0, 2);
}

#[test]
fn more_than_65536_kinds_each_keep_their_own() {
    // The kind index was a u16: kind 65,536 wrapped to kind 0.
    let n = 70_000;
    let mut csv = String::from("sample_id,eval_name,kind,score|a,cost_usd|a\n");
    for i in 0..n {
        csv.push_str(&format!("p{i},l,kind-{i},1,0.001\n"));
    }
    let d = Outcomes::read_wide_csv(scratch("many-kinds.csv", &csv)).unwrap();
    for p in [0, 65_535, 65_536, 65_537, n - 1] {
        assert_eq!(
            d.kind(p),
            &TaskKind::from_name(&format!("kind-{p}")),
            "prompt {p}"
        );
    }
    let sub = d.subset(&[65_536, 1]);
    assert_eq!(sub.kind(0), &TaskKind::from_name("kind-65536"));
}
