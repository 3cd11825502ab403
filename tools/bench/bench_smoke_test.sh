#!/usr/bin/env bash
# Smoke test of //tools/bench. Numbers are never asserted, behaviour is:
#  1. `bench --quick` prints the table (both CPU placements of the
#     sequential workloads, concurrency on both CPUs, the end-to-end rows),
#     writes the JSON file and reports zero failed requests;
#  2. the placement flags: --cpus=free runs the sequential workloads
#     unpinned only, a bad --cpus value is a usage error, split on one CPU
#     is refused;
#  3. the noise check: with a limit every spread exceeds, a warning line
#     names the floor and the target lines say "unreliable"; with limits
#     nothing exceeds, no warning and the targets say met or MISSED;
#  4. the version-2 and worker rows (long job with/without progress,
#     cancel, worker start, shared-memory bulk, leak check): each group is
#     either in the table or named on a "skipped: ...: not supported by this
#     daemon" line (never both, never neither), its target line is there,
#     and --leak-check runs the leak check alone.
set -euo pipefail

bench="$1"
out_dir="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# run NAME ARGS...: bench with ARGS, stdout to $out_dir/NAME.txt, JSON to
# $out_dir/NAME.json; a non-zero exit fails the test.
run() {
  local name="$1"
  shift
  local rc=0
  "$bench" "$@" --out "$out_dir/$name.json" >"$out_dir/$name.txt" 2>"$out_dir/$name.stderr" || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$out_dir/$name.txt" "$out_dir/$name.stderr" >&2
    fail "bench $* exited $rc"
  fi
}

# --- 1. the full quick run -------------------------------------------------
run quick --quick
txt="$out_dir/quick.txt"
json="$out_dir/quick.json"
cat "$txt"
grep -q '^| workload  *| cpus ' "$txt" || fail "no table header with a cpus column"
for c in floor-c floor-go weave weave-rawgo weave-gosys weave-c http-close http-keepalive grpc weave-cli; do
  grep -q "| $c " "$txt" || fail "no row for contestant $c"
done
for w in 'small status' 'small gen64' 'concurrency 1 ' 'concurrency 8 ' 'concurrency 64' 'bulk 1856x1856' 'memory' 'start' \
  'end-to-end 512x512' 'end-to-end 1024x1024' 'end-to-end 1856x1856'; do
  grep -q "^| $w" "$txt" || fail "no rows for workload '$w'"
done
# Both placements for the small round trips and bulk, free for the rest.
for w in 'small status' 'small gen64' 'bulk 1856x1856'; do
  for p in same split; do
    grep -Eq "^\| $w +\| $p +\|" "$txt" || fail "no cpus=$p rows for '$w'"
  done
  if grep -Eq "^\| $w +\| free +\|" "$txt"; then fail "'$w' ran unpinned by default"; fi
done
grep -Eq '^\| concurrency 64 +\| free +\|' "$txt" || fail "concurrency rows are not marked free"
if grep -Eq '^\| concurrency [0-9]+ +\| (same|split) +\|' "$txt"; then fail "concurrency rows pinned"; fi
grep -q '^cpus: same = client and every server on CPU ' "$txt" || fail "no header line for cpus=same"
grep -q '^cpus: split = client on CPU .*every server.* on CPU ' "$txt" || fail "no header line for cpus=split"
grep -q '^cpus: free = .*concurrency (clients and servers on both CPUs)' "$txt" || fail "header does not say concurrency uses both CPUs"
grep -q '^cpus: the targets use cpus=same' "$txt" || fail "header does not name the targets' placement"
# Paired ratios: a range in parentheses.
grep -Eq '\| weave +\| .*[0-9]x \([0-9.]+-[0-9.]+\)' "$txt" || fail "no paired ratio range for weave"
grep -q '^target: .*paired weave/floor-c' "$txt" || fail "targets are not from paired ratios"
grep -q '^failures: 0$' "$txt" || fail "failures reported"
grep -q '^soak: ' "$txt" || fail "no soak line"
[ -s "$json" ] || fail "no JSON file"
grep -q '"schema": "weave-bench/1"' "$json" || fail "JSON has no schema"
grep -q '"total_failures": 0' "$json" || fail "JSON total_failures is not 0"
grep -q '"figures": \[' "$json" || fail "JSON has no figures"
grep -q '"cpus": "same"' "$json" || fail "JSON figures do not record cpus=same"
grep -q '"cpus": "split"' "$json" || fail "JSON figures do not record cpus=split"
grep -q '"ratios_paired": true' "$json" || fail "JSON has no paired ratios"
grep -q '"noise_warnings"' "$json" || fail "JSON has no noise_warnings"
# Every figure's failure count is 0.
if grep -q '"failures": [1-9]' "$json"; then fail "a figure has failures"; fi

# --- 4. the version-2 and worker rows (on the quick run) --------------------
grep -q '"v2_support": {' "$json" || fail "JSON has no v2_support"
for g in 'long job 512x512, 28 steps' 'bulk 1856x1856 shm' 'bulk 2048x2048 shm' 'leak check, 20 shm replies' \
  'cancel, --step-delay-ms=20' 'worker start, 64x64 generate'; do
  rows=0 skipped=0
  grep -q "^| $g " "$txt" && rows=1
  grep -q "^skipped: $g: not supported by this daemon: " "$txt" && skipped=1
  [ $((rows + skipped)) -eq 1 ] || fail "'$g': rows=$rows skipped=$skipped (want exactly one)"
  echo "v2 rows '$g': rows=$rows skipped=$skipped"
