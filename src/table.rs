//! The router's compact per-model table: the numbers the filter stage reads for every
//! candidate on every decision, one row of at most 64 bytes per model.
//!
//! A [`ModelSpec`] is a few hundred bytes spread over several heap blocks (id, provider,
//! tags, priors, source); 256 of them do not fit the L1 cache, and the filter loop used to walk
//! them all. The table copies out what that loop needs, once, when the router is built: prices,
//! windows, capabilities and the allow/deny verdict (the lists are fixed at build time). The
//! estimators keep their own columns (see [`QualityEstimator::prepare`]).
//!
//! [`QualityEstimator::prepare`]: crate::QualityEstimator::prepare

use std::collections::BTreeSet;

use crate::date::Date;
use crate::model::{Capabilities, ModelId, ModelSpec};
use crate::prices::CallRates;

/// The router's allow/deny verdict on one model (both lists are fixed when the router is built).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Neither list rules the model out.
    Ok,
    /// The allow list does not name the model.
    NotAllowed,
    /// The deny list names the model.
    Denied,
    /// The model is retired by the router's date (`Constraints::retired_by`).
    Retired(Date),
}

/// What the filter stage reads of one model.
#[derive(Clone, Debug)]
pub(crate) struct ModelRow {
    /// The model's standard rates for a plain call (its input and output prices, and the cached
    /// input price or the input price).
    pub(crate) rates: CallRates,
    /// Whether `rates` bill every plain call (no long-context tier): otherwise the cost is
    /// asked of the spec's `Prices`.
    pub(crate) flat: bool,
    pub(crate) context_window: u32,
    pub(crate) max_output_tokens: u32,
    pub(crate) capabilities: Capabilities,
    pub(crate) listed: Listed,
}

/// One [`ModelRow`] per model, in catalog order, and the ids.
#[derive(Clone, Debug)]
pub(crate) struct ModelTable {
    rows: Box<[ModelRow]>,
    /// The models' ids (clones of theirs: the same allocations), side by side, for the
    /// router's check that a reused decision holds these models.
    ids: Box<[ModelId]>,
}

impl ModelTable {
    /// The table of `models` under the router's allow list (`None`: every model is allowed),
    /// deny list and date for retirements (`None`: none excluded).
    pub(crate) fn new(
        models: &[ModelSpec],
        allow: Option<&BTreeSet<ModelId>>,
        deny: &BTreeSet<ModelId>,
        retired_by: Option<Date>,
    ) -> Self {
        let rows = models
            .iter()
            .map(|m| ModelRow {
                rates: m.prices.call_rates().0,
                flat: m.prices.call_rates().1,
                context_window: m.context_window,
                max_output_tokens: m.max_output_tokens,
                capabilities: m.capabilities,
                listed: if allow.is_some_and(|a| !a.contains(&m.id)) {
                    Listed::NotAllowed
                } else if deny.contains(&m.id) {
                    Listed::Denied
                } else if let Some(on) = m.retires
                    && retired_by.is_some_and(|today| on <= today)
                {
                    Listed::Retired(on)
                } else {
                    Listed::Ok
                },
            })
            .collect();
        let ids = models.iter().map(|m| m.id.clone()).collect();
        Self { rows, ids }
    }

    /// The rows, in catalog order.
    pub(crate) fn rows(&self) -> &[ModelRow] {
        &self.rows
    }

    /// The ids, in catalog order.
    pub(crate) fn ids(&self) -> &[ModelId] {
        &self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_small_and_carry_the_list_verdicts() {
        let models = [
            ModelSpec::new("a", "p", crate::Prices::new(1.0, 2.0), 1000),
            ModelSpec::new("b", "p", crate::Prices::new(1.0, 2.0), 1000),
            ModelSpec::new("c", "p", crate::Prices::new(1.0, 2.0), 1000),
        ];
        let allow: BTreeSet<ModelId> = ["a", "b"].into_iter().map(ModelId::new).collect();
        let deny: BTreeSet<ModelId> = [ModelId::new("b")].into();
        let t = ModelTable::new(&models, Some(&allow), &deny, None);
        let listed: Vec<_> = t.rows().iter().map(|r| r.listed).collect();
        assert_eq!(listed, [Listed::Ok, Listed::Denied, Listed::NotAllowed]);
        assert!(
            std::mem::size_of::<ModelRow>() <= 64,
            "{}",
            std::mem::size_of::<ModelRow>()
        );
    }
}
