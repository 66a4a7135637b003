//! [`RedisLimiter`]: a deployment's rpm and tpm limits shared by every replica through Redis.
//! The admission check is one round trip (one `EVALSHA` of `lua/limit.lua`, GCRA over the
//! deployment's hash, the server's clock); corrections, learning and pauses are one script call
//! each, sent in the background so that closing a call never waits on Redis.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::Script;

use crate::Error;
use crate::fleet::conn::{FleetRedis, reply};
use crate::fleet::keys::KeyPrefix;
use crate::provider::RateLimits;
use crate::runtime::DeploymentId;
use crate::runtime::limit::local::DEFAULT_THROTTLE_PAUSE;
use crate::runtime::limit::{Acquire, Capacity, DeploymentLimits, Limiter, Refusal};

/// A [`Limiter`] whose requests and tokens limits hold for the whole fleet.
///
/// - State: one hash per deployment, `<prefix>:{<deployment>}:limit` (its own Cluster slot),
///   expiring two minutes after its last use (a pause keeps it longer).
/// - Time: the Redis server's clock, so replicas whose clocks disagree still share one limit;
///   the `now` the runtime passes is not used for the shared state.
/// - Limits: the configured ones until a provider reports its own (learned by any replica,
///   used by all); a configured limit is a ceiling the provider's report can lower, never
///   raise.
/// - Concurrency (`max_concurrency`) is counted per process: a crashed replica's calls in
///   flight would otherwise hold slots for ever.
/// - Redis away (a call times out or fails): the call is refused with
///   [`Refusal::StoreUnavailable`] (fail closed), and the ranking moves on.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use taskroute::fleet::{FleetRedis, RedisLimiter};
/// use taskroute::runtime::{Deployment, DeploymentLimits};
/// let redis = FleetRedis::open("redis://127.0.0.1:6379/")?;
/// let east = Deployment::new("east", "azure-east").limits(DeploymentLimits::none().rpm(500));
/// let limiter = RedisLimiter::new(redis, "myapp", &east.id, east.limits)?;
/// // RoutedClient::builder(router).deployment_with_limiter("gpt-4o", east, Arc::new(limiter))
/// # Ok(()) }
/// ```
pub struct RedisLimiter {
    inner: Arc<Inner>,
    local: Mutex<Local>,
}

struct Inner {
    redis: FleetRedis,
    key: String,
    limits: DeploymentLimits,
    script: Script,
}

#[derive(Debug, Default)]
struct Local {
    in_flight: u32,
    /// The share left that the last admission reported, in permille.
    share_permille: u32,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("key", &self.inner.key)
            .field("limits", &self.inner.limits)
            .field("redis", &self.inner.redis)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter for `deployment` under `key_prefix`, with its configured `limits`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty prefix or deployment id, or one holding `{`, `}` or
    /// a newline.
    pub fn new(
        redis: FleetRedis,
        key_prefix: &str,
        deployment: &DeploymentId,
        limits: DeploymentLimits,
    ) -> Result<Self, Error> {
        let key = KeyPrefix::new(key_prefix, deployment.as_str())?.key("limit");
        Ok(Self {
            inner: Arc::new(Inner {
                redis,
                key,
                limits,
                script: Script::new(include_str!("lua/limit.lua")),
            }),
            local: Mutex::new(Local {
                in_flight: 0,
                share_permille: 1000,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one background operation of the script (no reply awaited by the caller).
    fn background(&self, op: &'static str, args: Vec<u64>) {
        let inner = Arc::clone(&self.inner);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = %inner.key, op, "no tokio runtime: shared limiter update dropped");
            return;
        };
        rt.spawn(async move {
            let mut inv = inner.script.key(&inner.key);
            inv.arg(op);
            for a in args {
                inv.arg(a);
            }
            if let Err(e) = inner.redis.script("limiter update", &inv).await {
                tracing::warn!(key = %inner.key, op, error = %e, "shared limiter update failed");
            }
        });
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The refusal a script reply names, or `Ok(share left in permille)`.
fn decode(v: &redis::Value, tokens: u64) -> Result<u32, Refusal> {
    let items = reply::array(v).ok_or(Refusal::StoreUnavailable)?;
    let code = items
        .first()
        .and_then(reply::uint)
        .ok_or(Refusal::StoreUnavailable)?;
    let n = items
        .get(1)
        .and_then(reply::uint)
        .ok_or(Refusal::StoreUnavailable)?;
    let wait = Duration::from_micros(n);
    match code {
        0 => Ok(u32::try_from(n.min(1000)).unwrap_or(1000)),
        1 => Err(Refusal::Requests { retry_after: wait }),
        2 => Err(Refusal::Tokens {
            tokens,
            retry_after: wait,
        }),
        3 => Err(Refusal::TooLarge { tokens, tpm: n }),
        4 => Err(Refusal::Throttled { retry_after: wait }),
        _ => Err(Refusal::StoreUnavailable),
    }
}

impl Limiter for RedisLimiter {
    fn acquire(&self, tokens: u64, _now: Instant) -> Acquire<'_> {
        {
            let mut local = self.lock();
            if let Some(max) = self.inner.limits.max_concurrency
                && local.in_flight >= max
            {
                return Acquire::Ready(Err(Refusal::Concurrency { max }));
            }
            local.in_flight += 1;
        }
        Acquire::Pending(Box::pin(async move {
            let mut inv = self.inner.script.key(&self.inner.key);
            inv.arg("acquire")
                .arg(tokens)
                .arg(self.inner.limits.rpm.unwrap_or(0))
                .arg(self.inner.limits.tpm.unwrap_or(0));
            let decided = match self.inner.redis.script("limiter acquire", &inv).await {
                Ok(v) => decode(&v, tokens),
                Err(e) => {
                    tracing::warn!(key = %self.inner.key, error = %e, "shared limiter unavailable: call refused");
                    Err(Refusal::StoreUnavailable)
                }
            };
            let mut local = self.lock();
            match decided {
                Ok(share) => {
                    local.share_permille = share;
                    Ok(())
                }
                Err(r) => {
                    local.in_flight = local.in_flight.saturating_sub(1);
                    Err(r)
                }
            }
        }))
    }

    fn settle(&self, reserved: u64, used: Option<u64>, _now: Instant) {
        {
            let mut local = self.lock();
            local.in_flight = local.in_flight.saturating_sub(1);
        }
        match used {
            Some(u) if u < reserved => self.background("settle", vec![reserved - u]),
            Some(u) if u > reserved => self.background("settle_over", vec![u - reserved]),
            _ => {}
        }
    }

    fn learn(&self, seen: &RateLimits, _now: Instant) {
        let (rl, rr) = seen.requests.map_or((0, 0), |w| (w.limit, w.remaining));
        let (tl, tr) = seen.tokens.map_or((0, 0), |w| (w.limit, w.remaining));
        let limits = &self.inner.limits;
        let (rcap, tcap) = (limits.rpm.unwrap_or(0), limits.tpm.unwrap_or(0));
        self.background("learn", vec![rl, rr, tl, tr, rcap, tcap]);
    }

    fn throttled(&self, retry_after: Option<Duration>, _now: Instant) {
        self.background(
            "throttle",
            vec![micros(retry_after.unwrap_or(DEFAULT_THROTTLE_PAUSE))],
        );
    }

    fn capacity(&self, _now: Instant) -> Capacity {
        let local = self.lock();
        Capacity::new(f64::from(local.share_permille) / 1000.0, local.in_flight)
    }
}
