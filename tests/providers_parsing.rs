//! Property tests of the stream parsers: arbitrary bytes never panic (and the stream ends), and a
//! valid stream split at any points gives the same events as the whole body.
#![cfg(any(feature = "openai", feature = "anthropic", feature = "bedrock"))]

use futures::StreamExt;
use proptest::prelude::*;
use taskroute::provider::{ChatStream, ProviderError, StreamEvent};
use taskroute::{ModelSpec, Prices};

fn model() -> ModelSpec {
    ModelSpec::new("m", "p", Prices::new(1.0, 2.0), 100_000)
}

/// Runs a stream to its end: the events, then the error if it failed.
fn run(stream: ChatStream) -> (Vec<StreamEvent>, Option<String>) {
    futures::executor::block_on(async move {
        let mut s = stream;
        let mut events = Vec::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(ev) => events.push(ev),
                Err(e) => return (events, Some(format!("{:?}", e.kind()))),
            }
        }
        (events, None)
    })
}

/// The events of a stream that must end without an error.
fn events_of(stream: ChatStream) -> Vec<StreamEvent> {
    let (events, err) = run(stream);
    assert_eq!(err, None, "{events:?}");
    events
}

/// A body as a stream of chunks, as the codecs' `decode_stream` takes it.
type Chunks = futures::stream::Iter<std::vec::IntoIter<Result<Vec<u8>, ProviderError>>>;

/// `body` split at the given points (each taken modulo the length).
fn split(body: &[u8], cuts: &[usize]) -> Chunks {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.push(0);
    points.push(body.len());
    points.sort_unstable();
    points.dedup();
    let chunks: Vec<_> = points.windows(2).map(|w| Ok(body[w[0]..w[1]].to_vec())).collect();
    futures::stream::iter(chunks)
}

/// `body` in one chunk.
fn whole(body: &[u8]) -> Chunks {
    futures::stream::iter(vec![Ok(body.to_vec())])
}

/// The properties every stream parser must have, for a valid stream `$body` (a `Vec<u8>`
/// expression); `decode_stream` is the one in scope where this is used.
macro_rules! stream_properties {
    ($body:expr) => {
        proptest! {
            #[test]
            fn split_anywhere_gives_the_same_events(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
                let body: Vec<u8> = $body;
                let expected = run(decode_stream(&model(), whole(&body)));
                let got = run(decode_stream(&model(), split(&body, &cuts)));
                prop_assert_eq!(got, expected);
            }

            #[test]
            fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                           cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
                let _ = run(decode_stream(&model(), split(&body, &cuts)));
            }

            #[test]
            fn truncating_a_valid_stream_is_an_error(at in any::<usize>()) {
                let body: Vec<u8> = $body;
                let at = at % body.len();
                let (_, err) = run(decode_stream(&model(), whole(&body[..at])));
                prop_assert!(err.is_some(), "a stream cut at {} must not look complete", at);
            }
        }
    };
}

#[cfg(feature = "openai")]
mod openai {
    use super::*;
    use taskroute::provider::openai::codec::decode_stream;

    pub(super) const BODY: &str = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo \"},\"finish_reason\":null}]}\n\n",
        ": keep-alive comment\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\": 1}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn whole_body_parses() {
        let events = events_of(decode_stream(&model(), whole(BODY.as_bytes())));
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));
    }

    stream_properties!(BODY.as_bytes().to_vec());

    proptest! {
        #[test]
        fn sse_like_garbage_never_panics(lines in proptest::collection::vec(
            prop_oneof![
                Just("data: [DONE]".to_owned()),
                Just("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":99999999999}]}}]}".to_owned()),
                Just("data: {\"choices\":[{\"finish_reason\":\"stop\"}]}".to_owned()),
                "data: [ -~]{0,40}",
                "[a-z:]{0,10}",
                Just(String::new()),
            ], 0..30)) {
            let body = lines.join("\n");
            let _ = run(decode_stream(&model(), whole(body.as_bytes())));
        }
    }
}

#[cfg(feature = "anthropic")]
mod anthropic {
    use super::*;
    use taskroute::provider::anthropic::codec::decode_stream;

    const BODY: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"x\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"cache_read_input_tokens\":5}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello ✓\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" 1}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn whole_body_parses() {
        let events = events_of(decode_stream(&model(), whole(BODY.as_bytes())));
        match events.last() {
            Some(StreamEvent::Finish { usage, .. }) => {
                assert_eq!(
                    (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens),
                    (30, 15, 5)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    stream_properties!(BODY.as_bytes().to_vec());
}

#[cfg(feature = "bedrock")]
mod bedrock {
    use super::*;
    use taskroute::provider::bedrock::codec::{decode_stream, encode_frame};

    fn body() -> Vec<u8> {
        let events: [(&str, &str); 8] = [
            ("messageStart", r#"{"role":"assistant"}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"Hi "},"p":"abc"}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"there"}}"#,
            ),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\": 1}"}}}"#,
            ),
            ("contentBlockStop", r#"{"contentBlockIndex":1}"#),
            ("messageStop", r#"{"stopReason":"tool_use"}"#),
            (
                "metadata",
                r#"{"usage":{"inputTokens":10,"outputTokens":5,"totalTokens":15},"metrics":{"latencyMs":1}}"#,
            ),
        ];
        events
            .iter()
            .flat_map(|(t, p)| encode_frame("event", t, p.as_bytes()))
            .collect()
    }

    #[test]
    fn whole_body_parses() {
        let events = events_of(decode_stream(&model(), whole(&body())));
        assert_eq!(events.len(), 5, "{events:?}");
    }

    stream_properties!(body());

    proptest! {
        #[test]
        fn corrupting_a_valid_stream_never_panics(pos in any::<usize>(), byte in any::<u8>(),
                                                  cut in any::<usize>()) {
            let mut body = body();
            let n = body.len();
            body[pos % n] ^= byte | 1;
            let at = cut % (n + 1);
            let _ = run(decode_stream(&model(), whole(&body[..at])));
        }
    }
}
