//! What the router knows about a model: [`Model`], and the ready-made [`ModelSpec`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use derive_setters::Setters;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::capability::{Capabilities, Capability};
use crate::date::Date;
pub use crate::id::{ModelId, Tag};
use crate::kind::TaskKind;
use crate::non_negative::non_negative;
pub use crate::prices::Prices;

/// Published or measured latency of a model: time to first token and output speed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LatencyProfile {
    /// Median time to first token, in milliseconds.
    #[serde(deserialize_with = "non_negative")]
    pub ttft_ms: f64,
    /// Median output speed, in tokens per second (must be positive).
    #[serde(deserialize_with = "positive")]
    pub output_tokens_per_sec: f64,
}

impl LatencyProfile {
    /// A profile from time to first token (ms) and output speed (tokens/s).
    pub const fn new(ttft_ms: f64, output_tokens_per_sec: f64) -> Self {
        Self {
            ttft_ms,
            output_tokens_per_sec,
        }
    }

    /// Expected wall time in milliseconds to produce `output_tokens` tokens: the time to first
    /// token plus the tokens at the profile's milliseconds per token. For 0 tokens it is the
    /// time to first token at any positive speed, however small.
    pub fn latency_ms(&self, output_tokens: u32) -> f64 {
        self.ttft_ms + f64::from(output_tokens) * self.ms_per_output_token()
    }

    /// Milliseconds per output token. (A prepared estimator keeps it per model, so that a
    /// decision multiplies rather than divides: a division per model was several per cent of
    /// a 16-model decision's time.)
    ///
    /// Held to the finite range: a speed below about 5.6e-306 tokens/s would make it infinite,
    /// and 0 output tokens times infinity is NaN, where `ttft + 0 * 1000 / speed` is the time
    /// to first token. (One token at such a speed is `f64::MAX` ms, more is infinite; a NaN
    /// speed stays NaN.)
    pub(crate) fn ms_per_output_token(&self) -> f64 {
        (1000.0 / self.output_tokens_per_sec).clamp(f64::MIN, f64::MAX)
    }
}

/// Per-task-kind quality priors of a model, each in `[0, 1]` (expected share of tasks of that
/// kind done right).
///
/// Lookups for the built-in kinds are an array index; custom kinds are a short linear scan; a
/// lookup never allocates. Serialized as a map from kind name to value; the key `"default"` is
/// the fallback for kinds without their own prior.
#[derive(Clone, Default, PartialEq)]
pub struct QualityPriors {
    builtin: [Option<f64>; TaskKind::BUILTIN_COUNT],
    custom: Vec<(Arc<str>, f64)>,
    default: Option<f64>,
}

impl QualityPriors {
    /// No priors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the prior for `kind`.
    pub fn set(&mut self, kind: &TaskKind, quality: f64) {
        match kind.builtin_index() {
            Some(i) => self.builtin[i] = Some(quality),
            None => {
                let name = kind.name();
                match self.custom.iter_mut().find(|(k, _)| &**k == name) {
                    Some(slot) => slot.1 = quality,
                    None => self.custom.push((Arc::from(name), quality)),
                }
            }
        }
    }

    /// Sets the fallback prior used for kinds without their own.
    pub fn set_default(&mut self, quality: f64) {
        self.default = Some(quality);
    }

    /// The prior for `kind` itself, without falling back to the default.
    pub fn get_exact(&self, kind: &TaskKind) -> Option<f64> {
        match kind.builtin_index() {
            Some(i) => self.builtin[i],
            None => {
                let name = kind.name();
                self.custom.iter().find(|(k, _)| &**k == name).map(|(_, q)| *q)
            }
        }
    }

    /// The prior for `kind`, else the default prior, else the mean of the priors there are.
    pub fn get(&self, kind: &TaskKind) -> Option<f64> {
        self.get_exact(kind).or(self.default).or_else(|| self.mean())
    }

    /// The default prior, if set.
    pub fn default_prior(&self) -> Option<f64> {
        self.default
    }

