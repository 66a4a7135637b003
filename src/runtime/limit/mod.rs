//! Admission before sending: a [`Limiter`] per deployment keeps its requests-per-minute,
//! tokens-per-minute and concurrency limits, is corrected with each call's real usage, and
//! learns the provider's own view from its rate-limit headers ([`RateLimits`]).
//!
//! - [`LocalLimiter`]: in-process, allocation-free, GCRA (one "theoretical arrival time" per
//!   limit, as in governor; see [`local`] for why it is not governor itself).
//! - A shared limiter for fleets implements the same trait (its [`acquire`](Limiter::acquire)
//!   returns [`Acquire::Pending`] with the round trip to the shared store).
//!
//! A call's tokens are estimated as its input tokens plus its `max_tokens` (or the model's
//! output limit), reserved before sending and corrected with the real usage after the call
//! ([`Limiter::settle`]).

use std::fmt;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::provider::RateLimits;

pub mod local;

pub use local::{DEFAULT_THROTTLE_PAUSE, LocalLimiter};

/// The configured limits of one deployment; `None` is "not configured" (learned from the
/// provider's headers when it sends them, else unlimited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentLimits {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens (input plus output) per minute.
    pub tpm: Option<u64>,
    /// Calls in flight at once.
    pub max_concurrency: Option<u32>,
}

impl DeploymentLimits {
    /// No configured limit.
    pub const fn none() -> Self {
        Self {
            rpm: None,
            tpm: None,
            max_concurrency: None,
        }
    }

    /// With a requests-per-minute limit.
    pub const fn rpm(mut self, rpm: u64) -> Self {
        self.rpm = Some(rpm);
        self
    }

    /// With a tokens-per-minute limit.
    pub const fn tpm(mut self, tpm: u64) -> Self {
        self.tpm = Some(tpm);
        self
    }

    /// With a limit on calls in flight.
    pub const fn max_concurrency(mut self, n: u32) -> Self {
        self.max_concurrency = Some(n);
        self
    }
}

/// Why a limiter refused a call, and when capacity returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The requests-per-minute limit is used up.
    #[error("requests per minute used up; capacity returns in {retry_after:?}")]
    Requests {
        /// When one more request fits.
        retry_after: Duration,
    },
    /// The tokens-per-minute limit cannot take the call's estimate now.
    #[error("tokens per minute used up ({tokens} needed); capacity returns in {retry_after:?}")]
    Tokens {
        /// The call's estimate (input plus `max_tokens`).
        tokens: u64,
        /// When the estimate fits.
        retry_after: Duration,
    },
    /// The call's estimate is larger than a whole minute's tokens: it never fits.
    #[error("the call needs {tokens} tokens, more than the deployment's {tpm} per minute")]
    TooLarge {
        /// The call's estimate.
        tokens: u64,
        /// The tokens-per-minute limit.
        tpm: u64,
    },
    /// As many calls as allowed are in flight.
    #[error("{max} calls in flight, the most allowed")]
    Concurrency {
        /// The limit.
        max: u32,
    },
    /// The provider said to wait (a 429 with `Retry-After`, or a throttling error).
    #[error("the provider asked to wait; capacity returns in {retry_after:?}")]
    Throttled {
        /// What is left of the wait.
        retry_after: Duration,
    },
    /// A shared limiter could not reach its store; the call is not sent.
    #[error("the shared rate-limit store is unavailable")]
    StoreUnavailable,
}

impl Refusal {
    /// When capacity returns, where that is known: `None` for [`TooLarge`](Self::TooLarge)
    /// (never), [`Concurrency`](Self::Concurrency) (when a call ends) and
    /// [`StoreUnavailable`](Self::StoreUnavailable).
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::Requests { retry_after }
            | Refusal::Tokens { retry_after, .. }
            | Refusal::Throttled { retry_after } => Some(*retry_after),
            Refusal::TooLarge { .. } | Refusal::Concurrency { .. } | Refusal::StoreUnavailable => None,
        }
    }
}

