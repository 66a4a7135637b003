//! [`RedisLimiter`]: a deployment's rpm and tpm limits shared by every replica through Redis.
//! The admission check is one round trip (one `EVALSHA` of `lua/limit.lua`, GCRA over the
//! deployment's hash, the server's clock); corrections, learning and pauses are one script call
//! each, sent in the background so that closing a call never waits on Redis. Calls in flight
//! (`max_concurrency`) are counted per process, or, with
//! [`shared_concurrency`](RedisLimiter::shared_concurrency), by the fleet under leases.

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
/// - Concurrency (`max_concurrency`) is counted per process by default. With
///   [`shared_concurrency`](Self::shared_concurrency) the fleet counts it: each admitted call
///   holds a lease in a sorted set beside the hash (checked in the same script call, so still one
///   round trip), released when the call ends; a crashed replica's leases end after the lease
///   time and give their slots back.
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
    /// How long a call's slot is held at most, when the fleet counts calls in flight.
    lease: Option<Duration>,
}

struct Inner {
    redis: FleetRedis,
    key: String,
    /// The sorted set of leases (shared concurrency).
    in_flight_key: String,
    limits: DeploymentLimits,
    script: Script,
    /// Where this limiter's lease ids start (random, so replicas' ids differ).
    lease_base: u64,
}

#[derive(Debug, Default)]
struct Local {
    in_flight: u32,
    /// The share left that the last admission reported, in permille.
    share_permille: u32,
    /// This process's leases (shared concurrency), oldest first.
    leases: std::collections::VecDeque<u64>,
    next_lease: u64,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("key", &self.inner.key)
            .field("limits", &self.inner.limits)
            .field("shared_concurrency_lease", &self.lease)
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
        let keys = KeyPrefix::new(key_prefix, deployment.as_str())?;
        Ok(Self {
            inner: Arc::new(Inner {
                redis,
                key: keys.key("limit"),
                in_flight_key: keys.key("inflight"),
                limits,
                script: Script::new(include_str!("lua/limit.lua")),
                lease_base: std::hash::BuildHasher::hash_one(
                    &std::collections::hash_map::RandomState::new(),
                    std::process::id(),
                ),
            }),
            local: Mutex::new(Local {
                share_permille: 1000,
                ..Local::default()
            }),
            lease: None,
        })
    }

    /// Counts `max_concurrency` across the fleet rather than per process: each admitted call
    /// holds a lease of at most `lease` (make it longer than your longest call, streams
    /// included; a crashed replica's slots come back when its leases end). Without a
    /// `max_concurrency` this changes nothing.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a zero lease.
    pub fn shared_concurrency(mut self, lease: Duration) -> Result<Self, Error> {
        if lease.is_zero() {
            return Err(Error::InvalidValue {
                field: "fleet.limiter.lease".to_owned(),
                value: format!("{lease:?}"),
                expected: "a positive duration, longer than the longest call",
            });
        }
        self.lease = Some(lease);
        Ok(self)
    }

    /// The fleet-wide concurrency limit, when the fleet counts it.
    fn shared_max(&self) -> Option<u32> {
        self.lease.and(self.inner.limits.max_concurrency)
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
            inv.key(&inner.in_flight_key);
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

/// The local slot of an admission still being decided: given back on drop unless disarmed.
/// With shared concurrency, `lease` is the fleet lease the admission asked for while Redis
/// may hold it: released in the background on drop (the script may have run although its
/// answer was never read: the caller gave up, or the call timed out), so the fleet's slot is
/// not held until the lease ends. Cleared once Redis answers with a refusal (nothing held).
struct PendingSlot<'a> {
    limiter: &'a RedisLimiter,
    armed: bool,
    lease: Option<u64>,
}

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        if self.armed {
            {
                let mut local = self.limiter.lock();
                local.in_flight = local.in_flight.saturating_sub(1);
            }
            if let Some(lease) = self.lease {
                self.limiter.background("release", vec![lease]);
            }
        }
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
        5 => Err(Refusal::Concurrency {
            max: u32::try_from(n).unwrap_or(u32::MAX),
        }),
        _ => Err(Refusal::StoreUnavailable),
    }
}

impl Limiter for RedisLimiter {
    fn acquire(&self, tokens: u64, _now: Instant) -> Acquire<'_> {
        let lease = {
            let mut local = self.lock();
            if let Some(max) = self.inner.limits.max_concurrency
                && self.shared_max().is_none()
                && local.in_flight >= max
            {
                return Acquire::Ready(Err(Refusal::Concurrency { max }));
            }
            local.in_flight += 1;
            local.next_lease += 1;
            self.inner.lease_base.wrapping_add(local.next_lease)
        };
        // Gives the slot back if the caller drops the admission before it is decided.
        let pending = PendingSlot {
            limiter: self,
            armed: true,
            lease: self.shared_max().map(|_| lease),
        };
        Acquire::Pending(Box::pin(async move {
            let mut pending = pending;
            let mut inv = self.inner.script.key(&self.inner.key);
            inv.key(&self.inner.in_flight_key)
                .arg("acquire")
                .arg(tokens)
                .arg(self.inner.limits.rpm.unwrap_or(0))
                .arg(self.inner.limits.tpm.unwrap_or(0));
            if let (Some(max), Some(time)) = (self.shared_max(), self.lease) {
                inv.arg(max).arg(micros(time)).arg(lease);
            }
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
                    pending.armed = false;
                    local.share_permille = share;
                    if self.shared_max().is_some() {
                        local.leases.push_back(lease);
                    }
                    Ok(())
                }
                Err(r) => {
                    // A refusal the script gave holds no lease; an unknown outcome may.
                    if r != Refusal::StoreUnavailable {
                        pending.lease = None;
                    }
                    Err(r)
                }
            }
        }))
    }

    fn settle(&self, reserved: u64, used: Option<u64>, _now: Instant) {
        let lease = {
            let mut local = self.lock();
            local.in_flight = local.in_flight.saturating_sub(1);
            // Leases are alike: give back the one that ends soonest.
            local.leases.pop_front()
        };
        if let Some(lease) = lease {
            self.background("release", vec![lease]);
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
