//! Unit and property tests of the breakers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::model::ModelId;
use crate::runtime::breaker::BreakerRegistry;
use crate::runtime::clock::{Clock, ManualClock};
use crate::{CostFirst, ModelSpec, Prices, Rejection, Router, TaskKind, TaskSpec};
use proptest::prelude::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn breaker(config: BreakerConfig) -> (Arc<CircuitBreaker>, Instant) {
    let t0 = Instant::now();
    (Arc::new(CircuitBreaker::new(ModelId::new("m"), config, t0)), t0)
}

#[test]
fn consecutive_failures_open_then_probe_closes() {
    let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(3));
    for _ in 0..3 {
        b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
    }
    assert_eq!(b.state(t0), BreakerState::Open);
    let err = b.try_acquire(t0 + secs(10)).unwrap_err();
    assert_eq!(err.retry_in, secs(20));
    assert!(err.to_string().contains("`m` is open"));
    // cool-down over: one probe at a time
    let t = t0 + secs(30);
    assert!(b.is_available(t));
    let p = b.try_acquire(t).unwrap();
    assert!(p.is_probe());
    assert!(!b.is_available(t));
    assert!(b.try_acquire(t).is_err());
    p.record(CallOutcome::Success, t);
    assert_eq!(b.state(t), BreakerState::Closed);
}

#[test]
fn failed_probe_reopens_and_dropped_probe_frees_slot() {
    let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(1));
    b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
    let t = t0 + secs(31);
    drop(b.try_acquire(t).unwrap());
    assert!(b.is_available(t), "a dropped probe frees its slot");
    b.try_acquire(t).unwrap().record(CallOutcome::Failure, t);
    assert_eq!(b.state(t), BreakerState::Open);
    assert_eq!(b.try_acquire(t + secs(29)).unwrap_err().retry_in, secs(1));
}

/// `n` calls at `t`, failures and successes in turn, a failure first.
fn alternate(b: &Arc<CircuitBreaker>, n: usize, t: Instant) {
    for i in 0..n {
        let o = if i % 2 == 0 {
            CallOutcome::Failure
        } else {
            CallOutcome::Success
        };
        b.try_acquire(t).unwrap().record(o, t);
    }
}

#[test]
fn failure_rate_needs_min_calls_and_forgets_old_buckets() {
    let cfg = BreakerConfig::default()
        .with_consecutive_failures(0)
        .with_failure_rate(0.5, 10, secs(10));
    let (b, t0) = breaker(cfg);
    // 4 failures, 5 successes: 9 calls < 10, stays closed
    alternate(&b, 9, t0);
    assert_eq!(b.state(t0), BreakerState::Closed);
    // 20 s later the old calls are out of the window: 9 more of the same stay closed
    let t = t0 + secs(20);
    alternate(&b, 9, t);
    assert_eq!(b.state(t), BreakerState::Closed);
    // the 10th call in the window, a failure: 6/10 failed
    b.try_acquire(t).unwrap().record(CallOutcome::Failure, t);
    assert_eq!(b.state(t), BreakerState::Open);
}

#[test]
fn neutral_outcomes_do_not_count_and_late_answers_are_ignored() {
    let (b, t0) = breaker(BreakerConfig::default().with_consecutive_failures(2));
    let slow = b.try_acquire(t0).unwrap();
    for _ in 0..5 {
        b.try_acquire(t0).unwrap().record(CallOutcome::Neutral, t0);
    }
    assert_eq!(b.state(t0), BreakerState::Closed);
    b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
    b.try_acquire(t0).unwrap().record(CallOutcome::Failure, t0);
    assert_eq!(b.state(t0), BreakerState::Open);
    // a call from before the trip answers late: it must not close the breaker
    let t = t0 + secs(31);
    slow.record(CallOutcome::Success, t);
    assert_eq!(b.state(t0 + secs(1)), BreakerState::Open);
}

#[test]
fn config_validation() {
    let no_rate = BreakerConfig {
        failure_rate: 0.0,
        ..BreakerConfig::default()
    };
    let no_probes = BreakerConfig::default().with_half_open_probes(0);
    // Each is refused by `validate`, which names the setting, and by the registry.
    for (c, setting) in [(no_rate, "failure_rate"), (no_probes, "half_open_probes")] {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(setting), "{e}");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
        assert!(BreakerRegistry::new(c, clock).is_err(), "{setting}");
    }
}

