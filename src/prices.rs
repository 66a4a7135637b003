//! What a call costs: [`Prices`].

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::non_negative;

/// Prices in US dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Prices {
    /// USD per million input (prompt) tokens.
    #[serde(deserialize_with = "non_negative")]
    pub input: f64,
    /// USD per million output (completion) tokens.
    #[serde(deserialize_with = "non_negative")]
    pub output: f64,
    /// USD per million cached input tokens (prompt-cache reads), where the provider discounts them.
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_input: Option<f64>,
}

impl Prices {
    /// Input and output prices in USD per million tokens, with no cached-input discount.
    pub const fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cached_input: None,
        }
    }

    /// Sets the price of cached input tokens (USD per million).
    pub const fn with_cached_input(mut self, cached_input: f64) -> Self {
        self.cached_input = Some(cached_input);
        self
    }

    /// The expected cost in USD of a call with these token counts.
    ///
    /// `cached_input_tokens` is the part of `input_tokens` served from the prompt cache; it is
    /// charged at the cached price where there is one, else at the input price.
    pub fn cost_usd(&self, input_tokens: u32, cached_input_tokens: u32, output_tokens: u32) -> f64 {
        let cached = cached_input_tokens.min(input_tokens);
        let fresh = f64::from(input_tokens - cached);
        let cached_price = self.cached_input.unwrap_or(self.input);
        (fresh * self.input + f64::from(cached) * cached_price + f64::from(output_tokens) * self.output)
            / 1_000_000.0
    }
}

fn opt_non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counts_cached_tokens_at_cached_price() {
        let p = Prices::new(2.0, 8.0).with_cached_input(0.5);
        // 1000 input of which 400 cached, 100 output
        let c = p.cost_usd(1000, 400, 100);
        let expected = (600.0 * 2.0 + 400.0 * 0.5 + 100.0 * 8.0) / 1e6;
        assert!((c - expected).abs() < 1e-15, "{c} vs {expected}");
        // cached count larger than input is clamped
        assert!((p.cost_usd(10, 50, 0) - 10.0 * 0.5 / 1e6).abs() < 1e-18);
    }

    #[test]
    fn deserializing_refuses_negative_price_and_unknown_field() {
        let bad = r#"{"input": -1, "output": 2}"#;
        assert!(serde_json::from_str::<Prices>(bad).is_err());
        let unknown = r#"{"input": 1, "output": 2, "oops": 3}"#;
        assert!(serde_json::from_str::<Prices>(unknown).is_err());
    }
}
