//! `taskroute split`, `taskroute train` and `taskroute eval --estimator FILE` (features `cli`,
//! `learn`): train on one file, evaluate on another.

use std::path::{Path, PathBuf};
use std::process::Output;

mod cli_support;
use cli_support::{bin, text};

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("learn_cli");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> (Output, String, String) {
    let o = bin().args(args).output().unwrap();
    let (out, err) = text(&o);
    (o, out, err)
}

/// The stdout of a run, which must have succeeded.
fn succeeds((o, out, err): (Output, String, String)) -> String {
    assert!(o.status.success(), "{err}");
    out
}

/// Checks that a run exited with status 1 and said `message` on stderr (`err`).
fn assert_fails(o: &Output, err: &str, message: &str) {
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(message), "{err}");
}

/// `taskroute <cmd>` on a fixture table with its `id`/`text` prompts; `tail` follows.
fn run_on(cmd: &str, table: &Path, prompts: &Path, tail: &[&str]) -> (Output, String, String) {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (table, prompts) = (s(table), s(prompts));
    let mut args = vec![
        cmd,
        "--outcomes",
        &table,
        "--prompts",
        &prompts,
        "--prompt-key",
        "id",
        "--prompt-text",
        "text",
    ];
    args.extend_from_slice(tail);
    run(&args)
}

/// `taskroute train`, saving to `out`; `extra` follows the common arguments.
fn run_train(table: &Path, prompts: &Path, out: &Path, extra: &[&str]) -> (Output, String, String) {
    let out = out.to_str().unwrap();
    run_on("train", table, prompts, &[&["--out", out], extra].concat())
}

