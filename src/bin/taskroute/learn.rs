//! `taskroute train` (fit a learned quality estimator and save it) and `taskroute split` (write
//! the train and test parts of an outcome table to separate files).
//!
//! ```text
//! taskroute split --outcomes ../shared/data/routerbench/outcomes.csv --test 0.3 --seed 42 \
//!     --train-out rb-train.csv --test-out rb-test.csv
//! taskroute train --outcomes rb-train.csv --prompts ../shared/data/routerbench/prompts.jsonl \
//!     --out est.json
//! taskroute eval --outcomes rb-test.csv --prompts ../shared/data/routerbench/prompts.jsonl \
//!     --prices ../shared/data/prices.csv --estimator est.json --split none
//! ```

use std::path::PathBuf;
use std::time::Instant;

use taskroute::eval::Split;
use taskroute::learn::{FeatureConfig, LearnedEstimator, Learner, SelectConfig, TrainConfig};

use crate::data::DataArgs;
use crate::{CliError, estimator, eval};

impl From<taskroute::learn::LearnError> for CliError {
    fn from(e: taskroute::learn::LearnError) -> Self {
        CliError::msg(e.to_string())
    }
}

/// Train a learned quality estimator on recorded outcomes and prompt texts.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --prompts the estimator learns per-kind priors only; --prices also \
reads each answer's output tokens from its recorded cost (what output lengths learn from)."
)]
pub(crate) struct TrainArgs {
    /// The training data.
    #[command(flatten)]
    data: DataArgs,
    /// The learner. `auto` (the default) chooses among the per-kind prior and --learners, with
    /// --shrinks and --ks, by k-fold cross-validation on this file only, and keeps the prior
    /// unless a learner beats it by more than the noise; the figures are printed and saved.
    #[arg(long, value_enum, default_value_t = LearnerName::Auto)]
    learner: LearnerName,
    /// `--learner auto`: learners tried beside the prior. kNN and the ensemble (which contains
    /// kNN) are left out by default: their estimates miss the 20 µs budget.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "logreg,irt")]
    learners: Vec<LearnerName>,
    /// `--learner auto`: shrinkage values tried.
    #[arg(long, value_delimiter = ',', default_value = "0,0.3,0.6")]
    shrinks: Vec<f64>,
    /// `--learner auto`: neighbour counts tried for knn and ensemble.
    #[arg(long, value_delimiter = ',', default_value = "40")]
    ks: Vec<usize>,
    /// `--learner auto`: cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// `--learner auto`: bootstrap resamples of the noise test.
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// `--learner auto`: error rate of the noise test (Bonferroni-adjusted over the candidates).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// A fixed learner's share of each estimate taken from the per-kind prior, in [0, 1].
    #[arg(long, default_value_t = 0.3)]
    shrink: f64,
    /// Seed of the optimiser.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Passes over the data (logreg, irt).
    #[arg(long, default_value_t = 6)]
    epochs: u32,
    /// Neighbours (knn).
    #[arg(long, default_value_t = 40)]
    k: usize,
    /// Hash buckets are 2^BITS.
    #[arg(long, default_value_t = 16)]
    hash_bits: u8,
    /// kNN searches only training prompts of the query's task kind (about 3x faster on
    /// RouterBench, same held-out quality; see docs/evaluation.md).
    #[arg(long)]
    knn_by_kind: bool,
    /// Dimensions of the matrix factorisation (mf).
    #[arg(long, default_value_t = 8)]
    rank: usize,
    /// How the estimator predicts each model's output tokens (hence cost): `auto` (the default)
    /// cross-validates `kind` and `text` against predicting none and keeps one only when it
    /// routes better by more than the noise (needs --prices, or recorded output tokens);
    /// `task` predicts none; `kind` and `text` are trained as given.
    #[arg(long, value_name = "auto|task|kind|text", default_value = "auto")]
    lengths: String,
    /// Where to write the estimator (versioned JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LearnerName {
    Auto,
    Prior,
    Logreg,
    Knn,
    Irt,
    Ensemble,
    Mf,
}

impl LearnerName {
    /// `None` for `auto`.
    fn learner(self) -> Option<Learner> {
        Some(match self {
            LearnerName::Auto => return None,
            LearnerName::Prior => Learner::Prior,
            LearnerName::Logreg => Learner::LogReg,
            LearnerName::Knn => Learner::Knn,
            LearnerName::Irt => Learner::Irt,
            LearnerName::Ensemble => Learner::Ensemble,
            LearnerName::Mf => Learner::Mf,
        })
    }
}

