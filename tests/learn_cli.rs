//! `taskroute split`, `taskroute train` and `taskroute eval --estimator FILE` (features `cli`,
//! `learn`): train on one file, evaluate on another.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_taskroute"))
}

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("learn_cli");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> (Output, String, String) {
    let o = bin().args(args).output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    (o, out, err)
}

/// `taskroute train` on a fixture table with its `id`/`text` prompts, saving to `out`; `extra`
/// follows the common arguments.
fn run_train(table: &Path, prompts: &Path, out: &Path, extra: &[&str]) -> (Output, String, String) {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (table, prompts, out) = (s(table), s(prompts), s(out));
    let mut args = vec![
        "train",
        "--outcomes",
        &table,
        "--prompts",
        &prompts,
        "--prompt-key",
        "id",
        "--prompt-text",
        "text",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// 200 prompts, 2 models: "cheap" is right on short greetings, wrong on long proofs; "dear" is
/// always right. Prompt texts in a JSONL file keyed by `id`. Each test passes its own `tag` so
/// tests running in parallel never share a file.
fn fixtures(tag: &str) -> (PathBuf, PathBuf) {
    let d = dir();
    let mut table = String::from(
        "sample_id,eval_name,full_prompt_chars,score|cheap,score|dear,cost_usd|cheap,cost_usd|dear\n",
    );
    let mut prompts = String::new();
    for i in 0..200 {
        let hard = i % 2 == 0;
        let text = if hard {
            format!("prove theorem {i} about compact manifolds with boundary in full detail")
        } else {
            format!("say hello to {i}")
        };
        table.push_str(&format!(
            "p{i},chat,{},{},1,0.0001,0.01\n",
            text.len(),
            u8::from(!hard)
        ));
        prompts.push_str(&format!("{{\"id\": \"p{i}\", \"text\": \"{text}\"}}\n"));
    }
    let (t, p) = (
        d.join(format!("{tag}-table.csv")),
        d.join(format!("{tag}-prompts.jsonl")),
    );
    std::fs::write(&t, table).unwrap();
    std::fs::write(&p, prompts).unwrap();
    (t, p)
}

#[test]
fn split_train_then_eval_on_another_file() {
    let (table, prompts) = fixtures("roundtrip");
    let d = dir();
    let (train, test, est) = (d.join("train.csv"), d.join("test.csv"), d.join("est.json"));
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let (o, out, err) = run(&[
        "split",
        "--outcomes",
        &s(&table),
        "--test",
        "0.3",
        "--seed",
        "42",
        "--train-out",
        &s(&train),
        "--test-out",
        &s(&test),
    ]);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("140 train rows") && out.contains("60 test rows"),
        "{out}"
    );
    let lines = |p: &PathBuf| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!((lines(&train), lines(&test)), (141, 61));

    let (o, out, err) = run_train(&train, &prompts, &est, &["--learner", "logreg"]);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("trained `logreg` on 140 prompts (140 with text) x 2 models"),
        "{out}"
    );

    let (o, out, err) = run(&[
        "eval",
        "--outcomes",
        &s(&test),
        "--prompts",
        &s(&prompts),
        "--prompt-key",
        "id",
        "--prompt-text",
        "text",
        "--estimator",
        &s(&est),
        "--split",
        "none",
        "--policy",
        "cost-first",
        "--no-progress",
        "--json",
        &s(&d.join("report.json")),
    ]);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("60 test prompts"), "{out}");
    assert!(out.contains("learned `logreg`"), "{out}");
    // The learned router separates the prompts: some cost-first point reaches full quality
    // while sending only the hard half to the dear model.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    let curve = &report["policies"][0]["curve"]["points"];
    let best = curve
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["quality"].as_f64().unwrap() > 0.999)
        .map(|p| p["share"][1].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(best < 0.7, "share of calls to dear at full quality: {best}");
}

#[test]
fn damaged_or_foreign_estimator_files_are_refused() {
    let (table, prompts) = fixtures("refusals");
    let d = dir();
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let est = d.join("est2.json");
    let (o, _, err) = run_train(&table, &prompts, &est, &["--learner", "knn"]);
    assert!(o.status.success(), "{err}");
    let json = std::fs::read_to_string(&est).unwrap();
    for (name, contents, expect) in [
        (
            "v9.json",
            json.replacen("\"version\":2", "\"version\":9", 1),
            "format version 9 is not supported",
        ),
        (
            "cut.json",
            json[..json.len() / 3].to_owned(),
            "corrupted estimator file",
        ),
        (
            "other.json",
            "{\"magic\": \"nope\"}".to_owned(),
            "not a taskroute estimator file",
        ),
    ] {
        let p = d.join(name);
        std::fs::write(&p, contents).unwrap();
        let (o, _, err) = run(&[
            "eval",
            "--outcomes",
            &s(&table),
            "--estimator",
            &s(&p),
            "--split",
            "none",
            "--no-progress",
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
    }
    // Bad settings are a runtime error naming the setting.
    let (o, _, err) = run(&[
        "train",
        "--outcomes",
        &s(&table),
        "--shrink",
        "2",
        "--out",
        &s(&d.join("x.json")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("shrink"), "{err}");
}

#[test]
fn train_knn_by_kind_flag_reaches_the_saved_estimator() {
    let (table, prompts) = fixtures("by_kind");
    let d = dir();
    for (flag, expect) in [(true, true), (false, false)] {
        let est = d.join(format!("est-{flag}.json"));
        let extra: &[&str] = if flag { &["--knn-by-kind"] } else { &[] };
        let (o, _, err) = run_train(&table, &prompts, &est, extra);
        assert!(o.status.success(), "{err}");
        let loaded = taskroute::learn::LearnedEstimator::load(&est).unwrap();
        assert_eq!(loaded.config().knn_by_kind, expect);
    }
}
