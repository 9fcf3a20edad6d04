#!/usr/bin/env bash
# Runs the walk-through examples the way a user would, against a release build: the Alice/Bob
# quickstart (official Twilio Node.js library), a full photobooth session, and the agent page
# (Twilio's Worker SDK in Chromium). The embedded
# example runs in the test suite (`cargo test -p switchyard-example-embedded`).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo build --release (switchyard, photobooth: examples/build-release.sh)"
bash examples/build-release.sh
export SWITCHYARD_BIN="$PWD/target/release/switchyard"
export PHOTOBOOTH_BIN="$PWD/target/release/switchyard-example-photobooth"

echo "==> examples/quickstart"
bash examples/quickstart/run.sh

echo "==> examples/photobooth"
bash examples/photobooth/run.sh

echo "==> examples/agent"
bash examples/agent/test.sh
