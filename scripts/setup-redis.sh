#!/usr/bin/env bash
# Installs redis-server (Debian package) if it is missing and starts one on 127.0.0.1, on a free
# port, with no persistence, for the `redis` feature's tests (tests/fleet_*.rs). Its URL is
# written to .redis/url; scripts/test.sh exports it as TASKROUTE_REDIS_URL. Idempotent: if the
# server this checkout started still answers PING, does nothing.
#   bash scripts/setup-redis.sh            # a free port, or TASKROUTE_REDIS_PORT
# Stop it with: kill "$(cat .redis/redis.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="$PWD/.redis"
mkdir -p "$DIR"
. scripts/lib/local-server.sh

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup-redis: redis-server is missing; install it (Debian: apt-get install -y redis-server)" >&2
    exit 1
  fi
  echo "installing redis-server (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  # The Debian package starts a system-wide server on 6379 where an init system runs; ours is
  # separate (its own port, no persistence), so the system one is left as it is.
fi

pong() { [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]; }

if still_running "$DIR/redis.pid" pong; then
  echo "redis already running at $(cat "$DIR/url") (pid $(cat "$DIR/redis.pid"))"
  exit 0
fi

start() {
  local port="$1"
  rm -f "$DIR/redis.pid"
  redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
    --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null || return 1
  for _ in $(seq 1 50); do
    if pong "$port"; then return 0; fi
    sleep 0.1
  done
  return 1
}

start_on_a_free_port setup-redis "${TASKROUTE_REDIS_PORT:-}" redis-server "$DIR/redis.log"
echo "redis://127.0.0.1:${port}/" >"$DIR/url"
echo "redis $(redis-server --version | grep -oE 'v=[0-9.]+') at $(cat "$DIR/url") (pid $(cat "$DIR/redis.pid"), log $DIR/redis.log)"
