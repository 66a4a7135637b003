//! [`Rejection`]: why a candidate was not ranked. A leaf of the module graph: the filter, the
//! scorers, the decision and the error type all name rejections.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::capability::Capabilities;
use crate::date::Date;
use crate::id::Tag;

/// Why a candidate was not ranked. Carried by every rejected candidate in a
/// [`Decision`](crate::Decision); cloning it never allocates for the built-in reasons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// The router's allow list does not name the model.
    NotAllowed,
    /// The router's deny list names the model.
    Denied,
    /// The model is retired on the date the router was given
    /// ([`RouterBuilder::exclude_retired`](crate::RouterBuilder::exclude_retired)).
    Retired {
        /// The model's retirement date.
        on: Date,
    },
    /// The health hook reports the model unavailable (e.g. its circuit breaker is open).
    Unhealthy,
    /// The model lacks capabilities the task requires.
    MissingCapabilities {
        /// The required capabilities the model lacks.
        missing: Capabilities,
    },
    /// Input plus expected output tokens exceed the context window.
    ContextWindow {
        /// Input plus expected output tokens.
        needed: u64,
        /// The model's context window.
        window: u32,
    },
    /// The expected output exceeds the model's output limit.
    MaxOutput {
        /// Expected output tokens.
        needed: u32,
        /// The model's output limit.
        max: u32,
    },
    /// The model lacks a tag the task requires.
    MissingTag {
        /// The first missing tag.
        tag: Tag,
    },
    /// A price per million tokens is above the router's cap.
    PriceCap {
        /// Which price: `"input"` or `"output"`.
        price: Cow<'static, str>,
        /// The model's price (USD per million tokens).
        usd_per_mtok: f64,
        /// The cap.
        cap: f64,
    },
    /// The expected cost of the call is above the task's limit.
    CostLimit {
        /// Expected cost (USD).
        estimated_usd: f64,
        /// The limit (USD).
        limit_usd: f64,
    },
    /// The expected latency is above the task's limit.
    LatencyLimit {
        /// Expected latency (ms); infinite when the latency estimator had no estimate.
        #[serde(with = "crate::non_finite")]
        estimated_ms: f64,
        /// The limit (ms).
        limit_ms: f64,
    },
    /// No quality estimate is available for the model on this task.
    NoQualityEstimate,
    /// The estimator returned a value outside `[0, 1]` or not a number.
    BadQualityEstimate {
        /// What it returned.
        #[serde(with = "crate::non_finite")]
        value: f64,
    },
    /// The expected cost is above the policy's cost ceiling (quality-first).
    AboveCostCeiling {
        /// Expected cost (USD).
        estimated_usd: f64,
        /// The ceiling (USD).
        ceiling_usd: f64,
    },
    /// A user-supplied [`Filter`](crate::Filter) rejected the model.
    Filter {
        /// The filter's name.
        filter: Cow<'static, str>,
        /// Its reason.
        detail: Cow<'static, str>,
    },
    /// A user-supplied policy or scorer rejected the model.
    Policy {
        /// Its reason.
        detail: Cow<'static, str>,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotAllowed => f.write_str("not in the allow list"),
            Rejection::Denied => f.write_str("in the deny list"),
            Rejection::Retired { on } => write!(f, "retired on {on}"),
            Rejection::Unhealthy => f.write_str("unavailable (health check / circuit open)"),
            Rejection::MissingCapabilities { missing } => write!(f, "lacks capabilities: {missing}"),
            Rejection::ContextWindow { needed, window } => {
                write!(f, "needs {needed} tokens, context window is {window}")
            }
            Rejection::MaxOutput { needed, max } => {
                write!(f, "expects {needed} output tokens, model max is {max}")
            }
            Rejection::MissingTag { tag } => write!(f, "lacks tag `{tag}`"),
            Rejection::PriceCap {
                price,
                usd_per_mtok,
                cap,
            } => write!(f, "{price} price ${usd_per_mtok}/Mtok above cap ${cap}/Mtok"),
            Rejection::CostLimit {
                estimated_usd,
                limit_usd,
            } => write!(
                f,
                "expected cost ${estimated_usd:.6} above task limit ${limit_usd:.6}"
            ),
            Rejection::LatencyLimit {
                estimated_ms,
                limit_ms,
            } => write!(
                f,
                "expected latency {estimated_ms:.0} ms above task limit {limit_ms:.0} ms"
            ),
            Rejection::NoQualityEstimate => f.write_str("no quality estimate for this task"),
            Rejection::BadQualityEstimate { value } => {
                write!(f, "estimator returned {value}, not a quality in [0, 1]")
            }
            Rejection::AboveCostCeiling {
                estimated_usd,
                ceiling_usd,
            } => write!(
                f,
                "expected cost ${estimated_usd:.6} above ceiling ${ceiling_usd:.6}"
            ),
            Rejection::Filter { filter, detail } => write!(f, "filter `{filter}`: {detail}"),
            Rejection::Policy { detail } => write!(f, "policy: {detail}"),
        }
    }
}
