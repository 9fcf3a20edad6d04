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

if [[ ! -x /usr/bin/chromium ]]; then
  echo "console: installing Debian's chromium..." >&2
  if [[ "$(id -u)" -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
fi
if [[ ! -x /usr/bin/chromium ]]; then
  echo "console: /usr/bin/chromium is missing and could not be installed" >&2
  exit 2
fi

stamp="node_modules/.switchyard-lock.sha256"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  echo "console: installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

if [[ ! -x "$SWITCHYARD_BIN" ]]; then
  echo "console: server binary not found or not executable: $SWITCHYARD_BIN" >&2
  exit 2
fi

export CONSOLE_OUTPUT="${CONSOLE_OUTPUT:-$here/output}"
mkdir -p "$CONSOLE_OUTPUT"
exec node --test --test-reporter="${CONSOLE_REPORTER:-spec}" --test-timeout=120000 test/
