//! Two routed clients ("replicas") in one process sharing a budget and circuit breakers through
//! one Redis, as N replicas of a service would.
//!
//!   bash scripts/setup-redis.sh
//!   TASKROUTE_REDIS_URL=$(cat .redis/url) cargo run --example fleet --features redis
//!
//! Replica A meets a model that is down; its breaker opens, and replica B stops sending to that
//! model without ever calling it. Both then spend against one $0.0003 cap until it refuses.

use std::sync::Arc;
use std::time::Duration;

use taskroute::fleet::{FleetBreakers, FleetRedis, RedisBudgetStore};
use taskroute::provider::{ChatRequest, ChatResponse, Usage};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, RequestOptions, RetryPolicy,
    RoutedClient, TokioClock,
};
use taskroute::{CostFirst, ModelSpec, Prices, Router, TaskKind, TaskSpec};

#[path = "support/fake_provider.rs"]
mod fake_provider;
use fake_provider::{FakeProvider, unavailable};

/// One replica: its own connection, registry, sync task and client; the state is in Redis. The
/// model `down-mini` is served by `down`, `gpt-4o-mini` by `up`.
async fn replica(
    url: &str,
    prefix: &str,
    down: Arc<FakeProvider>,
    up: Arc<FakeProvider>,
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
            ModelSpec::new("down-mini", "down", Prices::new(0.1, 0.4), 128_000).with_default_quality(0.8),
        )
        .model_spec(
            ModelSpec::new("gpt-4o-mini", "up", Prices::new(0.15, 0.6), 128_000).with_default_quality(0.8),
        )
        .policy(CostFirst::new(0.75)?)
        .build()?;
    let client = RoutedClient::builder(router)
        .provider(down)
        .provider(up)
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
    // The providers both replicas call: `down` answers 503, `up` answers after 5 ms.
    let down = Arc::new(FakeProvider::new("down", |_, _| Err(unavailable())));
    let up = FakeProvider::new("up", |m, _| {
        Ok(ChatResponse::text(m, "hello", Usage::new(12, 6, 0)))
    });
    let up = Arc::new(up.with_delay(Duration::from_millis(5)));
    let (a, _a_breakers, budget) = replica(&url, &prefix, Arc::clone(&down), Arc::clone(&up)).await?;
    let (b, b_breakers, _) = replica(&url, &prefix, Arc::clone(&down), up).await?;
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
    let down_mini = "down-mini".into();
    let t0 = std::time::Instant::now();
    while taskroute::Health::is_available(&*b_breakers, &down_mini) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("replica B sees down-mini open after {:?}", t0.elapsed());
    let calls_before = down.calls();
    let r = b.complete(&task, &req, opts()).await?;
    println!(
        "B request: answered by {} after {} attempt(s); down-mini calls from B: {}",
        r.model(),
        r.attempts.len(),
        down.calls() - calls_before
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
