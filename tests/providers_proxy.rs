//! Proxies never see a credential: with `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` set, a client
//! whose base URL is loopback goes direct; an https base URL elsewhere goes through the proxy as
//! a `CONNECT` tunnel (the key inside TLS), unless `NO_PROXY` names it.
//!
//! Proxy variables are process-wide (and reqwest reads them once per process), so each case runs
//! the clients in a child process: this test binary again, running only the ignored
//! `child_sends_one_request_per_client` with the variables set. The parent holds the fake proxy
//! and the target server, both on 127.0.0.1, and checks what each of them saw. Nothing here
//! changes this process's environment, so other tests are unaffected.
#![cfg(all(feature = "openai", feature = "anthropic", feature = "bedrock"))]

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Reply, http_response, model, raw_server};
use taskroute::provider::anthropic::Anthropic;
use taskroute::provider::bedrock::Bedrock;
use taskroute::provider::openai::OpenAi;
use taskroute::provider::{ChatRequest, Provider};

const KEY: &str = "sk-proxy-Xq8Wm3Rt6Zp1";
const SESSION: &str = "sess-proxy-Lk4Vb7Nc2Hd9";
const BEDROCK_KEY: &str = "brk-proxy-Fj5Gs8Tu3Ye0";
const CHILD_BASE: &str = "TASKROUTE_PROXY_TEST_BASE";
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Run by the parent only (ignored otherwise): one request from each client to the base URL in
/// `TASKROUTE_PROXY_TEST_BASE`, whatever the outcome.
#[tokio::test]
#[ignore = "run in a child process by `proxies_never_see_a_credential`"]
async fn child_sends_one_request_per_client() {
    let base = std::env::var(CHILD_BASE).expect("run by proxies_never_see_a_credential");
    let t = Duration::from_secs(1);
    let bedrock = || Bedrock::builder().region("us-east-1").endpoint(&base).timeout(t);
    let clients: Vec<(Box<dyn Provider>, &str)> = vec![
        (
            Box::new(
                OpenAi::builder()
                    .base_url(&base)
                    .api_key(KEY)
                    .timeout(t)
                    .build()
                    .unwrap(),
            ),
            "openai",
        ),
        (
            Box::new(
                Anthropic::builder()
                    .base_url(&base)
                    .api_key(KEY)
                    .timeout(t)
                    .build()
                    .unwrap(),
            ),
            "anthropic",
        ),
        (
            Box::new(
                bedrock()
                    .credentials("AKIDPROXY", "aws-proxy-secret")
                    .session_token(SESSION)
                    .build()
                    .unwrap(),
            ),
            "bedrock",
        ),
        (
            Box::new(bedrock().bearer_token(BEDROCK_KEY).build().unwrap()),
            "bedrock",
        ),
    ];
    for (p, provider) in clients {
        let r = p
            .complete(&model(provider, "m"), &ChatRequest::new().user("hi"))
            .await;
        println!("{provider}: {:?}", r.map(|r| r.text).map_err(|e| e.to_string()));
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

/// Runs the child with `vars` (every other proxy variable removed) against `base`.
fn run_child(base: &str, vars: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_sends_one_request_per_client",
        "--nocapture",
    ]);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.env(CHILD_BASE, base).envs(vars.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a server saw, once it has seen `n` connections (or after 5 s): a connection is
/// recorded when its request is complete or the client hangs up, which may be just after the
/// child exits.
fn take(seen: &Seen, n: usize) -> Vec<String> {
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::mem::take(&mut *seen.lock().unwrap())
}

/// The four requests of one child run, checked to have gone straight to the target: the proxy
/// saw none of them.
fn direct_only(target_seen: &Seen, proxy_seen: &Seen) -> Vec<String> {
    let direct = take(target_seen, 4);
    let proxied = take(proxy_seen, 0);
    assert!(
        proxied.is_empty(),
        "a request that should go direct went through the proxy: {proxied:?}"
    );
    assert_eq!(direct.len(), 4, "{direct:?}");
    direct
}

fn no_credential(seen: &[String]) {
    for s in seen {
        for secret in [KEY, SESSION, BEDROCK_KEY, "aws-proxy-secret"] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
    }
}

#[test]
fn proxies_never_see_a_credential() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The proxy refuses everything (after recording it); the target answers like OpenAI.
    let (proxy, proxy_seen) = rt.block_on(raw_server(Reply::Bytes(http_response(
        "502 Bad Gateway",
        "text/plain",
        b"no",
    ))));
    let ok = br#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#;
    let (target, target_seen) = rt.block_on(raw_server(Reply::Bytes(http_response(
        "200 OK",
        "application/json",
        ok,
    ))));
    let target_port = target.rsplit(':').next().unwrap().to_owned();
    let all_proxies = [
        ("HTTP_PROXY", proxy.as_str()),
        ("HTTPS_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];

    // Plain http to loopback: straight to the target, never through the proxy.
    run_child(&target, &all_proxies);
    let direct = direct_only(&target_seen, &proxy_seen);
    assert!(direct[0].contains(KEY), "the target itself gets the key");

    // https to loopback: direct too (the target sees TLS handshakes it cannot read).
    run_child(&format!("https://127.0.0.1:{target_port}"), &all_proxies);
    let direct = direct_only(&target_seen, &proxy_seen);
    no_credential(&direct);

    // https elsewhere (0.0.0.0 is not loopback, though Linux delivers it locally): through the
    // proxy as CONNECT tunnels, with nothing but the host and port in clear.
    let remote = format!("https://0.0.0.0:{target_port}");
    run_child(&remote, &all_proxies);
    let proxied = take(&proxy_seen, 4);
    assert_eq!(proxied.len(), 4, "{proxied:?}");
    assert!(
        proxied
            .iter()
            .all(|r| r.starts_with(&format!("CONNECT 0.0.0.0:{target_port} "))),
        "{proxied:?}"
    );
    no_credential(&proxied);
    assert!(take(&target_seen, 0).is_empty());

    // NO_PROXY still applies: the same host goes direct.
    let mut with_no_proxy = all_proxies.to_vec();
    with_no_proxy.push(("NO_PROXY", "0.0.0.0"));
    run_child(&remote, &with_no_proxy);
    let direct = direct_only(&target_seen, &proxy_seen);
    no_credential(&direct);
}
