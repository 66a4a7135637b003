//! Placeholder: the routing benchmark lands with the core benches.
fn main() {}
