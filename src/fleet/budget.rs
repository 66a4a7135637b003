//! [`RedisBudgetStore`]: the budget store of a fleet. Every replica reserves and settles
//! against the same counters in Redis, each change one Lua script (one round trip).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use derive_setters::Setters;
use redis::{Script, Value};

use crate::Error;
use crate::fleet::conn::{FleetRedis, reply};
use crate::fleet::error::FleetError;
use crate::fleet::keys::KeyPrefix;
use crate::runtime::budget::{nanos_to_usd, usd_to_nanos};
use crate::runtime::{
    BudgetCap, BudgetError, BudgetScope, BudgetStore, Clock, InMemoryBudgetStore, Reservation, ScopeUsage,
    TokioClock,
};

const COMMON: &str = include_str!("lua/common.lua");

/// Reservation ids with this bit set were taken from the local fallback store.
const LOCAL_BIT: u64 = 1 << 63;

/// What a budget does when Redis cannot be reached, times out, or answers nonsense.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum RedisUnavailable {
    /// Refuse: `reserve` returns [`BudgetError::Store`] holding a [`FleetError`], and nothing
    /// is spent. The default.
    #[default]
    FailClosed,
    /// Go on against a budget local to this process: at most `local_cap` per process (so up to
    /// N × `local_cap` across N replicas) while Redis is away. Spend made locally is never
    /// copied to Redis.
    FailOpen {
        /// The per-process cap while Redis is away.
        local_cap: BudgetCap,
    },
}

/// The whole-micro-dollar amounts kept in Redis (Lua numbers are doubles: whole numbers are
/// exact up to 2^53 micro-dollars, about $9 billion, far above the largest cap, $1e9).
fn micros_ceil(usd: f64) -> u64 {
    usd_to_nanos(usd).div_ceil(1_000)
}

fn micros_floor(usd: f64) -> u64 {
    usd_to_nanos(usd) / 1_000
}

