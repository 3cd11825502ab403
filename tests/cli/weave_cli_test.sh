#!/usr/bin/env bash
# Drives the built `weave` command as a user would, against the real
# weave-compute daemon: generate a PNG, status, the not-running error,
# autostart, the width rule, usage errors, stop, the autostart race, errors
# that name the fix, usage checks, -o -, --json, signals, the terminal (via
# script(1)), completion.
#
# Under Bazel (sh_test with data = ["//go/cmd/weave", "//c/daemon:weave-compute"])
# the binaries come from runfiles. Outside Bazel set WEAVE_BIN and
# WEAVE_COMPUTE_BIN.
#
# Prints "N passed, N failed" last and exits non-zero when a case failed.
set -u

pass=0
fail=0
skip=0
failed_cases=""

say() { printf '%s\n' "$*"; }
ok() { pass=$((pass + 1)); say "PASS: $1"; }
bad() {
    fail=$((fail + 1))
    failed_cases="$failed_cases $1"
    say "FAIL: $1: $2"
}

# --- binaries -----------------------------------------------------------------
rf() { # runfile path under Bazel
    printf '%s/%s/%s' "${TEST_SRCDIR:-}" "${TEST_WORKSPACE:-}" "$1"
}
WEAVE=""
DAEMON=""
SCRIPTED=""
if [ -n "${TEST_SRCDIR:-}" ] && [ -n "${TEST_WORKSPACE:-}" ]; then
    for c in go/cmd/weave/weave_/weave go/cmd/weave/weave; do
        if [ -x "$(rf "$c")" ]; then WEAVE="$(rf "$c")"; break; fi
    done
    [ -x "$(rf c/daemon/weave-compute)" ] && DAEMON="$(rf c/daemon/weave-compute)"
    # The test-only daemon with the scripted backend (a job can crash it).
    [ -x "$(rf c/daemon/weave-compute-scripted)" ] && SCRIPTED="$(rf c/daemon/weave-compute-scripted)"
    if [ -z "$WEAVE" ] || [ -z "$DAEMON" ]; then
        say "FAIL: runfiles missing: weave='$WEAVE' weave-compute='$DAEMON' under $TEST_SRCDIR/$TEST_WORKSPACE"
        say "0 passed, 1 failed"
        exit 1
    fi
    UNDER_BAZEL=1
else
    WEAVE="${WEAVE_BIN:-}"
    DAEMON="${WEAVE_COMPUTE_BIN:-}"
    SCRIPTED="${WEAVE_COMPUTE_SCRIPTED_BIN:-}"
    UNDER_BAZEL=0
    if [ ! -x "$WEAVE" ] || [ ! -x "$DAEMON" ]; then
        say "SKIP: not under Bazel: set WEAVE_BIN and WEAVE_COMPUTE_BIN to the built binaries"
        say "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
fi
say "weave:         $WEAVE"
say "weave-compute: $DAEMON"

# --- bookkeeping: every daemon we start or cause is killed at exit ----------
DIRS=""
PIDS=""

# newdir: makes a short XDG_RUNTIME_DIR (sun_path is 108 bytes) and sets
# NEWDIR (not a $(...) subshell: DIRS must be updated in this shell).
newdir() {
    NEWDIR="$(mktemp -d /tmp/wvcli.XXXXXX)" || exit 1
    chmod 700 "$NEWDIR"
    DIRS="$DIRS $NEWDIR"
}

alive() { kill -0 "$1" 2>/dev/null; }

