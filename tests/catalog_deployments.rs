//! Deployments declared in a catalog file serve traffic: the runtime builds one OpenAI client
//! per entry (its key read from the variable the entry names), keeps the entry's tier, weight
//! and limits, and records the entry's id on every attempt. Against the loopback server of
//! `tests/deploy_support`, which allows each key more than the catalog does, so the catalog's
//! limits (not the server's 429s) are what hold the traffic back.
#![cfg(all(feature = "runtime", feature = "openai", feature = "catalog"))]

mod deploy_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deploy_support::{KeyLimits, LimitServer, ms, prompt};
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, Provider};
use taskroute::runtime::{
    AttemptOutcome, CatalogDeploymentError, ManualClock, RequestOptions, RoutedClient, RoutedResponse,
};
use taskroute::{Catalog, CostFirst, Router, TaskKind, TaskSpec};

/// "big" (the primary) and "small" (the fallback), both of provider "free"; "big" has three
/// deployments in the file, "small" none.
fn catalog(base_url: &str) -> Catalog {
    let model = |id: &str, price: f64, q: f64| {
        format!(
            r#"{{"id": "{id}", "provider": "free", "prices": {{"input": {price}, "output": {price}}},
                "context_window": 128000, "max_output_tokens": 4096, "quality": {{"default": {q}}}}}"#
        )
    };
    let text = format!(
        r#"{{"models": [{big}, {small}],
            "deployments": {{"big": [
              {{"id": "a", "provider": "openai", "base_url": "{base_url}", "api_key_env": "TR_KEY_A",
                "weight": 2, "rpm": 60, "tpm": 60000}},
              {{"id": "b", "provider": "openai", "base_url": "{base_url}", "api_key_env": "TR_KEY_B",
                "weight": 1, "rpm": 30, "tpm": 30000}},
              {{"id": "c", "provider": "openai", "base_url": "{base_url}", "api_key_env": "TR_KEY_C",
                "tier": 1, "rpm": 30}}
            ]}}}}"#,
        big = model("big", 1.0, 0.9),
        small = model("small", 5.0, 0.85),
    );
    Catalog::from_json_str(&text).unwrap()
}

fn vars() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("TR_KEY_A", "key-a"),
        ("TR_KEY_B", "key-b"),
        ("TR_KEY_C", "key-c"),
    ])
}

