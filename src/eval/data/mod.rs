//! Outcome tables: what each model achieved and cost on each prompt, stored column-wise.
//!
//! # Layouts
//!
//! **Wide** (RouterBench's own layout, one row per prompt), read by [`Outcomes::read_wide_csv`]:
//!
//! | column | meaning |
//! |---|---|
//! | `sample_id`, `prompt_id` or `id` | the prompt's id; else `"<label>.<row_index>"` (RouteLLM: `"mmlu/anatomy.0"`, `"gsm8k.17"`) |
//! | `eval_name`, `label` or `benchmark` (+ `subject`) | the prompt's label (`"mbpp"`, `"mmlu/anatomy"`) |
//! | `kind` (optional) | the [`TaskKind`](crate::TaskKind); else derived from the label by [`kind_for_label`] |
//! | `full_prompt_chars` or `prompt_chars` (optional) | prompt length, for token estimates |
//! | `score\|<model>`, `correct\|<model>` or `quality\|<model>` | quality in `[0, 1]` |
//! | `cost_usd\|<model>` | USD the answer cost; else computed from prices (below) |
//! | `latency_ms\|<model>`, `input_tokens\|<model>`, `output_tokens\|<model>` (optional) | as named |
//! | `response_chars\|<model>` (optional) | answer length, for output-token estimates |
//!
//! Other columns (`oracle_model_to_route_to`, `contaminated`, ...) are ignored.
//!
//! **Long** (one row per observation), read by [`Outcomes::read_long`] from CSV or JSONL:
//! `prompt_id`, `model`, `quality`, `cost_usd` (or `cost`), and optionally `latency_ms`,
//! `input_tokens`, `output_tokens`, `kind`, `label`, `text`, `prompt_chars`. Every prompt must have
//! exactly one row for every model.
//!
//! # Costs from prices
//!
//! Where a model has no recorded cost (RouteLLM's `mmlu_gsm8k_outcomes.csv` has none), its cost
//! on a prompt is computed from [`LoadOptions::prices`] (USD per million tokens, e.g.
//! `../shared/data/prices.csv` read by [`PriceTable::read_csv`]) and token estimates:
//! input tokens `= ceil(prompt_chars / chars_per_token)`, output tokens `= ceil(response_chars /
//! chars_per_token)` where the answer length is recorded, else [`LoadOptions::default_output_tokens`]
//! (a loader error when that is unset). `chars_per_token` defaults to 4, the usual rule of thumb
//! for English text with GPT-style tokenizers.
//!
//! # Storage
//!
//! Observations are stored prompt-major (`prompt * models + model`): quality as one bit per
//! observation when every value is 0 or 1 (else an `f32`), cost as an `f32`, and latency and
//! token counts in separate optional `f32`/`u32` columns that cost nothing when absent. A
//! RouterBench table therefore takes 4.125 bytes per observation
//! ([`Outcomes::bytes_per_observation`]), plus per-prompt ids, labels and texts.

mod csvio;
mod kind;
mod long;
mod options;
mod prices;
mod prompts;
mod split;
mod table;
mod wide;

pub use kind::kind_for_label;
pub use options::LoadOptions;
pub use prices::PriceTable;
pub use prompts::PromptJoin;
pub use split::Split;
pub use table::Outcomes;

#[cfg(test)]
pub(crate) mod tests;
