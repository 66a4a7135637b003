//! RedisBudgetStore against a real Redis (scripts/setup-redis.sh): the store's promises one by
//! one, a model check against InMemoryBudgetStore, and replies from servers that are not Redis.

mod fleet_support;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use taskroute::fleet::{FleetError, FleetRedis, RedisBudgetStore, RedisUnavailable};
use taskroute::runtime::{
    BudgetCap, BudgetError, BudgetScope, BudgetStore, InMemoryBudgetStore, ManualClock, Reservation,
};

const G: [BudgetScope; 1] = [BudgetScope::Global];

fn fleet_error(e: &BudgetError) -> &FleetError {
    match e {
        BudgetError::Store(inner) => inner
            .downcast_ref::<FleetError>()
            .unwrap_or_else(|| panic!("not a FleetError: {e}")),
        other => panic!("expected a store error, got {other}"),
    }
}

#[tokio::test]
async fn reserve_settle_release_refuse_all_or_nothing() {
    let url = redis_or_skip!();
    let s = fleet_support::store(&url, "basic")
        .cap(BudgetScope::Global, BudgetCap::total(1.0))
        .tenant_cap(BudgetCap::total(0.5))
        .build()
        .unwrap();
    let acme = [BudgetScope::Global, BudgetScope::tenant("acme")];
    let a = s.reserve(&acme, 0.4).await.unwrap();
    // the tenant refuses; the refused call took nothing globally
    let err = s.reserve(&acme, 0.2).await.unwrap_err();
    assert!(err.to_string().contains("tenant `acme`"), "{err}");
    let g = s.usage(&BudgetScope::Global).await.unwrap().unwrap();
    assert_eq!((g.spent_usd, g.reserved_usd), (0.0, 0.4));
    // another tenant has its own cap, and the global cap refuses next
    let b = s
        .reserve(&[BudgetScope::Global, BudgetScope::tenant("zeta")], 0.5)
        .await
        .unwrap();
    let err = s.reserve(&G, 0.2).await.unwrap_err();
    assert!(matches!(err, BudgetError::Exceeded { ref scope, .. } if *scope == BudgetScope::Global));
    // settle twice: applied once
    s.settle(&a, 0.25).await.unwrap();
    s.settle(&a, 0.25).await.unwrap();
    s.release(&b).await.unwrap();
    s.release(&b).await.unwrap();
    let g = s.usage(&BudgetScope::Global).await.unwrap().unwrap();
    assert_eq!((g.spent_usd, g.reserved_usd, g.overrun_usd), (0.25, 0.0, 0.0));
    assert_eq!(s.remaining(&acme).await.unwrap(), Some(0.25));
    assert_eq!(s.held().await.unwrap(), 0);
    // an overrun is recorded, and reported
    let c = s.reserve(&G, 0.1).await.unwrap();
    s.settle(&c, 0.3).await.unwrap();
    let g = s.usage(&BudgetScope::Global).await.unwrap().unwrap();
    assert!(
        (g.spent_usd - 0.55).abs() < 1e-12 && (g.overrun_usd - 0.2).abs() < 1e-12,
        "{g:?}"
    );
    // uncapped scopes need no round trip and are no limit
    assert_eq!(s.remaining(&[BudgetScope::key("k")]).await.unwrap(), None);
    let free = s.reserve(&[BudgetScope::key("k")], 5.0).await.unwrap();
    s.settle(&free, 5.0).await.unwrap();
}