fn router(c: &Catalog) -> Router {
    Router::builder()
        .models(c.models.clone())
        .policy(CostFirst::new(0.8).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_declared_deployment_set_serves_traffic_within_its_limits() {
    let clock = ManualClock::new();
    // The server lets every key do 600 a minute: only the catalog's limits can hold calls back.
    let generous = KeyLimits {
        rpm: Some(600.0),
        tpm: Some(600_000.0),
        down: false,
    };
    let server = LimitServer::start(
        Arc::new(clock.clone()),
        &[
            ("key-a", generous),
            ("key-b", generous),
            ("key-c", generous),
            ("free", KeyLimits::default()),
        ],
    )
    .await;
    let cat = catalog(&server.base_url);
    let free: Arc<dyn Provider> = Arc::new(
        OpenAi::builder()
            .api_key("free")
            .base_url(&server.base_url)
            .build()
            .unwrap(),
    );
    let vars = vars();
    let client = RoutedClient::builder(router(&cat))
        .provider_named("free", free)
        .catalog_deployments_from_vars(&cat, |k| vars.get(k).map(|v| (*v).to_owned()))
        .unwrap()
        .clock(Arc::new(clock.clone()))
        .seed(3)
        .build()
        .unwrap();

    // 600 requests 50 ms apart: 30 simulated seconds, 20 a second against 3 a second of
    // tier 0 (plus its full first minute's 90) and 0.5 a second of tier 1 (plus 30).
    let n = 600;
    let mut out: Vec<RoutedResponse> = Vec::new();
    for i in 0..n {
        clock.advance(ms(50));
        let task = TaskSpec::new(TaskKind::Chat, 20).with_output_tokens(50);
        let req = ChatRequest::new().user(prompt(i, 20)).max_tokens(100);
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            client.complete(&task, &req, RequestOptions::within(Duration::from_secs(10))),
        )
        .await
        .expect("the request hung")
        .unwrap();
        out.push(r);
    }
    let via = |r: &RoutedResponse| {
        r.attempts
            .last()
            .unwrap()
            .deployment
            .as_ref()
            .map(|d| d.as_str().to_owned())
    };
    let count = |id: &str| out.iter().filter(|r| via(r).as_deref() == Some(id)).count() as u64;
    let (a, b, c) = (count("a"), count("b"), count("c"));
    let small = out.iter().filter(|r| r.model().as_str() == "small").count() as u64;
    eprintln!("catalog deployments: a {a}, b {b}, c {c}, fallback to small {small}");

    // Attempts name the catalog's deployments, and the server agrees with them.
    for (key, served) in [("key-a", a), ("key-b", b), ("key-c", c)] {
        assert_eq!(server.stats(key).served, served, "{key}");
        assert_eq!(server.stats(key).rejected_429, 0, "{key}");
    }
    assert_eq!(a + b + c + small, n);
    // The catalog's limits held: a full minute's worth plus 30 s of refill, at most.
    assert!(a <= 60 + 30, "a served {a}");
    assert!(b <= 30 + 15, "b served {b}");
    assert!(c <= 30 + 15, "c served {c}");
    // ... and were used: each deployment served nearly all its limit allowed.
    assert!(a >= 85 && b >= 40 && c >= 40, "a {a}, b {b}, c {c}");
    // Tier 1 only when tier 0 is full: the first 90 requests (tier 0's first minute) never
    // reach c.
    assert!(out[..90].iter().all(|r| via(r).as_deref() != Some("c")));
    // The fallback has no deployment: called through its provider as before.
    for r in out.iter().filter(|r| r.model().as_str() == "small") {
        assert!(matches!(r.attempts[0].outcome, AttemptOutcome::NoCapacity { .. }));
        assert_eq!(r.attempts.last().unwrap().deployment, None);
    }
    assert_eq!(server.stats("free").served, small);
}

#[tokio::test]
async fn a_missing_variable_or_a_bad_endpoint_is_a_typed_error_without_the_secret() {
    let cat = catalog("http://127.0.0.1:9/v1");
    let vars = vars();
    // TR_KEY_C is not set.
    let e = RoutedClient::builder(router(&cat))
        .catalog_deployments_from_vars(&cat, |k| {
            (k != "TR_KEY_C")
                .then(|| vars.get(k).map(|v| (*v).to_owned()))
                .flatten()
        })
        .unwrap_err();
    match &e {
        CatalogDeploymentError::MissingVariable {
            model,
            deployment,
            field,
            variable,
        } => assert_eq!(
            (model.as_str(), deployment.as_str(), *field, variable.as_str()),
            ("big", "c", "api_key_env", "TR_KEY_C")
        ),
        e => panic!("{e:?}"),
    }
    // A key over plain http to a host that is not loopback: the client refuses; the key is not
    // in the error.
    let cat = catalog("http://10.1.2.3/v1");
    let secret = "sk-secret-value-123456";
    let e = RoutedClient::builder(router(&cat))
        .catalog_deployments_from_vars(&cat, |_| Some(secret.to_owned()))
        .unwrap_err();
    assert!(
        matches!(&e, CatalogDeploymentError::Provider { model, .. } if model == "big"),
        "{e:?}"
    );
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains("secret-value"), "{shown}");
    }
    // The model must be the router's: checked by `build`.
    let cat = catalog("http://127.0.0.1:9/v1");
    let other = Router::builder()
        .models(cat.models.iter().filter(|m| m.id.as_str() == "small").cloned())
        .build()
        .unwrap();
    let b = RoutedClient::builder(other)
        .catalog_deployments_from_vars(&cat, |k| vars.get(k).map(|v| (*v).to_owned()))
        .unwrap();
    let e = b.build().unwrap_err().to_string();
    assert!(e.contains("big"), "{e}");
}
