//! Sends one prompt through whichever provider the environment configures and prints the answer,
//! the token usage and the cost (from the built-in catalog's prices).
//!
//! ```sh
//! # Any OpenAI-compatible server, e.g. aimock started by scripts/setup-aimock.sh:
//! OPENAI_BASE_URL=http://127.0.0.1:4510/v1 cargo run --example providers --all-features -- "Please say hello"
//! # OpenAI, Anthropic, Bedrock:
//! OPENAI_API_KEY=... cargo run --example providers --all-features -- "Hello"
//! ANTHROPIC_API_KEY=... cargo run --example providers --all-features -- "Hello"
//! AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... cargo run --example providers --all-features
//! ```
//!
//! `TASKROUTE_PROVIDER` (`openai`, `anthropic`, `bedrock`) picks one explicitly; `TASKROUTE_MODEL`
//! names a catalog model (default: `gpt-4o-mini`, `claude-haiku-4-5`, `bedrock/claude-haiku-4-5`).
//! `--stream` streams the answer.

use std::env;
use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use taskroute::provider::anthropic::Anthropic;
use taskroute::provider::bedrock::Bedrock;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, Collector, Provider, StreamEvent};
use taskroute::{Catalog, ModelSpec, Prices};

fn set(name: &str) -> bool {
    env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

fn pick() -> Option<&'static str> {
    match env::var("TASKROUTE_PROVIDER").ok().as_deref() {
        Some("openai") => return Some("openai"),
        Some("anthropic") => return Some("anthropic"),
        Some("bedrock") => return Some("bedrock"),
        _ => {}
    }
    if set("OPENAI_BASE_URL") || set("OPENAI_API_KEY") {
        Some("openai")
    } else if set("ANTHROPIC_BASE_URL") || set("ANTHROPIC_API_KEY") {
        Some("anthropic")
    } else if (set("AWS_ACCESS_KEY_ID") || set("AWS_BEARER_TOKEN_BEDROCK"))
        && (set("AWS_REGION") || set("AWS_DEFAULT_REGION"))
    {
        Some("bedrock")
    } else {
        None
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = env::args().skip(1).collect();
    let stream = args.iter().any(|a| a == "--stream");
    let prompt = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "Please say hello in one short sentence.".to_owned());

    let Some(which) = pick() else {
        eprintln!(
            "No provider configured. Set OPENAI_BASE_URL (any OpenAI-compatible server, e.g. \
             http://127.0.0.1:4510/v1 after `bash scripts/setup-aimock.sh`) or OPENAI_API_KEY, or \
             ANTHROPIC_API_KEY, or AWS_REGION with AWS credentials."
        );
        std::process::exit(2);
    };
    let provider: Arc<dyn Provider> = match which {
        "openai" => Arc::new(OpenAi::from_env()?),
        "anthropic" => Arc::new(Anthropic::from_env()?),
        _ => Arc::new(Bedrock::from_env()?),
    };
    let default_model = match which {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-haiku-4-5",
        _ => "bedrock/claude-haiku-4-5",
    };
    let model_id = env::var("TASKROUTE_MODEL").unwrap_or_else(|_| default_model.to_owned());
    let model = Catalog::builtin().get(&model_id).cloned().unwrap_or_else(|| {
        eprintln!("note: `{model_id}` is not in the built-in catalog; cost shown as 0");
        ModelSpec::new(model_id.as_str(), which, Prices::new(0.0, 0.0), 128_000)
    });
    println!(
        "provider: {} | model: {} (wire name `{}`)",
        provider.name(),
        model.id,
        model.api_name()
    );

    let req = ChatRequest::new()
        .system("You are concise.")
        .user(prompt)
        .max_tokens(256);
    let answer = if stream {
        let mut events = provider.stream(&model, &req).await?;
        let mut collected = Collector::new();
        while let Some(ev) = events.next().await {
            let ev = ev?;
            if let StreamEvent::TextDelta(t) = &ev {
                print!("{t}");
                std::io::stdout().flush()?;
            }
            collected.push(ev);
        }
        println!();
        collected.finish(&model)?
    } else {
        let a = provider.complete(&model, &req).await?;
        println!("{}", a.text);
        a
    };
    for call in &answer.tool_calls {
        println!("tool call: {}({})", call.name, call.arguments_json());
    }
    println!(
        "finish: {:?} | usage: {} in ({} cached), {} out | cost: ${:.6}",
        answer.finish_reason,
        answer.usage.input_tokens,
        answer.usage.cached_input_tokens,
        answer.usage.output_tokens,
        answer.cost_usd
    );
    Ok(())
}
