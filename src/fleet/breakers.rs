//! [`FleetBreakers`]: circuit breakers that count failures and opens fleet-wide, with one
//! half-open probe slot per model for the whole fleet.
//!
//! Each process keeps its own [`BreakerRegistry`]; the router reads only that (no Redis on the
//! routing path). A [`BreakerObserver`] collects the local outcomes, opens and closes, and a
//! background task [syncs](FleetBreakers::sync) them with Redis every `refresh` in one script,
//! which also returns every model's fleet state; the task then forces the local breakers to
//! match (open where the fleet is open, closed where a probe closed it, half-open only in the
//! process that holds the model's probe slot, taken with `SET NX PX`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use derive_setters::Setters;
use redis::Script;

use crate::Error;
use crate::fleet::conn::{FleetRedis, reply};
use crate::fleet::error::FleetError;
use crate::fleet::keys::KeyPrefix;
use crate::model::ModelId;
use crate::runtime::{BreakerConfig, BreakerObserver, BreakerRegistry, BreakerState, CallOutcome};

/// What one model's fleet-wide breaker says, as last read from Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetBreakerState {
    /// Calls pass.
    Closed,
    /// Open for this much longer.
    Open(Duration),
    /// Half-open, and this process holds the fleet's one probe slot.
    ProbeHere,
    /// Half-open, and another process holds the probe slot.
    ProbeElsewhere,
}

#[derive(Debug, Default, Clone, Copy)]
struct Delta {
    ok: u64,
    failed: u64,
    opened: bool,
    closed: bool,
}

struct Shared {
    redis: FleetRedis,
    prefix: String,
    config: BreakerConfig,
    owner: String,
    refresh: Duration,
    probe_lease: Duration,
    pending: Mutex<HashMap<ModelId, Delta>>,
    seen: Mutex<HashMap<ModelId, (FleetBreakerState, u64)>>,
    script: Script,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, HashMap<ModelId, Delta>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBreakers")
            .field("redis", &self.redis)
            .field("prefix", &self.prefix)
            .field("owner", &self.owner)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl BreakerObserver for Shared {
    fn outcome(&self, model: &ModelId, outcome: CallOutcome) {
        let mut p = self.pending();
        let d = p.entry(model.clone()).or_default();
        match outcome {
            CallOutcome::Success => d.ok += 1,
            CallOutcome::Failure => d.failed += 1,
            _ => {}
        }
    }
    fn opened(&self, model: &ModelId) {
        let mut p = self.pending();
        let d = p.entry(model.clone()).or_default();
        (d.opened, d.closed) = (true, false);
    }
    fn closed(&self, model: &ModelId) {
        let mut p = self.pending();
        let d = p.entry(model.clone()).or_default();
        (d.opened, d.closed) = (false, true);
    }
}

/// Circuit breakers shared by a fleet through Redis. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use taskroute::fleet::{FleetBreakers, FleetRedis};
/// use taskroute::runtime::{BreakerConfig, BreakerRegistry, TokioClock};
///
/// let config = BreakerConfig::default();
/// let fleet = FleetBreakers::builder(FleetRedis::open("redis://127.0.0.1:6379/")?, config).build()?;
/// let registry = Arc::new(BreakerRegistry::new(config, Arc::new(TokioClock))?.with_observer(fleet.observer()));
/// let _task = fleet.spawn(Arc::clone(&registry)); // give `registry` to the RoutedClient
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct FleetBreakers {
    shared: Arc<Shared>,
}

/// Builds [`FleetBreakers`]; [`build`](Self::build) checks the settings.
#[derive(Debug, Setters)]
#[setters(generate = false)]
pub struct FleetBreakersBuilder {
    redis: FleetRedis,
    config: BreakerConfig,
    prefix: (String, String),
    /// How often the local breakers are synced (default 200 ms): a model opened by one replica
    /// is avoided by the others within about two of these plus a round trip.
    #[setters(generate)]
    refresh: Duration,
    /// How long a process may hold a model's probe slot without reporting the probe's outcome
    /// (default 10 s); then another process may probe.
    #[setters(generate)]
    probe_lease: Duration,
}

impl FleetBreakersBuilder {
    /// Key names `<prefix>:{<hash_tag>}:*` (default `taskroute:{breakers}:*`).
    pub fn key_prefix(mut self, prefix: impl Into<String>, hash_tag: impl Into<String>) -> Self {
        self.prefix = (prefix.into(), hash_tag.into());
        self
    }

    /// Checks the settings. No I/O.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an invalid breaker config, a bad prefix or hash tag, a
    /// refresh under 10 ms or a probe lease under 1 ms.
    pub fn build(self) -> Result<FleetBreakers, Error> {
        self.config.validate()?;
        for (field, d, min) in [
            ("refresh", self.refresh, Duration::from_millis(10)),
            ("probe_lease", self.probe_lease, Duration::from_millis(1)),
        ] {
            if d < min {
                return Err(Error::invalid(
                    format!("fleet_breakers.{field}"),
                    format!("{d:?}"),
                    "at least 10 ms (refresh) or 1 ms (probe lease)",
                ));
            }
        }
        Ok(FleetBreakers {
            shared: Arc::new(Shared {
                redis: self.redis,
                prefix: KeyPrefix::new(&self.prefix.0, &self.prefix.1)?.key("b"),
                config: self.config,
                owner: owner_id(),
                refresh: self.refresh,
                probe_lease: self.probe_lease,
                pending: Mutex::new(HashMap::new()),
                seen: Mutex::new(HashMap::new()),
                script: Script::new(include_str!("lua/breakers.lua")),
            }),
        })
    }
}

impl FleetBreakers {
    /// Starts fleet breakers with `config` (give every replica's registry the same), keys
    /// `taskroute:{breakers}:*`, synced every 200 ms, a probe slot held at most 10 s.
    pub fn builder(redis: FleetRedis, config: BreakerConfig) -> FleetBreakersBuilder {
        FleetBreakersBuilder {
            redis,
            config,
            prefix: ("taskroute".to_owned(), "breakers".to_owned()),
            refresh: Duration::from_millis(200),
            probe_lease: Duration::from_secs(10),
        }
    }

