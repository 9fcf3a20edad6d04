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

# Resolve SWITCHYARD_BIN before changing directory, so a relative path given by the
# caller is taken relative to the caller's working directory.
if [[ -n "${SWITCHYARD_BIN:-}" ]]; then
  case "$SWITCHYARD_BIN" in
    /*) ;;
    *) SWITCHYARD_BIN="$PWD/$SWITCHYARD_BIN" ;;
  esac
else
  SWITCHYARD_BIN="$here/../../target/debug/switchyard"
fi
export SWITCHYARD_BIN

cd "$here"

# Install dependencies when node_modules is missing or does not match package-lock.json.
stamp="node_modules/.switchyard-lock.sha256"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  echo "compat-node: installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

if [[ ! -x "$SWITCHYARD_BIN" ]]; then
  echo "compat-node: server binary not found or not executable: $SWITCHYARD_BIN" >&2
  echo "compat-node: build it with 'cargo build -p switchyard' or set SWITCHYARD_BIN" >&2
  exit 2
fi

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
