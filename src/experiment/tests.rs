use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::*;
use crate::estimate::quality_fn;
use crate::model::{ModelSpec, Prices};
use crate::router::Router;
use crate::score::{CostFirst, QualityFirst};
use crate::task::{TaskKind, TaskSpec};

fn two(share_a: f64, share_b: f64) -> Experiment {
    Experiment::builder("exp")
        .model("a", "cheap", share_a)
        .model("b", "strong", share_b)
        .build()
        .unwrap()
}

/// A uniform draw in [0, 1) from (seed, i), for the simulations below.
fn uniform(seed: u64, i: u64) -> f64 {
    (xxh3_64_with_seed(&i.to_le_bytes(), seed) >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn assignment_is_sticky_and_follows_the_shares() {
    let e = two(0.2, 0.8);
    let n = 100_000;
    let in_a = (0..n).filter(|i| e.assign(&format!("user-{i}")) == 0).count();
    let share = in_a as f64 / n as f64;
    assert!((share - 0.2).abs() < 0.01, "share of variant a: {share}");
    for i in 0..1000 {
        let k = format!("user-{i}");
        assert_eq!(e.assign(&k), e.assign(&k));
        assert_eq!(e.assign(&k), e.clone().assign(&k));
    }
    assert!((e.variants()[0].share - 0.2).abs() < 1e-12);
}

#[test]
fn experiments_with_different_names_assign_independently() {
    let a = two(0.5, 0.5);
    let b = Experiment::builder("another")
        .model("a", "cheap", 0.5)
        .model("b", "strong", 0.5)
        .build()
        .unwrap();
    let n = 20_000;
    let same = (0..n)
        .filter(|i| {
            let k = format!("k{i}");
            a.assign(&k) == b.assign(&k)
        })
        .count() as f64
        / n as f64;
    assert!((same - 0.5).abs() < 0.02, "agreement {same}");
}

fn router(policy: impl Policy + 'static) -> Router {
    let models = vec![
        ModelSpec::new("cheap", "p", Prices::new(0.1, 0.4), 100_000),
        ModelSpec::new("strong", "p", Prices::new(3.0, 15.0), 100_000),
    ];
    let q = quality_fn(|_, m: &ModelSpec| Some(if m.id.as_str() == "strong" { 0.9 } else { 0.7 }));
    Router::builder()
        .models(models)
        .quality_estimator(q)
        .policy(policy)
        .build()
        .unwrap()
}

#[test]
fn each_variant_routes_as_its_own_policy_would() {
    let e = Experiment::builder("exp")
        .policy("cheap-enough", CostFirst::new(0.6).unwrap(), 1.0)
        .policy("best", QualityFirst::new(1.0).unwrap(), 1.0)
        .model("fixed", "cheap", 1.0)
        .build()
        .unwrap();
    let r = router(e.clone());
    let mut seen = [0; 3];
    for i in 0..300 {
        let task = TaskSpec::new(TaskKind::Chat, 500).with_caller_key(format!("u{i}"));
        let v = e.variant_for(&task);
        seen[v] += 1;
        let d = r.route(&task).unwrap();
        let expected = match v {
            0 => "cheap",
            1 => "strong",
            _ => "cheap",
        };
        assert_eq!(d.primary_model().unwrap().as_str(), expected, "variant {v}");
        if v == 2 {
            assert!(
                d.fallbacks().next().is_none(),
                "a fixed-model variant has no fallbacks"
            );
        } else {
            assert_eq!(d.fallbacks().count(), 1);
        }
    }
    assert!(seen.iter().all(|&s| s > 50), "{seen:?}");
    // No key: the control (variant 0).
    let task = TaskSpec::new(TaskKind::Chat, 500);
    assert_eq!(e.variant_for(&task), 0);
    assert_eq!(r.route(&task).unwrap().primary_model().unwrap().as_str(), "cheap");
}

#[test]
fn builder_refuses_bad_experiments() {
    let one = Experiment::builder("x").model("a", "m", 1.0).build();
    assert_eq!(one.unwrap_err(), ExperimentError::TooFewVariants { got: 1 });
    let dup = Experiment::builder("x")
        .model("a", "m", 1.0)
        .model("a", "n", 1.0)
        .build();
    assert!(matches!(dup, Err(ExperimentError::DuplicateVariant { .. })));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = Experiment::builder("x")
            .model("a", "m", 1.0)
            .model("b", "n", bad)
            .build();
        assert!(matches!(e, Err(ExperimentError::BadShare { .. })), "{bad}");
    }
}

#[test]
fn sequential_test_refuses_bad_input() {
    assert!(SequentialTest::new(1, 0.95).is_err());
    for c in [0.0, 1.0, f64::NAN, 1.5] {
        assert!(matches!(
            SequentialTest::new(2, c),
            Err(ExperimentError::BadConfidence { .. })
        ));
    }
    let mut t = SequentialTest::new(2, 0.95).unwrap();
    assert!(matches!(
        t.record(2, 1.0),
        Err(ExperimentError::UnknownVariant { .. })
    ));
    assert!(matches!(t.record(0, 1.5), Err(ExperimentError::BadReward { .. })));
    assert!(matches!(
        t.record(0, f64::NAN),
        Err(ExperimentError::BadReward { .. })
    ));
    assert_eq!(t.observations(), 0);
}

/// Runs a two-variant Bernoulli A/B with a 50/50 split until the rule stops or `horizon`.
fn simulate(p: [f64; 2], confidence: f64, seed: u64, horizon: u64) -> Conclusion {
    let mut t = SequentialTest::new(2, confidence).unwrap();
    for i in 0..horizon {
        let v = (uniform(seed ^ 0xA5A5, i) < 0.5) as usize;
        let reward = (uniform(seed, i) < p[v]) as u8 as f64;
        t.record(v, reward).unwrap();
        if let c @ Conclusion::Winner { .. } = t.conclusion() {
            return c;
        }
    }
    Conclusion::Undecided
}

#[test]
fn equal_variants_are_declared_different_at_most_delta_of_the_time() {
    // The δ-correctness promise: under the null, stopping at all is an error. A fixed-horizon
    // chi-square threshold read after every observation (z > 3.84 / 2) stops in most runs here.
    let runs = 200;
    let false_stops = (0..runs)
        .filter(|&s| matches!(simulate([0.5, 0.5], 0.9, s, 3_000), Conclusion::Winner { .. }))
        .count();
    assert!(
        false_stops as f64 <= 0.1 * runs as f64,
        "{false_stops} of {runs} runs stopped"
    );
}

#[test]
fn a_clearly_better_variant_wins() {
    let mut wrong = 0;
    for s in 0..100 {
        match simulate([0.5, 0.7], 0.95, s, 20_000) {
            Conclusion::Winner {
                variant: 1,
                observations,
            } => assert!(observations < 2_000),
            Conclusion::Winner { .. } => wrong += 1,
            c => panic!("seed {s}: {c:?}"),
        }
    }
    assert!(wrong <= 5, "{wrong} wrong picks in 100");
}
