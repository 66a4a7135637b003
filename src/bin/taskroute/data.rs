//! The recorded data `taskroute eval` and `taskroute train` read: the outcome table, the prompt
//! texts and the prices, with the flags both commands share ([`DataArgs`], flattened into each).

use std::path::{Path, PathBuf};

use taskroute::eval::{LoadOptions, Outcomes, PriceTable, PromptJoin};

use crate::CliError;

/// The outcome table, prompt texts and prices a command reads.
#[derive(Debug, clap::Args)]
pub(crate) struct DataArgs {
    /// Outcome table: wide CSV (RouterBench: `score|<model>`, `cost_usd|<model>`), or long CSV/JSONL.
    #[arg(long, value_name = "FILE")]
    pub(crate) outcomes: PathBuf,
    /// JSONL prompt texts joined by id. RouterBench's prompts.jsonl (with fewshot_prefixes.json
    /// beside it) and RouteLLM's gsm8k_prompts.jsonl are recognised; others need --prompt-key
    /// and --prompt-text.
    #[arg(long, value_name = "FILE")]
    pub(crate) prompts: Option<PathBuf>,
    /// The prompts file's key field (overrides the recognised layout).
    #[arg(long, value_name = "FIELD", requires = "prompts")]
    prompt_key: Option<String>,
    /// The prompts file's text field.
    #[arg(long, value_name = "FIELD", requires = "prompts")]
    prompt_text: Option<String>,
    /// Prepended to each key to form the prompt id.
    #[arg(long, value_name = "PREFIX", requires = "prompts")]
    prompt_key_prefix: Option<String>,
    /// Layout of --outcomes: wide, long, or auto (wide for CSV files with `score|`, `correct|` or
    /// `quality|` columns, else long).
    #[arg(long, value_enum, default_value_t = Layout::Auto)]
    layout: Layout,
    /// Prices (CSV: model, input_usd_per_mtok, output_usd_per_mtok): costs for models the table
    /// records none for, candidate prices for the router, and each answer's output tokens read
    /// from its recorded cost (what learned output lengths learn from).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Output tokens assumed where a cost is computed from prices and no answer length is recorded.
    #[arg(long, value_name = "N")]
    output_tokens: Option<u32>,
    /// Input tokens assumed where a cost is computed from prices and no prompt length is recorded.
    #[arg(long, value_name = "N")]
    input_tokens: Option<u32>,
    /// Range of recorded scores, mapped onto [0, 1]: `1,10` for MT-Bench judge scores.
    #[arg(long, value_name = "WORST,BEST")]
    quality_range: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Layout {
    Auto,
    Wide,
    Long,
}

impl DataArgs {
    /// Reads --outcomes (and --prompts, --prices) as the flags say; the prices too, when given.
    pub(crate) fn load(&self) -> Result<(Outcomes, Option<PriceTable>), CliError> {
        let prices = self.prices.as_ref().map(PriceTable::read_csv).transpose()?;
        let mut options = LoadOptions::new();
        if let Some(p) = &prices {
            options = options.prices(p.clone());
        }
        if let Some(n) = self.output_tokens {
            options = options.default_output_tokens(n);
        }
        if let Some(n) = self.input_tokens {
            options = options.default_input_tokens(n);
        }
        if let Some(range) = &self.quality_range {
            let bad = || {
                CliError::msg(format!(
                    "--quality-range `{range}`: expected WORST,BEST (e.g. 1,10)"
                ))
            };
            let (w, b) = range.split_once(',').ok_or_else(bad)?;
            let w: f64 = w.trim().parse().map_err(|_| bad())?;
            let b: f64 = b.trim().parse().map_err(|_| bad())?;
            options = options.quality_range(w, b);
        }
        let mut data = read_outcomes(&self.outcomes, self.layout, &options)?;
        if let Some(path) = &self.prompts {
            let join = prompt_join(
                path,
                self.prompt_key.as_deref(),
                self.prompt_text.as_deref(),
                self.prompt_key_prefix.as_deref(),
            )?;
            data = data.with_prompts_jsonl(&join)?;
        }
        Ok((data, prices))
    }
}

/// Reads an outcome table; [`Layout::Auto`] picks wide for CSV files whose header has a
/// `score|`, `correct|` or `quality|` column.
fn read_outcomes(path: &Path, layout: Layout, options: &LoadOptions) -> Result<Outcomes, CliError> {
    let wide = match layout {
        Layout::Wide => true,
        Layout::Long => false,
        Layout::Auto => {
            let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            is_csv && {
                let first = first_line(path)?;
                ["score|", "correct|", "quality|"]
                    .iter()
                    .any(|p| first.contains(p))
            }
        }
    };
    Ok(if wide {
        Outcomes::read_wide_csv_with(path, options)?
    } else {
        Outcomes::read_long_with(path, options)?
    })
}

fn first_line(path: &Path) -> Result<String, CliError> {
    let f = std::fs::File::open(path).map_err(|e| CliError::io("read", path, e))?;
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first)
        .map_err(|e| CliError::io("read", path, e))?;
    Ok(first)
}

/// The join for the prompts file `path`: RouterBench's layout (with `fewshot_prefixes.json`
/// beside it) or RouteLLM's recognised from the first line, the given fields and key prefix
/// overriding it; other layouts need both fields. Shared by `eval` and `train`, so an estimator
/// is trained on the same prompt texts it is evaluated on.
fn prompt_join(
    path: &Path,
    key: Option<&str>,
    text: Option<&str>,
    key_prefix: Option<&str>,
) -> Result<PromptJoin, CliError> {
    let first = first_line(path)?;
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(first.trim()).map_err(|e| {
            CliError::msg(format!(
                "{}:1: expected a JSON object per line: {e}",
                path.display()
            ))
        })?;
    let has = |k: &str| obj.contains_key(k);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut join = if has("sample_id") && has("query") {
        let prefixes = dir.join("fewshot_prefixes.json");
        let j = PromptJoin::new(path, "sample_id", "query");
        if prefixes.exists() {
            j.fewshot_prefixes(prefixes, "eval_name", "has_fewshot_prefix")
        } else {
            j
        }
    } else if has("row_index") && has("prompt") {
        PromptJoin::new(path, "row_index", "prompt").key_prefix("gsm8k.")
    } else {
        match (key, text) {
            (Some(k), Some(t)) => PromptJoin::new(path, k, t),
            _ => {
                return Err(CliError::msg(format!(
                    "{}: unrecognised prompts layout: give --prompt-key and --prompt-text",
                    path.display()
                )));
            }
        }
    };
    if let Some(k) = key {
        k.clone_into(&mut join.key_field);
    }
    if let Some(t) = text {
        t.clone_into(&mut join.text_field);
    }
    if let Some(p) = key_prefix {
        p.clone_into(&mut join.key_prefix);
    }
    Ok(join)
}