/// What [`Limiter::acquire`] returns: an answer at once (the in-process limiter, without
/// allocating), or a future (a shared limiter's round trip).
#[allow(missing_debug_implementations)] // a boxed future has nothing to show
#[non_exhaustive]
pub enum Acquire<'a> {
    /// Decided.
    Ready(Result<(), Refusal>),
    /// Deciding.
    Pending(BoxFuture<'a, Result<(), Refusal>>),
}

impl Acquire<'_> {
    /// The decision.
    pub async fn decided(self) -> Result<(), Refusal> {
        match self {
            Acquire::Ready(r) => r,
            Acquire::Pending(f) => f.await,
        }
    }
}

/// How much a deployment can take now, as a balancer sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Capacity {
    /// The smallest share left of the requests and tokens limits, in `[0, 1]`; 1 when
    /// nothing limits the deployment.
    pub remaining_share: f64,
    /// Calls in flight.
    pub in_flight: u32,
}

impl Capacity {
    /// What is left: `remaining_share` (clamped to `[0, 1]`) and the calls in flight.
    pub fn new(remaining_share: f64, in_flight: u32) -> Self {
        Self {
            remaining_share: if remaining_share.is_nan() {
                0.0
            } else {
                remaining_share.clamp(0.0, 1.0)
            },
            in_flight,
        }
    }
}

/// The limits of one deployment: admission before sending, correction after.
///
/// Implementations are `Debug + Send + Sync` and keep their own state; every method takes the
/// current instant from the caller's [`Clock`](crate::runtime::Clock), so tests drive them.
pub trait Limiter: fmt::Debug + Send + Sync {
    /// Takes one request and `tokens` tokens (and a concurrency slot) if all fit now, else
    /// says which limit refused and when capacity returns. A granted call must be closed with
    /// exactly one [`settle`](Self::settle).
    fn acquire(&self, tokens: u64, now: Instant) -> Acquire<'_>;

    /// Closes a granted call: gives back its concurrency slot and corrects the tokens taken
    /// from `reserved` to `used` (`None`: unknown, the reservation stands).
    fn settle(&self, reserved: u64, used: Option<u64>, now: Instant);

    /// Adopts what the provider's rate-limit headers said (its limits, and what is left when
    /// that is less than this limiter thinks).
    fn learn(&self, seen: &RateLimits, now: Instant);

    /// The provider refused for rate (HTTP 429, a throttling error): no call until
    /// `retry_after` has passed (a default pause when the provider named none).
    fn throttled(&self, retry_after: Option<Duration>, now: Instant);

    /// What is left now.
    fn capacity(&self, now: Instant) -> Capacity;
}

impl<L: Limiter + ?Sized> Limiter for std::sync::Arc<L> {
    fn acquire(&self, tokens: u64, now: Instant) -> Acquire<'_> {
        (**self).acquire(tokens, now)
    }
    fn settle(&self, reserved: u64, used: Option<u64>, now: Instant) {
        (**self).settle(reserved, used, now);
    }
    fn learn(&self, seen: &RateLimits, now: Instant) {
        (**self).learn(seen, now);
    }
    fn throttled(&self, retry_after: Option<Duration>, now: Instant) {
        (**self).throttled(retry_after, now);
    }
    fn capacity(&self, now: Instant) -> Capacity {
        (**self).capacity(now)
    }
}

#[cfg(test)]
mod tests {
    use super::DeploymentLimits;

    #[test]
    fn absent_limits_read_as_unset_and_unknown_ones_are_refused() {
        let parse = serde_json::from_str::<DeploymentLimits>;
        assert_eq!(
            parse(r#"{"rpm": 500}"#).unwrap(),
            DeploymentLimits::none().rpm(500)
        );
        assert_eq!(parse("{}").unwrap(), DeploymentLimits::none());
        assert!(parse(r#"{"rps": 1}"#).is_err());
    }
}
