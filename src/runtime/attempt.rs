//! The record of one call (or refused call) of one model: [`Attempt`], how it ended
//! ([`AttemptOutcome`]) and where its cost comes from ([`CostBasis`]).

use std::fmt;
use std::time::Duration;

use crate::model::ModelId;
use crate::provider::{ErrorKind, ProviderError};
use crate::runtime::budget::BudgetError;
use crate::runtime::deploy::DeploymentId;
use crate::runtime::limit::Refusal;

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The model answered (and, in a cascade, the answer was accepted).
    Success,
    /// The provider returned an error.
    Failed {
        /// What kind.
        kind: ErrorKind,
        /// The HTTP status, where there was one.
        status: Option<u16>,
        /// The provider's message (never a key; no prompt text is added by the runtime).
        message: String,
    },
    /// The request's deadline ran out during the attempt.
    DeadlineExceeded,
    /// The model's circuit breaker refused the call.
    CircuitOpen,
    /// The budget refused the reservation.
    BudgetRefused {
        /// The store's answer: the scope over its cap, with its figures, or the store's failure.
        error: BudgetError,
    },
    /// No provider is registered under the model's provider name.
    NoProvider,
    /// None of the model's deployments could admit the call (their rate or concurrency limits
    /// are used up, or the provider asked to wait). Nothing was sent.
    NoCapacity {
        /// When capacity returns on the first deployment to have some; `None` when no refusal
        /// says: a concurrency limit (a slot frees when a call ends), a call larger than a
        /// whole minute's tokens (never), the shared store unreachable.
        retry_after: Option<Duration>,
        /// Each deployment asked, with why it refused, in the order asked (empty when the
        /// request gave up waiting in line before it could ask).
        refusals: Vec<(DeploymentId, Refusal)>,
    },
    /// A cascade's acceptance check turned the answer down.
    NotAccepted {
        /// The check's reason.
        reason: String,
    },
    /// A stream failed after its first token reached the caller.
    StreamInterrupted {
        /// The error's kind.
        kind: ErrorKind,
    },
}

impl AttemptOutcome {
    pub(crate) fn from_error(e: &ProviderError) -> Self {
        AttemptOutcome::Failed {
            kind: e.kind(),
            status: e.status(),
            message: e.message().to_owned(),
        }
    }

    /// A short label (`"success"`, `"rate limited"`, `"circuit open"`), as logged.
    pub fn label(&self) -> &str {
        match self {
            AttemptOutcome::Success => "success",
            AttemptOutcome::Failed { kind, .. } | AttemptOutcome::StreamInterrupted { kind } => {
                kind.description()
            }
            AttemptOutcome::DeadlineExceeded => "deadline exceeded",
            AttemptOutcome::CircuitOpen => "circuit open",
            AttemptOutcome::BudgetRefused { .. } => "budget refused",
            AttemptOutcome::NoProvider => "no provider",
            AttemptOutcome::NoCapacity { .. } => "no capacity",
            AttemptOutcome::NotAccepted { .. } => "not accepted",
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Failed { kind, status, .. } => match status {
                Some(s) => write!(f, "{kind} ({s})"),
                None => write!(f, "{kind}"),
            },
            AttemptOutcome::BudgetRefused { error } => write!(f, "budget refused: {error}"),
            AttemptOutcome::NotAccepted { reason } => write!(f, "not accepted: {reason}"),
            AttemptOutcome::NoCapacity {
                retry_after,
                refusals,
            } => {
                f.write_str("no capacity")?;
                if let Some(d) = retry_after {
                    write!(f, " for {:.3}s", d.as_secs_f64())?;
                }
                for (i, (id, why)) in refusals.iter().enumerate() {
                    write!(f, "{}{id}: {why}", if i == 0 { " (" } else { "; " })?;
                }
                if refusals.is_empty() {
                    Ok(())
                } else {
                    f.write_str(")")
                }
            }
            AttemptOutcome::StreamInterrupted { kind } => {
                write!(f, "stream cut after the first token: {kind}")
            }
            other => f.write_str(other.label()),
        }
    }
}

/// One call (or refused call) of one model during a request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Attempt {
    /// The model.
    pub model: ModelId,
    /// The deployment that served (or refused) the call, for a model with
    /// [deployments](crate::runtime::Deployment).
    pub deployment: Option<DeploymentId>,
    /// Its place in the ranking (0 = primary).
    pub rank: u32,
    /// 0 for the first call of this model, then 1, 2, ... for retries.
    pub retry: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Wall time of the call (zero when no call was made).
    pub latency: Duration,
    /// What the call was charged in USD: its reported cost, or (see `cost_basis`) its whole
    /// reservation when the real cost is unknown; 0 when nothing was billed.
    pub cost_usd: f64,
    /// Where `cost_usd` comes from.
    pub cost_basis: CostBasis,
    /// The backoff waited after this attempt before the next one.
    pub backoff: Duration,
}

/// Where an [`Attempt`]'s cost comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CostBasis {
    /// Nothing was billed: the call was not made, or failed before the provider did any work
    /// (providers bill no usage for errors).
    #[default]
    NotCharged,
    /// The provider reported the usage; the cost is computed from it.
    Reported,
    /// The real cost is unknown, so the whole reservation (the cost at `max_tokens`, or the
    /// estimate) was charged: the response carried no usage, or the call was cut (timeout,
    /// deadline, the caller dropped it) after it was sent and may have been billed.
    Reserved,
}

impl Attempt {
    /// An attempt that made no call (latency and cost zero).
    pub(crate) fn new(model: &ModelId, rank: u32, retry: u32, outcome: AttemptOutcome) -> Self {
        Self {
            model: model.clone(),
            deployment: None,
            rank,
            retry,
            outcome,
            latency: Duration::ZERO,
            cost_usd: 0.0,
            cost_basis: CostBasis::NotCharged,
            backoff: Duration::ZERO,
        }
    }

    /// With the deployment that took the call.
    pub(crate) fn via(mut self, deployment: Option<&DeploymentId>) -> Self {
        self.deployment = deployment.cloned();
        self
    }

    /// With the call's wall time.
    pub(crate) fn took(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// With what the call was charged.
    pub(crate) fn charged(mut self, cost_usd: f64, basis: CostBasis) -> Self {
        self.cost_usd = cost_usd;
        self.cost_basis = basis;
        self
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.model)?;
        if let Some(d) = &self.deployment {
            write!(f, "@{d}")?;
        }
        if self.retry > 0 {
            write!(f, " (retry {})", self.retry)?;
        }
        write!(f, ": {} after {:?}", self.outcome, self.latency)
    }
}

pub(crate) fn list(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no attempt was made".to_owned();
    }
    attempts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
