//! Offline evaluation (feature `eval`): replay routing policies on recorded outcomes.
//!
//! - [`data`]: [`Outcomes`], a compact column-wise table of what each model achieved and cost on
//!   each prompt, read from the RouterBench "wide" layout or a "long" layout (CSV or JSONL), with
//!   prompt texts joined from a JSONL file; seeded, by-label and k-fold [`Split`]s.
//! - [`replay`]: [`Replay`] runs any [`Policy`](crate::Policy) through the real
//!   [`Router`](crate::Router) over every prompt; [`Replay::sweep`] sweeps a knob into a
//!   [`Curve`] and [`Replay::calibrate`] calibrates a knob to a [`Target`] (file `sweep.rs`);
//!   [`Baselines`] are the single models, zero router, oracle and random router;
//!   [`StaticQuality`] is the per-task-kind (or per-label) estimator fitted on a training split.
//! - [`metrics`]: AIQ, PGR/APGR/CPT, savings at parity, quality at a budget (formulas in
//!   `docs/metrics.md`).
//!
//! Every loader validates everything before returning: a malformed file gives an [`EvalError`]
//! naming the file, line and column and what was expected, and nothing half-loaded is returned.
//!
//! ```no_run
//! use taskroute::eval::{metrics, Baselines, Builtin, KindSource, Outcomes, PromptJoin, Replay, Split, StaticQuality};
//! let data = Outcomes::read_wide_csv("../shared/data/routerbench/outcomes.csv")?
//!     .with_prompts_jsonl(&PromptJoin::routerbench("../shared/data/routerbench"))?;
//! let split = Split::seeded(data.prompts(), 0.3, 42)?;
//! let (train, test) = (data.subset(&split.train), data.subset(&split.test));
//! let replay = Replay::builder()
//!     .estimator(StaticQuality::fit(&train, KindSource::Kind))
//!     .output_tokens_from(&train)
//!     .build(&test)?;
//! let curve = replay.sweep_builtin(Builtin::CostFirst, 101)?;
//! let best = Baselines::compute(&test, 42);
//! let reference = best.singles[best.best_single].point();
//! println!("AIQ {:?}", metrics::aiq(&curve.points(), reference.cost));
//! # Ok::<(), taskroute::eval::EvalError>(())
//! ```

mod baselines;
pub mod data;
mod error;
pub mod metrics;
pub mod replay;
mod static_quality;
mod sweep;

pub use baselines::Baselines;
pub use data::{LoadOptions, Outcomes, PriceTable, PromptJoin, Split, kind_for_label};
pub use error::EvalError;
pub use metrics::Point;
pub use replay::{Replay, ReplayBuilder, ReplayTask, Scratch, Summary};
pub use static_quality::{KindSource, StaticQuality};
pub use sweep::{Builtin, Calibration, Curve, Target};
