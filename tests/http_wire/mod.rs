//! Reading HTTP/1.1 requests off a socket, for the tests' loopback servers (`tests/common`'s raw
//! server and `tests/deploy_support`'s rate-limited one). Included with
//! `#[path = "../http_wire/mod.rs"] mod http_wire;`.
#![allow(dead_code, unreachable_pub)]

use std::ops::Range;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// One request as read off a connection.
#[derive(Debug)]
pub struct Request {
    /// Everything read: the head, the blank line after it, and the body.
    pub bytes: Vec<u8>,
    /// Where the body is in `bytes` (its Content-Length bytes), when the request is whole;
    /// `None` when the peer hung up (or the read failed) before.
    pub body: Option<Range<usize>>,
}

impl Request {
    /// Everything read, as text (whole or not).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The head (without the blank line after it) and the body of a whole request.
    pub fn head_and_body(&self) -> Option<(String, Vec<u8>)> {
        let body = self.body.clone()?;
        let head = String::from_utf8_lossy(&self.bytes[..body.start - 4]).into_owned();
        Some((head, self.bytes[body].to_vec()))
    }
}

/// Reads one request: until its head and Content-Length bytes of body have arrived, or the peer
/// hangs up. A kept-alive connection can be read again for its next request.
pub async fn read_request(sock: &mut TcpStream) -> Request {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(body) = body_of_whole(&bytes) {
            return Request {
                bytes,
                body: Some(body),
            };
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return Request { bytes, body: None },
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Where the body is, once `bytes` hold a whole request.
fn body_of_whole(bytes: &[u8]) -> Option<Range<usize>> {
    let start = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..start]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (bytes.len() >= start + len).then_some(start..start + len)
}
