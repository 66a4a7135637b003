//! `taskroute`: evaluate routing policies on recorded outcomes, and route one task.
//!
//! ```text
//! taskroute eval --outcomes ../shared/data/routerbench/outcomes.csv \
//!     --prompts ../shared/data/routerbench/prompts.jsonl --prices ../shared/data/prices.csv \
//!     --json report.json --plot curves.svg
//! taskroute route --task '{"kind": "planning", "input_tokens": 3000}'
//! ```
//!
//! Exit codes: 0 success, 1 a runtime error (bad file, bad data: the message names it), 2 a usage
//! error (reported by clap).
//!
//! Each subcommand lives in its own module with an `Args` struct (clap) and a `run` function;
//! adding one (e.g. `taskroute train`) is a new module plus one variant of [`Command`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog;
mod classify;
mod data;
mod estimator;
mod eval;
mod experiment;
mod learn;
mod plot;
mod request;
mod route;

/// Task-to-model routing: offline evaluation of policies, and explained routing decisions.
#[derive(Debug, Parser)]
#[command(name = "taskroute", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay routing policies on recorded outcomes; print AIQ, savings and baselines.
    Eval(Box<eval::Args>),
    /// Label prompts with their task kind; accuracy and a confusion matrix when labels are given.
    Classify(classify::Args),
    /// Import LiteLLM's price map into a catalog file, or diff two catalogs.
    Catalog(catalog::Args),
    /// Route one task against a catalog and print the explained decision.
    Route(route::Args),
    /// Train a learned quality estimator on recorded outcomes and prompts; save it to a file.
    Train(Box<learn::TrainArgs>),
    /// Write the train and test parts of an outcome table to two files.
    Split(learn::SplitArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval::run(&args),
        Command::Classify(args) => classify::run(&args),
        Command::Catalog(args) => catalog::run(&args),
        Command::Route(args) => route::run(&args),
        Command::Train(args) => learn::train(&args),
        Command::Split(args) => learn::split(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(1)
        }
    }
}

/// The CLI's error: a message for people, with an optional cause.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CliError {
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

macro_rules! from_error {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::msg(e.to_string())
            }
        }
    )*};
}
from_error!(
    taskroute::eval::EvalError,
    taskroute::Error,
    taskroute::CatalogError,
    taskroute::request::ClassifierError,
    serde_json::Error
);

impl CliError {
    pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self {
            message: format!("cannot {what} {}", path.display()),
            source: Some(Box::new(e)),
        }
    }
}
