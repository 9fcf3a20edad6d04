#!/usr/bin/env bash
# Drive Switchyard's event bridge with Twilio's official Worker SDK (npm twilio-taskrouter),
# against a Switchyard binary.
#
#   SWITCHYARD_BIN=/path/to/switchyard ./run.sh
#
# SWITCHYARD_BIN defaults to ../../target/debug/switchyard. Installs the npm packages itself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
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

stamp="node_modules/.switchyard-lock.sha256"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  echo "worker-sdk: installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

if [[ ! -x "$SWITCHYARD_BIN" ]]; then
  echo "worker-sdk: server binary not found or not executable: $SWITCHYARD_BIN" >&2
  exit 2
fi

# The SDK leaves a token-expiry and a heartbeat timer behind after disconnect(): end the
# process once the tests are done rather than wait for them.
exec node --test --test-force-exit --test-reporter="${WORKER_SDK_REPORTER:-spec}" --test-timeout=60000 test/
