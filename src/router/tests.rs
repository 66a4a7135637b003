//! Unit tests of the router.

use super::*;
use crate::{
    Capabilities, Capability, LatencyProfile, Limits, Prices, QualityFirst, Scorer, ScorerPolicy, TaskKind,
    TaskSpec, Weighted, latency_fn, quality_fn,
};

/// Models with and without latency profiles, priors, tags and tools; some listed.
fn models() -> Vec<ModelSpec> {
    (0..40u32)
        .map(|i| {
            let a = f64::from(i * 37 % 41) / 40.0;
            let mut m = ModelSpec::new(
                format!("m{i}"),
                "p",
                Prices::new(0.1 + 9.0 * a, 0.3 + 30.0 * a),
                32_000,
            )
            .with_max_output_tokens(if i % 9 == 4 { 500 } else { 8_000 });
            if i % 3 != 0 {
                m = m.with_latency(LatencyProfile::new(100.0 + 900.0 * a, 30.0 + f64::from(i)));
            }
            if i % 4 != 1 {
                m = m.with_quality(TaskKind::Planning, 0.3 + 0.6 * a);
            }
            if i % 5 == 2 {
                m = m.with_default_quality(0.5);
            }
            if i % 7 != 3 {
                m = m.with_capabilities(Capabilities::of(&[Capability::Tools]));
            }
            if i % 2 == 0 {
                m = m.with_tag("eu");
            }
            m
        })
        .collect()
}

/// Tasks that some of [`models`] fail for every reason: tools, tags, limits, custom kinds.
fn tasks() -> [TaskSpec; 3] {
    [
        TaskSpec::new(TaskKind::Planning, 3_000).with_output_tokens(900),
        TaskSpec::new(TaskKind::Math, 3_000)
            .with_cached_input_tokens(1_000)
            .require(Capability::Tools)
            .with_limits(Limits::NONE.with_max_cost_usd(0.05).with_max_latency_ms(20_000.0)),
        TaskSpec::new(TaskKind::from_name("legal"), 100).require_tag("eu"),
    ]
}

#[test]
fn the_table_gives_the_decisions_the_estimators_give() {
    let tasks = tasks();
    let policies: [Arc<dyn Policy>; 3] = [
        Arc::new(CostFirst::new(0.6).unwrap()),
        Arc::new(QualityFirst::new(0.04).unwrap()),
        Arc::new(Weighted::with_weights(1.0, 10.0, 0.1).unwrap()),
    ];
    let profile = ProfileLatency::with_fallback(LatencyProfile::new(400.0, 50.0));
    for policy in policies {
        // Built-in estimators (their prepared columns) against the same estimators asked
        // model by model through closures (which prepare nothing).
        let fast = Router::builder()
            .models(models())
            .shared_policy(Arc::clone(&policy))
            .deny(["m5"])
            .allow((0..38).map(|i| format!("m{i}")))
            .max_output_price(25.0)
            .latency_estimator(ProfileLatency::with_fallback(LatencyProfile::new(400.0, 50.0)))
            .build()
            .unwrap();
        assert!(fast.prepared_quality.is_some() && fast.prepared_latency.is_some());
        let slow = Router::builder()
            .models(models())
            .shared_policy(policy)
            .deny(["m5"])
            .allow((0..38).map(|i| format!("m{i}")))
            .max_output_price(25.0)
            .quality_estimator(quality_fn(|t, m| PriorQuality.estimate(t, m)))
            .latency_estimator(latency_fn(move |t, m| profile.latency_ms(t, m)))
            .build()
            .unwrap();
        assert!(slow.prepared_quality.is_none() && slow.prepared_latency.is_none());
        for task in &tasks {
            let (mut a, mut b) = (Decision::new(), Decision::new());
            let ra = fast.route_into(task, &mut a).map_err(|e| e.to_string());
            let rb = slow.route_into(task, &mut b).map_err(|e| e.to_string());
            assert_eq!(ra, rb);
            // Compared as text: a candidate without a quality estimate holds NaN.
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert!(
                a.rejected().count() > 0 && !a.ranking.is_empty(),
                "{}",
                a.explain()
            );
        }
    }
}

