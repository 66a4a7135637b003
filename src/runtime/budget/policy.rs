//! [`BudgetPolicy`]: what the runtime does as a budget runs low.

use derive_setters::Setters;

use crate::Error;
use crate::task::Limits;

/// What the runtime does as a budget runs low.
#[derive(Clone, Copy, Debug, PartialEq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct BudgetPolicy {
    /// Route with the task's cost limit lowered to what is left (so the router steps down to
    /// cheaper models) before refusing. When `false`, the routed model is tried as ranked and
    /// a refused reservation ends the request.
    #[setters(generate)]
    pub step_down: bool,
    /// Reservations are the expected cost times this factor (≥ 1; raise it when token estimates
    /// run low).
    #[setters(generate)]
    pub reserve_factor: f64,
}

impl Default for BudgetPolicy {
    /// Steps down; reserves the expected cost as it is.
    fn default() -> Self {
        Self {
            step_down: true,
            reserve_factor: 1.0,
        }
    }
}

impl BudgetPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a reserve factor below 1 or not finite.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.reserve_factor.is_finite() && self.reserve_factor >= 1.0) {
            return Err(Error::invalid(
                "budget.reserve_factor",
                self.reserve_factor,
                "a finite factor >= 1",
            ));
        }
        Ok(())
    }

    /// The task's limits with the cost limit lowered to `remaining` when stepping down.
    pub fn limits(&self, limits: Limits, remaining: Option<f64>) -> Limits {
        match remaining {
            Some(left) if self.step_down => {
                // The router compares the estimate, the store the reserved (estimate × factor).
                let left = left / self.reserve_factor;
                let cap = limits.max_cost_usd.map_or(left, |c| c.min(left));
                limits.with_max_cost_usd(cap)
            }
            _ => limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_down_lowers_the_cost_limit() {
        let p = BudgetPolicy::default();
        assert_eq!(p.limits(Limits::NONE, Some(0.5)).max_cost_usd, Some(0.5));
        let tight = Limits::NONE.with_max_cost_usd(0.1);
        assert_eq!(p.limits(tight, Some(0.5)).max_cost_usd, Some(0.1));
        assert_eq!(p.limits(Limits::NONE, None), Limits::NONE);
        let off = p.with_step_down(false);
        assert_eq!(off.limits(Limits::NONE, Some(0.5)), Limits::NONE);
        let doubled = p.with_reserve_factor(2.0);
        assert_eq!(doubled.limits(Limits::NONE, Some(0.5)).max_cost_usd, Some(0.25));
        assert!(p.with_reserve_factor(0.5).validate().is_err());
    }
}
