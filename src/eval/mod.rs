//! Offline evaluation (feature `eval`): replay routing policies on recorded outcomes.
//!
//! - [`data`]: [`Outcomes`], a compact column-wise table of what each model achieved and cost on
//!   each prompt, read from the RouterBench "wide" layout or a "long" layout (CSV or JSONL), with
//!   prompt texts joined from a JSONL file; seeded, by-label and k-fold [`Split`]s.
//!
//! Every loader validates everything before returning: a malformed file gives an [`EvalError`]
//! naming the file, line and column and what was expected, and nothing half-loaded is returned.
//!
//! ```no_run
//! use taskroute::eval::{Outcomes, PromptJoin, Split};
//! let data = Outcomes::read_wide_csv("../shared/data/routerbench/outcomes.csv")?
//!     .with_prompts_jsonl(&PromptJoin::routerbench("../shared/data/routerbench"))?;
//! let split = Split::seeded(data.prompts(), 0.3, 42)?;
//! let (train, test) = (data.subset(&split.train), data.subset(&split.test));
//! println!("{} train, {} test prompts, {} models", train.prompts(), test.prompts(), data.models().len());
//! # Ok::<(), taskroute::eval::EvalError>(())
//! ```

pub mod data;
mod error;
pub mod metrics;
pub mod replay;

pub use data::{LoadOptions, Outcomes, PriceTable, PromptJoin, Split, WideOptions, kind_for_label};
pub use error::EvalError;
pub use metrics::Point;
pub use replay::{
    Baselines, Builtin, Calibration, Curve, KindSource, Replay, ReplayBuilder, ReplayTask, Scratch,
    StaticQuality, Summary, Target,
};
