//! The routed client records its metrics (features `runtime`, `metrics`): a request whose primary
//! is down and whose fallback answers gives one decision, one failed and one successful attempt
//! with tokens, and the spend against the request's budget scopes.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use taskroute::provider::ChatRequest;
use taskroute::runtime::RequestOptions;
use taskroute::{TaskKind, TaskSpec};
use updown::{PROMPT, client};

#[allow(dead_code)] // the stream half and the answer text are for tests/runtime_spans.rs
mod updown;

/// A recorded series: name, sorted labels, value.
type Entry = (String, Vec<(String, String)>, DebugValue);

#[test]
fn a_fallback_request_records_decision_attempts_tokens_and_spend() {
    let client = client();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let task = TaskSpec::new(TaskKind::Chat, 100).with_text(PROMPT);
            let r = client
                .complete(
                    &task,
                    &ChatRequest::new().user(PROMPT),
                    RequestOptions::within(Duration::from_secs(5)),
                )
                .await
                .unwrap();
            assert_eq!(r.model().as_str(), "solid");
        })
    });
    let entries: Vec<Entry> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(k, _, _, v)| {
            let mut labels: Vec<_> = k
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            (k.key().name().to_owned(), labels, v)
        })
        .collect();
    let get = |name: &str, with: &[(&str, &str)]| -> Vec<&DebugValue> {
        entries
            .iter()
            .filter(|(n, l, _)| {
                n == name && with.iter().all(|(a, b)| l.iter().any(|(x, y)| x == a && y == b))
            })
            .map(|(_, _, v)| v)
            .collect()
    };
    assert_eq!(
        get(
            "taskroute.decisions",
            &[("gen_ai.request.model", "cheap"), ("taskroute.task.kind", "chat")]
        ),
        [&DebugValue::Counter(1)],
        "{entries:#?}"
    );
    assert_eq!(
        get(
            "taskroute.attempts",
            &[
                ("gen_ai.request.model", "cheap"),
                ("gen_ai.system", "down"),
                ("error.type", "overloaded")
            ]
        ),
        [&DebugValue::Counter(1)],
        "{entries:#?}"
    );
    assert_eq!(
        get(
            "taskroute.attempts",
            &[
                ("gen_ai.request.model", "solid"),
                ("taskroute.outcome", "success"),
                ("gen_ai.operation.name", "chat")
            ]
        ),
        [&DebugValue::Counter(1)],
        "{entries:#?}"
    );
    let tokens = get(
        "gen_ai.client.token.usage",
        &[("gen_ai.token.type", "input"), ("gen_ai.request.model", "solid")],
    );
    assert!(
        matches!(tokens[..], [DebugValue::Histogram(h)] if h.len() == 1 && h[0].into_inner() == 120.0),
        "{entries:#?}"
    );
    assert_eq!(
        get("taskroute.tokens.cached_input", &[]),
        [&DebugValue::Counter(100)]
    );
    assert_eq!(
        get("gen_ai.client.operation.duration", &[]).len(),
        2,
        "one series per attempt outcome"
    );
    for (_, labels, _) in &entries {
        assert!(labels.iter().all(|(_, v)| !v.contains("SECRET")), "{labels:?}");
    }
}
