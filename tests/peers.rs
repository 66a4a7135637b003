//! taskroute and `model-router` 1.0.0 on the side-by-side case of issue 17
//! (`benches/support/peers_shape.rs`).
//!
//! model-router's tier-aware pick (`select_by_complexity`) is the best quality per dollar at or
//! above the tier, not the cheapest model. On the issue's cases the two coincide, and both crates
//! pick the same model (checked with `CostFirst` and with model-router's rule as a taskroute
//! policy); a small case where the rules part is checked too.

#[path = "../benches/support/peers_shape.rs"]
mod shape;

use taskroute::{Decision, Router};

fn primary(router: &Router) -> Option<String> {
    let mut d = Decision::new();
    router.route_into(&shape::task(), &mut d).unwrap();
    d.primary_model().map(|m| m.to_string())
}

/// The issue's check: on every case, model-router's pick, taskroute's `CostFirst` at the same
/// floor, and model-router's rule as a taskroute policy all name the same model, and it is the
/// cheapest one at or above the floor (a plain scan).
#[test]
fn both_crates_pick_the_same_model_in_every_case() {
    for (n, floor) in shape::CASES {
        let models = shape::synthetic(n);
        let theirs = shape::model_router(&models);
        let pick = theirs.select_by_complexity(shape::complexity(floor));
        // Never one of model-router's own built-in entries (tier 0 here).
        assert!(pick.is_some_and(|p| models.iter().any(|m| m.id == p)), "{pick:?}");
        let cheapest = models
            .iter()
            .filter(|m| m.tier >= floor)
            .min_by(|a, b| (a.input + a.output).total_cmp(&(b.input + b.output)))
            .map(|m| m.id.as_str());
        let case = format!("{n} models, floor tier {floor}");
        assert_eq!(
            primary(&shape::router(&models, shape::cost_first(floor))).as_deref(),
            pick,
            "{case}"
        );
        assert_eq!(
            primary(&shape::router(&models, shape::per_dollar(floor))).as_deref(),
            pick,
            "{case}"
        );
        assert_eq!(cheapest, pick, "{case}");
    }
}

/// The agreement above is a property of the synthetic price lists (a tier costs about 3× the
/// one below, so the cheapest model at the floor also gives the most tiers per dollar), not of
/// the two rules: where a higher tier costs little more, model-router picks it and `CostFirst`
/// does not, and model-router's rule as a taskroute policy follows model-router.
#[test]
fn the_rules_differ_where_a_higher_tier_costs_little_more() {
    let models = [
        shape::Synthetic {
            id: "a-tier3".into(),
            tier: 3,
            input: 1.0,
            output: 4.0,
            window: 32_000,
        },
        shape::Synthetic {
            id: "b-tier5".into(),
            tier: 5,
            input: 1.2,
            output: 4.8,
            window: 32_000,
        },
    ];
    let theirs = shape::model_router(&models);
    assert_eq!(theirs.select_by_complexity(shape::complexity(3)), Some("b-tier5"));
    assert_eq!(
        primary(&shape::router(&models, shape::per_dollar(3))).as_deref(),
        Some("b-tier5")
    );
    assert_eq!(
        primary(&shape::router(&models, shape::cost_first(3))).as_deref(),
        Some("a-tier3")
    );
}

#[test]
fn the_synthetic_models_have_the_issues_shape() {
    let models = shape::synthetic(1024);
    assert_eq!(models.len(), 1024);
    for t in 1..=5u8 {
        let count = models.iter().filter(|m| m.tier == t).count();
        assert!((150..=260).contains(&count), "tier {t}: {count}");
    }
    let base = [0.10, 0.30, 1.0, 3.0, 10.0];
    for m in &models {
        let b = base[usize::from(m.tier - 1)];
        assert!((0.5 * b..=2.0 * b).contains(&m.input), "{m:?}");
        assert!((2.0 * m.input..=5.0 * m.input).contains(&m.output), "{m:?}");
        assert!(
            [0, 1, 2, 3, 4, 5].iter().any(|k| m.window == 32_000 << k),
            "{m:?}"
        );
    }
    // Tiers overlap in price: some tier-2 model is dearer than some tier-3 model.
    let max2 = models
        .iter()
        .filter(|m| m.tier == 2)
        .map(|m| m.input)
        .fold(0.0, f64::max);
    let min3 = models
        .iter()
        .filter(|m| m.tier == 3)
        .map(|m| m.input)
        .fold(f64::MAX, f64::min);
    assert!(max2 > min3);
    // Same seed, same models.
    assert_eq!(
        format!("{:?}", shape::synthetic(16)),
        format!("{:?}", shape::synthetic(16))
    );
}
