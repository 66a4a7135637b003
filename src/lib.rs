//! # taskroute
//!
//! Task-to-model routing for services that use several LLMs: decide, for each task, which
//! model should do it, by quality, cost, latency and the capabilities it needs, and explain why.
//!
//! Every decision runs the same pipeline, one module per stage:
//!
//! ```text
//! Task ──► filter ──► estimate ──► score ──► rank ──► Decision { primary, fallbacks, explanation }
//! ```
//!
//! - [`filter`]: hard constraints (context window, capabilities, allow/deny lists, price caps,
//!   health, tags, the task's cost and latency limits); every rejection keeps its reason.
//! - [`estimate`]: expected quality ([`QualityEstimator`]), cost (prices × tokens) and latency
//!   ([`LatencyEstimator`]) of each candidate.
//! - [`score`]: the policy's [`Scorer`] turns estimates into a number: [`CostFirst`],
//!   [`QualityFirst`], [`Weighted`], or your own.
//! - [`rank`]: best first; the rest are the fallbacks, in order.
//!
//! The core is pure: no I/O, no clock, no global state, no async; the same inputs give the same
//! [`Decision`]. Routing into a reused [`Decision`] allocates nothing.
//!
//! ```
//! use taskroute::{Capability, Catalog, CostFirst, Router, TaskKind, TaskSpec};
//!
//! let router = Router::builder()
//!     .models(Catalog::builtin().into_models())
//!     .policy(CostFirst::new(0.7)?)
//!     .build()?;
//! let task = TaskSpec::new(TaskKind::Planning, 3_000).require(Capability::Tools);
//! let decision = router.route(&task)?;
//! println!("{}", decision.explain());
//! # Ok::<(), taskroute::Error>(())
//! ```
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `catalog` (default) | the built-in dated [`Catalog`] and JSON/TOML catalog loading |
//! | `anthropic` | [`provider::anthropic::Anthropic`]: Anthropic Messages |
//! | `bedrock` | [`provider::bedrock::Bedrock`]: AWS Bedrock Converse and ConverseStream |
//! | `openai` | [`provider::openai::OpenAi`]: OpenAI Chat Completions and any OpenAI-compatible server |
//! | `provider` | the async [`provider::Provider`] trait, common request/response/stream types, [`provider::ProviderError`] |
//! | `eval` | offline evaluation: outcome tables, replay of any policy, sweeps, baselines, metrics |
//! | `cli` | the `taskroute` command-line tool (`taskroute eval`, `taskroute route`); implies `eval` |
//! | `runtime` | routed execution: retries with backoff, circuit breakers feeding the health filter, budgets, observed latency and errors |
//! | `request` | [`request`]: [`TaskSpec::from_request`] and `Router::route_request` (capabilities, exact OpenAI token counts, the task kind from a `KindClassifier`) |
//! | `learn` | [`learn`]: per-prompt quality estimators trained from outcomes, saved and loaded; online learning from feedback |
//! | `metrics` | [`telemetry`]: metrics through the `metrics` facade, with OpenTelemetry GenAI names |
//! | `experiment` | [`experiment`]: A/B experiments between policies with sticky assignment and a sequential stopping rule |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![forbid(unsafe_code)]

mod candidate;
mod capability;
mod closure;
pub mod date;
pub mod decision;
pub mod error;
pub mod estimate;
pub mod filter;
mod id;
mod kind;
pub mod model;
mod non_finite;
mod non_negative;
mod pass;
pub mod policy;
pub mod prices;
pub mod rank;
mod rejection;
pub mod router;
pub mod score;
mod table;
pub mod task;

#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub mod catalog;

#[cfg(feature = "eval")]
#[cfg_attr(docsrs, doc(cfg(feature = "eval")))]
pub mod eval;
#[cfg(feature = "provider")]
#[cfg_attr(docsrs, doc(cfg(feature = "provider")))]
pub mod provider;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod runtime;

#[cfg(feature = "learn")]
#[cfg_attr(docsrs, doc(cfg(feature = "learn")))]
pub mod learn;

#[cfg(feature = "request")]
#[cfg_attr(docsrs, doc(cfg(feature = "request")))]
pub mod request;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod fleet;

#[cfg(feature = "experiment")]
#[cfg_attr(docsrs, doc(cfg(feature = "experiment")))]
pub mod experiment;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod telemetry;

#[cfg(feature = "catalog")]
pub use catalog::litellm::{LitellmEntryError, LitellmImport, LitellmOptions};
#[cfg(feature = "catalog")]
pub use catalog::{Catalog, CatalogDiff, CatalogError, FieldChange, ModelChange, ModelPatch};
pub use date::{Date, DateError};
pub use decision::{Candidate, Decision, DecisionError, Explain, Verdict};
pub use error::Error;
pub use estimate::{
    Estimate, LatencyEstimator, LatencyFn, OutputEstimator, PreparedLatency, PreparedQuality, PriorQuality,
    ProfileLatency, QualityEstimator, QualityFn, expected_cost_usd, latency_fn, quality_fn,
};
pub use filter::{Constraints, Filter, FilterFn, Health, HealthFn, Rejection, filter_fn, health_fn};
pub use model::{
    Capabilities, Capability, LatencyProfile, Model, ModelId, ModelSpec, Prices, QualityPriors, Tag,
};
pub use policy::{Policy, PolicyFn, ScoreEach, Scored, ScorerPolicy, policy_fn, rank_with_scorer};
pub use prices::{LongContext, Rates, TokenCounts};
pub use router::{Router, RouterBuilder};
pub use score::{CostFirst, QualityFirst, Score, Scorer, ScorerFn, Weighted, scorer_fn};
pub use task::{Limits, Task, TaskKind, TaskSpec};