# is_daemon PID: the process is a weave-compute (never signal a pid that
# was reused by something else).
is_daemon() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'weave-compute'
}

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL; only a weave-compute.
stop_pid() {
    local pid=$1 i
    alive "$pid" && is_daemon "$pid" || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        alive "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# pid of a daemon that logged into DIR/weave/weave-compute.log (autostart).
logged_pid() {
    sed -n 's/.* weave-compute\[\([0-9][0-9]*\)\] .*/\1/p' "$1/weave/weave-compute.log" 2>/dev/null | tail -n 1
}

cleanup() {
    local p d
    for p in $PIDS; do stop_pid "$p"; done
    for d in $DIRS; do
        p="$(logged_pid "$d")"
        [ -n "$p" ] && stop_pid "$p"
    done
    for d in $DIRS; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_daemon DIR [ARGS...]: starts weave-compute (with ARGS) with XDG_RUNTIME_DIR=DIR and waits
# (polling `weave status`, bounded) until it answers. Sets DPID.
start_daemon() {
    local dir=$1 i
    shift
    XDG_RUNTIME_DIR="$dir" "$DAEMON" --log-level=debug "$@" 2>"$dir/daemon.stderr" &
    DPID=$!
    PIDS="$PIDS $DPID"
    for i in $(seq 1 200); do
        if XDG_RUNTIME_DIR="$dir" "$WEAVE" status >/dev/null 2>&1; then return 0; fi
        alive "$DPID" || break
        sleep 0.025
    done
    say "daemon did not become ready; its stderr:"
    cat "$dir/daemon.stderr"
    return 1
}

# run_weave DIR ARGS...: runs weave with XDG_RUNTIME_DIR=DIR; sets RC, OUT,
# ERR (stdout and stderr text).
run_weave() {
    local dir=$1
    shift
    XDG_RUNTIME_DIR="$dir" "$WEAVE" "$@" >"$dir/out.txt" 2>"$dir/err.txt"
    RC=$?
    OUT="$(cat "$dir/out.txt")"
    ERR="$(cat "$dir/err.txt")"
}

# hexbytes FILE SKIP COUNT: bytes as lowercase hex pairs separated by spaces.
hexbytes() {
    od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

# --- cases ----------------------------------------------------------------------

case_generate_png() {
    local dir png sig ihdr w h
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad generate_png "daemon not ready"; return; }
    png="$dir/fox.png"
    run_weave "$dir" generate --no-autostart --width 128 --height 64 --steps 2 --seed 42 -o "$png" "a red fox"
    [ "$RC" = 0 ] || { bad generate_png "exit $RC, stderr: $ERR"; return; }
    [ -s "$png" ] || { bad generate_png "no file $png"; return; }
    sig="$(hexbytes "$png" 0 8)"
    [ "$sig" = "89 50 4e 47 0d 0a 1a 0a" ] || { bad generate_png "PNG signature '$sig'"; return; }
    ihdr="$(hexbytes "$png" 8 8)"
    [ "$ihdr" = "00 00 00 0d 49 48 44 52" ] || { bad generate_png "IHDR chunk header '$ihdr'"; return; }
    w="$(hexbytes "$png" 16 4)"
    h="$(hexbytes "$png" 20 4)"
    [ "$w" = "00 00 00 80" ] || { bad generate_png "IHDR width '$w', want 128"; return; }
    [ "$h" = "00 00 00 40" ] || { bad generate_png "IHDR height '$h', want 64"; return; }
    case "$OUT" in
    *"seed 42"*) ;;
    *) bad generate_png "summary does not name seed 42: '$OUT'"; return ;;
    esac
    # Same seed again: the same file, byte for byte.
    run_weave "$dir" generate --no-autostart --width 128 --height 64 --steps 2 --seed 42 -o "$dir/fox2.png" "a red fox"
    [ "$RC" = 0 ] || { bad generate_png "second run exit $RC: $ERR"; return; }
    cmp -s "$png" "$dir/fox2.png" || { bad generate_png "same seed gave a different PNG"; return; }
    ok generate_png
}

# has_step_delay: the daemon has --step-delay-ms (slow procedural steps).
has_step_delay() { "$DAEMON" --help 2>&1 | grep -q -- '--step-delay-ms'; }

# protocol_max DIR: the highest protocol version the daemon serving DIR
# speaks (from weave status --json).
protocol_max() {
    XDG_RUNTIME_DIR="$1" "$WEAVE" status --json 2>/dev/null |
        sed -n 's/.*"protocol":{"min":[0-9]*,"max":\([0-9]*\)}.*/\1/p'
}

# Progress against the real daemon: with protocol v2 and slow steps, one
# --json progress event per step and the step bar on a pty; with a v1
# daemon, no progress event and still the image.
case_progress() {
    local dir slow max n out
    newdir
    dir="$NEWDIR"
    slow=""
    has_step_delay && slow="--step-delay-ms=20"
    # shellcheck disable=SC2086
    start_daemon "$dir" $slow || { bad progress "daemon not ready"; return; }
    max="$(protocol_max "$dir")"
    [ -n "$max" ] || { bad progress "no protocol version in weave status --json"; return; }
    run_weave "$dir" generate --no-autostart --steps 8 --json -o "$dir/p.png" "a slow fox"
    [ "$RC" = 0 ] || { bad progress "exit $RC: $ERR"; return; }
    n="$(printf '%s\n' "$OUT" | grep -c '"event":"progress"')"
    case "$(printf '%s\n' "$OUT" | tail -n 1)" in
    '{"event":"done",'*) ;;
    *) bad progress "last event is not done: $OUT"; return ;;
    esac
    if [ "$max" -lt 2 ]; then
        [ "$n" = 0 ] || { bad progress "v1 daemon, $n progress events"; return; }
        say "note: progress: the daemon speaks protocol $max only: fallback checked, progress not"
        ok progress
        return
    fi
    if [ -z "$slow" ]; then
        say "note: progress: the daemon has no --step-delay-ms: event count not checked ($n)"
        ok progress
        return
    fi
    [ "$n" = 8 ] || { bad progress "$n progress events for 8 steps: $OUT"; return; }
    if command -v script >/dev/null 2>&1; then
        script -qfec "env XDG_RUNTIME_DIR='$dir' TERM=xterm '$WEAVE' generate --no-autostart --steps 8 -o '$dir/t.png' x" /dev/null >"$dir/tty.txt" 2>&1 </dev/null
        out="$(cat -v "$dir/tty.txt")"
        case "$out" in
        *"step 8/8 [====================] 100%"*) ;;
        *) bad progress "pty: no step bar: $out"; return ;;
        esac
    fi
    ok progress
}

