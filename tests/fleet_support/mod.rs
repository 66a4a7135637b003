//! What the fleet tests share: the Redis server from scripts/setup-redis.sh, a fresh key
//! prefix per test, and a budget store on it.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use taskroute::fleet::{FleetBreakers, FleetRedis, RedisBudgetStore, RedisBudgetStoreBuilder, RedisOptions};
use taskroute::runtime::{BreakerConfig, BreakerRegistry, TokioClock};

/// The test server's URL (`TASKROUTE_REDIS_URL`, exported by scripts/test.sh). `None`, after
/// saying so, when it is not set; under CI a missing server fails the test instead.
pub fn redis_url() -> Option<String> {
    match std::env::var("TASKROUTE_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but TASKROUTE_REDIS_URL is not: run scripts/setup-redis.sh (scripts/test.sh does)"
            );
            eprintln!(
                "skipped: TASKROUTE_REDIS_URL is not set (bash scripts/setup-redis.sh starts a server)"
            );
            None
        }
    }
}

/// Returns from the test, saying it skipped, when there is no Redis to test against.
#[macro_export]
macro_rules! redis_or_skip {
    () => {
        match fleet_support::redis_url() {
            Some(url) => url,
            None => return,
        }
    };
}

/// A multi-threaded tokio runtime with two workers (the CI machine has two cores), for tests
/// that drive several processes or tasks at once.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A loopback port nobody listens on (bound, then dropped).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Script calls the server has run (`EVALSHA` + `EVAL` in `INFO commandstats`): one per round
/// trip of a store or limiter. (`total_commands_processed` would also count the commands inside
/// scripts.) The count is server-wide: tests that compare two readings run one at a time.
pub async fn script_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split_once("calls=")?.1.split(',').next()?.parse::<u64>().ok())
        .sum()
}

/// A key prefix no other test (or run) uses.
pub fn fresh_prefix(test: &str) -> String {
    format!(
        "taskroute-test:{test}:{}:{:x}",
        std::process::id(),
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
    )
}

/// A handle with a generous call timeout (the machine is shared and loaded).
pub fn redis(url: &str) -> FleetRedis {
    redis_within(url, Duration::from_secs(2))
}

/// A handle whose calls time out after `call_timeout`.
pub fn redis_within(url: &str, call_timeout: Duration) -> FleetRedis {
    FleetRedis::open_with(url, RedisOptions::default().with_call_timeout(call_timeout)).unwrap()
}

/// A breaker registry whose changes `fleet` shares (spawn `fleet` with it to sync).
pub fn registry_shared_by(fleet: &FleetBreakers, config: BreakerConfig) -> Arc<BreakerRegistry> {
    Arc::new(
        BreakerRegistry::new(config, Arc::new(TokioClock))
            .unwrap()
            .with_observer(fleet.observer()),
    )
}

/// A budget store builder on a fresh prefix.
pub fn store(url: &str, test: &str) -> RedisBudgetStoreBuilder {
    RedisBudgetStore::builder(redis(url)).key_prefix(fresh_prefix(test), "budget")
}

/// Answers a server that is not Redis (or is a broken one) may give to any command, and whether
/// it hangs up after each: for [`impostor`].
pub const NOT_REDIS: [(&[u8], bool); 6] = [
    (b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", true),
    (b"*2147483647\r\n", false),
    (b"\x00\xff\xfe garbage \r\n\r\n", true),
    (b"+OK\r\n", false),
    (b":1\r\n", false),
    (b"", true),
];

/// A handle (300 ms call timeout) on a TCP server on loopback that answers every connection
/// with `reply` (then, if `close`, hangs up), whatever was asked.
pub async fn impostor(reply: &'static [u8], close: bool) -> FleetRedis {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            if sock.write_all(reply).await.is_err() || close {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    redis_within(&format!("redis://{addr}/"), Duration::from_millis(300))
}
