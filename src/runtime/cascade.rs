//! Cascades (FrugalGPT): try the cheapest eligible model first, accept its answer when an
//! [`AcceptanceCheck`] passes, else escalate to the next dearer one; every step's cost is
//! reported.
//!
//! Each step runs like [`RoutedClient::complete`] on one model (retries with backoff; an error
//! escalates to the next step), all within the request's deadline. When no answer is accepted,
//! the last answer obtained is returned with `accepted: false`, as FrugalGPT does.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use derive_setters::Setters;

use crate::decision::Decision;
use crate::model::ModelId;
use crate::provider::{ChatRequest, ChatResponse, FinishReason};
use crate::runtime::attempt::{Attempt, AttemptOutcome};
use crate::runtime::client::RoutedClient;
use crate::runtime::error::RoutedError;
use crate::runtime::request::{RequestOptions, Turn};
use crate::task::Task;

/// Decides whether a cascade step's answer is good enough to stop.
pub trait AcceptanceCheck: Send + Sync {
    /// `Ok(())` accepts the answer; `Err` gives the reason to escalate.
    ///
    /// # Errors
    /// The reason the answer is turned down.
    fn check(&self, response: &ChatResponse) -> Result<(), Cow<'static, str>>;

    /// A short name for logs.
    fn name(&self) -> &str {
        "custom"
    }
}

impl<F> AcceptanceCheck for F
where
    F: Fn(&ChatResponse) -> Result<(), Cow<'static, str>> + Send + Sync,
{
    fn check(&self, response: &ChatResponse) -> Result<(), Cow<'static, str>> {
        self(response)
    }
}

/// The simple built-in check: the answer is finished (reason [`FinishReason::Stop`] or a tool
/// call), at least `min_chars` long, and contains `must_contain` when set.
///
/// ```
/// use taskroute::runtime::BasicCheck;
/// let check = BasicCheck::default().min_chars(20).must_contain("Answer:");
/// # let _ = check;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Setters)]
#[setters(generate = false)]
#[non_exhaustive]
pub struct BasicCheck {
    /// Shortest acceptable text, in characters (tool-call answers are exempt).
    #[setters(generate)]
    pub min_chars: usize,
    /// Text the answer must contain.
    #[setters(generate, strip_option, into)]
    pub must_contain: Option<String>,
}

impl Default for BasicCheck {
    /// A non-empty, finished answer.
    fn default() -> Self {
        Self {
            min_chars: 1,
            must_contain: None,
        }
    }
}

impl AcceptanceCheck for BasicCheck {
    fn check(&self, r: &ChatResponse) -> Result<(), Cow<'static, str>> {
        match r.finish_reason {
            FinishReason::Stop => {}
            FinishReason::ToolCalls if !r.tool_calls.is_empty() => return Ok(()),
            ref other => return Err(Cow::Owned(format!("unfinished answer ({other:?})"))),
        }
        let n = r.text.trim().chars().count();
        if n < self.min_chars {
            return Err(Cow::Owned(format!(
                "{n} characters, fewer than {}",
                self.min_chars
            )));
        }
        if let Some(s) = &self.must_contain
            && !r.text.contains(s.as_str())
        {
            return Err(Cow::Borrowed("does not contain the required text"));
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "basic"
    }
}

/// One step of a cascade.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CascadeStep {
    /// The model.
    pub model: ModelId,
    /// What the step cost in USD (all its calls).
    pub cost_usd: f64,
    /// Whether its answer was accepted.
    pub accepted: bool,
    /// Why not, when it was not (an error or the check's reason).
    pub reason: Option<String>,
    /// Wall time of the step's calls and backoffs.
    pub elapsed: Duration,
}

/// The result of a cascade.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CascadeResponse {
    /// The accepted answer, or the last one obtained.
    pub response: ChatResponse,
    /// Whether `response` passed the check.
    pub accepted: bool,
    /// Every step, cheapest first.
    pub steps: Vec<CascadeStep>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// The routing decision the cascade walked.
    pub decision: Decision,
}

impl CascadeResponse {
    /// What the whole cascade cost, in USD.
    pub fn total_cost_usd(&self) -> f64 {
        self.steps.iter().map(|s| s.cost_usd).sum()
    }
}

impl fmt::Display for CascadeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ${:.6}", self.model, self.cost_usd)?;
        match (&self.reason, self.accepted) {
            (_, true) => f.write_str(", accepted"),
            (Some(r), false) => write!(f, ", escalated: {r}"),
            (None, false) => f.write_str(", escalated"),
        }
    }
}