# SIGINT to weave while the daemon runs a long job: exit 130 at once, no
# file, and the daemon is free for the next request (the job was stopped,
# not left running for the 10 s it had left).
case_cancel() {
    local dir max pid rc i t0 t1
    if ! has_step_delay; then
        skip=$((skip + 1))
        say "SKIP: cancel: the daemon has no --step-delay-ms"
        return
    fi
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" --step-delay-ms=100 || { bad cancel "daemon not ready"; return; }
    max="$(protocol_max "$dir")"
    if [ "${max:-1}" -lt 2 ]; then
        skip=$((skip + 1))
        say "SKIP: cancel: the daemon speaks protocol ${max:-?} only"
        return
    fi
    XDG_RUNTIME_DIR="$dir" "$WEAVE" generate --no-autostart --steps 100 --json -o "$dir/c.png" x >"$dir/ev.txt" 2>"$dir/err.txt" &
    pid=$!
    for i in $(seq 1 400); do
        grep -q '"event":"progress"' "$dir/ev.txt" 2>/dev/null && break
        sleep 0.025
    done
    grep -q '"event":"progress"' "$dir/ev.txt" || { bad cancel "no progress event: $(cat "$dir/ev.txt" "$dir/err.txt")"; kill "$pid"; return; }
    t0="$(date +%s%N)"
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    t1="$(date +%s%N)"
    [ "$rc" = 130 ] || { bad cancel "exit $rc (want 130): $(cat "$dir/err.txt")"; return; }
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] || { bad cancel "weave took $(((t1 - t0) / 1000000)) ms to stop"; return; }
    if ls -a "$dir" | grep -q 'c\.png'; then
        bad cancel "a file was left: $(ls -a "$dir")"; return
    fi
    t0="$(date +%s%N)"
    run_weave "$dir" generate --no-autostart --steps 2 -o "$dir/n.png" x
    t1="$(date +%s%N)"
    [ "$RC" = 0 ] || { bad cancel "next request: exit $RC: $ERR"; return; }
    [ $(((t1 - t0) / 1000000)) -lt 3000 ] || { bad cancel "next request took $(((t1 - t0) / 1000000)) ms: the cancelled job kept the daemon"; return; }
    ok cancel
}

# 2048x2048: through shared memory from a daemon that speaks protocol v2, or,
# from a v1-only one, exit 4 with the v1 limit in the user's terms.
case_big_image() {
    local dir png w h
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad big_image "daemon not ready"; return; }
    png="$dir/big.png"
    run_weave "$dir" generate --no-autostart --width 2048 --height 2048 --steps 1 --seed 7 -o "$png" "a big sky"
    case "$RC" in
    0)
        w="$(hexbytes "$png" 16 4)"
        h="$(hexbytes "$png" 20 4)"
        [ "$w $h" = "00 00 08 00 00 00 08 00" ] || { bad big_image "IHDR '$w $h', want 2048x2048"; return; }
        ;;
    4)
        case "$ERR" in
        "weave: weave-compute daemon speaks protocol version 1 only: a 2048x2048 image"*1856x1856*) ;;
        *) bad big_image "v1-only daemon: $ERR"; return ;;
        esac
        [ ! -e "$png" ] || { bad big_image "a file after a refusal"; return; }
        ;;
    *) bad big_image "exit $RC: $ERR"; return ;;
    esac
    ok big_image
}

case_status_running() {
    local dir
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad status_running "daemon not ready"; return; }
    run_weave "$dir" status
    [ "$RC" = 0 ] || { bad status_running "exit $RC, stderr: $ERR"; return; }
    case "$OUT" in
    *"weave-compute is running"*) ;;
    *) bad status_running "stdout: $OUT"; return ;;
    esac
    case "$OUT" in
    *procedural*) ;;
    *) bad status_running "backend not shown: $OUT"; return ;;
    esac
    case "$OUT" in
    *"$dir/weave/weave.sock"*) ;;
    *) bad status_running "socket path not shown: $OUT"; return ;;
    esac
    ok status_running
}

