#!/usr/bin/env bash
# weave-compute-scripted, the real binary: it starts, says which backend it
# serves with (in --help and the log), and stops cleanly on SIGTERM. (The scripted backend's
# behaviour per job is c/backends/scripted:scripted_test.)
set -euo pipefail

bin=$1
dir=$(mktemp -d /tmp/weave-scripted.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# --help names the backend this binary serves, not the default one.
"$bin" --help >"$dir/help"
grep -q '^Backend: scripted (TEST ONLY' "$dir/help" || { echo "FAIL: --help backend"; cat "$dir/help"; exit 1; }
if grep -q procedural "$dir/help"; then echo "FAIL: --help mentions procedural"; exit 1; fi

XDG_RUNTIME_DIR=$dir "$bin" --log-level=debug 2>"$dir/log" &
pid=$!
for _ in $(seq 1 200); do
    grep -q 'listening on' "$dir/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
grep -q 'listening on' "$dir/log" || { echo "FAIL: never listened"; cat "$dir/log"; exit 1; }
grep -q ' INFO backend: scripted (TEST ONLY' "$dir/log" || { echo "FAIL: backend line"; cat "$dir/log"; exit 1; }
[ -S "$dir/weave/weave.sock" ] || { echo "FAIL: no socket"; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc after SIGTERM"; cat "$dir/log"; exit 1; }
[ ! -e "$dir/weave/weave.sock" ] || { echo "FAIL: socket left behind"; exit 1; }
echo "1 passed, 0 failed"