done
if grep -q '"v2": true' "$json"; then
  # A version-2 daemon with progress: the long job has all three kinds.
  if grep -q '"progress": true' "$json"; then
    # (JSON figures: "workload", "metric", "unit", "contestant" on consecutive lines)
    for c in v1 v2 v2-progress weave weave-progress; do
      grep -A3 '"workload": "long job 512x512, 28 steps"' "$json" | grep -A2 '"metric": "p50 latency"' |
        grep -q "\"contestant\": \"$c\"" || fail "no long-job p50 figure for $c"
    done
  fi
  # Shared memory: the raw client and go/client (GenerateImage) at both sizes.
  if grep -q '"shm": true' "$json"; then
    for g in 'bulk 1856x1856 shm' 'bulk 2048x2048 shm'; do
      for c in shm-raw weave; do
        grep -A3 "\"workload\": \"$g\"" "$json" | grep -A2 '"metric": "p50 latency"' |
          grep -q "\"contestant\": \"$c\"" || fail "no '$g' p50 figure for $c"
      done
    done
    grep -q '"metric": "floor-c copy time / image ready time (same round)"' "$json" || fail "no shared-memory ratio to the floor"
  fi
else
  grep -q '^skipped: long job 512x512, 28 steps: not supported by this daemon: no protocol version 2' "$txt" ||
    fail "a v1-only daemon: the long-job rows are not skipped for the missing version 2"
fi
for t in 'progress costs nothing visible' 'a cancel frees the daemon within one step' \
  'worker process: small generate (64x64) costs at most +30 us' 'worker process: bulk 1856x1856 costs at most +10%' \
  'worker process: the status round trip does not change' "shared-memory reply at 1856x1856 >= 10x faster" \
  'daemon idle RSS after bulk < 2 MiB' 'no fd or mapping leak across 20 shared-memory replies' \
  'weave generate at 1024x1024 adds at most 2x the transport+daemon time (go/client, same request)'; do
  grep -Eq "^target: (met|MISSED|unreliable|n/a) +$(printf '%s' "$t" | sed 's/[][().+*^$]/\\&/g')" "$txt" || fail "no target line '$t'"
done
run leak --quick --leak-check --leak-replies 3 --e2e-sizes=
grep -q '^target: .* no fd or mapping leak across 3 shared-memory replies' "$out_dir/leak.txt" || fail "--leak-check: no leak target"
grep -Eq '^(leak check: 3 shared-memory|skipped: leak check, 3 shm replies: not supported)' "$out_dir/leak.txt" || fail "--leak-check: no leak line"
if grep -q '^| small status' "$out_dir/leak.txt"; then fail "--leak-check ran the other workloads"; fi

# The short runs below: a few contestants, one level, no soak, no CLI.
short=(--quick --only floor-c,weave,http-close,grpc --concurrency 1 --soak 0 --startup-reps 1 --e2e-sizes=)

# --- 2. placement flags ------------------------------------------------------
run free "${short[@]}" --cpus=free
grep -Eq '^\| small status +\| free +\|' "$out_dir/free.txt" || fail "--cpus=free: no free rows"
if grep -Eq '^\| (small|bulk)[^|]*\| (same|split) +\|' "$out_dir/free.txt"; then fail "--cpus=free still pinned"; fi
grep -q '^cpus: the targets use cpus=free' "$out_dir/free.txt" || fail "--cpus=free: targets not on free"
rc=0
"$bench" --quick --cpus=both --out "$out_dir/bad.json" >"$out_dir/bad.txt" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--cpus=both exited $rc, want 2 (usage error)"
grep -q 'bad --cpus' "$out_dir/bad.txt" || fail "--cpus=both: no message"
if command -v taskset >/dev/null; then
  rc=0
  taskset -c 0 "$bench" "${short[@]}" --cpus=split --out "$out_dir/one.json" >"$out_dir/one.txt" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "--cpus=split on one CPU did not fail"
  grep -q 'needs two CPUs' "$out_dir/one.txt" || fail "--cpus=split on one CPU: no reason given"
else
  echo "skip: no taskset, --cpus=split on one CPU not checked"
fi

# --- 3. the noise check ----------------------------------------------------
run noisy "${short[@]}" --cpus=same --noise-spread=-1
grep -q '^warning: noise: small status, cpus=same, p50 latency: the floor (floor-c) spreads' "$out_dir/noisy.txt" ||
  fail "forced noise: no warning naming the floor"
grep -q '^target: unreliable small round trip within 1.5x of the floor' "$out_dir/noisy.txt" ||
  fail "forced noise: the small round trip target is not unreliable"
grep -q '"kind": "floor spread"' "$out_dir/noisy.json" || fail "forced noise: JSON has no warning"
run quiet "${short[@]}" --cpus=same --noise-spread=1000 --noise-beat=1000
if grep -q '^warning: noise' "$out_dir/quiet.txt"; then fail "limits nothing exceeds: a noise warning"; fi
grep -Eq '^target: (met|MISSED) +small round trip within 1.5x of the floor' "$out_dir/quiet.txt" ||
  fail "limits nothing exceeds: the target is not met/MISSED"
if grep -q '^target: unreliable' "$out_dir/quiet.txt"; then fail "limits nothing exceeds: a target is unreliable"; fi

echo "PASS: bench --quick produced the table and $json with 0 failures; placement flags and the noise check behave"
