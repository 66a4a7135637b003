//! HTTP security of the provider clients, on raw servers on 127.0.0.1: every form of
//! `Retry-After` reaches the error faithfully, redirects to another host or scheme are not
//! followed (so `x-api-key` and `x-amz-security-token` never reach another host), and error
//! bodies and streamed error events that echo a credential never show any of it. Proxies: `tests/providers_proxy.rs`;
//! logs: `tests/providers_logs.rs`.
#![cfg(all(feature = "openai", feature = "anthropic", feature = "bedrock"))]

mod common;

use std::time::{Duration, SystemTime};

use common::{Reply, close_delimited, http_response, leak, model, raw_server, raw_server_for, response_with};
use futures::StreamExt;
use taskroute::ModelSpec;
use taskroute::provider::anthropic::Anthropic;
use taskroute::provider::bedrock::Bedrock;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, ErrorKind, Provider, ProviderError};

// No two share 8 consecutive bytes, so a leak check can look for any 8 of them.
const KEY: &str = "sk-Q7mZ2xVb9LpR4tWc8NhY";
const AWS_SECRET: &str = "aws/Jk3Fq8Ls2Dp6Gh1Zx5Cv0";
const SESSION: &str = "sess-Mu4Rt7Yi9Oe2Wq5Az8";
const BEDROCK_KEY: &str = "brk-Pn6Bv3Xc1Lk8Jh4Gf7";

fn timeout() -> Duration {
    Duration::from_secs(3)
}

/// Every client (OpenAI, Anthropic, Bedrock with SigV4 and a session token, Bedrock with an
/// API key) for `base`, with the model to ask and the credentials it holds.
fn clients(base: &str) -> Vec<(Box<dyn Provider>, ModelSpec, Vec<&'static str>)> {
    let bedrock = || {
        Bedrock::builder()
            .region("us-east-1")
            .endpoint(base)
            .timeout(timeout())
    };
    vec![
        (
            Box::new(
                OpenAi::builder()
                    .base_url(base)
                    .api_key(KEY)
                    .timeout(timeout())
                    .build()
                    .unwrap(),
            ),
            model("openai", "m"),
            vec![KEY],
        ),
        (
            Box::new(
                Anthropic::builder()
                    .base_url(base)
                    .api_key(KEY)
                    .timeout(timeout())
                    .build()
                    .unwrap(),
            ),
            model("anthropic", "m"),
            vec![KEY],
        ),
        (
            Box::new(
                bedrock()
                    .credentials("AKIDEXAMPLE", AWS_SECRET)
                    .session_token(SESSION)
                    .build()
                    .unwrap(),
            ),
            model("bedrock", "m"),
            vec![AWS_SECRET, SESSION],
        ),
        (
            Box::new(bedrock().bearer_token(BEDROCK_KEY).build().unwrap()),
            model("bedrock", "m"),
            vec![BEDROCK_KEY],
        ),
    ]
}

fn hi() -> ChatRequest {
    ChatRequest::new().user("hi")
}

/// The errors of `complete` and of `stream`, for every client, against a server that sends
/// `reply` to every connection.
async fn errors_for(reply: Vec<u8>) -> Vec<(ProviderError, Vec<&'static str>)> {
    errors_from(|_| reply).await
}

/// [`errors_for`] with the reply made from the server's own base URL.
async fn errors_from(reply: impl FnOnce(&str) -> Vec<u8>) -> Vec<(ProviderError, Vec<&'static str>)> {
    let (base, _) = raw_server_for(|b| Reply::Bytes(reply(b))).await;
    let mut out = Vec::new();
    for (p, m, secrets) in clients(&base) {
        out.push((p.complete(&m, &hi()).await.unwrap_err(), secrets.clone()));
        let Err(e) = p.stream(&m, &hi()).await else {
            panic!("{}: a 4xx must fail the stream call", p.name());
        };
        out.push((e, secrets));
    }
    out
}

