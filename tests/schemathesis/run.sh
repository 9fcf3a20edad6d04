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

# SWITCHYARD_BIN is resolved before changing directory (relative to the caller).
source "$here/../lib/suite.sh"
resolve_switchyard_bin "$here/.."
if [[ -n "${SCHEMATHESIS_SPEC:-}" && "$SCHEMATHESIS_SPEC" != /* ]]; then
  export SCHEMATHESIS_SPEC="$PWD/$SCHEMATHESIS_SPEC"
fi

cd "$here"

require_switchyard_bin schemathesis

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
