//! The shared deployment limiter (`RedisLimiter`) against the Redis from scripts/setup-redis.sh:
//! two replicas share one deployment's limits; each admission is one script call (counted in
//! the server's `INFO commandstats`); corrections, learning and pauses reach every replica.
#![cfg(feature = "redis")]

mod fleet_support;

use std::time::{Duration, Instant};

use fleet_support::fresh_prefix;
use taskroute::fleet::{FleetRedis, RedisLimiter};
use taskroute::provider::{LimitWindow, RateLimits};
use taskroute::runtime::{DeploymentId, DeploymentLimits, Limiter, Refusal};

/// Two replicas' limiters of one deployment, under a key prefix of `test`'s own.
fn replicas(url: &str, test: &str, limits: DeploymentLimits) -> (RedisLimiter, RedisLimiter) {
    let (prefix, id) = (fresh_prefix(test), DeploymentId::new("east"));
    let make = || RedisLimiter::new(FleetRedis::open(url).unwrap(), &prefix, &id, limits).unwrap();
    (make(), make())
}

/// [`replicas`] that also share the deployment's concurrency, each admission leased for `lease`.
fn replicas_sharing_concurrency(
    url: &str,
    test: &str,
    limits: DeploymentLimits,
    lease: Duration,
) -> (RedisLimiter, RedisLimiter) {
    let (a, b) = replicas(url, test, limits);
    let share = |l: RedisLimiter| l.shared_concurrency(lease).unwrap();
    (share(a), share(b))
}

async fn acquire(l: &RedisLimiter, tokens: u64) -> Result<(), Refusal> {
    l.acquire(tokens, Instant::now()).decided().await
}

