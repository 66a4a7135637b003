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
//! - [`client`]: the [`RoutedClient`] that puts them together: route, call, retry with backoff,
//!   fall back down the ranking, all within a per-request deadline, every attempt recorded
//!   ([`attempt`]); built by [`builder`], per-request settings in [`request`], failures in
//!   [`error`]. One model's turn (reserve, permit, call, settle, back off) is one function
//!   shared by `complete`, `stream` and `cascade`, and the budget is settled by a guard that
//!   also runs when the caller drops the request;
//! - [`deploy`]: several [`Deployment`]s per model (keys, regions, provisioned and on-demand
//!   tiers), spread by a [`Balancer`], each admitting calls through a [`Limiter`] ([`limit`]:
//!   rpm, tpm, concurrency, learned from the provider's rate-limit headers) before sending;
//! - [`stream`]: routed streaming that falls back only before the first token;
//! - [`cascade`]: FrugalGPT cascades with an [`AcceptanceCheck`];
//! - [`stats`]: observed latency and errors ([`RuntimeStats`]) fed back to the router through
//!   [`ObservedLatency`] and [`FailureAwareQuality`].

pub mod attempt;
pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod builder;
pub mod cascade;
mod charge;
pub mod client;
pub mod clock;
pub mod deploy;
pub mod error;
pub mod limit;
pub mod request;
mod spans;
pub mod stats;
pub mod stream;
mod turn;

pub use attempt::{Attempt, AttemptOutcome, CostBasis};
pub use backoff::{Jitter, JitterRng, RetryPolicy};
pub use breaker::{
    BreakerConfig, BreakerObserver, BreakerOpen, BreakerPermit, BreakerRegistry, BreakerState, CallOutcome,
    CircuitBreaker,
};
pub use budget::{
    BudgetCap, BudgetError, BudgetPolicy, BudgetScope, BudgetStore, InMemoryBudgetStore, Reservation,
    ScopeUsage, nanos_to_usd, usd_to_nanos,
};
pub use builder::RoutedClientBuilder;
pub use cascade::{AcceptanceCheck, BasicCheck, CascadeResponse, CascadeStep};
pub use client::{RoutedClient, RoutedResponse};
pub use clock::{Clock, ManualClock, Sleep, TokioClock};
#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub use deploy::CatalogDeploymentError;
pub use deploy::{
    Balancer, Choice, Deployment, DeploymentId, LeastInFlight, LowestLatency, MostRemaining, Pick,
    StickyByKey, WeightedRandom,
};
pub use error::RoutedError;
pub use limit::{
    Acquire, Capacity, DEFAULT_THROTTLE_PAUSE, DeploymentLimits, Limiter, LocalLimiter, Refusal,
};
pub use request::RequestOptions;
pub use stats::{FailureAwareQuality, ModelStats, ObservedLatency, RuntimeStats, StatsConfig};
pub use stream::{RoutedStream, StreamInterrupted};
