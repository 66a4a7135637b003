//! The runtime's tracing spans carry the OpenTelemetry GenAI attributes, and never prompt or
//! answer text:
//!
//! - `taskroute.request` ([`complete`](crate::runtime::RoutedClient::complete)) and
//!   `taskroute.stream` ([`stream`](crate::runtime::RoutedClient::stream)), one per request:
//!   `gen_ai.operation.name` (`chat`), `gen_ai.request.model` (the routed primary),
//!   `gen_ai.response.model` and `gen_ai.system` (the model that answered, and its provider),
//!   `gen_ai.usage.input_tokens` and `gen_ai.usage.output_tokens` (of the answer; a stream's
//!   when it finishes);
//! - `taskroute.attempt`, one per provider call, inside the request's span:
//!   `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model` (the model called),
//!   `taskroute.rank`, `taskroute.retry`; then `gen_ai.response.model` and the usage when a
//!   whole answer came back, or `error.type` (the [`ErrorKind::code`](crate::provider::ErrorKind::code),
//!   or `deadline_exceeded`) when the call failed.

use tracing::Span;
use tracing::field::Empty;

use crate::decision::Decision;
use crate::model::{ModelId, ModelSpec};
use crate::provider::Usage;

/// A request's span, `$name` (`taskroute.request` or `taskroute.stream`), with its GenAI fields
/// empty until [`routed`] and [`answered`] record them; `$($extra)*`: more fields.
macro_rules! request_span {
    ($name:literal, $task:expr, $opts:expr $(, $($extra:tt)*)?) => {
        tracing::info_span!(
            $name,
            kind = %$task.kind(),
            deadline_ms = u64::try_from($opts.deadline.as_millis()).unwrap_or(u64::MAX),
            "gen_ai.operation.name" = $crate::runtime::spans::OPERATION,
            "gen_ai.request.model" = tracing::field::Empty,
            "gen_ai.response.model" = tracing::field::Empty,
            "gen_ai.system" = tracing::field::Empty,
            "gen_ai.usage.input_tokens" = tracing::field::Empty,
            "gen_ai.usage.output_tokens" = tracing::field::Empty,
            $($($extra)*)?
        )
    };
}
pub(crate) use request_span;

/// `gen_ai.operation.name` of every call the runtime makes.
pub(crate) const OPERATION: &str = "chat";

/// The span of one provider call.
pub(crate) fn attempt(model: &ModelSpec, rank: u32, retry: u32) -> Span {
    tracing::info_span!(
        "taskroute.attempt",
        "gen_ai.operation.name" = OPERATION,
        "gen_ai.system" = model.provider.as_str(),
        "gen_ai.request.model" = model.id.as_str(),
        "taskroute.rank" = rank,
        "taskroute.retry" = retry,
        "gen_ai.response.model" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "error.type" = Empty,
    )
}

/// Records the routed primary on a request's span.
pub(crate) fn routed(span: &Span, decision: &Decision) {
    if let Some(m) = decision.primary_model() {
        span.record("gen_ai.request.model", m.as_str());
    }
}

/// Records who answered and the tokens it reported.
pub(crate) fn answered(span: &Span, system: &str, model: &ModelId, usage: &Usage) {
    span.record("gen_ai.system", system);
    span.record("gen_ai.response.model", model.as_str());
    span.record("gen_ai.usage.input_tokens", usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", usage.output_tokens);
}

/// Records why a call failed (a fixed code).
pub(crate) fn failed(span: &Span, code: &'static str) {
    span.record("error.type", code);
}
