#!/usr/bin/env bash
# Drives the built `weave` command as a user would, against the real
# weave-compute daemon: generate a PNG, status, the not-running error,
# autostart, the width rule, usage errors.
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
if [ -n "${TEST_SRCDIR:-}" ] && [ -n "${TEST_WORKSPACE:-}" ]; then
    for c in go/cmd/weave/weave_/weave go/cmd/weave/weave; do
        if [ -x "$(rf "$c")" ]; then WEAVE="$(rf "$c")"; break; fi
    done
    [ -x "$(rf c/daemon/weave-compute)" ] && DAEMON="$(rf c/daemon/weave-compute)"
    if [ -z "$WEAVE" ] || [ -z "$DAEMON" ]; then
        say "FAIL: runfiles missing: weave='$WEAVE' weave-compute='$DAEMON' under $TEST_SRCDIR/$TEST_WORKSPACE"
        say "0 passed, 1 failed"
        exit 1
    fi
    UNDER_BAZEL=1
else
    WEAVE="${WEAVE_BIN:-}"
    DAEMON="${WEAVE_COMPUTE_BIN:-}"
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

# start_daemon DIR: starts weave-compute with XDG_RUNTIME_DIR=DIR and waits
# (polling `weave status`, bounded) until it answers. Sets DPID.
start_daemon() {
    local dir=$1 i
    XDG_RUNTIME_DIR="$dir" "$DAEMON" --log-level=debug 2>"$dir/daemon.stderr" &
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
    [ "$RC" = 4 ] || { bad width_rule "exit $RC (want 4), stderr: $ERR"; return; }
    case "$ERR" in
    *"multiple of 64"*) ;;
    *) bad width_rule "stderr does not state the width rule: $ERR"; return ;;
    esac
    case "$ERR" in
    *100*) ;;
    *) bad width_rule "stderr does not name the width given: $ERR"; return ;;
    esac
    [ ! -e "$dir/w.png" ] || { bad width_rule "an output file was written"; return; }
    ok width_rule
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

case_generate_png
case_status_running
case_not_running
case_autostart
case_width_rule
case_usage_errors
case_xdg_unset

[ -n "$failed_cases" ] && say "failed:$failed_cases"
if [ "$skip" -gt 0 ]; then
    say "$pass passed, $fail failed, $skip skipped"
else
    say "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
