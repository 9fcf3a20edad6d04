#!/usr/bin/env bash
# One command: builds Switchyard (release), starts it on a free port with a fresh database, sets
# up an agent desk (Alice and Bob) and serves the agent page until Ctrl-C. Open the URL it
# prints, sign in as Alice, go Available, and create a task with the curl line it prints.
#
#   examples/agent/run.sh            # AGENT_PORT=8080 to choose the page's port
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/lib/suite.sh"

bin="${SWITCHYARD_BIN:-}"
if [[ -z "$bin" ]]; then
  bash "$root/examples/build-release.sh" >&2   # the release build every walk-through shares
  bin="$root/target/release/switchyard"
fi

cd "$here"
npm_ci_if_stale agent

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
data="$(mktemp -d)"
"$bin" serve --bind "127.0.0.1:$port" --database "$data/agent.db" > "$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/health" && break
  sleep 0.1
done
SWITCHYARD_URL="http://127.0.0.1:$port" node server.mjs
