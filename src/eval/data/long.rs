//! The long reader: one row per observation, CSV or JSON Lines.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::csvio::{Record, csv_error, csv_reader, find, headers};
use super::table::{Builder, PromptMeta};
use super::{LoadOptions, Outcomes};
use crate::eval::EvalError;
use crate::model::ModelId;

impl Outcomes {
    /// Reads a long table from CSV (`*.csv`) or JSON Lines (any other extension); costs must be
    /// recorded. See the [module docs](super).
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_long(path: impl AsRef<Path>) -> Result<Outcomes, EvalError> {
        Self::read_long_with(path, &LoadOptions::default())
    }

    /// Reads a long table, computing missing costs as `options` say.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_long_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
        let path = path.as_ref();
        let rows = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
            long_rows_csv(path)?
        } else {
            long_rows_jsonl(path)?
        };
        long_build(path, rows, options)
    }
}

/// One observation of a long table, before packing.
struct LongRow {
    line: u64,
    prompt: String,
    model: String,
    quality: f64,
    cost: Option<f64>,
    latency_ms: Option<f64>,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    kind: Option<String>,
    label: Option<String>,
    text: Option<String>,
    prompt_chars: Option<f64>,
    output_chars: Option<f64>,
}

fn long_rows_csv(path: &Path) -> Result<Vec<LongRow>, EvalError> {
    let mut rdr = csv_reader(path)?;
    let headers = headers(&mut rdr, path)?;
    let need = |names: &[&str]| {
        find(&headers, names).ok_or_else(|| EvalError::MissingColumn {
            path: path.to_owned(),
            column: names[0].to_owned(),
            hint: "a long table needs columns prompt_id, model, quality, cost_usd",
        })
    };
    // MT-Bench judgments (`question_id`, `turn`, `score`, `category`, `answer_chars`) load too:
    // the prompt id is `<question_id>.<turn>`.
    let pc = need(&["prompt_id", "question_id"])?;
    let turn = if headers[pc] == "question_id" {
        find(&headers, &["turn"])
    } else {
        None
    };
    let (mc, qc) = (need(&["model"])?, need(&["quality", "score"])?);
    let occ = find(&headers, &["output_chars", "answer_chars", "response_chars"]);
    let cc = find(&headers, &["cost_usd", "cost"]);
    let lc = find(&headers, &["latency_ms"]);
    let ic = find(&headers, &["input_tokens"]);
    let oc = find(&headers, &["output_tokens"]);
    let kc = find(&headers, &["kind"]);
    let labc = find(&headers, &["label", "category"]);
    let tc = find(&headers, &["text"]);
    let chc = find(&headers, &["prompt_chars"]);
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        let r = Record::new(path, &headers, &rec);
        let s = |c: Option<usize>| c.map(|c| rec[c].to_owned()).filter(|s| !s.is_empty());
        rows.push(LongRow {
            line: r.line,
            prompt: match turn {
                Some(t) => format!("{}.{}", &rec[pc], &rec[t]),
                None => rec[pc].to_owned(),
            },
            model: rec[mc].to_owned(),
            quality: r.num(qc)?,
            cost: r.opt_num(cc)?,
            latency_ms: r.opt_num(lc)?,
            input_tokens: r.opt_count(ic)?,
            output_tokens: r.opt_count(oc)?,
            kind: s(kc),
            label: s(labc),
            text: s(tc),
            prompt_chars: r.opt_num(chc)?,
            output_chars: r.opt_num(occ)?,
        });
    }
    Ok(rows)
}

