//! A loopback OpenAI-compatible server that enforces requests- and tokens-per-minute limits per
//! API key, as OpenAI does, and answers 429 with OpenAI's headers when a client exceeds them.
//!
//! - Each key has two buckets (requests, tokens) holding at most one minute's limit and
//!   refilling continuously (OpenAI's `x-ratelimit-reset-*` is the time until full).
//! - A request is admitted when one request and its input plus `max_tokens` tokens are in the
//!   buckets; it is charged one request and its input plus its real output tokens.
//! - Input tokens are the whitespace-separated words of the messages; the output is a
//!   deterministic 50-100 % of `max_tokens`.
//! - Every answer carries `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; a 429 also
//!   `retry-after-ms` and `retry-after`, and OpenAI's error body.
//! - Time is the test's clock, shared with the client.
//! - Requests with `"stream": true` are answered as server-sent events, with the same headers.
//! - Requests to `.../messages` (with `x-api-key`) speak Anthropic's Messages dialect:
//!   `anthropic-ratelimit-{requests,tokens}-{limit,remaining}` headers, Anthropic's bodies,
//!   events and error.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskroute::runtime::Clock;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[path = "../http_wire/mod.rs"]
mod http_wire;
use http_wire::read_request;

/// One key's limits per minute (`None`: unlimited).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyLimits {
    pub rpm: Option<f64>,
    pub tpm: Option<f64>,
    /// Answer 503 to everything.
    pub down: bool,
}

/// What the server saw for one key.
#[derive(Clone, Debug, Default)]
pub struct KeyStats {
    pub served: u64,
    pub rejected_429: u64,
    pub failed_503: u64,
    /// The `n` of each served request's `req-n` marker, in the order the server admitted them.
    pub order: Vec<u64>,
    /// The server-side instant of each served request, in the same order.
    pub served_at: Vec<Instant>,
}

#[derive(Debug)]
struct Bucket {
    limit: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.limit / 60.0).min(self.limit);
        self.at = now;
    }
    /// Seconds until `n` fit.
    fn wait_for(&self, n: f64) -> f64 {
        ((n - self.level) * 60.0 / self.limit).max(0.0)
    }
    fn reset(&self) -> f64 {
        (self.limit - self.level) * 60.0 / self.limit
    }
}

#[derive(Debug)]
struct Key {
    limits: KeyLimits,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    stats: KeyStats,
}

#[derive(Debug)]
struct State {
    keys: HashMap<String, Key>,
    seq: u64,
}

