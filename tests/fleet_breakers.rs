//! Circuit breakers shared through Redis (scripts/setup-redis.sh): two replicas in one test
//! process, each with its own registry, connection and sync task.

mod fleet_support;
mod log_capture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use taskroute::Health;
use taskroute::ModelId;
use taskroute::fleet::{FleetBreakerState, FleetBreakers};
use taskroute::runtime::{BreakerConfig, BreakerRegistry, CallOutcome, Clock, TokioClock};

struct Replica {
    registry: Arc<BreakerRegistry>,
    fleet: FleetBreakers,
    task: tokio::task::JoinHandle<()>,
}

fn replica(url: &str, prefix: &str, config: BreakerConfig) -> Replica {
    let fleet = FleetBreakers::builder(fleet_support::redis(url), config)
        .key_prefix(prefix, "breakers")
        .refresh(Duration::from_millis(100))
        .probe_lease(Duration::from_secs(30))
        .build()
        .unwrap();
    let registry = fleet_support::registry_shared_by(&fleet, config);
    let task = fleet.spawn(Arc::clone(&registry));
    Replica {
        registry,
        fleet,
        task,
    }
}

/// `N` replicas sharing their breakers under a key prefix of `test`'s own.
fn replicas<const N: usize>(url: &str, test: &str, config: BreakerConfig) -> [Replica; N] {
    let prefix = fleet_support::fresh_prefix(test);
    std::array::from_fn(|_| replica(url, &prefix, config))
}

fn fail(r: &Replica, model: &ModelId, n: usize) {
    for _ in 0..n {
        if let Ok(p) = r.registry.breaker(model).try_acquire(TokioClock.now()) {
            p.record(CallOutcome::Failure, TokioClock.now());
        }
    }
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_opened_in_one_replica_is_avoided_by_the_other_and_probed_once() {
    let url = redis_or_skip!();
    let config = BreakerConfig::default()
        .with_consecutive_failures(3)
        .with_open_for(Duration::from_millis(800));
    let [a, b] = replicas(&url, "breakers", config);
    let m = ModelId::from("gpt-x");
    // both know the model, closed
    b.registry.breaker(&m);
    fail(&a, &m, 1);
    until("the fleet knows the model", Duration::from_secs(2), || {
        b.fleet.fleet_state(&m).is_some()
    })
    .await;
    assert!(b.registry.is_available(&m));

    fail(&a, &m, 2); // a's third consecutive failure: a opens
    assert!(!a.registry.is_available(&m));
    let took = until("b avoids the model", Duration::from_secs(1), || {
        !b.registry.is_available(&m)
    })
    .await;
    println!("opened in a, avoided by b after {took:?}");
    assert!(matches!(
        b.fleet.fleet_state(&m),
        Some(FleetBreakerState::Open(_))
    ));

    // after the cool-down, exactly one probe runs fleet-wide: keep asking from both sides and
    // hold every permit granted
    let mut permits = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2_500) {
        for r in [&a, &b] {
            if let Ok(p) = r.registry.breaker(&m).try_acquire(TokioClock.now()) {
                assert!(p.is_probe(), "a call passed a breaker the fleet holds open");
                permits.push((std::ptr::eq(r, &a), p));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(permits.len(), 1, "probes granted: {}", permits.len());
    // the probe succeeds: the model is closed again everywhere
    let (_, probe) = permits.pop().unwrap();
    probe.record(CallOutcome::Success, TokioClock.now());
    until("both use the model again", Duration::from_secs(1), || {
        a.registry.is_available(&m) && b.registry.is_available(&m)
    })
    .await;
    assert_eq!(a.fleet.fleet_opens(&m), 1);
    a.task.abort();
    b.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_replicas_trip_the_fleet() {
    let url = redis_or_skip!();
    // 60 % failures over at least 20 calls trips; no replica alone sees 20 calls
    let config = BreakerConfig::default()
        .with_consecutive_failures(0)
        .with_failure_rate(0.6, 20, Duration::from_secs(30));
    let rs: [Replica; 3] = replicas(&url, "breakers-rate", config);
    let m = ModelId::from("flaky");
    for r in &rs {
        for i in 0..8 {
            let p = r.registry.breaker(&m).try_acquire(TokioClock.now()).unwrap();
            let outcome = if i % 4 == 0 {
                CallOutcome::Success
            } else {
                CallOutcome::Failure
            };
            p.record(outcome, TokioClock.now());
        }
        assert!(r.registry.is_available(&m), "no replica trips alone");
    }
    until("every replica avoids the model", Duration::from_secs(1), || {
        rs.iter().all(|r| !r.registry.is_available(&m))
    })
    .await;
    for r in rs {
        r.task.abort();
    }
}

/// Redis away (nothing listens on the port): the replica's own breakers go on (a local trip
/// opens the model, a failing sync does not undo it) and one `warn` event says the breakers are
/// local only. Needs no Redis.
#[tokio::test]
async fn without_redis_the_local_breakers_go_on_and_say_so() {
    // The others' replicas reach Redis, so they do not warn.
    let logs = log_capture::capture(tracing::Level::INFO);
    let url = format!("redis://127.0.0.1:{}/", fleet_support::unused_port());
    let r = replica(
        &url,
        "nowhere",
        BreakerConfig::default().with_consecutive_failures(3),
    );
    let m = ModelId::from("gpt-x");
    fail(&r, &m, 3);
    assert!(!r.registry.is_available(&m), "a local trip opens the model");
    let warned = || {
        let logs = logs.text();
        let n = logs
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("breakers are local only"))
            .count();
        (n, logs)
    };
    until("the warning", Duration::from_secs(5), || warned().0 > 0).await;
    // several more refresh periods (100 ms), every sync failing: said once
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !r.registry.is_available(&m),
        "a failed sync reset the local breaker"
    );
    let (n, logs) = warned();
    assert_eq!(n, 1, "{logs}");
    r.task.abort();
}
