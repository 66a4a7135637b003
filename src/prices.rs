//! What a call costs: [`Prices`] and the [`TokenCounts`] they bill.
//!
//! A model's prices are the standard rates (input, output, cached input) plus, where the
//! provider has them, prices for writing the prompt cache (by time to live), a long-context tier
//! and batch rates. One function, [`Prices::cost`], turns token counts into US dollars; the
//! router's expected cost, the provider clients' response cost and the runtime's budget
//! reservations all go through it.
//!
//! How a bill is made:
//! - **Tier.** When a [`LongContext`] tier is set and the call's input is above its threshold,
//!   the whole call (input, cache and output) is billed at the tier's rates, as Google, OpenAI
//!   and Anthropic bill long prompts.
//! - **Batch.** A batch call is billed at the tier's batch rates where the model has them, else
//!   at the tier's ordinary rates.
//! - **Missing prices.** Within one list of rates, a cache price the list does not state is that
//!   list's input price (a provider that does not price cache writes bills them as input).
//! - **Reasoning.** Reasoning tokens reported apart from the output are billed as output.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::non_negative::non_negative;

/// USD per token in one USD per million tokens: every cost is its tokens times its rates,
/// times this. A multiplication, not a division by 1,000,000: the router prices every model on
/// every decision, and its cost loop, with nothing else to do, waited on the divider. At 1,024
/// models a decision beside model-router's pick went from
/// 0.481× to 0.437× of its time (docs/performance.md, round 17). The result can differ from
/// the division's in the last bit; every cost the crate computes uses this one.
pub(crate) const PER_TOKEN: f64 = 1e-6;

/// Token counts of one call, as a provider bills them.
///
/// `input` counts every prompt token: the fresh ones, those read from the prompt cache and
/// those written to it. Counts of cache reads and writes larger than what is left of `input` are
/// clamped (reads first, then 5-minute writes, then 1-hour writes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenCounts {
    /// Every input (prompt) token, cached or not.
    pub input: u32,
    /// The part of `input` read from the prompt cache.
    pub cache_read: u32,
    /// The part of `input` written to the prompt cache with a 5-minute time to live.
    pub cache_write_5m: u32,
    /// The part of `input` written to the prompt cache with a 1-hour time to live.
    pub cache_write_1h: u32,
    /// Output (completion) tokens.
    pub output: u32,
    /// Reasoning ("thinking") tokens the provider reports apart from `output`; billed as output.
    /// Leave it 0 where the provider counts them in `output` already (OpenAI, Anthropic).
    pub reasoning: u32,
    /// Whether the call went through the provider's batch interface.
    pub batch: bool,
}

impl TokenCounts {
    /// `input` prompt tokens and `output` completion tokens, nothing cached, not a batch call.
    pub const fn new(input: u32, output: u32) -> Self {
        Self {
            input,
            cache_read: 0,
            cache_write_5m: 0,
            cache_write_1h: 0,
            output,
            reasoning: 0,
            batch: false,
        }
    }

    /// Sets how many of the input tokens were read from the prompt cache.
    pub const fn with_cache_read(mut self, n: u32) -> Self {
        self.cache_read = n;
        self
    }

    /// Sets how many of the input tokens were written to the cache, by time to live.
    pub const fn with_cache_writes(mut self, five_minutes: u32, one_hour: u32) -> Self {
        self.cache_write_5m = five_minutes;
        self.cache_write_1h = one_hour;
        self
    }

    /// Sets the reasoning tokens reported apart from the output.
    pub const fn with_reasoning(mut self, n: u32) -> Self {
        self.reasoning = n;
        self
    }

    /// Marks the call as a batch call.
    pub const fn in_batch(mut self) -> Self {
        self.batch = true;
        self
    }
}

/// One list of rates in USD per million tokens: a long-context tier's or a batch's.
///
/// A cache price left out is the list's input price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rates {
    /// USD per million fresh input tokens.
    #[serde(deserialize_with = "non_negative")]
    pub input: f64,
    /// USD per million output tokens (reasoning tokens included).
    #[serde(deserialize_with = "non_negative")]
    pub output: f64,
    /// USD per million input tokens read from the prompt cache.
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_input: Option<f64>,
    /// USD per million input tokens written to the cache with a 5-minute time to live.
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_5m: Option<f64>,
    /// USD per million input tokens written to the cache with a 1-hour time to live.
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_1h: Option<f64>,
}

