#!/usr/bin/env bash
# Smoke test of //tools/bench: `bench --quick` must print the table, write
# the JSON file, and report zero failed requests. Numbers are not asserted.
set -euo pipefail

bench="$1"
out_dir="${TEST_TMPDIR:-$(mktemp -d)}"
json="$out_dir/bench.json"
txt="$out_dir/bench.txt"

rc=0
"$bench" --quick --out "$json" >"$txt" 2>"$out_dir/bench.stderr" || rc=$?
cat "$txt"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: bench --quick exited $rc" >&2
  cat "$out_dir/bench.stderr" >&2
  exit 1
fi

fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q '^| workload ' "$txt" || fail "no table header"
for c in floor-c floor-go weave weave-rawgo weave-gosys weave-c http-close http-keepalive grpc; do
  grep -q "| $c " "$txt" || fail "no row for contestant $c"
done
for w in 'small status' 'small gen64' 'concurrency 1 ' 'concurrency 8 ' 'concurrency 64' 'bulk 1856x1856' 'memory' 'start'; do
  grep -q "^| $w" "$txt" || fail "no rows for workload '$w'"
done
grep -q '^failures: 0$' "$txt" || fail "failures reported"
grep -q '^soak: ' "$txt" || fail "no soak line"
[ -s "$json" ] || fail "no JSON file"
grep -q '"schema": "weave-bench/1"' "$json" || fail "JSON has no schema"
grep -q '"total_failures": 0' "$json" || fail "JSON total_failures is not 0"
grep -q '"figures": \[' "$json" || fail "JSON has no figures"
# Every figure's failure count is 0.
if grep -q '"failures": [1-9]' "$json"; then fail "a figure has failures"; fi
echo "PASS: bench --quick produced the table and $json with 0 failures"
