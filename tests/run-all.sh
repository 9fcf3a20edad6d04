#!/usr/bin/env bash
# The whole test suite: every Rust test (unit, API over real sockets, end-to-end with the real
# binary), then the compatibility suite that drives the server with the official Twilio Node.js
# library, Twilio's Worker SDK, the browser console in Debian's Chromium, and Schemathesis, all on
# SQLite; then the conformance suite (every Rust test that opens a database, the kill -9 crash
# test among them, then the Node.js SDK, Worker SDK, console and Schemathesis suites) again on a
# throwaway PostgreSQL server it starts itself. Installs what it needs (npm packages, Chromium,
# PostgreSQL) on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Free disk, printed so that a build that runs out of it (a linker failing) is explained.
df -h . | tail -1
echo "==> cargo test --workspace"
cargo test --workspace --locked

echo "==> Twilio Node.js SDK compatibility suite"
cargo build --locked -p switchyard
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/compat-node/run.sh
echo "==> Twilio's Worker SDK (twilio-taskrouter) against the event bridge"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/worker-sdk/run.sh
echo "==> The browser console in Chromium (playwright-core)"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/console/run.sh
echo "==> Schemathesis over the OpenAPI description (fails on any 5xx)"; SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/schemathesis/run.sh

echo "==> PostgreSQL: a throwaway server for the same suites (fails if it cannot start)"
source tests/lib/postgres.sh
start_test_postgres
# The whole workspace again, not a few packages: `-p` selections resolve features differently
# and would build (and keep on disk) another copy of most of the dependency graph. Tests that
# open a database (engine, API, store, the kill -9 crash test, migrate, the load generator's
# smoke run) take the PostgreSQL one from SWITCHYARD_TEST_DATABASE; the rest just run again.
echo "==> cargo test --workspace on PostgreSQL"
cargo test --workspace --locked
echo "==> Twilio Node.js SDK compatibility suite on PostgreSQL"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/compat-node/run.sh
echo "==> Twilio's Worker SDK on PostgreSQL"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/worker-sdk/run.sh
echo "==> The browser console in Chromium on PostgreSQL"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/console/run.sh
echo "==> Schemathesis on PostgreSQL (fails on any 5xx)"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/schemathesis/run.sh
