//! Integration tests of the routing core through its public API: each filter and its
//! rejection, allow/deny lists, the health hook, custom filters, policies and scorers,
//! decisions as data (serde, explanations), thread safety and builder errors.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use taskroute::{
    Candidate, Capabilities, Capability, CostFirst, Decision, Error, Estimate, LatencyProfile, Limits,
    ModelId, ModelSpec, OutputEstimator, Policy, Prices, QualityFirst, Rejection, Router, RouterBuilder,
    Score, ScorerPolicy, Task, TaskKind, TaskSpec, Verdict, Weighted, filter_fn, health_fn, policy_fn,
    quality_fn, scorer_fn,
};

/// Three models: cheap and weak, mid, dear and strong.
fn models() -> Vec<ModelSpec> {
    vec![
        ModelSpec::new("small", "p", Prices::new(0.1, 0.4), 16_000)
            .with_max_output_tokens(4_000)
            .with_capabilities(Capabilities::of(&[Capability::Streaming]))
            .with_latency(LatencyProfile::new(200.0, 200.0))
            .with_quality(TaskKind::Chat, 0.7)
            .with_default_quality(0.5),
        ModelSpec::new("mid", "p", Prices::new(1.0, 4.0), 128_000)
            .with_max_output_tokens(16_000)
            .with_capabilities(Capabilities::of(&[Capability::Tools, Capability::Streaming]))
            .with_tag("region:eu")
            .with_latency(LatencyProfile::new(400.0, 100.0))
            .with_default_quality(0.75),
        ModelSpec::new("large", "p", Prices::new(5.0, 20.0), 200_000)
            .with_max_output_tokens(32_000)
            .with_capabilities(Capabilities::of(&Capability::ALL))
            .with_tag("region:eu")
            .with_tag("region:us")
            .with_latency(LatencyProfile::new(1_000.0, 50.0))
            .with_default_quality(0.9),
    ]
}

fn router() -> Router {
    Router::builder()
        .models(models())
        .policy(CostFirst::new(0.6).unwrap())
        .build()
        .unwrap()
}

fn chat(input: u32) -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, input).with_output_tokens(100)
}

fn ids<'a>(cands: impl Iterator<Item = &'a Candidate>) -> Vec<&'a str> {
    cands.map(|c| c.model.as_str()).collect()
}

fn rejection<'a>(d: &'a Decision, model: &str) -> &'a Rejection {
    d.candidate(model)
        .and_then(Candidate::rejection)
        .unwrap_or_else(|| panic!("{model} not rejected:\n{}", d.explain()))
}

// ---------------------------------------------------------------------------------------------
// Filters, each with its rejection reason
// ---------------------------------------------------------------------------------------------

#[test]
fn eligible_task_ranks_every_model_and_rejects_none() {
    let d = router().route(&chat(1_000)).unwrap();
    // Cost-first: small clears the 0.6 floor on chat (0.7) and is cheapest.
    assert_eq!(ids(d.ranked()), ["small", "mid", "large"]);
    assert_eq!(d.primary_model().unwrap().as_str(), "small");
    assert_eq!(d.rejected().count(), 0);
    assert_eq!(d.policy, "cost-first");
    assert_eq!(d.task_kind, Some(TaskKind::Chat));
}

#[test]
fn context_window_counts_input_plus_output() {
    // 15_950 + 100 = 16_050 > 16_000.
    let d = router().route(&chat(15_950)).unwrap();
    assert_eq!(
        rejection(&d, "small"),
        &Rejection::ContextWindow {
            needed: 16_050,
            window: 16_000
        }
    );
    // 15_900 + 100 fits exactly.
    let d = router().route(&chat(15_900)).unwrap();
    assert_eq!(d.primary_model().unwrap().as_str(), "small");
}

#[test]
fn output_limit() {
    let d = router()
        .route(&TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(5_000))
        .unwrap();
    assert_eq!(
        rejection(&d, "small"),
        &Rejection::MaxOutput {
            needed: 5_000,
            max: 4_000
        }
    );
    assert_eq!(d.primary_model().unwrap().as_str(), "mid");
}

