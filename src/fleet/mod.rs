//! Fleets (feature `redis`): runtime state shared by every replica of a service through Redis
//! (or Valkey, which speaks the same protocol), so that N replicas behave like one router.
//!
//! - [`RedisBudgetStore`]: a [`BudgetStore`](crate::runtime::BudgetStore) whose caps hold
//!   fleet-wide. Reserve is all or nothing across a request's scopes in one Lua script;
//!   reservations are leases, so a crashed replica's money comes back; settle and release are
//!   idempotent; amounts are whole micro-dollars.
//! - [`FleetBreakers`]: circuit breakers that count failures and opens fleet-wide, with one
//!   half-open probe per model for the whole fleet; routing reads only the local
//!   [`BreakerRegistry`](crate::runtime::BreakerRegistry), which a background task keeps in
//!   step with Redis.
//! - [`FleetStats`]: observed latency and error statistics, and the online learner's arms,
//!   merged into Redis every second and read back, so that a fleet learns together and a
//!   restarted process starts from what the fleet knows.
//! - [`RedisLimiter`]: a deployment's rpm/tpm [`Limiter`](crate::runtime::Limiter) shared by
//!   the fleet: one round trip (one Lua script) per admission; see docs/deployments.md.
//! - [`FleetRedis`]: the connection the parts share (redis-rs's self-reconnecting
//!   `ConnectionManager`, a timeout on every call).
//! - [`RedisUnavailable`]: what a budget does when Redis is away (fail closed by default, or
//!   open against a stated per-process cap).
//!
//! docs/fleet.md has the deployment picture, each guarantee and the failure modes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use taskroute::fleet::{FleetRedis, RedisBudgetStore};
//! use taskroute::runtime::{BudgetCap, BudgetScope, BudgetStore};
//!
//! let redis = FleetRedis::open("redis://127.0.0.1:6379/")?;
//! let store = RedisBudgetStore::builder(redis)
//!     .cap(BudgetScope::Global, BudgetCap::per(100.0, Duration::from_secs(86_400)))
//!     .tenant_cap(BudgetCap::per(5.0, Duration::from_secs(3_600)))
//!     .build()?;
//! let r = store.reserve(&[BudgetScope::Global, BudgetScope::tenant("acme")], 0.02).await?;
//! store.settle(&r, 0.013).await?;
//! # Ok(()) }
//! ```

mod breakers;
mod budget;
mod conn;
mod error;
mod keys;
mod limiter;
mod stats;

pub use breakers::{FleetBreakerState, FleetBreakers, FleetBreakersBuilder};
pub use budget::{RedisBudgetStore, RedisBudgetStoreBuilder, RedisUnavailable};
pub use conn::{FleetRedis, RedisOptions};
pub use error::FleetError;
pub use limiter::RedisLimiter;
pub use stats::{FleetStats, FleetStatsBuilder, FleetSync};