case_not_running() {
    local dir want="weave-compute daemon not running (socket not found)"
    newdir
    dir="$NEWDIR"
    run_weave "$dir" generate --no-autostart -o "$dir/none.png" "nobody home"
    [ "$RC" = 3 ] || { bad not_running "generate exit $RC (want 3), stderr: $ERR"; return; }
    case "$ERR" in
    *"$want"*) ;;
    *) bad not_running "generate stderr lacks '$want': $ERR"; return ;;
    esac
    [ ! -e "$dir/none.png" ] || { bad not_running "an output file was written"; return; }
    [ ! -e "$dir/weave/weave.sock" ] || { bad not_running "--no-autostart started a daemon"; return; }
    run_weave "$dir" status
    [ "$RC" = 3 ] || { bad not_running "status exit $RC (want 3), stderr: $ERR"; return; }
    case "$ERR$OUT" in
    *"$want"*) ;;
    *) bad not_running "status lacks '$want': $ERR $OUT"; return ;;
    esac
    ok not_running
}

case_autostart() {
    local dir pid i
    newdir
    dir="$NEWDIR"
    # As a user would: no WEAVE_COMPUTE_BIN under Bazel (weave finds the
    # daemon in its runfiles); outside Bazel it points at the build.
    if [ "$UNDER_BAZEL" = 1 ]; then
        XDG_RUNTIME_DIR="$dir" env -u WEAVE_COMPUTE_BIN "$WEAVE" generate --width 64 --height 64 --steps 1 -o "$dir/auto.png" "autostarted" >"$dir/out.txt" 2>"$dir/err.txt"
    else
        XDG_RUNTIME_DIR="$dir" WEAVE_COMPUTE_BIN="$DAEMON" "$WEAVE" generate --width 64 --height 64 --steps 1 -o "$dir/auto.png" "autostarted" >"$dir/out.txt" 2>"$dir/err.txt"
    fi
    RC=$?
    pid="$(logged_pid "$dir")"
    [ "$RC" = 0 ] || { bad autostart "generate exit $RC, stderr: $(cat "$dir/err.txt")"; return; }
    [ -s "$dir/auto.png" ] || { bad autostart "no PNG written"; return; }
    [ -n "$pid" ] || { bad autostart "no daemon pid in $dir/weave/weave-compute.log"; return; }
    alive "$pid" || { bad autostart "autostarted daemon (pid $pid) is not running"; return; }
    run_weave "$dir" status
    [ "$RC" = 0 ] || { bad autostart "status exit $RC after autostart: $ERR"; return; }
    case "$OUT" in
    *"weave-compute is running"*) ;;
    *) bad autostart "status: $OUT"; return ;;
    esac
    stop_pid "$pid" || { bad autostart "daemon pid $pid ignored SIGTERM"; return; }
    for i in $(seq 1 100); do
        [ -e "$dir/weave/weave.sock" ] || break
        sleep 0.02
    done
    [ ! -e "$dir/weave/weave.sock" ] || { bad autostart "socket left after SIGTERM"; return; }
    run_weave "$dir" status
    [ "$RC" = 3 ] || { bad autostart "status after stop: exit $RC, want 3"; return; }
    ok autostart
}

case_width_rule() {
    local dir
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad width_rule "daemon not ready"; return; }
    run_weave "$dir" generate --no-autostart --width 100 -o "$dir/w.png" "too narrow"
    # weave checks the rule itself: a usage error, in the flag's own name.
    [ "$RC" = 2 ] || { bad width_rule "exit $RC (want 2), stderr: $ERR"; return; }
    case "$ERR" in
    "weave: --width 100: want a multiple of 64 in 64..2048"*) ;;
    *) bad width_rule "stderr does not state the width rule in flag terms: $ERR"; return ;;
    esac
    [ ! -e "$dir/w.png" ] || { bad width_rule "an output file was written"; return; }
    ok width_rule
}

now_ms() { date +%s%3N; }

