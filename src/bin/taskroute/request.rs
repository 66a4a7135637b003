//! `taskroute route --request FILE.json`: the task an OpenAI-style request body describes.

use std::path::Path;

use taskroute::TaskSpec;
use taskroute::request::chat_request_from_openai;

use crate::CliError;

/// Reads an OpenAI Chat Completions body and derives its task; prints what was derived to stderr.
pub(crate) fn task_from_file(path: &Path) -> Result<TaskSpec, CliError> {
    let body = std::fs::read_to_string(path).map_err(|e| CliError::io("read request file", path, e))?;
    let req = chat_request_from_openai(&body)
        .map_err(|e| CliError::msg(format!("--request {}: {e}", path.display())))?;
    let task = TaskSpec::from_request(&req);
    eprintln!(
        "task from request: kind {}, {} input tokens (o200k_base), output {}, capabilities {:?}",
        task.kind,
        task.input_tokens,
        task.output_tokens.map_or_else(
            || format!("{} (the kind's prior)", task.kind.typical_output_tokens()),
            |n| n.to_string()
        ),
        task.capabilities
    );
    Ok(task)
}