fn port(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn retry_after_in_every_form_reaches_the_error_faithfully() {
    let date = "Wed, 21 Oct 2015 06:28:00 GMT";
    let cases: Vec<(Vec<(&str, String)>, Duration)> = vec![
        (vec![("retry-after", "120".into())], Duration::from_secs(120)),
        (vec![("retry-after", "86401".into())], Duration::from_secs(86_401)),
        (
            vec![("retry-after", "999999".into())],
            Duration::from_secs(999_999),
        ),
        (
            vec![("retry-after", "99999999999999999999999".into())],
            Duration::MAX,
        ),
        (
            vec![
                ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".into()),
                ("date", date.into()),
            ],
            Duration::from_secs(3_600),
        ),
        (
            vec![
                ("retry-after", "Wednesday, 21-Oct-15 07:28:00 GMT".into()),
                ("date", date.into()),
            ],
            Duration::from_secs(3_600),
        ),
        (
            vec![
                ("retry-after", "Wed Oct 21 07:28:00 2015".into()),
                ("date", date.into()),
            ],
            Duration::from_secs(3_600),
        ),
        (
            vec![("retry-after-ms", "1500".into())],
            Duration::from_millis(1_500),
        ),
        (
            vec![("retry-after-ms", "90000000".into()), ("retry-after", "1".into())],
            Duration::from_secs(90_000),
        ),
    ];
    for (headers, want) in cases {
        let mut h: Vec<(&str, &str)> = vec![("content-type", "text/plain")];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        for (e, _) in errors_for(response_with("429 Too Many Requests", &h, b"slow down")).await {
            assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
            assert_eq!(e.retry_after(), Some(want), "{headers:?}: {e}");
        }
    }
}

#[tokio::test]
async fn a_retry_after_date_without_a_date_header_is_measured_from_the_local_clock() {
    let day = Duration::from_secs(86_400);
    let at = httpdate::fmt_http_date(SystemTime::now() + day);
    let h = [("content-type", "text/plain"), ("retry-after", at.as_str())];
    for (e, _) in errors_for(response_with("503 Service Unavailable", &h, b"")).await {
        let got = e.retry_after().unwrap_or_else(|| panic!("no retry_after: {e}"));
        // One second of date resolution, and a few for a loaded machine.
        assert!(got <= day && got >= day - Duration::from_secs(10), "{got:?}");
    }
}

/// A server that accepts the forwarded request and records it.
async fn elsewhere() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    raw_server(Reply::Bytes(http_response("200 OK", "application/json", b"{}"))).await
}

#[tokio::test]
async fn redirects_to_another_host_or_scheme_are_not_followed() {
    let (other, other_seen) = elsewhere().await;
    let other_port = port(&other);
    for status in [
        "307 Temporary Redirect",
        "308 Permanent Redirect",
        "302 Found",
        "301 Moved Permanently",
        "303 See Other",
    ] {
        let targets: [&dyn Fn(&str) -> String; 3] = [
            // Another host (same port): reqwest would strip only `Authorization`.
            &|_| format!("http://localhost:{other_port}/steal"),
            // Another scheme on the same host and port.
            &|base| format!("https{}/v1/messages", base.trim_start_matches("http")),
            // Another port on the same host.
            &|_| format!("http://127.0.0.1:{other_port}/steal"),
        ];
        for target in targets {
            let errors = errors_from(|base| response_with(status, &[("location", &target(base))], b"")).await;
            for (e, _) in errors {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                assert_eq!(e.status().map(|s| s.to_string()), Some(status[..3].to_owned()));
                assert!(e.to_string().contains("redirected to"), "{e}");
            }
        }
    }
    let forwarded = other_seen.lock().unwrap().clone();
    assert!(
        forwarded.is_empty(),
        "a redirect was followed to another origin: {forwarded:?}"
    );
}

#[tokio::test]
async fn redirects_within_the_origin_are_followed_a_bounded_number_of_times() {
    let ok = br#"{"choices":[{"message":{"content":"moved ok"},"finish_reason":"stop"}]}"#;
    let (base, seen) = raw_server(Reply::Sequence(vec![
        response_with(
            "307 Temporary Redirect",
            &[("location", "/v2/chat/completions")],
            b"",
        ),
        http_response("200 OK", "application/json", ok),
    ]))
    .await;
    let (p, m, _) = clients(&base).remove(0);
    let r = p.complete(&m, &hi()).await.unwrap();
    assert_eq!(r.text, "moved ok");
    let seen = seen.lock().unwrap().clone();
    assert!(seen[1].starts_with("POST /v2/chat/completions "), "{seen:?}");
    assert!(seen[1].contains(KEY), "the key goes with a same-origin redirect");
    // A redirect loop stops after 10 follows with a typed error.
    let (base, seen) = raw_server(Reply::Bytes(response_with(
        "307 Temporary Redirect",
        &[("location", "/loop")],
        b"",
    )))
    .await;
    let (p, m, _) = clients(&base).remove(0);
    let e = p.complete(&m, &hi()).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Config, Some(307)), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 11);
}

