//! [`FleetStats`]: observed latency and error statistics ([`RuntimeStats`]) and the online
//! learner's arms ([`OnlineEstimator`], feature `learn`) shared by a fleet through Redis.
//!
//! Every `refresh`, a background task [syncs](FleetStats::sync) in one round trip (one script):
//! it adds what this process recorded since the last sync to the fleet's sums, then reads the
//! sums back and replaces the local figures with them. Routing never waits on Redis: the
//! estimators read the local figures, which local calls keep moving between syncs.
//!
//! - Statistics are sums per time bucket (`bucket`, default 10 s) over a window (default
//!   10 min), kept by `HINCRBY`/`HINCRBYFLOAT` of deltas; a bucket expires after the window.
//!   The fleet's figures weigh each bucket by `0.5^(age / error_half_life)` (the
//!   [`StatsConfig`](crate::runtime::StatsConfig)'s half-life): latency and slowdown are
//!   weighted means over successful calls, the error rate the weighted share of failures,
//!   decayed by the age of the newest bucket.
//! - Arms are sums (successes, failures, observations, cost), kept without expiry: the fleet
//!   learns together, and a process that starts (or restarts) estimates from what the fleet
//!   knows after its first sync.
//!
//! When Redis is away, the figures stay local (a `warn` event says so, an `info` event when it
//! is back) and what was recorded meanwhile is sent with the next sync that succeeds (at least
//! once: a sync whose answer was lost, e.g. by a timeout, counts its deltas twice).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use derive_setters::Setters;
use redis::{Script, Value};

use crate::Error;
use crate::fleet::conn::{FleetRedis, reply};
use crate::fleet::error::FleetError;
use crate::fleet::keys::KeyPrefix;
#[cfg(feature = "learn")]
use crate::fleet::keys::{escape_into, unescape};
#[cfg(feature = "learn")]
use crate::learn::OnlineEstimator;
#[cfg(feature = "learn")]
use crate::learn::online::Arm;
use crate::model::ModelId;
use crate::runtime::RuntimeStats;
use crate::runtime::stats::{FleetFigures, StatsDelta};
#[cfg(feature = "learn")]
use crate::task::TaskKind;

/// Most fields read back from one reply; a larger reply is refused as not this crate's.
const MAX_FIELDS: usize = 1 << 20;

struct Shared {
    redis: FleetRedis,
    prefix: String,
    stats: Option<Arc<RuntimeStats>>,
    #[cfg(feature = "learn")]
    online: Option<Arc<OnlineEstimator>>,
    bucket: Duration,
    buckets: u32,
    refresh: Duration,
    script: Script,
}

/// What one [`FleetStats::sync`] read back from the fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetSync {
    /// Models with statistics in the fleet's window.
    pub models: usize,
    /// (kind, model) arms of the online learner.
    pub arms: usize,
}

/// Statistics and online arms shared by a fleet through Redis. Cheap to clone.
///
/// Every `refresh`, one script adds what this process recorded since the last sync to the
/// fleet's sums and reads them back; the local figures are then the fleet's, moved on by local
/// calls until the next sync. Routing never waits on Redis. Statistics are sums per time bucket
/// over a window, weighted by `0.5^(age / error_half_life)`; arms are sums kept without
/// expiry. While Redis is away the figures stay local and a warning says so. docs/fleet.md has
/// the details.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use taskroute::fleet::{FleetRedis, FleetStats};
/// use taskroute::runtime::{RuntimeStats, StatsConfig, TokioClock};
///
/// let stats = Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(TokioClock))?);
/// let fleet = FleetStats::builder(FleetRedis::open("redis://127.0.0.1:6379/")?)
///     .runtime_stats(Arc::clone(&stats))
///     .build()?;
/// let _task = fleet.spawn(); // give `stats` to the RoutedClient and its estimators
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FleetStats {
    shared: Arc<Shared>,
}

