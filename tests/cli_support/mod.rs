//! Running the `taskroute` binary from the CLI tests (`mod cli_support;`).
#![allow(dead_code)] // each test file uses some of it

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `taskroute` binary, to add arguments to.
pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_taskroute"))
}

/// A finished run's stdout and stderr, as text.
pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `taskroute` with `args`: whether it succeeded, its stdout and its stderr.
pub(crate) fn taskroute(args: &[&str]) -> (bool, String, String) {
    let o = bin().args(args).output().unwrap();
    let (out, err) = text(&o);
    (o.status.success(), out, err)
}

/// Writes `contents` to `name` in the test's scratch directory `dir` and returns its path.
pub(crate) fn scratch(dir: &str, name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}
