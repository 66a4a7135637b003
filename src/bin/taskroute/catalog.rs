//! `taskroute catalog import` (LiteLLM's price map → a catalog file) and `taskroute catalog diff`.

use std::path::{Path, PathBuf};

use taskroute::{Catalog, LitellmOptions, ModelPatch};

use crate::CliError;

/// Import prices from LiteLLM, or compare two catalogs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Read LiteLLM's model_prices_and_context_window.json and write a catalog file.
    Import(ImportArgs),
    /// Print what changed (prices, windows, capabilities, retirement) from catalog A to B.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// LiteLLM's model_prices_and_context_window.json.
    #[arg(long, value_name = "FILE")]
    litellm: PathBuf,
    /// Keep only these providers (openai, anthropic, bedrock, google, or LiteLLM's names).
    #[arg(long, value_delimiter = ',', value_name = "P,...")]
    provider: Vec<String>,
    /// Write the imported models alone (quality priors, latency and tags carried over from the
    /// built-in catalog where the id matches): load it with `--catalog FILE --no-builtin`.
    /// Without it, the file overlays the built-in catalog: patches (prices, windows,
    /// capabilities, retirement) for its models, and the other imports as new models.
    #[arg(long)]
    replace: bool,
    /// The date stamped on the file and its entries (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<taskroute::Date>,
    /// Where to write the catalog (JSON).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The older catalog: a file laid over the built-in one, or `builtin`.
    a: String,
    /// The newer catalog: a file laid over the built-in one, or `builtin`.
    b: String,
    /// Read the files alone, not over the built-in catalog.
    #[arg(long)]
    no_builtin: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    match &args.command {
        Command::Import(a) => import(a),
        Command::Diff(a) => {
            let load = |s: &str| -> Result<Catalog, CliError> {
                Ok(match (s, a.no_builtin) {
                    ("builtin", _) => Catalog::builtin(),
                    (p, true) => Catalog::from_path(p)?,
                    (p, false) => Catalog::builtin().overlay_path(p)?,
                })
            };
            println!("{}", load(&a.a)?.diff(&load(&a.b)?));
            Ok(())
        }
    }
}

fn import(a: &ImportArgs) -> Result<(), CliError> {
    let text = read(&a.litellm)?;
    let as_of = a
        .as_of
        .unwrap_or_else(|| taskroute::Date::from_system_time(std::time::SystemTime::now()))
        .to_string();
    let options = LitellmOptions::new()
        .providers(a.provider.iter().cloned())
        .as_of(as_of.clone());
    let out = Catalog::from_litellm_json(&text, &options)?;
    let skipped: Vec<String> = out
        .skipped_modes
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    eprintln!(
        "imported {} chat models; skipped {} entries that are not chat models ({}) and {} of other providers; {} problems",
        out.catalog.models.len(),
        out.skipped_not_chat(),
        skipped.join(", "),
        out.skipped_providers,
        out.problems.len()
    );
    for p in &out.problems {
        eprintln!("  {p}");
    }
    let base = Catalog::builtin();
    let mut models = Vec::new();
    let mut patches = Vec::new();
    let mut matched = std::collections::BTreeSet::new();
    for mut m in out.catalog.models {
        // The built-in model this entry describes: the same id, else the same provider and wire
        // name (the built-in Bedrock ids are short; LiteLLM's are the Bedrock model ids). Only
        // the first entry matching a built-in model patches it.
        let built_in = base
            .get(m.id.as_str())
            .or_else(|| {
                base.models
                    .iter()
                    .find(|b| b.provider == m.provider && b.api_name() == m.api_name())
            })
            .filter(|b| matched.insert(b.id.clone()));
        if let Some(b) = built_in
            && b.id != m.id
        {
            let wire = m.api_name().to_owned();
            m = m.with_api_name(wire);
            m.id = b.id.clone();
        }
        match built_in {
            Some(b) if a.replace => {
                m.quality = b.quality.clone();
                m.latency = b.latency;
                m.tags = b.tags.clone();
                models.push(m);
            }
            Some(_) => {
                let mut p = ModelPatch::default();
                p.id = m.id.to_string();
                p.prices = Some(m.prices);
                p.context_window = Some(m.context_window);
                p.max_output_tokens = Some(m.max_output_tokens);
                p.capabilities = Some(m.capabilities);
                p.retires = m.retires;
                p.source = m.source;
                p.as_of = m.as_of;
                patches.push(p);
            }
            None => models.push(m),
        }
    }
    let file = serde_json::json!({ "as_of": as_of, "models": models, "patches": patches });
    let text = serde_json::to_string_pretty(&file)?;
    std::fs::write(&a.output, text + "\n").map_err(|e| CliError::io("write", &a.output, e))?;
    eprintln!(
        "wrote {}: {} models, {} patches of built-in models",
        a.output.display(),
        models.len(),
        patches.len()
    );
    Ok(())
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, e))
}