impl fmt::Debug for FleetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        let mut d = f.debug_struct("FleetStats");
        d.field("redis", &s.redis)
            .field("prefix", &s.prefix)
            .field("runtime_stats", &s.stats.is_some());
        #[cfg(feature = "learn")]
        d.field("online", &s.online.is_some());
        d.field("bucket", &s.bucket)
            .field("buckets", &s.buckets)
            .field("refresh", &s.refresh)
            .finish_non_exhaustive()
    }
}

/// Builds [`FleetStats`]; [`build`](Self::build) checks the settings.
#[derive(Debug, Setters)]
#[setters(generate = false)]
pub struct FleetStatsBuilder {
    redis: FleetRedis,
    prefix: (String, String),
    /// Shares these statistics (give the same to the `RoutedClient` and its estimators).
    #[setters(generate, strip_option, rename = "runtime_stats")]
    stats: Option<Arc<RuntimeStats>>,
    /// Shares this learner's arms (feature `learn`): what it learned before is added to the
    /// fleet's arms at the first sync, and everything it learns after, at each sync.
    #[cfg(feature = "learn")]
    #[setters(generate, strip_option)]
    online: Option<Arc<OnlineEstimator>>,
    /// How often [`spawn`](FleetStats::spawn)'s task syncs (default 1 s).
    #[setters(generate)]
    refresh: Duration,
    bucket: Duration,
    window: Duration,
}

impl FleetStatsBuilder {
    /// Key names `<prefix>:{<hash_tag>}:*` (default `taskroute:{stats}:*`).
    pub fn key_prefix(mut self, prefix: impl Into<String>, hash_tag: impl Into<String>) -> Self {
        self.prefix = (prefix.into(), hash_tag.into());
        self
    }

    /// The statistics' window and bucket length (default 10 min in buckets of 10 s): calls
    /// older than the window are forgotten by the fleet.
    pub fn window(mut self, window: Duration, bucket: Duration) -> Self {
        self.window = window;
        self.bucket = bucket;
        self
    }

    /// Checks the settings. No I/O.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a bad prefix or hash tag, a refresh under 10 ms, a bucket
    /// under 10 ms, or a window shorter than a bucket or longer than 10,000 of them.
    pub fn build(self) -> Result<FleetStats, Error> {
        let invalid = |field: &str, value: String, expected| {
            Error::invalid(format!("fleet_stats.{field}"), value, expected)
        };
        let min = Duration::from_millis(10);
        if self.refresh < min {
            return Err(invalid(
                "refresh",
                format!("{:?}", self.refresh),
                "at least 10 ms",
            ));
        }
        if self.bucket < min {
            return Err(invalid("bucket", format!("{:?}", self.bucket), "at least 10 ms"));
        }
        let buckets = self.window.as_nanos().div_ceil(self.bucket.as_nanos());
        if self.window < self.bucket || buckets > 10_000 {
            return Err(invalid(
                "window",
                format!("{:?}", self.window),
                "from one bucket to 10,000 buckets",
            ));
        }
        let prefix = KeyPrefix::new(&self.prefix.0, &self.prefix.1)?.key("s");
        #[cfg(feature = "learn")]
        if let Some(o) = &self.online {
            o.share();
        }
        Ok(FleetStats {
            shared: Arc::new(Shared {
                redis: self.redis,
                prefix,
                stats: self.stats,
                #[cfg(feature = "learn")]
                online: self.online,
                bucket: self.bucket,
                buckets: buckets as u32,
                refresh: self.refresh,
                script: Script::new(include_str!("lua/stats.lua")),
            }),
        })
    }
}

/// What this process sends in one sync.
struct Outbox {
    stats: Vec<(ModelId, StatsDelta)>,
    #[cfg(feature = "learn")]
    arms: Vec<(TaskKind, ModelId, Arm)>,
}

