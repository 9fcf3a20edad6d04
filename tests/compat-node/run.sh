#!/usr/bin/env bash
# Run the Twilio Node.js SDK compatibility suite against a Switchyard binary.
#
#   SWITCHYARD_BIN=/path/to/switchyard ./run.sh            # all test files
#   ./run.sh test/workers.test.mjs                         # a subset
#
# SWITCHYARD_BIN defaults to ../../target/debug/switchyard (relative to this script).
# This script builds nothing; build the server first (cargo build -p switchyard).
# Optional: COMPAT_CONCURRENCY (test files run in parallel, default 4),
#           COMPAT_TEST_TIMEOUT_MS (per test, default 60000),
#           COMPAT_REPORTER (node:test reporter, default spec; e.g. tap),
#           SWITCHYARD_LOG_DIR (server logs, default ./logs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# SWITCHYARD_BIN is resolved before changing directory (relative to the caller).
source "$here/../lib/suite.sh"
resolve_switchyard_bin "$here/.."

cd "$here"

npm_ci_if_stale compat-node

require_switchyard_bin compat-node

if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=(test/*.test.mjs)
fi

exec node --test \
  --test-reporter="${COMPAT_REPORTER:-spec}" \
  --test-concurrency="${COMPAT_CONCURRENCY:-4}" \
  --test-timeout="${COMPAT_TEST_TIMEOUT_MS:-60000}" \
  "${files[@]}"
