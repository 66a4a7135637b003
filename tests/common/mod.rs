//! Helpers for the provider integration tests: the aimock server's address, and a raw HTTP
//! server on 127.0.0.1 for responses aimock cannot produce (non-JSON, truncated, oversized, slow).
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskroute::{CostFirst, ModelSpec, Prices, Router};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[path = "../http_wire/mod.rs"]
mod http_wire;
use http_wire::read_request;

/// The aimock base URL (`TASKROUTE_AIMOCK_URL`, default `http://127.0.0.1:4510`), after checking
/// that it answers `/health`. Fails the test with instructions when it does not.
pub async fn aimock_url() -> String {
    let url = std::env::var("TASKROUTE_AIMOCK_URL").unwrap_or_else(|_| "http://127.0.0.1:4510".to_owned());
    let url = url.trim_end_matches('/').to_owned();
    let ok = reqwest::Client::new()
        .get(format!("{url}/health"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    assert!(
        ok,
        "aimock is not reachable at {url}. Start it with `bash scripts/setup-aimock.sh` (installs \
         @copilotkit/aimock with npm and serves tests/fixtures/aimock on 127.0.0.1:4510), or point \
         TASKROUTE_AIMOCK_URL at a running one. CI={:?}",
        std::env::var("CI").ok()
    );
    url
}

/// A model with round prices, so costs are easy to check.
pub fn model(provider: &str, api_name: &str) -> ModelSpec {
    ModelSpec::new(
        format!("test-{provider}"),
        provider,
        Prices::new(1.0, 2.0),
        128_000,
    )
    .with_api_name(api_name)
}

/// A cost-first router (quality floor 0.7) over two OpenAI models, each `(id, prices)`: the
/// primary (quality 0.8) and the backup (0.9, dearer) it falls back to.
pub fn primary_and_backup(primary: (&str, Prices), backup: (&str, Prices)) -> Router {
    let model = |(id, prices): (&str, Prices), quality| {
        ModelSpec::new(id, "openai", prices, 128_000).with_default_quality(quality)
    };
    Router::builder()
        .model_spec(model(primary, 0.8))
        .model_spec(model(backup, 0.9))
        .policy(CostFirst::new(0.7).unwrap())
        .build()
        .unwrap()
}

/// What a raw server does with each connection.
#[derive(Clone)]
pub enum Reply {
    /// Writes these bytes and closes.
    Bytes(Vec<u8>),
    /// Waits, then writes these bytes.
    Delayed(Duration, Vec<u8>),
    /// Writes these bytes, then holds the connection open this long without sending more.
    Stall(Vec<u8>, Duration),
    /// Writes the n-th bytes to the n-th connection (the last to every later one), and closes.
    Sequence(Vec<Vec<u8>>),
}

/// Serves `reply` to every connection on a fresh 127.0.0.1 port; returns the base URL and the
/// requests seen (headers and body, as text).
pub async fn raw_server(reply: Reply) -> (String, Arc<Mutex<Vec<String>>>) {
    raw_server_for(|_| reply).await
}

/// [`raw_server`] with the reply made from the server's own base URL (`http://127.0.0.1:port`).
pub async fn raw_server_for(reply: impl FnOnce(&str) -> Reply) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = reply(&format!("http://{addr}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        for n in 0..16 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let req = read_request(&mut sock).await;
                seen.lock().unwrap().push(req.text());
                let bytes = match reply {
                    Reply::Bytes(b) => b,
                    Reply::Sequence(mut all) => {
                        let last = all.len().saturating_sub(1);
                        all.swap_remove(n.min(last))
                    }
                    Reply::Delayed(d, b) => {
                        tokio::time::sleep(d).await;
                        b
                    }
                    Reply::Stall(b, d) => {
                        let _ = sock.write_all(&b).await;
                        let _ = sock.flush().await;
                        tokio::time::sleep(d).await;
                        Vec::new()
                    }
                };
                let _ = sock.write_all(&bytes).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// The first 8 consecutive bytes of any of `secrets` found in `shown` (what a leak check
/// looks for: a secret cut short still leaks).
pub fn leak(shown: &str, secrets: &[&str]) -> Option<String> {
    secrets.iter().find_map(|s| {
        s.as_bytes()
            .windows(8)
            .map(|w| std::str::from_utf8(w).unwrap())
            .find(|w| shown.contains(w))
            .map(str::to_owned)
    })
}

/// An HTTP/1.1 response with a body and a correct Content-Length.
pub fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    response_with(status, &[("content-type", content_type)], body)
}

/// An HTTP/1.1 response with these headers, a body and a correct Content-Length.
pub fn response_with(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut r = r.into_bytes();
    r.extend_from_slice(body);
    r
}

/// An HTTP/1.1 response that promises `promised` bytes but sends only `body`, then closes.
pub fn truncated_response(content_type: &str, body: &[u8], promised: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {promised}\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A response with no Content-Length whose body runs until the connection closes.
pub fn close_delimited(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r =
        format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n").into_bytes();
    r.extend_from_slice(body);
    r
}

/// The checks every provider client passes against aimock and a raw server. Each takes the
/// client and the model to ask, so a provider's test file keeps only what is its own.
pub mod checks {
    use std::time::Duration;

    use futures::StreamExt;
    use serde_json::json;
    use taskroute::ModelSpec;
    use taskroute::provider::{
        ChatRequest, ChatResponse, ChatStream, Collector, ErrorKind, FinishReason, Provider, ProviderError,
        StreamEvent, ToolDefinition, Usage,
    };

    use super::{Reply, close_delimited, http_response, raw_server, truncated_response};

    /// The request the aimock fixtures answer with a `get_weather` tool call.
    pub fn weather_request() -> ChatRequest {
        ChatRequest::new()
            .user("What is the weather in Paris?")
            .tool(ToolDefinition::new(
                "get_weather",
                "Current weather for a city",
                json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ))
    }

    /// Every event of a stream, and the response they add up to.
    pub async fn drain(
        m: &ModelSpec,
        mut s: ChatStream,
    ) -> Result<(Vec<StreamEvent>, ChatResponse), ProviderError> {
        let mut events = Vec::new();
        let mut c = Collector::new();
        while let Some(ev) = s.next().await {
            let ev = ev?;
            events.push(ev.clone());
            c.push(ev);
        }
        Ok((events, c.finish(m)?))
    }

    /// Streams `req` and drains the stream.
    pub async fn collect(
        p: &dyn Provider,
        m: &ModelSpec,
        req: &ChatRequest,
    ) -> Result<(Vec<StreamEvent>, ChatResponse), ProviderError> {
        let s = p.stream(m, req).await?;
        drain(m, s).await
    }

    /// aimock's hello answer: text, finish reason, usage, and the cost at `model`'s prices.
    pub async fn complete_returns_text_usage_and_cost(p: &dyn Provider, m: &ModelSpec) {
        let r = p
            .complete(
                m,
                &ChatRequest::new().system("Be brief.").user("Please say hello"),
            )
            .await
            .unwrap();
        assert_eq!(r.text, "Hello from aimock.");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Usage::new(12, 5, 0));
        assert!(
            (r.cost_usd - (12.0 * 1.0 + 5.0 * 2.0) / 1e6).abs() < 1e-15,
            "{}",
            r.cost_usd
        );
        assert_eq!(r.model, m.id);
    }

    /// The streamed hello answer starts with text, ends in `Finish`, and adds up to the
    /// non-streamed one.
    pub async fn stream_gives_the_same_answer_as_complete(p: &dyn Provider, m: &ModelSpec) {
        let req = ChatRequest::new().user("Please say hello");
        let whole = p.complete(m, &req).await.unwrap();
        let (events, streamed) = collect(p, m, &req).await.unwrap();
        assert!(
            matches!(events.first(), Some(StreamEvent::TextDelta(_))),
            "{events:?}"
        );
        assert!(
            matches!(events.last(), Some(StreamEvent::Finish { .. })),
            "{events:?}"
        );
        assert_eq!(streamed, whole);
    }

    /// The weather tool call, whole and streamed (its arguments in two pieces or more).
    pub async fn tool_calls_complete_and_stream(p: &dyn Provider, m: &ModelSpec) {
        let r = p.complete(m, &weather_request()).await.unwrap();
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].id, "call_weather_1");
        assert_eq!(r.tool_calls[0].name, "get_weather");
        assert_eq!(
            r.tool_calls[0].arguments,
            json!({"city": "Paris", "unit": "celsius"})
        );
        let (events, streamed) = collect(p, m, &weather_request()).await.unwrap();
        let deltas = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
            .count();
        assert!(deltas >= 2, "arguments arrive in pieces: {events:?}");
        assert_eq!(streamed.tool_calls, r.tool_calls);
        assert_eq!(streamed.finish_reason, FinishReason::ToolCalls);
    }

    /// The error aimock sends for `prompt`.
    pub async fn error_for(p: &dyn Provider, m: &ModelSpec, prompt: &str) -> ProviderError {
        p.complete(m, &ChatRequest::new().user(prompt)).await.unwrap_err()
    }

    /// aimock's error fixtures (`trigger ...` prompts, and a prompt nothing matches) map to
    /// typed errors with the right status, `Retry-After`, and retry/fallback advice.
    pub async fn aimock_errors_map_to_kinds(p: &dyn Provider, m: &ModelSpec) {
        let e = error_for(p, m, "trigger rate limit").await;
        assert_eq!((e.kind(), e.status()), (ErrorKind::RateLimited, Some(429)), "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_retryable() && e.can_fallback());
        // The same error before the first streamed byte comes from `stream` itself.
        let Err(e) = p.stream(m, &ChatRequest::new().user("trigger rate limit")).await else {
            panic!("expected an error");
        };
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = error_for(p, m, "trigger server error").await;
        assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(500)), "{e}");
        assert!(e.is_retryable());
        let e = error_for(p, m, "trigger auth error").await;
        assert_eq!(
            (e.kind(), e.status()),
            (ErrorKind::Authentication, Some(401)),
            "{e}"
        );
        assert!(!e.is_retryable());
        let e = error_for(p, m, "trigger permission error").await;
        assert_eq!((e.kind(), e.status()), (ErrorKind::Permission, Some(403)), "{e}");
        let e = error_for(p, m, "trigger missing model").await;
        assert_eq!((e.kind(), e.status()), (ErrorKind::NotFound, Some(404)), "{e}");
        assert!(e.can_fallback());
        let e = error_for(p, m, "nothing in the fixtures matches this").await;
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let e = error_for(p, m, "trigger context length").await;
        assert_eq!(e.kind(), ErrorKind::ContextTooLong, "{e}");
        assert!(!e.is_retryable() && e.can_fallback());
    }

    /// aimock's overloaded fixture is a retryable `Overloaded` error.
    pub async fn overloaded_is_retryable(p: &dyn Provider, m: &ModelSpec) -> ProviderError {
        let e = error_for(p, m, "trigger overloaded").await;
        assert_eq!(e.kind(), ErrorKind::Overloaded, "{e}");
        assert!(e.is_retryable() && e.can_fallback());
        e
    }

    /// The auth error (whose fixture echoes `key`) shows the key in neither its message, its
    /// `Debug`, nor the client's `Debug`.
    pub async fn auth_error_never_shows_the_key<P: Provider + std::fmt::Debug>(
        p: &P,
        m: &ModelSpec,
        key: &str,
    ) {
        let e = error_for(p, m, "trigger auth error").await;
        assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
        for shown in [e.to_string(), format!("{e:?}"), format!("{p:?}")] {
            assert!(!shown.contains(key), "key leaked: {shown}");
        }
        assert!(e.to_string().contains("[REDACTED]"), "{e}");
    }

    /// The error `complete` returns against a raw server sending `reply`.
    pub async fn raw_complete<P: Provider>(
        make: impl Fn(&str) -> P,
        m: &ModelSpec,
        reply: Reply,
    ) -> ProviderError {
        let (base, _) = raw_server(reply).await;
        make(&base)
            .complete(m, &ChatRequest::new().user("hi"))
            .await
            .unwrap_err()
    }

    /// The request a client made for `hi` to a model whose API name is `wire-name`, against a
    /// raw server answering with `body` (a JSON answer saying `ok`). Checks the answer and that
    /// the request names the model by its API name.
    pub async fn request_sent<P: Provider>(make: impl Fn(&str) -> P, provider: &str, body: &[u8]) -> String {
        let (base, seen) = raw_server(Reply::Bytes(http_response("200 OK", "application/json", body))).await;
        let r = make(&base)
            .complete(
                &super::model(provider, "wire-name"),
                &ChatRequest::new().user("hi"),
            )
            .await
            .unwrap();
        assert_eq!(r.text, "ok");
        let req = seen.lock().unwrap()[0].clone();
        assert!(req.contains("\"model\":\"wire-name\""), "{req}");
        req
    }

    /// The error a stream ends in after a first event that is the text `first`.
    pub async fn error_after_text(s: ChatStream, first: &str) -> ProviderError {
        let mut got: Vec<_> = s.collect().await;
        assert!(
            matches!(&got[0], Ok(StreamEvent::TextDelta(t)) if t == first),
            "{got:?}"
        );
        got.pop().unwrap().unwrap_err()
    }

    /// The error a stream ends in against a raw server sending `body` as `content_type`.
    pub async fn raw_stream<P: Provider>(
        make: impl Fn(&str) -> P,
        m: &ModelSpec,
        content_type: &str,
        body: &[u8],
    ) -> ProviderError {
        let (base, _) = raw_server(Reply::Bytes(close_delimited(content_type, body))).await;
        collect(&make(&base), m, &ChatRequest::new().user("hi"))
            .await
            .unwrap_err()
    }

    /// Bad JSON, HTML, a truncated body, oversized bodies (with and without Content-Length), a
    /// slow server and a 502 page: each a typed error. `make` builds a client for a base URL
    /// with a 500 ms timeout and a 4 KiB response cap.
    pub async fn bad_json_truncated_oversized_and_slow_responses<P: Provider>(
        make: impl Fn(&str) -> P,
        m: &ModelSpec,
    ) {
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(http_response(
                "200 OK",
                "application/json",
                b"{\"choices\": [oops",
            )),
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(http_response("200 OK", "text/html", b"<html>hello</html>")),
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(truncated_response("application/json", b"{\"choices\":[", 500)),
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        let big = format!("{{\"choices\":[],\"pad\":\"{}\"}}", "x".repeat(10_000));
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(http_response("200 OK", "application/json", big.as_bytes())),
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(close_delimited("application/json", big.as_bytes())),
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
        let e = raw_complete(&make, m, Reply::Delayed(Duration::from_secs(3), Vec::new())).await;
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.is_retryable());
        let e = raw_complete(
            &make,
            m,
            Reply::Bytes(http_response("502 Bad Gateway", "text/html", b"<h1>502</h1>")),
        )
        .await;
        assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(502)), "{e}");
    }

    /// An SSE stream cut before its end, one over the 4 KiB cap, and one with a non-JSON event:
    /// each a typed error.
    pub async fn truncated_and_oversized_sse_streams<P: Provider>(make: impl Fn(&str) -> P, m: &ModelSpec) {
        let cut =
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
        let e = raw_stream(&make, m, "text/event-stream", cut).await;
        assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
        let big = cut.repeat(100);
        let e = raw_stream(&make, m, "text/event-stream", &big).await;
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
        let e = raw_stream(&make, m, "text/event-stream", b"data: {not json\n\n").await;
        assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    }

    /// aimock answers a request body that is not JSON with a 400; the client cannot send one,
    /// so the bytes go to `{base}{path}` by hand and the answer through `decode_error`.
    pub async fn aimock_bad_json_request_maps_to_invalid_request(
        path: &str,
        decode_error: fn(u16, Option<Duration>, &[u8]) -> ProviderError,
    ) {
        let base = super::aimock_url().await;
        let resp = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body("{\"model\": \"m\", \"messages\": [")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        let e = decode_error(status, None, &body);
        assert_eq!(
            (e.kind(), e.status()),
            (ErrorKind::InvalidRequest, Some(400)),
            "{e}"
        );
        assert!(!e.can_fallback() && !e.is_retryable());
        assert!(e.message().to_ascii_lowercase().contains("json"), "{e}");
    }

    /// A client is `Send + Sync + Clone + 'static` and usable as `Arc<dyn Provider>`.
    pub fn client_is_send_sync_clone_and_object_safe<T: Provider + Clone + 'static>() {
        let _: Option<std::sync::Arc<dyn Provider>> = None::<std::sync::Arc<T>>.map(|c| c as _);
    }
}

