#!/usr/bin/env bash
# Drive Switchyard's event bridge with Twilio's official Worker SDK (npm twilio-taskrouter),
# against a Switchyard binary.
#
#   SWITCHYARD_BIN=/path/to/switchyard ./run.sh
#
# SWITCHYARD_BIN defaults to ../../target/debug/switchyard. Installs the npm packages itself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# SWITCHYARD_BIN is resolved before changing directory (relative to the caller).
source "$here/../lib/suite.sh"
resolve_switchyard_bin "$here/.."
cd "$here"

npm_ci_if_stale worker-sdk

require_switchyard_bin worker-sdk

# The SDK leaves a token-expiry and a heartbeat timer behind after disconnect(): end the
# process once the tests are done rather than wait for them.
exec node --test --test-force-exit --test-reporter="${WORKER_SDK_REPORTER:-spec}" --test-timeout=60000 test/
