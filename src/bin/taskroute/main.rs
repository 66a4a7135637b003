//! The `taskroute` command-line tool (being built: `eval` and `route` subcommands).
fn main() {}