fn micros_to_usd(micros: u64) -> f64 {
    nanos_to_usd(micros.saturating_mul(1_000))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Builds a [`RedisBudgetStore`]; [`build`](Self::build) checks the settings.
#[derive(Debug, Setters)]
#[setters(generate = false)]
pub struct RedisBudgetStoreBuilder {
    redis: FleetRedis,
    caps: HashMap<BudgetScope, BudgetCap>,
    /// Caps every tenant without a cap of its own.
    #[setters(generate, strip_option)]
    tenant_cap: Option<BudgetCap>,
    /// Caps every key without a cap of its own.
    #[setters(generate, strip_option)]
    key_cap: Option<BudgetCap>,
    /// How long a reservation is held at most when it is neither settled nor released. A
    /// crashed replica's reservations come back when their leases end. A reservation taken
    /// for a request with a deadline ([`BudgetStore::reserve_within`], which the
    /// `RoutedClient` uses) is held for the time left before that deadline plus the
    /// [margin](Self::lease_margin), if that is shorter; one taken without a deadline
    /// ([`BudgetStore::reserve`]) for this long. Default: 2 minutes.
    #[setters(generate)]
    lease: Duration,
    /// What a reservation's lease adds to the time left before its request's deadline
    /// (default 5 s): room for the settle's round trip, and for the clocks of the replica
    /// and Redis to disagree.
    #[setters(generate)]
    lease_margin: Duration,
    prefix: String,
    hash_tag: String,
    /// What to do when Redis is away (default [`RedisUnavailable::FailClosed`]).
    #[setters(generate, rename = "on_unavailable")]
    unavailable: RedisUnavailable,
    /// Reads time from `clock` instead of the Redis server's `TIME` (windows and leases are
    /// then counted from the moment [`build`](Self::build) runs). For tests and single-process
    /// use only: replicas with their own clocks do not agree on windows. Keys then get no
    /// expiry in Redis.
    #[setters(generate, strip_option)]
    clock: Option<Arc<dyn Clock>>,
}

impl RedisBudgetStoreBuilder {
    /// Caps one scope. Every replica must be given the same caps.
    pub fn cap(mut self, scope: BudgetScope, cap: BudgetCap) -> Self {
        self.caps.insert(scope, cap);
        self
    }

    /// Key names: `<prefix>:{<hash_tag>}:...` (default `taskroute:{budget}:...`). Every key of
    /// the store carries the hash tag, so on a Redis Cluster they all live in one slot and
    /// every script touches one shard. Give unrelated fleets different prefixes.
    pub fn key_prefix(mut self, prefix: impl Into<String>, hash_tag: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.hash_tag = hash_tag.into();
        self
    }

    /// Checks the settings and makes the store. No I/O.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a bad cap (negative, not finite, above $1e9, zero window),
    /// a zero lease, or a prefix or hash tag that is empty or holds `{`, `}` or a newline.
    pub fn build(self) -> Result<RedisBudgetStore, Error> {
        for (scope, cap) in &self.caps {
            cap.validate(scope)?;
        }
        if let Some(c) = &self.tenant_cap {
            c.validate(&BudgetScope::tenant("*"))?;
        }
        if let Some(c) = &self.key_cap {
            c.validate(&BudgetScope::key("*"))?;
        }
        if self.lease.is_zero() {
            return Err(Error::invalid(
                "redis_budget.lease",
                "0s",
                "a lease longer than any request's deadline",
            ));
        }
        let keys = KeyPrefix::new(&self.prefix, &self.hash_tag)?;
        let local = match self.unavailable {
            RedisUnavailable::FailClosed => None,
            RedisUnavailable::FailOpen { local_cap } => Some(
                InMemoryBudgetStore::new(self.clock.clone().unwrap_or_else(|| Arc::new(TokioClock)))
                    .with_cap(BudgetScope::Global, local_cap)?
                    .with_reservation_ttl(self.lease),
            ),
        };
        let time = self.clock.map(|clock| {
            let origin = clock.now();
            (clock, origin)
        });
        let script = |body: &str| Script::new(&format!("{COMMON}\n{body}"));
        Ok(RedisBudgetStore {
            inner: Arc::new(Inner {
                redis: self.redis,
                leases: keys.key("leases"),
                records: keys.key("lease"),
                keys,
                caps: self.caps,
                tenant_cap: self.tenant_cap,
                key_cap: self.key_cap,
                lease: self.lease,
                lease_margin: self.lease_margin,
                unavailable: self.unavailable,
                local,
                time,
                reserve: script(include_str!("lua/reserve.lua")),
                settle: script(include_str!("lua/settle.lua")),
                release: script(include_str!("lua/release.lua")),
                usage: script(include_str!("lua/usage.lua")),
            }),
        })
    }
}

/// A [`BudgetStore`] shared by every replica of a fleet through Redis (or Valkey).
///
/// - **All or nothing, one round trip:** a reservation checks and takes the amount in every
///   capped scope of the request inside one Lua script.
/// - **Windows** are the in-memory store's fixed windows, counted from the Unix epoch on the
///   Redis server's clock; a windowed scope's key expires once its window is over and no lease
///   on it is left.
/// - **Integers:** amounts are whole micro-dollars in Redis (reservations rounded up, caps
///   down).
/// - **Leases:** a reservation neither settled nor released (its process died) is given back
///   when its [lease](RedisBudgetStoreBuilder::lease) ends.
/// - **Idempotent:** `settle` and `release` act once per reservation id; a retry after a
///   timeout changes nothing. A settle that fails is retried in the background until it lands
///   or the lease ends, so money spent during a Redis outage is still counted.
/// - **Redis away:** every call has a timeout; then [`RedisUnavailable`] decides.
///
/// Cheap to clone (the clones share everything).
#[derive(Clone)]
pub struct RedisBudgetStore {
    inner: Arc<Inner>,
}

struct Inner {
    redis: FleetRedis,
    keys: KeyPrefix,
    leases: String,
    records: String,
    caps: HashMap<BudgetScope, BudgetCap>,
    tenant_cap: Option<BudgetCap>,
    key_cap: Option<BudgetCap>,
    lease: Duration,
    lease_margin: Duration,
    unavailable: RedisUnavailable,
    local: Option<InMemoryBudgetStore>,
    time: Option<(Arc<dyn Clock>, Instant)>,
    reserve: Script,
    settle: Script,
    release: Script,
    usage: Script,
}

impl fmt::Debug for RedisBudgetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisBudgetStore")
            .field("redis", &i.redis)
            .field("keys", &i.keys)
            .field("caps", &i.caps)
            .field("tenant_cap", &i.tenant_cap)
            .field("key_cap", &i.key_cap)
            .field("lease", &i.lease)
            .field("lease_margin", &i.lease_margin)
            .field("unavailable", &i.unavailable)
            .finish_non_exhaustive()
    }
}

