//! `taskroute classify` and `taskroute route --request`.

use std::path::PathBuf;

mod cli_support;
use cli_support::taskroute as run;

fn scratch(name: &str, contents: &str) -> PathBuf {
    cli_support::scratch("request_cli", name, contents)
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
    let (ok, out, err) = run(&["classify", "--input", labelled.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("accuracy 0.667 (2/3)"), "{out}");
    assert!(out.contains("confusion (rows true, columns predicted)"), "{out}");
    let unlabelled = scratch("plain.jsonl", "{\"text\": \"Summarize this article.\"}\n");
    let (ok, out, _) = run(&["classify", "--input", unlabelled.to_str().unwrap()]);
    assert!(ok && out.starts_with("summarization\t"), "{out}");
    let bad = scratch("bad.jsonl", "{\"prompt\": \"x\"}\n");
    let (ok, _, err) = run(&["classify", "--input", bad.to_str().unwrap()]);
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
    let mut lines = String::new();
    for i in 0..12 {
        lines += &format!(
            "{{\"text\": \"Write a python function {i} that sorts a list of strings.\", \"kind\": \"code_generation\"}}\n\
             {{\"text\": \"Sam has {i} apples and buys 3 more at 2 dollars each. How many dollars did he pay?\", \"kind\": \"math\"}}\n"
        );
    }
    let labelled = scratch("learn.jsonl", &lines);
    let model = scratch("classifier.json", "");
    let (ok, _, err) = run(&[
        "classify",
        "--input",
        labelled.to_str().unwrap(),
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(ok && err.contains("trained on 24 prompts (2 kinds)"), "{err}");
    let probe = scratch(
        "probe.jsonl",
        "{\"text\": \"Write a python function that sorts a list of numbers.\"}\n",
    );
    let (ok, out, err) = run(&[
        "classify",
        "--input",
        probe.to_str().unwrap(),
        "--learned",
        model.to_str().unwrap(),
    ]);
    assert!(ok && out.starts_with("code_generation\t"), "{out}{err}");
    let (ok, out, err) = run(&[
        "classify",
        "--input",
        labelled.to_str().unwrap(),
        "--cross-validate",
        "3",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("3-fold cross-validation"), "{out}");
    assert!(
        out.contains("== learned") && out.contains("accuracy 1.000 (24/24)"),
        "{out}"
    );
    let (ok, _, err) = run(&[
        "classify",
        "--input",
        probe.to_str().unwrap(),
        "--learned",
        labelled.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("not a valid classifier file"), "{err}");
}
