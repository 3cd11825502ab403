#!/usr/bin/env bash
# Proves that weave-compute works behind systemd socket activation without a
# running systemd: Debian's systemd-socket-activate plays the part of
# weave-compute.socket (it binds the socket and execs the daemon with
# LISTEN_PID/LISTEN_FDS on the first connection, exactly as systemd does),
# and the real `weave` CLI talks to it. Then `systemd-analyze verify` checks
# the unit files themselves, when it can run on this machine.
#
#   socket_activation_test.sh DAEMON WEAVE UNIT_FILE...
#
# The unit files are told apart by their suffix (.socket, .service). Under
# Bazel, //tools/systemd:socket_activation_test passes the built binaries and
# $(rootpaths :units).
# Prints PASS/FAIL/SKIP lines and ends with "N passed, N failed"; exits 1
# when anything failed.
set -uo pipefail

usage() {
  echo "usage: $0 DAEMON WEAVE UNIT_FILE... (one .socket and one .service)" >&2
  exit 2
}
[ "$#" -ge 4 ] || usage

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
daemon=$(abs "$1")
weave=$(abs "$2")
shift 2
socket_unit=""
service_unit=""
for f in "$@"; do
  case "$f" in
    *.socket) socket_unit=$(abs "$f") ;;
    *.service) service_unit=$(abs "$f") ;;
    *) usage ;;
  esac
done
[ -n "$socket_unit" ] && [ -n "$service_unit" ] || usage

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }
check() { # check NAME COMMAND...: PASS when the command succeeds
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# A short directory: $TEST_TMPDIR is far too long for a socket path
# (sun_path holds 107 bytes).
dir=$(mktemp -d /tmp/wvsa.XXXXXX) || { echo "FAIL: mktemp"; exit 1; }
sock="$dir/weave/weave.sock"
log="$dir/daemon.log"
pids=()

cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$dir"
}
trap cleanup EXIT

show_log() {
  echo "--- $1 ---"
  cat "$2" 2>/dev/null
  echo "---"
}