/// A reserve script's answer.
enum Reserved {
    Held,
    Refused {
        index: usize,
        limit: u64,
        spent: u64,
        reserved: u64,
    },
    IdTaken,
}

fn parse_reserved(v: &Value) -> Option<Reserved> {
    let items = reply::array(v)?;
    match reply::int(items.first()?)? {
        1 => Some(Reserved::Held),
        2 => Some(Reserved::IdTaken),
        0 => Some(Reserved::Refused {
            index: usize::try_from(reply::uint(items.get(1)?)?).ok()?,
            limit: reply::uint(items.get(2)?)?,
            spent: reply::uint(items.get(3)?)?,
            reserved: reply::uint(items.get(4)?)?,
        }),
        _ => None,
    }
}

impl RedisBudgetStore {
    /// Starts a store on `redis` with no caps, a 2-minute lease, keys `taskroute:{budget}:*`,
    /// failing closed.
    pub fn builder(redis: FleetRedis) -> RedisBudgetStoreBuilder {
        RedisBudgetStoreBuilder {
            redis,
            caps: HashMap::new(),
            tenant_cap: None,
            key_cap: None,
            lease: Duration::from_secs(120),
            lease_margin: Duration::from_secs(5),
            prefix: "taskroute".to_owned(),
            hash_tag: "budget".to_owned(),
            unavailable: RedisUnavailable::FailClosed,
            clock: None,
        }
    }

    fn cap_of(&self, scope: &BudgetScope) -> Option<BudgetCap> {
        let i = &self.inner;
        i.caps.get(scope).copied().or(match scope {
            BudgetScope::Global => None,
            BudgetScope::Tenant(_) => i.tenant_cap,
            BudgetScope::Key(_) => i.key_cap,
        })
    }

    /// The capped scopes among `scopes`, each once, in order.
    fn capped(&self, scopes: &[BudgetScope]) -> Vec<(BudgetScope, BudgetCap)> {
        let mut out: Vec<(BudgetScope, BudgetCap)> = Vec::with_capacity(scopes.len());
        for s in scopes {
            if let Some(cap) = self.cap_of(s)
                && !out.iter().any(|(seen, _)| seen == s)
            {
                out.push((s.clone(), cap));
            }
        }
        out
    }

    /// The time argument of every script: the injected clock's milliseconds, or empty for the
    /// server's `TIME`.
    fn now_arg(&self) -> String {
        match &self.inner.time {
            Some((clock, origin)) => millis(clock.now().saturating_duration_since(*origin)).to_string(),
            None => String::new(),
        }
    }

    fn scope_key(&self, scope: &BudgetScope) -> String {
        self.inner.keys.scope(scope)
    }

