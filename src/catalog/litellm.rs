//! Reading LiteLLM's price map, `model_prices_and_context_window.json`: see
//! [`Catalog::from_litellm_json`].
//!
//! What is read from each entry:
//!
//! | LiteLLM field | taskroute |
//! |---|---|
//! | the key, less a leading `<litellm_provider>/` | the wire name (`api_name`); also the id for first-party providers |
//! | `litellm_provider` | `provider` (`bedrock_converse` → `bedrock`, `gemini` → `google`) |
//! | `max_input_tokens`, `max_output_tokens` | `context_window`, `max_output_tokens` (capped at the window) |
//! | `input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost` | `prices.input`, `.output`, `.cached_input` (× 10⁶) |
//! | `cache_creation_input_token_cost`, `cache_creation_input_token_cost_above_1hr` | 5-minute and 1-hour cache-write prices |
//! | `*_above_<N>k_tokens` | the long-context tier above N × 1000 input tokens |
//! | `*_batches` | batch rates (of the base list, and of the tier) |
//! | `supports_function_calling`, `_vision`, `_response_schema`, `_reasoning` | tools, vision, JSON mode, reasoning; streaming unless `supports_native_streaming` is false |
//! | `deprecation_date` | `retires` |
//!
//! A price an entry leaves out of a tier or batch list is the one of the list it refines (the
//! base list for a tier, the non-batch list for a batch), as LiteLLM bills. Ids: entries of the
//! first-party providers (OpenAI, Anthropic, Google, DeepSeek, Mistral) keep the wire name as id,
//! as the built-in catalog does; every other provider's ids are `<provider>/<wire name>`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Catalog, CatalogError};
use crate::date::Date;
use crate::model::{Capabilities, Capability, ModelSpec};
use crate::prices::{LongContext, Prices, Rates};

/// What to import; see [`Catalog::from_litellm_json`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LitellmOptions {
    /// Keep only these providers (taskroute's names: `openai`, `anthropic`, `bedrock`, `google`,
    /// or any `litellm_provider` value); every provider when empty.
    pub providers: Vec<String>,
    /// The date stamped on the catalog and every entry's `as_of`.
    pub as_of: Option<String>,
}

impl LitellmOptions {
    /// Every provider, no date.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps only these providers.
    pub fn providers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, providers: I) -> Self {
        self.providers = providers.into_iter().map(Into::into).collect();
        self
    }

    /// Stamps this date on the catalog and its entries.
    pub fn as_of(mut self, date: impl Into<String>) -> Self {
        self.as_of = Some(date.into());
        self
    }
}

/// The result of [`Catalog::from_litellm_json`]: the catalog, what was skipped, and the entries
/// refused or imported in part.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LitellmImport {
    /// The imported chat models, in key order.
    pub catalog: Catalog,
    /// Entries skipped because they are not chat models, counted by their `mode` (`"embedding"`,
    /// `"image_generation"`, ...; `"(none)"` for entries without one).
    pub skipped_modes: BTreeMap<String, usize>,
    /// Chat entries skipped because their provider was not asked for.
    pub skipped_providers: usize,
    /// Entries refused, and entries imported without a part they hold, each with key and field.
    pub problems: Vec<LitellmEntryError>,
}

impl LitellmImport {
    /// Entries skipped as not chat models, all modes together.
    pub fn skipped_not_chat(&self) -> usize {
        self.skipped_modes.values().sum()
    }
}

/// What is wrong with one entry of LiteLLM's price map.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LitellmEntryError {
    /// The entry is not a JSON object; it was skipped.
    #[error("`{key}`: the entry is not an object; skipped")]
    NotAnObject {
        /// The entry's key.
        key: String,
    },
    /// A field every chat entry needs is absent; the entry was skipped.
    #[error("`{key}`: `{field}` is missing; skipped")]
    Missing {
        /// The entry's key.
        key: String,
        /// The field.
        field: &'static str,
    },
    /// A field holds a value of the wrong kind or out of range; the entry was skipped.
    #[error("`{key}`: `{field}` is {found}; expected {expected}; skipped")]
    BadValue {
        /// The entry's key.
        key: String,
        /// The field.
        field: String,
        /// The value found (JSON, at most 40 characters).
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Another entry already gave this id; the later one was skipped.
    #[error("`{key}`: id `{id}` already imported from another entry; skipped")]
    DuplicateId {
        /// The entry's key.
        key: String,
        /// The id.
        id: String,
    },
    /// The entry has more than one long-context tier; only the lowest was imported, so calls
    /// above the next threshold are under-priced.
    #[error("`{key}`: long-context tiers above {thresholds:?} tokens; only the one above {kept} imported")]
    ExtraTiers {
        /// The entry's key.
        key: String,
        /// Every threshold found, in tokens.
        thresholds: Vec<u32>,
        /// The threshold imported.
        kept: u32,
    },
}

/// Providers whose models keep their wire name as id (as in the built-in catalog).
const FIRST_PARTY: [&str; 5] = ["openai", "anthropic", "google", "deepseek", "mistral"];

