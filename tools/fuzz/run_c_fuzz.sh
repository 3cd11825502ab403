#!/usr/bin/env bash
# Fuzzes the C code with libFuzzer (Debian clang), under ASan + UBSan:
# the protocol decoders (seeded from the shared test vectors) and the
# daemon's connection state machine (c/daemon/fuzz/fuzz_conn.c).
#
#   tools/fuzz/run_c_fuzz.sh [SECONDS] [request|response|conn] [-- LIBFUZZER_ARGS...]
#
# SECONDS defaults to 60, the target to "request" (the daemon's decoder).
# SECONDS 0 with -runs=N in LIBFUZZER_ARGS runs N inputs instead.
# Work files (binary, corpus, crash artifacts, log) go to
# ${WEAVE_FUZZ_DIR:-${TMPDIR:-/tmp}/weave-fuzz}/<target>. Exits non-zero
# when libFuzzer finds a crash; the crashing input is left in artifacts/
# (turn it into a .vec in proto_spec/testdata once fixed).
set -euo pipefail

secs=${1:-60}
target=${2:-request}
case "$target" in
request | response | conn) ;;
*)
    echo "usage: $0 [SECONDS] [request|response|conn] [-- LIBFUZZER_ARGS...]" >&2
    exit 2
    ;;
esac

extra=()
if [ $# -gt 2 ] && [ "$3" = "--" ]; then
    extra=("${@:4}")
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WEAVE_FUZZ_DIR:-${TMPDIR:-/tmp}/weave-fuzz}/$target
mkdir -p "$work/corpus" "$work/artifacts"
cd "$root"

cc=${CLANG:-clang}
codec=(c/protocol/protocol.c c/protocol/protocol_request.c c/protocol/protocol_response.c
    c/protocol/protocol_response_v2.c c/protocol/protocol_encode.c
    c/protocol/protocol_encode_v2.c c/protocol/protocol_encode_any.c c/protocol/utf8.c)

flags=(-g -O1 -std=c11 -Wall -Wextra -Werror
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
if [ "$target" = conn ]; then
    bin=$work/fuzz_conn
    daemon=(c/daemon/activation.c c/daemon/auth.c c/daemon/clock.c c/daemon/config.c
        c/daemon/conn.c c/daemon/conn_table.c c/daemon/errbuf.c c/daemon/fdpass.c c/daemon/log.c
        c/daemon/rundir.c
        c/daemon/server_accept.c c/daemon/server_conn.c c/daemon/socket.c
        c/daemon/supervisor.c c/daemon/supervisor_jobs.c c/daemon/supervisor_proc.c
        c/daemon/worker_proc.c c/daemon/worker_spawn.c c/daemon/worker_wire.c)
    echo "== building fuzz_conn with $($cc --version | head -n1)"
    "$cc" "${flags[@]}" -pthread -Ic -Ic/daemon -Ic/protocol/include -Ic/backends/include \
        c/daemon/fuzz/fuzz_conn.c "${daemon[@]}" "${codec[@]}" -o "$bin"
    echo "== seeding $work/corpus from proto_spec/testdata (one whole request per input)"
    "$cc" -O1 -std=c11 -Wall -Wextra -Werror -Ic/protocol/test \
        c/protocol/fuzz/vec_to_corpus.c c/protocol/test/vecfile.c -o "$work/vec_to_corpus"
    "$work/vec_to_corpus" --conn "$work/corpus" proto_spec/testdata
    maxlen=16384
else
    bin=$work/fuzz_${target}_decode
    echo "== building fuzz_${target}_decode with $($cc --version | head -n1)"
    "$cc" "${flags[@]}" -Ic/protocol/include -Ic \
        "c/protocol/fuzz/fuzz_${target}_decode.c" "${codec[@]}" -o "$bin"
    echo "== seeding $work/corpus from proto_spec/testdata"
    "$cc" -O1 -std=c11 -Wall -Wextra -Werror -Ic/protocol/test \
        c/protocol/fuzz/vec_to_corpus.c c/protocol/test/vecfile.c -o "$work/vec_to_corpus"
    "$work/vec_to_corpus" "$work/corpus" proto_spec/testdata
    maxlen=8192
fi

echo "== fuzzing for ${secs}s"
cmd=("$bin" "-max_total_time=$secs" "-max_len=$maxlen" -print_final_stats=1
    -dict=c/protocol/fuzz/weave.dict "-artifact_prefix=$work/artifacts/" "${extra[@]}" "$work/corpus")
echo "   ${cmd[*]}"
set +e
"${cmd[@]}" 2>&1 | tee "$work/fuzz.log"
rc=${PIPESTATUS[0]}
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -n1)
crashes=$(find "$work/artifacts" -type f | wc -l)
echo "== ${target}: ${execs:-?} executions in ${secs}s (${rate:-?}/s)," \
    "corpus $(find "$work/corpus" -type f | wc -l) files, ${crashes} artifacts, exit ${rc}"
exit "$rc"