    async fn reserve_shared(
        &self,
        capped: &[(BudgetScope, BudgetCap)],
        amount: u64,
        lease: Duration,
    ) -> Result<Reservation, BudgetError> {
        let i = &self.inner;
        let scopes: Arc<[BudgetScope]> = capped.iter().map(|(s, _)| s.clone()).collect();
        // A fresh id is taken only if a live reservation holds this one (odds 2^-63).
        for _ in 0..4 {
            // A fresh random u64: std's per-process random SipHash keys, new for each `RandomState`.
            let id = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
                & !LOCAL_BIT;
            let mut inv = i.reserve.key(&i.leases);
            inv.key(&i.records);
            for (s, _) in capped {
                inv.key(self.scope_key(s));
            }
            inv.arg(self.now_arg()).arg(id).arg(amount).arg(millis(lease));
            for (_, cap) in capped {
                inv.arg(micros_floor(cap.limit_usd))
                    .arg(cap.window.map_or(0, millis));
            }
            // Dropped before Redis answers (the request's deadline came, or its caller gave
            // up), the script may still run: the guard gives the amount back in the background.
            let mut unanswered = Unanswered {
                store: self,
                id: Some(id),
            };
            let answer = i.redis.script("reserve", &inv).await;
            unanswered.id = None;
            let v = match answer {
                Ok(v) => v,
                Err(e) => {
                    if e.outcome_unknown() {
                        // The script may have run: give the amount back as soon as Redis answers.
                        self.retry_in_background(id, None);
                    }
                    return Err(e.into_budget());
                }
            };
            return match parse_reserved(&v) {
                Some(Reserved::Held) => Ok(Reservation::from_nanos(id, scopes, amount.saturating_mul(1_000))),
                Some(Reserved::IdTaken) => continue,
                Some(Reserved::Refused {
                    index,
                    limit,
                    spent,
                    reserved,
                }) => {
                    let Some((scope, _)) = capped.get(index) else {
                        return Err(unexpected("reserve").into_budget());
                    };
                    Err(BudgetError::Exceeded {
                        scope: scope.clone(),
                        limit_usd: micros_to_usd(limit),
                        spent_usd: micros_to_usd(spent),
                        reserved_usd: micros_to_usd(reserved),
                        requested_usd: micros_to_usd(amount),
                    })
                }
                None => Err(unexpected("reserve").into_budget()),
            };
        }
        Err(unexpected("reserve").into_budget())
    }

    /// Settles (`actual` micro-dollars) or releases (`None`) a shared reservation.
    async fn finish(&self, id: u64, actual: Option<u64>) -> Result<(), FleetError> {
        let i = &self.inner;
        let (op, script) = match actual {
            Some(_) => ("settle", &i.settle),
            None => ("release", &i.release),
        };
        let mut inv = script.key(&i.leases);
        inv.key(&i.records).arg(self.now_arg()).arg(id);
        if let Some(a) = actual {
            inv.arg(a);
        }
        let v = i.redis.script(op, &inv).await?;
        match reply::int(&v) {
            Some(0 | 1) => Ok(()),
            _ => Err(unexpected(op)),
        }
    }

