#!/usr/bin/env bash
# Drive Switchyard's browser console in a real Chromium (Debian's package, through
# playwright-core), against a Switchyard binary.
#
#   SWITCHYARD_BIN=/path/to/switchyard ./run.sh
#
# SWITCHYARD_BIN defaults to ../../target/debug/switchyard. Installs what it needs: Debian's
# chromium when /usr/bin/chromium is missing (downloading Playwright's browsers does not work
# here), and the npm packages. Screenshots go to ./output (CONSOLE_OUTPUT to change).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# SWITCHYARD_BIN is resolved before changing directory (relative to the caller).
source "$here/../lib/suite.sh"
resolve_switchyard_bin "$here/.."
cd "$here"

require_chromium console
npm_ci_if_stale console

require_switchyard_bin console

export CONSOLE_OUTPUT="${CONSOLE_OUTPUT:-$here/output}"
mkdir -p "$CONSOLE_OUTPUT"
exec node --test --test-reporter="${CONSOLE_REPORTER:-spec}" --test-timeout=120000 test/
