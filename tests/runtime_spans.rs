//! The runtime's spans carry the OpenTelemetry GenAI attributes (operation, system, request and
//! response model, token usage, error type), and no field of any span or event carries the
//! prompt or the answer. A capturing `tracing-subscriber` layer records every field.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use taskroute::provider::{ChatRequest, StreamEvent};
use taskroute::runtime::RequestOptions;
use taskroute::{TaskKind, TaskSpec};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use updown::{ANSWER, PROMPT, client};

mod updown;

/// A span: its name and every field recorded on it, at creation or later.
#[derive(Clone, Debug, Default)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Captured>>>,
    /// Every event's fields, flattened.
    events: Arc<Mutex<Vec<String>>>,
}

/// The index into `Capture::spans` of a span, kept in its extensions.
struct Slot(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0.insert(f.name().to_owned(), format!("{v:?}"));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().to_owned(), v.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Captured {
            name: attrs.metadata().name(),
            ..Captured::default()
        };
        attrs.record(&mut Fields(&mut c.fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(c);
        ctx.span(id)
            .unwrap()
            .extensions_mut()
            .insert(Slot(spans.len() - 1));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let ext = span.extensions();
        let slot = ext.get::<Slot>().unwrap().0;
        values.record(&mut Fields(&mut self.spans.lock().unwrap()[slot].fields));
    }
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut f = BTreeMap::new();
        event.record(&mut Fields(&mut f));
        self.events.lock().unwrap().push(format!("{f:?}"));
    }
}

impl Capture {
    fn named(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.fields.clone())
            .collect()
    }

    /// No span field and no event carries the prompt or the answer.
    fn assert_no_text(&self) {
        for s in self.spans.lock().unwrap().iter() {
            for v in s.fields.values() {
                assert!(!v.contains("SECRET"), "{}: {v}", s.name);
            }
        }
        for e in self.events.lock().unwrap().iter() {
            assert!(!e.contains("SECRET"), "{e}");
        }
    }
}

fn run<F: std::future::Future>(capture: &Capture, f: F) -> F::Output {
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || rt.block_on(f))
}

fn field<'a>(span: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    span.get(name)
        .map_or_else(|| panic!("no {name} in {span:?}"), String::as_str)
}

fn task() -> TaskSpec {
    TaskSpec::new(TaskKind::Chat, 100).with_text(PROMPT)
}

#[test]
fn a_fallback_request_has_genai_spans_and_no_text() {
    let capture = Capture::default();
    let client = client();
    let answer = run(&capture, async {
        client
            .complete(
                &task(),
                &ChatRequest::new().user(PROMPT),
                RequestOptions::within(Duration::from_secs(5)),
            )
            .await
            .unwrap()
    });
    assert_eq!(answer.response.text, ANSWER, "the fake answered");

    let requests = capture.named("taskroute.request");
    let [req] = &requests[..] else {
        panic!("{requests:?}")
    };
    assert_eq!(field(req, "gen_ai.operation.name"), "chat");
    assert_eq!(field(req, "gen_ai.request.model"), "cheap", "the routed primary");
    assert_eq!(
        field(req, "gen_ai.response.model"),
        "solid",
        "the model that answered"
    );
    assert_eq!(field(req, "gen_ai.system"), "up");
    assert_eq!(field(req, "gen_ai.usage.input_tokens"), "120");
    assert_eq!(field(req, "gen_ai.usage.output_tokens"), "30");

    let attempts = capture.named("taskroute.attempt");
    let [failed, ok] = &attempts[..] else {
        panic!("{attempts:?}")
    };
    assert_eq!(field(failed, "gen_ai.operation.name"), "chat");
    assert_eq!(field(failed, "gen_ai.system"), "down");
    assert_eq!(field(failed, "gen_ai.request.model"), "cheap");
    assert_eq!(field(failed, "error.type"), "overloaded");
    assert!(!failed.contains_key("gen_ai.usage.input_tokens"), "{failed:?}");
    assert_eq!(field(ok, "gen_ai.system"), "up");
    assert_eq!(field(ok, "gen_ai.request.model"), "solid");
    assert_eq!(field(ok, "gen_ai.response.model"), "solid");
    assert_eq!(field(ok, "gen_ai.usage.input_tokens"), "120");
    assert_eq!(field(ok, "gen_ai.usage.output_tokens"), "30");
    assert!(!ok.contains_key("error.type"), "{ok:?}");
    capture.assert_no_text();
}

#[test]
fn a_stream_records_its_usage_on_its_span_when_it_finishes() {
    let capture = Capture::default();
    let client = client();
    let text = run(&capture, async {
        let mut s = client
            .stream(
                &task(),
                &ChatRequest::new().user(PROMPT),
                RequestOptions::within(Duration::from_secs(5)),
            )
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(ev) = s.next().await {
            if let StreamEvent::TextDelta(t) = ev.unwrap() {
                text.push_str(&t);
            }
        }
        text
    });
    assert_eq!(text, ANSWER, "the fake streamed");
    let streams = capture.named("taskroute.stream");
    let [s] = &streams[..] else { panic!("{streams:?}") };
    assert_eq!(field(s, "gen_ai.operation.name"), "chat");
    assert_eq!(field(s, "gen_ai.request.model"), "cheap");
    assert_eq!(field(s, "gen_ai.response.model"), "solid");
    assert_eq!(field(s, "gen_ai.system"), "up");
    assert_eq!(field(s, "gen_ai.usage.input_tokens"), "120");
    assert_eq!(field(s, "gen_ai.usage.output_tokens"), "30");
    let attempts = capture.named("taskroute.attempt");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(field(&attempts[0], "error.type"), "overloaded");
    capture.assert_no_text();
}