#[tokio::test]
async fn error_bodies_that_echo_a_credential_never_show_any_of_it() {
    let (base, _) = raw_server(Reply::Bytes(Vec::new())).await;
    let secrets_of: Vec<Vec<&str>> = clients(&base).into_iter().map(|c| c.2).collect();
    let all: Vec<&str> = secrets_of.concat();
    let echo = all.join(" and ");
    // Non-JSON bodies with the credentials at every offset around the 300-byte cut.
    let mut bodies: Vec<(String, String)> = [0, 250, 270, 280, 290, 295, 299, 300, 1_000, 5_000]
        .iter()
        .map(|pad| {
            (
                "text/plain".to_owned(),
                format!("{}{echo} were rejected", "x".repeat(*pad)),
            )
        })
        .collect();
    // JSON bodies in each provider's error shape, echoing them in the message and in the code.
    for body in [
        serde_json::json!({"error": {"message": echo, "type": echo, "code": echo}}),
        serde_json::json!({"type": "error", "error": {"type": echo, "message": echo}}),
        serde_json::json!({"message": echo, "__type": echo}),
    ] {
        bodies.push(("application/json".to_owned(), body.to_string()));
    }
    for (content_type, body) in bodies {
        let headers = [
            ("content-type", content_type.as_str()),
            ("x-amzn-errortype", echo.as_str()),
        ];
        for (e, secrets) in errors_for(response_with("401 Unauthorized", &headers, body.as_bytes())).await {
            for shown in [e.to_string(), format!("{e:?}"), e.message().to_owned()] {
                assert_eq!(leak(&shown, &secrets), None, "{shown}");
            }
        }
    }
}

/// A streamed answer in `provider`'s wire format: the text `Hi`, then an error event whose
/// every field says `echo`.
fn stream_failing_with(provider: &str, echo: &str) -> Vec<u8> {
    let echoed = serde_json::json!({"type": echo, "message": echo, "code": echo});
    match provider {
        "openai" => close_delimited(
            "text/event-stream",
            format!(
                "data: {}\n\ndata: {}\n\n",
                serde_json::json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
                serde_json::json!({"error": echoed}),
            )
            .as_bytes(),
        ),
        "anthropic" => close_delimited(
            "text/event-stream",
            format!(
                "event: content_block_delta\ndata: {}\n\nevent: error\ndata: {}\n\n",
                serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
                serde_json::json!({"type": "error", "error": echoed}),
            )
            .as_bytes(),
        ),
        _ => {
            use taskroute::provider::bedrock::codec::encode_frame;
            let delta = serde_json::json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}});
            let mut body = encode_frame("event", "contentBlockDelta", delta.to_string().as_bytes());
            body.extend(encode_frame("exception", echo, echoed.to_string().as_bytes()));
            close_delimited("application/vnd.amazon.eventstream", &body)
        }
    }
}

#[tokio::test]
async fn streamed_error_events_that_echo_a_credential_never_show_any_of_it() {
    // The secrets a stream's parser redacts are the ones its client's transport holds.
    let (base, _) = raw_server(Reply::Bytes(Vec::new())).await;
    let echo = clients(&base)
        .into_iter()
        .flat_map(|c| c.2)
        .collect::<Vec<_>>()
        .join(" and ");
    for i in 0..clients(&base).len() {
        let provider = clients(&base)[i].1.provider.clone();
        let (base, _) = raw_server(Reply::Bytes(stream_failing_with(&provider, &echo))).await;
        let (p, m, secrets) = clients(&base).swap_remove(i);
        let events: Vec<_> = p.stream(&m, &hi()).await.unwrap().collect().await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Ok(taskroute::provider::StreamEvent::TextDelta(t)) if t == "Hi")),
            "{provider}: {events:?}"
        );
        let Some(Err(e)) = events.last() else {
            panic!("{provider}: the stream must end in its error event: {events:?}");
        };
        for shown in [e.to_string(), format!("{e:?}"), e.message().to_owned()] {
            assert_eq!(leak(&shown, &secrets), None, "{provider} #{i}: {shown}");
        }
        assert!(e.message().contains("[REDACTED]"), "{provider} #{i}: {e}");
    }
}
