//! Routed execution (feature `runtime`): carrying a [`Decision`](crate::Decision) out against
//! real providers, and surviving their failures.
//!
//! The parts, each usable on its own:
//!
//! - [`clock`]: injected time ([`Clock`], [`TokioClock`], [`ManualClock`]) so everything below
//!   is deterministic under test;
//! - [`backoff`]: retry delays ([`RetryPolicy`]): exponential, jittered from an explicit seed,
//!   honouring `Retry-After`, capped, never past the request's deadline;
//! - [`breaker`]: a [`CircuitBreaker`] per model; the [`BreakerRegistry`] is the router's
//!   [`Health`](crate::Health) hook, so open breakers take models out of the ranking;
//! - [`budget`]: spend caps per window, global, per tenant and per key, kept by reserving before
//!   and settling after each call ([`BudgetStore`], [`InMemoryBudgetStore`]); as money runs
//!   low the task's cost limit is lowered so the router steps down to cheaper models;
//! - [`stats`]: observed latency and errors ([`RuntimeStats`]) fed back to the router through
//!   [`ObservedLatency`] and [`FailureAwareQuality`].

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod clock;
pub mod stats;

pub use backoff::{Jitter, JitterRng, RetryPolicy};
pub use breaker::{
    BreakerConfig, BreakerOpen, BreakerPermit, BreakerRegistry, BreakerState, CallOutcome, CircuitBreaker,
};
pub use budget::{
    BudgetCap, BudgetError, BudgetPolicy, BudgetScope, BudgetStore, InMemoryBudgetStore, Reservation,
    ScopeUsage,
};
pub use clock::{Clock, ManualClock, Sleep, TokioClock};
pub use stats::{FailureAwareQuality, ModelStats, ObservedLatency, RuntimeStats, StatsConfig};