impl FleetStats {
    /// Shares nothing yet: add [`runtime_stats`](FleetStatsBuilder::runtime_stats) and/or
    /// `online`; keys `taskroute:{stats}:*`, synced every second, a 10 min window in 10 s
    /// buckets.
    pub fn builder(redis: FleetRedis) -> FleetStatsBuilder {
        FleetStatsBuilder {
            redis,
            prefix: ("taskroute".to_owned(), "stats".to_owned()),
            stats: None,
            #[cfg(feature = "learn")]
            online: None,
            refresh: Duration::from_secs(1),
            bucket: Duration::from_secs(10),
            window: Duration::from_secs(600),
        }
    }

    /// Sends what was recorded since the last sync and replaces the local figures with the
    /// fleet's: one round trip.
    ///
    /// # Errors
    /// A [`FleetError`] when Redis fails (what was recorded is kept for the next sync, and
    /// the figures stay local) or answers something this crate's script does not (the
    /// figures stay local).
    pub async fn sync(&self) -> Result<FleetSync, FleetError> {
        let s = &self.shared;
        let out = self.take();
        let mut inv = s.script.key(&s.prefix);
        inv.arg(millis(s.bucket)).arg(s.buckets).arg(out.stats.len());
        for (m, d) in &out.stats {
            inv.arg(m.as_str())
                .arg(d.ok)
                .arg(d.failed)
                .arg(finite(d.latency_ms))
                .arg(finite(d.slowdown));
        }
        #[cfg(feature = "learn")]
        for (kind, model, a) in &out.arms {
            inv.arg(escaped(kind.name()))
                .arg(escaped(model.as_str()))
                .arg(finite(a.successes))
                .arg(finite(a.failures))
                .arg(a.n)
                .arg(finite(a.cost_sum));
        }
        let v = match s.redis.script("stats", &inv).await {
            Ok(v) => v,
            Err(e) => {
                // At least once: a sync that ran but whose answer was lost sends its deltas
                // again (they count twice), which is better than losing an outage's worth.
                self.restore(out);
                return Err(e);
            }
        };
        let unexpected = FleetError::UnexpectedReply {
            op: "stats",
            expected: "the reply of this crate's statistics script",
        };
        let (buckets, arms) = reply::array(&v)
            .filter(|p| p.len() == 2)
            .map(|p| (&p[0], &p[1]))
            .ok_or_else(|| unexpected.clone())?;
        let mut read = FleetSync::default();
        if let Some(stats) = &s.stats {
            let half_life = stats.config().error_half_life;
            let figures = fleet_figures(buckets, s.bucket, half_life).ok_or_else(|| unexpected.clone())?;
            read.models = figures.len();
            for (model, f) in &figures {
                stats.apply_fleet(model, f);
            }
        }
        #[cfg(feature = "learn")]
        if let Some(online) = &s.online {
            let arms = parse_arms(arms).ok_or(unexpected)?;
            read.arms = arms.len();
            online.replace_with_fleet(arms);
        }
        #[cfg(not(feature = "learn"))]
        let _ = arms;
        Ok(read)
    }

    fn take(&self) -> Outbox {
        let s = &self.shared;
        Outbox {
            stats: s.stats.as_ref().map(|st| st.take_deltas()).unwrap_or_default(),
            #[cfg(feature = "learn")]
            arms: s.online.as_ref().map(|o| o.take_unsent()).unwrap_or_default(),
        }
    }

    fn restore(&self, out: Outbox) {
        let s = &self.shared;
        if let Some(st) = &s.stats {
            st.restore_deltas(out.stats);
        }
        #[cfg(feature = "learn")]
        if let Some(o) = &s.online {
            o.restore_unsent(out.arms);
        }
    }

