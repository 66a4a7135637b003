//! [`RoutedError`]: why a routed request failed, with every attempt made.

use std::time::Duration;

use crate::Error;
use crate::runtime::attempt::{Attempt, list};
use crate::runtime::budget::BudgetError;

/// Why a routed request failed. Every variant lists the attempts made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoutedError {
    /// The router found no eligible model (its error lists every rejection).
    #[error("no model could be routed to: {source}")]
    NoRoute {
        /// The router's error.
        source: Error,
        /// Whether the budget lowered the task's cost limit (stepped down) before routing.
        budget_limited: bool,
    },
    /// Every ranked model was tried and failed.
    #[error("every model failed ({} attempts): {}", .attempts.len(), list(.attempts))]
    AllFailed {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The provider said the request itself is bad; no retry or other model can help.
    #[error("the request was refused and no other model can help: {}", list(.attempts))]
    Rejected {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The deadline ran out.
    #[error("deadline of {deadline:?} exceeded after {} attempts: {}", .attempts.len(), list(.attempts))]
    DeadlineExceeded {
        /// The request's deadline.
        deadline: Duration,
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// The budget refused the request (stepping down is off, or nothing cheaper was left).
    #[error("{source}; attempts: {}", list(.attempts))]
    Budget {
        /// What the budget said.
        source: BudgetError,
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
}

impl RoutedError {
    /// The attempts made before giving up, in order.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            RoutedError::NoRoute { .. } => &[],
            RoutedError::AllFailed { attempts }
            | RoutedError::Rejected { attempts }
            | RoutedError::DeadlineExceeded { attempts, .. }
            | RoutedError::Budget { attempts, .. } => attempts,
        }
    }
}

/// A short label of the error for logs.
pub(crate) fn short(e: &RoutedError) -> &'static str {
    match e {
        RoutedError::NoRoute { .. } => "no route",
        RoutedError::AllFailed { .. } => "all models failed",
        RoutedError::Rejected { .. } => "request rejected",
        RoutedError::DeadlineExceeded { .. } => "deadline exceeded",
        RoutedError::Budget { .. } => "budget",
    }
}