# wait_gone PID: up to 10 s for PID to exit (or be a zombie).
wait_gone() {
    local i
    for i in $(seq 1 400); do
        alive "$1" || return 0
        [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" = Z ] && return 0
        sleep 0.025
    done
    return 1
}

case_stop() {
    local dir
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad stop "daemon not ready"; return; }
    run_weave "$dir" status
    case "$OUT" in
    *"pid:"*" $DPID"*) ;;
    *) bad stop "status does not show pid $DPID: $OUT"; return ;;
    esac
    run_weave "$dir" status --json
    case "$OUT" in
    '{"running":true,"pid":'"$DPID"',"socket":"'"$dir/weave/weave.sock"'","daemon_version":'*'"protocol":{"min":1,"max":2},"uptime_ms":'*'"queue_depth":0,"backend":"procedural","features":["progress","shm"],"backend_state":"'*'","worker_pid":'*',"worker_restarts":0,"jobs_running":0,"last_crash":"","generations":0,"generation_us":0}') ;;
    *) bad stop "status --json: $OUT"; return ;;
    esac
    run_weave "$dir" version
    case "$OUT" in
    *"weave-compute "*"(protocol 1..2, pid $DPID)"*) ;;
    *) bad stop "version does not show the daemon: $OUT"; return ;;
    esac
    run_weave "$dir" stop
    [ "$RC" = 0 ] || { bad stop "stop exit $RC: $ERR"; return; }
    [ "$OUT" = "stopped weave-compute (pid $DPID)" ] || { bad stop "stop said: $OUT"; return; }
    # weave stop returns once the daemon is gone, so no waiting here.
    [ ! -e "$dir/weave/weave.sock" ] || { bad stop "socket still there after weave stop"; return; }
    wait_gone "$DPID" || { bad stop "pid $DPID still running"; return; }
    run_weave "$dir" stop
    [ "$RC" = 0 ] && [ "$OUT" = "weave-compute is not running" ] || { bad stop "second stop: exit $RC, '$OUT' '$ERR'"; return; }
    run_weave "$dir" version
    case "$OUT" in
    *"weave-compute: not running"*) ;;
    *) bad stop "version without a daemon: $OUT"; return ;;
    esac
    ok stop
}

case_autostart_race() {
    local dir i p pids="" started serving n
    newdir
    dir="$NEWDIR"
    for i in 1 2 3 4; do
        XDG_RUNTIME_DIR="$dir" WEAVE_COMPUTE_BIN="$DAEMON" "$WEAVE" generate --width 64 --height 64 --steps 1 \
            -o "$dir/race$i.png" "race $i" >"$dir/race$i.out" 2>"$dir/race$i.err" &
        pids="$pids $!"
    done
    i=0
    for p in $pids; do
        i=$((i + 1))
        wait "$p" || { bad autostart_race "generate $i failed: $(cat "$dir/race$i.err")"; return; }
        [ -s "$dir/race$i.png" ] || { bad autostart_race "generate $i wrote no PNG"; return; }
    done
    started="$(cat "$dir"/race*.err | sed -n 's/^started weave-compute (pid \([0-9]*\))$/\1/p')"
    n="$(printf '%s\n' "$started" | grep -c .)"
    run_weave "$dir" status --json
    serving="$(printf '%s' "$OUT" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')"
    PIDS="$PIDS $serving"
    [ "$n" = 1 ] || { bad autostart_race "want exactly one 'started' line, got $n: $(cat "$dir"/race*.err)"; return; }
    [ "$started" = "$serving" ] || { bad autostart_race "'started' names pid $started, but pid $serving serves"; return; }
    ok autostart_race
}

