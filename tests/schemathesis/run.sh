#!/usr/bin/env bash
# Schemathesis over Twilio's TaskRouter v1 OpenAPI description against a real Switchyard binary.
# Fails on any 5xx, a dropped connection, a panic or the server's death; other check failures
# (response schema, content type) are reported only. See README.md.
#
#   SWITCHYARD_BIN=/path/to/switchyard ./run.sh
#
# SWITCHYARD_BIN defaults to ../../target/debug/switchyard (relative to this script).
# This script builds nothing; build the server first (cargo build -p switchyard).
# Optional: SCHEMATHESIS_SPEC (default ../../../shared/spec/twilio_taskrouter_v1.json),
#           SCHEMATHESIS_MAX_TIME (seconds of testing, default 150), SCHEMATHESIS_WORKERS (default 2),
#           SCHEMATHESIS_SEED, SCHEMATHESIS_OUT_DIR (logs and reports, default ./out),
#           SCHEMATHESIS_ARGS (more `schemathesis run` options), PYTHON (default python3).
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
if [[ -n "${SCHEMATHESIS_SPEC:-}" && "$SCHEMATHESIS_SPEC" != /* ]]; then
  export SCHEMATHESIS_SPEC="$PWD/$SCHEMATHESIS_SPEC"
fi

cd "$here"

if [[ ! -x "$SWITCHYARD_BIN" ]]; then
  echo "schemathesis: server binary not found or not executable: $SWITCHYARD_BIN" >&2
  echo "schemathesis: build it with 'cargo build -p switchyard' or set SWITCHYARD_BIN" >&2
  exit 2
fi

# (Re)create .venv when it is missing or does not match requirements.txt. Any failure here is fatal.
venv="$here/.venv"
stamp="$venv/.switchyard-requirements.sha256"
req_hash="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$req_hash" ]]; then
  echo "schemathesis: installing requirements.txt into $venv ..." >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
  "$venv/bin/schemathesis" --version >&2
  echo "$req_hash" > "$stamp"
fi

exec "$venv/bin/python" "$here/fuzz.py"