/// The tests every provider client runs against aimock, from [`checks`]: `aimock_tests!(Type,
/// client expression, model expression)` in a provider's test file.
#[allow(unused_macros)]
macro_rules! aimock_tests {
    ($ty:ty, $client:expr, $model:expr) => {
        $crate::common::check_tests!(
            (&$client, &$model);
            complete_returns_text_usage_and_cost,
            stream_gives_the_same_answer_as_complete,
            tool_calls_complete_and_stream,
            aimock_errors_map_to_kinds,
            overloaded_is_retryable
        );

        #[test]
        fn client_is_send_sync_clone_and_object_safe() {
            $crate::common::checks::client_is_send_sync_clone_and_object_safe::<$ty>();
        }
    };
}
#[allow(unused_imports)]
pub(crate) use aimock_tests;

/// One `#[tokio::test]` per named check of [`checks`], named as the check, each calling it with
/// the same arguments: `check_tests!((argument, ...); check, ...)`.
#[allow(unused_macros)]
macro_rules! check_tests {
    ($args:tt; $($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            $crate::common::checks::$check $args.await;
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use check_tests;

/// The configuration test of a client that takes an API key and a base URL:
/// `key_config_test!(Type, "KEY_VAR", "BASE_VAR", "local base" => "base_url() shown", "remote
/// plain-http base")`. Variables fill the builder and the key stays out of `Debug`; no key for
/// the default endpoint, or a key over plain http to a remote host, is a `Config` error that does
/// not show the key; a key-less remote server over plain http is fine.
#[allow(unused_macros)]
macro_rules! key_config_test {
    ($ty:ident, $key_var:literal, $base_var:literal, $local:literal => $shown:literal, $remote:literal) => {
        #[test]
        fn configuration_from_variables() {
            use taskroute::provider::ErrorKind;
            let vars = |k: &str| match k {
                $key_var => Some(KEY.to_owned()),
                $base_var => Some($local.to_owned()),
                _ => None,
            };
            let c = $ty::builder().from_vars(vars).build().unwrap();
            assert_eq!(c.base_url(), $shown);
            assert!(!format!("{c:?}").contains(KEY));
            let e = $ty::builder().from_vars(|_| None).build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            let e = $ty::builder()
                .api_key(KEY)
                .base_url($remote)
                .build()
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(!e.to_string().contains(KEY));
            assert!($ty::builder().base_url($remote).build().is_ok());
        }
    };
}
#[allow(unused_imports)]
pub(crate) use key_config_test;

/// The tests of a client that sends an API key over SSE-streaming HTTP (OpenAI, Anthropic), the
/// [`aimock_tests!`] among them: `key_client_tests!(Type, client expression, model expression,
/// "provider")`, with `KEY` in scope. Also defines `raw_client(base)`: a client for a raw server,
/// with a 500 ms timeout and a 4 KiB response cap.
#[allow(unused_macros)]
macro_rules! key_client_tests {
    ($ty:ident, $client:expr, $model:expr, $provider:literal) => {
        $crate::common::aimock_tests!($ty, $client, $model);

        fn raw_client(base: &str) -> $ty {
            $ty::builder()
                .base_url(base)
                .api_key(KEY)
                .timeout(std::time::Duration::from_millis(500))
                .max_response_bytes(4096)
                .build()
                .unwrap()
        }

        #[tokio::test]
        async fn auth_error_never_shows_the_key() {
            $crate::common::checks::auth_error_never_shows_the_key(&$client, &$model, KEY).await;
        }

        // Each a typed error: bad JSON, HTML, truncated and oversized bodies, a slow server;
        // truncated and oversized SSE streams.
        $crate::common::check_tests!(
            (raw_client, &$crate::common::model($provider, "m"));
            bad_json_truncated_oversized_and_slow_responses,
            truncated_and_oversized_sse_streams
        );
    };
}
#[allow(unused_imports)]
pub(crate) use key_client_tests;
