//! Two routed clients ("replicas") in one process sharing a budget and circuit breakers through
//! one Redis, as N replicas of a service would.
//!
//!   bash scripts/setup-redis.sh
//!   TASKROUTE_REDIS_URL=$(cat .redis/url) cargo run --example fleet --features redis
//!
//! Replica A meets a model that is down; its breaker opens, and replica B stops sending to that
//! model without ever calling it. Both then spend against one $0.0003 cap until it refuses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use taskroute::fleet::{FleetBreakers, FleetRedis, RedisBudgetStore};
use taskroute::provider::{ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, Usage};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, RequestOptions, RetryPolicy,
    RoutedClient, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

/// One provider: the model `down-mini` answers 503, the others answer after 5 ms.
struct Fake {
    down_calls: AtomicU32,
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    async fn complete(&self, m: &ModelSpec, _r: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        if m.id.as_str() == "down-mini" {
            self.down_calls.fetch_add(1, Ordering::Relaxed);
            return Err(ProviderError::new(ErrorKind::Overloaded, "service unavailable").with_status(503));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(ChatResponse::text(m, "hello", Usage::new(12, 6, 0)))
    }
    async fn stream(&self, _m: &ModelSpec, _r: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            "this example does not stream",
        ))
    }
}

/// One replica: its own connection, registry, sync task and client; the state is in Redis.
async fn replica(
    url: &str,
    prefix: &str,
    provider: Arc<Fake>,
) -> Result<(RoutedClient, Arc<BreakerRegistry>, RedisBudgetStore), Box<dyn std::error::Error>> {
    let redis = FleetRedis::open(url)?;
    let config = BreakerConfig::default()
        .with_consecutive_failures(2)
        .with_open_for(Duration::from_secs(30));
    let fleet = FleetBreakers::builder(redis.clone(), config)
        .key_prefix(prefix, "breakers")
        .refresh(Duration::from_millis(100))
        .build()?;
    let breakers =
        Arc::new(BreakerRegistry::new(config, Arc::new(TokioClock))?.with_observer(fleet.observer()));
    fleet.spawn(Arc::clone(&breakers));
    let budget = RedisBudgetStore::builder(redis)
        .key_prefix(prefix, "budget")
        .cap(BudgetScope::Global, BudgetCap::total(0.0003))
        .lease(Duration::from_secs(30))
        .build()?;
    let router = Router::builder()
        .model_spec(
            ModelSpec::new("down-mini", "fake", Prices::new(0.1, 0.4), 128_000).with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("gpt-4o-mini", "fake", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
        )
        .policy(CostFirst::new(0.75)?)
        .build()?;
    let client = RoutedClient::builder(router)
        .provider(provider)
        .breakers(Arc::clone(&breakers))
        .budget(
            Arc::new(budget.clone()),
            BudgetPolicy::default().with_step_down(false),
        )
        .retry(RetryPolicy::default().with_max_retries(0))
        .build()?;
    Ok((client, breakers, budget))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TASKROUTE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    // A prefix of this run's own, so runs do not see each other's state.
    let prefix = format!("taskroute-example:{}", std::process::id());
    let provider = Arc::new(Fake {
        down_calls: AtomicU32::new(0),
    });
    let (a, _a_breakers, budget) = replica(&url, &prefix, Arc::clone(&provider)).await?;
    let (b, b_breakers, _) = replica(&url, &prefix, Arc::clone(&provider)).await?;
    let task = TaskSpec::new(TaskKind::Chat, 40).with_output_tokens(20);
    let req = ChatRequest::new().user("say hello");
    let opts = || RequestOptions::within(Duration::from_secs(5));

    println!("-- replica A: down-mini fails, its breaker opens");
    for i in 1..=2 {
        let r = a.complete(&task, &req, opts()).await?;
        println!(
            "A request {i}: answered by {} after {} attempts",
            r.model(),
            r.attempts.len()
        );
    }
    let down = "down-mini".into();
    let t0 = std::time::Instant::now();
    while taskroute::Health::is_available(&*b_breakers, &down) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("replica B sees down-mini open after {:?}", t0.elapsed());
    let calls_before = provider.down_calls.load(Ordering::Relaxed);
    let r = b.complete(&task, &req, opts()).await?;
    println!(
        "B request: answered by {} after {} attempt(s); down-mini calls from B: {}",
        r.model(),
        r.attempts.len(),
        provider.down_calls.load(Ordering::Relaxed) - calls_before
    );

    println!("\n-- both replicas spend against one $0.0003 cap");
    let mut served = [0u32; 2];
    'outer: loop {
        for (i, client) in [&a, &b].into_iter().enumerate() {
            match client.complete(&task, &req, opts()).await {
                Ok(_) => served[i] += 1,
                Err(e) => {
                    println!("{} refused: {e}", ["A", "B"][i]);
                    break 'outer;
                }
            }
        }
    }
    let u = budget
        .usage(&BudgetScope::Global)
        .await?
        .ok_or("the global scope is capped")?;
    println!(
        "served by A {}, by B {}; spent ${:.6} of ${:.6}, reserved ${:.6}",
        served[0], served[1], u.spent_usd, u.limit_usd, u.reserved_usd
    );
    Ok(())
}
