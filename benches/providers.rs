//! Provider wire-format speed, no network: building a request plus parsing a ~1 KB response
//! (target ≤ 50 µs), and stream parsing throughput (target ≥ 200 MB/s).
//!
//! `cargo bench --bench providers --all-features`
//!
//! `TASKROUTE_BENCH_CLOCK=thread-cpu` measures the benchmark thread's CPU time instead of wall
//! time (benches/support/clock.rs); `stream_parse` has a same-run baseline (JSON lines alone).
#![allow(missing_docs)] // criterion's macros generate undocumented functions

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use futures::StreamExt;
use serde_json::json;
use taskroute::provider::{
    ChatRequest, ChatStream, ProviderError, ToolDefinition, Usage, anthropic, bedrock, openai,
};
use taskroute::{ModelSpec, Prices};

fn model() -> ModelSpec {
    ModelSpec::new("m", "p", Prices::new(1.0, 2.0), 128_000).with_api_name("model-x")
}

fn request() -> ChatRequest {
    ChatRequest::new()
        .system("You are a helpful assistant. Answer briefly and cite the tool results you used.")
        .user("What is the weather in Paris today, and should I take an umbrella to the meeting at 3pm?")
        .tool(ToolDefinition::new(
            "get_weather",
            "Current weather for a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}),
        ))
        .max_tokens(512)
        .temperature(0.2)
}

/// About 1 KB of answer text.
fn text() -> String {
    "The forecast for Paris shows light rain in the afternoon, so take an umbrella. ".repeat(12)
}

fn openai_body() -> Vec<u8> {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "model-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 240, "total_tokens": 360}})
    .to_string()
    .into_bytes()
}

fn anthropic_body() -> Vec<u8> {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "model-x",
        "content": [{"type": "text", "text": text()}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 120, "output_tokens": 240}})
    .to_string()
    .into_bytes()
}

fn bedrock_body() -> Vec<u8> {
    json!({"output": {"message": {"role": "assistant", "content": [{"text": text()}]}}, "stopReason": "end_turn",
        "usage": {"inputTokens": 120, "outputTokens": 240, "totalTokens": 360}, "metrics": {"latencyMs": 900}})
    .to_string()
    .into_bytes()
}

const DELTA: &str = "the quick brown fox jumps over the lazy dog ";

fn openai_stream(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"model-x\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{DELTA}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn anthropic_stream(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"x\",\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    for _ in 0..n {
        s.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{DELTA}\"}}}}\n\n"
        ));
    }
    s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
    s.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n");
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

fn bedrock_stream(n: usize) -> Vec<u8> {
    let mut out = bedrock::codec::encode_frame("event", "messageStart", br#"{"role":"assistant"}"#);
    let delta =
        format!("{{\"contentBlockIndex\":0,\"delta\":{{\"text\":\"{DELTA}\"}},\"p\":\"abcdefghij\"}}");
    let frame = bedrock::codec::encode_frame("event", "contentBlockDelta", delta.as_bytes());
    for _ in 0..n {
        out.extend_from_slice(&frame);
    }
    out.extend(bedrock::codec::encode_frame(
        "event",
        "contentBlockStop",
        br#"{"contentBlockIndex":0}"#,
    ));
    out.extend(bedrock::codec::encode_frame(
        "event",
        "messageStop",
        br#"{"stopReason":"end_turn"}"#,
    ));
    out.extend(bedrock::codec::encode_frame(
        "event",
        "metadata",
        br#"{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}"#,
    ));
    out
}

/// Network-sized chunks (16 KiB), as a socket would deliver them.
fn chunks(body: &[u8]) -> futures::stream::Iter<std::vec::IntoIter<Result<Vec<u8>, ProviderError>>> {
    let v: Vec<Result<Vec<u8>, ProviderError>> = body.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(v)
}

fn drain(s: ChatStream) -> usize {
    futures::executor::block_on(s.fold(0usize, |n, ev| async move {
        assert!(ev.is_ok(), "{ev:?}");
        n + 1
    }))
}

fn request_and_response<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let m = model();
    let req = request();
    let mut g = c.benchmark_group(format!("{prefix}request_plus_1kb_response"));
    // Each client's round trip: the request's body built, the answer's body parsed.
    type RoundTrip = fn(&ModelSpec, &ChatRequest, &[u8]) -> (usize, Usage);
    let round_trips: [(&str, Vec<u8>, RoundTrip); 3] = [
        ("openai", openai_body(), |m, req, body| {
            let wire = openai::codec::encode_request(m, req, false).unwrap();
            (wire.len(), openai::codec::decode_response(m, body).unwrap().usage)
        }),
        ("anthropic", anthropic_body(), |m, req, body| {
            let wire = anthropic::codec::encode_request(m, req, false).unwrap();
            (
                wire.len(),
                anthropic::codec::decode_response(m, body).unwrap().usage,
            )
        }),
        ("bedrock", bedrock_body(), |m, req, body| {
            let wire = bedrock::codec::encode_request(m, req).unwrap();
            (
                wire.len(),
                bedrock::codec::decode_response(m, body).unwrap().usage,
            )
        }),
    ];
    for (name, body, round_trip) in round_trips {
        g.bench_function(name, |b| {
            b.iter(|| round_trip(&m, black_box(&req), black_box(&body)))
        });
    }
    g.finish();
}

fn stream_parsing<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let m = model();
    let mut g = c.benchmark_group(format!("{prefix}stream_parse"));
    g.sample_size(20);
    for (name, body) in [
        ("openai_sse", openai_stream(20_000)),
        ("anthropic_sse", anthropic_stream(20_000)),
        ("bedrock_eventstream", bedrock_stream(20_000)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let s = match name {
                    "openai_sse" => openai::codec::decode_stream(&m, chunks(&body)),
                    "anthropic_sse" => anthropic::codec::decode_stream(&m, chunks(&body)),
                    _ => bedrock::codec::decode_stream(&m, chunks(&body)),
                };
                drain(s)
            })
        });
        if name != "bedrock_eventstream" {
            // The floor, in the same run (a loaded machine slows both alike): split the same
            // bytes into lines and parse each `data:` payload into a `serde_json::Value`, with
            // no SSE framing, no size or UTF-8 checks and no `StreamEvent`s.
            g.bench_function(format!("{name}_baseline_json_lines"), |b| {
                b.iter(|| json_lines(black_box(&body)))
            });
        }
    }
    g.finish();
}

/// Parses every `data: ` line of an SSE body as JSON; the number of values parsed.
fn json_lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data: "))
        .filter(|data| serde_json::from_slice::<serde_json::Value>(data).is_ok())
        .count()
}

fn run<M: Measurement>(mut c: Criterion<M>, prefix: &str) {
    request_and_response(&mut c, prefix);
    stream_parsing(&mut c, prefix);
    c.final_summary();
}

clock::clock_main!(run);

#[path = "support/clock.rs"]
mod clock;
