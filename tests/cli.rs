//! The `taskroute` binary: exit codes, messages, outputs (feature `cli`).

use std::path::{Path, PathBuf};
use std::process::Command;

mod cli_support;
mod shared_data;
use cli_support::{bin, text};

fn scratch(name: &str, contents: &str) -> PathBuf {
    cli_support::scratch("cli", name, contents)
}

/// Runs `cmd` and checks that it exits with status 1 and `message` in its stderr.
fn assert_fails(cmd: &mut Command, message: &str) {
    let o = cmd.output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains(message), "{err}");
}

/// Runs `taskroute eval` on the outcomes in `data` with `args`, its JSON report written to
/// `json`; checks that it exits with status 0, and returns its stdout and the report.
fn eval_report(data: &Path, json: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let mut cmd = bin();
    cmd.arg("eval")
        .arg("--outcomes")
        .arg(data)
        .arg("--json")
        .arg(json)
        .args(args);
    let o = cmd.output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (out, report)
}

/// 40 prompts, 3 models: cheap right on mbpp only, mid right on most, dear always right.
fn table() -> String {
    let mut s = String::from(
        "sample_id,eval_name,full_prompt_chars,score|cheap,score|mid,score|dear,cost_usd|cheap,cost_usd|mid,cost_usd|dear\r\n",
    );
    for i in 0..40 {
        let (label, cheap, mid) = if i % 2 == 0 {
            ("mbpp", 1, 1)
        } else {
            ("gsm8k", 0, u8::from(i % 3 != 0))
        };
        s.push_str(&format!("p{i},{label},400,{cheap},{mid},1,0.0001,0.001,0.01\r\n"));
    }
    s
}

