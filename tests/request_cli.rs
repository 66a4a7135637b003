//! `taskroute classify` and `taskroute route --request`.

use std::path::{Path, PathBuf};

mod cli_support;
use cli_support::taskroute as run;

fn scratch(name: &str, contents: &str) -> PathBuf {
    cli_support::scratch("request_cli", name, contents)
}

/// Runs `taskroute classify --input <input>` with `more` arguments after it.
fn classify(input: &Path, more: &[&str]) -> (bool, String, String) {
    let mut args = vec!["classify", "--input", input.to_str().unwrap()];
    args.extend_from_slice(more);
    run(&args)
}

#[test]
fn classify_prints_accuracy_and_confusion_with_labels_and_kinds_without() {
    let labelled = scratch(
        "labelled.jsonl",
        concat!(
            r#"{"text": "Write a python function to reverse a list.", "kind": "code_generation"}"#,
            "\n",
            r#"{"text": "Sam has 4 apples and buys 3 more. How many apples does he have?", "kind": "math"}"#,
            "\n",
            r#"{"text": "hello there", "kind": "math"}"#,
            "\n"
        ),
    );
    let (ok, out, err) = classify(&labelled, &[]);
    assert!(ok, "{err}");
    assert!(out.starts_with("accuracy 0.667 (2/3)"), "{out}");
    assert!(out.contains("confusion (rows true, columns predicted)"), "{out}");
    let unlabelled = scratch("plain.jsonl", "{\"text\": \"Summarize this article.\"}\n");
    let (ok, out, _) = classify(&unlabelled, &[]);
    assert!(ok && out.starts_with("summarization\t"), "{out}");
    let bad = scratch("bad.jsonl", "{\"prompt\": \"x\"}\n");
    let (ok, _, err) = classify(&bad, &[]);
    assert!(
        !ok && err.contains("bad.jsonl:1: no string field `text`"),
        "{err}"
    );
}

#[test]
fn route_request_derives_the_task_from_an_openai_body() {
    let body = scratch(
        "request.json",
        r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "Write a python function that parses ISO dates."}],
            "tools": [{"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}],
            "max_tokens": 700}"#,
    );
    let (ok, out, err) = run(&["route", "--request", body.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("kind code_generation") && err.contains("output 700"),
        "{err}"
    );
    let decision: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decision["task_kind"], "code_generation", "{out}");
    let bad = scratch(
        "bad.json",
        r#"{"messages": [{"role": "wizard", "content": "x"}]}"#,
    );
    let (ok, _, err) = run(&["route", "--request", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("unknown role `wizard`"), "{err}");
}