    /// Keeps trying to settle or release `id` until it lands or the lease is over (both are
    /// idempotent, so a try that did land and timed out does no harm).
    fn retry_in_background(&self, id: u64, actual: Option<u64>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.clone();
        rt.spawn(async move {
            let until = tokio::time::Instant::now() + store.inner.lease;
            let mut delay = Duration::from_millis(50);
            while tokio::time::Instant::now() < until {
                tokio::time::sleep(delay).await;
                match store.finish(id, actual).await {
                    Ok(()) => return,
                    Err(e) => tracing::debug!(error = %e, "budget: retrying a settle or release"),
                }
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            tracing::warn!("budget: gave up settling a reservation; its lease has ended");
        });
    }

    fn fall_back(
        &self,
        e: BudgetError,
        capped: &[(BudgetScope, BudgetCap)],
        usd: f64,
    ) -> Result<Reservation, BudgetError> {
        let Some(local) = &self.inner.local else {
            tracing::warn!(error = %e, "budget: Redis unavailable, refusing (fail closed)");
            return Err(e);
        };
        tracing::warn!(error = %e, "budget: Redis unavailable, reserving against the local fallback cap");
        let r = local.reserve_now(&[BudgetScope::Global], usd)?;
        let scopes: Arc<[BudgetScope]> = capped.iter().map(|(s, _)| s.clone()).collect();
        Ok(Reservation::from_nanos(
            r.id() | LOCAL_BIT,
            scopes,
            r.amount_nanos(),
        ))
    }

    fn local_part(&self, r: &Reservation) -> Option<(&InMemoryBudgetStore, Reservation)> {
        let local = self.inner.local.as_ref()?;
        (r.id() & LOCAL_BIT != 0).then(|| {
            (
                local,
                Reservation::from_nanos(r.id() & !LOCAL_BIT, r.scopes().to_vec(), r.amount_nanos()),
            )
        })
    }

    /// The usage of each of `scopes` (`None` for an uncapped one), in one round trip.
    ///
    /// # Errors
    /// A [`FleetError`] when Redis fails.
    pub async fn usage_of(&self, scopes: &[BudgetScope]) -> Result<Vec<Option<ScopeUsage>>, FleetError> {
        let capped = self.capped(scopes);
        let i = &self.inner;
        let mut found = Vec::with_capacity(capped.len());
        if !capped.is_empty() {
            let mut inv = i.usage.key(&i.leases);
            inv.key(&i.records).arg(self.now_arg());
            for (s, cap) in &capped {
                inv.key(self.scope_key(s)).arg(cap.window.map_or(0, millis));
            }
            let v = i.redis.script("usage", &inv).await?;
            let rows = reply::array(&v)
                .filter(|r| r.len() == capped.len())
                .ok_or_else(|| unexpected("usage"))?;
            for (row, (_, cap)) in rows.iter().zip(&capped) {
                let f = reply::array(row)
                    .filter(|f| f.len() == 3)
                    .ok_or_else(|| unexpected("usage"))?;
                let n = |k: usize| {
                    reply::uint(&f[k])
                        .map(micros_to_usd)
                        .ok_or_else(|| unexpected("usage"))
                };
                found.push(ScopeUsage {
                    limit_usd: micros_to_usd(micros_floor(cap.limit_usd)),
                    spent_usd: n(0)?,
                    reserved_usd: n(1)?,
                    overrun_usd: n(2)?,
                });
            }
        }
        let mut found = found.into_iter();
        Ok(scopes
            .iter()
            .map(|s| capped.iter().any(|(c, _)| c == s).then(|| found.next()).flatten())
            .collect())
    }

    /// The usage of one capped scope in its current window.
    ///
    /// # Errors
    /// A [`FleetError`] when Redis fails.
    pub async fn usage(&self, scope: &BudgetScope) -> Result<Option<ScopeUsage>, FleetError> {
        Ok(self.usage_of(std::slice::from_ref(scope)).await?.pop().flatten())
    }

    /// Reservations held fleet-wide (settled, released and expired ones are not counted).
    /// Reads every lease record (a diagnostic: linear in the records kept); records of ended
    /// leases, kept for an hour so that a late settle is still recorded, start with `x`.
    ///
    /// # Errors
    /// A [`FleetError`] when Redis fails.
    pub async fn held(&self) -> Result<u64, FleetError> {
        let v = self
            .inner
            .redis
            .command("held", redis::cmd("HVALS").arg(&self.inner.records))
            .await?;
        let records = reply::array(&v).ok_or_else(|| unexpected("held"))?;
        let mut live = 0;
        for r in records {
            match r {
                redis::Value::BulkString(b) if b.starts_with(b"x\n") => {}
                redis::Value::BulkString(_) => live += 1,
                _ => return Err(unexpected("held")),
            }
        }
        Ok(live)
    }
}

/// A `reserve` sent to Redis and not yet answered; dropped so, it releases the reservation in
/// the background (a no-op if the script never ran: release is idempotent by id).
struct Unanswered<'a> {
    store: &'a RedisBudgetStore,
    id: Option<u64>,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.store.retry_in_background(id, None);
        }
    }
}

