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
use crate::model::{Capabilities, Capability, ModelId, ModelSpec};
use crate::prices::{CallRates, PER_TOKEN};

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
    /// What the filter stage checks of the model for every task.
    pub(crate) checks: RowChecks,
    /// The model's standard rates for a plain call (its input and output prices, and the cached
    /// input price or the input price).
    pub(crate) rates: CallRates,
    /// Whether `rates` bill every plain call (no long-context tier): otherwise the cost is
    /// asked of the spec's `Prices`.
    pub(crate) flat: bool,
    pub(crate) listed: Listed,
}

/// The numbers of a model that the filter stage checks against every task; also the least of
/// every row's ([`ModelTable::every_row_passes`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowChecks {
    /// Whether the checks that depend on the model alone pass: neither list rules it out and
    /// its prices are under the router's caps. (When they do not, the filter stage asks the
    /// full check for the first reason, in its order.)
    pub(crate) static_ok: bool,
    pub(crate) capabilities: Capabilities,
    pub(crate) context_window: u32,
    pub(crate) max_output_tokens: u32,
}

impl RowChecks {
    /// Whether a task of `needed` tokens in all, `output` of them output, that requires the
    /// capabilities `required`, passes: each check as a value, not a branch (most pass them all).
    #[inline(always)]
    pub(crate) fn pass(&self, needed: u64, output: u32, required: Capabilities) -> bool {
        self.static_ok
            & self.capabilities.missing_from(required).is_empty()
            & (needed <= u64::from(self.context_window))
            & (output <= self.max_output_tokens)
    }

    /// The least of both: passes a task exactly when both pass it.
    fn least(self, other: Self) -> Self {
        Self {
            static_ok: self.static_ok & other.static_ok,
            capabilities: self.capabilities.intersection(other.capabilities),
            context_window: self.context_window.min(other.context_window),
            max_output_tokens: self.max_output_tokens.min(other.max_output_tokens),
        }
    }
}

/// One [`ModelRow`] per model, in catalog order, the ids, and the plain-call rates as columns.
#[derive(Clone, Debug)]
pub(crate) struct ModelTable {
    rows: Box<[ModelRow]>,
    /// The rows' rates again, one column per rate, so that the cost of every model is one
    /// loop the compiler vectorizes.
    input: Box<[f64]>,
    cached: Box<[f64]>,
    output: Box<[f64]>,
    /// The models whose rates are not flat (a long-context tier): their cost is asked of their
    /// `Prices`.
    tiered: Box<[usize]>,
    /// The models' ids (clones of theirs: the same allocations), side by side, for the
    /// router's check that a reused decision holds these models.
    ids: Box<[ModelId]>,
    /// The least of every row's checks, for [`every_row_passes`](Self::every_row_passes).
    least: RowChecks,
}

