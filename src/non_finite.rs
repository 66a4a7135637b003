//! Serde for `f64` fields that may hold NaN or an infinity (a candidate without a quality
//! estimate has a NaN quality; one without a latency estimate an infinite latency). Finite
//! values are written as numbers; the others as the strings `"NaN"`, `"inf"` and `"-inf"`,
//! because JSON has no number for them (serde_json would write `null` and refuse to read it
//! back). Reading accepts both forms.
//!
//! A leaf module: estimates, scores and rejections use it.

use std::fmt;

use serde::{Deserializer, Serializer, de};

pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        v if v.is_finite() => s.serialize_f64(v),
        v if v.is_nan() => s.serialize_str("NaN"),
        v if v > 0.0 => s.serialize_str("inf"),
        _ => s.serialize_str("-inf"),
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(F64OrName)
}

struct F64OrName;

impl de::Visitor<'_> for F64OrName {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a number, "NaN", "inf" or "-inf""#)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}
