#!/usr/bin/env bash
# One command: builds Switchyard and the photobooth app (release), starts Switchyard with the
# tutorial's activities on a fresh database, starts the app, and drives a full session: two
# volunteers text in, three photos arrive, captions come back, both volunteers end Idle.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if [[ -z "${SWITCHYARD_BIN:-}" || -z "${PHOTOBOOTH_BIN:-}" ]]; then
  bash examples/build-release.sh >&2   # the release build every walk-through shares
fi
switchyard="${SWITCHYARD_BIN:-$root/target/release/switchyard}"
photobooth="${PHOTOBOOTH_BIN:-$root/target/release/switchyard-example-photobooth}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work="$(mktemp -d)"
tr_port="$(free_port)"; app_port="$(free_port)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$switchyard" serve --bind "127.0.0.1:$tr_port" --database "$work/switchyard.db" --activity-set legacy \
  > "$work/switchyard.log" 2>&1 &
pids+=($!)
wait_for() { for _ in $(seq 1 100); do curl -fs -o /dev/null "$@" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
wait_for "http://127.0.0.1:$tr_port/v1/Workspaces" -u AC00000000000000000000000000000000:switchyard-dev-token

args=(--taskrouter "http://127.0.0.1:$tr_port" --listen "127.0.0.1:$app_port"
      --photos "$work/photos" --captions "$work/captions")
"$photobooth" serve "${args[@]}" 2> "$work/photobooth.log" &
pids+=($!)
wait_for "http://127.0.0.1:$app_port/outbox"
"$photobooth" session "${args[@]}"
echo "--- the app's log"
cat "$work/photobooth.log"