    /// Mean of all priors set (built-in and custom kinds), if any.
    pub fn mean(&self) -> Option<f64> {
        let (sum, n) = self.iter().fold((0.0, 0u32), |(s, n), (_, q)| (s + q, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    }

    /// Every (kind, prior) pair set, built-in kinds first.
    pub fn iter(&self) -> impl Iterator<Item = (TaskKind, f64)> + '_ {
        let builtin = self
            .builtin
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.map(|q| (TaskKind::BUILTIN[i].clone(), q)));
        let custom = self.custom.iter().map(|(k, q)| (TaskKind::Custom(k.clone()), *q));
        builtin.chain(custom)
    }

    /// Whether no prior is set.
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.builtin.iter().all(Option::is_none) && self.custom.is_empty()
    }
}

impl fmt::Debug for QualityPriors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, q) in self.iter() {
            m.entry(&k.name().to_owned(), &q);
        }
        if let Some(d) = self.default {
            m.entry(&"default", &d);
        }
        m.finish()
    }
}

impl Serialize for QualityPriors {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map: BTreeMap<String, f64> = self.iter().map(|(k, q)| (k.name().to_owned(), q)).collect();
        if let Some(d) = self.default {
            map.insert("default".to_owned(), d);
        }
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for QualityPriors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, f64>::deserialize(d)?;
        let mut priors = QualityPriors::new();
        for (k, q) in map {
            if !(0.0..=1.0).contains(&q) {
                return Err(serde::de::Error::custom(format_args!(
                    "quality prior for `{k}` is {q}; expected a number in [0, 1]"
                )));
            }
            if k == "default" {
                priors.set_default(q);
            } else {
                priors.set(&TaskKind::from_name(&k), q);
            }
        }
        Ok(priors)
    }
}

/// What the router needs to know about a model.
///
/// [`ModelSpec`] is the ready-made implementation; implement this trait on your own model type
/// and the router takes a snapshot of it ([`ModelSpec::from_model`]) when it is built.
pub trait Model {
    /// The model's id.
    fn id(&self) -> &ModelId;
    /// Prices per million tokens.
    fn prices(&self) -> Prices;
    /// Context window in tokens (input plus output).
    fn context_window(&self) -> u32;
    /// The provider that serves it (`"openai"`, `"anthropic"`, `"bedrock"`, ...).
    fn provider(&self) -> &str {
        ""
    }
    /// Largest number of output tokens per call; defaults to the context window.
    fn max_output_tokens(&self) -> u32 {
        self.context_window()
    }
    /// What the model can do.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }
    /// Labels such as region or data policy.
    fn tags(&self) -> &[Tag] {
        &[]
    }
    /// Typical latency, where known.
    fn latency(&self) -> Option<LatencyProfile> {
        None
    }
    /// Quality priors per task kind.
    fn quality_priors(&self) -> QualityPriors {
        QualityPriors::new()
    }
}

/// The ready-made, serde-loadable [`Model`]: one catalog entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Setters)]
#[setters(prefix = "with_", generate = false)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ModelSpec {
    /// Unique id the router and decisions use.
    pub id: ModelId,
    /// Provider that serves the model (`"openai"`, `"anthropic"`, `"bedrock"`, ...).
    pub provider: String,
    /// The name to send to the provider's API, where it differs from `id`
    /// (a Bedrock model id such as `"anthropic.claude-sonnet-4-5-20250929-v1:0"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option, into)]
    pub api_name: Option<String>,
    /// Prices in USD per million tokens.
    pub prices: Prices,
    /// Context window in tokens (input plus output).
    pub context_window: u32,
    /// Largest number of output tokens per call.
    #[setters(generate)]
    pub max_output_tokens: u32,
    /// What the model can do.
    #[serde(default)]
    #[setters(generate)]
    pub capabilities: Capabilities,
    /// Labels such as region or data policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Typical latency, where published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option)]
    pub latency: Option<LatencyProfile>,
    /// Quality priors per task kind, in `[0, 1]`.
    #[serde(default)]
    pub quality: QualityPriors,
    /// Where the prices, limits and priors come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The date (`YYYY-MM-DD`) the entry was checked against its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The date the provider retires the model (stops serving it), where announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[setters(generate, strip_option, rename = "with_retirement")]
    pub retires: Option<Date>,
}

