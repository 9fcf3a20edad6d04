#!/usr/bin/env bash
# The whole test suite: every Rust test (unit, API over real sockets, end-to-end with the real
# binary), then the compatibility suite that drives the server with the official Twilio Node.js
# library, Twilio's Worker SDK, the browser console in Debian's Chromium, and Schemathesis, all on
# SQLite; then the conformance suite (engine and API tests, the kill -9 crash test, the Node.js SDK
# and Worker SDK suites) again on a throwaway PostgreSQL server it starts itself. Installs what it
# needs (npm packages, Chromium, PostgreSQL) on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "==> Engine and API tests, and the kill -9 crash test, on PostgreSQL"
cargo test --locked -p switchyard-engine -p switchyard-server --tests
cargo test --locked -p switchyard --test crash --test migrate
echo "==> The load generator's smoke run on PostgreSQL"
cargo test --locked -p switchyard-bench
echo "==> Twilio Node.js SDK compatibility suite on PostgreSQL"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/compat-node/run.sh
echo "==> Twilio's Worker SDK on PostgreSQL"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" bash tests/worker-sdk/run.sh