#[tokio::test]
async fn leases_end_and_window_keys_expire() {
    let url = redis_or_skip!();
    let s = fleet_support::store(&url, "lease")
        .cap(
            BudgetScope::Global,
            BudgetCap::per(1.0, Duration::from_millis(700)),
        )
        .lease(Duration::from_millis(300))
        .build()
        .unwrap();
    // a reservation nobody settles (its process died) blocks the cap until its lease ends
    let _lost = s.reserve(&G, 1.0).await.unwrap();
    assert!(matches!(
        s.reserve(&G, 0.1).await,
        Err(BudgetError::Exceeded { .. })
    ));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = s.reserve(&G, 0.6).await.unwrap();
    assert_eq!(s.held().await.unwrap(), 1, "the expired lease was dropped");
    s.settle(&r, 0.6).await.unwrap();
    // the window's key goes once its window and every lease on it are over
    let raw = redis::Client::open(url.as_str()).unwrap();
    let mut c = raw.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*scope*", s_prefix(&s)))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 1_000, "ttl {ttl}");
    tokio::time::sleep(Duration::from_millis(ttl as u64 + 50)).await;
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(s.remaining(&G).await.unwrap(), Some(1.0));
}

#[tokio::test]
async fn a_reserve_dropped_before_redis_answers_is_given_back() {
    let url = redis_or_skip!();
    let s = fleet_support::store(&url, "dropped")
        .cap(BudgetScope::Global, BudgetCap::total(1.0))
        .build()
        .unwrap();
    // Connected, and the script loaded: the next reserve is sent on its first poll.
    let warm = s.reserve(&G, 0.1).await.unwrap();
    s.release(&warm).await.unwrap();
    // Polled once (queued), left while the connection sends it and Redis runs it, then
    // dropped with its answer unread: a request whose deadline ran out while it reserved, or
    // whose caller gave up. (A command whose future is dropped before the connection takes
    // it from the queue is never sent.)
    let mut fut = s.reserve(&G, 0.5);
    assert!(futures::FutureExt::now_or_never(&mut fut).is_none());
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(fut);
    let g = s.usage(&BudgetScope::Global).await.unwrap().unwrap();
    assert_eq!(
        g.reserved_usd, 0.5,
        "the dropped reserve did not run: the test shows nothing"
    );
    // Given back in the background, long before the (2-minute) lease ends.
    let t0 = std::time::Instant::now();
    while s.usage(&BudgetScope::Global).await.unwrap().unwrap().reserved_usd > 0.0 {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "the dropped reservation is still held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.held().await.unwrap(), 0);
    assert_eq!(s.remaining(&G).await.unwrap(), Some(1.0));
}

/// Fails on the code before the fix: every reservation was held for the store's whole lease
/// (here 60 s), whatever its request's deadline.
#[tokio::test]
async fn a_reservation_is_leased_for_its_requests_deadline_plus_a_margin() {
    let url = redis_or_skip!();
    let s = fleet_support::store(&url, "deadline-lease")
        .cap(BudgetScope::Global, BudgetCap::total(1.0))
        .lease(Duration::from_secs(60))
        .lease_margin(Duration::from_millis(200))
        .build()
        .unwrap();
    // A request with 300 ms left takes the whole cap, and its process dies.
    let t0 = std::time::Instant::now();
    let _lost = s
        .reserve_within(&G, 1.0, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(matches!(
        s.reserve(&G, 0.1).await,
        Err(BudgetError::Exceeded { .. })
    ));
    // Back after 300 ms + 200 ms, not after 60 s.
    loop {
        match s.reserve_within(&G, 0.1, Duration::from_secs(1)).await {
            Ok(r) => {
                s.release(&r).await.unwrap();
                break;
            }
            Err(BudgetError::Exceeded { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "still held after {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(t0.elapsed() >= Duration::from_millis(480), "{:?}", t0.elapsed());
    // Without a deadline, the store's lease.
    let kept = s.reserve(&G, 1.0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(s.held().await.unwrap(), 1);
    s.release(&kept).await.unwrap();
}

/// The key prefix of a store, read from its Debug output.
fn s_prefix(s: &RedisBudgetStore) -> String {
    let d = format!("{s:?}");
    let start = d.find("keys: ").unwrap() + 6;
    let end = d[start..].find(", caps").unwrap() + start;
    d[start..end].to_owned()
}

#[tokio::test]
async fn a_server_that_is_not_redis_gives_typed_errors_never_a_panic() {
    let replies: [(&[u8], bool); 5] = [
        (b"$9223372036854775807\r\n", true),
        (b"%-5\r\n", true),
        (b"-ERR unknown command\r\n", false),
        (b"*1\r\n*1\r\n*1\r\n*1\r\n", false),
        (b"", false),
    ];
    for (reply, close) in fleet_support::NOT_REDIS.into_iter().chain(replies) {
        let redis = fleet_support::impostor(reply, close).await;
        let s = RedisBudgetStore::builder(redis)
            .cap(BudgetScope::Global, BudgetCap::total(1.0))
            .build()
            .unwrap();
        let t0 = std::time::Instant::now();
        let err = s.reserve(&G, 0.1).await.unwrap_err();
        let _ = fleet_error(&err);
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "{reply:?}: took {:?}",
            t0.elapsed()
        );
        let fake = Reservation::from_nanos(5, vec![BudgetScope::Global], 1_000);
        assert!(s.settle(&fake, 0.1).await.is_err(), "{reply:?}");
        assert!(s.remaining(&G).await.is_err(), "{reply:?}");
        assert!(s.usage(&BudgetScope::Global).await.is_err());
    }
}

#[tokio::test]
async fn fail_open_uses_the_stated_local_cap_and_fail_closed_refuses() {
    // nothing listens on this port (bound, then dropped)
    let port = fleet_support::unused_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let redis = fleet_support::redis_within(&url, Duration::from_millis(200));
    let closed = RedisBudgetStore::builder(redis.clone())
        .cap(BudgetScope::Global, BudgetCap::total(10.0))
        .build()
        .unwrap();
    let err = closed.reserve(&G, 0.1).await.unwrap_err();
    assert!(
        matches!(
            fleet_error(&err),
            FleetError::Unavailable { .. } | FleetError::Timeout { .. }
        ),
        "{err}"
    );
    let open = RedisBudgetStore::builder(redis)
        .cap(BudgetScope::Global, BudgetCap::total(10.0))
        .on_unavailable(RedisUnavailable::FailOpen {
            local_cap: BudgetCap::total(0.3),
        })
        .build()
        .unwrap();
    let a = open.reserve(&G, 0.2).await.unwrap();
    let refused = open.reserve(&G, 0.2).await.unwrap_err();
    assert!(matches!(refused, BudgetError::Exceeded { .. }), "{refused}");
    open.settle(&a, 0.1).await.unwrap();
    let b = open.reserve(&G, 0.2).await.unwrap();
    open.release(&b).await.unwrap();
    assert!((open.remaining(&G).await.unwrap().unwrap() - 0.2).abs() < 1e-12);
}

#[test]
fn bad_settings_are_refused() {
    // outside a tokio runtime: a typed error (it was a panic in the connection manager)
    assert!(matches!(
        FleetRedis::open("redis://127.0.0.1:1/"),
        Err(FleetError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let redis = FleetRedis::open("redis://127.0.0.1:1/").unwrap();
    let b = || RedisBudgetStore::builder(redis.clone());
    assert!(
        b().cap(BudgetScope::Global, BudgetCap::total(f64::NAN))
            .build()
            .is_err()
    );
    assert!(
        b().tenant_cap(BudgetCap::per(1.0, Duration::ZERO))
            .build()
            .is_err()
    );
    assert!(b().lease(Duration::ZERO).build().is_err());
    assert!(b().key_prefix("a", "b}").build().is_err());
    let err = FleetRedis::open("http://user:hunter2@example/").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    let with_password = FleetRedis::open("redis://user:hunter2@127.0.0.1:1/").unwrap();
    assert!(!format!("{with_password:?}").contains("hunter2"));
}

// ---- model check: three Redis clients against the in-memory store as the oracle ----

const UNIT: f64 = 1.0 / 64.0; // exact in binary, in nano- and in micro-dollars
const WINDOW: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(45);

#[derive(Clone, Debug)]
enum Op {
    /// client, tenant, units
    Reserve(usize, u8, u32),
    /// which held reservation, units actually spent (may exceed the reservation)
    Settle(usize, u32),
    Release(usize),
    /// seconds (past a lease, into the next window)
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..3, 0u8..3, 1u32..24).prop_map(|(c, t, u)| Op::Reserve(c, t, u)),
        3 => (any::<usize>(), 0u32..26).prop_map(|(i, u)| Op::Settle(i, u)),
        1 => any::<usize>().prop_map(Op::Release),
        1 => (0u64..50).prop_map(Op::Advance),
    ]
}

async fn model_check(url: &str, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let prefix = fleet_support::fresh_prefix("model");
    let global = BudgetCap::per(64.0 * UNIT, WINDOW);
    let tenant = BudgetCap::total(40.0 * UNIT);
    let oracle = InMemoryBudgetStore::new(Arc::new(clock.clone()))
        .with_cap(BudgetScope::Global, global)
        .unwrap()
        .with_tenant_cap(tenant)
        .unwrap()
        .with_reservation_ttl(LEASE);
    let clients: Vec<RedisBudgetStore> = (0..3)
        .map(|_| {
            RedisBudgetStore::builder(fleet_support::redis(url))
                .key_prefix(prefix.clone(), "budget")
                .cap(BudgetScope::Global, global)
                .tenant_cap(tenant)
                .lease(LEASE)
                .clock(Arc::new(clock.clone()))
                .build()
                .unwrap()
        })
        .collect();
    let scopes = |t: u8| [BudgetScope::Global, BudgetScope::tenant(format!("t{t}"))];
    let mut held: Vec<(usize, Reservation, Reservation)> = Vec::new();
    for op in ops {
        match op {
            Op::Reserve(c, t, units) => {
                let usd = f64::from(units) * UNIT;
                let want = oracle.reserve_now(&scopes(t), usd);
                let got = clients[c].reserve(&scopes(t), usd).await;
                match (want, got) {
                    (Ok(w), Ok(g)) => {
                        prop_assert_eq!(w.amount_nanos(), g.amount_nanos());
                        held.push((c, w, g));
                    }
                    (
                        Err(BudgetError::Exceeded { scope: ws, .. }),
                        Err(BudgetError::Exceeded { scope: gs, .. }),
                    ) => {
                        prop_assert_eq!(ws, gs)
                    }
                    (w, g) => prop_assert!(false, "oracle {:?}, redis {:?}", w, g),
                }
            }
            Op::Settle(i, units) if !held.is_empty() => {
                let (c, w, g) = held.swap_remove(i % held.len());
                let usd = f64::from(units) * UNIT;
                oracle.settle_now(&w, usd);
                // any client may settle: the reservation id is all it takes
                clients[(c + i) % 3].settle(&g, usd).await.unwrap();
            }
            Op::Release(i) if !held.is_empty() => {
                let (c, w, g) = held.swap_remove(i % held.len());
                oracle.release_now(&w);
                clients[c].release(&g).await.unwrap();
            }
            Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
            _ => {}
        }
        for t in 0..3 {
            for scope in scopes(t) {
                let want = oracle.usage(&scope).unwrap();
                let got = clients[usize::from(t)].usage(&scope).await.unwrap().unwrap();
                prop_assert_eq!(want, got, "{}", scope);
            }
            prop_assert_eq!(
                oracle.remaining_now(&scopes(t)),
                clients[0].remaining(&scopes(t)).await.unwrap()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        if std::env::var_os("TASKROUTE_SLOW").is_some() { 256 } else { 48 }
    ))]
    /// Random reserve/settle/release/expire sequences from three clients sharing one Redis
    /// agree with the in-memory store on every decision and every balance.
    #[test]
    fn three_redis_clients_agree_with_the_in_memory_store(ops in proptest::collection::vec(op(), 1..120)) {
        let Some(url) = fleet_support::redis_url() else { return Ok(()) };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(model_check(&url, ops))?;
    }
}
