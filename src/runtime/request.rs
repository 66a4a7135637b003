//! Per-request state: [`RequestOptions`] (deadline, budget scopes), the context every model's
//! turn shares, and what a turn produced.

use std::time::{Duration, Instant};

use crate::model::{Capabilities, Tag};
use crate::runtime::attempt::{Attempt, AttemptOutcome};
use crate::runtime::backoff::JitterRng;
use crate::runtime::budget::{BudgetError, BudgetScope};
use crate::runtime::error::RoutedError;
use crate::task::{Limits, Task, TaskKind};

/// Per-request settings: the deadline and the budget scopes the call is charged to.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Time allowed for the whole request, retries and fallbacks included. A deadline too
    /// far away to be represented (`Duration::MAX`) means no deadline.
    pub deadline: Duration,
    /// Budget scopes charged (the global scope is always charged when a budget is set).
    pub scopes: Vec<BudgetScope>,
    /// When no deployment of a model can admit the call: wait in line for capacity (first
    /// come, first served, within the deadline) instead of moving on to the next model.
    pub wait_for_capacity: bool,
}

impl RequestOptions {
    /// A request that must end within `deadline`.
    pub fn within(deadline: Duration) -> Self {
        Self {
            deadline,
            scopes: vec![BudgetScope::Global],
            wait_for_capacity: false,
        }
    }

    /// Waits for a deployment's capacity (within the deadline) rather than moving on to the
    /// next model when none can take the call now.
    pub fn wait_for_capacity(mut self, wait: bool) -> Self {
        self.wait_for_capacity = wait;
        self
    }

    /// Charges the request to a tenant.
    pub fn tenant(mut self, tenant: impl AsRef<str>) -> Self {
        self.scopes.push(BudgetScope::tenant(tenant));
        self
    }

    /// Charges the request to a key id.
    pub fn key(mut self, key_id: impl AsRef<str>) -> Self {
        self.scopes.push(BudgetScope::key(key_id));
        self
    }
}

/// What one model's turn produced.
pub(crate) enum Turn<T> {
    Done(T),
    /// Try the next model.
    Next,
    /// Stop: no other model can succeed. The attempts stay in the context, so the caller can
    /// still use them (a cascade returns its best answer so far) before turning this into a
    /// [`RoutedError`] with [`RequestCtx::fail`].
    Stop(Stop),
}

/// Why a request stops.
pub(crate) enum Stop {
    /// The deadline ran out.
    Deadline,
    /// The provider refused the request itself; no other model can help.
    Rejected,
    /// The budget refused and stepping down is off (or the store failed).
    Budget(BudgetError),
}

/// Per-request state shared by complete, stream and cascade.
pub(crate) struct RequestCtx {
    /// `None`: the deadline is too far away to be an instant (no deadline).
    pub(crate) deadline_at: Option<Instant>,
    pub(crate) deadline: Duration,
    pub(crate) scopes: Vec<BudgetScope>,
    pub(crate) rng: JitterRng,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) budget_refusal: Option<BudgetError>,
    /// The task's input tokens (for the reservation at `max_tokens`).
    pub(crate) input_tokens: u32,
    /// The task's expected output tokens (for latency statistics when a response has none).
    pub(crate) expected_output: u32,
    /// The task's caller key (sticky deployments).
    pub(crate) caller_key: Option<String>,
    pub(crate) wait_for_capacity: bool,
}

impl RequestCtx {
    pub(crate) fn new<T: Task + ?Sized>(
        now: Instant,
        task: &T,
        opts: &RequestOptions,
        rng: JitterRng,
    ) -> Self {
        Self {
            input_tokens: task.input_tokens(),
            expected_output: task.output_tokens(),
            caller_key: task.caller_key().map(str::to_owned),
            wait_for_capacity: opts.wait_for_capacity,
            deadline_at: now.checked_add(opts.deadline),
            deadline: opts.deadline,
            scopes: opts.scopes.clone(),
            rng,
            attempts: Vec::new(),
            budget_refusal: None,
        }
    }

    /// Time left before the deadline (`Duration::MAX` without one).
    pub(crate) fn remaining(&self, now: Instant) -> Duration {
        self.deadline_at
            .map_or(Duration::MAX, |at| at.saturating_duration_since(now))
    }

    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.remaining(now).is_zero()
    }

    /// The error for a request that stopped, with every attempt.
    pub(crate) fn fail(&mut self, stop: Stop) -> RoutedError {
        let attempts = std::mem::take(&mut self.attempts);
        match stop {
            Stop::Deadline => RoutedError::DeadlineExceeded {
                deadline: self.deadline,
                attempts,
            },
            Stop::Rejected => RoutedError::Rejected { attempts },
            Stop::Budget(source) => RoutedError::Budget { source, attempts },
        }
    }

    pub(crate) fn exhausted(&mut self) -> RoutedError {
        let attempts = std::mem::take(&mut self.attempts);
        match self.budget_refusal.take() {
            Some(source) if attempts.iter().all(|a| a.outcome != AttemptOutcome::Success) => {
                RoutedError::Budget { source, attempts }
            }
            _ => RoutedError::AllFailed { attempts },
        }
    }
}

/// A task with its cost limit lowered by the budget.
pub(crate) struct LimitedTask<'a, T: ?Sized> {
    pub(crate) inner: &'a T,
    pub(crate) limits: Limits,
}

impl<T: Task + ?Sized> Task for LimitedTask<'_, T> {
    fn kind(&self) -> &TaskKind {
        self.inner.kind()
    }
    fn input_tokens(&self) -> u32 {
        self.inner.input_tokens()
    }
    fn output_tokens(&self) -> u32 {
        self.inner.output_tokens()
    }
    fn cached_input_tokens(&self) -> u32 {
        self.inner.cached_input_tokens()
    }
    fn required_capabilities(&self) -> Capabilities {
        self.inner.required_capabilities()
    }
    fn required_tags(&self) -> &[Tag] {
        self.inner.required_tags()
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn text(&self) -> Option<&str> {
        self.inner.text()
    }
    fn features(&self) -> Option<&[f32]> {
        self.inner.features()
    }
    fn caller_key(&self) -> Option<&str> {
        self.inner.caller_key()
    }
}