/// `taskroute eval --estimator FILE --split none`; `extra` follows the common arguments.
fn run_eval(table: &Path, prompts: &Path, est: &Path, extra: &[&str]) -> (Output, String, String) {
    let est = est.to_str().unwrap();
    let common = ["--estimator", est, "--split", "none", "--no-progress"];
    run_on("eval", table, prompts, &[&common[..], extra].concat())
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
    write_fixture(&d, tag, &table, &prompts)
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

    let out = succeeds(run_train(&train, &prompts, &est, &["--learner", "logreg"]));
    assert!(
        out.contains("trained `logreg` on 140 prompts (140 with text) x 2 models"),
        "{out}"
    );

    let report = s(&d.join("report.json"));
    let out = succeeds(run_eval(
        &test,
        &prompts,
        &est,
        &["--policy", "cost-first", "--json", &report],
    ));
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
    succeeds(run_train(&table, &prompts, &est, &["--learner", "knn"]));
    let json = std::fs::read_to_string(&est).unwrap();
    for (name, contents, expect) in [
        (
            "v9.json",
            json.replacen("\"version\":3", "\"version\":9", 1),
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
    assert_fails(&o, &err, "shrink");
}

#[test]
fn train_knn_by_kind_flag_reaches_the_saved_estimator() {
    let (table, prompts) = fixtures("by_kind");
    let d = dir();
    for (flag, expect) in [(true, true), (false, false)] {
        let est = d.join(format!("est-{flag}.json"));
        let extra: &[&str] = if flag {
            &["--learner", "knn", "--knn-by-kind"]
        } else {
            &["--learner", "knn"]
        };
        succeeds(run_train(&table, &prompts, &est, extra));
        let loaded = taskroute::learn::LearnedEstimator::load(&est).unwrap();
        assert_eq!(loaded.config().knn_by_kind, expect);
    }
}

/// Writes a fixture's table and prompts as `<tag>-table.csv` and `<tag>-prompts.jsonl`.
fn write_fixture(d: &Path, tag: &str, table: &str, prompts: &str) -> (PathBuf, PathBuf) {
    let (t, p) = (
        d.join(format!("{tag}-table.csv")),
        d.join(format!("{tag}-prompts.jsonl")),
    );
    std::fs::write(&t, table).unwrap();
    std::fs::write(&p, prompts).unwrap();
    (t, p)
}

/// As `fixtures`, with outcomes drawn at random (seeded), independent of the texts.
fn noise_fixtures(tag: &str) -> (PathBuf, PathBuf) {
    let d = dir();
    let mut table = String::from(
        "sample_id,eval_name,full_prompt_chars,score|cheap,score|dear,cost_usd|cheap,cost_usd|dear\n",
    );
    let mut prompts = String::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*: a fixed pseudo-random stream for the fixture
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    };
    let words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"];
    for i in 0..300 {
        let text: Vec<&str> = (0..6).map(|_| words[(next() % 6) as usize]).collect();
        let text = text.join(" ");
        let cheap = u8::from(next() % 100 < 55);
        let dear = u8::from(next() % 100 < 80);
        table.push_str(&format!("p{i},chat,{},{cheap},{dear},0.0001,0.01\n", text.len()));
        prompts.push_str(&format!("{{\"id\": \"p{i}\", \"text\": \"{text}\"}}\n"));
    }
    write_fixture(&d, tag, &table, &prompts)
}

#[test]
fn default_train_chooses_by_cross_validation_and_eval_prints_the_figures() {
    // `taskroute train` with its default settings, saved to `est`: what it says, and what it saved.
    let train = |table: &Path, prompts: &Path, est: &Path| {
        let out = succeeds(run_train(table, prompts, est, &[]));
        (out, taskroute::learn::LearnedEstimator::load(est).unwrap())
    };
    // Text that tells which prompts the cheap model gets right: a learner is chosen.
    let (table, prompts) = fixtures("auto");
    let est = dir().join("auto.json");
    let (out, loaded) = train(&table, &prompts, &est);
    assert!(
        out.contains("model selection: 5-fold cross-validation on 200 prompts"),
        "{out}"
    );
    assert!(
        out.contains("it beat the prior by more than the CV noise"),
        "{out}"
    );
    assert!(!loaded.cv_report().unwrap().kept_prior());
    let out = succeeds(run_eval(&table, &prompts, &est, &[]));
    assert!(out.contains("the estimator records its model selection"), "{out}");
    assert!(out.contains("<- chosen"), "{out}");

    // Outcomes independent of the text: the prior is saved, and train says so.
    let (table, prompts) = noise_fixtures("auto-noise");
    let (out, loaded) = train(&table, &prompts, &dir().join("auto-noise.json"));
    assert!(
        out.contains("saved the per-kind prior: no learner beat it by more than the CV noise"),
        "{out}"
    );
    assert_eq!(loaded.config().learner, taskroute::learn::Learner::Prior);
}

#[test]
fn eval_refits_the_default_selection_per_fold_and_prints_aiq_per_fold() {
    let (table, prompts) = fixtures("kfold-learned");
    let out = succeeds(run_on(
        "eval",
        &table,
        &prompts,
        &["--estimator", "learned", "--kfold", "3", "--no-progress"],
    ));
    assert!(
        out.contains("cross-validated on the training split (chose `"),
        "{out}"
    );
    assert!(out.contains("AIQ per fold"), "{out}");
    let out = succeeds(run_on(
        "eval",
        &table,
        &prompts,
        &["--estimator", "learned-prior", "--kfold", "3", "--no-progress"],
    ));
    assert!(out.contains("learned `prior` with its default settings"), "{out}");
    let (o, _, err) = run_on("eval", &table, &prompts, &["--estimator", "learned-nope"]);
    assert_fails(&o, &err, "learned-<learner>");
}

#[test]
fn train_and_eval_flags_for_output_lengths_and_the_factorisation() {
    let (table, prompts) = fixtures("lengths");
    let d = dir();
    let prices = d.join("lengths-prices.csv");
    std::fs::write(
        &prices,
        "model,input_usd_per_mtok,output_usd_per_mtok\ncheap,1,2\ndear,10,30\n",
    )
    .unwrap();
    let p = prices.to_str().unwrap();
    let est = d.join("lengths.json");
    let out = succeeds(run_train(
        &table,
        &prompts,
        &est,
        &[
            "--learner",
            "mf",
            "--rank",
            "3",
            "--lengths",
            "text",
            "--prices",
            p,
        ],
    ));
    assert!(
        out.contains("output lengths (each model's expected cost): `text`"),
        "{out}"
    );
    let loaded = taskroute::learn::LearnedEstimator::load(&est).unwrap();
    assert!(loaded.predicts_lengths());
    assert_eq!(loaded.config().rank, 3);
    assert_eq!(loaded.config().learner, taskroute::learn::Learner::Mf);
    let out = succeeds(run_eval(&table, &prompts, &est, &["--prices", p]));
    assert!(out.contains("output lengths `text`"), "{out}");
    // Without prices no answer's output tokens are known: a clear error.
    let (o, _, err) = run_train(
        &table,
        &prompts,
        &est,
        &["--learner", "prior", "--lengths", "kind"],
    );
    assert_fails(&o, &err, "no output tokens are known");
    let (o, _, err) = run_train(&table, &prompts, &est, &["--lengths", "long"]);
    assert_fails(&o, &err, "expected task, kind or text or auto");
    // `eval --lengths` trains a fixed learner's lengths on each training split.
    let out = succeeds(run_on(
        "eval",
        &table,
        &prompts,
        &[
            "--estimator",
            "learned-prior",
            "--lengths",
            "kind",
            "--prices",
            p,
            "--kfold",
            "3",
            "--no-progress",
        ],
    ));
    assert!(out.contains("output lengths `kind`"), "{out}");
}