impl ModelSpec {
    /// A model with an id, provider, prices and context window; everything else empty.
    /// `max_output_tokens` starts equal to the context window.
    pub fn new(
        id: impl Into<ModelId>,
        provider: impl Into<String>,
        prices: Prices,
        context_window: u32,
    ) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            api_name: None,
            prices,
            context_window,
            max_output_tokens: context_window,
            capabilities: Capabilities::NONE,
            tags: Vec::new(),
            latency: None,
            quality: QualityPriors::new(),
            source: None,
            as_of: None,
            retires: None,
        }
    }

    /// A snapshot of any [`Model`].
    pub fn from_model<M: Model + ?Sized>(m: &M) -> Self {
        Self {
            id: m.id().clone(),
            provider: m.provider().to_owned(),
            api_name: None,
            prices: m.prices(),
            context_window: m.context_window(),
            max_output_tokens: m.max_output_tokens(),
            capabilities: m.capabilities(),
            tags: m.tags().to_vec(),
            latency: m.latency(),
            quality: m.quality_priors(),
            source: None,
            as_of: None,
            retires: None,
        }
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: impl Into<Tag>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the quality prior for one task kind.
    pub fn with_quality(mut self, kind: TaskKind, quality: f64) -> Self {
        self.quality.set(&kind, quality);
        self
    }

    /// Sets the fallback quality prior for kinds without their own.
    pub fn with_default_quality(mut self, quality: f64) -> Self {
        self.quality.set_default(quality);
        self
    }

    /// Whether the model is retired on `today` (its retirement date is on or before it).
    pub fn is_retired(&self, today: Date) -> bool {
        self.retires.is_some_and(|r| r <= today)
    }

    /// The name to send to the provider: `api_name` where set, else the id.
    pub fn api_name(&self) -> &str {
        self.api_name.as_deref().unwrap_or(self.id.as_str())
    }

    /// Whether the model carries `tag`.
    pub fn has_tag(&self, tag: &Tag) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Checks every number: prices finite and non-negative, windows positive, latency finite and
    /// speed positive, priors in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) naming the first bad field.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let field = |name: &str| format!("models[{}].{name}", self.id);
        let check = |name: &str, v: f64, ok: bool, expected: &'static str| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(crate::Error::invalid(field(name), v, expected))
            }
        };
        if self.id.as_str().is_empty() {
            return Err(crate::Error::invalid("models[].id", "", "a non-empty id"));
        }
        for (list, rates) in self.prices.lists() {
            for (name, v) in rates.named() {
                if let Some(v) = v {
                    check(
                        &format!("prices.{list}{name}"),
                        v,
                        v >= 0.0,
                        "a finite price >= 0",
                    )?;
                }
            }
        }
        if let Some(t) = self.prices.long_context()
            && t.above_input_tokens == 0
        {
            return Err(crate::Error::invalid(
                field("prices.long_context.above_input_tokens"),
                "0",
                "a positive number of tokens",
            ));
        }
        if self.context_window == 0 {
            return Err(crate::Error::invalid(
                field("context_window"),
                "0",
                "a positive number of tokens",
            ));
        }
        if let Some(l) = self.latency {
            check(
                "latency.ttft_ms",
                l.ttft_ms,
                l.ttft_ms >= 0.0,
                "a finite time >= 0",
            )?;
            check(
                "latency.output_tokens_per_sec",
                l.output_tokens_per_sec,
                l.output_tokens_per_sec > 0.0,
                "a finite speed > 0",
            )?;
        }
        for (k, q) in self.quality.iter() {
            check(
                &format!("quality.{}", k.name()),
                q,
                (0.0..=1.0).contains(&q),
                "a number in [0, 1]",
            )?;
        }
        if let Some(d) = self.quality.default_prior() {
            check(
                "quality.default",
                d,
                (0.0..=1.0).contains(&d),
                "a number in [0, 1]",
            )?;
        }
        Ok(())
    }
}