case_hints() {
    local dir t0 t1 long
    newdir
    dir="$NEWDIR"
    run_weave "$dir" generate --no-autostart -o "$dir/x.png" "x"
    case "$ERR" in
    "weave: weave-compute daemon not running (socket not found): $dir/weave/weave.sock"*"without --no-autostart"*"weave-compute &"*"systemctl --user start weave-compute.socket"*) ;;
    *) bad hints "not running: $ERR"; return ;;
    esac
    # Stale socket: a daemon killed with SIGKILL.
    start_daemon "$dir" || { bad hints "daemon not ready"; return; }
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null # reap it here, quietly
    wait_gone "$DPID"
    run_weave "$dir" status
    [ "$RC" = 3 ] || { bad hints "stale: exit $RC"; return; }
    case "$ERR" in
    "weave: weave-compute daemon not accepting connections: "*"has died"*"weave-compute &"*) ;;
    *) bad hints "stale socket: $ERR"; return ;;
    esac
    run_weave "$dir" stop
    [ "$RC" = 0 ] || { bad hints "stop with a stale socket: exit $RC $ERR"; return; }
    # A stopped daemon: status answers within 2 s (plus slack), exit 3.
    start_daemon "$dir" || { bad hints "daemon not ready (2)"; return; }
    kill -STOP "$DPID"
    t0=$(now_ms)
    run_weave "$dir" status
    t1=$(now_ms)
    [ "$RC" = 3 ] || { bad hints "stopped daemon: status exit $RC: $ERR"; kill -CONT "$DPID"; return; }
    [ $((t1 - t0)) -lt 4000 ] || { bad hints "status took $((t1 - t0)) ms"; kill -CONT "$DPID"; return; }
    case "$ERR" in
    "weave: weave-compute daemon response timeout: "*"is not responding"*"weave-compute (pid $DPID) is not responding"*) ;;
    *) bad hints "stopped daemon: $ERR"; kill -CONT "$DPID"; return ;;
    esac
    run_weave "$dir" generate --no-autostart --timeout 1s -o "$dir/s.png" "x"
    [ "$RC" = 3 ] || { bad hints "stopped daemon: generate exit $RC"; kill -CONT "$DPID"; return; }
    case "$ERR" in
    *"is not responding"*) ;;
    *) bad hints "stopped daemon, generate: $ERR"; kill -CONT "$DPID"; return ;;
    esac
    # weave stop also stops a stopped daemon (SIGTERM, then SIGCONT).
    run_weave "$dir" stop
    [ "$RC" = 0 ] || { bad hints "stop of a stopped daemon: exit $RC $ERR"; kill -CONT "$DPID"; return; }
    wait_gone "$DPID" || { bad hints "stopped daemon survived weave stop"; return; }
    # A socket path longer than sun_path.
    long="$dir/$(printf 'd%.0s' $(seq 1 100))"
    mkdir -p "$long"
    XDG_RUNTIME_DIR="$long" "$WEAVE" generate -o "$dir/l.png" x >"$dir/out.txt" 2>"$dir/err.txt"
    RC=$?
    ERR="$(cat "$dir/err.txt")"
    [ "$RC" = 1 ] || { bad hints "long path: exit $RC: $ERR"; return; }
    case "$ERR" in
    "weave: socket path too long ($((${#long} + 17)) bytes, max 107): "*"XDG_RUNTIME_DIR"*) ;;
    *) bad hints "long path: $ERR"; return ;;
    esac
    # A failed autostart names the daemon's first error, not its usage text.
    XDG_RUNTIME_DIR="$dir" WEAVE_COMPUTE_BIN="$DAEMON" WEAVE_LOG_LEVEL=bogus "$WEAVE" generate -o "$dir/f.png" x >"$dir/out.txt" 2>"$dir/err.txt"
    RC=$?
    ERR="$(cat "$dir/err.txt")"
    [ "$RC" = 3 ] || { bad hints "failed autostart: exit $RC: $ERR"; return; }
    case "$ERR" in
    *"exited with status 2 before it was ready: weave-compute: invalid WEAVE_LOG_LEVEL 'bogus'"*) ;;
    *) bad hints "failed autostart: $ERR"; return ;;
    esac
    case "$ERR" in
    *Usage*) bad hints "failed autostart shows usage text: $ERR"; return ;;
    esac
    ok hints
}

case_usage_values() {
    local dir args want
    newdir
    dir="$NEWDIR"
    while IFS='|' read -r args want; do
        # shellcheck disable=SC2086
        run_weave "$dir" generate -o "$dir/u.png" $args
        [ "$RC" = 2 ] || { bad usage_values "'$args': exit $RC (want 2): $ERR"; return; }
        case "$ERR" in
        "weave: $want"*) ;;
        *) bad usage_values "'$args': want 'weave: $want', got: $ERR"; return ;;
        esac
        case "$ERR" in
        *cfg_scale* | *bits* | *clip_l*) bad usage_values "'$args': wire names in: $ERR"; return ;;
        esac
    done <<'VALUES'
--cfg 99 x|--cfg 99: want 0..20
--steps 101 x|--steps 101: want 1..100
--height 70 x|--height 70: want a multiple of 64 in 64..2048
--width 2112 --height 64 x|--width 2112: want a multiple of 64 in 64..2048
--timeout 5 x|invalid value "5" for --timeout: a duration needs a unit: did you mean 5s?
--widht 64 x|unknown flag --widht
VALUES
    run_weave "$dir" generate -o "$dir/u.png" "   "
    [ "$RC" = 2 ] || { bad usage_values "blank prompt: exit $RC: $ERR"; return; }
    case "$ERR" in
    "weave: the prompt is blank"*) ;;
    *) bad usage_values "blank prompt: $ERR"; return ;;
    esac
    [ ! -e "$dir/weave" ] || { bad usage_values "a usage error touched the runtime dir"; return; }
    run_weave "$dir" help nope
    [ "$RC" = 2 ] || { bad usage_values "help nope: exit $RC"; return; }
    case "$ERR" in
    *'unknown command "nope"'*) ;;
    *) bad usage_values "help nope: $ERR"; return ;;
    esac
    run_weave "$dir" generate --help
    case "$OUT" in
    *1856x1856*2048*) ;;
    *) bad usage_values "help lacks the real limits"; return ;;
    esac
    ok usage_values
}

