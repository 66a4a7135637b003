//! Statistics and online arms shared through Redis (scripts/setup-redis.sh): replicas in one
//! test process, each with its own `RuntimeStats`, `OnlineEstimator` and connection; syncs are
//! called by hand so the order is known.

mod fleet_support;

use std::sync::Arc;
use std::time::Duration;

use taskroute::fleet::{FleetError, FleetRedis, FleetStats};
use taskroute::learn::{OnlineConfig, OnlineEstimator};
use taskroute::runtime::{RuntimeStats, StatsConfig, TokioClock};
use taskroute::{LatencyProfile, ModelSpec, Prices, TaskKind, TaskSpec};

struct Replica {
    stats: Arc<RuntimeStats>,
    online: Arc<OnlineEstimator>,
    fleet: FleetStats,
}

fn replica_on(redis: FleetRedis, prefix: &str) -> Replica {
    let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(TokioClock)).unwrap());
    let online = Arc::new(OnlineEstimator::new(OnlineConfig::default()));
    let fleet = FleetStats::builder(redis)
        .key_prefix(prefix, "stats")
        .runtime_stats(Arc::clone(&stats))
        .online(Arc::clone(&online))
        // one bucket for the whole test: every call weighs the same
        .window(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    Replica { stats, online, fleet }
}

fn replica(url: &str, prefix: &str) -> Replica {
    replica_on(fleet_support::redis(url), prefix)
}

/// 1000 ms predicted (800 ms + 200 tokens at 1000/s); a call of `ms` has slowdown `ms / 1000`.
fn model() -> ModelSpec {
    ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 100_000).with_latency(LatencyProfile::new(800.0, 1000.0))
}

fn calls(r: &Replica, ms: u64, ok: usize, failed: usize) {
    let m = model();
    for _ in 0..ok {
        r.stats.record_success(&m, Duration::from_millis(ms), 200);
    }
    for _ in 0..failed {
        r.stats.record_failure(&m.id);
    }
}

