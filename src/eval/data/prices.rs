//! Per-model prices read from a CSV price table.

use std::collections::HashMap;
use std::path::Path;

use super::csvio::{Record, csv_error, csv_reader, find, headers};
use crate::eval::EvalError;
use crate::model::Prices;

/// Prices per model, in USD per million tokens (the shared `prices.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    prices: HashMap<String, Prices>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a model's prices.
    pub fn insert(&mut self, model: impl Into<String>, prices: Prices) {
        self.prices.insert(model.into(), prices);
    }

    /// A model's prices.
    pub fn get(&self, model: &str) -> Option<Prices> {
        self.prices.get(model).cloned()
    }

    /// Number of models priced.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether no model is priced.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// Reads a CSV with columns `model`, `input_usd_per_mtok`, `output_usd_per_mtok` (others ignored).
    ///
    /// # Errors
    /// [`EvalError::Io`], [`EvalError::MissingColumn`], or [`EvalError::Parse`] naming the line
    /// and column of a price that is not a finite number `>= 0`.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref();
        let mut rdr = csv_reader(path)?;
        let headers = headers(&mut rdr, path)?;
        let col = |name: &str| {
            find(&headers, &[name]).ok_or_else(|| EvalError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                hint: "a price table has columns model, input_usd_per_mtok, output_usd_per_mtok",
            })
        };
        let (m, i, o) = (
            col("model")?,
            col("input_usd_per_mtok")?,
            col("output_usd_per_mtok")?,
        );
        let mut table = PriceTable::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| csv_error(path, e))?;
            let r = Record::new(path, &headers, &rec);
            let price = |c: usize| -> Result<f64, EvalError> {
                let v = r.num(c)?;
                if v >= 0.0 {
                    Ok(v)
                } else {
                    Err(r.bad(c, "a finite price >= 0 (USD per million tokens)"))
                }
            };
            table.insert(&rec[m], Prices::new(price(i)?, price(o)?));
        }
        Ok(table)
    }
}