fn unexpected(op: &'static str) -> FleetError {
    FleetError::UnexpectedReply {
        op,
        expected: "the reply of this crate's budget script",
    }
}

impl FleetError {
    fn into_budget(self) -> BudgetError {
        BudgetError::Store(Arc::new(self))
    }
}

#[async_trait]
impl BudgetStore for RedisBudgetStore {
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        self.reserve_within(scopes, usd, Duration::MAX).await
    }

    async fn reserve_within(
        &self,
        scopes: &[BudgetScope],
        usd: f64,
        within: Duration,
    ) -> Result<Reservation, BudgetError> {
        let capped = self.capped(scopes);
        if capped.is_empty() {
            // Nothing to check: no round trip, and nothing to settle.
            return Ok(Reservation::new(0, Vec::new(), usd));
        }
        let lease = within
            .saturating_add(self.inner.lease_margin)
            .min(self.inner.lease);
        match self.reserve_shared(&capped, micros_ceil(usd), lease).await {
            Err(e @ BudgetError::Store(_)) => self.fall_back(e, &capped, usd),
            other => other,
        }
    }

    async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
        if let Some((local, r)) = self.local_part(reservation) {
            local.settle_now(&r, actual_usd);
            return Ok(());
        }
        if reservation.scopes().is_empty() {
            return Ok(());
        }
        let actual = micros_ceil(actual_usd);
        self.finish(reservation.id(), Some(actual)).await.map_err(|e| {
            self.retry_in_background(reservation.id(), Some(actual));
            e.into_budget()
        })
    }

    async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        if let Some((local, r)) = self.local_part(reservation) {
            local.release_now(&r);
            return Ok(());
        }
        if reservation.scopes().is_empty() {
            return Ok(());
        }
        self.finish(reservation.id(), None).await.map_err(|e| {
            self.retry_in_background(reservation.id(), None);
            e.into_budget()
        })
    }

    async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
        let usage = match self.usage_of(scopes).await {
            Ok(u) => u,
            Err(e) => {
                return match &self.inner.local {
                    Some(local) => Ok(local.remaining_now(&[BudgetScope::Global])),
                    None => Err(e.into_budget()),
                };
            }
        };
        Ok(usage
            .into_iter()
            .flatten()
            .map(|u| (u.limit_usd - u.spent_usd - u.reserved_usd).max(0.0))
            .reduce(f64::min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_toward_the_cap() {
        assert_eq!(micros_ceil(0.000_001_1), 2);
        assert_eq!(micros_ceil(0.123), 123_000);
        assert_eq!(micros_floor(0.000_001_9), 1);
        assert_eq!(micros_ceil(f64::NAN), 0);
        assert_eq!(micros_ceil(-1.0), 0);
        assert_eq!(micros_ceil(1e12), 1_000_000_000_000_000);
    }

    #[test]
    fn replies_of_any_shape_parse_or_are_refused() {
        let ok = Value::Array(vec![Value::Int(1)]);
        assert!(matches!(parse_reserved(&ok), Some(Reserved::Held)));
        let refused = Value::Array(vec![
            Value::Int(0),
            Value::Int(1),
            Value::BulkString(b"10".to_vec()),
            Value::Int(2),
            Value::Int(3),
        ]);
        assert!(matches!(
            parse_reserved(&refused),
            Some(Reserved::Refused {
                index: 1,
                limit: 10,
                spent: 2,
                reserved: 3
            })
        ));
        for bad in [
            Value::Nil,
            Value::Okay,
            Value::Array(vec![]),
            Value::Array(vec![Value::Int(0), Value::Int(-1)]),
            Value::Array(vec![Value::Int(7)]),
            Value::Array(vec![Value::BulkString(vec![0xff, 0xfe])]),
            Value::Double(1.0),
        ] {
            assert!(parse_reserved(&bad).is_none(), "{bad:?}");
        }
    }
}