impl Rates {
    /// Input and output rates, cache prices left out.
    pub const fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cached_input: None,
            cache_write_5m: None,
            cache_write_1h: None,
        }
    }

    /// Sets the cache-read price.
    pub const fn with_cached_input(mut self, usd_per_mtok: f64) -> Self {
        self.cached_input = Some(usd_per_mtok);
        self
    }

    /// Sets the cache-write prices, by time to live (`None`: the input price).
    pub const fn with_cache_writes(mut self, five_minutes: Option<f64>, one_hour: Option<f64>) -> Self {
        self.cache_write_5m = five_minutes;
        self.cache_write_1h = one_hour;
        self
    }

    /// Every price of the list, with its name, for validation and diffs.
    pub fn named(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cached_input", self.cached_input),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
        ]
    }

    /// The cost in USD of `t` at these rates (no tier or batch choice left to make).
    fn bill(&self, t: &TokenCounts) -> f64 {
        let read = t.cache_read.min(t.input);
        let w5 = t.cache_write_5m.min(t.input - read);
        let w1h = t.cache_write_1h.min(t.input - read - w5);
        let fresh = t.input - read - w5 - w1h;
        let or_input = |p: Option<f64>| p.unwrap_or(self.input);
        (f64::from(fresh) * self.input
            + f64::from(read) * or_input(self.cached_input)
            + f64::from(w5) * or_input(self.cache_write_5m)
            + f64::from(w1h) * or_input(self.cache_write_1h)
            + (f64::from(t.output) + f64::from(t.reasoning)) * self.output)
            * PER_TOKEN
    }
}

/// A long-context tier: when a call's input is above `above_input_tokens`, the whole call is
/// billed at these rates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LongContext {
    /// The threshold: calls with more input tokens than this are billed at the tier.
    pub above_input_tokens: u32,
    /// The tier's rates.
    pub rates: Rates,
    /// The tier's batch rates, where the provider has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Rates>,
}

impl LongContext {
    /// A tier above `above_input_tokens` input tokens with these rates and no batch rates.
    pub const fn new(above_input_tokens: u32, rates: Rates) -> Self {
        Self {
            above_input_tokens,
            rates,
            batch: None,
        }
    }

    /// Sets the tier's batch rates.
    pub const fn with_batch(mut self, batch: Rates) -> Self {
        self.batch = Some(batch);
        self
    }
}

/// The rarer parts of a price list, shared behind an `Arc` so that [`Prices`] stays small where
/// the router copies it per model.
#[derive(Clone, Debug, Default, PartialEq)]
struct MorePrices {
    cached_input: Option<f64>,
    cache_write_5m: Option<f64>,
    cache_write_1h: Option<f64>,
    long_context: Option<LongContext>,
    batch: Option<Rates>,
}

/// Prices in US dollars per million tokens.
///
/// The input and output rates are fields; the cache prices, a long-context tier and batch rates
/// are set with the `with_*` methods and read with the accessors of the same name. They are
/// shared behind an `Arc`, so a `Prices` is three words and the router's per-model row stays one
/// cache line. Serialized flat:
///
/// ```json
/// { "input": 3, "output": 15, "cached_input": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6,
///   "batch": { "input": 1.5, "output": 7.5 },
///   "long_context": { "above_input_tokens": 200000, "rates": { "input": 6, "output": 22.5 } } }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "PricesRepr", into = "PricesRepr")]
#[non_exhaustive]
pub struct Prices {
    /// USD per million input (prompt) tokens.
    pub input: f64,
    /// USD per million output (completion) tokens.
    pub output: f64,
    more: Option<Arc<MorePrices>>,
}

/// The rates a plain call (no cache writes, no reasoning tokens billed apart, not batch) is
/// billed at: what the router's per-model row holds for its cost estimate (see `table.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CallRates {
    /// USD per million fresh input tokens.
    pub(crate) input: f64,
    /// USD per million input tokens read from the prompt cache.
    pub(crate) cached_input: f64,
    /// USD per million output tokens.
    pub(crate) output: f64,
}

impl CallRates {
    /// `Prices::cost_usd(input, cached_input, output)` of the prices these rates came from,
    /// bit for bit, when [`Prices::call_rates`] called them flat: `Rates::bill` with no cache
    /// writes and no reasoning tokens adds `+0.0` twice and `0.0` to the output tokens, which
    /// changes nothing for finite rates >= 0 (what `ModelSpec::validate` admits).
    #[inline(always)]
    pub(crate) fn cost_usd(&self, input: u32, cached_input: u32, output: u32) -> f64 {
        let read = cached_input.min(input);
        let fresh = input - read;
        (f64::from(fresh) * self.input
            + f64::from(read) * self.cached_input
            + f64::from(output) * self.output)
            * PER_TOKEN
    }
}

