//! Overhead of routed execution over a direct call to a no-op provider.
//!
//!   cargo bench --features runtime --bench runtime
//!
//! Each iteration runs one request to completion on a current-thread tokio runtime
//! (`block_on`). `direct` calls the provider itself; `routed/bare` goes through
//! `RoutedClient::complete` (routing over 3 models, deadline timer, attempt record);
//! `routed/full` adds circuit breakers, a budget (reserve + settle) and statistics. The overhead
//! is the difference between a routed figure and `direct`.
#![allow(missing_docs)] // criterion's macros generate undocumented functions

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use taskroute::provider::{ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, Usage};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, Clock, InMemoryBudgetStore,
    RequestOptions, RoutedClient, RuntimeStats, StatsConfig, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

/// Answers at once with an empty text.
struct Noop;

#[async_trait]
impl Provider for Noop {
    fn name(&self) -> &str {
        "noop"
    }
    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse::text(model, "", Usage::new(100, 10, 0)))
    }
    async fn stream(&self, _model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(ErrorKind::InvalidRequest, "no streaming"))
    }
}

fn router() -> Router {
    Router::builder()
        .model_spec(
            ModelSpec::new("small", "noop", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("medium", "noop", Prices::new(1.0, 4.0), 128_000).with_default_quality(0.85),
        )
        .model_spec(
            ModelSpec::new("large", "noop", Prices::new(3.0, 15.0), 200_000).with_default_quality(0.9),
        )
        .policy(CostFirst::new(0.75).expect("valid floor"))
        .build()
        .expect("valid router")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let provider: Arc<dyn Provider> = Arc::new(Noop);
    let task = TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(10);
    let req = ChatRequest::new().user("hi");
    let model = router().models()[0].clone();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);

    let bare = RoutedClient::builder(router())
        .provider(Arc::clone(&provider))
        .build()
        .expect("client");
    let store = Arc::new(
        InMemoryBudgetStore::new(Arc::clone(&clock))
            .with_cap(BudgetScope::Global, BudgetCap::total(1e8))
            .expect("cap"),
    );
    let full = RoutedClient::builder(router())
        .provider(Arc::clone(&provider))
        .breakers(Arc::new(
            BreakerRegistry::new(BreakerConfig::default(), Arc::clone(&clock)).expect("breakers"),
        ))
        .budget(store, BudgetPolicy::default())
        .stats(Arc::new(
            RuntimeStats::new(StatsConfig::default(), Arc::clone(&clock)).expect("stats"),
        ))
        .build()
        .expect("client");

    let mut g = c.benchmark_group("runtime");
    g.bench_function("direct", |b| {
        b.iter(|| rt.block_on(async { black_box(provider.complete(&model, &req).await) }))
    });
    for (name, client) in [("routed/bare", &bare), ("routed/full", &full)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let opts = RequestOptions::within(Duration::from_secs(30));
                rt.block_on(async { black_box(client.complete(&task, &req, opts).await) })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
