# Shared by the suites' run.sh scripts (sourced, not run): finding the server binary,
# installing a suite's npm packages and Debian's Chromium.

# Sets and exports SWITCHYARD_BIN: as the caller gave it, relative to the caller's working
# directory (call this before changing directory), or the debug build beside the suites.
resolve_switchyard_bin() {
  local suites="$1"
  if [[ -n "${SWITCHYARD_BIN:-}" ]]; then
    case "$SWITCHYARD_BIN" in
      /*) ;;
      *) SWITCHYARD_BIN="$PWD/$SWITCHYARD_BIN" ;;
    esac
  else
    SWITCHYARD_BIN="$suites/../target/debug/switchyard"
  fi
  export SWITCHYARD_BIN
}

# Fails loudly, naming the suite, when the server binary is missing.
require_switchyard_bin() {
  local suite="$1"
  if [[ ! -x "$SWITCHYARD_BIN" ]]; then
    echo "$suite: server binary not found or not executable: $SWITCHYARD_BIN" >&2
    echo "$suite: build it with 'cargo build -p switchyard' or set SWITCHYARD_BIN" >&2
    exit 2
  fi
}

# Runs `npm ci` in the current directory when node_modules is missing or does not match
# package-lock.json.
npm_ci_if_stale() {
  local suite="$1"
  local stamp="node_modules/.switchyard-lock.sha256"
  local lock_hash
  lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
    echo "$suite: installing dependencies (npm ci)..." >&2
    npm ci --no-audit --no-fund
    echo "$lock_hash" > "$stamp"
  fi
}

# Installs Debian's chromium when /usr/bin/chromium is missing (downloading Playwright's
# browsers does not work here); fails loudly, naming the suite, when it cannot.
require_chromium() {
  local suite="$1"
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "$suite: installing Debian's chromium..." >&2
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
  fi
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "$suite: /usr/bin/chromium is missing and could not be installed" >&2
    exit 2
  fi
}