impl Prices {
    /// Input and output prices in USD per million tokens, with no cached-input discount.
    pub const fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            more: None,
        }
    }

    /// Sets the price of cached input tokens (prompt-cache reads), USD per million.
    pub fn with_cached_input(mut self, cached_input: f64) -> Self {
        self.more_mut().cached_input = Some(cached_input);
        self
    }

    /// Sets the prices of writing the prompt cache, by time to live (`None`: the input price).
    pub fn with_cache_writes(mut self, five_minutes: Option<f64>, one_hour: Option<f64>) -> Self {
        let m = self.more_mut();
        m.cache_write_5m = five_minutes;
        m.cache_write_1h = one_hour;
        self
    }

    /// Sets the long-context tier.
    pub fn with_long_context(mut self, tier: LongContext) -> Self {
        self.more_mut().long_context = Some(tier);
        self
    }

    /// Sets the batch rates (below the long-context threshold, if there is one).
    pub fn with_batch(mut self, batch: Rates) -> Self {
        self.more_mut().batch = Some(batch);
        self
    }

    /// USD per million cached input tokens (prompt-cache reads), where the provider discounts them.
    pub fn cached_input(&self) -> Option<f64> {
        self.more.as_ref().and_then(|m| m.cached_input)
    }

    /// USD per million tokens written to the cache with a 5-minute time to live, if priced apart.
    pub fn cache_write_5m(&self) -> Option<f64> {
        self.more.as_ref().and_then(|m| m.cache_write_5m)
    }

    /// USD per million tokens written to the cache with a 1-hour time to live, if priced apart.
    pub fn cache_write_1h(&self) -> Option<f64> {
        self.more.as_ref().and_then(|m| m.cache_write_1h)
    }

    /// The long-context tier, if any.
    pub fn long_context(&self) -> Option<&LongContext> {
        self.more.as_ref().and_then(|m| m.long_context.as_ref())
    }

    /// The batch rates below the long-context threshold, if any.
    pub fn batch(&self) -> Option<&Rates> {
        self.more.as_ref().and_then(|m| m.batch.as_ref())
    }

    /// The standard rates as a [`Rates`] list.
    pub fn standard(&self) -> Rates {
        Rates {
            input: self.input,
            output: self.output,
            cached_input: self.cached_input(),
            cache_write_5m: self.cache_write_5m(),
            cache_write_1h: self.cache_write_1h(),
        }
    }

    /// The standard rates of a plain call, and whether they bill every plain call (`false`
    /// with a long-context tier, whose rates depend on the input size, or with a rate that is
    /// not a finite number >= 0).
    pub(crate) fn call_rates(&self) -> (CallRates, bool) {
        let r = self.standard();
        let rates = CallRates {
            input: r.input,
            cached_input: r.cached_input.unwrap_or(r.input),
            output: r.output,
        };
        let sane = |v: f64| v.is_finite() && v >= 0.0;
        let writes = [r.cache_write_5m, r.cache_write_1h];
        let flat = self.more.as_ref().is_none_or(|m| m.long_context.is_none())
            && [rates.input, rates.cached_input, rates.output]
                .into_iter()
                .all(sane)
            && writes.into_iter().flatten().all(sane);
        (rates, flat)
    }

    /// Every list of rates with its path (`""`, `"batch."`, `"long_context.rates."`,
    /// `"long_context.batch."`), for validation and diffs.
    pub fn lists(&self) -> Vec<(&'static str, Rates)> {
        let mut out = vec![("", self.standard())];
        out.extend(self.batch().map(|b| ("batch.", *b)));
        if let Some(t) = self.long_context() {
            out.push(("long_context.rates.", t.rates));
            out.extend(t.batch.map(|b| ("long_context.batch.", b)));
        }
        out
    }

    /// The cost in USD of a call with these token counts: see the [module docs](self) for how
    /// the tier, batch and cache prices are chosen.
    pub fn cost(&self, t: &TokenCounts) -> f64 {
        let Some(more) = &self.more else {
            return self.standard().bill(t);
        };
        let (rates, batch) = match &more.long_context {
            Some(tier) if t.input > tier.above_input_tokens => (tier.rates, tier.batch),
            _ => (self.standard(), more.batch),
        };
        match batch {
            Some(b) if t.batch => b.bill(t),
            _ => rates.bill(t),
        }
    }

    /// The cost in USD of a call with these token counts ([`cost`](Self::cost) of a non-batch
    /// call without cache writes).
    ///
    /// `cached_input_tokens` is the part of `input_tokens` served from the prompt cache; it is
    /// charged at the cached price where there is one, else at the input price.
    pub fn cost_usd(&self, input_tokens: u32, cached_input_tokens: u32, output_tokens: u32) -> f64 {
        self.cost(&TokenCounts::new(input_tokens, output_tokens).with_cache_read(cached_input_tokens))
    }

    fn more_mut(&mut self) -> &mut MorePrices {
        Arc::make_mut(self.more.get_or_insert_with(Default::default))
    }
}