    /// The observer to give the local [`BreakerRegistry`]
    /// ([`with_observer`](BreakerRegistry::with_observer)).
    pub fn observer(&self) -> Arc<dyn BreakerObserver> {
        Arc::clone(&self.shared) as Arc<dyn BreakerObserver>
    }

    /// The fleet state of `model` as of the last sync (`None` before the fleet knows it).
    pub fn fleet_state(&self, model: &ModelId) -> Option<FleetBreakerState> {
        let seen = self.shared.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(model).map(|(s, _)| *s)
    }

    /// How many times `model` was opened fleet-wide, as of the last sync.
    pub fn fleet_opens(&self, model: &ModelId) -> u64 {
        let seen = self.shared.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(model).map_or(0, |(_, n)| *n)
    }

    /// Syncs `registry` with the fleet once: one round trip.
    ///
    /// # Errors
    /// A [`FleetError`] when Redis fails; the counts are kept for the next sync and the local
    /// breakers go on alone.
    pub async fn sync(&self, registry: &BreakerRegistry) -> Result<(), FleetError> {
        let s = &self.shared;
        let deltas: Vec<(ModelId, Delta)> = s.pending().drain().collect();
        let c = &s.config;
        let mut inv = s.script.key(&s.prefix);
        inv.arg(&s.owner)
            .arg(millis(c.window))
            .arg(c.buckets.max(1))
            .arg(c.min_calls.max(1))
            .arg(c.failure_rate)
            .arg(millis(c.open_for).max(1))
            .arg(millis(s.probe_lease).max(1));
        for (m, d) in &deltas {
            inv.arg(m.as_str())
                .arg(d.ok)
                .arg(d.failed)
                .arg(u8::from(d.opened))
                .arg(u8::from(d.closed));
        }
        let v = match s.redis.script("breakers", &inv).await {
            Ok(v) => v,
            Err(e) => {
                // Keep what was not sent (an open or close recorded since wins).
                let mut p = s.pending();
                for (m, d) in deltas {
                    let e = p.entry(m).or_default();
                    e.ok += d.ok;
                    e.failed += d.failed;
                    if !(e.opened || e.closed) {
                        (e.opened, e.closed) = (d.opened, d.closed);
                    }
                }
                return Err(e);
            }
        };
        let rows = parse(&v).ok_or(FleetError::UnexpectedReply {
            op: "breakers",
            expected: "the reply of this crate's breaker script",
        })?;
        let now = registry.clock().now();
        for (model, state, opens) in rows {
            self.apply(registry, &model, state, now);
            let mut seen = s.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.insert(model, (state, opens));
        }
        Ok(())
    }

    /// Makes the local breaker of `model` follow the fleet.
    fn apply(&self, registry: &BreakerRegistry, model: &ModelId, state: FleetBreakerState, now: Instant) {
        // A local open or close not yet sent wins over what the fleet said before it.
        if self
            .shared
            .pending()
            .get(model)
            .is_some_and(|d| d.opened || d.closed)
        {
            return;
        }
        let b = registry.breaker(model);
        let local = b.state(now);
        match state {
            FleetBreakerState::Closed if local != BreakerState::Closed => b.force_close(),
            // Past the fleet's cool-down by a margin: only a sync's probe slot ends it, so no
            // replica probes on its own clock.
            FleetBreakerState::Open(left) => b.force_open(now + left + self.shared.refresh * 3),
            FleetBreakerState::ProbeHere if local == BreakerState::Open => b.force_open(now),
            FleetBreakerState::ProbeElsewhere => b.force_open(now + self.shared.refresh * 3),
            _ => {}
        }
    }

    /// Syncs `registry` every `refresh` until the returned task is aborted (or the runtime
    /// ends). While Redis is away the local breakers go on alone, and a warning says so.
    pub fn spawn(&self, registry: Arc<BreakerRegistry>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        crate::fleet::conn::spawn_sync("breakers", self.shared.refresh, move || {
            let (this, registry) = (this.clone(), Arc::clone(&registry));
            async move { this.sync(&registry).await }
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A name for this process in probe slots: its pid and a random number.
fn owner_id() -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    format!("{}-{r:x}", std::process::id())
}

fn parse(v: &redis::Value) -> Option<Vec<(ModelId, FleetBreakerState, u64)>> {
    let rows = reply::array(v)?;
    let mut out = Vec::with_capacity(rows.len().min(4096));
    for row in rows {
        let f = reply::array(row).filter(|f| f.len() == 4)?;
        let model = match &f[0] {
            redis::Value::BulkString(b) => ModelId::from(std::str::from_utf8(b).ok()?),
            _ => return None,
        };
        let ms = Duration::from_millis(reply::uint(&f[2])?);
        let state = match reply::int(&f[1])? {
            0 => FleetBreakerState::Closed,
            1 => FleetBreakerState::Open(ms),
            2 => FleetBreakerState::ProbeHere,
            3 => FleetBreakerState::ProbeElsewhere,
            _ => return None,
        };
        out.push((model, state, reply::uint(&f[3])?));
    }
    Some(out)
}
