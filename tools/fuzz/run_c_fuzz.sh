#!/usr/bin/env bash
# Fuzzes the C protocol decoders with libFuzzer (Debian clang), seeded from
# the shared test vectors.
#
#   tools/fuzz/run_c_fuzz.sh [SECONDS] [request|response]
#
# SECONDS defaults to 60, the target to "request" (the daemon's decoder).
# Work files (binary, corpus, crash artifacts, log) go to
# ${WEAVE_FUZZ_DIR:-${TMPDIR:-/tmp}/weave-fuzz}/<target>. Exits non-zero
# when libFuzzer finds a crash; the crashing input is left in artifacts/
# (turn it into a .vec in proto_spec/testdata once fixed).
set -euo pipefail

secs=${1:-60}
target=${2:-request}
case "$target" in
request | response) ;;
*)
    echo "usage: $0 [SECONDS] [request|response]" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WEAVE_FUZZ_DIR:-${TMPDIR:-/tmp}/weave-fuzz}/$target
mkdir -p "$work/corpus" "$work/artifacts"
cd "$root"

cc=${CLANG:-clang}
codec=(c/src/protocol.c c/src/protocol_request.c c/src/protocol_response.c
    c/src/protocol_response_v2.c c/src/protocol_encode.c c/src/protocol_encode_v2.c
    c/src/protocol_encode_any.c c/src/utf8.c)

echo "== building fuzz_${target}_decode with $($cc --version | head -n1)"
"$cc" -g -O1 -std=c11 -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Ic/include "c/fuzz/fuzz_${target}_decode.c" "${codec[@]}" \
    -o "$work/fuzz_${target}_decode"

echo "== seeding $work/corpus from proto_spec/testdata"
"$cc" -O1 -std=c11 -Wall -Wextra -Werror -Ic/test \
    c/fuzz/vec_to_corpus.c c/test/vecfile.c -o "$work/vec_to_corpus"
"$work/vec_to_corpus" "$work/corpus" proto_spec/testdata

echo "== fuzzing for ${secs}s"
cmd=("$work/fuzz_${target}_decode" "-max_total_time=$secs" -max_len=8192 -print_final_stats=1
    -dict=c/fuzz/weave.dict "-artifact_prefix=$work/artifacts/" "$work/corpus")
echo "   ${cmd[*]}"
set +e
"${cmd[@]}" 2>&1 | tee "$work/fuzz.log"
rc=${PIPESTATUS[0]}
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -n1)
crashes=$(find "$work/artifacts" -type f | wc -l)
echo "== ${target} decoder: ${execs:-?} executions in ${secs}s (${rate:-?}/s)," \
    "corpus $(find "$work/corpus" -type f | wc -l) files, ${crashes} artifacts, exit ${rc}"
exit "$rc"
