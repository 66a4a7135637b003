//! Circuit breakers, one per model, and the [`BreakerRegistry`] that feeds open breakers into
//! the router's health filter.
//!
//! A breaker is **closed** (calls pass) until failures cross a threshold within a sliding
//! window: a number of consecutive failures, or a failure rate over at least `min_calls` calls.
//! It then **opens** for `open_for`: the router sees the model as unhealthy
//! ([`Rejection::Unhealthy`](crate::Rejection::Unhealthy)) and no call reaches it. After the
//! cool-down it is **half-open**: up to `half_open_probes` calls go through at once; that many
//! successes close it, one failure opens it again. A breaker trips even when its model is the
//! only one configured: requests then fail fast instead of hammering a dead provider.
//!
//! One job per file: [`BreakerConfig`] (config.rs), one model's [`CircuitBreaker`] and its
//! [`BreakerPermit`] (circuit.rs), the per-model [`BreakerRegistry`] the router reads
//! (registry.rs).

mod circuit;
mod config;
mod registry;

pub use circuit::{BreakerObserver, BreakerOpen, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker};
pub use config::BreakerConfig;
pub use registry::BreakerRegistry;