impl RoutedClient {
    /// Runs a FrugalGPT cascade over the eligible models, cheapest expected cost first.
    ///
    /// # Errors
    /// A [`RoutedError`] when no step produced any answer (every attempt listed).
    pub async fn cascade<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        check: &dyn AcceptanceCheck,
        opts: RequestOptions,
    ) -> Result<CascadeResponse, RoutedError> {
        use tracing::Instrument;
        let span = tracing::info_span!("taskroute.cascade", kind = %task.kind(), check = check.name());
        self.cascade_inner(task, request, check, &opts)
            .instrument(span)
            .await
    }

    async fn cascade_inner<T: Task + Sync + ?Sized>(
        &self,
        task: &T,
        request: &ChatRequest,
        check: &dyn AcceptanceCheck,
        opts: &RequestOptions,
    ) -> Result<CascadeResponse, RoutedError> {
        let (mut ctx, decision) = self.begin(task, opts).await?;
        let mut order: Vec<(usize, u32)> = decision
            .ranking
            .iter()
            .enumerate()
            .map(|(rank, &i)| (i as usize, rank as u32))
            .collect();
        let cost = |i: usize| {
            decision.candidates[i]
                .estimate
                .map_or(f64::INFINITY, |e| e.cost_usd)
        };
        order.sort_by(|a, b| cost(a.0).total_cmp(&cost(b.0)).then(a.1.cmp(&b.1)));
        let mut steps = Vec::with_capacity(order.len());
        // The accepted answer, or else the last one obtained; why the walk stopped early.
        let (mut last, mut accepted, mut stopped) = (None, false, None);
        for (i, rank) in order {
            let cand = &decision.candidates[i];
            let first_attempt = ctx.attempts.len();
            let turn = self.complete_turn(&mut ctx, cand, rank, request).await;
            let mine = &mut ctx.attempts[first_attempt..];
            let cost_usd: f64 = mine.iter().map(|a| a.cost_usd).sum();
            let elapsed = mine.iter().map(|a| a.latency + a.backoff).sum();
            let mut step = CascadeStep {
                model: cand.model.clone(),
                cost_usd,
                accepted: false,
                reason: None,
                elapsed,
            };
            let stop = match turn {
                Turn::Done(response) => {
                    let verdict = check.check(&response);
                    tracing::info!(model = %cand.model, cost_usd, accepted = verdict.is_ok(), "cascade step");
                    step.accepted = verdict.is_ok();
                    step.reason = verdict.err().map(Cow::into_owned);
                    if let (Some(r), Some(a)) = (&step.reason, mine.last_mut()) {
                        a.outcome = AttemptOutcome::NotAccepted { reason: r.clone() };
                    }
                    accepted = step.accepted;
                    steps.push(step);
                    last = Some(response);
                    if accepted {
                        break;
                    }
                    continue;
                }
                Turn::Next => None,
                Turn::Stop(stop) => Some(stop),
            };
            step.reason = mine.last().map(|a| a.outcome.to_string());
            tracing::info!(model = %cand.model, cost_usd, reason = step.reason.as_deref(), "cascade step failed");
            steps.push(step);
            if stop.is_some() {
                // The deadline, a request no model can serve, or the budget: the best answer
                // so far, if there is one.
                stopped = stop;
                break;
            }
        }
        let Some(response) = last else {
            return Err(match stopped {
                Some(stop) => ctx.fail(stop),
                None => ctx.exhausted(),
            });
        };
        Ok(CascadeResponse {
            response,
            accepted,
            steps,
            attempts: ctx.attempts,
            decision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ToolCall, Usage};
    use crate::{ModelSpec, Prices};

    fn response(text: &str, reason: FinishReason, calls: Vec<ToolCall>) -> ChatResponse {
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 1000);
        ChatResponse::new(&m, text.to_owned(), calls, reason, Usage::new(1, 1, 0))
    }

    #[test]
    fn basic_check_wants_a_finished_long_enough_answer() {
        let c = BasicCheck::default().min_chars(3).must_contain("42");
        assert!(c.check(&response("it is 42", FinishReason::Stop, vec![])).is_ok());
        assert!(c.check(&response("no", FinishReason::Stop, vec![])).is_err());
        assert!(
            c.check(&response("it is 41", FinishReason::Stop, vec![]))
                .is_err()
        );
        let cut = c
            .check(&response("it is 42", FinishReason::Length, vec![]))
            .unwrap_err();
        assert!(cut.contains("unfinished"), "{cut}");
        let call = ToolCall::new("c1", "f", serde_json::json!({}));
        assert!(
            c.check(&response("", FinishReason::ToolCalls, vec![call]))
                .is_ok()
        );
        assert!(
            BasicCheck::default()
                .check(&response("   ", FinishReason::Stop, vec![]))
                .is_err()
        );
    }

    #[test]
    fn closures_are_checks() {
        let long = |r: &ChatResponse| -> Result<(), Cow<'static, str>> {
            if r.text.len() > 5 {
                Ok(())
            } else {
                Err("short".into())
            }
        };
        let check: &dyn AcceptanceCheck = &long;
        assert!(
            check
                .check(&response("long enough", FinishReason::Stop, vec![]))
                .is_ok()
        );
        assert_eq!(check.name(), "custom");
    }

    #[test]
    fn runtime_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::runtime::RoutedClient>();
        assert_send_sync::<crate::runtime::RoutedError>();
        assert_send_sync::<crate::runtime::BreakerRegistry>();
        assert_send_sync::<crate::runtime::InMemoryBudgetStore>();
        assert_send_sync::<crate::runtime::RuntimeStats>();
        fn assert_send<T: Send>() {}
        assert_send::<crate::runtime::RoutedStream>();
    }
}