    /// Syncs every `refresh` until the returned task is aborted (or the runtime ends). While
    /// Redis is away the figures are local, and a warning says so.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        crate::fleet::conn::spawn_sync("statistics", self.shared.refresh, move || {
            let this = this.clone();
            async move { this.sync().await.map(|_| ()) }
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A sum to send: a non-finite one (never recorded, but never sent either) as 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

#[cfg(feature = "learn")]
fn escaped(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    escape_into(&mut s, name);
    s
}

/// Decayed sums of one model over the window's buckets.
#[derive(Default)]
struct Sums {
    ok: u64,
    ok_w: f64,
    failed_w: f64,
    latency_w: f64,
    ratio_w: f64,
    /// Age in buckets of the newest bucket with a call.
    newest: Option<u64>,
}

/// The fleet's figures per model from the buckets `{age, HGETALL}` of the reply; `None` on a
/// shape this crate's script does not produce.
fn fleet_figures(
    buckets: &Value,
    bucket: Duration,
    half_life: Duration,
) -> Option<Vec<(ModelId, FleetFigures)>> {
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    let halves = bucket.as_secs_f64() / half_life.as_secs_f64().max(1e-9);
    let mut fields = 0usize;
    for b in reply::array(buckets)? {
        let b = reply::array(b).filter(|b| b.len() == 2)?;
        let age = reply::uint(&b[0])?;
        let w = 0.5f64.powf(age as f64 * halves);
        let flat = reply::array(&b[1]).filter(|f| f.len() % 2 == 0)?;
        fields += flat.len();
        if fields > MAX_FIELDS {
            return None;
        }
        for pair in flat.chunks_exact(2) {
            let name = reply::text(&pair[0])?;
            let (what, model) = name.split_once(':')?;
            let x = reply::float(&pair[1]).filter(|x| x.is_finite() && *x >= 0.0)?;
            let e = sums.entry(model).or_default();
            match what {
                "o" => {
                    e.ok = e.ok.saturating_add(x as u64);
                    e.ok_w += w * x;
                }
                "f" => e.failed_w += w * x,
                "l" => e.latency_w += w * x,
                "r" => e.ratio_w += w * x,
                _ => return None,
            }
            if x > 0.0 && (what == "o" || what == "f") {
                e.newest = Some(e.newest.map_or(age, |n| n.min(age)));
            }
        }
    }
    Some(
        sums.into_iter()
            .map(|(model, e)| {
                let calls = e.ok_w + e.failed_w;
                let mean = |sum: f64| (e.ok_w > 0.0).then(|| sum / e.ok_w);
                let error_rate = if calls > 0.0 {
                    let age = e.newest.unwrap_or(0) as f64;
                    e.failed_w / calls * 0.5f64.powf(age * halves)
                } else {
                    0.0
                };
                let f = FleetFigures {
                    successes: e.ok,
                    latency_ms: mean(e.latency_w),
                    slowdown: mean(e.ratio_w),
                    error_rate,
                };
                (ModelId::from(model), f)
            })
            .collect(),
    )
}

/// The arms of the HGETALL reply; `None` on a shape this crate's script does not produce.
#[cfg(feature = "learn")]
fn parse_arms(v: &Value) -> Option<Vec<(TaskKind, ModelId, Arm)>> {
    let flat = reply::array(v).filter(|f| f.len() % 2 == 0 && f.len() <= MAX_FIELDS)?;
    let mut arms: HashMap<(&str, &str), Arm> = HashMap::new();
    for pair in flat.chunks_exact(2) {
        let mut parts = reply::text(&pair[0])?.splitn(3, '\n');
        let (what, kind, model) = (parts.next()?, parts.next()?, parts.next()?);
        let x = reply::float(&pair[1]).filter(|x| x.is_finite() && *x >= 0.0)?;
        let a = arms.entry((kind, model)).or_default();
        match what {
            "s" => a.successes = x,
            "f" => a.failures = x,
            "n" => a.n = x as u64,
            "c" => a.cost_sum = x,
            _ => return None,
        }
    }
    arms.into_iter()
        .map(|((kind, model), arm)| {
            let kind = unescape(kind).filter(|k| !k.is_empty())?;
            Some((
                TaskKind::from_name(&kind),
                ModelId::from(unescape(model)?.as_str()),
                arm,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    /// One bucket's hash for model `m` as HGETALL returns it: successes, failures, summed
    /// latency (ms) and summed slowdown ratio.
    fn bucket(ok: i64, failed: i64, latency_ms: &str, ratio: &str) -> Value {
        Value::Array(vec![
            bulk("o:m"),
            Value::Int(ok),
            bulk("f:m"),
            Value::Int(failed),
            bulk("l:m"),
            bulk(latency_ms),
            bulk("r:m"),
            bulk(ratio),
        ])
    }

    #[test]
    fn figures_are_decayed_means_and_shares() {
        // now: 3 ok (300 ms, ratio 1 each) and 1 failure; one half-life ago: 1 ok at 900 ms
        let (now, old) = (bucket(3, 1, "900", "3"), bucket(1, 0, "900", "3.0"));
        let buckets = Value::Array(vec![
            Value::Array(vec![Value::Int(0), now]),
            Value::Array(vec![Value::Int(6), old]),
        ]);
        let f = fleet_figures(&buckets, Duration::from_secs(10), Duration::from_secs(60)).unwrap();
        assert_eq!(f.len(), 1);
        let (m, f) = &f[0];
        assert_eq!(m.as_str(), "m");
        assert_eq!(f.successes, 4);
        // ok weights: 3 + 0.5; latency (900 + 450) / 3.5
        assert!((f.latency_ms.unwrap() - 1350.0 / 3.5).abs() < 1e-9);
        assert!((f.slowdown.unwrap() - 4.5 / 3.5).abs() < 1e-9);
        assert!((f.error_rate - 1.0 / 4.5).abs() < 1e-9);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let d = Duration::from_secs(10);
        let garbage = [
            Value::Nil,
            Value::Int(7),
            bulk("OK"),
            Value::Array(vec![Value::Nil]),
            Value::Array(vec![Value::Array(vec![Value::Int(0)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(-1), Value::Array(vec![])])]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Array(vec![bulk("o:m")]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Array(vec![bulk("x:m"), Value::Int(1)]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Array(vec![bulk("o:m"), bulk("nan")]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Array(vec![bulk("nocolon"), Value::Int(1)]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Array(vec![Value::BulkString(vec![0xff, b':', b'm']), Value::Int(1)]),
            ])]),
        ];
        for g in &garbage {
            assert!(fleet_figures(g, d, d).is_none(), "{g:?}");
        }
        assert_eq!(
            fleet_figures(&Value::Array(vec![]), d, d).map(|v| v.len()),
            Some(0)
        );
    }

    #[cfg(feature = "learn")]
    #[test]
    fn arms_round_trip_and_garbage_is_refused() {
        let v = Value::Array(vec![
            bulk("s\nchat\nm%0Ax"),
            bulk("2.5"),
            bulk("f\nchat\nm%0Ax"),
            bulk("0.5"),
            bulk("n\nchat\nm%0Ax"),
            Value::Int(3),
            bulk("c\nchat\nm%0Ax"),
            bulk("0.003"),
        ]);
        let arms = parse_arms(&v).unwrap();
        assert_eq!(arms.len(), 1);
        let (k, m, a) = &arms[0];
        assert_eq!((k, m.as_str()), (&TaskKind::Chat, "m\nx"));
        assert_eq!((a.successes, a.failures, a.n, a.cost_sum), (2.5, 0.5, 3, 0.003));
        for g in [
            Value::Int(1),
            Value::Array(vec![bulk("s\nchat\nm")]),
            Value::Array(vec![bulk("s\nchat"), bulk("1")]),
            Value::Array(vec![bulk("z\nchat\nm"), bulk("1")]),
            Value::Array(vec![bulk("s\nchat\nm"), bulk("-1")]),
            Value::Array(vec![bulk("s\n\nm"), bulk("1")]),
            Value::Array(vec![bulk("s\nchat\n%zz"), bulk("1")]),
        ] {
            assert!(parse_arms(&g).is_none(), "{g:?}");
        }
    }
}
