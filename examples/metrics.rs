//! A routed client that serves its metrics to Prometheus.
//!
//!   cargo run --example metrics --features runtime,metrics -- [ADDR] [REQUESTS]
//!
//! Installs the Prometheus exporter (`metrics-exporter-prometheus`) with its HTTP listener on
//! `ADDR` (default `127.0.0.1:9184`; scrape `http://ADDR/metrics`), then sends `REQUESTS`
//! requests (default: forever, ten a second) through a [`RoutedClient`] for two tenants. The
//! models sit on in-process fake providers: `mini` on `flaky`, which answers 503 to every third
//! call, so its requests fall back to `large` on `steady`. Everything the routed client records
//! (decisions, rejections, attempts by outcome, durations, tokens, cost, spend per tenant,
//! breaker changes), and each tenant's budget left, show at `/metrics`; docs/grafana-taskroute.json is a dashboard for it.
//!
//! tests/metrics_prometheus.rs runs this same code in-process and reads the counters back
//! through a real Prometheus server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use taskroute::provider::{ChatRequest, ChatResponse, Usage};
use taskroute::runtime::{
    AttemptOutcome, BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, BudgetStore, Clock,
    InMemoryBudgetStore, RequestOptions, RetryPolicy, RoutedClient, TokioClock,
};
use taskroute::telemetry::{self, BreakerMetrics};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

#[path = "support/fake_provider.rs"]
mod fake_provider;
use fake_provider::{FakeProvider, unavailable};

/// A fake provider answering after 2 ms; with `fail_every` = n, every n-th call answers 503.
fn fake(name: &'static str, fail_every: u64) -> Arc<FakeProvider> {
    let answer = move |m: &ModelSpec, n: u64| {
        if fail_every > 0 && n.is_multiple_of(fail_every) {
            return Err(unavailable());
        }
        Ok(ChatResponse::text(
            m,
            "An answer from the in-process fake.",
            Usage::new(200, 40, 64),
        ))
    };
    Arc::new(FakeProvider::new(name, answer).with_delay(Duration::from_millis(2)))
}

/// Installs the Prometheus recorder, serving `/metrics` on `addr` (on the current tokio
/// runtime), and describes the crate's metrics to it.
pub(crate) fn install_exporter(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    PrometheusBuilder::new().with_http_listener(addr).install()?;
    telemetry::describe();
    Ok(())
}

/// The tenants, each with a budget of $100 an hour.
pub(crate) const TENANTS: [&str; 2] = ["acme", "globex"];

/// The routed client: `mini` (cheap, on `flaky`) first, `large` (on `steady`) as its fallback,
/// and `tiny`, whose context window rejects every task here; and its budget store. Build it
/// after installing the exporter (its metric handles belong to the recorder installed when it
/// first records).
pub(crate) fn client() -> Result<(RoutedClient, Arc<InMemoryBudgetStore>), Box<dyn std::error::Error>> {
    let router = Router::builder()
        .model_spec(
            ModelSpec::new("mini", "flaky", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("large", "steady", Prices::new(2.5, 10.0), 128_000).with_default_quality(0.9),
        )
        .model_spec(ModelSpec::new("tiny", "steady", Prices::new(0.05, 0.2), 100).with_default_quality(0.8))
        .policy(CostFirst::new(0.75)?)
        .build()?;
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let breakers = BreakerRegistry::new(
        // A third of `mini`'s calls fail: its breaker opens for 5 s now and then (the breaker
        // panel), and the traffic goes to `large` meanwhile.
        BreakerConfig::default()
            .with_failure_rate(0.3, 12, Duration::from_secs(10))
            .with_open_for(Duration::from_secs(5)),
        Arc::clone(&clock),
    )?
    .with_observer(Arc::new(BreakerMetrics::new()));
    let mut budget = InMemoryBudgetStore::new(Arc::clone(&clock));
    for t in TENANTS {
        budget = budget.with_cap(
            BudgetScope::tenant(t),
            BudgetCap::per(100.0, Duration::from_secs(3600)),
        )?;
    }
    let budget = Arc::new(budget);
    let client = RoutedClient::builder(router)
        .provider(fake("flaky", 3))
        .provider(fake("steady", 0))
        .breakers(Arc::new(breakers))
        .budget(
            Arc::clone(&budget) as Arc<dyn BudgetStore>,
            BudgetPolicy::default(),
        )
        .retry(RetryPolicy::default().with_max_retries(0))
        .build()?;
    Ok((client, budget))
}

/// What a run of requests did, counted from the client's own records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Requests sent.
    pub(crate) requests: u64,
    /// Requests answered.
    pub(crate) answered: u64,
    /// Provider calls that answered.
    pub(crate) successes: u64,
    /// Provider calls that failed.
    pub(crate) failures: u64,
}

/// Sends `n` requests, alternating tenants, `pause` apart; after each, records what the tenants'
/// budgets have left (`telemetry::sample_budgets`; a service would do it from a timer).
pub(crate) async fn traffic(
    client: &RoutedClient,
    budget: &InMemoryBudgetStore,
    n: u64,
    pause: Duration,
) -> Tally {
    let scopes = TENANTS.map(BudgetScope::tenant);
    let task = TaskSpec::new(TaskKind::Chat, 300).with_output_tokens(60);
    let request = ChatRequest::new().user("Summarise the meeting notes.");
    let mut t = Tally::default();
    for i in 0..n {
        let tenant = TENANTS[(i % 2) as usize];
        let opts = RequestOptions::within(Duration::from_secs(5)).tenant(tenant);
        t.requests += 1;
        let attempts = match client.complete(&task, &request, opts).await {
            Ok(r) => {
                t.answered += 1;
                r.attempts
            }
            Err(e) => e.attempts().to_vec(),
        };
        for a in &attempts {
            match a.outcome {
                AttemptOutcome::Success => t.successes += 1,
                AttemptOutcome::Failed { .. } => t.failures += 1,
                _ => {}
            }
        }
        if let Err(e) = telemetry::sample_budgets(budget, &scopes).await {
            eprintln!("budget store: {e}");
        }
        tokio::time::sleep(pause).await;
    }
    t
}

#[tokio::main]
#[allow(dead_code)] // tests/metrics_prometheus.rs includes this file for its functions
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:9184").parse()?;
    let requests: u64 = args.next().map_or(Ok(u64::MAX), |n| n.parse())?;
    install_exporter(addr)?;
    let (client, budget) = client()?;
    println!("serving metrics at http://{addr}/metrics; sending requests (Ctrl-C to stop)");
    let t = traffic(&client, &budget, requests, Duration::from_millis(100)).await;
    println!("{t:?}");
    Ok(())
}