#[test]
fn classify_trains_saves_loads_and_cross_validates_a_learned_classifier() {
    let lines = code_and_math_lines();
    let labelled = scratch("learn.jsonl", &lines);
    let model = scratch("classifier.json", "");
    let (ok, _, err) = classify(&labelled, &["--save", model.to_str().unwrap()]);
    assert!(ok && err.contains("trained on 24 prompts (2 kinds)"), "{err}");
    let probe = scratch(
        "probe.jsonl",
        "{\"text\": \"Write a python function that sorts a list of numbers.\"}\n",
    );
    let (ok, out, err) = classify(&probe, &["--learned", model.to_str().unwrap()]);
    assert!(ok && out.starts_with("code_generation\t"), "{out}{err}");
    let (ok, out, err) = classify(&labelled, &["--cross-validate", "3"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("3-fold cross-validation"), "{out}");
    assert!(
        out.contains("== learned") && out.contains("accuracy 1.000 (24/24)"),
        "{out}"
    );
    let (ok, _, err) = classify(&probe, &["--learned", labelled.to_str().unwrap()]);
    assert!(!ok && err.contains("not a valid classifier file"), "{err}");
}

#[test]
fn classify_repeats_cross_validation_over_fold_draws() {
    // Two kinds the rules tell apart and one prompt they get wrong ("hello there" is chat to
    // them), so the rules' recall of math is 12/13 in every repeat and on the pooled matrix.
    let mut lines = code_and_math_lines();
    lines += "{\"text\": \"hello there\", \"kind\": \"math\"}\n";
    let labelled = scratch("repeats.jsonl", &lines);
    let (ok, out, err) = classify(
        &labelled,
        &["--cross-validate", "3", "--repeats", "4", "--seed", "7"],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with(
            "3-fold cross-validation repeated 4 times (stratified by kind, seeds 7..=10), 25 prompts"
        ),
        "{out}"
    );
    assert!(out.contains("over all 12 folds"), "{out}");
    assert!(
        out.contains("math             0.923 ± 0.000 (min 0.923, max 0.923)"),
        "{out}"
    );
    assert!(out.contains("accuracy 0.960 (96/100)"), "{out}");
    let (ok, _, err) = classify(&labelled, &["--repeats", "2"]);
    assert!(!ok && err.contains("--cross-validate"), "{err}");
    // Seeds past u64::MAX are refused, not an overflow (a panic in a debug build).
    let (ok, _, err) = classify(
        &labelled,
        &[
            "--cross-validate",
            "3",
            "--repeats",
            "2",
            "--seed",
            "18446744073709551615",
        ],
    );
    assert!(
        !ok && err.contains("--repeats 2") && !err.contains("panicked"),
        "{err}"
    );
    // More folds than the largest kind has prompts: a fold would be empty (its accuracy 0 / 0,
    // printed as NaN), so it is refused.
    let few = scratch(
        "few.jsonl",
        "{\"text\": \"Write a python function that sorts.\", \"kind\": \"code_generation\"}\n\
         {\"text\": \"Write a rust function that parses.\", \"kind\": \"code_generation\"}\n\
         {\"text\": \"Sam has 3 apples. How many?\", \"kind\": \"math\"}\n\
         {\"text\": \"Ann has 5 pears and eats 2. How many?\", \"kind\": \"math\"}\n",
    );
    let (ok, out, err) = classify(&few, &["--cross-validate", "3"]);
    assert!(!ok && err.contains("fold 2 gets no prompt"), "{out}{err}");
}

/// `taskroute eval --infer-kind`: test prompts are routed by the kind inferred from their text.
/// Here every text looks like the other kind: routed by the data's kinds the static estimator
/// is perfect, routed by the inferred kinds it is always wrong.
#[test]
fn eval_routes_by_inferred_kinds() {
    let mut csv = String::from("sample_id,eval_name,score|a,score|b,cost_usd|a,cost_usd|b\n");
    let mut prompts = String::new();
    for i in 0..20 {
        let (label, text, a, b) = if i % 2 == 0 {
            (
                "mbpp",
                format!("Sam has {i} apples and buys 3 more at 2 dollars each. How many dollars did he pay?"),
                1,
                0,
            )
        } else {
            (
                "gsm8k",
                format!("Write a python function {i} that sorts a list of strings."),
                0,
                1,
            )
        };
        csv += &format!("p{i},{label},{a},{b},0.001,0.01\n");
        prompts += &format!("{{\"id\": \"p{i}\", \"text\": \"{text}\"}}\n");
    }
    let csv = scratch("infer.csv", &csv);
    let prompts = scratch("infer.jsonl", &prompts);
    let best_quality = |extra: &[&str]| {
        let json = scratch("infer-report.json", "");
        let mut args = vec![
            "eval",
            "--outcomes",
            csv.to_str().unwrap(),
            "--prompts",
            prompts.to_str().unwrap(),
            "--prompt-key",
            "id",
            "--prompt-text",
            "text",
            "--kfold",
            "2",
            "--policy",
            "quality-first",
            "--no-progress",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (ok, _, err) = run(&args);
        assert!(ok, "{err}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (report["policies"][0]["best"]["quality"].as_f64().unwrap(), err)
    };
    let (truth, _) = best_quality(&[]);
    assert!(truth > 0.99, "{truth}");
    let (inferred, err) = best_quality(&["--infer-kind", "rules"]);
    assert!(err.contains("0 of 20 test prompts"), "{err}");
    assert!(inferred < 0.51, "{inferred}");
}

/// 12 code-generation and 12 math prompts, labelled, as JSON lines.
fn code_and_math_lines() -> String {
    let mut lines = String::new();
    for i in 0..12 {
        lines += &format!(
            "{{\"text\": \"Write a python function {i} that sorts a list of strings.\", \"kind\": \"code_generation\"}}\n\
             {{\"text\": \"Sam has {i} apples and buys 3 more at 2 dollars each. How many dollars did he pay?\", \"kind\": \"math\"}}\n"
        );
    }
    lines
}
