//! Cancellation: `complete` futures and streams dropped at random points, under tokio's paused
//! clock. Afterwards no reservation is held and the recorded spend is at least what the fake
//! provider billed. The fake bills like a real provider: a call it finished costs its usage; a
//! call dropped after it was sent costs the tokens produced until then (never more than
//! `max_tokens` allows); a stream dropped after some tokens costs those tokens.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use runtime_support::model;
use taskroute::provider::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, FinishReason, Provider, ProviderError, StreamEvent,
    Usage,
};
use taskroute::runtime::{
    BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, Clock, InMemoryBudgetStore,
    RequestOptions, RetryPolicy, RoutedClient, TokioClock,
};
use taskroute::{ModelSpec, QualityFirst, Router, TaskKind, TaskSpec};

const INPUT: u32 = 100;
const MAX_TOKENS: u32 = 200;
const TOKEN_EVERY: Duration = Duration::from_millis(10);

/// What the fake billed, in USD.
#[derive(Debug, Default)]
struct Bill(Mutex<f64>);

impl Bill {
    fn add(&self, usd: f64) {
        *self.0.lock().unwrap() += usd;
    }
    fn total(&self) -> f64 {
        *self.0.lock().unwrap()
    }
}

/// Bills `INPUT` tokens plus the output tokens produced so far when dropped.
struct Meter {
    bill: Arc<Bill>,
    prices: taskroute::Prices,
    produced: u32,
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.bill
            .add(Usage::new(INPUT, self.produced, 0).cost_usd(&self.prices));
    }
}

/// A provider that produces one output token every 10 ms, fails some calls with a 503 before
/// producing anything (not billed), and bills as [`Meter`] says.
#[derive(Debug)]
struct Billing {
    bill: Arc<Bill>,
    rng: Mutex<Pcg64Mcg>,
}

impl Billing {
    fn plan(&self) -> Option<u32> {
        let mut rng = self.rng.lock().unwrap();
        if rng.random_bool(0.2) {
            None
        } else {
            Some(rng.random_range(1..=MAX_TOKENS))
        }
    }

    fn meter(&self, model: &ModelSpec) -> Meter {
        Meter {
            bill: Arc::clone(&self.bill),
            prices: model.prices.clone(),
            produced: 0,
        }
    }
}

fn unavailable() -> ProviderError {
    ProviderError::new(ErrorKind::Overloaded, "injected").with_status(503)
}

#[async_trait]
impl Provider for Billing {
    fn name(&self) -> &str {
        "fake"
    }

    async fn complete(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let Some(tokens) = self.plan() else {
            return Err(unavailable());
        };
        let mut meter = self.meter(model);
        for _ in 0..tokens {
            tokio::time::sleep(TOKEN_EVERY).await;
            meter.produced += 1;
        }
        drop(meter);
        let text = "word ".repeat(tokens as usize);
        Ok(ChatResponse::new(
            model,
            text,
            Vec::new(),
            FinishReason::Stop,
            Usage::new(INPUT, tokens, 0),
        ))
    }

    async fn stream(&self, model: &ModelSpec, _req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let Some(tokens) = self.plan() else {
            return Err(unavailable());
        };
        let meter = self.meter(model);
        let prices = model.prices.clone();
        let s = futures::stream::unfold(Some(meter), move |state| {
            let prices = prices.clone();
            async move {
                let mut meter = state?;
                if meter.produced == tokens {
                    let usage = Usage::new(INPUT, tokens, 0);
                    // billed by the meter's drop, here
                    drop(meter);
                    let finish = StreamEvent::Finish {
                        finish_reason: FinishReason::Stop,
                        usage,
                        cost_usd: usage.cost_usd(&prices),
                    };
                    return Some((Ok(finish), None));
                }
                tokio::time::sleep(TOKEN_EVERY).await;
                meter.produced += 1;
                Some((Ok(StreamEvent::TextDelta("word ".to_owned())), Some(meter)))
            }
        });
        Ok(s.boxed())
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_requests_hold_nothing_and_are_charged_at_least_what_was_billed() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let store = Arc::new(
        InMemoryBudgetStore::new(clock.clone())
            .with_cap(BudgetScope::Global, BudgetCap::total(1_000.0))
            .unwrap(),
    );
    let breakers = Arc::new(
        BreakerRegistry::new(BreakerConfig::default().with_consecutive_failures(1000), clock).unwrap(),
    );
    let bill = Arc::new(Bill::default());
    let provider = Billing {
        bill: Arc::clone(&bill),
        rng: Mutex::new(Pcg64Mcg::seed_from_u64(7)),
    };
    let router = Router::builder()
        .model_spec(model("m1", "fake", 1.0, 0.9))
        .model_spec(model("m2", "fake", 2.0, 0.8))
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    let c = Arc::new(
        RoutedClient::builder(router)
            .provider(Arc::new(provider) as Arc<dyn Provider>)
            .breakers(breakers)
            .budget(store.clone(), BudgetPolicy::default())
            .retry(RetryPolicy::default())
            .build()
            .unwrap(),
    );
    let task = TaskSpec::new(TaskKind::Chat, INPUT).with_output_tokens(50);
    let mut rng = Pcg64Mcg::seed_from_u64(11);
    let mut runs = Vec::new();
    let (mut dropped, mut finished) = (0, 0);
    for i in 0..400u32 {
        let c = Arc::clone(&c);
        let task = task.clone();
        // Drop after 0..1.5 s: before, during and after the calls (up to 2 s of tokens).
        let drop_after = Duration::from_millis(rng.random_range(0..1_500));
        let start_after = Duration::from_millis(rng.random_range(0..500));
        let streaming = i % 2 == 1;
        runs.push(async move {
            tokio::time::sleep(start_after).await;
            let req = ChatRequest::new().user("q").max_tokens(MAX_TOKENS);
            let opts = RequestOptions::within(Duration::from_secs(60));
            let work = async {
                if streaming {
                    if let Ok(mut s) = c.stream(&task, &req, opts).await {
                        while s.next().await.is_some() {}
                    }
                } else {
                    let _ = c.complete(&task, &req, opts).await;
                }
            };
            tokio::time::timeout(drop_after, work).await.is_err()
        });
    }
    for was_dropped in futures::future::join_all(runs).await {
        if was_dropped {
            dropped += 1;
        } else {
            finished += 1;
        }
    }
    assert!(
        dropped > 50 && finished > 50,
        "{dropped} dropped, {finished} finished"
    );
    // let any settle handed to the runtime run
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.held(), 0, "reservations left held");
    let u = store.usage(&BudgetScope::Global).unwrap();
    assert_eq!(u.reserved_usd, 0.0);
    assert!(bill.total() > 0.0);
    assert!(
        u.spent_usd + 1e-9 >= bill.total(),
        "recorded ${} but the provider billed ${}",
        u.spent_usd,
        bill.total()
    );
}
