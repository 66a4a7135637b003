//! Cascade fault matrix: a fault (4xx, the deadline, a budget refusal, an open breaker) at step 2
//! and later, after earlier steps answered and were turned down by the acceptance check. The
//! cascade must return the best answer so far (never panic), with every step and attempt listed.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use runtime_support::{Act, Fake, model};
use taskroute::provider::{ChatRequest, ChatResponse, ErrorKind, Provider};
use taskroute::runtime::{
    AttemptOutcome, BreakerConfig, BreakerRegistry, BudgetCap, BudgetPolicy, BudgetScope, CallOutcome, Clock,
    InMemoryBudgetStore, Jitter, RequestOptions, RetryPolicy, RoutedClient, TokioClock,
};
use taskroute::{ModelId, QualityFirst, Router, TaskKind, TaskSpec};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    BadRequest,
    Deadline,
    BudgetRefusal,
    OpenBreaker,
}

const MODELS: [&str; 3] = ["m1", "m2", "m3"];

fn check(r: &ChatResponse) -> Result<(), Cow<'static, str>> {
    if r.text.contains("good") {
        Ok(())
    } else {
        Err("not good".into())
    }
}

/// Three models, cheapest first: m1 ($0.1/Mtok in), m2 ($1), m3 ($10). Every answer is
/// turned down; the model at `step` (1-based) hits `fault`.
async fn run(fault: Fault, step: usize) {
    let faulty = MODELS[step - 1];
    let mut fake = Fake::new("fake");
    for (i, m) in MODELS.iter().enumerate() {
        fake = fake.always(m, Act::slow(100, &format!("answer from {m} step {}", i + 1)));
    }
    let fake = match fault {
        Fault::BadRequest => fake.always(faulty, Act::err(ErrorKind::InvalidRequest, 400)),
        Fault::Deadline => fake.always(faulty, Act::Hang),
        Fault::OpenBreaker | Fault::BudgetRefusal => fake,
    };
    let router = Router::builder()
        .model_spec(model("m1", "fake", 0.1, 0.7))
        .model_spec(model("m2", "fake", 1.0, 0.8))
        .model_spec(model("m3", "fake", 10.0, 0.9))
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let mut b = RoutedClient::builder(router)
        .provider(Arc::new(fake) as Arc<dyn Provider>)
        .retry(
            RetryPolicy::default()
                .with_jitter(Jitter::None)
                .with_delays(Duration::from_millis(10), Duration::from_millis(10)),
        );
    let breakers = Arc::new(
        BreakerRegistry::new(
            BreakerConfig::default().with_consecutive_failures(1),
            clock.clone(),
        )
        .unwrap(),
    );
    if fault == Fault::OpenBreaker {
        b = b.breakers(breakers.clone());
    }
    if fault == Fault::BudgetRefusal {
        // expected costs: m1 100*0.1e-6 + 50*0.4e-6 = $0.00003, m2 $0.0003, m3 $0.003.
        // The cap lets the steps before `step` through and refuses `step`.
        let cap = [0.00002, 0.0004][step - 2];
        let store = InMemoryBudgetStore::new(clock.clone())
            .with_cap(BudgetScope::Global, BudgetCap::total(cap + 0.00003))
            .unwrap();
        b = b.budget(Arc::new(store), BudgetPolicy::default().with_step_down(false));
    }
    let c = b.build().unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50);
    let req = ChatRequest::new().user("q");
    // Another request trips the faulty model's breaker while the steps before it run (each
    // answers after 100 ms): the cascade ranked it, and finds it open when its step comes.
    let trip = async {
        if fault == Fault::OpenBreaker {
            tokio::time::sleep(Duration::from_millis(100 * (step as u64 - 1) - 50)).await;
            let b = breakers.breaker(&ModelId::new(faulty));
            let now = clock.now();
            b.try_acquire(now).unwrap().record(CallOutcome::Failure, now);
        }
    };
    let (r, ()) = tokio::join!(
        c.cascade(
            &task,
            &req,
            &check,
            RequestOptions::within(Duration::from_secs(5))
        ),
        trip
    );
    let r =
        r.unwrap_or_else(|e| panic!("{fault:?} at step {step}: expected the best answer so far, got {e}"));
    assert!(!r.accepted);
    let models: Vec<_> = r.steps.iter().map(|s| s.model.as_str()).collect();
    let stops = !matches!(fault, Fault::OpenBreaker);
    let expected: Vec<_> = if stops {
        MODELS[..step].to_vec()
    } else {
        MODELS.to_vec()
    };
    assert_eq!(models, expected, "{fault:?} at step {step}: {:?}", r.steps);
    let last_answer = if !stops && step < 3 { 3 } else { step - 1 };
    assert_eq!(
        r.response.text,
        format!("answer from m{last_answer} step {last_answer}"),
        "{fault:?} at step {step}"
    );
    let bad = &r.steps[step - 1];
    assert!(!bad.accepted);
    let reason = bad.reason.as_deref().unwrap_or_default();
    let want = match fault {
        Fault::BadRequest => "invalid request (400)",
        Fault::Deadline => "deadline exceeded",
        Fault::BudgetRefusal => "budget refused",
        Fault::OpenBreaker => "circuit open",
    };
    assert!(reason.contains(want), "{fault:?} at step {step}: {reason}");
    // every attempt is listed, the earlier steps' turned-down answers included
    let turned_down = r
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, AttemptOutcome::NotAccepted { .. }))
        .count();
    assert_eq!(turned_down, if stops { step - 1 } else { 2 }, "{:?}", r.attempts);
    assert!(
        r.attempts
            .iter()
            .any(|a| a.model.as_str() == faulty && a.outcome.to_string().contains(want)),
        "{fault:?} at step {step}: {:?}",
        r.attempts
    );
}

#[tokio::test(start_paused = true)]
async fn a_fault_at_step_two_or_later_returns_the_best_answer_so_far() {
    for fault in [
        Fault::BadRequest,
        Fault::Deadline,
        Fault::BudgetRefusal,
        Fault::OpenBreaker,
    ] {
        for step in 2..=3 {
            run(fault, step).await;
        }
    }
}
