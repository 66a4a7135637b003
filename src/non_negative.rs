//! Serde for prices and latencies that must be finite and not negative. A leaf module: the
//! model and its prices use it.

use serde::{Deserialize, Deserializer};

/// Reads an `f64` that is finite and `>= 0`.
pub(crate) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format_args!(
            "{v} is not allowed here; expected a finite number >= 0"
        )))
    }
}