impl ModelTable {
    /// The table of `models` under the router's allow list (`None`: every model is allowed),
    /// deny list, date for retirements (`None`: none excluded) and price caps (input, output).
    pub(crate) fn new(
        models: &[ModelSpec],
        allow: Option<&BTreeSet<ModelId>>,
        deny: &BTreeSet<ModelId>,
        retired_by: Option<Date>,
        caps: (Option<f64>, Option<f64>),
    ) -> Self {
        let under = |cap: Option<f64>, price: f64| cap.is_none_or(|cap| price <= cap);
        let rows: Box<[ModelRow]> = models
            .iter()
            .map(|m| ModelRow {
                checks: RowChecks {
                    static_ok: false,
                    capabilities: m.capabilities,
                    context_window: m.context_window,
                    max_output_tokens: m.max_output_tokens,
                },
                rates: m.prices.call_rates().0,
                flat: m.prices.call_rates().1,
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
            .map(|mut row| {
                row.checks.static_ok = row.listed == Listed::Ok
                    && under(caps.0, row.rates.input)
                    && under(caps.1, row.rates.output);
                row
            })
            .collect();
        let ids = models.iter().map(|m| m.id.clone()).collect();
        let column = |f: fn(&ModelRow) -> f64| rows.iter().map(f).collect();
        let none_left_out = RowChecks {
            static_ok: true,
            capabilities: Capability::ALL.into_iter().collect(),
            context_window: u32::MAX,
            max_output_tokens: u32::MAX,
        };
        let least = rows.iter().fold(none_left_out, |l, r| l.least(r.checks));
        Self {
            least,
            // A −0 input rate as +0 unless the cached rate is −0 too: the same costs where
            // tokens are read from the cache (−0 + a cached term of +0 or more is that term),
            // and where none are the cached term (`0 × cached`, +0) that `costs` skips made
            // the sum +0 in `CallRates::cost_usd`.
            input: column(|r| {
                let (i, c) = (r.rates.input, r.rates.cached_input);
                if i == 0.0 && c.to_bits() != (-0.0f64).to_bits() {
                    0.0
                } else {
                    i
                }
            }),
            cached: column(|r| r.rates.cached_input),
            output: column(|r| r.rates.output),
            tiered: (rows.iter().enumerate())
                .filter_map(|(i, r)| (!r.flat).then_some(i))
                .collect(),
            rows,
            ids,
        }
    }

    /// Writes to `out` the expected cost of a call of `input` tokens (`cached` of them read from
    /// the prompt cache) and `output` output tokens on every model: `Prices::cost_usd`, bit
    /// for bit (`CallRates::cost_usd` for the flat ones).
    ///
    /// Inlined into the router's decision (one caller per stack size), which saves a call's
    /// set-up per decision; the tiered prices, rare, stay out of line.
    #[inline]
    pub(crate) fn costs(
        &self,
        models: &[ModelSpec],
        (input, cached, output): (u32, u32, u32),
        out: &mut [f64],
    ) {
        if cached.min(input) == 0 {
            // No tokens read from the cache (most calls): the cached rate's term is `+0.0`, and
            // adding it to the input term (`+0.0` or more) changes nothing.
            let (fresh, tokens_out) = (f64::from(input), f64::from(output));
            for (o, (&i, &p)) in out.iter_mut().zip(self.input.iter().zip(&self.output[..])) {
                *o = (fresh * i + tokens_out * p) * PER_TOKEN;
            }
            if !self.tiered.is_empty() {
                self.tiered_costs(models, (input, cached, output), out);
            }
            return;
        }
        let rates = self.input.iter().zip(&self.cached[..]).zip(&self.output[..]);
        for (o, ((&i, &c), &p)) in out.iter_mut().zip(rates) {
            let rates = CallRates {
                input: i,
                cached_input: c,
                output: p,
            };
            *o = rates.cost_usd(input, cached, output);
        }
        if !self.tiered.is_empty() {
            self.tiered_costs(models, (input, cached, output), out);
        }
    }

    /// The costs of the models with tiered prices (`Prices::cost_usd`).
    #[inline(never)]
    fn tiered_costs(&self, models: &[ModelSpec], (input, cached, output): (u32, u32, u32), out: &mut [f64]) {
        for &i in &self.tiered[..] {
            out[i] = models[i].prices.cost_usd(input, cached, output);
        }
    }

    /// Whether every row passes the checks the filter stage makes of a row (its static
    /// verdict, the `required` capabilities, a context window of `needed` tokens and an output
    /// limit of `output`), so that a decision need not look at any: one comparison per check,
    /// against the least of every row.
    #[inline(always)]
    pub(crate) fn every_row_passes(&self, needed: u64, output: u32, required: Capabilities) -> bool {
        self.least.pass(needed, output, required)
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
    fn every_row_passes_exactly_when_each_row_does() {
        use crate::model::Capability;
        let spec = |id: &str, window: u32, out: u32, caps: &[Capability]| {
            let mut m = ModelSpec::new(id, "p", crate::Prices::new(1.0, 2.0), window);
            m.max_output_tokens = out;
            m.capabilities = Capabilities::of(caps);
            m
        };
        let models = [
            spec("a", 8_000, 4_000, &[Capability::Tools, Capability::Vision]),
            spec("b", 32_000, 2_000, &[Capability::Tools]),
            spec("c", 16_000, 8_000, &[Capability::Tools, Capability::Streaming]),
        ];
        let caps = [
            Capabilities::NONE,
            Capabilities::of(&[Capability::Tools]),
            Capabilities::of(&[Capability::Vision]),
        ];
        for deny in [BTreeSet::new(), [ModelId::new("b")].into()] {
            for cap in [None, Some(1.5)] {
                let t = ModelTable::new(&models, None, &deny, None, (cap, None));
                for needed in [0u64, 7_999, 8_000, 8_001, 40_000] {
                    for output in [0u32, 2_000, 2_001] {
                        for required in caps {
                            let each = t.rows().iter().map(|r| r.checks).all(|r| {
                                r.static_ok
                                    && r.capabilities.contains_all(required)
                                    && needed <= u64::from(r.context_window)
                                    && output <= r.max_output_tokens
                            });
                            assert_eq!(t.every_row_passes(needed, output, required), each);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_cost_column_is_prices_cost_usd_bit_for_bit() {
        let prices = [
            crate::Prices::new(0.0, 0.0),
            crate::Prices::new(3.0, 15.0),
            crate::Prices::new(0.15, 0.6).with_cached_input(0.075),
            crate::Prices::new(0.1 + 0.2, 1.0 / 3.0).with_cached_input(0.0),
            crate::Prices::new(f64::MIN_POSITIVE, 1e300).with_cached_input(1e300),
            crate::Prices::new(1e308, 1e308),
            // −0 rates (valid: `-0.0 >= 0.0`): with no cached tokens the cached term is +0, and
            // −0 + +0 + −0 is +0 where −0 + −0 is −0.
            crate::Prices::new(-0.0, -0.0).with_cached_input(0.0),
            crate::Prices::new(-0.0, -0.0).with_cached_input(0.5),
            crate::Prices::new(-0.0, -0.0),
            crate::Prices::new(-0.0, 0.0).with_cached_input(-0.0),
            crate::Prices::new(0.0, -0.0).with_cached_input(-0.0),
            crate::Prices::new(3.0, 15.0).with_long_context(crate::prices::LongContext::new(
                200_000,
                crate::prices::Rates::new(6.0, 22.5),
            )),
        ];
        let models: Vec<ModelSpec> = (0..40)
            .map(|i| ModelSpec::new(format!("m{i}"), "p", prices[i % prices.len()].clone(), 1_000_000))
            .collect();
        let t = ModelTable::new(&models, None, &BTreeSet::new(), None, (None, None));
        let tokens = [0u32, 1, 7, 1_024, 123_457, 200_001, u32::MAX];
        for input in tokens {
            for cached in tokens {
                for output in tokens {
                    let mut slice = vec![f64::NAN; models.len()];
                    t.costs(&models, (input, cached, output), &mut slice);
                    for (i, m) in models.iter().enumerate() {
                        let want = m.prices.cost_usd(input, cached, output).to_bits();
                        assert_eq!(slice[i].to_bits(), want, "{i} {input} {cached} {output}");
                    }
                }
            }
        }
    }

    #[test]
    fn rows_are_small_and_carry_the_list_verdicts() {
        let models = [
            ModelSpec::new("a", "p", crate::Prices::new(1.0, 2.0), 1000),
            ModelSpec::new("b", "p", crate::Prices::new(1.0, 2.0), 1000),
            ModelSpec::new("c", "p", crate::Prices::new(1.0, 2.0), 1000),
        ];
        let allow: BTreeSet<ModelId> = ["a", "b"].into_iter().map(ModelId::new).collect();
        let deny: BTreeSet<ModelId> = [ModelId::new("b")].into();
        let t = ModelTable::new(&models, Some(&allow), &deny, None, (None, None));
        let listed: Vec<_> = t.rows().iter().map(|r| r.listed).collect();
        assert_eq!(listed, [Listed::Ok, Listed::Denied, Listed::NotAllowed]);
        assert!(
            std::mem::size_of::<ModelRow>() <= 64,
            "{}",
            std::mem::size_of::<ModelRow>()
        );
    }
}
