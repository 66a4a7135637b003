//! Catalog freshness: retirements in the router (this file), and the LiteLLM import with its
//! price fidelity (below, feature `catalog`).

use taskroute::{Candidate, Date, ModelSpec, Prices, Rejection, Router, TaskKind, TaskSpec};

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
    let rejected = |id: &str| d.candidate(id).and_then(Candidate::rejection).cloned();
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

/// LiteLLM's price map: the trimmed fixture (see tests/fixtures/litellm_prices_trimmed.md).
#[cfg(feature = "catalog")]
mod litellm {
    use proptest::prelude::*;
    use serde_json::{Map, Value};
    use taskroute::prices::TokenCounts;
    use taskroute::{Capability, Catalog, LitellmEntryError, LitellmImport, LitellmOptions};

    const FIXTURE: &str = include_str!("fixtures/litellm_prices_trimmed.json");

    fn import(options: &LitellmOptions) -> LitellmImport {
        Catalog::from_litellm_json(FIXTURE, options).unwrap()
    }

    #[test]
    fn fixture_imports_chat_models_skips_the_rest_and_reports_bad_entries() {
        let all = import(&LitellmOptions::new().as_of("2026-12-02"));
        let raw: Map<String, Value> = serde_json::from_str(FIXTURE).unwrap();
        let chat = raw.values().filter(|v| v["mode"] == "chat").count();
        // Every entry is accounted for exactly once.
        let refused = all
            .problems
            .iter()
            .filter(|p| !matches!(p, LitellmEntryError::ExtraTiers { .. }))
            .count();
        assert_eq!(
            all.catalog.models.len() + all.skipped_not_chat() + refused,
            raw.len()
        );
        assert_eq!(all.skipped_modes.get("embedding"), Some(&1));
        assert_eq!(all.skipped_modes.get("(none)"), Some(&2));
        assert_eq!(all.skipped_modes.get("responses"), Some(&1));
        assert!(
            all.catalog.models.len() + 10 >= chat,
            "{} of {chat}",
            all.catalog.models.len()
        );

        let problem = |key: &str| {
            all.problems
                .iter()
                .find(|p| p.to_string().starts_with(&format!("`{key}`")))
        };
        let p = problem("taskroute-test/malformed-price").unwrap();
        assert!(
            matches!(p, LitellmEntryError::BadValue { field, .. } if field == "input_cost_per_token"),
            "{p}"
        );
        let p = problem("taskroute-test/negative-output").unwrap().to_string();
        assert!(p.contains("output_cost_per_token") && p.contains("-2e-6"), "{p}");
        let p = problem("taskroute-test/bad-date").unwrap().to_string();
        assert!(p.contains("deprecation_date") && p.contains("2026-02-30"), "{p}");
        let p = problem("taskroute-test/fractional-window").unwrap().to_string();
        assert!(p.contains("max_input_tokens"), "{p}");
        assert!(matches!(
            problem("taskroute-test/not-an-object"),
            Some(LitellmEntryError::NotAnObject { .. })
        ));
        assert!(matches!(
            problem("kyma/qwen3.7-flash"),
            Some(LitellmEntryError::ExtraTiers { kept: 32_000, .. })
        ));
        for m in &all.catalog.models {
            m.validate().unwrap();
            assert_eq!(m.as_of.as_deref(), Some("2026-12-02"));
        }
    }

