//! Fallback, circuit breaker and budget, shown end to end.
//!
//!   cargo run --example fallback --features runtime
//!
//! With the `openai` feature and `OPENAI_BASE_URL` set (e.g. aimock started by
//! `bash scripts/setup-aimock.sh`: `OPENAI_BASE_URL=http://127.0.0.1:4510/v1`), the healthy models
//! are served by that OpenAI-compatible server; the failing primary is always an in-process
//! fake that answers 503, so the fallback and the breaker show whatever the server does. The
//! first line printed says which was used.

use std::sync::Arc;
use std::time::Duration;

use taskroute::provider::{ChatRequest, ChatResponse, Provider, Usage};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, Clock, InMemoryBudgetStore,
    RequestOptions, RetryPolicy, RoutedClient, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

#[path = "support/fake_provider.rs"]
mod fake_provider;
use fake_provider::{FakeProvider, unavailable};

fn healthy_provider() -> (Arc<dyn Provider>, String) {
    #[cfg(feature = "openai")]
    if let Ok(url) = std::env::var("OPENAI_BASE_URL") {
        match taskroute::provider::openai::OpenAi::from_env() {
            Ok(p) => return (Arc::new(p), format!("OpenAI-compatible server at {url}")),
            Err(e) => eprintln!("cannot use OPENAI_BASE_URL ({e}); falling back to the in-process fake"),
        }
    }
    // An in-process stand-in for a healthy provider: answers after 5 ms.
    let healthy = FakeProvider::new("openai", |m, _| {
        Ok(ChatResponse::text(
            m,
            "Hello from the in-process fake.",
            Usage::new(12, 6, 0),
        ))
    })
    .with_delay(Duration::from_millis(5));
    (
        Arc::new(healthy),
        "in-process fake provider (no OPENAI_BASE_URL)".to_owned(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (healthy, which) = healthy_provider();
    println!("healthy models served by: {which}");

    // The cheapest model sits on a provider that is down; two healthy ones are its fallbacks.
    let router = Router::builder()
        .model_spec(
            ModelSpec::new("flaky-mini", "down", Prices::new(0.1, 0.4), 128_000).with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("gpt-4o-mini", "openai", Prices::new(0.15, 0.6), 128_000)
                .with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("gpt-4o", "openai", Prices::new(2.5, 10.0), 128_000).with_default_quality(0.9),
        )
        .policy(CostFirst::new(0.75)?)
        .build()?;

    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let breakers = Arc::new(BreakerRegistry::new(
        BreakerConfig::default()
            .with_consecutive_failures(3)
            .with_open_for(Duration::from_secs(30)),
        Arc::clone(&clock),
    )?);
    // $0.0004 in all: a few calls, then the budget steps down, then refuses.
    let budget = Arc::new(
        InMemoryBudgetStore::new(Arc::clone(&clock))
            .with_cap(BudgetScope::Global, BudgetCap::total(0.0004))?,
    );
    // Every call fails with 503 (an outage).
    let down = Arc::new(FakeProvider::new("down", |_, _| {
        Err(unavailable().with_provider("down"))
    }));
    let client = RoutedClient::builder(router)
        .provider(down.clone())
        .provider_named("openai", healthy)
        .breakers(breakers.clone())
        .budget(budget.clone(), BudgetPolicy::default())
        .retry(RetryPolicy::default().with_max_retries(1))
        .seed(7)
        .build()?;

    let task = TaskSpec::new(TaskKind::Chat, 40).with_output_tokens(20);
    let req = ChatRequest::new().user("say hello");

    println!("\n-- fallback and breaker: flaky-mini is down");
    for i in 1..=4 {
        let r = client
            .complete(&task, &req, RequestOptions::within(Duration::from_secs(10)))
            .await?;
        println!(
            "request {i}: answered by {} (${:.6})",
            r.model(),
            r.total_cost_usd()
        );
        for a in &r.attempts {
            println!("    {a}");
        }
        println!(
            "    breaker of flaky-mini: {:?}",
            breakers.state(&"flaky-mini".into())
        );
    }
    println!(
        "flaky-mini was called {} times; the open breaker keeps it out of the ranking",
        down.calls()
    );

    // Quality-first wants gpt-4o; the budget steps down to gpt-4o-mini, then refuses.
    println!("\n-- budget: $0.000400 cap, quality-first policy");
    let client = client.with_policy(taskroute::QualityFirst::unbounded());
    let mut last = String::new();
    let mut served = 0;
    for i in 1..=500 {
        match client
            .complete(&task, &req, RequestOptions::within(Duration::from_secs(10)))
            .await
        {
            Ok(r) => {
                served += 1;
                if r.model().as_str() != last {
                    println!(
                        "request {i}: now served by {} (${:.6} a call)",
                        r.model(),
                        r.response.cost_usd
                    );
                    last = r.model().as_str().to_owned();
                }
            }
            Err(e) => {
                println!("request {i}: refused after {served} served: {e}");
                break;
            }
        }
    }
    let u = budget
        .usage(&BudgetScope::Global)
        .ok_or("the global scope is capped")?;
    println!(
        "spent ${:.6} of ${:.6} (reserved ${:.6})",
        u.spent_usd, u.limit_usd, u.reserved_usd
    );
    Ok(())
}
