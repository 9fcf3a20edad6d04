#!/usr/bin/env bash
# The agent page's test: a real Switchyard, the example's server, and the page in Debian's
# Chromium (installed when missing) through playwright-core.
#
#   SWITCHYARD_BIN=/path/to/switchyard examples/agent/test.sh
#
# SWITCHYARD_BIN defaults to the release build (built when missing). Screenshots go to
# ./output (AGENT_OUTPUT to change).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/lib/suite.sh"

if [[ -z "${SWITCHYARD_BIN:-}" ]]; then
  bash "$root/examples/build-release.sh" >&2
  export SWITCHYARD_BIN="$root/target/release/switchyard"
fi
resolve_switchyard_bin "$root/tests"
cd "$here"
require_chromium agent
npm_ci_if_stale agent
require_switchyard_bin agent

export AGENT_OUTPUT="${AGENT_OUTPUT:-$here/output}"
mkdir -p "$AGENT_OUTPUT"
exec node --test --test-reporter=spec --test-timeout=120000 test/
