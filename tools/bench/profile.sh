#!/usr/bin/env bash
# Where does the time go? Profiles weave-compute next to the floor server,
# for docs/PERFORMANCE.md. Not a test; run it by hand on a quiet machine:
#
#   tools/bench/profile.sh                 # builds with ./bazelw -c opt, then profiles
#   OUT=/tmp/prof tools/bench/profile.sh   # keep the raw outputs there
#
# Override the binaries with DAEMON=, FLOOR_SERVER=, FLOOR_CLIENT=, BENCH=
# (then nothing is built). Sections, each skipped when its tool is missing:
#   1. syscalls per request (strace -c -f) of weave-compute and floor_server
#      serving N status requests from floor_client, and of the client side
#      (floor_client, go/client, minimal Go raw client);
#   2. perf record -e cpu-clock -a (software clock: this VM has no hardware
#      counters) while go/client and then floor_client load weave-compute:
#      the split between processes and kernel/user, top symbols;
#   3. valgrind --tool=callgrind on weave-compute serving status and 64x64
#      generate requests: instruction counts by function (repeatable even on
#      a noisy machine);
#   4. Go CPU profiles (pprof) of the client side: go/client, a minimal
#      net.Dial client and a blocking-syscall client, against weave-compute.
set -eu  # no pipefail: report pipelines end in head/grep -q

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-5000}"
OUT="${OUT:-$(mktemp -d /tmp/wprof.XXXXXX)}"
mkdir -p "$OUT"

if [ -z "${DAEMON:-}" ]; then
  # -c opt: the same optimized binaries as the published bench run.
  (cd "$root" && ./bazelw build -c opt //c/daemon:weave-compute //tools/bench:all >&2)
  bin="$(cd "$root" && ./bazelw info -c opt bazel-bin 2>/dev/null)"
  DAEMON="$bin/c/daemon/weave-compute"
  FLOOR_SERVER="$bin/tools/bench/floor_server"
  FLOOR_CLIENT="$bin/tools/bench/floor_client"
  BENCH="$bin/tools/bench/bench_/bench"
fi
: "${FLOOR_SERVER:?}" "${FLOOR_CLIENT:?}" "${BENCH:?}"

# Short paths: sun_path holds 108 bytes.
tmp="$(mktemp -d /tmp/wp.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$BENCH" --write-requests "$tmp/req" >/dev/null
sock_d="$tmp/d/weave/weave.sock"
sock_f="$tmp/floor.sock"
mkdir -m 700 -p "$tmp/d"

wait_sock() { # wait_sock PATH: until floor_client gets a status reply
  for _ in $(seq 1 500); do
    if "$FLOOR_CLIENT" --socket "$1" --request "$tmp/req/status.req" --expect-type 4 --iterations 1 2>/dev/null | grep -q '^ok=1 fail=0 '; then
      return 0
    fi
    sleep 0.02
  done
  echo "no server on $1" >&2
  return 1
}

load() { # load SOCK REQ TYPE N [concurrency]: fails unless every request succeeded
  local out
  out="$("$FLOOR_CLIENT" --socket "$1" --request "$tmp/req/$2.req" --expect-type "$3" --iterations "$4" --concurrency "${5:-1}")"
  echo "$out"
  case "$out" in *" fail=0 "*) ;; *) echo "load failed: $out" >&2; return 1 ;; esac
}

start_daemon() { # start_daemon [wrapper...]
  rm -rf "$tmp/d"; mkdir -m 700 -p "$tmp/d"
  XDG_RUNTIME_DIR="$tmp/d" "$@" "$DAEMON" >"$OUT/daemon.log" 2>&1 &
  dpid=$!
  pids+=("$dpid")
  wait_sock "$sock_d"
}

start_floor() { # start_floor [wrapper...]
  "$@" "$FLOOR_SERVER" --socket "$sock_f" --status-reply "$tmp/req/status.reply" \
    --generate-reply "$tmp/req/gen64.reply" >"$OUT/floor.log" 2>&1 &
  fpid=$!
  pids+=("$fpid")
  wait_sock "$sock_f"
}

stop() { # stop PID: SIGTERM to the server (the wrapper's child, if any), wait
  local kids
  kids="$(pgrep -P "$1" || true)"
  if [ -n "$kids" ] && [ "$(cat /proc/"$1"/comm 2>/dev/null)" != "$(basename "$DAEMON")" ] &&
     [ "$(cat /proc/"$1"/comm 2>/dev/null)" != "floor_server" ]; then
    kill -TERM $kids 2>/dev/null || true
  else
    kill -TERM "$1" 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}

per_request() { # per_request FILE N: strace -c table as calls per request
  awk -v n="$2" '
    /^[ ]*[0-9.]+[ ]+[0-9.]+[ ]+[0-9]+[ ]+[0-9]+/ && $NF != "total" {
      if (calls_per[$NF] == "") order[++k] = $NF
      calls_per[$NF] = $4 / n
      total += $4
    }
    END {
      for (i = 1; i <= k; i++) if (calls_per[order[i]] >= 0.05) printf "  %-16s %6.2f\n", order[i], calls_per[order[i]]
      printf "  %-16s %6.2f   (syscalls below 0.05 per request omitted)\n", "total", total / n
    }' "$1"
}

