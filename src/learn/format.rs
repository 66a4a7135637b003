//! The estimator file format: versioned JSON `{"magic", "version", "checksum", "payload"}`.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::estimator::{LearnedEstimator, Payload};
use super::{Corruption, LearnError};

/// The `magic` field of every estimator file.
pub const FORMAT_MAGIC: &str = "taskroute-estimator";
/// The format version this build writes. It also reads version 2 (written before the saved
/// cross-validation figures; such a file loads without them).
pub const FORMAT_VERSION: u32 = 3;

/// A saved file: `{"magic", "version", "checksum", "payload"}`, the checksum being
/// [`checksum`] of the payload's compact JSON. Estimator files and
/// `request::LearnedClassifier` files share it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope<P> {
    pub(crate) magic: String,
    pub(crate) version: u32,
    pub(crate) checksum: String,
    pub(crate) payload: P,
}

impl<P: Serialize> Envelope<P> {
    /// The payload, once the recorded checksum matches the one computed from it (else
    /// `mismatch(recorded, computed)`); `json` maps a failure to serialize the payload again.
    pub(crate) fn checked_payload<E>(
        self,
        json: impl FnOnce(serde_json::Error) -> E,
        mismatch: impl FnOnce(String, String) -> E,
    ) -> Result<P, E> {
        let again = serde_json::to_string(&self.payload).map_err(json)?;
        let computed = checksum(&again);
        if computed == self.checksum {
            Ok(self.payload)
        } else {
            Err(mismatch(self.checksum, computed))
        }
    }
}

/// The checksum of a payload's JSON text: its xxh3-64 in 16 lowercase hex digits.
fn checksum(payload_json: &str) -> String {
    format!("{:016x}", xxh3_64(payload_json.as_bytes()))
}

/// The [`Envelope`] around `payload_json` (the payload already serialized), as JSON.
pub(crate) fn envelope_json(magic: &str, version: u32, payload_json: &str) -> String {
    format!(
        "{{\"magic\":\"{magic}\",\"version\":{version},\"checksum\":\"{}\",\"payload\":{payload_json}}}",
        checksum(payload_json)
    )
}

impl LearnedEstimator {
    /// Writes the estimator as versioned JSON: `{"magic", "version", "checksum", "payload"}`.
    ///
    /// # Errors
    /// [`Corruption::Json`] when the payload cannot be serialized (a number JSON cannot
    /// represent); training and loading never produce one, so this is not expected in practice.
    pub fn to_json(&self) -> Result<String, LearnError> {
        let payload = serde_json::to_string(&self.inner.payload).map_err(json_error)?;
        Ok(envelope_json(FORMAT_MAGIC, FORMAT_VERSION, &payload))
    }

    /// Reads an estimator written by [`to_json`](Self::to_json).
    ///
    /// Memory stays in proportion to `json`'s length until every table's shape has been checked
    /// against the saved settings and model list: weights are kept sparse as read and expanded
    /// only then, and a dense weight matrix above 2^28 values (1 GiB) is refused.
    ///
    /// # Errors
    /// [`LearnError::NotAnEstimatorFile`] without the right `magic`;
    /// [`LearnError::UnsupportedVersion`] for another format version;
    /// [`LearnError::Corrupt`] when it does not parse, the checksum does not match the
    /// payload, or the numbers are inconsistent.
    pub fn from_json(json: &str) -> Result<Self, LearnError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(json_error)?;
        match value.get("magic") {
            Some(serde_json::Value::String(s)) if s == FORMAT_MAGIC => {}
            Some(other) => {
                return Err(LearnError::NotAnEstimatorFile {
                    found: other.to_string(),
                });
            }
            None => {
                return Err(LearnError::NotAnEstimatorFile {
                    found: "no \"magic\" field".into(),
                });
            }
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(FORMAT_VERSION) || v == 2 => {}
            Some(v) => {
                return Err(LearnError::UnsupportedVersion {
                    found: v,
                    supported: FORMAT_VERSION,
                });
            }
            None => return Err(Corruption::MissingVersion.into()),
        }
        let file: Envelope<Payload> = serde_json::from_value(value).map_err(json_error)?;
        let payload = file.checked_payload(json_error, |recorded, computed| {
            Corruption::Checksum { recorded, computed }.into()
        })?;
        Self::from_payload(payload)
    }

    /// Saves to `path` (see [`to_json`](Self::to_json)).
    ///
    /// # Errors
    /// [`LearnError::Io`] when the file cannot be written; as [`to_json`](Self::to_json).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), LearnError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()?).map_err(|e| LearnError::Io {
            action: "write",
            path: path.to_owned(),
            source: Arc::new(e),
        })
    }

    /// Loads from `path` (see [`from_json`](Self::from_json)).
    ///
    /// # Errors
    /// [`LearnError::Io`] when it cannot be read, else as [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LearnError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LearnError::Io {
            action: "read",
            path: path.to_owned(),
            source: Arc::new(e),
        })?;
        Self::from_json(&text)
    }
}

fn json_error(e: serde_json::Error) -> LearnError {
    Corruption::Json { source: Arc::new(e) }.into()
}