# Waits up to $2 seconds for a condition ($1: a shell command).
wait_for() {
  local cond="$1" deadline=$((SECONDS + $2))
  while ! eval "$cond"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# The CLI, with the environment a user session would give it and no way to
# start a daemon of its own.
weave_cli() {
  timeout 30 env -u WEAVE_COMPUTE_BIN XDG_RUNTIME_DIR="$dir" "$weave" "$@"
}

# --- 1. The unit files say what the daemon relies on ------------------------
check "socket unit listens on %t/weave/weave.sock" \
  grep -qx 'ListenStream=%t/weave/weave.sock' "$socket_unit"
check "socket unit: SocketMode=0600" grep -qx 'SocketMode=0600' "$socket_unit"
check "socket unit: DirectoryMode=0700" grep -qx 'DirectoryMode=0700' "$socket_unit"
check "socket unit: one daemon for all connections (Accept=no)" \
  grep -qx 'Accept=no' "$socket_unit"
check "service unit: Restart=on-failure" grep -qx 'Restart=on-failure' "$service_unit"
check "service unit: NoNewPrivileges=yes" grep -qx 'NoNewPrivileges=yes' "$service_unit"
check "service unit: sets WEAVE_LOG_LEVEL" \
  grep -q '^Environment=WEAVE_LOG_LEVEL=' "$service_unit"

# --- 2. Socket activation through systemd-socket-activate -------------------
activate=$(command -v systemd-socket-activate || true)
if [ -z "$activate" ]; then
  skip "socket activation: systemd-socket-activate not found (Debian package 'systemd' provides /usr/bin/systemd-socket-activate)"
else
  # What DirectoryMode=0700 does for the real unit.
  mkdir -m 0700 "$dir/weave"
  # The activator execs the daemon in its own process: $! is the daemon's
  # pid afterwards, and the daemon inherits the activator's stderr. It
  # passes only -E variables: no XDG_RUNTIME_DIR, which an activated daemon
  # must not need. (ASAN/UBSAN options are passed on for --config=asan.)
  extra_env=()
  for v in ASAN_OPTIONS UBSAN_OPTIONS; do
    if [ -n "${!v:-}" ]; then extra_env+=(-E "$v"); fi
  done
  (umask 077 && exec "$activate" -l "$sock" -E WEAVE_LOG_LEVEL=debug \
    "${extra_env[@]}" "$daemon") 2>"$log" &
  apid=$!
  pids+=("$apid")

  if wait_for '[ -S "$sock" ]' 10; then
    pass "activator is listening on $sock"
  else
    fail "activator did not create $sock"
    show_log "activator/daemon stderr" "$log"
  fi

  # The first connection makes the activator exec weave-compute.
  out=$(weave_cli status 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'weave-compute is running' <<<"$out"; then
    pass "weave status answered through the activated socket"
  else
    fail "weave status: exit $rc"
    echo "$out"
  fi
  grep -q 'backend: *procedural' <<<"$out" &&
    pass "weave status reports the procedural backend" ||
    fail "weave status does not report backend procedural"

  png="$dir/out.png"
  out=$(weave_cli generate "a lighthouse at dusk" --width 64 --height 128 \
    --steps 2 --seed 7 -o "$png" --no-autostart 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ] && [ -s "$png" ]; then
    pass "weave generate --no-autostart wrote $png"
  else
    fail "weave generate: exit $rc"
    echo "$out"
  fi
  # PNG signature, then IHDR width and height (big-endian) at offset 16.
  sig=$(od -An -tx1 -N8 "$png" 2>/dev/null | tr -d ' \n')
  dims=$(od -An -tx1 -j16 -N8 "$png" 2>/dev/null | tr -d ' \n')
  if [ "$sig" = "89504e470d0a1a0a" ] && [ "$dims" = "0000004000000080" ]; then
    pass "the reply is a 64x128 PNG"
  else
    fail "not a 64x128 PNG (signature $sig, IHDR size $dims)"
  fi

  check "daemon logged 'using socket-activated listener'" \
    grep -q 'INFO using socket-activated listener (fd 3)' "$log"
  # LISTEN_PID must have matched: the daemon is the process the activator
  # became, not a child of it.
  check "daemon runs as the activator's pid $apid (LISTEN_PID matched)" \
    grep -q "weave-compute\[$apid\] INFO weave-compute .*, pid $apid," "$log"
  check "daemon names the inherited socket: 'listening on $sock'" \
    grep -q "INFO listening on $sock\$" "$log"
  check "daemon took no lock (no $dir/weave/weave.lock)" \
    test ! -e "$dir/weave/weave.lock"
  check "daemon bound no socket of its own (no weave.tmp)" \
    test ! -e "$dir/weave/weave.tmp"

  # A daemon started by hand while the socket unit owns the socket must
  # back off (exit 3) and leave the socket to its owner.
  log3="$dir/manual.log"
  env -u LISTEN_PID -u LISTEN_FDS XDG_RUNTIME_DIR="$dir" timeout 10 \
    "$daemon" 2>"$log3"
  rc=$?
  if [ "$rc" -eq 3 ] &&
    grep -q "another process is accepting connections on $sock" "$log3"; then
    pass "a daemon started by hand meanwhile exits 3 and names the socket's owner"
  else
    fail "a daemon started by hand meanwhile: exit $rc (want 3)"
    show_log "manual daemon stderr" "$log3"
  fi
  check "the socket survived the hand-started daemon" test -S "$sock"
  weave_cli status >/dev/null 2>&1
  check "the activated daemon still answers" test "$?" -eq 0
  # That daemon's lock file (it locks before it looks at the socket) is
  # not the activated daemon's: remove it so the checks below see only what
  # the activated daemon does.
  rm -f "$dir/weave/weave.lock"

  kill -TERM "$apid" 2>/dev/null
  rc=0
  if wait_for '! kill -0 "$apid" 2>/dev/null' 15; then
    wait "$apid"
    rc=$?
    pids=()
    check "daemon exited 0 after SIGTERM" test "$rc" -eq 0
  else
    fail "daemon still running 15 s after SIGTERM"
  fi
  check "daemon logged 'stopped'" grep -q 'INFO stopped$' "$log"
  check "socket file left in place for its owner, the activator" test -S "$sock"
  check "still no lock file after exit" test ! -e "$dir/weave/weave.lock"
  if [ "$failed" -gt 0 ]; then show_log "activator/daemon stderr" "$log"; fi

  # Nothing listens on the socket now (as after a crash of the socket
  # owner): the CLI must say so, and a daemon started by hand must replace
  # the stale file.
  out=$(weave_cli status 2>&1)
  rc=$?
  if [ "$rc" -eq 3 ] && grep -q 'weave-compute daemon not accepting connections' <<<"$out"; then
    pass "weave status on the orphaned socket: exit 3, 'not accepting connections'"
  else
    fail "weave status on the orphaned socket: exit $rc: $out"
  fi

  log2="$dir/daemon2.log"
  env -u LISTEN_PID -u LISTEN_FDS XDG_RUNTIME_DIR="$dir" WEAVE_LOG_LEVEL=info \
    "$daemon" 2>"$log2" &
  dpid=$!
  pids+=("$dpid")
  if wait_for 'grep -q "INFO listening on" "$log2"' 10; then
    check "plain daemon replaced the stale socket" \
      grep -q "INFO replacing stale socket $sock" "$log2"
    check "plain daemon holds the lock file" test -f "$dir/weave/weave.lock"
    weave_cli status >/dev/null 2>&1
    check "weave status answers the plain daemon" test "$?" -eq 0
    kill -TERM "$dpid"
    wait "$dpid"
    rc=$?
    pids=()
    check "plain daemon exited 0 after SIGTERM" test "$rc" -eq 0
    check "plain daemon removed the socket it created" test ! -e "$sock"
  else
    fail "plain daemon did not start"
    show_log "daemon stderr" "$log2"
  fi
fi

# --- 3. systemd-analyze verify ------------------------------------------------
analyze=$(command -v systemd-analyze || true)
if [ -z "$analyze" ]; then
  skip "systemd-analyze verify: systemd-analyze not found (Debian package 'systemd')"
else
  # A copy whose ExecStart= names the built binary (the real one points at
  # ~/.local/bin, which verify would rightly report as missing).
  vdir="$dir/verify"
  mkdir -p "$vdir/units" "$vdir/run" "$vdir/home"
  chmod 0700 "$vdir/run"
  cp "$socket_unit" "$vdir/units/weave-compute.socket"
  sed "s|^ExecStart=.*|ExecStart=$daemon|" "$service_unit" \
    >"$vdir/units/weave-compute.service"
  # A user manager needs XDG_RUNTIME_DIR and HOME (%t, %h); both point into
  # the scratch directory so nothing of the real user is read.
  vout=$(cd "$vdir/units" && env -i PATH=/usr/bin:/bin HOME="$vdir/home" \
    XDG_RUNTIME_DIR="$vdir/run" SYSTEMD_LOG_LEVEL=notice \
    "$analyze" --user verify ./weave-compute.socket ./weave-compute.service 2>&1)
  vrc=$?
  # Only complaints about our own units count; anything else is about this
  # machine (no user manager possible, unreadable paths, ...).
  ours=$(grep 'weave-compute' <<<"$vout" || true)
  if [ "$vrc" -eq 0 ] && [ -z "$ours" ]; then
    pass "systemd-analyze --user verify: both units are clean"
    [ -n "$vout" ] && echo "  (unrelated output: $vout)"
  elif [ -n "$ours" ]; then
    fail "systemd-analyze --user verify reports problems in the units:"
    echo "$vout"
  else
    skip "systemd-analyze --user verify cannot run here (exit $vrc): $(head -n 3 <<<"$vout" | tr '\n' ' ')"
  fi
fi

[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