/// The running server.
#[derive(Clone, Debug)]
pub struct LimitServer {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl LimitServer {
    /// Starts a server with these keys on a fresh 127.0.0.1 port.
    pub async fn start(clock: Arc<dyn Clock>, keys: &[(&str, KeyLimits)]) -> Self {
        let now = clock.now();
        let bucket = |l: Option<f64>| {
            l.map(|limit| Bucket {
                limit,
                level: limit,
                at: now,
            })
        };
        let state = Arc::new(Mutex::new(State {
            keys: keys
                .iter()
                .map(|(k, l)| {
                    (
                        (*k).to_owned(),
                        Key {
                            limits: *l,
                            requests: bucket(l.rpm),
                            tokens: bucket(l.tpm),
                            stats: KeyStats::default(),
                        },
                    )
                })
                .collect(),
            seq: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let st = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let st = Arc::clone(&st);
                let clock = Arc::clone(&clock);
                tokio::spawn(async move {
                    while let Some((head, body)) = read_request(&mut sock).await.head_and_body() {
                        let reply = answer(&st, clock.now(), &head.to_ascii_lowercase(), &body);
                        if sock.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { base_url, state }
    }

    /// What the server saw for `key`.
    pub fn stats(&self, key: &str) -> KeyStats {
        self.state.lock().unwrap().keys[key].stats.clone()
    }

    /// Takes a key down (503) or brings it back.
    pub fn set_down(&self, key: &str, down: bool) {
        self.state.lock().unwrap().keys.get_mut(key).unwrap().limits.down = down;
    }
}

fn go_duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{}ms", (secs * 1000.0).ceil() as u64)
    } else {
        let m = (secs / 60.0).floor();
        format!("{}m{:.3}s", m as u64, secs - m * 60.0)
    }
}

/// The text of a message's content: a string (OpenAI) or a list of text blocks (Anthropic).
fn content_text(c: &serde_json::Value) -> String {
    match c.as_array() {
        Some(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        None => c.as_str().unwrap_or("").to_owned(),
    }
}

fn answer(state: &Mutex<State>, now: Instant, head: &str, body: &[u8]) -> Vec<u8> {
    let anthropic = head.lines().next().is_some_and(|l| l.contains("/messages"));
    let key = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: bearer ")
                .or_else(|| l.strip_prefix("x-api-key:"))
        })
        .unwrap_or("")
        .trim()
        .to_owned();
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let streaming = req["stream"].as_bool() == Some(true);
    let text: String = req["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| content_text(&m["content"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let input = text.split_whitespace().count() as f64;
    let marker = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("req-"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let max_tokens = req["max_tokens"]
        .as_u64()
        .or_else(|| req["max_completion_tokens"].as_u64())
        .unwrap_or(256) as f64;
    let mut st = state.lock().unwrap();
    st.seq += 1;
    let seq = st.seq;
    let Some(k) = st.keys.get_mut(&key) else {
        return respond(
            "401 Unauthorized",
            &[],
            r#"{"error":{"message":"bad key","type":"invalid_request_error"}}"#,
        );
    };
    if k.limits.down {
        k.stats.failed_503 += 1;
        return respond(
            "503 Service Unavailable",
            &[],
            r#"{"error":{"message":"The server is overloaded","type":"server_error"}}"#,
        );
    }
    for b in [&mut k.requests, &mut k.tokens].into_iter().flatten() {
        b.refill(now);
    }
    let need = input + max_tokens;
    let wait = k
        .requests
        .as_ref()
        .map_or(0.0, |b| b.wait_for(1.0))
        .max(k.tokens.as_ref().map_or(0.0, |b| b.wait_for(need)));
    let output = (max_tokens * (50.0 + ((seq * 37) % 51) as f64) / 100.0).floor();
    let admitted = wait <= 0.0;
    if admitted {
        if let Some(b) = &mut k.requests {
            b.level -= 1.0;
        }
        if let Some(b) = &mut k.tokens {
            b.level -= input + output;
        }
    }
    let mut headers = Vec::new();
    for (what, b) in [("requests", &k.requests), ("tokens", &k.tokens)] {
        if let Some(b) = b {
            let (limit, remaining) = (
                format!("{}", b.limit as u64),
                format!("{}", b.level.max(0.0).floor() as u64),
            );
            if anthropic {
                headers.push((format!("anthropic-ratelimit-{what}-limit"), limit));
                headers.push((format!("anthropic-ratelimit-{what}-remaining"), remaining));
            } else {
                headers.push((format!("x-ratelimit-limit-{what}"), limit));
                headers.push((format!("x-ratelimit-remaining-{what}"), remaining));
                headers.push((format!("x-ratelimit-reset-{what}"), go_duration(b.reset())));
            }
        }
    }
    if !admitted {
        k.stats.rejected_429 += 1;
        headers.push((
            "retry-after-ms".to_owned(),
            format!("{}", (wait * 1000.0).ceil() as u64),
        ));
        headers.push(("retry-after".to_owned(), format!("{}", wait.ceil() as u64)));
        let which = if k.requests.as_ref().is_some_and(|b| b.wait_for(1.0) > 0.0) {
            "requests"
        } else {
            "tokens"
        };
        let body = if anthropic {
            format!(
                r#"{{"type":"error","error":{{"type":"rate_limit_error","message":"Number of {which} has exceeded your per-minute rate limit"}}}}"#
            )
        } else {
            format!(
                r#"{{"error":{{"message":"Rate limit reached for {which} per min (RPM). Please try again in {:.0}ms.","type":"{which}","param":null,"code":"rate_limit_exceeded"}}}}"#,
                wait * 1000.0
            )
        };
        return respond("429 Too Many Requests", &headers, &body);
    }
    k.stats.served += 1;
    k.stats.order.push(marker);
    k.stats.served_at.push(now);
    let (input, output) = (input as u64, output as u64);
    let body = match (anthropic, streaming) {
        (false, false) => format!(
            r#"{{"id":"chatcmpl-{seq}","object":"chat.completion","created":0,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"ok"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{input},"completion_tokens":{output},"total_tokens":{}}}}}"#,
            input + output
        ),
        (false, true) => {
            let chunk = |rest: &str| {
                format!(
                    "data: {{\"id\":\"chatcmpl-{seq}\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"m\",{rest}}}\n\n"
                )
            };
            [
                chunk(r#""choices":[{"index":0,"delta":{"role":"assistant","content":"ok"},"finish_reason":null}]"#),
                chunk(r#""choices":[{"index":0,"delta":{},"finish_reason":"stop"}]"#),
                chunk(&format!(
                    r#""choices":[],"usage":{{"prompt_tokens":{input},"completion_tokens":{output},"total_tokens":{}}}"#,
                    input + output
                )),
                "data: [DONE]\n\n".to_owned(),
            ]
            .concat()
        }
        (true, false) => format!(
            r#"{{"id":"msg_{seq}","type":"message","role":"assistant","model":"m","content":[{{"type":"text","text":"ok"}}],"stop_reason":"end_turn","usage":{{"input_tokens":{input},"output_tokens":{output}}}}}"#
        ),
        (true, true) => [
            ("message_start", format!(r#"{{"type":"message_start","message":{{"id":"msg_{seq}","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{{"input_tokens":{input},"output_tokens":1}}}}}}"#)),
            ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#.to_owned()),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}"#.to_owned()),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.to_owned()),
            ("message_delta", format!(r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn"}},"usage":{{"output_tokens":{output}}}}}"#)),
            ("message_stop", r#"{"type":"message_stop"}"#.to_owned()),
        ]
        .iter()
        .map(|(event, data)| format!("event: {event}\ndata: {data}\n\n"))
        .collect(),
    };
    if streaming {
        headers.push(("content-type".to_owned(), "text/event-stream".to_owned()));
    }
    respond("200 OK", &headers, &body)
}

fn respond(status: &str, headers: &[(String, String)], body: &str) -> Vec<u8> {
    let json = !headers.iter().any(|(k, _)| k == "content-type");
    let mut r = format!(
        "HTTP/1.1 {status}\r\n{}content-length: {}\r\n",
        if json {
            "content-type: application/json\r\n"
        } else {
            ""
        },
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// `n` words of prompt text, the first being the `req-<i>` marker.
pub fn prompt(i: u64, words: usize) -> String {
    let mut s = format!("req-{i}");
    for _ in 1..words {
        s.push_str(" w");
    }
    s
}

/// Whole simulated duration helper.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
