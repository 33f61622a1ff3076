#!/usr/bin/env bash
# shellcheck shell=bash
# Shared helpers for scripts/start, scripts/test and friends:
#   sy_log / sy_die             one-line messages on stderr, prefixed [switchyard]
#   sy_cleanup_register CMD     run CMD when the script ends (reverse order, once)
#   sy_free_port                print a free TCP port on 127.0.0.1
#   sy_ensure_redis             make REDIS_URL point at a Redis that answers PING
#   sy_ensure_postgres          make DATABASE_URL point at a reachable PostgreSQL
#   sy_ensure_prometheus        export PROMETHEUS_BIN/PROMTOOL_BIN (starts no server)
#   sy_run_foreground CMD...    run CMD as "the" foreground program of the script
#
# Source this file from the main shell of a script, never from $(...) or a
# pipeline: cleanups and background servers belong to the shell that registered
# them, and a subshell would forget both. Do not install your own EXIT/INT/TERM
# trap afterwards; register cleanups instead.
#
# The file does not change shell options (it is sourced, so that is the caller's
# call); every function checks its own failures and works with or without
# `set -euo pipefail`.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "scripts/lib/services.sh is a library: source it from a bash script" >&2
  exit 2
fi
# Sourcing twice must not reset the cleanup list (that would orphan servers).
if [ -n "${SY__SERVICES_LOADED:-}" ]; then
  return 0
fi
SY__SERVICES_LOADED=1

SY__CLEANUPS=()
SY__CLEANED=0
SY__APT_UPDATED=0
SY__FG_PID=""
SY__FG_GROUP=0
SY__FG_SIGNAL=""
SY__FG_REGISTERED=0
# Set by sy_run_foreground to INT/TERM/HUP when the script was signalled while
# its child ran; empty otherwise. Read by the scripts that source this file.
# shellcheck disable=SC2034
SY_INTERRUPTED=""

sy_log() { printf '[switchyard] %s\n' "$*" >&2; }

# Exiting (rather than returning) is deliberate: a missing service is not
# something callers can recover from, and exit runs the registered cleanups.
sy_die() {
  sy_log "$*"
  exit 1
}

# --- cleanup registry and the one trap ---------------------------------------

sy_cleanup_register() {
  if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    sy_die "sy_cleanup_register: expected exactly one command string"
  fi
  # A registration made in a subshell disappears with it and whatever it was
  # meant to stop would outlive the script; refuse loudly instead.
  if [ "${BASHPID:-$$}" != "$$" ]; then
    sy_die "sy_cleanup_register: called from a subshell (\$(...) or a pipeline); call it from the script itself"
  fi
  SY__CLEANUPS+=("$1")
}

sy__run_cleanups() {
  if [ "$SY__CLEANED" = 1 ]; then
    return 0
  fi
  SY__CLEANED=1
  # A second Ctrl-C must not cut a cleanup in half and leave a server behind.
  # Every cleanup is bounded in time, so ignoring signals here cannot hang us.
  trap '' INT TERM HUP
  local i
  for ((i = ${#SY__CLEANUPS[@]} - 1; i >= 0; i--)); do
    # `||` also switches errexit off inside the cleanup: best effort, all run.
    eval "${SY__CLEANUPS[i]}" || sy_log "cleanup failed (ignored): ${SY__CLEANUPS[i]}"
  done
}

sy_signal_code() {
  case "$1" in
    HUP) echo 129 ;;
    INT) echo 130 ;;
    *) echo 143 ;;
  esac
}

sy__on_exit() {
  local rc=$?
  sy__run_cleanups
  exit "$rc"
}

sy__on_signal() {
  local sig=$1
  if [ -n "$SY__FG_PID" ]; then
    # sy_run_foreground is waiting on a child: hand the signal over and let the
    # child decide how to stop; sy_run_foreground returns once it is gone.
    sy__fg_forward "$sig"
    return 0
  fi
  sy__run_cleanups
  exit "$(sy_signal_code "$sig")"
}

trap sy__on_exit EXIT
trap 'sy__on_signal INT' INT
trap 'sy__on_signal TERM' TERM
# A closed terminal would otherwise kill the script without running cleanups.
trap 'sy__on_signal HUP' HUP

# --- process helpers ---------------------------------------------------------

# True while PID exists and is not a zombie (kill -0 succeeds on zombies).
sy__alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
  fi
  return 0
}

