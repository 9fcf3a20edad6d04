#!/usr/bin/env bash
# Proves the README's quick start: runs each fenced block of README.md that follows a line
# `<!-- tested: NAME -->`, as written, and fails (non-zero) if any block is missing or fails.
#
#   serve   its first line (`cargo run --release -- serve`) starts the server in the repo root, on
#           a free port and a fresh database through the environment twins SWITCHYARD_BIND and
#           SWITCHYARD_DATABASE_URL, so the command's text is unchanged; then GET /health is polled
#   curl    runs in bash -euo pipefail, with curl failing on an HTTP error (--fail-with-body) and
#           jq on a null (-e); then the task it created must be completed
#   node    saved as an .mjs file and run with the official twilio package
#   python  saved as a .py file and run in a venv with the official twilio package
#
# The snippets reach the server through SWITCHYARD_URL (their default is http://127.0.0.1:7979).
# Installs what it needs under target/readme: npm packages (tests/readme/package-lock.json), a
# venv (tests/readme/requirements.txt), and jq from apt if it is missing. Builds through
# examples/build-release.sh, so after examples/run-all.sh it builds nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
readme="$root/README.md"
work="$root/target/readme"

fail() { echo "readme: FAILED: $*" >&2; exit 1; }

# The body of the fenced block right after `<!-- tested: NAME -->` (the next line opens it).
block() {
  awk -v name="$1" '
    state == 0 && index($0, "<!-- tested: " name " ") == 1 { state = 1; next }
    state == 1 { if ($0 ~ /^```/) { state = 2; next } exit }
    state == 2 { if ($0 ~ /^```/) { found = 1; exit } print }
    END { exit !found }' "$readme"
}
snippet() {
  local body
  body="$(block "$1")" && [[ -n "$body" ]] ||
    fail "README.md has no fenced block right after '<!-- tested: $1 -->'"
  printf '%s\n' "$body"
}
serve_cmd="$(snippet serve | head -n 1)"
curl_snippet="$(snippet curl)"
node_snippet="$(snippet node)"
python_snippet="$(snippet python)"

# A clean environment: no account, clock or activity set of the caller's, and no SDK region or
# edge (they would rewrite the SDKs' host).
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SWITCHYARD_|TWILIO_)' || true)

echo "==> readme: prerequisites"
for tool in cargo curl node npm python3; do
  command -v "$tool" >/dev/null || fail "$tool is needed"
done
if ! command -v jq >/dev/null; then
  echo "readme: installing jq (the curl walk-through uses it)" >&2
  sudo=(); [[ "$(id -u)" == 0 ]] || sudo=(sudo -n)
  "${sudo[@]}" apt-get install -y -qq jq || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq jq; } ||
    fail "jq is needed and could not be installed"
fi
mkdir -p "$work"
if ! cmp -s tests/readme/package-lock.json "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
  cp tests/readme/package.json tests/readme/package-lock.json "$work/"
  (cd "$work" && npm ci --no-audit --no-fund)
fi
if ! cmp -s tests/readme/requirements.txt "$work/venv/requirements.txt"; then
  rm -rf "$work/venv"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check -r tests/readme/requirements.txt
  cp tests/readme/requirements.txt "$work/venv/requirements.txt"
fi

echo "==> readme: the release build (examples/build-release.sh)"
bash examples/build-release.sh

run="$(mktemp -d "$work/run.XXXXXX")"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SWITCHYARD_URL="http://127.0.0.1:$port"

echo "==> readme: $serve_cmd   (SWITCHYARD_BIND=127.0.0.1:$port, a fresh database)"
# Its own process group, so stopping it stops whatever the command started.
SWITCHYARD_BIND="127.0.0.1:$port" SWITCHYARD_DATABASE_URL="$run/readme.db" \
  setsid bash -c "$serve_cmd" > "$run/server.log" 2>&1 &
server=$!
stop() {
  kill -TERM -- "-$server" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$run"
}
trap stop EXIT
show_log() { echo "--- server log" >&2; cat "$run/server.log" >&2; }
deadline=$((SECONDS + ${README_SERVE_TIMEOUT:-120}))
until curl -fs -o /dev/null "$SWITCHYARD_URL/health"; do
  kill -0 "$server" 2>/dev/null || { show_log; fail "'$serve_cmd' exited before /health answered"; }
  ((SECONDS < deadline)) || { show_log; fail "no 200 from $SWITCHYARD_URL/health within ${README_SERVE_TIMEOUT:-120} s"; }
  sleep 0.2
done
# It should build nothing: examples/build-release.sh built the same units (or a source just changed).
if grep -q '^ *Compiling ' "$run/server.log"; then
  echo "readme: note: the serve command recompiled what examples/build-release.sh had built:" >&2
  grep '^ *Compiling ' "$run/server.log" >&2
fi

echo "==> readme: the curl walk-through"
bash -c '
set -euo pipefail
# An HTTP error fails the snippet, naming the request and the answer; so does a missing field (jq -e).
curl() {
  local out rc=0
  out="$(command curl --fail-with-body -S "$@")" || rc=$?
  printf "%s\n" "$out"
  ((rc == 0)) || { printf "readme: curl %s\n  -> exit %s: %s\n" "$*" "$rc" "$out" >&2; return "$rc"; }
}
jq() { command jq -e "$@"; }
'"$curl_snippet"'
status="$(command curl -fsS -u "$AUTH" "$SY/Workspaces/$WS/Tasks/$WT" | command jq -r .assignment_status)"
[[ "$status" == completed ]] || { echo "the task is $status, not completed" >&2; exit 1; }
' || { show_log; fail "the curl walk-through"; }

echo "==> readme: the Node.js snippet"
printf '%s\n' "$node_snippet" > "$run/snippet.mjs"
node "$run/snippet.mjs" || { show_log; fail "the Node.js snippet"; }

echo "==> readme: the Python snippet"
printf '%s\n' "$python_snippet" > "$run/snippet.py"
"$work/venv/bin/python" "$run/snippet.py" || { show_log; fail "the Python snippet"; }

echo "==> readme: every quick-start snippet ran as written"
