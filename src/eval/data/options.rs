//! Loader options: where costs come from when the data has none, and how scores are scaled.

use std::borrow::Cow;

use super::PriceTable;

/// Options for the loaders: where costs come from when the data has none.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Prices for models whose cost is not recorded.
    pub prices: Option<PriceTable>,
    /// Output tokens assumed where a cost must be computed and no answer length is recorded.
    pub default_output_tokens: Option<u32>,
    /// Characters per token for token estimates from text lengths (default 4).
    pub chars_per_token: f64,
    /// Input tokens assumed where a cost must be computed and neither tokens, a prompt length
    /// nor a text is recorded.
    pub default_input_tokens: Option<u32>,
    /// The range of recorded scores, `(worst, best)`: each is mapped linearly onto `[0, 1]`
    /// (MT-Bench's 1–10 judge scores: `(1.0, 10.0)`). Without it, qualities must be in `[0, 1]`.
    pub quality_range: Option<(f64, f64)>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            prices: None,
            default_output_tokens: None,
            chars_per_token: 4.0,
            default_input_tokens: None,
            quality_range: None,
        }
    }
}

impl LoadOptions {
    /// Default options: costs must be recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes missing costs from these prices.
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Output tokens to assume where no answer length is recorded.
    pub fn default_output_tokens(mut self, n: u32) -> Self {
        self.default_output_tokens = Some(n);
        self
    }

    /// Characters per token for estimates from lengths.
    pub fn chars_per_token(mut self, c: f64) -> Self {
        self.chars_per_token = c;
        self
    }

    /// Input tokens to assume where nothing tells the prompt's length.
    pub fn default_input_tokens(mut self, n: u32) -> Self {
        self.default_input_tokens = Some(n);
        self
    }

    /// Maps recorded scores from `[worst, best]` onto `[0, 1]`.
    pub fn quality_range(mut self, worst: f64, best: f64) -> Self {
        self.quality_range = Some((worst, best));
        self
    }

    /// The recorded score `v` as a quality in `[0, 1]`, or what was expected.
    pub(super) fn quality(&self, v: f64) -> Result<f64, Cow<'static, str>> {
        match self.quality_range {
            None if (0.0..=1.0).contains(&v) => Ok(v),
            None => Err("a quality in [0, 1] (rescale other scores with a quality range)".into()),
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                if (lo..=hi).contains(&v) {
                    Ok((v - lo) / (hi - lo))
                } else {
                    Err(format!("a score in [{lo}, {hi}]").into())
                }
            }
            Some((lo, hi)) => {
                Err(format!("a valid quality range, not [{lo}, {hi}] (needs worst < best)").into())
            }
        }
    }

    pub(super) fn tokens(&self, chars: f64) -> u32 {
        (chars / self.chars_per_token)
            .ceil()
            .clamp(0.0, f64::from(u32::MAX)) as u32
    }
}