/// The tests of this file one at a time: the round-trip count reads server-wide statistics.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lets the background updates (settle, learn, throttle) land.
async fn settle_down() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn two_replicas_share_one_rpm_limit_one_round_trip_each() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    let (a, b) = replicas(&url, "limiter_rpm", DeploymentLimits::none().rpm(10));
    // Warm the script cache (the first call may load it).
    acquire(&a, 0).await.unwrap();
    let before = fleet_support::script_calls(&url).await;
    let mut granted = 1;
    let t0 = Instant::now();
    for i in 0..19 {
        let l = if i % 2 == 0 { &a } else { &b };
        if acquire(l, 0).await.is_ok() {
            granted += 1;
        }
    }
    let took = t0.elapsed();
    let after = fleet_support::script_calls(&url).await;
    eprintln!(
        "shared admission: {} script calls for 19 checks, {:.0} µs each on average (loopback Redis)",
        after - before,
        took.as_secs_f64() * 1e6 / 19.0
    );
    assert_eq!(granted, 10, "the two replicas together took more than the limit");
    assert_eq!(after - before, 19, "one script call per admission");
    match acquire(&b, 0).await {
        Err(Refusal::Requests { retry_after }) => {
            assert!(
                retry_after > Duration::from_secs(5) && retry_after <= Duration::from_secs(6),
                "{retry_after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tokens_are_corrected_and_learning_and_pauses_are_shared() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    let (a, b) = replicas(&url, "limiter_tpm", DeploymentLimits::none().tpm(1000));
    acquire(&a, 600).await.unwrap();
    assert!(matches!(
        acquire(&b, 600).await,
        Err(Refusal::Tokens { tokens: 600, .. })
    ));
    // a's call used 200: 400 come back, for b too.
    a.settle(600, Some(200), Instant::now());
    settle_down().await;
    acquire(&b, 600).await.unwrap();
    b.settle(600, Some(600), Instant::now());
    assert!(matches!(
        acquire(&a, 2000).await,
        Err(Refusal::TooLarge {
            tokens: 2000,
            tpm: 1000
        })
    ));
    // a learns from a provider's headers that only 1 request is left of 5 per minute: b obeys.
    a.learn(
        &RateLimits::new(Some(LimitWindow::new(5, 1)), None),
        Instant::now(),
    );
    settle_down().await;
    acquire(&b, 1).await.unwrap();
    assert!(matches!(acquire(&b, 1).await, Err(Refusal::Requests { .. })));
    // A 429 seen by b pauses the deployment for a as well.
    let (c, d) = replicas(&url, "limiter_pause", DeploymentLimits::none());
    c.throttled(Some(Duration::from_secs(30)), Instant::now());
    settle_down().await;
    match acquire(&d, 1).await {
        Err(Refusal::Throttled { retry_after }) => assert!(retry_after > Duration::from_secs(29)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_configured_limit_is_a_ceiling_for_what_is_learned() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    // Configured 3 per minute on a key the provider allows 600: a learns the provider's
    // figure, and the fleet still takes 3.
    let (a, b) = replicas(&url, "limiter_cap", DeploymentLimits::none().rpm(3));
    acquire(&a, 1).await.unwrap();
    a.learn(
        &RateLimits::new(Some(LimitWindow::new(600, 599)), None),
        Instant::now(),
    );
    settle_down().await;
    acquire(&b, 1).await.unwrap();
    acquire(&a, 1).await.unwrap();
    assert!(matches!(acquire(&b, 1).await, Err(Refusal::Requests { .. })));
}

#[tokio::test]
async fn shared_concurrency_holds_for_the_fleet_and_a_crashed_replica_gives_its_slots_back() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    let limits = DeploymentLimits::none().max_concurrency(2);
    let (a, b) = replicas_sharing_concurrency(&url, "limiter_conc", limits, Duration::from_secs(1));
    acquire(&a, 0).await.unwrap();
    acquire(&b, 0).await.unwrap();
    // Two calls in flight in the fleet: neither replica may start a third (each has only one).
    assert_eq!(acquire(&a, 0).await, Err(Refusal::Concurrency { max: 2 }));
    assert_eq!(acquire(&b, 0).await, Err(Refusal::Concurrency { max: 2 }));
    // a's call ends: its slot is free for b.
    a.settle(0, Some(0), Instant::now());
    settle_down().await;
    acquire(&b, 0).await.unwrap();
    assert_eq!(acquire(&a, 0).await, Err(Refusal::Concurrency { max: 2 }));
    // b crashes with two calls in flight: their leases end after 1 s and the slots come back.
    drop(b);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    acquire(&a, 0).await.unwrap();
    acquire(&a, 0).await.unwrap();
    assert_eq!(acquire(&a, 0).await, Err(Refusal::Concurrency { max: 2 }));

    // Without shared concurrency each replica counts its own: 2 + 2 in flight.
    let (c, d) = replicas(&url, "limiter_conc_local", limits);
    for l in [&c, &c, &d, &d] {
        acquire(l, 0).await.unwrap();
    }
    assert_eq!(acquire(&c, 0).await, Err(Refusal::Concurrency { max: 2 }));
}

#[tokio::test]
async fn an_admission_dropped_before_its_answer_frees_its_slot() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    let (a, _) = replicas(&url, "limiter_drop", DeploymentLimits::none().max_concurrency(1));
    let mut pending = Box::pin(a.acquire(0, Instant::now()).decided());
    // Pending on its first poll (the answer needs the connection's task to run): when it was
    // not, this test checked nothing.
    assert!(futures::poll!(&mut pending).is_pending());
    assert_eq!(a.capacity(Instant::now()).in_flight, 1);
    // The caller gives up during the round trip (its request was dropped).
    drop(pending);
    assert_eq!(a.capacity(Instant::now()).in_flight, 0);
    acquire(&a, 0).await.unwrap();
}

/// Fails on the code before the fix (checked): the fleet's lease of an admission whose answer
/// was never read stayed in Redis until it ended (here 60 s), so the fleet lost the slot.
#[tokio::test]
async fn a_shared_admission_dropped_after_redis_ran_it_gives_the_fleet_its_slot_back() {
    let _serial = SERIAL.lock().await;
    let url = redis_or_skip!();
    let (a, b) = replicas_sharing_concurrency(
        &url,
        "limiter_drop_shared",
        DeploymentLimits::none().max_concurrency(1),
        Duration::from_secs(60),
    );
    // Connected, and the script loaded: the next admission is sent on its first poll.
    acquire(&a, 0).await.unwrap();
    a.settle(0, Some(0), Instant::now());
    settle_down().await;
    // Polled once (queued), left while the connection sends it and Redis runs it (taking the
    // fleet's one slot), then dropped with its answer unread.
    let mut pending = Box::pin(a.acquire(0, Instant::now()).decided());
    assert!(futures::FutureExt::now_or_never(&mut pending).is_none());
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(pending);
    assert_eq!(a.capacity(Instant::now()).in_flight, 0);
    // The other replica gets the slot soon, long before the lease would end.
    let t0 = std::time::Instant::now();
    while let Err(r) = acquire(&b, 0).await {
        assert_eq!(r, Refusal::Concurrency { max: 1 });
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "the dropped admission still holds the fleet's slot"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // b now holds the one slot: the fleet's limit still holds.
    assert_eq!(acquire(&a, 0).await, Err(Refusal::Concurrency { max: 1 }));
}

#[tokio::test]
async fn redis_away_refuses_the_call() {
    let _serial = SERIAL.lock().await;
    let _ = redis_or_skip!();
    // A port nobody listens on.
    let port = fleet_support::unused_port();
    let redis = FleetRedis::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
    let l = RedisLimiter::new(
        redis,
        "t",
        &DeploymentId::new("x"),
        DeploymentLimits::none().max_concurrency(1),
    )
    .unwrap();
    assert_eq!(acquire(&l, 1).await, Err(Refusal::StoreUnavailable));
    // The refused call gave its concurrency slot back.
    assert_eq!(l.capacity(Instant::now()).in_flight, 0);
}