#[test]
fn the_single_pass_gives_the_decisions_of_the_three_passes() {
    // The built-in policies score in the router's pass (`Policy::score_each`); the same
    // scorers wrapped in `policy_fn` (which keeps the default `score_each`) go through the
    // separate policy and rank passes.
    let mut tasks = tasks().to_vec();
    tasks.push(TaskSpec::new(TaskKind::Chat, 31_000).with_output_tokens(600));
    let scorers: [Arc<dyn Scorer>; 3] = [
        Arc::new(CostFirst::new(0.6).unwrap()),
        Arc::new(QualityFirst::new(0.04).unwrap()),
        Arc::new(Weighted::with_weights(1.0, 10.0, 0.1).unwrap()),
    ];
    for scorer in scorers {
        for depth in [1, 3, 8, rank::SMALL_DEPTH, rank::SMALL_DEPTH + 1, usize::MAX] {
            let build = |policy: Arc<dyn Policy>| {
                Router::builder()
                    .models(models())
                    .shared_policy(policy)
                    .deny(["m5"])
                    .max_input_price(8.0)
                    .ranking_depth(depth)
                    .build()
                    .unwrap()
            };
            let s = Arc::clone(&scorer);
            let one = build(Arc::new(ScorerPolicy(Arc::clone(&scorer))));
            let three = build(Arc::new(crate::policy_fn("three", move |t, c| {
                crate::rank_with_scorer(&*s, t, c)
            })));
            for task in &tasks {
                let (mut a, mut b) = (Decision::new(), Decision::new());
                for _ in 0..2 {
                    let ra = one.route_into(task, &mut a).map_err(|e| e.to_string());
                    let rb = three.route_into(task, &mut b).map_err(|e| e.to_string());
                    assert_eq!(ra.is_ok(), rb.is_ok());
                    b.policy = a.policy.clone();
                    // Compared as text: a candidate without a quality estimate holds NaN.
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "depth {depth}");
                }
                assert!(a.rejected().count() > 0, "{}", a.explain());
            }
        }
    }
}

#[test]
fn a_quality_column_of_the_wrong_length_is_not_read() {
    // A prepared estimator whose column is one model short: the router asks
    // `estimate_all` instead (reading the column would index past its end).
    struct Short(Box<[Option<f64>]>);
    impl PreparedQuality for Short {
        fn estimate_all(&self, _: &dyn Task, _: &[ModelSpec], out: &mut [Option<f64>]) {
            out.fill(Some(0.9));
        }
        fn column(&self, _: &dyn Task) -> Option<&[Option<f64>]> {
            Some(&self.0)
        }
    }
    struct Est;
    impl QualityEstimator for Est {
        fn estimate(&self, _: &dyn Task, _: &ModelSpec) -> Option<f64> {
            Some(0.9)
        }
        fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
            Some(Box::new(Short(vec![Some(0.1); models.len() - 1].into())))
        }
    }
    let router = Router::builder()
        .models(models())
        .quality_estimator(Est)
        .build()
        .unwrap();
    let d = router.route(&TaskSpec::new(TaskKind::Chat, 100)).unwrap();
    assert!(
        d.candidates
            .iter()
            .all(|c| c.estimate.is_none_or(|e| e.quality == 0.9))
    );
}

#[test]
fn a_decision_reused_with_another_router_of_the_same_size_names_its_models() {
    let router = |prefix: &str| {
        Router::builder()
            .models((0..4).map(|i| {
                ModelSpec::new(format!("{prefix}{i}"), "p", Prices::new(1.0, 1.0), 32_000)
                    .with_default_quality(0.9)
            }))
            .build()
            .unwrap()
    };
    let (a, b) = (router("a"), router("b"));
    let task = TaskSpec::new(TaskKind::Chat, 100);
    let mut d = Decision::new();
    a.route_into(&task, &mut d).unwrap();
    b.route_into(&task, &mut d).unwrap();
    assert_eq!(d, b.route(&task).unwrap());
    let ids: Vec<&str> = d.candidates.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(ids, ["b0", "b1", "b2", "b3"]);
}

#[test]
fn a_reused_decision_whose_entries_were_changed_names_its_models_again() {
    let router = Router::builder().models(models()).build().unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 100);
    let ids = |d: &Decision| {
        d.candidates()
            .iter()
            .map(|c| c.model.to_string())
            .collect::<Vec<_>>()
    };
    let want = ids(&router.route(&task).unwrap());
    let mut d = Decision::new();
    router.route_into(&task, &mut d).unwrap();
    // Changed through the decision: the next decision reads every entry's model again.
    d.candidates_mut()[1].model = ModelId::new("renamed");
    router.route_into(&task, &mut d).unwrap();
    assert_eq!(ids(&d), want);
    // Changed by a custom policy's `rank`: the same.
    let renaming = crate::policy_fn("renaming", |_: &dyn Task, cs: &mut [Candidate]| {
        for c in cs.iter_mut() {
            c.model = ModelId::new("renamed");
            c.verdict = Verdict::Scored(crate::Score::new(1.0));
        }
    });
    router.route_with(&task, &renaming, &mut d).unwrap();
    assert!(d.candidates().iter().all(|c| c.model.as_str() == "renamed"));
    router.route_into(&task, &mut d).unwrap();
    assert_eq!(ids(&d), want);
}