#[test]
fn registry_feeds_router_health_and_a_lone_model_trips() {
    let clock = ManualClock::new();
    let reg = Arc::new(
        BreakerRegistry::new(
            BreakerConfig::default().with_consecutive_failures(2),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let router = Router::builder()
        .model(ModelSpec::new("only", "p", Prices::new(1.0, 1.0), 100_000).with_default_quality(0.9))
        .policy(CostFirst::new(0.5).unwrap())
        .shared_health(reg.clone())
        .build()
        .unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 100);
    assert!(router.route(&task).is_ok());
    let id = ModelId::new("only");
    let b = reg.breaker(&id);
    for _ in 0..2 {
        b.try_acquire(clock.now())
            .unwrap()
            .record(CallOutcome::Failure, clock.now());
    }
    assert_eq!(reg.state(&id), BreakerState::Open);
    match router.route(&task) {
        Err(crate::Error::NoEligibleModel { rejections, .. }) => {
            assert_eq!(rejections, vec![(id.clone(), Rejection::Unhealthy)]);
        }
        other => panic!("expected the lone model to be out, got {other:?}"),
    }
    clock.advance(secs(30));
    assert_eq!(reg.state(&id), BreakerState::HalfOpen);
    assert!(router.route(&task).is_ok(), "after the cool-down a probe may go");
}

#[derive(Clone, Debug)]
enum Op {
    Acquire,
    Finish(usize, u8),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Acquire),
        4 => (any::<usize>(), 0u8..3).prop_map(|(i, o)| Op::Finish(i, o)),
        1 => (0u64..40_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Against any interleaving of calls, outcomes and time:
    /// - `is_available` agrees with what `try_acquire` does;
    /// - half-open never has more probes in flight than configured;
    /// - an open breaker refuses every call until its cool-down ends;
    /// - it never goes from open to closed without a successful probe;
    /// - `consecutive_failures` failures in a row while closed always open it.
    #[test]
    fn state_machine_invariants(
        ops in proptest::collection::vec(op(), 1..200),
        probes in 1u32..4,
        consecutive in 1u32..6,
    ) {
        let cfg = BreakerConfig::default()
            .with_consecutive_failures(consecutive)
            .with_failure_rate(0.5, 8, secs(10))
            .with_open_for(secs(5))
            .with_half_open_probes(probes);
        let (b, t0) = breaker(cfg);
        let mut now = t0;
        let mut permits: Vec<BreakerPermit> = Vec::new();
        let mut run_of_failures = 0u32; // closed-state permits failed in a row, same generation
        let mut was_open = false;
        let mut probe_succeeded = false;
        for op in ops {
            let before = b.state(now);
            match op {
                Op::Acquire => {
                    let avail = b.is_available(now);
                    let r = b.try_acquire(now);
                    prop_assert_eq!(avail, r.is_ok(), "is_available disagrees with try_acquire");
                    if before == BreakerState::Open {
                        prop_assert!(r.is_err(), "open breaker let a call through");
                    }
                    if let Ok(p) = r { permits.push(p); }
                }
                Op::Finish(i, o) if !permits.is_empty() => {
                    let p = permits.swap_remove(i % permits.len());
                    let probe = p.is_probe();
                    let outcome = [CallOutcome::Success, CallOutcome::Failure, CallOutcome::Neutral][o as usize];
                    let closed_before = before == BreakerState::Closed;
                    let fresh = p.generation == b.lock().generation;
                    p.record(outcome, now);
                    if probe && outcome == CallOutcome::Success { probe_succeeded = true; }
                    if !probe && closed_before && fresh {
                        match outcome {
                            CallOutcome::Failure => run_of_failures += 1,
                            CallOutcome::Success => run_of_failures = 0,
                            _ => {}
                        }
                        if run_of_failures >= consecutive {
                            prop_assert_eq!(b.state(now), BreakerState::Open);
                        }
                    }
                }
                Op::Finish(..) => {}
                Op::Advance(ms) => now += Duration::from_millis(ms),
            }
            let after = b.state(now);
            if after != BreakerState::Closed { run_of_failures = 0; }
            if after == BreakerState::Open { was_open = true; probe_succeeded = false; }
            if was_open && after == BreakerState::Closed {
                prop_assert!(probe_succeeded, "closed again without a successful probe");
                was_open = false;
            }
            if let State::HalfOpen { in_flight, .. } = b.lock().state {
                prop_assert!(in_flight <= probes);
            }
        }
    }
}