fn long_rows_jsonl(path: &Path) -> Result<Vec<LongRow>, EvalError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Row {
        prompt_id: serde_json::Value,
        model: String,
        quality: f64,
        #[serde(default, alias = "cost")]
        cost_usd: Option<f64>,
        #[serde(default)]
        latency_ms: Option<f64>,
        #[serde(default)]
        input_tokens: Option<u32>,
        #[serde(default)]
        output_tokens: Option<u32>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        prompt_chars: Option<f64>,
    }
    let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let lineno = n as u64 + 1;
        let line = line.map_err(|e| EvalError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Row = serde_json::from_str(&line).map_err(|e| {
            EvalError::json(
                path,
                lineno,
                "an observation {prompt_id, model, quality, cost_usd, ...}",
                e,
            )
        })?;
        let prompt = match r.prompt_id {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(EvalError::parse(
                    path,
                    lineno,
                    None,
                    Some("prompt_id"),
                    "a string or number",
                    None,
                ));
            }
        };
        rows.push(LongRow {
            line: lineno,
            prompt,
            model: r.model,
            quality: r.quality,
            cost: r.cost_usd,
            latency_ms: r.latency_ms,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            kind: r.kind,
            label: r.label,
            text: r.text,
            prompt_chars: r.prompt_chars,
            output_chars: None,
        });
    }
    Ok(rows)
}

fn long_build(path: &Path, rows: Vec<LongRow>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
    let row_err = |line: u64, field: &str, expected: Cow<'static, str>, found: Option<String>| {
        EvalError::parse(path, line, None, Some(field), expected, found)
    };
    let mut prompt_ix: HashMap<String, usize> = HashMap::new();
    let mut model_ix: HashMap<String, usize> = HashMap::new();
    let mut models: Vec<ModelId> = Vec::new();
    let mut metas: Vec<PromptMeta> = Vec::new();
    for r in &rows {
        if r.prompt.is_empty() {
            return Err(row_err(r.line, "prompt_id", "a non-empty prompt id".into(), None));
        }
        if r.model.is_empty() {
            return Err(row_err(r.line, "model", "a non-empty model id".into(), None));
        }
        if !model_ix.contains_key(&r.model) {
            model_ix.insert(r.model.clone(), models.len());
            models.push(ModelId::new(&r.model));
        }
        if !prompt_ix.contains_key(&r.prompt) {
            prompt_ix.insert(r.prompt.clone(), metas.len());
            metas.push(PromptMeta {
                id: r.prompt.clone(),
                label: String::new(),
                kind: None,
                chars: None,
                text: None,
            });
        }
    }
    let m = models.len();
    let n = metas.len();
    // A complete table has exactly one row per (prompt, model) pair. Checking the count first
    // keeps memory in proportion to the file: the dense columns below hold `rows.len()` cells,
    // never the `prompts × models` a sparse file could claim.
    if (n as u64).checked_mul(m as u64) != Some(rows.len() as u64) {
        return Err(incomplete(path, &rows, &prompt_ix, &model_ix, &metas, &models));
    }
    let mut filled = vec![false; n * m];
    let mut b = Builder {
        source: path.to_owned(),
        chars_per_token: options.chars_per_token,
        models,
        prompts: Vec::new(),
        quality: vec![0.0; n * m],
        cost: vec![0.0; n * m],
        latency: vec![None; n * m],
        in_tok: vec![None; n * m],
        out_tok: vec![None; n * m],
    };
    for r in rows {
        let p = prompt_ix[&r.prompt];
        let j = model_ix[&r.model];
        let i = p * m + j;
        if filled[i] {
            return Err(duplicate(path, &r));
        }
        filled[i] = true;
        let quality = options
            .quality(r.quality)
            .map_err(|expected| row_err(r.line, "quality", expected, Some(r.quality.to_string())))?;
        let meta = &mut metas[p];
        for (slot, v, field) in [
            (&mut meta.label, r.label, "label"),
            (meta.kind.get_or_insert_with(String::new), r.kind, "kind"),
        ] {
            if let Some(v) = v {
                if slot.is_empty() {
                    *slot = v;
                } else if *slot != v {
                    return Err(EvalError::Conflict {
                        path: path.to_owned(),
                        line: r.line,
                        prompt: r.prompt,
                        field,
                        earlier: std::mem::take(slot).into_boxed_str(),
                        here: v.into_boxed_str(),
                    });
                }
            }
        }
        if r.text.is_some() && meta.text.is_none() {
            meta.text = r.text;
        }
        if r.prompt_chars.is_some() {
            meta.chars = r.prompt_chars;
        }
        let cost = match r.cost {
            Some(c) if c.is_finite() && c >= 0.0 => c,
            Some(c) => {
                return Err(row_err(
                    r.line,
                    "cost_usd",
                    "a finite cost >= 0 (USD)".into(),
                    Some(c.to_string()),
                ));
            }
            None => {
                let prices = options
                    .prices
                    .as_ref()
                    .and_then(|t| t.get(&r.model))
                    .ok_or_else(|| EvalError::NoCost {
                        path: path.to_owned(),
                        model: r.model.clone(),
                    })?;
                let input = r
                    .input_tokens
                    .or_else(|| meta.chars.map(|c| options.tokens(c)))
                    .or_else(|| {
                        meta.text
                            .as_ref()
                            .map(|t| options.tokens(t.chars().count() as f64))
                    })
                    .or(options.default_input_tokens)
                    .ok_or_else(|| EvalError::NoTokenCount {
                        path: path.to_owned(),
                        line: r.line,
                        model: r.model.clone(),
                        side: "input",
                    })?;
                let output = r
                    .output_tokens
                    .or_else(|| r.output_chars.map(|c| options.tokens(c)))
                    .or(options.default_output_tokens)
                    .ok_or_else(|| EvalError::NoTokenCount {
                        path: path.to_owned(),
                        line: r.line,
                        model: r.model.clone(),
                        side: "output",
                    })?;
                prices.cost_usd(input, 0, output)
            }
        };
        if let Some(l) = r.latency_ms
            && !(l.is_finite() && l >= 0.0)
        {
            return Err(row_err(
                r.line,
                "latency_ms",
                "a latency >= 0 ms".into(),
                Some(l.to_string()),
            ));
        }
        b.quality[i] = quality as f32;
        b.cost[i] = cost as f32;
        b.latency[i] = r.latency_ms.map(|v| v as f32);
        b.in_tok[i] = r.input_tokens;
        b.out_tok[i] = r.output_tokens;
    }
    // Every row filled a distinct cell (a second one is refused above) and there are as many
    // rows as cells: the table is complete.
    for meta in &mut metas {
        if meta.kind.as_deref() == Some("") {
            meta.kind = None;
        }
    }
    b.prompts = metas;
    // Latency and token columns are kept only when every observation has them.
    b.finish()
}