impl Catalog {
    /// Reads LiteLLM's `model_prices_and_context_window.json` (see the [module docs](self) for
    /// what maps to what). Entries that are not chat models are skipped and counted; an entry
    /// with a bad or missing field is reported in [`LitellmImport::problems`] with its key and
    /// field, and the rest are imported. Quality priors and latency are not in the file; see
    /// `taskroute catalog import` for laying an import over a catalog that has them.
    ///
    /// # Errors
    /// [`CatalogError::Parse`] when the text is not JSON or not an object of entries.
    pub fn from_litellm_json(text: &str, options: &LitellmOptions) -> Result<LitellmImport, CatalogError> {
        let entries: Map<String, Value> = serde_json::from_str(text).map_err(|e| CatalogError::Parse {
            source_name: None,
            line: e.line(),
            column: e.column(),
            field: None,
            message: format!(
                "not LiteLLM's price map (an object of entries): {}",
                super::strip_position(&e.to_string())
            ),
        })?;
        let mut out = LitellmImport {
            catalog: Catalog {
                as_of: options.as_of.clone(),
                models: Vec::new(),
                deployments: BTreeMap::new(),
            },
            skipped_modes: BTreeMap::new(),
            skipped_providers: 0,
            problems: Vec::new(),
        };
        let mut ids = std::collections::BTreeSet::new();
        for (key, value) in &entries {
            let Some(entry) = value.as_object() else {
                out.problems
                    .push(LitellmEntryError::NotAnObject { key: key.clone() });
                continue;
            };
            let e = Entry { key, map: entry };
            match entry.get("mode") {
                Some(Value::String(m)) if m == "chat" => {}
                other => {
                    let mode = match other {
                        Some(Value::String(m)) => m.chars().take(40).collect(),
                        Some(v) => short(v),
                        None => "(none)".to_owned(),
                    };
                    *out.skipped_modes.entry(mode).or_default() += 1;
                    continue;
                }
            }
            let spec = match e.model(options, &mut out.problems) {
                Ok(Some(spec)) => spec,
                Ok(None) => {
                    out.skipped_providers += 1;
                    continue;
                }
                Err(p) => {
                    out.problems.push(p);
                    continue;
                }
            };
            if !ids.insert(spec.id.clone()) {
                out.problems.push(LitellmEntryError::DuplicateId {
                    key: key.clone(),
                    id: spec.id.to_string(),
                });
                continue;
            }
            out.catalog.models.push(spec);
        }
        Ok(out)
    }
}

/// One entry being read.
struct Entry<'a> {
    key: &'a str,
    map: &'a Map<String, Value>,
}