#[test]
fn required_capabilities_name_the_missing_ones() {
    let t = chat(100).require(Capability::Tools).require(Capability::Vision);
    let d = router().route(&t).unwrap();
    assert_eq!(
        rejection(&d, "small"),
        &Rejection::MissingCapabilities {
            missing: Capabilities::of(&[Capability::Tools, Capability::Vision])
        }
    );
    assert_eq!(
        rejection(&d, "mid"),
        &Rejection::MissingCapabilities {
            missing: Capabilities::of(&[Capability::Vision])
        }
    );
    assert_eq!(ids(d.ranked()), ["large"]);
    assert!(
        d.explain()
            .to_string()
            .contains("lacks capabilities: tools, vision")
    );
}

#[test]
fn required_tags() {
    let d = router().route(&chat(100).require_tag("region:us")).unwrap();
    let missing = Rejection::MissingTag {
        tag: "region:us".into(),
    };
    assert_eq!(rejection(&d, "small"), &missing);
    assert_eq!(rejection(&d, "mid"), &missing);
    assert_eq!(ids(d.ranked()), ["large"]);
}

#[test]
fn price_caps_name_the_price() {
    let route_capped =
        |caps: RouterBuilder| caps.models(models()).build().unwrap().route(&chat(100)).unwrap();
    let price_cap = |price: &'static str, usd_per_mtok: f64, cap: f64| Rejection::PriceCap {
        price: Cow::Borrowed(price),
        usd_per_mtok,
        cap,
    };
    let d = route_capped(Router::builder().max_input_price(2.0).max_output_price(4.0));
    assert_eq!(rejection(&d, "large"), &price_cap("input", 5.0, 2.0));
    let d = route_capped(Router::builder().max_output_price(3.0));
    assert_eq!(rejection(&d, "mid"), &price_cap("output", 4.0, 3.0));
    assert_eq!(ids(d.ranked()), ["small"]);
}

#[test]
fn task_cost_and_latency_limits() {
    // large: 1000 * 5 / 1e6 + 100 * 20 / 1e6 = 0.007 USD.
    let t = chat(1_000).with_limits(Limits::NONE.with_max_cost_usd(0.005));
    let d = router().route(&t).unwrap();
    match rejection(&d, "large") {
        Rejection::CostLimit {
            estimated_usd,
            limit_usd,
        } => {
            assert!((estimated_usd - 0.007).abs() < 1e-12);
            assert_eq!(*limit_usd, 0.005);
        }
        other => panic!("{other:?}"),
    }
    // large: 1000 ms + 100 tokens at 50/s = 3000 ms; mid: 400 + 1000 = 1400 ms.
    let t = chat(1_000).with_limits(Limits::NONE.with_max_latency_ms(2_000.0));
    let d = router().route(&t).unwrap();
    assert_eq!(
        rejection(&d, "large"),
        &Rejection::LatencyLimit {
            estimated_ms: 3_000.0,
            limit_ms: 2_000.0
        }
    );
    assert_eq!(ids(d.ranked()), ["small", "mid"]);
}

#[test]
fn quality_estimates_missing_or_out_of_range() {
    let mut bare = ModelSpec::new("bare", "p", Prices::new(0.01, 0.01), 8_000);
    bare.max_output_tokens = 1_000;
    let r = Router::builder()
        .models(models())
        .model_spec(bare)
        .build()
        .unwrap();
    let d = r.route(&chat(100)).unwrap();
    assert_eq!(rejection(&d, "bare"), &Rejection::NoQualityEstimate);
    // An estimator returning a bad value: the candidate is rejected, not ranked.
    let r = r.with_quality_estimator(quality_fn(|_t: &dyn Task, m: &ModelSpec| match m.id.as_str() {
        "small" => Some(f64::NAN),
        "mid" => Some(1.2),
        _ => Some(0.8),
    }));
    let d = r.route(&chat(100)).unwrap();
    assert!(matches!(rejection(&d, "small"), Rejection::BadQualityEstimate { value } if value.is_nan()));
    assert_eq!(
        rejection(&d, "mid"),
        &Rejection::BadQualityEstimate { value: 1.2 }
    );
    assert_eq!(ids(d.ranked()), ["bare", "large"]);
}

