//! The shared data folder with the RouterBench table, for the tests and benches that read it
//! (`mod shared_data;`, or `#[path = "../tests/shared_data/mod.rs"] mod shared_data;` from
//! benches/).

use std::path::PathBuf;

/// `TASKROUTE_DATA_DIR` (default `../shared/data` beside the crate) when it holds
/// `routerbench/outcomes.csv`; `None`, after saying the caller is skipped, when it does not.
pub(crate) fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("TASKROUTE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
    if dir.join("routerbench/outcomes.csv").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: shared data not found at {} (set TASKROUTE_DATA_DIR)",
            dir.display()
        );
        None
    }
}
