//! `taskroute route`: one task against a catalog, the decision explained.

use std::path::PathBuf;

use taskroute::{Catalog, CostFirst, Policy, QualityFirst, Router, TaskSpec, Weighted};

use crate::CliError;

/// Models retiring within this many days are warned about.
const RETIREMENT_WARNING_DAYS: i64 = 30;

/// Route one task and print the explained decision.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Catalog file (JSON or TOML) laid over the built-in catalog; the built-in one alone if absent.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Use only the models of --catalog, not the built-in ones.
    #[arg(long, requires = "catalog")]
    no_builtin: bool,
    /// The task as JSON (a TaskSpec: {"kind": "planning", "input_tokens": 3000, ...}), or @FILE.
    #[arg(
        long,
        value_name = "JSON",
        required_unless_present = "request",
        conflicts_with = "request"
    )]
    task: Option<String>,
    /// An OpenAI Chat Completions request body (JSON file): the task is derived from it
    /// (`TaskSpec::from_request`: capabilities, tokens, expected output, kind).
    #[arg(long, value_name = "FILE")]
    request: Option<PathBuf>,
    /// The policy and its knob: cost-first[:FLOOR], quality-first[:CEILING_USD], weighted[:COST_WEIGHT].
    #[arg(long, default_value = "cost-first:0.7", value_name = "POLICY")]
    policy: String,
    /// Print the decision as JSON instead of the explanation.
    #[arg(long)]
    json: bool,
    /// Reject models retired by today (see --today).
    #[arg(long)]
    exclude_retired: bool,
    /// Today's date for retirement warnings and --exclude-retired (default: the UTC date now).
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<taskroute::Date>,
}

/// Parses `name[:knob]`.
pub(crate) fn parse_policy(spec: &str) -> Result<Box<dyn Policy>, CliError> {
    let (name, knob) = match spec.split_once(':') {
        Some((n, k)) => {
            let v: f64 = k
                .parse()
                .map_err(|_| CliError::msg(format!("policy `{spec}`: `{k}` is not a number")))?;
            (n, Some(v))
        }
        None => (spec, None),
    };
    Ok(match name {
        "cost-first" => Box::new(CostFirst::new(knob.unwrap_or(0.7))?),
        "quality-first" => Box::new(match knob {
            Some(c) => QualityFirst::new(c)?,
            None => QualityFirst::unbounded(),
        }),
        "weighted" => Box::new(Weighted::new(knob.unwrap_or(100.0))?),
        other => {
            return Err(CliError::msg(format!(
                "unknown policy `{other}`: expected cost-first, quality-first or weighted"
            )));
        }
    })
}

fn parse_task(arg: &str) -> Result<TaskSpec, CliError> {
    let text = match arg.strip_prefix('@') {
        Some(path) => {
            let p = PathBuf::from(path);
            std::fs::read_to_string(&p).map_err(|e| CliError::io("read task file", &p, e))?
        }
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| CliError::msg(format!("--task: not a valid task: {e}")))
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    let catalog = match (&args.catalog, args.no_builtin) {
        (Some(p), true) => Catalog::from_path(p)?,
        (Some(p), false) => Catalog::builtin().overlay_path(p)?,
        (None, _) => Catalog::builtin(),
    };
    let task = match (&args.task, &args.request) {
        (_, Some(path)) => crate::request::task_from_file(path)?,
        (Some(task), None) => parse_task(task)?,
        (None, None) => return Err(CliError::msg("give --task or --request")),
    };
    let policy = parse_policy(&args.policy)?;
    let today = args
        .today
        .unwrap_or_else(|| taskroute::Date::from_system_time(std::time::SystemTime::now()));
    for w in catalog.retirement_warnings(today, RETIREMENT_WARNING_DAYS) {
        eprintln!("{w}");
    }
    let mut builder = Router::builder().models(catalog.into_models());
    if args.exclude_retired {
        builder = builder.exclude_retired(today);
    }
    let router = builder.build()?;
    let mut decision = taskroute::Decision::new();
    let routed = router.route_with(&task, &*policy, &mut decision);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{}", decision.explain());
    }
    routed.map_err(CliError::from)
}
