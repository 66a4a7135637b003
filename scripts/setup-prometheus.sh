#!/usr/bin/env bash
# Installs prometheus (Debian package) if it is missing and starts one on 127.0.0.1, on a free
# port, scraping every 1 s the targets listed in .prometheus/targets/*.json (file-based service
# discovery: a test writes its own exporter's address there, and Prometheus picks it up within
# a second). For the `metrics` feature's test (tests/metrics_prometheus.rs). Its URL is written
# to .prometheus/url and the targets directory to .prometheus/targets_dir; scripts/test.sh
# exports them as TASKROUTE_PROMETHEUS_URL and TASKROUTE_PROMETHEUS_TARGETS. Idempotent: if the
# server this checkout started still answers /-/ready, does nothing.
#   bash scripts/setup-prometheus.sh       # a free port, or TASKROUTE_PROMETHEUS_PORT
# Stop it with: kill "$(cat .prometheus/prometheus.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="$PWD/.prometheus"
mkdir -p "$DIR/targets"
. scripts/lib/local-server.sh

if ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup-prometheus: prometheus is missing; install it (Debian: apt-get install -y prometheus)" >&2
    exit 1
  fi
  echo "installing prometheus (apt-get)"
  apt-get update -qq
  # Only the server: no exporters or web assets it recommends. The package's own service (port
  # 9090, where an init system runs) is left as it is; ours has its own port and data.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# GET a path; prints the status line.
http_status() {
  local port="$1" path="$2"
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' '$path' >&3 && head -n1 <&3" 2>/dev/null || true
}
ready() { http_status "$1" /-/ready | grep -q ' 200'; }

if still_running "$DIR/prometheus.pid" ready; then
  echo "prometheus already running at $(cat "$DIR/url") (pid $(cat "$DIR/prometheus.pid"))"
  exit 0
fi

cat >"$DIR/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: taskroute
    file_sd_configs:
      - files: ['$DIR/targets/*.json']
        refresh_interval: 1s
YAML

start() {
  local port="$1"
  rm -f "$DIR/prometheus.pid"
  nohup prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$port" \
    >"$DIR/prometheus.log" 2>&1 </dev/null &
  echo $! >"$DIR/prometheus.pid"
  for _ in $(seq 1 100); do
    if ready "$port"; then return 0; fi
    kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null || return 1
    sleep 0.1
  done
  kill "$(cat "$DIR/prometheus.pid")" 2>/dev/null || true
  return 1
}

start_on_a_free_port setup-prometheus "${TASKROUTE_PROMETHEUS_PORT:-}" prometheus "$DIR/prometheus.log"
echo "http://127.0.0.1:${port}" >"$DIR/url"
echo "$DIR/targets" >"$DIR/targets_dir"
echo "prometheus $(prometheus --version 2>&1 | head -n1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1) at $(cat "$DIR/url") (pid $(cat "$DIR/prometheus.pid"), log $DIR/prometheus.log)"
