//! Stage 1, **filter**: hard constraints. Every rejected candidate keeps the reason.
//!
//! The router applies, in this order: allow/deny lists, the health hook, required
//! capabilities, the context window and output limit, required tags, price caps, your own
//! [`Filter`]s, and (after estimation) the task's cost and latency limits.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::closure::closure_adapter;
use crate::date::Date;
use crate::model::{Capabilities, ModelId, ModelSpec, Tag};
pub use crate::rejection::Rejection;
use crate::table::{Listed, ModelRow};
use crate::task::{Limits, Task};

/// A hard constraint of your own, applied after the built-in filters.
///
/// Implement it, or wrap a closure with [`filter_fn`].
pub trait Filter: Send + Sync {
    /// `Ok(())` keeps the model; `Err` rejects it with the reason.
    ///
    /// # Errors
    /// The [`Rejection`] recorded for the model.
    fn check(&self, task: &dyn Task, model: &ModelSpec) -> Result<(), Rejection>;
}

closure_adapter! {
    /// A [`Filter`] made from a closure; see [`filter_fn`].
    pub struct FilterFn;
    /// Makes a [`Filter`] from a closure.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use taskroute::{filter_fn, Rejection};
    /// let no_previews = filter_fn(|_task, model| {
    ///     if model.id.as_str().contains("preview") {
    ///         Err(Rejection::Filter { filter: Cow::Borrowed("no_previews"), detail: Cow::Borrowed("preview model") })
    ///     } else {
    ///         Ok(())
    ///     }
    /// });
    /// # let _ = no_previews;
    /// ```
    pub fn filter_fn;
    impl Filter { fn check(&self, task: &dyn Task, model: &ModelSpec) -> Result<(), Rejection>; }
}

/// Tells the router whether a model can take calls now (a circuit breaker, a maintenance
/// switch). Unavailable models are rejected with [`Rejection::Unhealthy`].
pub trait Health: Send + Sync {
    /// Whether `model` may be routed to.
    fn is_available(&self, model: &ModelId) -> bool;
}

closure_adapter! {
    /// A [`Health`] hook made from a closure; see [`health_fn`].
    pub struct HealthFn;
    /// Makes a [`Health`] hook from a closure.
    pub fn health_fn;
    impl Health { fn is_available(&self, model: &ModelId) -> bool; }
}

macro_rules! forward_filter_traits {
    ($($ptr:ty),*) => {$(
        impl<T: Filter + ?Sized> Filter for $ptr {
            fn check(&self, task: &dyn Task, model: &ModelSpec) -> Result<(), Rejection> {
                (**self).check(task, model)
            }
        }
        impl<T: Health + ?Sized> Health for $ptr {
            fn is_available(&self, model: &ModelId) -> bool {
                (**self).is_available(model)
            }
        }
    )*};
}
forward_filter_traits!(&T, Box<T>, Arc<T>);

/// The router-wide constraints: allow/deny lists, price caps and retirement.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Constraints {
    /// When set, only these models may be chosen.
    pub allow: Option<BTreeSet<ModelId>>,
    /// These models are never chosen.
    pub deny: BTreeSet<ModelId>,
    /// Largest input price, USD per million tokens.
    pub max_input_price: Option<f64>,
    /// Largest output price, USD per million tokens.
    pub max_output_price: Option<f64>,
    /// Today's date, when retired models are excluded: models whose retirement date is on or
    /// before it are rejected.
    pub retired_by: Option<Date>,
}

/// The numbers of a task the filters and the cost estimate need, read once per decision
/// (each read is a dynamic call through `&dyn Task`).
#[derive(Debug)]
pub(crate) struct TaskView<'a> {
    pub(crate) input: u32,
    pub(crate) output: u32,
    pub(crate) cached: u32,
    pub(crate) capabilities: Capabilities,
    pub(crate) tags: &'a [Tag],
    pub(crate) limits: Limits,
}

impl<'a> TaskView<'a> {
    pub(crate) fn of(task: &'a dyn Task) -> Self {
        Self {
            input: task.input_tokens(),
            output: task.output_tokens(),
            cached: task.cached_input_tokens(),
            capabilities: task.required_capabilities(),
            tags: task.required_tags(),
            limits: task.limits(),
        }
    }
}

/// Runs the built-in pre-estimate filters plus the user's on one model.
///
/// The built-in checks read the model's compact [`ModelRow`] (see `table.rs`); the full
/// [`ModelSpec`] is read only for the health hook, required tags, your own filters and the
/// details of a rejection.
///
/// Inlined into its one caller: as a call, saving and restoring registers and passing the
/// large `Result` back cost about a third of the function.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // one call site, inlined; a struct would only rename them
pub(crate) fn check_static(
    task: &dyn Task,
    view: &TaskView<'_>,
    model: &ModelSpec,
    row: &ModelRow,
    constraints: &Constraints,
    health: Option<&dyn Health>,
    filters: &[Arc<dyn Filter>],
) -> Result<(), Rejection> {
    match row.listed {
        Listed::Ok => {}
        Listed::NotAllowed => return Err(Rejection::NotAllowed),
        Listed::Denied => return Err(Rejection::Denied),
        Listed::Retired(on) => return Err(Rejection::Retired { on }),
    }
    if let Some(h) = health
        && !h.is_available(&model.id)
    {
        return Err(Rejection::Unhealthy);
    }
    let missing = row.checks.capabilities.missing_from(view.capabilities);
    if !missing.is_empty() {
        return Err(Rejection::MissingCapabilities { missing });
    }
    let output = view.output;
    let needed = u64::from(view.input) + u64::from(output);
    if needed > u64::from(row.checks.context_window) {
        return Err(Rejection::ContextWindow {
            needed,
            window: row.checks.context_window,
        });
    }
    if output > row.checks.max_output_tokens {
        return Err(Rejection::MaxOutput {
            needed: output,
            max: row.checks.max_output_tokens,
        });
    }
    if let Some(tag) = view.tags.iter().find(|t| !model.has_tag(t)) {
        return Err(Rejection::MissingTag { tag: tag.clone() });
    }
    price_cap("input", row.rates.input, constraints.max_input_price)?;
    price_cap("output", row.rates.output, constraints.max_output_price)?;
    for f in filters {
        f.check(task, model)?;
    }
    Ok(())
}

/// Rejects a `price` (`"input"` or `"output"`) above its cap.
#[inline(always)]
fn price_cap(price: &'static str, usd_per_mtok: f64, cap: Option<f64>) -> Result<(), Rejection> {
    match cap {
        Some(cap) if usd_per_mtok > cap => Err(Rejection::PriceCap {
            price: Cow::Borrowed(price),
            usd_per_mtok,
            cap,
        }),
        _ => Ok(()),
    }
}

/// The task's own limits, checked once cost and latency are estimated.
#[inline(always)]
pub(crate) fn check_limits(limits: &Limits, cost_usd: f64, latency_ms: f64) -> Result<(), Rejection> {
    if let Some(limit) = limits.max_cost_usd
        && cost_usd > limit
    {
        return Err(Rejection::CostLimit {
            estimated_usd: cost_usd,
            limit_usd: limit,
        });
    }
    if let Some(limit) = limits.max_latency_ms
        && latency_ms > limit
    {
        return Err(Rejection::LatencyLimit {
            estimated_ms: latency_ms,
            limit_ms: limit,
        });
    }
    Ok(())
}
