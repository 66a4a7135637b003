//! Two deployments of one model, one of them rate-limited.
//!
//!   cargo run --example deployments --features runtime
//!
//! "gpt-4o" is served by a provisioned deployment (`east`, tier 0, 30 requests per minute) and
//! an on-demand one (`west`, tier 1, no configured limit, whose in-process stand-in answers 429
//! with `Retry-After: 2` on every 5th call). 60 requests arrive 50 ms apart: `east` takes its
//! minute's 30 at once, the rest spill over to `west`; its first 429 pauses it for 2 s, and while
//! both are out the model is refused before sending (`NoCapacity`, with when capacity returns)
//! and the request falls back to "gpt-4o-mini". Then five requests wait for capacity instead
//! (`RequestOptions::wait_for_capacity`), within their deadlines. The time is tokio's paused
//! clock, so the run is instant and the same every time.

use std::sync::Arc;
use std::time::Duration;

use taskroute::provider::{ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError, Usage};
use taskroute::runtime::{
    AttemptOutcome, Deployment, DeploymentLimits, RequestOptions, RoutedClient, RoutedResponse,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

#[path = "support/fake_provider.rs"]
mod fake_provider;
use fake_provider::FakeProvider;

/// An in-process stand-in for one endpoint: answers at once; every `throttle_every`-th call
/// (if set) is a 429 with `Retry-After: 2`.
fn endpoint(name: &'static str, throttle_every: Option<u64>) -> Arc<dyn Provider> {
    Arc::new(FakeProvider::new(name, move |m, n| {
        if throttle_every.is_some_and(|k| n.is_multiple_of(k)) {
            return Err(ProviderError::new(ErrorKind::RateLimited, "rate limit reached")
                .with_provider(name)
                .with_status(429)
                .with_retry_after(Duration::from_secs(2)));
        }
        Ok(ChatResponse::text(
            m,
            format!("answered by {name}"),
            Usage::new(200, 50, 0),
        ))
    }))
}

fn served_by(r: &RoutedResponse) -> String {
    let last = r.attempts.last().expect("an attempt");
    match &last.deployment {
        Some(d) => format!("{}@{d}", last.model),
        None => last.model.to_string(),
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = |id: &str, price: f64, q: f64| {
        ModelSpec::new(id, "openai", Prices::new(price, price * 4.0), 128_000)
            .with_max_output_tokens(4096)
            .with_default_quality(q)
    };
    let router = Router::builder()
        .model_spec(model("gpt-4o", 2.5, 0.9))
        .model_spec(model("gpt-4o-mini", 0.15, 0.7))
        .policy(CostFirst::new(0.8)?)
        .build()?;
    let client = RoutedClient::builder(router)
        .provider_named("openai", endpoint("openai", None))
        .provider_named("azure-east", endpoint("azure-east", None))
        .provider_named("openai-west", endpoint("openai-west", Some(5)))
        .deployments(
            "gpt-4o",
            [
                Deployment::new("east", "azure-east")
                    .tier(0)
                    .limits(DeploymentLimits::none().rpm(30).tpm(100_000)),
                Deployment::new("west", "openai-west").tier(1),
            ],
        )
        .seed(1)
        .build()?;
    let task = TaskSpec::new(TaskKind::Chat, 200).with_output_tokens(100);
    let req = ChatRequest::new()
        .user("Summarise the incident report.")
        .max_tokens(300);
    let mut tally = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = client
            .complete(&task, &req, RequestOptions::within(Duration::from_secs(10)))
            .await?;
        *tally.entry(served_by(&r)).or_default() += 1;
        for a in &r.attempts {
            if let AttemptOutcome::NoCapacity { .. } = &a.outcome {
                // Which deployment refused, why, and when it has room again.
                println!("request {i:2}: {}: {}; fell back", a.model, a.outcome);
            } else if a.outcome != AttemptOutcome::Success {
                println!("request {i:2}: {a}");
            }
        }
    }
    println!("\nserved (model@deployment): {tally:?}");
    // The same load, but waiting for capacity (bounded by each request's deadline).
    let waiting = RequestOptions::within(Duration::from_secs(10)).wait_for_capacity(true);
    let mut waited = 0;
    for _ in 0..5 {
        let t0 = tokio::time::Instant::now();
        let r = client.complete(&task, &req, waiting.clone()).await?;
        waited += 1;
        println!("waiting: served by {} after {:?}", served_by(&r), t0.elapsed());
    }
    println!("{waited} waiting requests served");
    Ok(())
}
