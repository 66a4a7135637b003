//! Loader options: where costs come from when the data has none, and how scores are scaled.

use std::borrow::Cow;

use derive_setters::Setters;

use super::PriceTable;

/// Options for the loaders: where costs come from when the data has none.
#[derive(Clone, Debug, PartialEq, Setters)]
#[setters(generate = false)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Prices for models whose cost is not recorded.
    #[setters(generate, strip_option)]
    pub prices: Option<PriceTable>,
    /// Output tokens assumed where a cost must be computed and no answer length is recorded.
    #[setters(generate, strip_option)]
    pub default_output_tokens: Option<u32>,
    /// Characters per token for token estimates from text lengths (default 4).
    #[setters(generate)]
    pub chars_per_token: f64,
    /// Input tokens assumed where a cost must be computed and neither tokens, a prompt length
    /// nor a text is recorded.
    #[setters(generate, strip_option)]
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