impl Entry<'_> {
    /// The model, `None` if its provider was not asked for.
    fn model(
        &self,
        options: &LitellmOptions,
        notes: &mut Vec<LitellmEntryError>,
    ) -> Result<Option<ModelSpec>, LitellmEntryError> {
        let litellm_provider = match self.map.get("litellm_provider") {
            Some(Value::String(p)) => p.as_str(),
            Some(v) => return Err(self.bad("litellm_provider", v, "a provider name")),
            None => return Err(self.missing("litellm_provider")),
        };
        let provider = match litellm_provider {
            "bedrock" | "bedrock_converse" => "bedrock",
            "gemini" => "google",
            p => p,
        };
        if !options.providers.is_empty()
            && !options
                .providers
                .iter()
                .any(|p| p == provider || p == litellm_provider)
        {
            return Ok(None);
        }
        let wire = self
            .key
            .strip_prefix(litellm_provider)
            .and_then(|k| k.strip_prefix('/'))
            .unwrap_or(self.key);
        let id = if FIRST_PARTY.contains(&provider) {
            wire.to_owned()
        } else {
            format!("{provider}/{wire}")
        };
        let window = self
            .tokens("max_input_tokens")?
            .ok_or_else(|| self.missing("max_input_tokens"))?;
        if window == 0 {
            return Err(self.bad("max_input_tokens", &Value::from(0), "a positive number of tokens"));
        }
        let max_output = self.tokens("max_output_tokens")?.unwrap_or(window).min(window);
        let prices = self.prices(notes)?;
        let mut caps = Capabilities::NONE;
        for (field, cap) in [
            ("supports_function_calling", Capability::Tools),
            ("supports_vision", Capability::Vision),
            ("supports_response_schema", Capability::JsonMode),
            ("supports_reasoning", Capability::Reasoning),
        ] {
            if self.flag(field)? == Some(true) {
                caps = caps.with(cap);
            }
        }
        if self.flag("supports_native_streaming")? != Some(false) {
            caps = caps.with(Capability::Streaming);
        }
        let retires =
            match self.map.get("deprecation_date") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.parse::<Date>().map_err(|_| {
                    self.bad("deprecation_date", &Value::from(s.as_str()), "a date YYYY-MM-DD")
                })?),
                Some(v) => return Err(self.bad("deprecation_date", v, "a date YYYY-MM-DD")),
            };
        let mut spec = ModelSpec::new(id, provider, prices, window)
            .with_max_output_tokens(max_output)
            .with_capabilities(caps);
        if wire != spec.id.as_str() {
            spec = spec.with_api_name(wire);
        }
        spec.retires = retires;
        spec.source = Some(match self.map.get("source") {
            Some(Value::String(s)) => format!("LiteLLM price map, key `{}`; {s}", self.key),
            _ => format!("LiteLLM price map, key `{}`", self.key),
        });
        spec.as_of.clone_from(&options.as_of);
        Ok(Some(spec))
    }

    fn prices(&self, notes: &mut Vec<LitellmEntryError>) -> Result<Prices, LitellmEntryError> {
        let base = self
            .rates("", None)?
            .ok_or_else(|| self.missing("input_cost_per_token"))?;
        let mut prices =
            Prices::new(base.input, base.output).with_cache_writes(base.cache_write_5m, base.cache_write_1h);
        if let Some(c) = base.cached_input {
            prices = prices.with_cached_input(c);
        }
        if let Some(b) = self.rates("_batches", Some(&base))? {
            prices = prices.with_batch(b);
        }
        let mut tiers: Vec<(u32, &str)> = self
            .map
            .keys()
            .filter_map(|k| {
                let n = k
                    .strip_prefix("input_cost_per_token_above_")?
                    .strip_suffix("k_tokens")?;
                Some((n.parse::<u32>().ok()?.checked_mul(1000)?, n))
            })
            .collect();
        tiers.sort_unstable();
        if let Some(&(above, n)) = tiers.first() {
            let suffix = format!("_above_{n}k_tokens");
            // Detected by its input price, so the tier's list is always there.
            let rates = self.rates(&suffix, Some(&base))?.unwrap_or(base);
            let mut tier = LongContext::new(above, rates);
            if let Some(b) = self.rates(&format!("{suffix}_batches"), Some(&rates))? {
                tier = tier.with_batch(b);
            }
            prices = prices.with_long_context(tier);
            if tiers.len() > 1 {
                notes.push(LitellmEntryError::ExtraTiers {
                    key: self.key.to_owned(),
                    thresholds: tiers.iter().map(|t| t.0).collect(),
                    kept: above,
                });
            }
        }
        Ok(prices)
    }

    /// The list of rates whose fields end in `suffix` (`""`, `"_batches"`, `"_above_200k_tokens"`),
    /// missing prices taken from `refines`; `None` when neither its input nor its output price is
    /// given (or, for the base list, its input price).
    fn rates(&self, suffix: &str, refines: Option<&Rates>) -> Result<Option<Rates>, LitellmEntryError> {
        let input = self.price(&format!("input_cost_per_token{suffix}"))?;
        let output = self.price(&format!("output_cost_per_token{suffix}"))?;
        let (input, output) = match (input, output, refines) {
            (Some(i), o, None) => (i, o.ok_or_else(|| self.missing("output_cost_per_token"))?),
            (None, None, _) | (None, _, None) => return Ok(None),
            (i, o, Some(r)) => (i.unwrap_or(r.input), o.unwrap_or(r.output)),
        };
        // The 1-hour write price of a tier is `..._above_1hr_above_200k_tokens`.
        let hour_suffix = format!("_above_1hr{suffix}");
        let or = |v: Option<f64>, f: fn(&Rates) -> Option<f64>| v.or_else(|| refines.and_then(f));
        Ok(Some(Rates {
            input,
            output,
            cached_input: or(
                self.price(&format!("cache_read_input_token_cost{suffix}"))?,
                |r| r.cached_input,
            ),
            cache_write_5m: or(
                self.price(&format!("cache_creation_input_token_cost{suffix}"))?,
                |r| r.cache_write_5m,
            ),
            cache_write_1h: or(
                self.price(&format!("cache_creation_input_token_cost{hour_suffix}"))?,
                |r| r.cache_write_1h,
            ),
        }))
    }

    /// A per-token price as USD per million tokens, rounded to 10⁻⁹ (far below a micro-dollar
    /// on any call) so that `3e-06` reads back as `3`.
    fn price(&self, field: &str) -> Result<Option<f64>, LitellmEntryError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(p) if p.is_finite() && p >= 0.0 => Ok(Some((p * 1e15).round() / 1e9)),
                _ => Err(self.bad(field, v, "a price per token, a number >= 0")),
            },
        }
    }

    fn tokens(&self, field: &'static str) -> Result<Option<u32>, LitellmEntryError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64().or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }) {
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| self.bad(field, v, "a number of tokens below 2^32")),
                None => Err(self.bad(field, v, "a whole number of tokens")),
            },
        }
    }

    fn flag(&self, field: &'static str) -> Result<Option<bool>, LitellmEntryError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.bad(field, v, "true or false")),
        }
    }

    fn missing(&self, field: &'static str) -> LitellmEntryError {
        LitellmEntryError::Missing {
            key: self.key.to_owned(),
            field,
        }
    }

    fn bad(&self, field: &str, found: &Value, expected: &'static str) -> LitellmEntryError {
        LitellmEntryError::BadValue {
            key: self.key.to_owned(),
            field: field.to_owned(),
            found: short(found),
            expected,
        }
    }
}

/// A value as JSON, at most 40 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}