impl Model for ModelSpec {
    fn id(&self) -> &ModelId {
        &self.id
    }
    fn prices(&self) -> Prices {
        self.prices.clone()
    }
    fn context_window(&self) -> u32 {
        self.context_window
    }
    fn provider(&self) -> &str {
        &self.provider
    }
    fn max_output_tokens(&self) -> u32 {
        self.max_output_tokens
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn latency(&self) -> Option<LatencyProfile> {
        self.latency
    }
    fn quality_priors(&self) -> QualityPriors {
        self.quality.clone()
    }
}

macro_rules! forward_model {
    ($($ptr:ty),*) => {$(
        impl<T: Model + ?Sized> Model for $ptr {
            fn id(&self) -> &ModelId {
                (**self).id()
            }
            fn prices(&self) -> Prices {
                (**self).prices()
            }
            fn context_window(&self) -> u32 {
                (**self).context_window()
            }
            fn provider(&self) -> &str {
                (**self).provider()
            }
            fn max_output_tokens(&self) -> u32 {
                (**self).max_output_tokens()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn tags(&self) -> &[Tag] {
                (**self).tags()
            }
            fn latency(&self) -> Option<LatencyProfile> {
                (**self).latency()
            }
            fn quality_priors(&self) -> QualityPriors {
                (**self).quality_priors()
            }
        }
    )*};
}
forward_model!(&T, Box<T>, Arc<T>);

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format_args!(
            "{v} is not allowed here; expected a finite number > 0"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_set_ops_and_serde() {
        let have = Capabilities::of(&[Capability::Tools, Capability::Streaming]);
        let need = Capabilities::of(&[Capability::Tools, Capability::Vision]);
        assert!(!have.contains_all(need));
        assert_eq!(have.missing_from(need), Capabilities::of(&[Capability::Vision]));
        let json = serde_json::to_string(&have).unwrap();
        assert_eq!(json, r#"["tools","streaming"]"#);
        let back: Capabilities = serde_json::from_str(&json).unwrap();
        assert_eq!(back, have);
        assert!(serde_json::from_str::<Capabilities>(r#"["telepathy"]"#).is_err());
    }

    #[test]
    fn priors_fall_back_to_default_then_mean() {
        let mut p = QualityPriors::new();
        p.set(&TaskKind::Math, 0.9);
        p.set(&TaskKind::Chat, 0.7);
        assert_eq!(p.get(&TaskKind::Math), Some(0.9));
        assert!((p.get(&TaskKind::Planning).unwrap() - 0.8).abs() < 1e-12);
        p.set_default(0.5);
        assert_eq!(p.get(&TaskKind::Planning), Some(0.5));
        p.set(&TaskKind::from_name("legal"), 0.6);
        assert_eq!(p.get(&TaskKind::from_name("legal")), Some(0.6));
    }

    #[test]
    fn latency_of_no_output_tokens_is_the_time_to_first_token_at_any_speed() {
        // 1000 / 1e-306 overflows: before, 0 tokens x infinite ms per token gave NaN.
        for speed in [1e-306, 5e-324, 60.0] {
            let p = LatencyProfile::new(250.0, speed);
            let before_precomputation = 250.0 + f64::from(0_u32) * 1000.0 / speed;
            assert_eq!(p.latency_ms(0), before_precomputation, "{speed:e} tokens/s");
            assert_eq!(p.latency_ms(0), 250.0, "{speed:e} tokens/s");
        }
        let slow = LatencyProfile::new(250.0, 1e-306);
        assert_eq!(slow.latency_ms(2), f64::INFINITY);
        assert!(slow.latency_ms(1) >= f64::MAX);
        assert!(LatencyProfile::new(250.0, f64::NAN).latency_ms(0).is_nan());
    }

    #[test]
    fn validate_names_the_bad_field() {
        let m = ModelSpec::new("m", "p", Prices::new(f64::NAN, 1.0), 1000);
        let e = m.validate().unwrap_err().to_string();
        assert!(e.contains("models[m].prices.input"), "{e}");
        let m = ModelSpec::new("m", "p", Prices::new(1.0, -1.0), 1000);
        assert!(m.validate().unwrap_err().to_string().contains("prices.output"));
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 0);
        assert!(m.validate().unwrap_err().to_string().contains("context_window"));
        let m = ModelSpec::new("m", "p", Prices::new(1.0, 1.0), 10).with_quality(TaskKind::Chat, 1.5);
        assert!(m.validate().unwrap_err().to_string().contains("quality.chat"));
    }
}