#[test]
fn quality_first_ceiling_rejects_dear_models() {
    let r = router().with_policy(QualityFirst::new(0.001).unwrap());
    // mid: 1000 * 1 / 1e6 + 100 * 4 / 1e6 = 0.0014 > 0.001.
    let d = r.route(&chat(1_000)).unwrap();
    assert!(matches!(
        rejection(&d, "mid"),
        Rejection::AboveCostCeiling { ceiling_usd, .. } if *ceiling_usd == 0.001
    ));
    assert_eq!(ids(d.ranked()), ["small"]);
    // Without a ceiling, the best model wins.
    let d = router()
        .with_policy(QualityFirst::unbounded())
        .route(&chat(1_000))
        .unwrap();
    assert_eq!(ids(d.ranked()), ["large", "mid", "small"]);
}

#[test]
fn weighted_trades_quality_for_cost() {
    // chat, 1000 in / 100 out: small 0.7 at $0.00014, mid 0.75 at $0.0014, large 0.9 at $0.007.
    // At 10 points per USD large wins; at 100 per USD: large 0.9 - 0.7 = 0.2 < small 0.686.
    let d = router()
        .with_policy(Weighted::new(10.0).unwrap())
        .route(&chat(1_000))
        .unwrap();
    assert_eq!(d.primary_model().unwrap().as_str(), "large");
    let d = router()
        .with_policy(Weighted::new(100.0).unwrap())
        .route(&chat(1_000))
        .unwrap();
    assert_eq!(d.primary_model().unwrap().as_str(), "small");
}

// ---------------------------------------------------------------------------------------------
// Allow/deny lists, health, custom filters
// ---------------------------------------------------------------------------------------------

#[test]
fn allow_and_deny_lists() {
    let r = Router::builder()
        .models(models())
        .allow(["mid", "large"])
        .deny(["large"])
        .build()
        .unwrap();
    let d = r.route(&chat(100)).unwrap();
    assert_eq!(rejection(&d, "small"), &Rejection::NotAllowed);
    assert_eq!(rejection(&d, "large"), &Rejection::Denied);
    assert_eq!(ids(d.ranked()), ["mid"]);
}

