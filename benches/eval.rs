//! Replay throughput benchmark (filled in with the replay module).
fn main() {}
