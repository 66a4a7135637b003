//! A real Prometheus server scrapes the routed client of examples/metrics.rs (run in-process),
//! and the counters read back through Prometheus's HTTP query API equal what the client's own
//! attempt records say happened.
//!
//! Needs the server scripts/setup-prometheus.sh starts (scripts/test.sh exports
//! `TASKROUTE_PROMETHEUS_URL` and `TASKROUTE_PROMETHEUS_TARGETS`). Skipped without it, except
//! under CI, where it fails.

#[path = "../examples/metrics.rs"]
#[allow(dead_code)]
mod example;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the server is, or `None` (skip) outside CI.
fn server() -> Option<(String, PathBuf)> {
    match (
        std::env::var("TASKROUTE_PROMETHEUS_URL"),
        std::env::var("TASKROUTE_PROMETHEUS_TARGETS"),
    ) {
        (Ok(url), Ok(dir)) => Some((url, PathBuf::from(dir))),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TASKROUTE_PROMETHEUS_URL/_TARGETS are not: run scripts/setup-prometheus.sh")
        }
        _ => {
            eprintln!("skipped: no TASKROUTE_PROMETHEUS_URL (bash scripts/setup-prometheus.sh)");
            None
        }
    }
}

/// A port nothing listens on right now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// The scrape target file this test owns, removed when dropped.
struct Target(PathBuf);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The value of an instant query that returns one sample, or `None` (no sample yet).
async fn query(http: &reqwest::Client, url: &str, promql: &str) -> Option<f64> {
    let endpoint = reqwest::Url::parse_with_params(&format!("{url}/api/v1/query"), [("query", promql)])
        .expect("a valid URL");
    let text = http
        .get(endpoint)
        .send()
        .await
        .expect("Prometheus answers")
        .text()
        .await
        .expect("a body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON answer");
    assert_eq!(body["status"], "success", "{promql}: {body}");
    let result = body["data"]["result"].as_array().expect("a vector");
    let sample = result.first()?;
    sample["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_the_routed_clients_counters() {
    let Some((url, targets)) = server() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = free_addr();
        example::install_exporter(addr).expect("the exporter listens");
        let (client, budget) = example::client().expect("a client");
        let tally = example::traffic(&client, &budget, 30, Duration::ZERO).await;
        let acme_left = {
            use taskroute::runtime::{BudgetScope, BudgetStore};
            budget.remaining(&[BudgetScope::tenant("acme")]).await.unwrap().unwrap()
        };
        assert!(acme_left < 100.0, "acme spent something: {acme_left}");
        assert!(tally.failures > 0 && tally.successes > 0, "{tally:?}");

        // This run's own label, so that runs sharing the server never mix.
        let run = format!("t{}-{}", std::process::id(), addr.port());
        let file = targets.join(format!("taskroute-{run}.json"));
        let _target = Target(file.clone());
        let entry = serde_json::json!([{ "targets": [addr.to_string()], "labels": { "run": run } }]);
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, entry.to_string()).unwrap();
        std::fs::rename(&tmp, &file).unwrap();

        let http = reqwest::Client::new();
        let checks: [(String, f64); 7] = [
            (format!("sum(taskroute_decisions{{run=\"{run}\"}})"), tally.requests as f64),
            (
                format!("sum(taskroute_attempts{{run=\"{run}\",taskroute_outcome=\"success\"}})"),
                tally.successes as f64,
            ),
            (
                format!(
                    "sum(taskroute_attempts{{run=\"{run}\",taskroute_outcome=\"error\",error_type=\"overloaded\",gen_ai_request_model=\"mini\"}})"
                ),
                tally.failures as f64,
            ),
            (
                format!(
                    "sum(taskroute_rejections{{run=\"{run}\",taskroute_rejection_reason=\"context_window\",gen_ai_request_model=\"tiny\"}})"
                ),
                tally.requests as f64,
            ),
            (
                format!("sum(gen_ai_client_token_usage_count{{run=\"{run}\",gen_ai_token_type=\"input\"}})"),
                tally.successes as f64,
            ),
            (
                format!("sum(taskroute_budget_spend_count{{run=\"{run}\",taskroute_budget_name=\"acme\"}})"),
                tally.requests.div_ceil(2) as f64,
            ),
            (
                format!("taskroute_budget_remaining{{run=\"{run}\",taskroute_budget_name=\"acme\"}}"),
                acme_left,
            ),
        ];
        // Scraped every second: wait for the first scrape (or give up after 60 s).
        let deadline = Instant::now() + Duration::from_secs(60);
        for (promql, want) in &checks {
            loop {
                let got = query(&http, &url, promql).await;
                // Counts are exact; the gauge went through text twice, so within a rounding.
                if got.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs().max(1.0)) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{promql}: Prometheus says {got:?}, the client's records and the store say {want} ({tally:?})"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
}
