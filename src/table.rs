//! The router's compact per-model table: the numbers the filter and estimate stages read for
//! every candidate on every decision, one 64-byte row per model.
//!
//! A [`ModelSpec`] is a few hundred bytes spread over several heap blocks (id, provider,
//! tags, priors, source); 256 of them do not fit the L1 cache, and the filter and estimate loop
//! used to walk them all. The table copies out what that loop needs, once, when the router is
//! built: prices, windows, capabilities, the allow/deny verdict (the lists are fixed at build
//! time), the latency profile the default estimator would use, and the catalog priors of every
//! built-in task kind, one column per kind. The values are copies, computed by the same
//! functions the per-model path uses, so decisions are bit-for-bit the same.

use crate::date::Date;
use crate::estimate::ProfileLatency;
use crate::filter::Constraints;
use crate::model::{Capabilities, LatencyProfile, ModelId, ModelSpec, Prices};
use crate::task::TaskKind;

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

/// What the filter and estimate stages read of one model.
#[derive(Clone, Debug)]
pub(crate) struct ModelRow {
    /// The model's prices, as in its spec.
    pub(crate) prices: Prices,
    /// The profile [`ProfileLatency`] uses for this model (its own, else the fallback); read
    /// only when the router's latency estimator is a `ProfileLatency`.
    pub(crate) latency: LatencyProfile,
    pub(crate) context_window: u32,
    pub(crate) max_output_tokens: u32,
    pub(crate) capabilities: Capabilities,
    pub(crate) listed: Listed,
}

/// One [`ModelRow`] per model, in catalog order, and the catalog priors per built-in kind.
#[derive(Clone, Debug)]
pub(crate) struct ModelTable {
    rows: Box<[ModelRow]>,
    /// The models' ids (clones of theirs: the same allocations), side by side, for the
    /// router's check that a reused decision holds these models.
    ids: Box<[ModelId]>,
    /// `priors[k * n + i]`: `models[i].quality.get(&TaskKind::BUILTIN[k])`.
    priors: Box<[Option<f64>]>,
}

impl ModelTable {
    /// The table of `models` under `constraints`; `latency` is the router's latency estimator
    /// when it is a [`ProfileLatency`] (its fallback fills in models without a profile).
    pub(crate) fn new(
        models: &[ModelSpec],
        constraints: &Constraints,
        latency: Option<&ProfileLatency>,
    ) -> Self {
        let rows = models
            .iter()
            .map(|m| ModelRow {
                prices: m.prices.clone(),
                latency: match latency {
                    Some(p) => p.profile_of(m),
                    None => LatencyProfile::new(0.0, 1.0),
                },
                context_window: m.context_window,
                max_output_tokens: m.max_output_tokens,
                capabilities: m.capabilities,
                listed: if constraints.allow.as_ref().is_some_and(|a| !a.contains(&m.id)) {
                    Listed::NotAllowed
                } else if constraints.deny.contains(&m.id) {
                    Listed::Denied
                } else if let Some(on) = m.retires
                    && constraints.retired_by.is_some_and(|today| on <= today)
                {
                    Listed::Retired(on)
                } else {
                    Listed::Ok
                },
            })
            .collect();
        let priors = TaskKind::BUILTIN
            .iter()
            .flat_map(|k| models.iter().map(move |m| m.quality.get(k)))
            .collect();
        let ids = models.iter().map(|m| m.id.clone()).collect();
        Self { rows, ids, priors }
    }

    /// The rows, in catalog order.
    pub(crate) fn rows(&self) -> &[ModelRow] {
        &self.rows
    }

    /// The ids, in catalog order.
    pub(crate) fn ids(&self) -> &[ModelId] {
        &self.ids
    }

    /// Every model's catalog prior for `kind` (what [`PriorQuality`](crate::PriorQuality)
    /// returns), in catalog order; `None` for a custom kind.
    pub(crate) fn priors(&self, kind: &TaskKind) -> Option<&[Option<f64>]> {
        let n = self.rows.len();
        kind.builtin_index().map(|k| &self.priors[k * n..(k + 1) * n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Prices;

    #[test]
    fn priors_columns_match_the_models_priors_and_rows_are_one_cache_line() {
        let models = [
            ModelSpec::new("a", "p", Prices::new(1.0, 2.0), 1000).with_quality(TaskKind::Math, 0.75),
            ModelSpec::new("b", "p", Prices::new(1.0, 2.0), 1000).with_default_quality(0.5),
            ModelSpec::new("c", "p", Prices::new(1.0, 2.0), 1000),
        ];
        let t = ModelTable::new(&models, &Constraints::default(), None);
        for k in TaskKind::BUILTIN {
            let expected: Vec<_> = models.iter().map(|m| m.quality.get(&k)).collect();
            assert_eq!(t.priors(&k).unwrap(), &expected[..], "{k:?}");
        }
        assert_eq!(t.priors(&TaskKind::Custom("x".into())), None);
        assert!(
            std::mem::size_of::<ModelRow>() <= 64,
            "{}",
            std::mem::size_of::<ModelRow>()
        );
    }
}