/// The serialized form of [`Prices`]: flat, every part optional but input and output.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesRepr {
    #[serde(deserialize_with = "non_negative")]
    input: f64,
    #[serde(deserialize_with = "non_negative")]
    output: f64,
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    cached_input: Option<f64>,
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    cache_write_5m: Option<f64>,
    #[serde(
        default,
        deserialize_with = "opt_non_negative",
        skip_serializing_if = "Option::is_none"
    )]
    cache_write_1h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<Rates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    long_context: Option<LongContext>,
}

impl From<PricesRepr> for Prices {
    fn from(r: PricesRepr) -> Self {
        let more = MorePrices {
            cached_input: r.cached_input,
            cache_write_5m: r.cache_write_5m,
            cache_write_1h: r.cache_write_1h,
            long_context: r.long_context,
            batch: r.batch,
        };
        Prices {
            input: r.input,
            output: r.output,
            more: (more != MorePrices::default()).then(|| Arc::new(more)),
        }
    }
}

impl From<Prices> for PricesRepr {
    fn from(p: Prices) -> Self {
        let more = p.more.as_deref().cloned().unwrap_or_default();
        PricesRepr {
            input: p.input,
            output: p.output,
            cached_input: more.cached_input,
            cache_write_5m: more.cache_write_5m,
            cache_write_1h: more.cache_write_1h,
            batch: more.batch,
            long_context: more.long_context,
        }
    }
}