echo "raw outputs: $OUT"
echo "binaries: daemon=$DAEMON floor_server=$FLOOR_SERVER floor_client=$FLOOR_CLIENT bench=$BENCH"

if command -v strace >/dev/null; then
  echo
  echo "=== 1. syscalls per status request (strace -c -f, $N requests, sequential; calls per request) ==="
  start_daemon strace -f -c -o "$OUT/strace.daemon" --
  load "$sock_d" status 4 "$N"
  stop "$dpid"
  # The readiness probe is one more request.
  echo "weave-compute (server side):"; per_request "$OUT/strace.daemon" "$((N + 1))"
  start_floor strace -f -c -o "$OUT/strace.floor" --
  load "$sock_f" status 4 "$N"
  stop "$fpid"
  echo "floor_server (server side):"; per_request "$OUT/strace.floor" "$((N + 1))"

  echo
  echo "=== 1b. syscalls per bulk request (1856x1856 RGB, 10.3 MB reply; 20 requests) ==="
  start_daemon strace -f -c -o "$OUT/strace.daemon.bulk" --
  load "$sock_d" bulk 2 20
  stop "$dpid"
  echo "weave-compute (server side, both threads):"; per_request "$OUT/strace.daemon.bulk" 20
  start_floor_bulk() {
    strace -f -c -o "$OUT/strace.floor.bulk" -- "$FLOOR_SERVER" --socket "$sock_f" \
      --status-reply "$tmp/req/status.reply" --generate-reply "$tmp/req/bulk.reply" >"$OUT/floor.log" 2>&1 &
    fpid=$!
    pids+=("$fpid")
    wait_sock "$sock_f"
  }
  start_floor_bulk
  load "$sock_f" bulk 2 20
  stop "$fpid"
  echo "floor_server (server side):"; per_request "$OUT/strace.floor.bulk" 20

  echo
  echo "=== 1c. client side, status requests ==="
  start_daemon
  strace -f -c -o "$OUT/strace.floor_client" "$FLOOR_CLIENT" --socket "$sock_d" \
    --request "$tmp/req/status.req" --expect-type 4 --iterations "$N" >/dev/null
  echo "floor_client (client side, includes its start-up):"; per_request "$OUT/strace.floor_client" "$N"
  strace -f -c -o "$OUT/strace.goclient" "$BENCH" --loop weave --socket "$sock_d" --loop-n "$N" >/dev/null
  echo "go/client (client side, via bench --loop weave; includes Go runtime start-up):"; per_request "$OUT/strace.goclient" "$N"
  strace -f -c -o "$OUT/strace.rawgo" "$BENCH" --loop rawgo --socket "$sock_d" --loop-n "$N" >/dev/null
  echo "minimal Go raw client (bench --loop rawgo):"; per_request "$OUT/strace.rawgo" "$N"
  stop "$dpid"
fi

if command -v perf >/dev/null; then
  echo
  echo "=== 2. perf record -e cpu-clock -a -g while clients load weave-compute (status, sequential) ==="
  start_daemon
  for who in weave c; do
    if [ "$who" = weave ]; then
      cmd=("$BENCH" --loop weave --socket "$sock_d" --loop-n $((N * 4)))
    else
      cmd=("$FLOOR_CLIENT" --socket "$sock_d" --request "$tmp/req/status.req" --expect-type 4 --iterations $((N * 4)))
    fi
    perf record -q -F 10000 -e cpu-clock -a -g -o "$OUT/perf.$who.data" -- "${cmd[@]}" >/dev/null 2>"$OUT/perf.$who.err" || true
    echo "--- client: $who; share of CPU samples by process and kernel/user:"
    perf report -i "$OUT/perf.$who.data" --stdio --no-children -g none --sort comm,dso 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | grep '%' | head -12
    echo "--- weave-compute's top symbols (self):"
    perf report -i "$OUT/perf.$who.data" --stdio --no-children -g none --comms weave-compute --sort sym 2>/dev/null \
      | grep -v '^#' | grep '%' | grep -v '^ *|' | grep -v -- '---' | head -20
  done
  stop "$dpid"
fi

if command -v valgrind >/dev/null; then
  echo
  echo "=== 3. callgrind: weave-compute serving $N status + $((N / 10)) 64x64 generate requests ==="
  start_daemon valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" --
  load "$sock_d" status 4 "$N"
  load "$sock_d" gen64 2 "$((N / 10))"
  stop "$dpid"
  sleep 0.5
  callgrind_annotate --inclusive=no "$OUT/callgrind.out" 2>/dev/null | head -45
fi

if command -v go >/dev/null; then
  echo
  echo "=== 4. Go CPU profile of the client side: go/client vs minimal net.Dial client vs blocking syscalls ($((N * 4)) status requests each) ==="
  start_daemon
  for who in weave rawgo gosys; do
    "$BENCH" --loop "$who" --socket "$sock_d" --loop-n $((N * 4)) --cpuprofile "$OUT/cpu.$who.pprof"
    echo "--- $who: top functions (flat)"
    go tool pprof -top -nodecount=18 "$BENCH" "$OUT/cpu.$who.pprof" 2>/dev/null | sed -n '4,26p'
  done
  stop "$dpid"
fi
