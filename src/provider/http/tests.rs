//! Unit tests of the shared HTTP plumbing.

use super::*;

#[test]
fn secrets_never_print() {
    let s = Secret::new("sk-very-secret");
    assert_eq!(format!("{s:?}"), "[REDACTED]");
    assert_eq!(s.expose(), "sk-very-secret");
}

#[test]
fn keys_go_over_http_only_to_loopback() {
    for ok in [
        "https://api.openai.com/v1",
        "http://127.0.0.1:4010/v1",
        "http://127.9.9.9",
        "http://[::1]:8080",
        "http://localhost:11434/v1/",
    ] {
        assert!(parse_base_url("t", ok, true).is_ok(), "{ok}");
    }
    for bad in [
        "http://10.0.0.5/v1",
        "http://example.com",
        "ftp://127.0.0.1",
        "nonsense",
    ] {
        let e = parse_base_url("t", bad, true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
    }
    // Without a key, plain http anywhere is the user's business.
    assert!(parse_base_url("t", "http://example.com", false).is_ok());
}

#[test]
fn join_keeps_base_path() {
    let b = parse_base_url("t", "http://127.0.0.1:1/v1/", true).unwrap();
    assert_eq!(
        join(&b, "/chat/completions").as_str(),
        "http://127.0.0.1:1/v1/chat/completions"
    );
    let b = parse_base_url("t", "https://x.com", true).unwrap();
    assert_eq!(join(&b, "v1/messages").as_str(), "https://x.com/v1/messages");
}

#[test]
fn a_key_across_the_cut_is_redacted_before_the_cut() {
    let key = "sk-straddling-the-cut-0123456789";
    for pad in 270..=300 {
        let body = format!("{}{key} is wrong", "x".repeat(pad));
        let msg = unparsed_error_message(body.as_bytes(), &[key]);
        assert!(!msg.contains(&key[..6]), "{pad}: {msg}");
    }
}

#[test]
fn status_kinds() {
    assert_eq!(status_kind(429), ErrorKind::RateLimited);
    assert_eq!(status_kind(529), ErrorKind::Overloaded);
    assert_eq!(status_kind(502), ErrorKind::Server);
    assert_eq!(status_kind(422), ErrorKind::InvalidRequest);
    assert_eq!(status_kind(504), ErrorKind::Timeout);
}

#[tokio::test]
async fn cap_stream_stops_after_the_cap() {
    let chunks = futures::stream::iter((0..10).map(|_| Ok(Bytes::from_static(b"0123456789"))));
    let got: Vec<_> = cap_stream("t", chunks, 35).collect().await;
    assert_eq!(got.len(), 4);
    assert!(got[..3].iter().all(Result::is_ok));
    assert_eq!(got[3].as_ref().unwrap_err().kind(), ErrorKind::ResponseTooLarge);
}

#[test]
fn base_urls_with_credentials_are_refused_and_errors_never_show_a_secret() {
    let e = parse_base_url("t", "https://user:hunter2@api.example.com/v1", true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    for (raw, why) in [
        ("https://user:hunter2@api.example.com/v1", "credentials"),
        ("https://api.example.com:99999/v1?key=hunter2", "invalid port"),
        ("not a url hunter2", "not a URL"),
        ("data:hunter2", "no host"),
    ] {
        let e = parse_base_url("t", raw, true).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{why}: {text}");
    }
    assert_eq!(
        shown_url("https://u:p4ss@gw.example/v1?api-key=hunter2#frag"),
        "https://gw.example/v1?…"
    );
    assert_eq!(shown_url("http://127.0.0.1:4010/v1"), "http://127.0.0.1:4010/v1");
    assert_eq!(shown_url("hunter2"), "<not a URL>");
}

#[cfg(feature = "openai")]
#[test]
fn a_clients_and_its_builders_debug_never_show_a_secret_in_the_base_url() {
    let builder = crate::provider::openai::OpenAi::builder()
        .api_key("sk-test")
        .base_url("https://gw.example/v1?api-key=hunter2");
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("gw.example"),
        "{shown}"
    );
    let client = builder.build().unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("gw.example"),
        "{shown}"
    );
}