#[test]
fn health_hook_takes_models_out_and_back() {
    let down: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let hook = {
        let down = Arc::clone(&down);
        health_fn(move |m: &ModelId| !down.lock().unwrap().contains(m.as_str()))
    };
    let r = Router::builder().models(models()).health(hook).build().unwrap();
    assert_eq!(
        r.route(&chat(100)).unwrap().primary_model().unwrap().as_str(),
        "small"
    );
    down.lock().unwrap().insert("small".into());
    let d = r.route(&chat(100)).unwrap();
    assert_eq!(rejection(&d, "small"), &Rejection::Unhealthy);
    assert_eq!(d.primary_model().unwrap().as_str(), "mid");
    down.lock().unwrap().clear();
    assert_eq!(
        r.route(&chat(100)).unwrap().primary_model().unwrap().as_str(),
        "small"
    );
    // `with_health` swaps the hook on a copy.
    let all_down = r.with_health(health_fn(|_: &ModelId| false));
    match all_down.route(&chat(100)) {
        Err(Error::NoEligibleModel { rejections, .. }) => {
            assert_eq!(rejections.len(), 3);
            assert!(rejections.iter().all(|(_, r)| *r == Rejection::Unhealthy));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn custom_filter_rejects_with_its_reason_after_the_built_in_ones() {
    let r = Router::builder()
        .models(models())
        .filter(filter_fn(|task: &dyn Task, m: &ModelSpec| {
            if task.input_tokens() > 500 && m.provider == "p" && m.id.as_str() != "large" {
                Err(Rejection::Filter {
                    filter: Cow::Borrowed("long-prompts-to-large"),
                    detail: Cow::Borrowed("long prompts go to the large model"),
                })
            } else {
                Ok(())
            }
        }))
        .build()
        .unwrap();
    assert_eq!(
        r.route(&chat(100)).unwrap().primary_model().unwrap().as_str(),
        "small"
    );
    let d = r.route(&chat(1_000).require(Capability::Tools)).unwrap();
    // A built-in filter (capabilities) is reported before the custom one.
    assert!(matches!(
        rejection(&d, "small"),
        Rejection::MissingCapabilities { .. }
    ));
    assert_eq!(
        rejection(&d, "mid"),
        &Rejection::Filter {
            filter: Cow::Borrowed("long-prompts-to-large"),
            detail: Cow::Borrowed("long prompts go to the large model"),
        }
    );
    assert!(
        d.explain()
            .to_string()
            .contains("filter `long-prompts-to-large`: long prompts go to the large model")
    );
    assert_eq!(ids(d.ranked()), ["large"]);
}

// ---------------------------------------------------------------------------------------------
// Custom policies and scorers
// ---------------------------------------------------------------------------------------------

#[test]
fn whole_set_policy_via_policy_fn() {
    // A RouteLLM-style threshold: long prompts to the strongest eligible model, short ones to
    // the cheapest; everything else a fallback in the opposite order, scored by position.
    let threshold = policy_fn("threshold", |task: &dyn Task, cands: &mut [Candidate]| {
        let strong = task.input_tokens() >= 2_000;
        for c in cands.iter_mut() {
            if let (Verdict::Pending, Some(e)) = (&c.verdict, c.estimate) {
                let v = if strong { e.quality } else { -e.cost_usd };
                c.verdict = Verdict::Scored(Score::new(v));
            }
        }
        // A whole-set rule: never more than two ranked models.
        let mut scored: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].score().is_some()).collect();
        scored.sort_by(|&a, &b| cands[a].score().unwrap().better_first(&cands[b].score().unwrap()));
        for &i in scored.iter().skip(2) {
            cands[i].verdict = Verdict::Rejected(Rejection::Policy {
                detail: Cow::Borrowed("only two candidates are kept"),
            });
        }
    });
    let r = router().with_policy(threshold);
    let d = r.route(&chat(100)).unwrap();
    assert_eq!(d.policy, "threshold");
    assert_eq!(ids(d.ranked()), ["small", "mid"]);
    assert_eq!(
        rejection(&d, "large"),
        &Rejection::Policy {
            detail: Cow::Borrowed("only two candidates are kept")
        }
    );
    let d = r.route(&chat(3_000)).unwrap();
    assert_eq!(ids(d.ranked()), ["large", "mid"]);
}

#[test]
fn a_policy_that_leaves_candidates_unscored_rejects_them() {
    let lazy = policy_fn("lazy", |_t: &dyn Task, cands: &mut [Candidate]| {
        if let Some(c) = cands.iter_mut().find(|c| c.model.as_str() == "mid") {
            c.verdict = Verdict::Scored(Score::new(1.0));
        }
    });
    let d = router().with_policy(lazy).route(&chat(100)).unwrap();
    assert_eq!(ids(d.ranked()), ["mid"]);
    assert!(matches!(rejection(&d, "small"), Rejection::Policy { .. }));
}

#[test]
fn scorer_fn_through_scorer_policy() {
    // Quality per dollar.
    let value = ScorerPolicy(scorer_fn("value", |_t: &dyn Task, e: &Estimate| {
        Ok(Score::new(e.quality / (e.cost_usd + 1e-6)))
    }));
    let d = router().with_policy(value).route(&chat(1_000)).unwrap();
    assert_eq!(d.policy, "value");
    assert_eq!(ids(d.ranked()), ["small", "mid", "large"]);
    // A scorer can reject too.
    let picky = ScorerPolicy(scorer_fn("picky", |_t: &dyn Task, e: &Estimate| {
        if e.latency_ms > 2_000.0 {
            Err(Rejection::Policy {
                detail: Cow::Borrowed("slower than 2 s"),
            })
        } else {
            Ok(Score::new(e.quality))
        }
    }));
    let d = router().with_policy(picky).route(&chat(1_000)).unwrap();
    assert_eq!(ids(d.ranked()), ["mid", "small"]);
    assert!(matches!(rejection(&d, "large"), Rejection::Policy { .. }));
}

#[test]
fn route_with_another_policy_and_evaluate_candidates() {
    let r = router();
    let mut d = Decision::new();
    r.route_with(&chat(1_000), &QualityFirst::unbounded(), &mut d)
        .unwrap();
    assert_eq!(d.primary_model().unwrap().as_str(), "large");
    assert_eq!(d.policy, "quality-first");
    r.evaluate_candidates(&chat(1_000).require(Capability::Tools), &mut d);
    assert!(matches!(d.candidates()[0].verdict, Verdict::Rejected(_)));
    assert_eq!(d.candidates()[1].verdict, Verdict::Pending);
    assert!(d.candidates()[1].estimate.is_some());
    assert!(d.ranking.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Decisions as data
// ---------------------------------------------------------------------------------------------

/// A decision with ranked candidates and every kind of stored value: scores (normal and
/// reserve), estimates, rejections with and without data, borrowed and owned text.
fn rich_decision() -> Decision {
    let r = Router::builder()
        .models(models())
        .deny(["mid"])
        .filter(filter_fn(|_t: &dyn Task, m: &ModelSpec| {
            if m.id.as_str() == "large" {
                Err(Rejection::Filter {
                    filter: Cow::Owned("owned-name".to_owned()),
                    detail: Cow::Borrowed("borrowed detail"),
                })
            } else {
                Ok(())
            }
        }))
        .model_spec(
            ModelSpec::new("reserve", "p", Prices::new(0.0, 0.0), 8_000)
                .with_max_output_tokens(1_000)
                .with_default_quality(0.3),
        )
        .policy(CostFirst::new(0.45).unwrap())
        .build()
        .unwrap();
    r.route(&TaskSpec::new(TaskKind::from_name("legal"), 700).with_output_tokens(90))
        .unwrap()
}

#[test]
fn decision_serde_round_trip_equals_original() {
    let d = rich_decision();
    assert!(d.primary().unwrap().score().is_some());
    assert!(d.fallbacks().any(|c| c.score().unwrap().reserve));
    assert!(d.rejected().count() >= 2);
    let json = serde_json::to_string_pretty(&d).unwrap();
    let back: Decision = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d, "{json}");
    assert_eq!(back.explain().to_string(), d.explain().to_string());
    // It is data another program can read.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["task_kind"], "legal");
    assert_eq!(v["policy"], "cost-first");
    assert_eq!(v["candidates"][1]["verdict"]["rejected"]["reason"], "denied");
}

#[test]
fn decision_with_non_finite_estimates_round_trips() {
    // No quality estimate (NaN quality), an estimator returning NaN, no latency estimate
    // (infinite latency): JSON has no numbers for these, so they are written as strings.
    let r = Router::builder()
        .models(models())
        .model_spec(ModelSpec::new("bare", "p", Prices::new(0.01, 0.01), 8_000).with_max_output_tokens(1_000))
        .quality_estimator(quality_fn(|t: &dyn Task, m: &ModelSpec| match m.id.as_str() {
            "small" => Some(f64::NAN),
            _ => m.quality.get(t.kind()),
        }))
        .latency_estimator(LatencyByName)
        .build()
        .unwrap();
    let d = r.route(&chat(100)).unwrap();
    assert_eq!(rejection(&d, "bare"), &Rejection::NoQualityEstimate);
    assert!(matches!(rejection(&d, "small"), Rejection::BadQualityEstimate { value } if value.is_nan()));
    assert_eq!(
        d.candidate("mid").unwrap().estimate.unwrap().latency_ms,
        f64::INFINITY
    );
    let json = serde_json::to_string(&d).unwrap();
    assert!(json.contains(r#""quality":"NaN""#), "{json}");
    assert!(json.contains(r#""latency_ms":"inf""#), "{json}");
    let back: Decision = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    // `==` is false for NaN; the Debug text shows NaN as NaN.
    assert_eq!(format!("{back:?}"), format!("{d:?}"));
    // Anything else in place of a number is refused.
    let bad = json.replace(r#""latency_ms":"inf""#, r#""latency_ms":"slow""#);
    let err = serde_json::from_str::<Decision>(&bad).unwrap_err().to_string();
    assert!(err.contains(r#"a number, "NaN", "inf" or "-inf""#), "{err}");
}

/// Latency only for the models it knows.
struct LatencyByName;

impl taskroute::LatencyEstimator for LatencyByName {
    fn latency_ms(&self, _task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        (model.id.as_str() != "mid").then_some(500.0)
    }
}

#[test]
fn explain_shows_primary_fallbacks_and_rejections() {
    let d = rich_decision();
    let text = d.explain().to_string();
    let primary = d.primary_model().unwrap().as_str().to_owned();
    assert!(
        text.starts_with(&format!("legal task -> {primary} (policy cost-first)")),
        "{text}"
    );
    assert!(text.contains(&format!("primary  #0  {primary}")), "{text}");
    for (i, c) in d.fallbacks().enumerate() {
        assert!(
            text.contains(&format!("fallback #{:<2} {}", i + 1, c.model)),
            "{text}"
        );
    }
    assert!(text.contains("rejected    mid"), "{text}");
    assert!(text.contains("in the deny list"), "{text}");
    assert!(text.contains("filter `owned-name`: borrowed detail"), "{text}");
    assert!(text.contains("score reserve"), "{text}");
}

#[test]
fn no_eligible_model_lists_every_candidate_and_reason() {
    let t = TaskSpec::new(TaskKind::Summarization, 3_000_000);
    let err = router().route(&t).unwrap_err();
    let Error::NoEligibleModel {
        task_kind,
        rejections,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*task_kind, TaskKind::Summarization);
    let names: Vec<&str> = rejections.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["small", "mid", "large"]);
    assert!(
        rejections
            .iter()
            .all(|(_, r)| matches!(r, Rejection::ContextWindow { .. }))
    );
    let msg = err.to_string();
    for part in [
        "no model can serve this summarization task",
        "small (needs 3000250 tokens, context window is 16000)",
    ] {
        assert!(msg.contains(part), "{msg}");
    }
    // `route_into` keeps the full decision in its buffer.
    let mut d = Decision::new();
    assert!(router().route_into(&t, &mut d).is_err());
    assert_eq!(d.rejected().count(), 3);
    assert!(d.explain().to_string().contains("no eligible model"));
}

// ---------------------------------------------------------------------------------------------
// Thread safety and builder errors
// ---------------------------------------------------------------------------------------------

#[test]
fn router_decision_and_policies_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
    assert_send_sync::<Decision>();
    assert_send_sync::<Arc<dyn Policy>>();
    assert_send_sync::<Error>();
    // And one router really serves several threads.
    let r = router();
    std::thread::scope(|s| {
        for input in [100, 15_950] {
            let r = &r;
            s.spawn(move || assert!(r.route(&chat(input)).is_ok()));
        }
    });
}

#[test]
fn builder_errors_name_the_problem() {
    assert!(matches!(Router::builder().build(), Err(Error::NoModels)));
    let refused = |b: RouterBuilder| b.build().unwrap_err();
    let with_models = || Router::builder().models(models());

    let dup = refused(with_models().model_spec(models().remove(1)));
    assert!(
        matches!(&dup, Error::DuplicateModel { id } if id.as_str() == "mid"),
        "{dup}"
    );

    let unknown = refused(with_models().allow(["small", "gpt-9"]));
    assert!(
        matches!(&unknown, Error::UnknownModel { id } if id.as_str() == "gpt-9"),
        "{unknown}"
    );
    let unknown = refused(with_models().deny(["nope"]));
    assert!(matches!(unknown, Error::UnknownModel { .. }));

    let nan = refused(Router::builder().model(ModelSpec::new("x", "p", Prices::new(f64::NAN, 1.0), 1_000)));
    assert!(nan.to_string().contains("models[x].prices.input"), "{nan}");

    let cap = refused(with_models().max_output_price(-1.0));
    match &cap {
        Error::InvalidValue { field, value, .. } => {
            assert_eq!(field, "max_output_price");
            assert_eq!(value, "-1");
        }
        other => panic!("{other:?}"),
    }
    let cap = refused(with_models().max_input_price(f64::INFINITY));
    assert!(cap.to_string().contains("max_input_price"), "{cap}");
}

#[test]
fn a_decision_reused_across_routers_equals_a_fresh_one() {
    // The router overwrites a reused decision's entries in place only when they are its own
    // models, in order; any other decision is rebuilt.
    let a = router();
    let b = Router::builder()
        .models(models().into_iter().rev())
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    let shared_models = a.with_policy(Weighted::new(10.0).unwrap());
    let t = chat(1_000);
    let mut d = Decision::new();
    for r in [&a, &b, &shared_models, &a, &b] {
        r.route_into(&t, &mut d).unwrap();
        assert_eq!(d, r.route(&t).unwrap());
    }
    // A decision read back from JSON (ids not shared with the router) is rebuilt too.
    let mut d: Decision =
        serde_json::from_str(&serde_json::to_string(&b.route(&t).unwrap()).unwrap()).unwrap();
    a.route_into(&t, &mut d).unwrap();
    assert_eq!(d, a.route(&t).unwrap());
}

#[test]
fn bad_decision_json_is_an_error_never_a_panic() {
    let good = serde_json::to_value(rich_decision()).unwrap();
    let n = good["candidates"].as_array().unwrap().len();
    let ranking = good["ranking"].clone();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::from_value::<Decision>(v).map_err(|e| e.to_string())
    };
    // An index past the candidates, a candidate ranked twice, ranks that disagree.
    let err = with(&|v| v["ranking"][0] = serde_json::json!(n)).unwrap_err();
    assert!(
        err.contains(&format!("but the decision has {n} candidates")),
        "{err}"
    );
    let err = with(&|v| v["ranking"][1] = ranking[0].clone()).unwrap_err();
    assert!(err.contains("a second time"), "{err}");
    let err = with(&|v| v["ranking"].as_array_mut().unwrap().reverse()).unwrap_err();
    assert!(err.contains("its position in the ranking"), "{err}");
    let err = with(&|v| v["candidates"].as_array_mut().unwrap().truncate(1)).unwrap_err();
    assert!(err.contains("candidates"), "{err}");
    assert!(with(&|_| {}).is_ok());
    // Every other one-field corruption either parses into a decision that can be explained,
    // or is refused: none panics.
    let text = good.to_string();
    for cut in 0..text.len() {
        let mut bad = text.clone();
        bad.replace_range(cut..cut + 1, if bad.as_bytes()[cut] == b'1' { "7" } else { "1" });
        for json in [&bad, &text[..cut].to_owned()] {
            if let Ok(d) = serde_json::from_str::<Decision>(json) {
                let _ = d.explain().to_string();
                let _ = (d.primary(), d.fallbacks().count(), d.rejected().count());
            }
        }
    }
}

/// Says "verbose" writes 1,000 output tokens and leaves every other model to the task.
struct VerboseWrites1000;

impl OutputEstimator for VerboseWrites1000 {
    fn output_tokens(&self, _task: &dyn Task, model: &ModelSpec) -> Option<u32> {
        (model.id.as_str() == "verbose").then_some(1_000)
    }
}

#[test]
fn an_output_estimator_sets_each_models_cost() {
    // "verbose" is cheaper per output token, so on the task's 100 tokens it is the cheaper
    // model; at the 1,000 tokens it really writes it is the dearer one. With 2 models (the
    // router's buffers on the stack) and with 1,102 (on the heap).
    for extra in [0usize, 1_100] {
        let models = [
            ModelSpec::new("terse", "p", Prices::new(1.0, 10.0), 32_000).with_default_quality(0.9),
            ModelSpec::new("verbose", "p", Prices::new(1.0, 5.0), 32_000).with_default_quality(0.9),
        ]
        .into_iter()
        .chain((0..extra).map(|i| {
            ModelSpec::new(format!("x{i}"), "p", Prices::new(50.0, 50.0), 32_000).with_default_quality(0.9)
        }));
        let plain = Router::builder()
            .models(models.clone())
            .policy(CostFirst::new(0.5).unwrap())
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(100);
        assert_eq!(
            plain.route(&task).unwrap().primary_model().unwrap().as_str(),
            "verbose"
        );
        let told = Router::builder()
            .models(models)
            .policy(CostFirst::new(0.5).unwrap())
            .output_estimator(VerboseWrites1000)
            .build()
            .unwrap();
        let d = told.route(&task).unwrap();
        assert_eq!(d.primary_model().unwrap().as_str(), "terse");
        let cost = |id: &str| d.candidate(id).and_then(|c| c.estimate).unwrap().cost_usd;
        assert!((cost("verbose") - (100.0 + 5_000.0) / 1e6).abs() < 1e-12);
        assert!(
            (cost("terse") - (100.0 + 1_000.0) / 1e6).abs() < 1e-12,
            "the task's 100 tokens"
        );
    }
}
