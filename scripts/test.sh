#!/usr/bin/env bash
# The test command: everything a fresh machine needs, then the whole default test suite.
#   bash scripts/test.sh            # default suite (well under 20 minutes on 2 cores)
#   TASKROUTE_SLOW=1 bash scripts/test.sh   # also the slow suites (load, long property runs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Steps added by parts of the crate that need outside servers (see scripts/*.sh) run here.
for setup in scripts/setup-*.sh; do
  [ -e "$setup" ] || continue
  echo "== $setup"
  bash "$setup"
done

# Where the servers started above listen (the tests skip the parts whose server is missing,
# except under CI, where a missing server fails them).
if [ -z "${TASKROUTE_REDIS_URL:-}" ] && [ -f .redis/url ]; then
  TASKROUTE_REDIS_URL="$(cat .redis/url)"
  export TASKROUTE_REDIS_URL
  echo "TASKROUTE_REDIS_URL=${TASKROUTE_REDIS_URL}"
fi

if [ -z "${TASKROUTE_PROMETHEUS_URL:-}" ] && [ -f .prometheus/url ]; then
  TASKROUTE_PROMETHEUS_URL="$(cat .prometheus/url)"
  TASKROUTE_PROMETHEUS_TARGETS="$(cat .prometheus/targets_dir)"
  export TASKROUTE_PROMETHEUS_URL TASKROUTE_PROMETHEUS_TARGETS
  echo "TASKROUTE_PROMETHEUS_URL=${TASKROUTE_PROMETHEUS_URL}"
fi

echo "== cargo test --all-features --no-fail-fast"
cargo test --all-features --no-fail-fast
