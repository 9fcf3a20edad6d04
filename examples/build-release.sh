#!/usr/bin/env bash
# The one release build the walk-throughs share: the server and the photobooth app, in one cargo
# invocation. examples/run-all.sh, each example's run.sh and tests/readme.sh all build through
# this, so none rebuilds the others' crates with other features; the server's crates are also the
# ones the README's `cargo run --release -- serve` builds (default member: crates/switchyard).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked -p switchyard -p switchyard-example-photobooth "$@"
