//! Every `tracing` event of a test binary, captured in memory as text.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex};

/// What the capturing subscriber wrote.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs a process-wide `fmt` subscriber at `level` that writes into the returned [`Logs`].
///
/// Process-wide, not thread-scoped: tracing caches each call site's interest globally, and a
/// call site first reached by a parallel test while only a scoped subscriber existed elsewhere
/// could be cached as "never" (which made a test flaky). So one test per binary calls this, and
/// the events of the tests running beside it land in the same buffer.
pub fn capture(level: tracing::Level) -> Logs {
    install(level, false)
}

/// [`capture`], with `log` records (reqwest's, for one) captured as events too.
pub fn capture_with_log(level: tracing::Level) -> Logs {
    install(level, true)
}

fn install(level: tracing::Level, bridge_log: bool) -> Logs {
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = Logs::default();
    let writer = logs.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let installed = if bridge_log {
        sub.try_init().is_ok()
    } else {
        tracing::subscriber::set_global_default(sub).is_ok()
    };
    assert!(installed, "one test per binary installs the subscriber");
    logs
}
