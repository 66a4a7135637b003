//! `taskroute eval --experiment`: replaying an A/B experiment on recorded outcomes (feature `cli`).

use std::path::PathBuf;
use std::process::Output;

mod cli_support;
use cli_support::{bin, text};

fn scratch(name: &str, contents: &str) -> PathBuf {
    cli_support::scratch("experiment_cli", name, contents)
}

/// 600 prompts: `good` right on 90 % of them, `poor` on 60 %, spread so no prefix is lopsided.
fn table(name: &str) -> PathBuf {
    let mut s = String::from("sample_id,eval_name,score|good,score|poor,cost_usd|good,cost_usd|poor\n");
    for i in 0..600 {
        let good = u8::from(i % 10 != 3);
        let poor = u8::from(i % 5 < 3);
        s.push_str(&format!("p{i},mbpp,{good},{poor},0.01,0.001\n"));
    }
    scratch(name, &s)
}

/// Runs `taskroute eval` on a fresh copy of the table (tests run in parallel).
fn eval(table_name: &str, args: &[&str]) -> (Output, String, String) {
    let o = bin()
        .arg("eval")
        .arg("--outcomes")
        .arg(table(table_name))
        .args(args)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    (o, out, err)
}

#[test]
fn replay_names_the_better_variant_and_how_many_prompts_it_took() {
    let json = scratch("ab.json", "");
    let (o, out, err) = eval(
        "ab.csv",
        &[
            "--split",
            "none",
            "--experiment",
            "model:poor,model:good",
            "--replays",
            "20",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["best"], "model:good", "{out}");
    assert_eq!(r["variants"][1]["quality"], 0.9);
    assert_eq!(r["variants"][0]["quality"], 0.6);
    let replays = r["replays"].as_array().unwrap();
    assert_eq!(replays.len(), 20);
    // A 0.9 vs 0.6 gap is decided well before 600 prompts, and always for `good` at 95 %.
    assert_eq!(r["picked_best"], 20, "{out}");
    let median = r["median_prompts_to_decide"].as_u64().unwrap();
    assert!((10..300).contains(&median), "{median}");
    // Replays differ (their own order and assignment), and each stopped where it decided.
    let lengths: std::collections::BTreeSet<u64> =
        replays.iter().map(|x| x["prompts"].as_u64().unwrap()).collect();
    assert!(lengths.len() > 1, "{lengths:?}");
    assert!(out.contains("picked the best 20"), "{out}");
}

#[test]
fn bad_experiments_are_clear_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["--experiment", "model:nope,model:good"], "no model `nope`"),
        (
            &["--experiment", "fastest:1,model:good"],
            "expected cost-first:FLOOR",
        ),
        (&["--experiment", "model:good"], "at least two variants"),
        (
            &["--experiment", "model:poor,model:good", "--shares", "1"],
            "1 shares for 2 variants",
        ),
        (
            &["--experiment", "model:poor,model:good", "--confidence", "1"],
            "strictly between 0 and 1",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["--split", "none"];
        all.extend_from_slice(args);
        let (o, _, err) = eval("bad.csv", &all);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}
