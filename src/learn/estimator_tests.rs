//! Tests of [`LearnedEstimator`](super::LearnedEstimator): training, estimating, the file format.

use super::*;
use crate::learn::{FORMAT_MAGIC, FORMAT_VERSION, FeatureConfig};
use crate::{Prices, TaskSpec};

/// Synthetic data: "weak" is right on short prompts about cats, wrong on long prompts about
/// proofs; "strong" is right on 90%. The learners must separate the two on unseen prompts.
fn synthetic(n: usize, offset: usize) -> TrainingSet {
    let mut t = TrainingSet::new(["weak", "strong"]).unwrap();
    for i in offset..offset + n {
        let hard = i % 3 == 0;
        let text = if hard {
            format!("prove the lemma {i} on compact manifolds with boundary, rigorously")
        } else {
            format!("tell me a cat fact {i}")
        };
        let kind = if i % 2 == 0 {
            TaskKind::Chat
        } else {
            TaskKind::Reasoning
        };
        let weak = if hard { 0.0 } else { 1.0 };
        let strong = if i % 10 == 0 { 0.0 } else { 1.0 };
        t.push(
            text,
            kind,
            &[Some(weak), Some(strong)],
            &[Some(0.001), Some(0.01)],
        )
        .unwrap();
    }
    t
}