/// Write the train and test parts of a wide CSV outcome table to two files (seeded split, the
/// same permutation as `taskroute eval --split seed=N,test=F`).
#[derive(Debug, clap::Args)]
pub(crate) struct SplitArgs {
    /// The outcome table (a CSV with one row per prompt).
    #[arg(long, value_name = "FILE")]
    outcomes: PathBuf,
    /// Share of prompts in the test part, in (0, 1).
    #[arg(long, default_value_t = 0.3)]
    test: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the training rows.
    #[arg(long, value_name = "FILE")]
    train_out: PathBuf,
    /// Where to write the test rows.
    #[arg(long, value_name = "FILE")]
    test_out: PathBuf,
}

pub(crate) fn train(args: &TrainArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let (data, prices) = args.data.load()?;
    let set = estimator::training_set(&data, prices.as_ref())?;
    let with_text = (0..data.prompts()).filter(|&p| data.text(p).is_some()).count();
    let lengths = match args.lengths.as_str() {
        "auto" => None,
        name => Some(eval::parse_lengths(name).map_err(|e| CliError::msg(format!("--lengths {e} or auto")))?),
    };
    let config = TrainConfig::new(args.learner.learner().unwrap_or(Learner::Prior))
        .with_shrink(args.shrink)
        .with_seed(args.seed)
        .with_epochs(args.epochs)
        .with_k(args.k)
        .with_knn_by_kind(args.knn_by_kind)
        .with_rank(args.rank)
        .with_features(FeatureConfig::default().with_hash_bits(args.hash_bits));
    let t0 = Instant::now();
    let est = match args.learner.learner() {
        Some(_) => LearnedEstimator::train(&set, &config.with_lengths(lengths.unwrap_or_default()))?,
        None => {
            let mut select = SelectConfig::new()
                .with_base(config)
                .with_learners(args.learners.iter().filter_map(|l| l.learner()))
                .with_shrinks(args.shrinks.iter().copied())
                .with_ks(args.ks.iter().copied())
                .with_folds(args.folds)
                .with_resamples(args.resamples)
                .with_alpha(args.alpha)
                .with_seed(args.seed);
            if let Some(l) = lengths {
                // A fixed setting: not cross-validated, trained as given.
                select = select.with_lengths([]);
                select.base = select.base.clone().with_lengths(l);
            }
            LearnedEstimator::fit(&set, &select)?
        }
    };
    let train_s = t0.elapsed().as_secs_f64();
    let config = est.config();
    est.save(&args.out)?;
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "trained `{}` on {} prompts ({with_text} with text) x {} models from {} in {train_s:.2} s",
        config.learner,
        set.len(),
        set.models().len(),
        args.data.outcomes.display()
    );
    if let Some(cv) = est.cv_report() {
        println!("{cv}");
        if cv.kept_prior() {
            println!("saved the per-kind prior: no learner beat it by more than the CV noise");
        } else {
            println!(
                "saved `{}` with shrink {}: it beat the prior by more than the CV noise",
                config.learner, config.shrink
            );
        }
    }
    println!(
        "output lengths (each model's expected cost): `{}`{}",
        config.lengths,
        if est.predicts_lengths() {
            ""
        } else {
            " (none predicted: the task's own estimate)"
        }
    );
    println!(
        "wrote {} ({:.1} KiB; total {:.2} s)",
        args.out.display(),
        bytes as f64 / 1024.0,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) fn split(args: &SplitArgs) -> Result<(), CliError> {
    let path = &args.outcomes;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))?;
    let header = reader
        .byte_headers()
        .map_err(|e| CliError::msg(format!("{}: {e}", path.display())))?
        .clone();
    let mut rows = Vec::new();
    for (i, r) in reader.byte_records().enumerate() {
        rows.push(r.map_err(|e| CliError::msg(format!("{}: row {}: {e}", path.display(), i + 2)))?);
    }
    let s = Split::seeded(rows.len(), args.test, args.seed)?;
    for (out, idx) in [(&args.train_out, &s.train), (&args.test_out, &s.test)] {
        let mut w = csv::Writer::from_path(out)
            .map_err(|e| CliError::msg(format!("cannot write {}: {e}", out.display())))?;
        let werr = |e: csv::Error| CliError::msg(format!("cannot write {}: {e}", out.display()));
        w.write_byte_record(&header).map_err(werr)?;
        for &i in idx {
            w.write_byte_record(&rows[i]).map_err(werr)?;
        }
        w.flush().map_err(|e| CliError::io("write", out, e))?;
    }
    println!(
        "{}: {} rows -> {} train rows in {}, {} test rows in {} (seed {}, test {})",
        path.display(),
        rows.len(),
        s.train.len(),
        args.train_out.display(),
        s.test.len(),
        args.test_out.display(),
        args.seed,
        args.test
    );
    Ok(())
}
