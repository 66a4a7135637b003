//! Joining prompt texts from a JSONL file onto an outcome table.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::Outcomes;
use crate::eval::EvalError;

/// How to join prompt texts from a JSONL file onto an [`Outcomes`] table.
///
/// Each line is a JSON object; `key_field` (a string or a number) prefixed with `key_prefix`
/// must equal a prompt's [`id`](Outcomes::id); `text_field` is the text. Lines whose key
/// matches no prompt are skipped (a prompts file may cover more than the table). With
/// [`fewshot_prefixes`](Self::fewshot_prefixes), the text is the prefix of the line's label
/// followed by the query, exactly as RouterBench sent it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PromptJoin {
    /// The JSONL file.
    pub path: PathBuf,
    /// The field holding the key.
    pub key_field: String,
    /// Prepended to the key to form the prompt id.
    pub key_prefix: String,
    /// The field holding the text.
    pub text_field: String,
    /// A JSON object mapping label to few-shot prefix, the field naming the line's label and the
    /// boolean field saying whether the prefix applies.
    pub fewshot: Option<(PathBuf, String, String)>,
}

impl PromptJoin {
    /// Join `text_field` by `key_field` from `path`.
    pub fn new(
        path: impl Into<PathBuf>,
        key_field: impl Into<String>,
        text_field: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            key_field: key_field.into(),
            key_prefix: String::new(),
            text_field: text_field.into(),
            fewshot: None,
        }
    }

    /// Prepends `prefix` to each key before matching ids.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Prepends per-label few-shot prefixes from a JSON object file where `flag_field` is true.
    pub fn fewshot_prefixes(
        mut self,
        path: impl Into<PathBuf>,
        label_field: impl Into<String>,
        flag_field: impl Into<String>,
    ) -> Self {
        self.fewshot = Some((path.into(), label_field.into(), flag_field.into()));
        self
    }

    /// RouterBench as shared: `prompts.jsonl` (`sample_id`, `query`) plus `fewshot_prefixes.json`.
    pub fn routerbench(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self::new(dir.join("prompts.jsonl"), "sample_id", "query").fewshot_prefixes(
            dir.join("fewshot_prefixes.json"),
            "eval_name",
            "has_fewshot_prefix",
        )
    }

    /// RouteLLM's GSM8K prompts (`gsm8k_prompts.jsonl`, keyed by `row_index`) onto ids
    /// `gsm8k.<row_index>` as [`Outcomes::read_wide_csv`] names RouteLLM's rows.
    pub fn routellm_gsm8k(dir: impl AsRef<Path>) -> Self {
        Self::new(dir.as_ref().join("gsm8k_prompts.jsonl"), "row_index", "prompt").key_prefix("gsm8k.")
    }
}

impl Outcomes {
    /// Joins prompt texts (see [`PromptJoin`]); prompts the file does not cover keep their text
    /// (or none).
    ///
    /// # Errors
    /// [`EvalError::Io`]; [`EvalError::Json`] for a line that is not a JSON object;
    /// [`EvalError::Parse`] for a key or text field of the wrong type;
    /// [`EvalError::MissingPrefix`] for a label without a few-shot prefix;
    /// [`EvalError::DuplicatePrompt`] for a key seen twice.
    pub fn with_prompts_jsonl(mut self, join: &PromptJoin) -> Result<Outcomes, EvalError> {
        let path = join.path.as_path();
        let prefixes: Option<(HashMap<String, String>, &str, &str)> = match &join.fewshot {
            None => None,
            Some((ppath, label_field, flag_field)) => {
                let text = std::fs::read_to_string(ppath).map_err(|e| EvalError::io(ppath, e))?;
                let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
                    EvalError::json(ppath, e.line() as u64, "a JSON object of label -> prefix text", e)
                })?;
                Some((map, label_field.as_str(), flag_field.as_str()))
            }
        };
        let index: HashMap<&str, usize> = self.ids.iter().enumerate().map(|(i, s)| (&**s, i)).collect();
        let mut texts: Vec<Option<String>> = vec![None; self.ids.len()];
        let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let lineno = n as u64 + 1;
            let line = line.map_err(|e| EvalError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let obj: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&line).map_err(|e| EvalError::json(path, lineno, "a JSON object", e))?;
            let bad_field = |field: &str, expected: &'static str| {
                EvalError::parse(path, lineno, None, Some(field), expected, None)
            };
            let key = match obj.get(&join.key_field) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => return Err(bad_field(&join.key_field, "a string or number key")),
            };
            let id = format!("{}{key}", join.key_prefix);
            if let Some(first) = seen.insert(id.clone(), lineno) {
                return Err(EvalError::DuplicatePrompt {
                    path: path.to_owned(),
                    line: lineno,
                    prompt: key,
                    first_line: first,
                });
            }
            let Some(&p) = index.get(id.as_str()) else {
                continue;
            };
            let Some(serde_json::Value::String(query)) = obj.get(&join.text_field) else {
                return Err(bad_field(&join.text_field, "a string"));
            };
            let text = match &prefixes {
                Some((map, label_field, flag_field))
                    if obj.get(*flag_field).and_then(|v| v.as_bool()) == Some(true) =>
                {
                    let label = obj
                        .get(*label_field)
                        .and_then(|v| v.as_str())
                        .unwrap_or(self.label(p));
                    let prefix = map.get(label).ok_or_else(|| EvalError::MissingPrefix {
                        path: path.to_owned(),
                        line: lineno,
                        label: label.to_owned(),
                    })?;
                    format!("{prefix}{query}")
                }
                _ => query.clone(),
            };
            texts[p] = Some(text);
        }
        for (slot, t) in self.texts.iter_mut().zip(texts) {
            if let Some(t) = t {
                *slot = Some(t.into_boxed_str());
            }
        }
        Ok(self)
    }
}