fn opt_non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_rates_bill_plain_calls_as_prices_do_bit_for_bit() {
        let tier = LongContext::new(200_000, Rates::new(6.0, 22.5));
        let prices = [
            Prices::new(0.0, 0.0),
            Prices::new(3.0, 15.0),
            Prices::new(0.15, 0.6).with_cached_input(0.075),
            Prices::new(1.1, 4.4)
                .with_cached_input(0.275)
                .with_cache_writes(Some(1.375), Some(2.2)),
            Prices::new(0.1 + 0.2, 1.0 / 3.0).with_batch(Rates::new(0.05, 0.2)),
            Prices::new(3.0, 15.0).with_long_context(tier),
        ];
        let tokens = [0u32, 1, 7, 999, 1_024, 123_457, 200_001, u32::MAX];
        let mut flat_seen = 0;
        for p in &prices {
            let (rates, flat) = p.call_rates();
            assert_eq!(flat, p.long_context().is_none(), "{p:?}");
            if !flat {
                continue;
            }
            for input in tokens {
                for cached in tokens {
                    for output in tokens {
                        let want = p.cost_usd(input, cached, output);
                        let got = rates.cost_usd(input, cached, output);
                        assert_eq!(got.to_bits(), want.to_bits(), "{p:?} {input} {cached} {output}");
                        flat_seen += 1;
                    }
                }
            }
        }
        assert_eq!(flat_seen, 5 * tokens.len().pow(3));
    }

    /// Within a micro-dollar... and much closer: these bills are exact up to float rounding.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

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

    /// Claude Sonnet 4.5 (anthropic.com/pricing, 2026-12): $3 in, $15 out, cache reads $0.30,
    /// 5-minute writes $3.75, 1-hour writes $6 per million.
    fn sonnet() -> Prices {
        Prices::new(3.0, 15.0)
            .with_cached_input(0.3)
            .with_cache_writes(Some(3.75), Some(6.0))
    }

    #[test]
    fn anthropic_bill_with_cache_writes_and_reads() {
        // 50,000 input tokens: 30,000 read from the cache, 8,000 written for 5 minutes, 2,000
        // written for 1 hour, 10,000 fresh; 1,200 output.
        let t = TokenCounts::new(50_000, 1_200)
            .with_cache_read(30_000)
            .with_cache_writes(8_000, 2_000);
        // By hand: 10,000 × $3 = $0.030; 30,000 × $0.30 = $0.009; 8,000 × $3.75 = $0.030;
        // 2,000 × $6 = $0.012; 1,200 × $15 = $0.018. Total $0.099.
        let c = sonnet().cost(&t);
        assert!(close(c, 0.099), "{c}");
        // The old price model billed the writes as fresh input: $0.087.
        assert!(close(
            Prices::new(3.0, 15.0).with_cached_input(0.3).cost(&t),
            0.087
        ));
        // Writes beyond what is left of the input are clamped.
        let over = TokenCounts::new(100, 0)
            .with_cache_read(60)
            .with_cache_writes(60, 60);
        assert!(close(sonnet().cost(&over), (60.0 * 0.3 + 40.0 * 3.75) / 1e6));
    }

    /// Gemini 2.5 Pro (ai.google.dev/gemini-api/docs/pricing): $1.25 in, $10 out, cache reads
    /// $0.125 up to 200k prompt tokens; $2.50, $15 and $0.25 above.
    fn gemini_pro() -> Prices {
        Prices::new(1.25, 10.0)
            .with_cached_input(0.125)
            .with_long_context(LongContext::new(
                200_000,
                Rates::new(2.5, 15.0).with_cached_input(0.25),
            ))
            .with_batch(Rates::new(0.625, 5.0).with_cached_input(0.125))
    }

    #[test]
    fn gemini_pro_above_200k_bills_the_whole_call_at_the_tier() {
        // 250,000 input (50,000 cached), 4,000 output, 1,000 thinking tokens reported apart.
        let t = TokenCounts::new(250_000, 4_000)
            .with_cache_read(50_000)
            .with_reasoning(1_000);
        // By hand: 200,000 × $2.50 = $0.500; 50,000 × $0.25 = $0.0125;
        // (4,000 + 1,000) × $15 = $0.075. Total $0.5875.
        assert!(close(gemini_pro().cost(&t), 0.5875));
        // At exactly 200,000 the base rates apply: 200,000 × $1.25 + 4,000 × $10 = $0.29.
        assert!(close(gemini_pro().cost(&TokenCounts::new(200_000, 4_000)), 0.29));
        // One more token crosses: 200,001 × $2.50 + 4,000 × $15 = $0.5600025.
        assert!(close(
            gemini_pro().cost(&TokenCounts::new(200_001, 4_000)),
            0.5600025
        ));
    }

    #[test]
    fn batch_call_uses_batch_rates_and_falls_back_without_them() {
        // Gemini 2.5 Pro batch: 100,000 input (20,000 cached), 10,000 output.
        let t = TokenCounts::new(100_000, 10_000)
            .with_cache_read(20_000)
            .in_batch();
        // By hand: 80,000 × $0.625 = $0.05; 20,000 × $0.125 = $0.0025; 10,000 × $5 = $0.05.
        assert!(close(gemini_pro().cost(&t), 0.1025));
        // Above the threshold there are no tier batch rates here: the tier's ordinary rates.
        let long = TokenCounts::new(300_000, 0).in_batch();
        assert!(close(gemini_pro().cost(&long), 300_000.0 * 2.5 / 1e6));
        // A model without batch rates bills a batch call at its ordinary rates.
        assert!(close(
            sonnet().cost(&TokenCounts::new(1_000, 0).in_batch()),
            0.003
        ));
        // A batch list without a cache price bills cache reads at the batch input price.
        let p = Prices::new(2.0, 8.0)
            .with_cached_input(0.5)
            .with_batch(Rates::new(1.0, 4.0));
        let t = TokenCounts::new(1_000, 0).with_cache_read(1_000).in_batch();
        assert!(close(p.cost(&t), 0.001));
    }

    #[test]
    fn serde_round_trips_every_part_and_stays_flat() {
        let p = gemini_pro().with_cache_writes(Some(1.5), None);
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.starts_with(r#"{"input":1.25,"output":10.0,"cached_input":0.125,"cache_write_5m":1.5"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Prices>(&json).unwrap(), p);
        let plain: Prices = serde_json::from_str(r#"{"input": 1, "output": 2}"#).unwrap();
        assert_eq!(plain, Prices::new(1.0, 2.0));
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"input":1.0,"output":2.0}"#
        );
    }

    #[test]
    fn deserializing_refuses_negative_price_and_unknown_field() {
        let bad = r#"{"input": -1, "output": 2}"#;
        assert!(serde_json::from_str::<Prices>(bad).is_err());
        let unknown = r#"{"input": 1, "output": 2, "oops": 3}"#;
        assert!(serde_json::from_str::<Prices>(unknown).is_err());
        let bad_tier = r#"{"input": 1, "output": 2, "long_context": {"above_input_tokens": 5, "rates": {"input": 1, "output": -2}}}"#;
        assert!(serde_json::from_str::<Prices>(bad_tier).is_err());
    }
}
