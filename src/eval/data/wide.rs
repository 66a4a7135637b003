//! The wide reader: RouterBench's layout, one row per prompt.

use std::collections::HashMap;
use std::path::Path;

use super::csvio::{Record, csv_error, csv_reader, find, headers};
use super::table::{Builder, PromptMeta};
use super::{LoadOptions, Outcomes};
use crate::eval::EvalError;
use crate::model::{ModelId, Prices};

impl Outcomes {
    /// Reads a wide CSV table (see the [module docs](super)); costs must be recorded.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_wide_csv(path: impl AsRef<Path>) -> Result<Outcomes, EvalError> {
        Self::read_wide_csv_with(path, &LoadOptions::default())
    }

    /// Reads a wide CSV table, computing missing costs as `options` say.
    ///
    /// # Errors
    /// [`EvalError`] naming the file, line and column of the first problem.
    pub fn read_wide_csv_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Outcomes, EvalError> {
        let path = path.as_ref();
        let mut rdr = csv_reader(path)?;
        let headers = headers(&mut rdr, path)?;
        let id_col = find(&headers, &["sample_id", "prompt_id", "id"]);
        let bench_col = find(&headers, &["benchmark"]);
        let row_col = find(&headers, &["row_index"]);
        if id_col.is_none() && (bench_col.is_none() || row_col.is_none()) {
            return Err(EvalError::MissingColumn {
                path: path.to_owned(),
                column: "sample_id".into(),
                hint: "a wide table needs a prompt id column (`sample_id`, `prompt_id`, `id`, or `benchmark` with `row_index`)",
            });
        }
        let label_col = find(&headers, &["eval_name", "label"]);
        let subject_col = find(&headers, &["subject"]);
        let kind_col = find(&headers, &["kind"]);
        let chars_col = find(&headers, &["full_prompt_chars", "prompt_chars"]);
        let text_col = find(&headers, &["text"]);

        // Model columns, in order of their quality columns. Column lookups go through a map so
        // that a header with many models is read in linear time.
        let mut column: HashMap<&str, usize> = HashMap::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            column.entry(h.as_str()).or_insert(i);
        }
        let mut models: Vec<ModelId> = Vec::new();
        let mut q_cols = Vec::new();
        let mut model_seen: HashMap<&str, ()> = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            for prefix in ["score|", "correct|", "quality|"] {
                if let Some(m) = h.strip_prefix(prefix) {
                    if model_seen.insert(m, ()).is_some() {
                        return Err(EvalError::DuplicateModelColumn {
                            path: path.to_owned(),
                            model: m.to_owned(),
                            column: i as u64 + 1,
                        });
                    }
                    models.push(ModelId::new(m));
                    q_cols.push(i);
                }
            }
        }
        if models.is_empty() {
            return Err(EvalError::NoModels {
                path: path.to_owned(),
            });
        }
        let per_model = |prefix: &str| -> Vec<Option<usize>> {
            models
                .iter()
                .map(|m| column.get(format!("{prefix}{m}").as_str()).copied())
                .collect()
        };
        let cost_cols = per_model("cost_usd|");
        let lat_cols = per_model("latency_ms|");
        let in_cols = per_model("input_tokens|");
        let out_cols = per_model("output_tokens|");
        let resp_cols = per_model("response_chars|");
        // Models without a cost column need a price.
        let mut costs = Vec::with_capacity(models.len());
        for (j, m) in models.iter().enumerate() {
            costs.push(match cost_cols[j] {
                Some(c) => CostSource::Column(c),
                None => match options.prices.as_ref().and_then(|t| t.get(m.as_str())) {
                    Some(p) => CostSource::Prices(p),
                    None => {
                        return Err(EvalError::NoCost {
                            path: path.to_owned(),
                            model: m.to_string(),
                        });
                    }
                },
            });
        }
        if costs.iter().any(|c| matches!(c, CostSource::Prices(_)))
            && chars_col.is_none()
            && in_cols.iter().any(Option::is_none)
        {
            return Err(EvalError::MissingColumn {
                path: path.to_owned(),
                column: "prompt_chars".into(),
                hint: "costs computed from prices need the prompt length (`prompt_chars` or `full_prompt_chars`) or `input_tokens|<model>`",
            });
        }

        let n_models = models.len();
        let mut b = Builder {
            source: path.to_owned(),
            chars_per_token: options.chars_per_token,
            models,
            prompts: Vec::new(),
            quality: Vec::new(),
            cost: Vec::new(),
            latency: Vec::new(),
            in_tok: Vec::new(),
            out_tok: Vec::new(),
        };
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, e)),
            }
            let r = Record::new(path, &headers, &rec);
            let line = r.line;

            let label = match (label_col, bench_col, subject_col) {
                (Some(c), _, _) => rec[c].to_owned(),
                (None, Some(bc), Some(sc)) if !rec[sc].is_empty() => format!("{}/{}", &rec[bc], &rec[sc]),
                (None, Some(bc), _) => rec[bc].to_owned(),
                _ => String::new(),
            };
            let id = match id_col {
                Some(c) => rec[c].to_owned(),
                None => format!("{label}.{}", &rec[row_col.unwrap_or_default()]),
            };
            if id.is_empty() {
                return Err(r.bad(id_col.unwrap_or(0), "a non-empty prompt id"));
            }
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(EvalError::DuplicatePrompt {
                    path: path.to_owned(),
                    line,
                    prompt: id,
                    first_line: first,
                });
            }
            let chars = match chars_col {
                Some(c) => Some(r.num(c)?),
                None => None,
            };
            if let Some(c) = chars
                && c < 0.0
            {
                return Err(r.bad(chars_col.unwrap_or(0), "a length >= 0"));
            }
            for j in 0..n_models {
                let q = r.num(q_cols[j])?;
                let q = options
                    .quality(q)
                    .map_err(|expected| r.bad(q_cols[j], expected))?;
                b.quality.push(q as f32);
                let in_tok = r.opt_count(in_cols[j])?;
                let out_tok = r.opt_count(out_cols[j])?;
                let cost = match &costs[j] {
                    &CostSource::Column(c) => {
                        let v = r.num(c)?;
                        if v < 0.0 {
                            return Err(r.bad(c, "a finite cost >= 0 (USD)"));
                        }
                        v
                    }
                    CostSource::Prices(p) => {
                        let input = in_tok.unwrap_or_else(|| options.tokens(chars.unwrap_or(0.0)));
                        let output = match (out_tok, r.opt_num(resp_cols[j])?) {
                            (Some(t), _) => t,
                            (None, Some(rc)) => options.tokens(rc),
                            (None, None) => {
                                options
                                    .default_output_tokens
                                    .ok_or_else(|| EvalError::NoTokenCount {
                                        path: path.to_owned(),
                                        line,
                                        model: b.models[j].to_string(),
                                        side: "output",
                                    })?
                            }
                        };
                        p.cost_usd(input, 0, output)
                    }
                };
                b.cost.push(cost as f32);
                b.latency.push(match r.opt_num(lat_cols[j])? {
                    Some(v) if v < 0.0 => {
                        return Err(r.bad(lat_cols[j].unwrap_or(0), "a latency >= 0 ms"));
                    }
                    v => v.map(|v| v as f32),
                });
                b.in_tok.push(in_tok);
                b.out_tok.push(out_tok);
            }
            b.prompts.push(PromptMeta {
                id,
                label,
                kind: kind_col.map(|c| rec[c].to_owned()).filter(|k| !k.is_empty()),
                chars,
                text: text_col.map(|c| rec[c].to_owned()).filter(|t| !t.is_empty()),
            });
        }
        b.finish()
    }
}

/// Where a model's cost on a row comes from.
enum CostSource {
    /// The `cost_usd|<model>` column at this index.
    Column(usize),
    /// Token estimates times these prices.
    Prices(Prices),
}
