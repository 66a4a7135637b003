//! What the unit tests of the header parsers share.

use reqwest::header::HeaderMap;

/// A header map holding `pairs`.
pub(super) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}
