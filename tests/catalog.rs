//! Catalog freshness: retirements in the router (this file), and the LiteLLM import with its
//! price fidelity (below, feature `catalog`).

use taskroute::{Date, ModelSpec, Prices, Rejection, Router, TaskKind, TaskSpec, Verdict};

fn model(id: &str, input: f64, retires: Option<&str>) -> ModelSpec {
    let m = ModelSpec::new(id, "p", Prices::new(input, input), 100_000).with_default_quality(0.9);
    match retires {
        Some(d) => m.with_retirement(d.parse().unwrap()),
        None => m,
    }
}

#[test]
fn retired_models_are_rejected_with_their_date_only_when_asked() {
    let models = [
        model("cheap-retired", 0.1, Some("2026-11-30")),
        model("retires-today", 0.2, Some("2026-12-02")),
        model("retires-later", 0.3, Some("2027-01-14")),
        model("dear", 5.0, None),
    ];
    let task = TaskSpec::new(TaskKind::Chat, 1_000);
    // Without a date the router keeps every model: the cheapest (retired) one wins.
    let plain = Router::builder().models(models.clone()).build().unwrap();
    assert_eq!(
        plain.route(&task).unwrap().primary_model().unwrap().as_str(),
        "cheap-retired"
    );

    let today: Date = "2026-12-02".parse().unwrap();
    let router = Router::builder()
        .models(models)
        .exclude_retired(today)
        .build()
        .unwrap();
    let d = router.route(&task).unwrap();
    assert_eq!(d.primary_model().unwrap().as_str(), "retires-later");
    let rejected = |id: &str| {
        d.candidates
            .iter()
            .find(|c| c.model.as_str() == id)
            .and_then(|c| match &c.verdict {
                Verdict::Rejected(r) => Some(r.clone()),
                _ => None,
            })
    };
    assert_eq!(
        rejected("cheap-retired"),
        Some(Rejection::Retired {
            on: "2026-11-30".parse().unwrap()
        })
    );
    // A model retiring today is retired today.
    assert_eq!(rejected("retires-today"), Some(Rejection::Retired { on: today }));
    assert_eq!(rejected("retires-later"), None);
    assert!(d.explain().to_string().contains("retired on 2026-11-30"));
}

#[cfg(feature = "catalog")]
#[test]
fn retirement_warnings_cover_retired_and_the_next_30_days_soonest_first() {
    let catalog = taskroute::Catalog::from_json_str(
        r#"{"models": [
        {"id": "later", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "retires": "2027-06-01"},
        {"id": "soon", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "retires": "2027-01-01"},
        {"id": "gone", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "retires": "2026-11-30"},
        {"id": "edge", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "retires": "2027-01-02"},
        {"id": "never", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5}
    ]}"#,
    )
    .unwrap();
    let today: Date = "2026-12-03".parse().unwrap();
    assert_eq!(
        catalog.retirement_warnings(today, 30),
        [
            "warning: gone was retired on 2026-11-30",
            "warning: soon retires in 29 days (2027-01-01)",
            "warning: edge retires in 30 days (2027-01-02)",
        ]
    );
    let bad = r#"{"models": [{"id": "x", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "retires": "2026-02-30"}]}"#;
    let e = taskroute::Catalog::from_json_str(bad).unwrap_err().to_string();
    assert!(
        e.contains("models[0].retires") && e.contains("not a day of the calendar"),
        "{e}"
    );
}
