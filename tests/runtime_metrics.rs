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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let entries = entries_of(|| {
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
    let get = |name: &str, with: &[(&str, &str)]| series(&entries, name, with);
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

/// The values of the series named `name` that carry every label of `with`.
fn series<'a>(entries: &'a [Entry], name: &str, with: &[(&str, &str)]) -> Vec<&'a DebugValue> {
    entries
        .iter()
        .filter(|(n, l, _)| n == name && with.iter().all(|(a, b)| l.iter().any(|(x, y)| x == a && y == b)))
        .map(|(_, _, v)| v)
        .collect()
}

/// The recorded series of `f`'s run: name, sorted labels, value.
fn entries_of(f: impl FnOnce()) -> Vec<Entry> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    snapshotter
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
        .collect()
}

#[test]
fn capacity_refusals_and_waits_are_recorded() {
    use taskroute::runtime::{AttemptOutcome, Deployment, DeploymentLimits, RetryPolicy, RoutedClient};
    // "cheap" (the primary) on one deployment allowing 1 request a minute; "solid" answers the
    // rest.
    let client = RoutedClient::builder(updown::router("up"))
        .provider(updown::fake("up", true))
        .deployments(
            "cheap",
            [Deployment::new("d", "up").limits(DeploymentLimits::none().rpm(1))],
        )
        .retry(RetryPolicy::default().with_max_retries(0))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 100);
    let req = ChatRequest::new().user(PROMPT);
    let mut refused = 0;
    let entries = entries_of(|| {
        rt.block_on(async {
            for opts in [
                RequestOptions::within(Duration::from_secs(5)),
                RequestOptions::within(Duration::from_secs(5)),
                RequestOptions::within(Duration::from_secs(90)).wait_for_capacity(true),
            ] {
                let r = client.complete(&task, &req, opts).await.unwrap();
                refused += r
                    .attempts
                    .iter()
                    .filter(|a| matches!(a.outcome, AttemptOutcome::NoCapacity { .. }))
                    .count() as u64;
            }
        })
    });
    assert_eq!(refused, 1, "the second request found the deployment full");
    let find = |name: &str| series(&entries, name, &[("gen_ai.request.model", "cheap")]);
    assert_eq!(
        find("taskroute.capacity.refusals"),
        [&DebugValue::Counter(refused)],
        "{entries:#?}"
    );
    // The third waited in line for the minute to pass (the paused clock skips ahead).
    let waits = find("taskroute.capacity.wait");
    assert!(
        matches!(waits[..], [DebugValue::Histogram(h)] if h.len() == 1 && h[0].into_inner() > 50.0),
        "{entries:#?}"
    );
}
