//! Helpers for the provider integration tests: the aimock server's address, and a raw HTTP
//! server on 127.0.0.1 for responses aimock cannot produce (non-JSON, truncated, oversized, slow).
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskroute::{ModelSpec, Prices};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// What a raw server does with each connection.
#[derive(Clone)]
pub enum Reply {
    /// Writes these bytes and closes.
    Bytes(Vec<u8>),
    /// Waits, then writes these bytes.
    Delayed(Duration, Vec<u8>),
    /// Writes these bytes, then holds the connection open this long without sending more.
    Stall(Vec<u8>, Duration),
}

/// Serves `reply` to every connection on a fresh 127.0.0.1 port; returns the base URL and the
/// requests seen (headers and body, as text).
pub async fn raw_server(reply: Reply) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let req = read_request(&mut sock).await;
                seen.lock().unwrap().push(req);
                let bytes = match reply {
                    Reply::Bytes(b) => b,
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

async fn read_request(sock: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while let Ok(n) = sock.read(&mut tmp).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= pos + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// An HTTP/1.1 response with a body and a correct Content-Length.
pub fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
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
