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

echo "== cargo test --all-features --no-fail-fast"
cargo test --all-features --no-fail-fast
