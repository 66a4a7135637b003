#!/usr/bin/env bash
# Installs and starts aimock (npm @copilotkit/aimock), the mock LLM server the provider tests
# (tests/providers_*.rs) talk to, on 127.0.0.1 only, with the crate's fixtures
# (tests/fixtures/aimock/). Idempotent: if a healthy aimock already listens, does nothing.
#   bash scripts/setup-aimock.sh          # port 4510, or TASKROUTE_AIMOCK_PORT
# Stop it with: kill "$(cat .aimock/aimock.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.43.0
PORT="${TASKROUTE_AIMOCK_PORT:-4510}"
DIR=.aimock
URL="http://127.0.0.1:${PORT}"

healthy() {
  node -e 'fetch(process.argv[1], {signal: AbortSignal.timeout(2000)})
    .then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))' "${URL}/health" 2>/dev/null
}

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "setup-aimock: node and npm are needed (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
}

# What this checkout's fixtures are; a running aimock of ours with other fixtures is restarted.
FIXTURES_SHA="$(cat tests/fixtures/aimock/*.json | sha256sum | cut -d' ' -f1)"
ours_running() { [ -f "$DIR/aimock.pid" ] && kill -0 "$(cat "$DIR/aimock.pid")" 2>/dev/null; }

if healthy; then
  if ! ours_running; then
    echo "aimock already healthy at ${URL} (not started by this checkout; its fixtures are its own)"
    exit 0
  fi
  if [ "$(cat "$DIR/fixtures.sha" 2>/dev/null)" = "$FIXTURES_SHA" ]; then
    echo "aimock already healthy at ${URL} with this checkout's fixtures"
    exit 0
  fi
  echo "fixtures changed: restarting aimock (pid $(cat "$DIR/aimock.pid"))"
  kill "$(cat "$DIR/aimock.pid")"
  for _ in $(seq 1 50); do healthy || break; sleep 0.1; done
fi

mkdir -p "$DIR"
if [ ! -x "$DIR/node_modules/.bin/llmock" ] ||
  ! grep -q "\"version\": \"${VERSION}\"" "$DIR/node_modules/@copilotkit/aimock/package.json" 2>/dev/null; then
  echo "installing @copilotkit/aimock@${VERSION} into ${DIR}/node_modules"
  [ -f "$DIR/package.json" ] || echo '{"private": true}' >"$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --silent "@copilotkit/aimock@${VERSION}"
fi

echo "starting aimock on ${URL}"
nohup "$DIR/node_modules/.bin/llmock" -h 127.0.0.1 -p "$PORT" -f tests/fixtures/aimock --validate-on-load \
  >"$DIR/aimock.log" 2>&1 &
echo $! >"$DIR/aimock.pid"
echo "$FIXTURES_SHA" >"$DIR/fixtures.sha"

for _ in $(seq 1 100); do
  if healthy; then
    echo "aimock healthy at ${URL} (pid $(cat "$DIR/aimock.pid"), log ${DIR}/aimock.log)"
    exit 0
  fi
  sleep 0.1
done
echo "setup-aimock: aimock did not become healthy at ${URL}; log:" >&2
cat "$DIR/aimock.log" >&2
exit 1