case_stdout_and_json() {
    local dir sig
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad stdout_json "daemon not ready"; return; }
    XDG_RUNTIME_DIR="$dir" "$WEAVE" generate --no-autostart --width 64 --height 64 --seed 7 -o - "to stdout" >"$dir/p.png" 2>"$dir/err.txt"
    RC=$?
    [ "$RC" = 0 ] || { bad stdout_json "-o -: exit $RC $(cat "$dir/err.txt")"; return; }
    sig="$(hexbytes "$dir/p.png" 0 8)"
    [ "$sig" = "89 50 4e 47 0d 0a 1a 0a" ] || { bad stdout_json "stdout is not a PNG: $sig"; return; }
    case "$(cat "$dir/err.txt")" in
    "wrote PNG to stdout (64x64, seed 7, generated in "*) ;;
    *) bad stdout_json "stderr: $(cat "$dir/err.txt")"; return ;;
    esac
    run_weave "$dir" generate --no-autostart --json --width 64 --height 64 --seed 7 -o "$dir/j.png" "to stdout"
    # A protocol v2 daemon may send queued/progress events first: the
    # last line is the result.
    case "$(printf '%s\n' "$OUT" | tail -n 1)" in
    '{"event":"done","path":"'"$dir/j.png"'","width":64,"height":64,"seed":7,"generation_ms":'*'}') ;;
    *) bad stdout_json "--json done: $OUT"; return ;;
    esac
    cmp -s "$dir/p.png" "$dir/j.png" || { bad stdout_json "-o - and a file differ"; return; }
    run_weave "$dir" generate --no-autostart --json --steps 0 "json"
    [ "$RC" = 2 ] && [ "$OUT" = '{"event":"error","status":0,"code":0,"message":"--steps 0: want 1..100"}' ] ||
        { bad stdout_json "--json error: $RC $OUT"; return; }
    ok stdout_json
}

# Ctrl-C (SIGINT) exits 130 and SIGTERM 143, with no partial file: the
# daemon is stopped so the request is certainly in flight.
case_signals() {
    local dir pid rc sig want i
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad signals "daemon not ready"; return; }
    kill -STOP "$DPID"
    for sig in INT TERM; do
        XDG_RUNTIME_DIR="$dir" "$WEAVE" generate --no-autostart --timeout 60s -o "$dir/sig.png" "x" >/dev/null 2>"$dir/err.txt" &
        pid=$!
        # Wait until weave has connected (the stopped daemon's backlog
        # holds the connection).
        for i in $(seq 1 400); do
            ls -l "/proc/$pid/fd" 2>/dev/null | grep -q 'socket:' && break
            sleep 0.025
        done
        kill -"$sig" "$pid"
        wait "$pid"
        rc=$?
        want=130
        [ "$sig" = TERM ] && want=143
        [ "$rc" = "$want" ] || { bad signals "SIG$sig: exit $rc (want $want): $(cat "$dir/err.txt")"; kill -CONT "$DPID"; return; }
        if ls -a "$dir" | grep -q 'sig\.png'; then
            bad signals "SIG$sig left $(ls -a "$dir")"; kill -CONT "$DPID"; return
        fi
    done
    kill -CONT "$DPID"
    ok signals
}

# On a terminal the spinner uses "erase line" (ESC [K) normally, and no
# escape at all with TERM=dumb or NO_COLOR. script(1) gives weave a pty;
# the stopped daemon makes the wait long enough for the spinner to draw.
case_terminal() {
    local dir envs out
    if ! command -v script >/dev/null 2>&1; then
        skip=$((skip + 1))
        say "SKIP: terminal: no script(1) (util-linux)"
        return
    fi
    newdir
    dir="$NEWDIR"
    start_daemon "$dir" || { bad terminal "daemon not ready"; return; }
    kill -STOP "$DPID"
    for envs in "TERM=xterm" "TERM=dumb" "TERM=xterm NO_COLOR=1"; do
        script -qfec "env XDG_RUNTIME_DIR='$dir' $envs '$WEAVE' generate --no-autostart --timeout 700ms -o '$dir/t.png' x" /dev/null >"$dir/tty.txt" 2>&1 </dev/null
        out="$(cat -v "$dir/tty.txt")"
        case "$out" in
        *"generating 512x512"*) ;;
        *) bad terminal "$envs: no spinner drawn: $out"; kill -CONT "$DPID"; return ;;
        esac
        if [ "$envs" = "TERM=xterm" ]; then
            case "$out" in
            *'^[[K'*) ;;
            *) bad terminal "$envs: no erase-line escape (the check would be blind): $out"; kill -CONT "$DPID"; return ;;
            esac
        else
            case "$out" in
            *'^['*) bad terminal "$envs: ANSI escape in: $out"; kill -CONT "$DPID"; return ;;
            esac
        fi
    done
    kill -CONT "$DPID"
    ok terminal
}