    #[test]
    fn fields_map_to_the_catalog() {
        let c = import(&LitellmOptions::new()).catalog;
        let sonnet = c.get("claude-sonnet-4-5").unwrap();
        assert_eq!(sonnet.provider, "anthropic");
        assert_eq!((sonnet.prices.input, sonnet.prices.output), (3.0, 15.0));
        assert_eq!(sonnet.prices.cached_input(), Some(0.3));
        assert_eq!(sonnet.prices.cache_write_5m(), Some(3.75));
        assert_eq!(sonnet.prices.cache_write_1h(), Some(6.0));
        assert_eq!(
            sonnet
                .prices
                .batch()
                .map(|b| (b.input, b.output, b.cache_write_5m)),
            Some((1.5, 7.5, Some(1.875)))
        );
        assert_eq!(
            (sonnet.context_window, sonnet.max_output_tokens),
            (200_000, 64_000)
        );
        assert_eq!(sonnet.retires, Some("2026-11-30".parse().unwrap()));
        for cap in [
            Capability::Tools,
            Capability::Vision,
            Capability::JsonMode,
            Capability::Reasoning,
            Capability::Streaming,
        ] {
            assert!(sonnet.capabilities.contains(cap), "{cap:?}");
        }
        let pro = c.get("gemini-2.5-pro").unwrap();
        assert_eq!(pro.provider, "google");
        let tier = pro.prices.long_context().unwrap();
        assert_eq!(tier.above_input_tokens, 200_000);
        assert_eq!(
            (tier.rates.input, tier.rates.output, tier.rates.cached_input),
            (2.5, 15.0, Some(0.25))
        );
        assert_eq!(tier.batch.map(|b| (b.input, b.output)), Some((1.25, 7.5)));
        let gpt = c.get("gpt-5.4").unwrap();
        assert_eq!(gpt.prices.long_context().unwrap().above_input_tokens, 272_000);
        assert!(
            !gpt.capabilities.contains(Capability::Streaming) || gpt.capabilities.contains(Capability::Tools)
        );
        let bedrock = c
            .get("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0")
            .unwrap();
        assert_eq!(bedrock.api_name(), "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert_eq!(bedrock.provider, "bedrock");
        // Provider filter: taskroute's or LiteLLM's names.
        let only = import(&LitellmOptions::new().providers(["anthropic", "bedrock_converse"]));
        assert!(
            only.catalog
                .models
                .iter()
                .all(|m| m.provider == "anthropic" || m.provider == "bedrock")
        );
        assert!(only.skipped_providers > 10);
    }

    /// The file's price for `field` on the list chosen for this call: the tier's and batch's own
    /// field first, then the list it refines (LiteLLM's lookup), else `None`.
    fn file_price(e: &Map<String, Value>, field: &str, tier: Option<&str>, batch: bool) -> Option<f64> {
        let mut names = Vec::new();
        if let Some(t) = tier {
            if batch {
                names.push(format!("{field}_above_{t}_tokens_batches"));
            }
            names.push(format!("{field}_above_{t}_tokens"));
        }
        if batch {
            names.push(format!("{field}_batches"));
        }
        names.push(field.to_owned());
        names.iter().find_map(|n| e.get(n).and_then(Value::as_f64))
    }

    /// The bill the file's per-token prices give, computed from the raw entry.
    fn file_bill(e: &Map<String, Value>, t: &TokenCounts) -> f64 {
        let tier = e
            .keys()
            .filter_map(|k| {
                k.strip_prefix("input_cost_per_token_above_")?
                    .strip_suffix("_tokens")
            })
            .filter(|n| n.ends_with('k'))
            .find(|n| {
                n[..n.len() - 1]
                    .parse::<u64>()
                    .is_ok_and(|k| u64::from(t.input) > k * 1000)
            });
        let batch_list =
            e.contains_key("input_cost_per_token_batches") || e.contains_key("output_cost_per_token_batches");
        let tier_batch = tier.is_some_and(|n| {
            e.contains_key(&format!("input_cost_per_token_above_{n}_tokens_batches"))
                || e.contains_key(&format!("output_cost_per_token_above_{n}_tokens_batches"))
        });
        let batch = t.batch && if tier.is_some() { tier_batch } else { batch_list };
        let p = |f: &str| file_price(e, f, tier, batch);
        let input = p("input_cost_per_token").unwrap();
        let read = t.cache_read.min(t.input);
        let w5 = t.cache_write_5m.min(t.input - read);
        let w1h = t.cache_write_1h.min(t.input - read - w5);
        let fresh = t.input - read - w5 - w1h;
        let hour = tier.map_or_else(
            || file_price(e, "cache_creation_input_token_cost_above_1hr", None, batch),
            |n| {
                e.get(&format!(
                    "cache_creation_input_token_cost_above_1hr_above_{n}_tokens"
                ))
                .and_then(Value::as_f64)
                .or_else(|| {
                    e.get("cache_creation_input_token_cost_above_1hr")
                        .and_then(Value::as_f64)
                })
            },
        );
        f64::from(fresh) * input
            + f64::from(read) * p("cache_read_input_token_cost").unwrap_or(input)
            + f64::from(w5) * p("cache_creation_input_token_cost").unwrap_or(input)
            + f64::from(w1h) * hour.unwrap_or(input)
            + f64::from(t.output + t.reasoning) * p("output_cost_per_token").unwrap()
    }

    #[test]
    fn costs_equal_the_files_prices_to_the_micro_dollar() {
        let raw: Map<String, Value> = serde_json::from_str(FIXTURE).unwrap();
        let imported = import(&LitellmOptions::new());
        let counts = [
            TokenCounts::new(1_000, 500),
            TokenCounts::new(150_000, 2_000)
                .with_cache_read(20_000)
                .with_cache_writes(5_000, 1_000)
                .with_reasoning(300),
            TokenCounts::new(250_000, 4_000)
                .with_cache_read(50_000)
                .with_reasoning(1_000),
            TokenCounts::new(300_000, 8_000).with_cache_writes(10_000, 10_000),
            TokenCounts::new(1_000_000, 30_000).with_cache_read(100_000),
        ];
        let mut checked = 0;
        for m in &imported.catalog.models {
            let key = m.source.as_deref().and_then(|s| s.split('`').nth(1)).unwrap();
            if imported
                .problems
                .iter()
                .any(|p| p.to_string().starts_with(&format!("`{key}`")))
            {
                continue; // several tiers: reported, not billed exactly above the second
            }
            let e = raw[key].as_object().unwrap();
            for t in counts.iter().flat_map(|t| [*t, t.in_batch()]) {
                let ours = m.prices.cost(&t);
                let file = file_bill(e, &t);
                assert!(
                    (ours - file).abs() < 1e-6,
                    "{key} {t:?}: ours {ours}, file {file}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 300, "{checked} bills checked");
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![Just("chat".to_owned()), Just("2026-11-30".to_owned()), ".{0,12}"]
                .prop_map(Value::from),
        ];
        let fields = prop::sample::select(vec![
            "mode",
            "litellm_provider",
            "max_input_tokens",
            "max_output_tokens",
            "input_cost_per_token",
            "output_cost_per_token",
            "cache_read_input_token_cost",
            "cache_creation_input_token_cost",
            "cache_creation_input_token_cost_above_1hr",
            "input_cost_per_token_above_200k_tokens",
            "input_cost_per_token_above_4294968k_tokens",
            "output_cost_per_token_above_200k_tokens_batches",
            "input_cost_per_token_batches",
            "supports_vision",
            "supports_native_streaming",
            "deprecation_date",
        ]);
        leaf.prop_recursive(3, 40, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(fields.clone().prop_map(str::to_owned), inner, 0..12)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any JSON (and any text) gives a catalog or an error, never a panic; every imported
        /// model validates.
        #[test]
        fn arbitrary_json_never_panics(entries in prop::collection::btree_map(".{0,8}", json(), 0..6), text in ".{0,40}") {
            let doc = Value::Object(entries.into_iter().collect()).to_string();
            if let Ok(out) = Catalog::from_litellm_json(&doc, &LitellmOptions::new()) {
                for m in &out.catalog.models {
                    prop_assert!(m.validate().is_ok(), "{m:?}");
                }
            }
            let _ = Catalog::from_litellm_json(&text, &LitellmOptions::new());
        }
    }
}