fn duplicate(path: &Path, r: &LongRow) -> EvalError {
    EvalError::DuplicateObservation {
        path: path.to_owned(),
        line: r.line,
        prompt: r.prompt.clone(),
        model: r.model.clone(),
    }
}

/// Why a long table's row count is not `prompts × models`: the first duplicate row, else the
/// first (prompt, model) pair without a row. Memory in proportion to the rows.
fn incomplete(
    path: &Path,
    rows: &[LongRow],
    prompt_ix: &HashMap<String, usize>,
    model_ix: &HashMap<String, usize>,
    metas: &[PromptMeta],
    models: &[ModelId],
) -> EvalError {
    let mut seen: HashSet<(usize, usize)> = HashSet::with_capacity(rows.len());
    let mut per_prompt = vec![0usize; metas.len()];
    for r in rows {
        let (p, j) = (prompt_ix[&r.prompt], model_ix[&r.model]);
        if !seen.insert((p, j)) {
            return duplicate(path, r);
        }
        per_prompt[p] += 1;
    }
    // No duplicate, so some prompt has fewer rows than there are models.
    let p = per_prompt
        .iter()
        .position(|&c| c < models.len())
        .unwrap_or_default();
    let j = (0..models.len())
        .find(|&j| !seen.contains(&(p, j)))
        .unwrap_or_default();
    EvalError::MissingObservation {
        path: path.to_owned(),
        prompt: metas[p].id.clone(),
        model: models[j].to_string(),
    }
}