#[test]
fn usage_errors_exit_2() {
    let o = bin().arg("eval").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("--outcomes"));
    let o = bin()
        .args(["eval", "--outcomes", "x.csv", "--policy", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn runtime_errors_exit_1_with_position() {
    let bad = scratch("bad.csv", "sample_id,score|a,cost_usd|a\np1,1,0.1\np2,1,NaN\n");
    assert_fails(
        bin().args(["eval", "--outcomes"]).arg(&bad),
        "bad.csv:3:3: column `cost_usd|a`: expected a finite number, got `NaN`",
    );
    assert_fails(
        bin().args([
            "eval",
            "--outcomes",
            "/nonexistent/outcomes.csv",
            "--layout",
            "wide",
        ]),
        "cannot read /nonexistent/outcomes.csv",
    );
}

#[test]
fn eval_prints_table_and_writes_json_and_svg() {
    let data = scratch("table.csv", &table());
    let json = scratch("report.json", "");
    let svg = scratch("plot.svg", "");
    let (out, report) = eval_report(
        &data,
        &json,
        &[
            "--grid",
            "11",
            "--split",
            "seed=3,test=0.5",
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    for needle in [
        "cost-first",
        "quality-first",
        "weighted",
        "zero router",
        "oracle",
        "random (seed 42)",
        "dear",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    assert_eq!(report["test_prompts"], 20);
    assert_eq!(report["policies"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["policies"][0]["curve"]["points"].as_array().unwrap().len(),
        11
    );
    assert_eq!(report["baselines"]["oracle"]["quality"], 1.0);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("cost-first") && svg.contains("oracle"));
    // k-fold tests every prompt once.
    let (_, report) = eval_report(
        &data,
        &json,
        &["--grid", "5", "--kfold", "4", "--policy", "cost-first"],
    );
    assert_eq!(report["test_prompts"], 40);
}

#[test]
fn calibration_finds_knobs_for_a_share_of_calls() {
    let data = scratch("table-cal.csv", &table());
    let json = scratch("report-cal.json", "");
    let (out, report) = eval_report(&data, &json, &["--grid", "11", "--calibrate", "share=dear:0.5"]);
    assert!(out.contains("calibrated"), "{out}");
    let cals = report["calibrations"].as_array().unwrap();
    assert_eq!(cals.len(), 3);
    for c in cals {
        let achieved = c["calibration"]["achieved"].as_f64().unwrap();
        let share = c["calibration"]["summary"]["share"][2].as_f64().unwrap();
        assert_eq!(achieved, share, "{c}");
        assert!((0.0..=1.0).contains(&achieved));
    }
    for bad in ["share=dear", "speed=3", "share=nobody:0.5"] {
        assert_fails(
            bin().args(["eval", "--calibrate", bad, "--outcomes"]).arg(&data),
            "",
        );
    }
}

#[test]
fn judge_scores_load_with_a_quality_range() {
    let mut csv = String::from("question_id,category,turn,model,score,answer_chars\n");
    for q in 0..20 {
        for turn in 1..=2 {
            let cat = if q % 2 == 0 { "writing" } else { "math" };
            csv.push_str(&format!(
                "{q},{cat},{turn},weak,{},400\n",
                if q % 2 == 0 { 9 } else { 3 }
            ));
            csv.push_str(&format!("{q},{cat},{turn},strong,10,800\n"));
        }
    }
    let data = scratch("judgments.csv", &csv);
    let prices = scratch(
        "prices.csv",
        "model,input_usd_per_mtok,output_usd_per_mtok\nweak,1,1\nstrong,10,30\n",
    );
    assert_fails(
        bin().args(["eval", "--outcomes"]).arg(&data),
        "expected a quality in [0, 1]",
    );
    let json = scratch("judgments.json", "");
    let prices = prices.to_str().unwrap();
    let args = [
        "--grid",
        "11",
        "--quality-range",
        "1,10",
        "--input-tokens",
        "50",
        "--prices",
        prices,
    ];
    let (_, report) = eval_report(&data, &json, &args);
    assert_eq!(report["prompts"], 40);
    let singles = report["baselines"]["singles"].as_array().unwrap();
    assert_eq!(singles[1]["quality"], 1.0);
    assert_fails(
        bin()
            .args(["eval", "--quality-range", "10", "--outcomes"])
            .arg(&data),
        "",
    );
}

#[test]
fn unknown_estimator_is_a_clear_error() {
    let data = scratch("table-est.csv", &table());
    assert_fails(
        bin()
            .args(["eval", "--estimator", "nonsense", "--outcomes"])
            .arg(&data),
        "unknown estimator `nonsense`",
    );
}

#[test]
fn route_explains_a_decision() {
    let o = bin()
        .args([
            "route",
            "--task",
            r#"{"kind": "planning", "input_tokens": 3000}"#,
            "--policy",
            "cost-first:0.6",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains("planning task ->") && out.contains("primary"),
        "{out}"
    );
    assert_fails(
        bin().args(["route", "--task", r#"{"kind": 3}"#]),
        "--task: not a valid task",
    );
}

#[test]
fn shared_routerbench_reproduces_readme_single_models() {
    let Some(dir) = shared_data::shared_data() else {
        return;
    };
    let rb = dir.join("routerbench");
    let json = scratch("rb.json", "");
    let (prompts, prices) = (rb.join("prompts.jsonl"), dir.join("prices.csv"));
    let (prompts, prices) = (prompts.to_str().unwrap(), prices.to_str().unwrap());
    let args = [
        "--grid",
        "21",
        "--kfold",
        "5",
        "--prompts",
        prompts,
        "--prices",
        prices,
    ];
    let (out, report) = eval_report(&rb.join("outcomes.csv"), &json, &args);
    assert_eq!(report["test_prompts"], 2205);
    let singles = report["baselines"]["singles"].as_array().unwrap();
    let get = |m: &str| singles.iter().find(|s| s["policy"] == m).unwrap();
    // README figures are over the whole RouterBench part; the shared file is its train split.
    let gpt4 = get("gpt-4-1106-preview");
    assert!((gpt4["quality"].as_f64().unwrap() - 0.879).abs() < 0.005, "{out}");
    assert!((gpt4["cost"].as_f64().unwrap() * 1e3 - 5.0).abs() < 0.1, "{out}");
    let mistral = get("mistralai/mistral-7b-chat");
    assert!(
        (mistral["quality"].as_f64().unwrap() - 0.584).abs() < 0.005,
        "{out}"
    );
    let oracle = &report["baselines"]["oracle"];
    assert!((oracle["quality"].as_f64().unwrap() - 0.97).abs() < 0.01, "{out}");
    assert!(oracle["cost"].as_f64().unwrap() < 0.25e-3, "{out}");
    for p in report["policies"].as_array().unwrap() {
        assert!(p["aiq"].as_f64().unwrap() > 0.5, "{p}");
    }
}