# sy__wait_gone PID SECONDS: 0 once PID is gone, 1 if it is still there after SECONDS.
sy__wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    sy__alive "$1" || return 0
    sleep 0.1
  done
  ! sy__alive "$1"
}

# sy__stop_pid PID: TERM, up to 5 s of grace, then KILL; reap it if it is ours.
sy__stop_pid() {
  local pid=$1
  if sy__alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! sy__wait_gone "$pid" 5; then
      kill -KILL "$pid" 2>/dev/null || true
      sy__wait_gone "$pid" 2 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# Servers and foreground children go into their own session so that a Ctrl-C
# in the terminal reaches only this script, which then stops them in order
# (the app first, its Redis/PostgreSQL last). Without job control, setsid
# execs in place, so $! stays the real pid; with job control (an interactive
# shell sourcing this file) it would fork, so we do without.
sy__can_setsid() {
  command -v setsid >/dev/null 2>&1 && [[ $- != *m* ]]
}

sy__timeout() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$secs" "$@"
  else
    "$@"
  fi
}

# Hide credentials before a URL goes into a (CI) log.
sy__redact() {
  printf '%s' "$1" | sed -E 's#(://)[^/@]*@#\1***@#'
}

# --- free port ---------------------------------------------------------------

sy_free_port() {
  # Binding port 0 lets the kernel pick a port that is free right now.
  if command -v node >/dev/null 2>&1; then
    node -e '
      const s = require("node:net").createServer();
      s.on("error", (e) => { console.error(e.message); process.exit(1); });
      s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => console.log(p)); });
    ' && return 0
  fi
  # Without node: probe random ports below the Linux ephemeral range (32768+)
  # so outgoing connections do not grab the port between probe and use.
  local i port
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# --- apt ---------------------------------------------------------------------

