//! [`RateLimits`]: what a provider's rate-limit headers said about a key's limits, on a
//! response or an error. The clients fill it from OpenAI's `x-ratelimit-*` and Anthropic's
//! `anthropic-ratelimit-*` headers; the runtime's limiters learn from it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One limit as a provider reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LimitWindow {
    /// The limit per minute.
    pub limit: u64,
    /// What is left of it now.
    pub remaining: u64,
    /// How long until it is whole again, where the provider said.
    #[serde(default)]
    pub reset: Option<Duration>,
}

impl LimitWindow {
    /// A limit with `remaining` left and no reset time.
    pub const fn new(limit: u64, remaining: u64) -> Self {
        Self {
            limit,
            remaining,
            reset: None,
        }
    }

    /// With the time until the limit is whole again.
    pub const fn with_reset(mut self, reset: Duration) -> Self {
        self.reset = Some(reset);
        self
    }
}

/// A provider's view of a key's limits, from one response's headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RateLimits {
    /// Requests per minute.
    #[serde(default)]
    pub requests: Option<LimitWindow>,
    /// Tokens per minute (Anthropic: the combined tokens limit, else the input-tokens one).
    #[serde(default)]
    pub tokens: Option<LimitWindow>,
}

impl RateLimits {
    /// Limits with these windows.
    pub const fn new(requests: Option<LimitWindow>, tokens: Option<LimitWindow>) -> Self {
        Self { requests, tokens }
    }

    /// Whether the headers said anything.
    pub const fn is_empty(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }
}
