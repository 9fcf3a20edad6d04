#!/usr/bin/env bash
# One command: builds Switchyard (release), starts it on a free port with a fresh database and
# the tutorials' activities, runs the quickstart with the official Twilio Node.js library, stops it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bin="${SWITCHYARD_BIN:-}"
if [[ -z "$bin" ]]; then
  bash "$root/examples/build-release.sh" >&2   # the release build every walk-through shares
  bin="$root/target/release/switchyard"
fi

cd "$here"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund >&2
fi

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
data="$(mktemp -d)"
"$bin" serve --bind "127.0.0.1:$port" --database "$data/quickstart.db" --activity-set legacy \
  > "$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/v1/Workspaces" -u AC00000000000000000000000000000000:switchyard-dev-token; then
    break
  fi
  sleep 0.1
done
SWITCHYARD_URL="http://127.0.0.1:$port" node quickstart.mjs
