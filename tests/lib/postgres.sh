# A throwaway PostgreSQL server for tests (sourced, not run; callers use `set -euo pipefail`).
#
#   start_test_postgres   initdb + start a private cluster on a free 127.0.0.1 port, export
#                         SWITCHYARD_TEST_DATABASE (postgres://postgres@127.0.0.1:PORT/postgres),
#                         SWITCHYARD_TEST_PG_DIR and SWITCHYARD_TEST_PG_BIN, and stop it on EXIT.
#   stop_test_postgres    stop it and remove its directory (safe to call twice).
#
# Durability is off by default (fsync, synchronous_commit, full_page_writes): the cluster is
# deleted at exit, so a crash loses nothing anyone keeps. SWITCHYARD_PG_DURABLE=1 keeps the
# defaults, for crash tests and benchmarks that must measure real commits.
# Failures print why to stderr and return 1: a missing PostgreSQL fails the test, never skips it.

# Prints the bin directory of PostgreSQL 15, else of the newest installed version with initdb.
_switchyard_pg_find_bin() {
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    echo /usr/lib/postgresql/15/bin
    return 0
  fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r d; do
    [[ -x "$d/initdb" ]] && echo "$d"
  done | tail -n 1)"
  [[ -n "$bin" ]] || return 1
  echo "$bin"
}

# Runs a command as the `postgres` user when root (initdb and postgres refuse to run as root),
# directly otherwise. From the cluster directory: `postgres` may not be able to enter ours.
_switchyard_pg_as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    (cd "$SWITCHYARD_TEST_PG_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$SWITCHYARD_TEST_PG_DIR" && "$@")
  fi
}

start_test_postgres() {
  if [[ -n "${SWITCHYARD_TEST_PG_DIR:-}" ]]; then
    echo "start_test_postgres: already started (SWITCHYARD_TEST_PG_DIR=$SWITCHYARD_TEST_PG_DIR)" >&2
    return 1
  fi

  local bin
  if ! bin="$(_switchyard_pg_find_bin)"; then
    if [[ "$(id -u)" == 0 ]]; then
      echo "start_test_postgres: PostgreSQL not found; installing it (apt-get install postgresql)..." >&2
      local apt_log
      apt_log="$(mktemp)"
      # A stale package index is the usual reason the first install fails.
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >"$apt_log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$apt_log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >>"$apt_log" 2>&1 || true
      fi
      bin="$(_switchyard_pg_find_bin)" || {
        echo "start_test_postgres: installing postgresql failed; apt-get said:" >&2
        tail -n 30 "$apt_log" >&2
        rm -f "$apt_log"
        return 1
      }
      rm -f "$apt_log"
    else
      echo "start_test_postgres: no PostgreSQL found (no /usr/lib/postgresql/*/bin/initdb)," \
        "and not root to install it: run 'apt-get install postgresql' (version 15)" >&2
      return 1
    fi
  fi

  local dir
  dir="$(mktemp -d)"
  export SWITCHYARD_TEST_PG_DIR="$dir"
  export SWITCHYARD_TEST_PG_BIN="$bin"
  # Installed before anything can fail, so that a failed start still removes the directory.
  _switchyard_pg_install_trap

  if [[ "$(id -u)" == 0 ]]; then
    if ! getent passwd postgres >/dev/null; then
      echo "start_test_postgres: running as root but there is no 'postgres' user to run the server as" >&2
      stop_test_postgres
      return 1
    fi
    chown postgres: "$dir"
    # mktemp's parent (TMPDIR) must be searchable by postgres too.
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "start_test_postgres: user postgres cannot write $dir (is TMPDIR=${TMPDIR:-/tmp} private?)" >&2
      stop_test_postgres
      return 1
    fi
  fi

  if ! _switchyard_pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C -N >"$dir/initdb.log" 2>&1; then
    echo "start_test_postgres: initdb failed:" >&2
    tail -n 30 "$dir/initdb.log" >&2
    stop_test_postgres
    return 1
  fi

  local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir'"
  opts+=" -c max_connections=400 -c shared_buffers=128MB"
  if [[ "${SWITCHYARD_PG_DURABLE:-}" != 1 ]]; then
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi

  # The port is free when picked but may be taken before the server binds it: try a few.
  local port attempt started=
  for attempt in 1 2 3; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if _switchyard_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "$opts -c port=$port" start >"$dir/pg_ctl.log" 2>&1; then
      started=1
      break
    fi
    grep -q "Address already in use" "$dir/log" 2>/dev/null || break
  done
  if [[ -z "$started" ]]; then
    echo "start_test_postgres: the server did not start; pg_ctl and the server log say:" >&2
    tail -n 10 "$dir/pg_ctl.log" >&2 || true
    tail -n 40 "$dir/log" >&2 || true
    stop_test_postgres
    return 1
  fi

  export SWITCHYARD_TEST_DATABASE="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  local dir="${SWITCHYARD_TEST_PG_DIR:-}"
  [[ -n "$dir" ]] || return 0
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    _switchyard_pg_as_owner "$SWITCHYARD_TEST_PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w \
      stop >/dev/null 2>&1 || echo "stop_test_postgres: pg_ctl stop failed (dir $dir)" >&2
  fi
  rm -rf "$dir" || true
  unset SWITCHYARD_TEST_PG_DIR SWITCHYARD_TEST_DATABASE
}

# Adds stop_test_postgres to the EXIT trap, before whatever trap was already set, which then runs
# with the exit status it would have seen alone. Once per shell.
_switchyard_pg_install_trap() {
  [[ -z "${_SWITCHYARD_PG_TRAPPED:-}" ]] || return 0
  _SWITCHYARD_PG_TRAPPED=1
  local previous
  previous="$(trap -p EXIT)"
  if [[ -n "$previous" ]]; then
    # `trap -p` prints `trap -- 'COMMAND' EXIT`, quoted for the shell: let the shell unquote it.
    eval "set -- $previous"
    # `(exit N) && :` sets $? to N without tripping `set -e` (a non-final command of a && list).
    trap "_switchyard_pg_rc=\$?; stop_test_postgres; (exit \$_switchyard_pg_rc) && :; $3" EXIT
  else
    trap stop_test_postgres EXIT
  fi
}
