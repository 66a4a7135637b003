//! What changed between two catalogs: [`Catalog::diff`].

use std::collections::BTreeMap;
use std::fmt;

use super::Catalog;
use crate::model::{ModelId, ModelSpec};

/// The models added, removed and changed from one catalog to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogDiff {
    /// Models only in the newer catalog.
    pub added: Vec<ModelId>,
    /// Models only in the older catalog.
    pub removed: Vec<ModelId>,
    /// Models in both whose prices, windows, capabilities or retirement differ, in id order.
    pub changed: Vec<ModelChange>,
}

/// The fields of one model that differ.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelChange {
    /// The model.
    pub id: ModelId,
    /// Each differing field (`prices.input`, `prices.long_context.rates.output`,
    /// `context_window`, `max_output_tokens`, `capabilities`, `retires`).
    pub fields: Vec<FieldChange>,
}

/// One field's value before and after (`-` where absent).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field's path.
    pub field: String,
    /// Its value in the older catalog.
    pub before: String,
    /// Its value in the newer catalog.
    pub after: String,
}

impl CatalogDiff {
    /// Whether the catalogs agree on every model and field compared.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl Catalog {
    /// What changed from `self` to `newer`: models added and removed, and for models in both,
    /// every price (of every tier and batch list), the windows, the capabilities and the
    /// retirement date.
    pub fn diff(&self, newer: &Catalog) -> CatalogDiff {
        let old: BTreeMap<&str, &ModelSpec> = self.models.iter().map(|m| (m.id.as_str(), m)).collect();
        let new: BTreeMap<&str, &ModelSpec> = newer.models.iter().map(|m| (m.id.as_str(), m)).collect();
        let mut diff = CatalogDiff::default();
        for (id, m) in &new {
            let Some(o) = old.get(id) else {
                diff.added.push(m.id.clone());
                continue;
            };
            let (a, b) = (facts(o), facts(m));
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            let fields: Vec<FieldChange> = keys
                .into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| FieldChange {
                    field: k.clone(),
                    before: a.get(k).cloned().unwrap_or_else(|| "-".to_owned()),
                    after: b.get(k).cloned().unwrap_or_else(|| "-".to_owned()),
                })
                .collect();
            if !fields.is_empty() {
                diff.changed.push(ModelChange {
                    id: m.id.clone(),
                    fields,
                });
            }
        }
        diff.removed = old
            .iter()
            .filter(|(id, _)| !new.contains_key(*id))
            .map(|(_, m)| m.id.clone())
            .collect();
        diff
    }
}

/// The compared fields of a model, by path.
fn facts(m: &ModelSpec) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    for (list, rates) in m.prices.lists() {
        for (name, v) in rates.named() {
            if let Some(v) = v {
                f.insert(format!("prices.{list}{name}"), v.to_string());
            }
        }
    }
    if let Some(t) = m.prices.long_context() {
        f.insert(
            "prices.long_context.above_input_tokens".to_owned(),
            t.above_input_tokens.to_string(),
        );
    }
    f.insert("context_window".to_owned(), m.context_window.to_string());
    f.insert("max_output_tokens".to_owned(), m.max_output_tokens.to_string());
    f.insert("capabilities".to_owned(), m.capabilities.to_string());
    if let Some(r) = m.retires {
        f.insert("retires".to_owned(), r.to_string());
    }
    f
}

impl fmt::Display for CatalogDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in &self.added {
            writeln!(f, "+ {id}")?;
        }
        for id in &self.removed {
            writeln!(f, "- {id}")?;
        }
        for c in &self.changed {
            writeln!(f, "~ {}", c.id)?;
            for x in &c.fields {
                writeln!(f, "    {}: {} -> {}", x.field, x.before, x.after)?;
            }
        }
        write!(
            f,
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::{LongContext, Prices, Rates};

    #[test]
    fn diff_names_prices_tiers_windows_capabilities_and_retirement() {
        let a = Catalog::builtin();
        let mut b = a.clone();
        let first = b.models[0].id.clone();
        b.models[0].prices = Prices::new(9.0, b.models[0].prices.output)
            .with_long_context(LongContext::new(200_000, Rates::new(18.0, 20.0)));
        b.models[0].retires = Some("2027-01-01".parse().unwrap());
        b.models[0].context_window += 1;
        let gone = b.models.remove(1).id;
        b.models
            .push(ModelSpec::new("new-model", "p", Prices::new(1.0, 1.0), 10));
        let d = a.diff(&b);
        assert_eq!(d.added, [ModelId::new("new-model")]);
        assert_eq!(d.removed, [gone]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].id, first);
        let fields: Vec<&str> = d.changed[0].fields.iter().map(|f| f.field.as_str()).collect();
        for want in [
            "prices.input",
            "prices.cached_input",
            "prices.long_context.above_input_tokens",
            "prices.long_context.rates.input",
            "context_window",
            "retires",
        ] {
            assert!(fields.contains(&want), "{want} not in {fields:?}");
        }
        let before = a.models[0].retires.map_or("-".to_owned(), |r| r.to_string());
        let line = format!("    retires: {before} -> 2027-01-01");
        assert!(d.to_string().contains(&line), "{d}");
        assert!(a.diff(&a).is_empty());
    }
}