sy__can_apt() {
  [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

# Try the install first (the package lists may be fresh); only when that fails
# refresh them once per script and retry.
sy__apt_install() {
  local log rc=0
  log=$(mktemp) || return 1
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
    if [ "$SY__APT_UPDATED" = 0 ]; then
      SY__APT_UPDATED=1
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$log" 2>&1 || true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$log" 2>&1 || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    sy_log "apt-get install $* failed:"
    tail -n 20 "$log" >&2
  fi
  rm -f "$log"
  return "$rc"
}

# --- Redis -------------------------------------------------------------------

# sy__redis_ping URL: 0 when the server at URL answers PING with PONG.
sy__redis_ping() {
  local url=$1 out=""
  if [[ $url != rediss://* ]] && command -v redis-cli >/dev/null 2>&1; then
    out=$(sy__timeout 5 redis-cli --no-auth-warning -u "$url" ping 2>&1) || true
    if [ "$out" = PONG ]; then
      return 0
    fi
    # redis-cli 7 sends `AUTH "" pass` for redis://:pass@host, which servers
    # reject; with credentials, give the node client below a chance too.
    [[ $url == *@* ]] || return 1
  fi
  command -v node >/dev/null 2>&1 || return 1
  # A tiny RESP client: optional AUTH from the URL, then PING; TLS for rediss://.
  # shellcheck disable=SC2016 # JavaScript template literals, not shell
  node -e '
    const u = new URL(process.argv[1]);
    const tls = u.protocol === "rediss:";
    const host = u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    const port = Number(u.port || 6379);
    const cmd = (...a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join("");
    const user = decodeURIComponent(u.username), pass = decodeURIComponent(u.password);
    let req = "";
    if (pass) req += user ? cmd("AUTH", user, pass) : cmd("AUTH", pass);
    req += cmd("PING");
    const opts = { host, port, servername: tls ? host : undefined };
    const s = require(tls ? "node:tls" : "node:net").connect(opts, () => s.write(req));
    s.setTimeout(5000, () => { console.error("timeout"); process.exit(1); });
    let buf = "";
    s.on("data", (d) => {
      buf += d;
      if (/^-/m.test(buf)) { console.error(buf.trim()); process.exit(1); }
      if (buf.includes("+PONG\r\n")) process.exit(0);
    });
    s.on("error", (e) => { console.error(e.message); process.exit(1); });
    s.on("close", () => process.exit(1));
  ' "$url" >/dev/null 2>&1
}

# sy_ensure_redis: export REDIS_URL. An existing REDIS_URL is only checked;
# otherwise start a private, throwaway redis-server for this script.
sy_ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    sy__redis_ping "$REDIS_URL" ||
      sy_die "redis: REDIS_URL=$(sy__redact "$REDIS_URL") does not answer PING; start that server, fix the URL, or unset REDIS_URL to get a private redis-server"
    return 0
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    if sy__can_apt; then
      sy_log "redis: redis-server not found; installing it (apt-get install redis-server)"
      sy__apt_install redis-server || true
    fi
    command -v redis-server >/dev/null 2>&1 ||
      sy_die "redis: redis-server not found: install redis-server (apt-get install redis-server) or set REDIS_URL=redis://host:port"
  fi

  local dir port pid attempt i
  dir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-redis.XXXXXX") || sy_die "redis: mktemp -d failed"
  # Registered before the server so that the directory goes last.
  sy_cleanup_register "rm -rf -- $(printf '%q' "$dir")"

  # Another process can take the port between sy_free_port and the bind; retry
  # on that (and only that) with a new port.
  for attempt in 1 2 3; do
    port=$(sy_free_port) || sy_die "redis: could not find a free TCP port"
    # Never 6379: a system redis (apt starts one) must not be shared or flushed.
    # No config file, so the system /etc/redis/redis.conf does not apply.
    local -a cmd=(redis-server --port "$port" --bind 127.0.0.1 --dir "$dir"
      --save '' --appendonly no --maxmemory-policy noeviction --daemonize no)
    if sy__can_setsid; then
      setsid "${cmd[@]}" >"$dir/redis.log" 2>&1 </dev/null &
    else
      "${cmd[@]}" >"$dir/redis.log" 2>&1 </dev/null &
    fi
    pid=$!
    sy_cleanup_register "sy__stop_pid $pid"

    for ((i = 0; i < 100; i++)); do
      if sy__redis_ping "redis://127.0.0.1:$port"; then
        export REDIS_URL="redis://127.0.0.1:$port"
        sy_log "redis: private redis-server on 127.0.0.1:$port (noeviction)"
        return 0
      fi
      sy__alive "$pid" || break
      sleep 0.1
    done

    if ! sy__alive "$pid" && grep -q 'Address already in use' "$dir/redis.log" && [ "$attempt" -lt 3 ]; then
      continue
    fi
    sy__stop_pid "$pid"
    sy_log "redis: redis-server on 127.0.0.1:$port did not answer PING within 10 s; its log:"
    tail -n 20 "$dir/redis.log" >&2
    sy_die "redis: could not start a private redis-server (or set REDIS_URL=redis://host:port)"
  done
}

# --- PostgreSQL --------------------------------------------------------------

# Print the newest directory holding both initdb and pg_ctl (one installation,
# so pg_ctl starts the postgres that matches initdb's data directory).
sy__pg_bindir() {
  local c d
  local -a candidates=()
  if c=$(command -v initdb 2>/dev/null); then
    # /usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/N/bin.
    c=$(readlink -f "$c" 2>/dev/null || echo "$c")
    candidates+=("$(dirname "$c")")
  fi
  if command -v pg_config >/dev/null 2>&1; then
    candidates+=("$(pg_config --bindir 2>/dev/null || true)")
  fi
  # Debian/Ubuntu, RHEL (PGDG), Homebrew; newest version first.
  while IFS= read -r d; do
    candidates+=("$d")
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin /usr/pgsql-*/bin \
    /opt/homebrew/opt/postgresql*/bin /usr/local/opt/postgresql*/bin | sort -rV)
  for d in "${candidates[@]}"; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# sy__as_user USER CMD...: run CMD as USER (empty: as ourselves). runuser starts
# from /, because the caller's directory (e.g. /root) may be closed to USER.
sy__as_user() {
  local user=$1
  shift
  if [ -n "$user" ]; then
    (cd / && runuser -u "$user" -- "$@")
  else
    "$@"
  fi
}

# sy__pg_check URL: 0 when URL accepts connections (psql also checks login and
# database; pg_isready and the node TCP probe are fallbacks).
sy__pg_check() {
  local url=$1
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=5 psql "$url" -XAtq -c 'select 1' >/dev/null 2>&1
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 5 -d "$url"
  elif command -v node >/dev/null 2>&1; then
    node -e '
      const u = new URL(process.argv[1]);
      const s = require("node:net").connect({ host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1", port: Number(u.port || 5432) }, () => process.exit(0));
      s.setTimeout(5000, () => process.exit(1));
      s.on("error", () => process.exit(1));
    ' "$url"
  else
    return 0
  fi
}

# sy__pg_stop BINDIR DIR USER: cleanup for sy_ensure_postgres.
sy__pg_stop() {
  local bindir=$1 dir=$2 user=$3 pid
  if [ -f "$dir/data/postmaster.pid" ]; then
    # immediate: the data is thrown away, so skip the shutdown checkpoint.
    if ! sy__as_user "$user" "$bindir/pg_ctl" -D "$dir/data" -m immediate -t 15 -w stop >/dev/null 2>&1; then
      pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
      if [ -n "$pid" ]; then
        # SIGQUIT is what pg_ctl -m immediate sends; KILL if that did not work.
        kill -QUIT "$pid" 2>/dev/null || true
        sy__wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -rf -- "$dir"
}

# sy_ensure_postgres: export DATABASE_URL. An existing DATABASE_URL is only
# checked; otherwise initdb and start a private, throwaway PostgreSQL.
sy_ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    sy__pg_check "$DATABASE_URL" ||
      sy_die "postgres: DATABASE_URL=$(sy__redact "$DATABASE_URL") does not accept connections; start that server, fix the URL, or unset DATABASE_URL to get a private PostgreSQL"
    return 0
  fi

  local bindir
  if ! bindir=$(sy__pg_bindir); then
    if sy__can_apt; then
      sy_log "postgres: initdb/pg_ctl not found; installing PostgreSQL (apt-get install postgresql)"
      sy__apt_install postgresql || true
    fi
    bindir=$(sy__pg_bindir) ||
      sy_die "postgres: initdb/pg_ctl not found: install postgresql (apt-get install postgresql) or set DATABASE_URL=postgres://user:pass@host:port/db"
  fi

  # PostgreSQL refuses to run as root: as root, run the server as `postgres`.
  local user=""
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 ||
      sy_die "postgres: running as root, but there is no 'postgres' user to run PostgreSQL as (it refuses to run as root); create one or set DATABASE_URL=postgres://user:pass@host:port/db"
    command -v runuser >/dev/null 2>&1 ||
      sy_die "postgres: running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'; or set DATABASE_URL=postgres://user:pass@host:port/db"
    user=postgres
  fi

  # Always under /tmp, not $TMPDIR: the postgres user must be able to reach it,
  # the Unix socket path must stay under ~100 bytes, and pg_ctl -o splits its
  # argument on spaces.
  local dir
  dir=$(mktemp -d /tmp/switchyard-pg.XXXXXX) || sy_die "postgres: mktemp -d failed"
  sy_cleanup_register "sy__pg_stop $(printf '%q ' "$bindir" "$dir" "$user")"
  if [ -n "$user" ]; then
    chown "$user:" "$dir" || sy_die "postgres: chown $user $dir failed"
  fi

  if ! sy__as_user "$user" "$bindir/initdb" -A trust -U switchyard --no-sync \
    -E UTF8 --locale=C -D "$dir/data" >"$dir/initdb.log" 2>&1; then
    sy_log "postgres: initdb failed:"
    tail -n 20 "$dir/initdb.log" >&2
    sy_die "postgres: could not create a private cluster (or set DATABASE_URL=postgres://user:pass@host:port/db)"
  fi

  local -a detach=()
  if sy__can_setsid; then
    detach=(setsid)
  fi
  local port attempt started=0
  for attempt in 1 2 3; do
    port=$(sy_free_port) || sy_die "postgres: could not find a free TCP port"
    rm -f "$dir/log"
    if sy__as_user "$user" ${detach[@]+"${detach[@]}"} "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >"$dir/pg_ctl.log" 2>&1; then
      started=1
      break
    fi
    # Lost the race for the port: try another one.
    if grep -q 'already in use' "$dir/log" 2>/dev/null && [ "$attempt" -lt 3 ]; then
      continue
    fi
    break
  done
  if [ "$started" != 1 ]; then
    sy_log "postgres: pg_ctl start failed:"
    tail -n 20 "$dir/pg_ctl.log" "$dir/log" >&2 2>/dev/null
    sy_die "postgres: could not start a private PostgreSQL (or set DATABASE_URL=postgres://user:pass@host:port/db)"
  fi

  local createdb="$bindir/createdb" out
  [ -x "$createdb" ] || createdb=createdb
  # Our server has no TLS; a PGSSLMODE=require from the environment must not apply.
  if ! out=$(PGSSLMODE=disable PGCONNECT_TIMEOUT=10 "$createdb" -h 127.0.0.1 -p "$port" -U switchyard switchyard 2>&1); then
    sy_log "postgres: createdb failed: $out"
    sy_die "postgres: could not create database switchyard (or set DATABASE_URL=postgres://user:pass@host:port/db)"
  fi

  export DATABASE_URL="postgres://switchyard@127.0.0.1:$port/switchyard"
  local version
  version=$("$bindir/pg_ctl" --version 2>/dev/null | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
  sy_log "postgres: private PostgreSQL ${version:-} on 127.0.0.1:$port (database switchyard, fsync off)"
}

# --- Prometheus --------------------------------------------------------------

# sy__abs_exe PATH|NAME: print the absolute path of an executable file (a bare
# NAME is looked up on PATH).
sy__abs_exe() {
  local p=$1
  if [[ $p != */* ]]; then
    p=$(type -P -- "$p" 2>/dev/null) || return 1
  fi
  [[ $p == /* ]] || p="$PWD/$p"
  [ -f "$p" ] && [ -x "$p" ] || return 1
  printf '%s\n' "$p"
}

# sy__prom_version BIN: print BIN's version ("2.42.0+ds"); fails unless
# `BIN --version` runs.
sy__prom_version() {
  local out v
  out=$(sy__timeout 10 "$1" --version 2>&1 </dev/null) || return 1
  # "prometheus, version 2.42.0+ds (branch: ..., revision: ...)"
  v=$(printf '%s\n' "$out" | sed -nE '1s/^[^,]*, version ([^ ]+).*/\1/p')
  printf '%s\n' "${v:-unknown version}"
}

# sy__prom_bin VAR NAME [DIR]: print the absolute path of a NAME that runs
# --version: $VAR when set (and nothing else), else DIR/NAME, NAME on PATH or
# /usr/bin/NAME (where Debian puts it), the first that works.
sy__prom_bin() {
  local var=$1 name=$2 dir=${3:-} c p
  local -a candidates=()
  if [ -n "${!var:-}" ]; then
    candidates=("${!var}")
  else
    [ -z "$dir" ] || candidates+=("$dir/$name")
    candidates+=("$name" "/usr/bin/$name")
  fi
  for c in "${candidates[@]}"; do
    if p=$(sy__abs_exe "$c") && sy__prom_version "$p" >/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

# sy_ensure_prometheus: export PROMETHEUS_BIN and PROMTOOL_BIN (absolute paths),
# installing Debian's prometheus package (it ships both) when they are missing.
# Starts no server: tests run private ones on their own ports and config files.
sy_ensure_prometheus() {
  local var
  for var in PROMETHEUS_BIN PROMTOOL_BIN; do
    if [ -n "${!var:-}" ] && ! sy__prom_bin "$var" unused >/dev/null; then
      sy_die "prometheus: $var=${!var} does not run --version; fix it or unset $var to use the one on PATH"
    fi
  done

  local prom tool
  prom=$(sy__prom_bin PROMETHEUS_BIN prometheus) || prom=""
  # An upstream tarball keeps promtool next to prometheus: prefer that pair.
  tool=$(sy__prom_bin PROMTOOL_BIN promtool "${prom%/*}") || tool=""
  if { [ -z "$prom" ] || [ -z "$tool" ]; } && sy__can_apt; then
    # The package may also start its own service (port 9090, /etc/prometheus);
    # we never use either. Its recommended node exporter would be one more
    # system daemon, so leave it out.
    sy_log "prometheus: prometheus/promtool not found; installing them (apt-get install prometheus)"
    sy__apt_install --no-install-recommends prometheus || true
    prom=$(sy__prom_bin PROMETHEUS_BIN prometheus) || prom=""
    tool=$(sy__prom_bin PROMTOOL_BIN promtool "${prom%/*}") || tool=""
  fi
  if [ -z "$prom" ] || [ -z "$tool" ]; then
    local missing=""
    [ -n "$prom" ] || missing=prometheus
    [ -n "$tool" ] || missing="${missing:+$missing and }promtool"
    sy_die "prometheus: $missing not found: install prometheus (apt-get install prometheus, which includes promtool) or set PROMETHEUS_BIN and PROMTOOL_BIN to their paths"
  fi

  export PROMETHEUS_BIN=$prom PROMTOOL_BIN=$tool
  sy_log "prometheus: $(sy__prom_version "$prom") ($prom)"
}

# --- foreground child ----------------------------------------------------------

# Deliver SIG to the foreground child: to its whole process group when it has
# one of its own (that is what a terminal's Ctrl-C would do). The child may exit
# at any moment, so a failed kill is fine (`|| true`: traps run under set -e).
sy__fg_signal() {
  if [ "$SY__FG_GROUP" = 1 ]; then
    kill -s "$1" -- "-$SY__FG_PID" 2>/dev/null || kill -s "$1" "$SY__FG_PID" 2>/dev/null || true
  else
    kill -s "$1" "$SY__FG_PID" 2>/dev/null || true
  fi
}

sy__fg_forward() {
  local sig=$1 grace=${SY_SHUTDOWN_GRACE:-10}
  if ! sy__alive "$SY__FG_PID"; then
    # The child is already gone; just remember that we were asked to stop.
    SY__FG_SIGNAL=${SY__FG_SIGNAL:-$sig}
    return 0
  fi
  if [ -n "$SY__FG_SIGNAL" ]; then
    # Bash runs traps nested, so this is a second signal during the grace period:
    # the user insists.
    sy_log "SIG$sig again: killing pid $SY__FG_PID now"
    sy__fg_signal KILL
    return 0
  fi
  SY__FG_SIGNAL=$sig
  sy__fg_signal "$sig"
  if ! sy__wait_gone "$SY__FG_PID" "$grace"; then
    sy_log "pid $SY__FG_PID still running ${grace} s after SIG$sig: killing it"
    sy__fg_signal KILL
    # 2>/dev/null: bash would report the kill as "<this file>: line N: PID Killed".
    sy__wait_gone "$SY__FG_PID" 2 2>/dev/null || true
  fi
}

# TERM whatever is left of a finished child's process group (workers it did not
# reap), then KILL; nothing the script started may outlive it.
sy__fg_reap_group() {
  local pgid=$1 i
  kill -0 -- "-$pgid" 2>/dev/null || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  return 0
}

# Safety net for an exit while a child runs (e.g. a failing cleanup elsewhere).
sy__fg_cleanup() {
  if [ -n "$SY__FG_PID" ]; then
    if sy__alive "$SY__FG_PID"; then
      sy__fg_signal TERM
      { sy__wait_gone "$SY__FG_PID" 5 || sy__fg_signal KILL; } 2>/dev/null
    fi
    if [ "$SY__FG_GROUP" = 1 ]; then
      sy__fg_reap_group "$SY__FG_PID"
    fi
    wait "$SY__FG_PID" 2>/dev/null || true
    SY__FG_PID=""
  fi
}

# sy_run_foreground CMD [ARGS...]: run CMD as the script's foreground program,
# in the background with `wait`, so the trap can fire while it runs. INT/TERM/HUP
# sent to the script are forwarded to CMD (once; a second one kills it), which
# gets SY_SHUTDOWN_GRACE (10) seconds to exit before SIGKILL. Returns CMD's exit
# status and sets SY_INTERRUPTED to the signal name if the script was signalled.
sy_run_foreground() {
  local pid rc=0 rc2=0
  SY_INTERRUPTED=""
  SY__FG_SIGNAL=""
  if [ "$SY__FG_REGISTERED" = 0 ]; then
    SY__FG_REGISTERED=1
    sy_cleanup_register sy__fg_cleanup
  fi
  # Background jobs get /dev/null as stdin; keep ours when it is open.
  local keep_stdin=0
  if { true <&0; } 2>/dev/null; then
    keep_stdin=1
  fi
  SY__FG_GROUP=0
  if sy__can_setsid; then
    SY__FG_GROUP=1
    if [ "$keep_stdin" = 1 ]; then
      setsid "$@" <&0 &
    else
      setsid "$@" &
    fi
  else
    # No setsid (macOS): the child shares our process group, so a terminal
    # Ctrl-C reaches it directly as well as through us.
    if [ "$keep_stdin" = 1 ]; then
      "$@" <&0 &
    else
      "$@" &
    fi
  fi
  pid=$!
  SY__FG_PID=$pid

  # A trapped signal makes `wait` return early (after the trap forwarded it);
  # keep waiting until the child is really gone.
  while :; do
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    sy__alive "$pid" || break
  done
  # If `wait` was cut short, this returns the child's real status (bash keeps it).
  wait "$pid" 2>/dev/null || rc2=$?
  if [ "$rc2" != 127 ]; then
    rc=$rc2
  fi
  if [ "$SY__FG_GROUP" = 1 ]; then
    sy__fg_reap_group "$pid"
  fi
  # shellcheck disable=SC2034 # read by the caller
  SY_INTERRUPTED=$SY__FG_SIGNAL
  SY__FG_PID=""
  SY__FG_SIGNAL=""
  return "$rc"
}