fn feedback(r: &Replica, outcome: f64, n: usize) {
    let task = TaskSpec::new(TaskKind::Chat, 10);
    for _ in 0..n {
        r.online.observe(&task, &model().id, outcome, 0.001).unwrap();
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[tokio::test]
async fn two_replicas_converge_on_the_fleets_figures() {
    let url = redis_or_skip!();
    let prefix = fleet_support::fresh_prefix("stats-converge");
    let (a, b) = (replica(&url, &prefix), replica(&url, &prefix));
    let id = model().id;
    // A: 10 calls at 300 ms and 5 failures; B: 10 calls at 900 ms
    calls(&a, 300, 10, 5);
    calls(&b, 900, 10, 0);
    feedback(&a, 1.0, 30);
    feedback(&b, 0.0, 10);
    let alone = a.stats.get(&id).unwrap();
    assert!(close(alone.latency_ms, 300.0, 1e-6));
    for r in [&a, &b, &a] {
        r.fleet.sync().await.unwrap();
    }
    let (sa, sb) = (a.stats.get(&id).unwrap(), b.stats.get(&id).unwrap());
    println!("A {sa:?}\nB {sb:?}");
    // the fleet's means over all 20 successful calls, its share of failures (5 of 25)
    for s in [sa, sb] {
        assert!(close(s.latency_ms, 600.0, 1e-6), "{s:?}");
        assert!(close(s.slowdown, 0.6, 1e-9), "{s:?}");
        assert!(close(s.error_rate, 0.2, 1e-3), "{s:?}");
    }
    // the arms: 40 observations, 30 successes, in both
    for r in [&a, &b] {
        assert_eq!(r.online.observations_of(&TaskKind::Chat, &id), 40);
        assert_eq!(r.online.posterior_mean(&TaskKind::Chat, &id), Some(0.75));
    }
    // local calls move the local figures on from the fleet's until the next sync
    calls(&b, 2000, 1, 0);
    assert!(b.stats.get(&id).unwrap().latency_ms > 600.0);
    b.fleet.sync().await.unwrap();
    a.fleet.sync().await.unwrap();
    let want = (300.0 * 10.0 + 900.0 * 10.0 + 2000.0) / 21.0;
    for r in [&a, &b] {
        assert!(close(r.stats.get(&id).unwrap().latency_ms, want, 1e-6));
    }
}

#[tokio::test]
async fn a_restarted_replica_starts_from_what_the_fleet_knows() {
    let url = redis_or_skip!();
    let prefix = fleet_support::fresh_prefix("stats-restart");
    let a = replica(&url, &prefix);
    let id = model().id;
    calls(&a, 2500, 8, 2);
    feedback(&a, 0.0, 20);
    a.fleet.sync().await.unwrap();
    // a new process: nothing of its own
    let fresh = replica(&url, &prefix);
    assert!(fresh.stats.get(&id).is_none());
    assert_eq!(fresh.stats.slowdown(&id), None);
    assert_eq!(fresh.online.observations(), 0);
    let read = fresh.fleet.sync().await.unwrap();
    assert_eq!((read.models, read.arms), (1, 1));
    let s = fresh.stats.get(&id).unwrap();
    assert!(close(s.latency_ms, 2500.0, 1e-6), "{s:?}");
    assert!(close(s.error_rate, 0.2, 1e-3), "{s:?}");
    // enough samples fleet-wide (8 >= 3) for the slowdown to be used at once
    assert!(close(fresh.stats.slowdown(&id).unwrap(), 2.5, 1e-9));
    assert_eq!(fresh.online.observations_of(&TaskKind::Chat, &id), 20);
    assert_eq!(fresh.online.posterior_mean(&TaskKind::Chat, &id), Some(0.0));
}

#[tokio::test]
async fn without_redis_the_figures_stay_local_and_are_sent_later() {
    let url = redis_or_skip!();
    let prefix = fleet_support::fresh_prefix("stats-down");
    // nothing listens on this port (bound, then dropped)
    let port = fleet_support::unused_port();
    let down = fleet_support::redis_within(&format!("redis://127.0.0.1:{port}/"), Duration::from_millis(200));
    let a = replica_on(down, &prefix);
    let id = model().id;
    calls(&a, 400, 5, 1);
    feedback(&a, 1.0, 4);
    let err = a.fleet.sync().await.unwrap_err();
    assert!(
        matches!(err, FleetError::Unavailable { .. } | FleetError::Timeout { .. }),
        "{err:?}"
    );
    // the local figures are untouched, and go on moving
    let s = a.stats.get(&id).unwrap();
    assert!(close(s.latency_ms, 400.0, 1e-6));
    calls(&a, 400, 1, 0);
    assert_eq!(a.stats.get(&id).unwrap().successes, 6);
    assert_eq!(a.online.observations(), 4);
    // the same statistics synced through a live connection: what was recorded while Redis was
    // away reaches the fleet (restored after the failed sync, not lost)
    let live = FleetStats::builder(fleet_support::redis(&url))
        .key_prefix(&prefix, "stats")
        .runtime_stats(Arc::clone(&a.stats))
        .online(Arc::clone(&a.online))
        .window(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    live.sync().await.unwrap();
    let fresh = replica(&url, &prefix);
    fresh.fleet.sync().await.unwrap();
    let s = fresh.stats.get(&id).unwrap();
    assert!(close(s.latency_ms, 400.0, 1e-6), "{s:?}");
    assert!(close(s.error_rate, 1.0 / 7.0, 1e-3), "{s:?}");
    assert_eq!(fresh.online.observations_of(&TaskKind::Chat, &id), 4);
    // the background task keeps going while Redis is away (and never panics)
    let task = a.fleet.spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished());
    task.abort();
}

#[tokio::test]
async fn a_server_that_is_not_redis_gives_typed_errors_never_a_panic() {
    // Besides the common ones, two malformed arrays.
    let replies: [(&[u8], bool); 2] = [
        (b"*2\r\n*1\r\n*2\r\n:0\r\n*2\r\n$3\r\nx:m\r\n:1\r\n*0\r\n", false),
        (b"*2\r\n*0\r\n*2\r\n$9\r\ns\nchat\nm\r\n$3\r\nnan\r\n", false),
    ];
    for (reply, hang_up) in fleet_support::NOT_REDIS.into_iter().chain(replies) {
        let redis = fleet_support::impostor(reply, hang_up).await;
        let r = replica_on(redis, "impostor");
        calls(&r, 500, 3, 0);
        feedback(&r, 1.0, 2);
        let err = r.fleet.sync().await.unwrap_err();
        println!("{}: {err}", String::from_utf8_lossy(reply));
        // the local figures are still there
        assert!(close(r.stats.get(&model().id).unwrap().latency_ms, 500.0, 1e-6));
        assert_eq!(r.online.observations(), 2);
    }
}

#[test]
fn settings_are_checked() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let redis = || FleetRedis::open("redis://127.0.0.1:1/").unwrap();
    assert!(
        FleetStats::builder(redis())
            .refresh(Duration::from_millis(1))
            .build()
            .is_err()
    );
    assert!(
        FleetStats::builder(redis())
            .window(Duration::from_secs(1), Duration::from_secs(10))
            .build()
            .is_err()
    );
    assert!(
        FleetStats::builder(redis())
            .window(Duration::from_secs(100_000), Duration::from_millis(10))
            .build()
            .is_err()
    );
    assert!(
        FleetStats::builder(redis())
            .key_prefix("a{", "t")
            .build()
            .is_err()
    );
    let ok = FleetStats::builder(redis()).build().unwrap();
    assert!(format!("{ok:?}").starts_with("FleetStats"));
}