case_completion() {
    local dir got sh
    newdir
    dir="$NEWDIR"
    "$WEAVE" completion bash >"$dir/c.bash" || { bad completion "exit $?"; return; }
    got="$(bash -c 'source "$1"; COMP_WORDS=(weave generate --png-compression ""); COMP_CWORD=3; _weave; echo "${COMPREPLY[*]}"' x "$dir/c.bash")"
    [ "$got" = "fast default best" ] || { bad completion "bash: '$got'"; return; }
    for sh in zsh fish; do
        "$WEAVE" completion "$sh" | grep -q 'generate' || { bad completion "$sh script"; return; }
    done
    ok completion
}

case_usage_errors() {
    local dir args
    newdir
    dir="$NEWDIR"
    for args in "" "generate" "frobnicate" "generate --steps abc x" "generate --no-such-flag x" "status extra"; do
        # shellcheck disable=SC2086
        run_weave "$dir" $args
        [ "$RC" = 2 ] || { bad usage_errors "'weave $args': exit $RC (want 2), stderr: $ERR"; return; }
        [ -n "$ERR" ] || { bad usage_errors "'weave $args': no message on stderr"; return; }
    done
    [ ! -e "$dir/weave/weave.sock" ] || { bad usage_errors "a usage error started a daemon"; return; }
    ok usage_errors
}

case_xdg_unset() {
    local rc err
    err="$(env -u XDG_RUNTIME_DIR "$WEAVE" status 2>&1 >/dev/null)"
    rc=$?
    [ "$rc" != 0 ] || { bad xdg_unset "status succeeded without XDG_RUNTIME_DIR"; return; }
    case "$err" in
    *"XDG_RUNTIME_DIR not set"*) ;;
    *) bad xdg_unset "stderr: $err"; return ;;
    esac
    ok xdg_unset
}

# A backend crash is an error reply naming the signal, weave exits 5, and
# weave status shows the restart and the crash (issue 13 "Visible").
case_backend_crash() {
    local dir
    if [ ! -x "$SCRIPTED" ]; then
        if [ "$UNDER_BAZEL" = 1 ]; then bad backend_crash "weave-compute-scripted not in the runfiles"; return; fi
        skip=$((skip + 1)); say "SKIP: backend_crash: set WEAVE_COMPUTE_SCRIPTED_BIN"; return
    fi
    newdir
    dir="$NEWDIR"
    local saved=$DAEMON
    DAEMON=$SCRIPTED
    start_daemon "$dir"
    local started=$?
    DAEMON=$saved
    [ "$started" = 0 ] || { bad backend_crash "scripted daemon not ready"; return; }
    run_weave "$dir" generate "script: crash=segv@2" --width 64 --height 64 --steps 3 -o "$dir/crash.png"
    [ "$RC" = 5 ] || { bad backend_crash "generate exit $RC (want 5), stderr: $ERR"; return; }
    case "$ERR" in
    *"backend crashed (SIGSEGV)"*) ;;
    *) bad backend_crash "error does not name the crash: $ERR"; return ;;
    esac
    [ ! -e "$dir/crash.png" ] || { bad backend_crash "a file was left after the crash"; return; }
    alive "$DPID" || { bad backend_crash "the daemon died with its worker"; return; }
    run_weave "$dir" status
    [ "$RC" = 0 ] || { bad backend_crash "status exit $RC after the crash: $ERR"; return; }
    case "$OUT" in
    *"backend restarts: "*"last crash: backend crashed (SIGSEGV)"*) ;;
    *) bad backend_crash "status does not show the crash: $OUT"; return ;;
    esac
    run_weave "$dir" generate "a plain job after the crash" --width 64 --height 64 -o "$dir/after.png"
    [ "$RC" = 0 ] && [ -s "$dir/after.png" ] || { bad backend_crash "no image after the crash: exit $RC, $ERR"; return; }
    run_weave "$dir" status --json
    case "$OUT" in
    *'"backend_state":"loaded","worker_pid":'[1-9]*'"worker_restarts":'[1-9]*'"last_crash":"backend crashed (SIGSEGV)","generations":1,"generation_us":'[0-9]*'}') ;;
    *) bad backend_crash "status --json after the restart: $OUT"; return ;;
    esac
    # The crashed job is not counted; the one after it is (SPEC 11.6).
    run_weave "$dir" status
    case "$OUT" in
    *"generations:      1 (mean "*" ms)"*) ;;
    *) bad backend_crash "status does not count the one image made: $OUT"; return ;;
    esac
    ok backend_crash
}

case_generate_png
case_big_image
case_backend_crash
case_progress
case_cancel
case_status_running
case_not_running
case_autostart
case_width_rule
case_usage_errors
case_xdg_unset
case_stop
case_autostart_race
case_hints
case_usage_values
case_stdout_and_json
case_signals
case_terminal
case_completion

[ -n "$failed_cases" ] && say "failed:$failed_cases"
if [ "$skip" -gt 0 ]; then
    say "$pass passed, $fail failed, $skip skipped"
else
    say "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