fn auc_gap(est: &LearnedEstimator) -> f64 {
    let test = synthetic(60, 10_000);
    let (mut hard, mut easy) = (Vec::new(), Vec::new());
    let mut out = [0.0; 2];
    for i in 0..test.len() {
        est.predict_into(Some(test.text(i)), test.kind(i), &mut out)
            .unwrap();
        assert!(out.iter().all(|q| (0.0..=1.0).contains(q)));
        if test.outcome(i, 0) == Some(0.0) {
            hard.push(out[0]);
        } else {
            easy.push(out[0]);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    mean(&easy) - mean(&hard)
}

#[test]
fn every_learner_separates_easy_from_hard() {
    let train = synthetic(300, 0);
    for learner in Learner::ALL {
        let est = LearnedEstimator::train(&train, &TrainConfig::new(learner).with_epochs(4)).unwrap();
        let gap = auc_gap(&est);
        if learner == Learner::Prior {
            assert!(gap.abs() < 0.2, "prior ignores text: {gap}");
        } else {
            assert!(gap > 0.3, "{learner}: easy-hard gap {gap}");
        }
    }
}

#[test]
fn knn_by_kind_searches_only_the_query_kind() {
    // Same texts in two kinds; the weak model is right on every chat prompt and wrong on
    // every reasoning prompt.
    let mut t = TrainingSet::new(["weak", "strong"]).unwrap();
    for i in 0..120 {
        for (kind, weak) in [(TaskKind::Chat, 1.0), (TaskKind::Reasoning, 0.0)] {
            t.push(
                format!("tell me a fact about topic {}", i % 7),
                kind,
                &[Some(weak), Some(1.0)],
                &[],
            )
            .unwrap();
        }
    }
    let cfg = TrainConfig::new(Learner::Knn)
        .with_shrink(0.0)
        .with_knn_by_kind(true);
    let est = LearnedEstimator::train(&t, &cfg).unwrap();
    let mut out = [0.0; 2];
    est.predict_into(Some("tell me a fact about topic 3"), &TaskKind::Chat, &mut out)
        .unwrap();
    assert!(out[0] > 0.9, "chat: {out:?}");
    est.predict_into(
        Some("tell me a fact about topic 3"),
        &TaskKind::Reasoning,
        &mut out,
    )
    .unwrap();
    assert!(out[0] < 0.1, "reasoning: {out:?}");
    // A kind it never saw searches every prompt: about half right.
    est.predict_into(Some("tell me a fact about topic 3"), &TaskKind::Math, &mut out)
        .unwrap();
    assert!((0.2..0.8).contains(&out[0]), "unseen kind: {out:?}");
    // The index survives a save and load.
    let back = LearnedEstimator::from_json(&est.to_json().unwrap()).unwrap();
    let mut again = [0.0; 2];
    back.predict_into(Some("tell me a fact about topic 3"), &TaskKind::Math, &mut again)
        .unwrap();
    assert_eq!(out, again);
    assert!(back.config().knn_by_kind);
}

#[test]
fn training_is_deterministic_and_seeded() {
    let train = synthetic(120, 0);
    let cfg = TrainConfig::new(Learner::Irt).with_epochs(2);
    let a = LearnedEstimator::train(&train, &cfg).unwrap();
    let b = LearnedEstimator::train(&train, &cfg).unwrap();
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    let c = LearnedEstimator::train(&train, &cfg.clone().with_seed(7)).unwrap();
    assert_ne!(a.to_json().unwrap(), c.to_json().unwrap());
}

#[test]
fn save_load_round_trip_and_refusals() {
    let train = synthetic(90, 0);
    for learner in Learner::ALL {
        let est = LearnedEstimator::train(&train, &TrainConfig::new(learner).with_epochs(2)).unwrap();
        let json = est.to_json().unwrap();
        let back = LearnedEstimator::from_json(&json).unwrap();
        assert_eq!(back.to_json().unwrap(), json, "{learner}");
        let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
        est.predict_into(Some("tell me a cat fact"), &TaskKind::Chat, &mut a)
            .unwrap();
        back.predict_into(Some("tell me a cat fact"), &TaskKind::Chat, &mut b)
            .unwrap();
        assert_eq!(a, b);
    }
    let json = LearnedEstimator::train(&train, &TrainConfig::new(Learner::LogReg).with_epochs(1))
        .unwrap()
        .to_json()
        .unwrap();
    let here = format!("\"version\":{FORMAT_VERSION}");
    let other = json.replacen(&here, "\"version\":99", 1);
    assert!(matches!(
        LearnedEstimator::from_json(&other),
        Err(LearnError::UnsupportedVersion {
            found: 99,
            supported: FORMAT_VERSION
        })
    ));
    let other = json.replacen(FORMAT_MAGIC, "something-else", 1);
    assert!(matches!(
        LearnedEstimator::from_json(&other),
        Err(LearnError::NotAnEstimatorFile { .. })
    ));
    assert!(matches!(
        LearnedEstimator::from_json(&json[..json.len() / 2]),
        Err(LearnError::Corrupt { .. })
    ));
    assert!(matches!(
        LearnedEstimator::from_json("[1,2]"),
        Err(LearnError::NotAnEstimatorFile { .. })
    ));
    // Flip one digit inside the payload: the checksum catches it.
    let pos = json.find("\"global\":[0.").unwrap() + 12;
    let mut bytes = json.clone().into_bytes();
    bytes[pos] = if bytes[pos] == b'1' { b'2' } else { b'1' };
    let damaged = String::from_utf8(bytes).unwrap();
    let e = LearnedEstimator::from_json(&damaged).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
    // A file from nowhere.
    let dir = std::env::temp_dir().join(format!("taskroute-learn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("est.json");
    let est = LearnedEstimator::from_json(&json).unwrap();
    est.save(&path).unwrap();
    assert_eq!(LearnedEstimator::load(&path).unwrap().to_json().unwrap(), json);
    assert!(matches!(
        LearnedEstimator::load(dir.join("missing.json")),
        Err(LearnError::Io { action: "read", .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn one_class_and_missing_outcomes_are_handled() {
    let mut t = TrainingSet::new(["always", "never", "sometimes"]).unwrap();
    for i in 0..40 {
        let some = if i % 2 == 0 { Some(1.0) } else { None };
        t.push(
            format!("q {i}"),
            TaskKind::Chat,
            &[Some(1.0), Some(0.0), some],
            &[],
        )
        .unwrap();
    }
    let est = LearnedEstimator::train(&t, &TrainConfig::new(Learner::Ensemble).with_epochs(3)).unwrap();
    let mut out = [0.0; 3];
    est.predict_into(Some("q 99"), &TaskKind::Chat, &mut out).unwrap();
    assert!(out[0] > 0.8 && out[1] < 0.2, "{out:?}");
    assert!(out[2] > 0.5, "{out:?}");
    // Missing outcomes survive a save and load.
    let back = LearnedEstimator::from_json(&est.to_json().unwrap()).unwrap();
    let mut again = [0.0; 3];
    back.predict_into(Some("q 99"), &TaskKind::Chat, &mut again)
        .unwrap();
    assert_eq!(out, again);
}

#[test]
fn predict_into_refuses_a_buffer_of_the_wrong_length() {
    let est = LearnedEstimator::train(&synthetic(40, 0), &TrainConfig::new(Learner::Prior)).unwrap();
    for len in [0, 1, 3] {
        let mut out = vec![-1.0; len];
        assert!(matches!(
            est.predict_into(Some("x"), &TaskKind::Chat, &mut out),
            Err(LearnError::OutputLength { found, expected: 2 }) if found == len
        ));
        assert!(out.iter().all(|&v| v == -1.0), "nothing written");
    }
}

#[test]
fn estimator_fallbacks_and_router_use() {
    let train = synthetic(150, 0);
    let est = LearnedEstimator::train(&train, &TrainConfig::new(Learner::LogReg)).unwrap();
    let weak = ModelSpec::new("weak", "p", Prices::new(0.1, 0.1), 100_000);
    let strong = ModelSpec::new("strong", "p", Prices::new(10.0, 10.0), 100_000);
    let stranger = ModelSpec::new("stranger", "p", Prices::new(1.0, 1.0), 100_000);
    let known_stranger = stranger.clone().with_quality(TaskKind::Chat, 0.42);
    let no_text = TaskSpec::new(TaskKind::Chat, 10);
    assert_eq!(est.estimate(&no_text, &weak), est.prior(&TaskKind::Chat, 0));
    assert_eq!(est.estimate(&no_text, &stranger), None);
    assert_eq!(est.estimate(&no_text, &known_stranger), Some(0.42));
    let unseen_kind = TaskSpec::new(TaskKind::Custom("legal".into()), 10).with_text("");
    let q = est.estimate(&unseen_kind, &weak).unwrap();
    assert!((0.0..=1.0).contains(&q));
    let big = TaskSpec::new(TaskKind::Chat, 10).with_text("ж".repeat(1 << 20));
    assert!(est.estimate(&big, &strong).is_some());
    // estimate_all agrees with estimate, in any model order
    let task = TaskSpec::new(TaskKind::Chat, 10).with_text("tell me a cat fact 3");
    let models = [strong.clone(), known_stranger.clone(), weak.clone()];
    let mut out = [None; 3];
    est.estimate_all(&task, &models, &mut out);
    for (m, o) in models.iter().zip(out) {
        assert_eq!(est.estimate(&task, m), o);
    }
    let router = crate::Router::builder()
        .models([weak, strong])
        .quality_estimator(est)
        .policy(crate::CostFirst::new(0.6).unwrap())
        .build()
        .unwrap();
    let hard = TaskSpec::new(TaskKind::Chat, 10)
        .with_text("prove the lemma 5 on compact manifolds with boundary, rigorously");
    assert_eq!(
        router.route(&task).unwrap().primary_model().unwrap().as_str(),
        "weak"
    );
    assert_eq!(
        router.route(&hard).unwrap().primary_model().unwrap().as_str(),
        "strong"
    );
}

#[test]
fn shared_prefixes_are_learned_and_stripped() {
    let prefix = "Here are examples. Q: 1+1? A: 2. Q: 2+2? A: 4. Q: 3+3? A: 6. Q: 4+4? A: 8.\n";
    let mut t = TrainingSet::new(["m"]).unwrap();
    for (i, q) in ["Q: 5+5?", "Q: 6+6?", "Q: 7+7?"].iter().enumerate() {
        t.push(
            format!("{prefix}{q}"),
            TaskKind::Math,
            &[Some((i % 2) as f64)],
            &[],
        )
        .unwrap();
    }
    t.push("short", TaskKind::Chat, &[Some(1.0)], &[]).unwrap();
    t.push("shorter", TaskKind::Chat, &[Some(1.0)], &[]).unwrap();
    let p = common_prefixes(&t);
    assert_eq!(p, vec![(TaskKind::Math, format!("{prefix}Q: "))]);
    assert_eq!(
        strip_prefix(&p, &TaskKind::Math, &format!("{prefix}Q: 9+9?")),
        "9+9?"
    );
    assert_eq!(strip_prefix(&p, &TaskKind::Chat, "Q: 9+9?"), "Q: 9+9?");
    assert_eq!(strip_prefix(&p, &TaskKind::Math, "other"), "other");
    let with_umlaut = format!("{}üa", "x".repeat(70));
    let mut t = TrainingSet::new(["m"]).unwrap();
    t.push(with_umlaut.clone(), TaskKind::Chat, &[Some(1.0)], &[])
        .unwrap();
    t.push(format!("{}üb", "x".repeat(70)), TaskKind::Chat, &[Some(1.0)], &[])
        .unwrap();
    t.push(
        format!("{}\u{00fd}", "x".repeat(70)),
        TaskKind::Chat,
        &[Some(1.0)],
        &[],
    )
    .unwrap();
    // "ü" and "ý" share their first UTF-8 byte: the prefix is cut back to a char boundary.
    assert_eq!(common_prefixes(&t), vec![(TaskKind::Chat, "x".repeat(70))]);
}

#[test]
fn text_free_training_uses_kind_and_length() {
    // No texts: "weak" is right on short prompts only.
    let mut t = TrainingSet::new(["weak", "strong"]).unwrap();
    for i in 0..200u32 {
        let tokens = 20 + (i % 10) * 200;
        let weak = if tokens < 1000 { 1.0 } else { 0.0 };
        t.push_with_tokens("", TaskKind::Reasoning, tokens, &[Some(weak), Some(1.0)], &[])
            .unwrap();
    }
    let est = LearnedEstimator::train(&t, &TrainConfig::new(Learner::LogReg).with_shrink(0.0)).unwrap();
    let weak = ModelSpec::new("weak", "p", Prices::new(0.1, 0.1), 100_000);
    let short = TaskSpec::new(TaskKind::Reasoning, 30);
    let long = TaskSpec::new(TaskKind::Reasoning, 1_900);
    let (qs, ql) = (
        est.estimate(&short, &weak).unwrap(),
        est.estimate(&long, &weak).unwrap(),
    );
    assert!(qs > ql + 0.2, "short {qs} long {ql}");
    // With texts in training, a text-less task gets the prior instead.
    let with_text = synthetic(60, 0);
    let e2 = LearnedEstimator::train(&with_text, &TrainConfig::new(Learner::LogReg)).unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 30);
    let m = ModelSpec::new("weak", "p", Prices::new(0.1, 0.1), 100_000);
    assert_eq!(e2.estimate(&task, &m), e2.prior(&TaskKind::Chat, 0));
}

#[test]
fn bad_settings_are_refused() {
    let t = synthetic(10, 0);
    for cfg in [
        TrainConfig::new(Learner::LogReg).with_epochs(0),
        TrainConfig::new(Learner::LogReg).with_shrink(1.5),
        TrainConfig::new(Learner::LogReg).with_l2(f64::NAN),
        TrainConfig::new(Learner::Knn).with_k(0),
    ] {
        assert!(matches!(
            LearnedEstimator::train(&t, &cfg),
            Err(LearnError::InvalidConfig { .. })
        ));
    }
    let empty = TrainingSet::new(["a"]).unwrap();
    assert!(matches!(
        LearnedEstimator::train(&empty, &TrainConfig::new(Learner::LogReg)),
        Err(LearnError::EmptyTrainingSet)
    ));
}

#[test]
fn the_per_thread_feature_cache_never_serves_another_estimators_or_prompts_features() {
    // Two estimators with different feature spaces, asked in turn about the same prompts on
    // one thread, must answer as each does alone on a fresh thread.
    let train = synthetic(200, 0);
    let small = LearnedEstimator::train(
        &train,
        &TrainConfig::new(Learner::LogReg).with_features(FeatureConfig::default().with_hash_bits(8)),
    )
    .unwrap();
    let large = LearnedEstimator::train(&train, &TrainConfig::new(Learner::LogReg)).unwrap();
    let texts = ["prove the lemma 9 on compact manifolds", "tell me a cat fact 10"];
    let alone = |est: &LearnedEstimator, text: &'static str| {
        let est = est.clone();
        std::thread::spawn(move || {
            let mut out = [0.0; 2];
            est.predict_into(Some(text), &TaskKind::Chat, &mut out).unwrap();
            out
        })
        .join()
        .unwrap()
    };
    for round in 0..2 {
        for text in texts {
            for est in [&small, &large] {
                let mut out = [0.0; 2];
                est.predict_into(Some(text), &TaskKind::Chat, &mut out).unwrap();
                assert_eq!(out, alone(est, text), "round {round}, {text}");
            }
        }
    }
    // The same text of another kind is another prompt too.
    let mut chat = [0.0; 2];
    let mut reasoning = [0.0; 2];
    large
        .predict_into(Some(texts[0]), &TaskKind::Chat, &mut chat)
        .unwrap();
    large
        .predict_into(Some(texts[0]), &TaskKind::Reasoning, &mut reasoning)
        .unwrap();
    let fresh = large.clone();
    let want = std::thread::spawn(move || {
        let mut out = [0.0; 2];
        fresh
            .predict_into(
                Some("prove the lemma 9 on compact manifolds"),
                &TaskKind::Reasoning,
                &mut out,
            )
            .unwrap();
        out
    })
    .join()
    .unwrap();
    assert_eq!(reasoning, want);
}
