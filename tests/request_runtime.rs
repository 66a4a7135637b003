//! `RoutedClient::complete_request`: the request's own tools, text and size decide the route.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use runtime_support::{Act, Fake, model};
use taskroute::provider::{ChatRequest, Provider, ToolDefinition};
use taskroute::request::RequestAnalyzer;
use taskroute::runtime::{RequestOptions, RoutedClient};
use taskroute::{Capabilities, Capability, QualityFirst, Router, TaskKind};

/// `coder` is best at code generation, `talker` at chat; only `coder` calls tools; `small` is the
/// best at everything but has a 1,000-token window.
fn client() -> RoutedClient {
    let caps = Capabilities::of(&[Capability::Streaming]);
    let router = Router::builder()
        .model_spec(
            model("coder", "fake", 1.0, 0.5)
                .with_quality(TaskKind::CodeGeneration, 0.9)
                .with_capabilities(caps.with(Capability::Tools)),
        )
        .model_spec(
            model("talker", "fake", 1.0, 0.5)
                .with_quality(TaskKind::Chat, 0.9)
                .with_capabilities(caps),
        )
        .model_spec({
            let mut m = model("small", "fake", 1.0, 0.95).with_capabilities(caps);
            m.context_window = 1_000;
            m.max_output_tokens = 500;
            m
        })
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    let mut fake = Fake::new("fake");
    for m in ["coder", "talker", "small"] {
        fake = fake.always(m, Act::ok(&format!("from {m}")));
    }
    RoutedClient::builder(router)
        .provider(Arc::new(fake) as Arc<dyn Provider>)
        .build()
        .unwrap()
}

async fn answered_by(c: &RoutedClient, req: &ChatRequest) -> String {
    let r = c
        .complete_request(req, RequestOptions::within(Duration::from_secs(5)))
        .await
        .unwrap();
    r.model().to_string()
}

#[tokio::test]
async fn the_request_decides_kind_tokens_and_capabilities() {
    let c = client();
    let long = "word ".repeat(2_000);
    // Chat text of ~2,000 tokens: too long for `small`, so the chat model.
    let chat = ChatRequest::new().user(format!("Tell me about your weekend. {long}"));
    assert_eq!(answered_by(&c, &chat).await, "talker");
    // The same text as a code request: the code model.
    let code = ChatRequest::new().user(format!(
        "Write a Python function that parses this log:\n```python\ndef parse(line):\n```\n{long}"
    ));
    assert_eq!(answered_by(&c, &code).await, "coder");
    // A short chat request fits `small`, the best overall.
    let short = ChatRequest::new()
        .user("Tell me about your weekend.")
        .max_tokens(100);
    assert_eq!(answered_by(&c, &short).await, "small");
    // Tools: only `coder` can call them, whatever the text.
    let tools = ChatRequest::new()
        .user("Tell me about your weekend.")
        .max_tokens(100)
        .tool(ToolDefinition::new(
            "weather",
            "the weather",
            serde_json::json!({"type": "object"}),
        ));
    assert_eq!(answered_by(&c, &tools).await, "coder");
    // A caller's analyzer fixes the kind.
    let fixed = RequestAnalyzer::default().kind(TaskKind::CodeGeneration);
    let r = c
        .complete_request_with(&chat, &fixed, RequestOptions::within(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(r.model().as_str(), "coder");
    assert_eq!(r.decision.task_kind, Some(TaskKind::CodeGeneration));
}
