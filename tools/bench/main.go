// Command bench measures the Weave transport against a floor and against
// HTTP/1.1 and gRPC over the same kind of Unix socket, and prints one table
// plus a JSON file.
//
//	bazel run -c opt //tools/bench              # full run, ~4 minutes
//	bazel run -c opt //tools/bench -- --quick   # ~20 seconds (smoke test)
//
// The sequential workloads (small round trips, bulk) run once per CPU
// placement (--cpus, default same,split: client and servers on one CPU,
// then on two; see placement.go); ratios are paired per round, and a noise
// check marks the targets "unreliable" when the floor is not a floor
// (noise.go). End-to-end rows time the real `weave generate` (e2e.go).
//
// docs/PERFORMANCE.md has the method, a full run and the analysis;
// tools/bench/profile.sh the profiles behind it.
//
// Contestants (all over Unix sockets in a fresh mktemp dir under /tmp):
//
//	floor-c        C floor_client -> C floor_server: the floor, the base of every "x C floor" ratio
//	floor-go       minimal Go raw-socket client -> C floor_server: the base of "x Go floor"
//	weave          go/client -> weave-compute (this project)
//	weave-rawgo    minimal Go raw-socket client -> weave-compute (attribution: library cost)
//	weave-gosys    Go client on blocking syscalls, no netpoller -> weave-compute (attribution: Go net cost)
//	weave-c        C floor_client -> weave-compute (attribution: daemon cost)
//	http-close     net/http client -> net/http server, one request per connection
//	http-keepalive net/http client -> net/http server, keep-alive connections
//	grpc           grpc-go client (one ClientConn) -> grpc-go server, raw-bytes codec
//
// Every non-daemon server answers with the exact reply bytes captured from
// weave-compute at start (same request -> same bytes), so generation cost is
// not in their figures; see --help for the rest.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/weave-app/weave/internal/runfiles"
)

type options struct {
	quick          bool
	rounds         int
	iterations     int
	bulkIterations int
	duration       time.Duration
	levels         []int
	startupReps    int
	soak           int
	out            string
	daemon         string
	floorServer    string
	floorClient    string
	floorThreads   int
	noDaemon       bool
	only           string
	keep           bool
	placements     []string // --cpus, for the sequential workloads
	noiseSpread    float64
	noiseBeat      float64
	weaveCLI       string
	e2eSizes       []int
	pngCompression string

	// Protocol version 2 and the worker process (v2rows.go).
	longSide       int
	longSteps      int
	longIterations int
	cancelDelayMS  int
	cancelReps     int
	coldReps       int
	leakReplies    int
	leakCheck      bool
	inprocDaemon   string
}

func main() {
	// Server mode: the bench re-executes itself as the HTTP or gRPC server.
	if len(os.Args) > 1 && os.Args[1] == "--serve" {
		if len(os.Args) < 5 {
			fmt.Fprintln(os.Stderr, "usage: bench --serve http|grpc SOCKET REPLY_FILE...")
			os.Exit(2)
		}
		if err := serve(os.Args[2], os.Args[3], os.Args[4:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench server:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var levels string
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.BoolVar(&o.quick, "quick", false, "a few seconds in total (smoke test): fewer rounds, iterations and a short soak")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds of every measurement (spread is min/median/max over rounds; default 5, quick 2)")
	fs.IntVar(&o.iterations, "iterations", 0, "sequential requests per round for the small round trips (default 2000, quick 200)")
	fs.IntVar(&o.bulkIterations, "bulk-iterations", 0, "sequential requests per round for the bulk reply (default 60: generation_time_ms has whole-ms resolution, and its mean needs samples; quick 2)")
	fs.DurationVar(&o.duration, "duration", 0, "time per round and concurrency level (default 1s, quick 150ms)")
	fs.StringVar(&levels, "concurrency", "1,8,64", "concurrency levels")
	fs.IntVar(&o.startupReps, "startup-reps", 0, "daemon/server start-to-ready repetitions (default 10, quick 2)")
	fs.IntVar(&o.soak, "soak", -1, "requests in the daemon RSS soak run (default 100000, quick 2000; 0 skips)")
	fs.StringVar(&o.out, "out", "", "JSON output file (default $BUILD_WORKING_DIRECTORY/bench-results.json, else ./bench-results.json)")
	fs.StringVar(&o.daemon, "daemon", "", "weave-compute binary (default: from runfiles)")
	fs.StringVar(&o.floorServer, "floor-server", "", "floor_server binary (default: from runfiles)")
	fs.StringVar(&o.floorClient, "floor-client", "", "floor_client binary (default: from runfiles)")
	fs.IntVar(&o.floorThreads, "floor-threads", 1, "accept loops in floor_server")
	fs.BoolVar(&o.noDaemon, "no-daemon", false, "run without weave-compute (synthesized replies, no weave rows; for developing the bench)")
	fs.StringVar(&o.only, "only", "", "comma-separated contestants to run (floor-c is always run)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs, reply files)")
	cpus := fs.String("cpus", "same,split", "CPU placement of the sequential workloads (small round trips, bulk), a comma-separated list, each run in turn: "+
		"same = client and every server on one CPU (no cross-CPU wake-up; the targets use the first placement listed), split = client on one CPU and every server on the other, "+
		"free = no affinity (the scheduler's choice). Concurrency, start, soak and end-to-end always run free on all CPUs")
	fs.Float64Var(&o.noiseSpread, "noise-spread", 0.10, "noise check: warn when the floor's rounds spread by more than this fraction ((max-min)/median); negative: always warn (for tests)")
	fs.Float64Var(&o.noiseBeat, "noise-beat", 0.05, "noise check: warn when a contestant beats the floor by more than this fraction")
	fs.StringVar(&o.weaveCLI, "weave-cli", "", "weave CLI binary for the end-to-end rows (default: from runfiles)")
	e2e := fs.String("e2e-sizes", "512,1024,1856", "end-to-end rows: `weave generate` image sides (multiples of 64); empty skips them")
	fs.StringVar(&o.pngCompression, "png-compression", "fast", "end-to-end rows: passed as --png-compression to `weave generate` when the CLI has that flag")
	fs.IntVar(&o.longSide, "long-side", 512, "long-job rows: image side (the job is run as v1, v2 without and v2 with progress)")
	fs.IntVar(&o.longSteps, "long-steps", 28, "long-job rows: steps")
	fs.IntVar(&o.longIterations, "long-iterations", 0, "long-job rows: jobs per contestant and round (default 20, quick 3)")
	fs.IntVar(&o.cancelDelayMS, "cancel-step-delay-ms", 0, "cancel rows: --step-delay-ms of their daemon (default 50, quick 20)")
	fs.IntVar(&o.cancelReps, "cancel-reps", 0, "cancel rows: cancels per round (default 3, quick 1)")
	fs.IntVar(&o.coldReps, "cold-reps", 0, "worker start rows: cold/warm pairs per round (default 5, quick 2)")
	fs.IntVar(&o.leakReplies, "leak-replies", -1, "leak check: shared-memory 1856x1856 replies between the fd/mapping counts (default 1000, quick 20, --leak-check 10000; 0 skips)")
	fs.BoolVar(&o.leakCheck, "leak-check", false, "run only the leak check (default 10000 replies; --leak-replies sets the count)")
	fs.StringVar(&o.inprocDaemon, "inproc-daemon", "", "a weave-compute binary from before the worker process (backend inside the daemon): adds the contestants weave-inproc (go/client) and weave-c-inproc (C client) to the small and bulk rows, and the worker targets compare with them, paired, instead of with the published in-process figures")
	writeReqs := fs.String("write-requests", "", "write the request files (status.req, gen64.req, bulk.req) and synthesized replies (*.reply) to this directory and exit (for tools/bench/profile.sh)")
	loop := fs.String("loop", "", "profiling helper: run one Go client (weave, rawgo, gosys, http-close, http-keepalive, grpc) against --socket for --loop-n requests of --loop-workload, then exit")
	loopSock := fs.String("socket", "", "socket for --loop")
	loopN := fs.Int("loop-n", 10000, "requests for --loop")
	loopWL := fs.String("loop-workload", "status", "status, gen64 or bulk, for --loop")
	cpuProfile := fs.String("cpuprofile", "", "with --loop: write a Go CPU profile of the client here")
	_ = fs.Parse(os.Args[1:])
	if *loop != "" {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				fatalf("%v", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				fatalf("%v", err)
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		if err := runLoop(*loop, *loopSock, *loopWL, *loopN); err != nil {
			pprof.StopCPUProfile()
			fatalf("%v", err)
		}
		return
	}
	if *writeReqs != "" {
		if err := writeRequestFiles(*writeReqs); err != nil {
			fatalf("%v", err)
		}
		return
	}
	def := func(p *int, full, quick int) {
		if *p <= 0 {
			if o.quick {
				*p = quick
			} else {
				*p = full
			}
		}
	}
	def(&o.rounds, 5, 2)
	def(&o.iterations, 2000, 200)
	def(&o.bulkIterations, 60, 2)
	def(&o.startupReps, 10, 2)
	def(&o.longIterations, 20, 3)
	def(&o.cancelDelayMS, 50, 20)
	def(&o.cancelReps, 3, 1)
	def(&o.coldReps, 5, 2)
	if o.leakReplies < 0 {
		switch {
		case o.leakCheck:
			o.leakReplies = 10000
		case o.quick:
			o.leakReplies = 20
		default:
			o.leakReplies = 1000
		}
	}
	if o.longSide < 64 || o.longSide%64 != 0 || o.longSteps < 1 || o.longSteps > 100 {
		fmt.Fprintln(os.Stderr, "bench: --long-side must be a multiple of 64, --long-steps 1..100")
		os.Exit(2)
	}
	if o.soak < 0 {
		o.soak = 100000
		if o.quick {
			o.soak = 2000
		}
	}
	if o.duration <= 0 {
		o.duration = time.Second
		if o.quick {
			o.duration = 150 * time.Millisecond
		}
	}
	var perr error
	if o.placements, perr = parsePlacements(*cpus); perr != nil {
		fmt.Fprintln(os.Stderr, "bench:", perr)
		os.Exit(2)
	}
	for _, s := range strings.Split(*e2e, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 64 || n%64 != 0 {
			fmt.Fprintf(os.Stderr, "bench: bad --e2e-sizes %q: sides are multiples of 64\n", *e2e)
			os.Exit(2)
		}
		o.e2eSizes = append(o.e2eSizes, n)
	}
	for _, s := range strings.Split(levels, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n < 1 {
			fatalf("bad --concurrency %q", levels)
		}
		o.levels = append(o.levels, n)
	}
	if o.out == "" {
		o.out = "bench-results.json"
	}
	if !filepath.IsAbs(o.out) {
		if wd := os.Getenv("BUILD_WORKING_DIRECTORY"); wd != "" {
			o.out = filepath.Join(wd, o.out)
		}
	}
	failures, err := run(&o, os.Stdout)
	if err != nil {
		fatalf("%v", err)
	}
	if failures != 0 {
		fmt.Fprintf(os.Stderr, "bench: %d failed requests (see the fail column)\n", failures)
		os.Exit(1)
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// compilationMode is the Bazel compilation mode of the C binaries, from the
// :compilation_mode runfile ("unknown" outside Bazel).
func compilationMode() string {
	const rel = "tools/bench/compilation_mode.txt"
	p, ok := runfiles.Default().Rootpath(rel)
	if !ok {
		p = rel // bazel run starts in the runfiles tree
	}
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "unknown (not built by Bazel)"
}

// runfile finds a data dependency: --flag value, then the runfiles tree
// (internal/runfiles: RUNFILES_DIR, <exe>.runfiles, TEST_SRCDIR, the
// manifests), then the current directory (bazel run starts in the runfiles
// tree), then next to the bench binary (host builds).
func runfile(flagValue, rel string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	src := runfiles.Default()
	var cands []string
	if p, ok := src.Rootpath(rel); ok {
		cands = append(cands, p)
	} else {
		cands = append(cands, src.Candidates(runfiles.RunfilePath(rel))...)
	}
	cands = append(cands, rel)
	if src.Executable != "" {
		cands = append(cands, filepath.Join(filepath.Dir(src.Executable), filepath.Base(rel)))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			abs, err := filepath.Abs(c)
			if err != nil {
				return c, nil
			}
			return abs, nil
		}
	}
	return "", fmt.Errorf("%s not found (looked in %s); pass its path with a flag", rel, strings.Join(cands, ", "))
}

// writeJSON writes v to path (0644).
func writeJSON(path string, v interface{}) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func goEnvInfo() map[string]string {
	host, _ := os.Hostname()
	info := map[string]string{
		"go_version": runtime.Version(),
		"goos":       runtime.GOOS,
		"goarch":     runtime.GOARCH,
		"num_cpu":    fmt.Sprint(runtime.NumCPU()),
		"hostname":   host,
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					info["cpu"] = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		info["loadavg_at_start"] = strings.TrimSpace(string(b))
	}
	return info
}

// startProcess starts a server with stdout/stderr to logPath.
func startProcess(logPath string, env []string, name string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	// If the bench dies, its servers get SIGTERM instead of lingering.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stdout = logf
	cmd.Stderr = logf
	if env != nil {
		cmd.Env = env
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	return cmd, nil
}

func envWith(kv ...string) []string {
	var env []string
	skip := map[string]bool{}
	for i := 0; i+1 < len(kv); i += 2 {
		skip[kv[i]] = true
	}
	for _, e := range os.Environ() {
		if i := strings.IndexByte(e, '='); i > 0 && skip[e[:i]] {
			continue
		}
		env = append(env, e)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env = append(env, kv[i]+"="+kv[i+1])
	}
	return env
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runLoop drives one Go client sequentially (for strace/perf/callgrind
// sessions run by tools/bench/profile.sh) and prints the mean latency.
func runLoop(kind, sock, workloadName string, n int) error {
	if sock == "" {
		return fmt.Errorf("--loop needs --socket")
	}
	ws := map[string]*workload{
		"status": {name: "status", req: statusRequest(benchRequestID), replyType: typeStResp},
		"gen64":  {name: "gen64", req: generateRequest(benchRequestID, 64, benchSteps, benchSeed, benchPrompt), replyType: typeGenResp, replyLen: generateReplySize(64), side: 64},
		"bulk":   {name: "bulk", req: generateRequest(benchRequestID, 1856, benchSteps, benchSeed, benchPrompt), replyType: typeGenResp, replyLen: generateReplySize(1856), side: 1856},
	}
	w := ws[workloadName]
	if w == nil {
		return fmt.Errorf("unknown --loop-workload %q", workloadName)
	}
	var rt roundTripper
	switch kind {
	case "weave":
		c, err := newWeaveClient(sock)
		if err != nil {
			return err
		}
		c.prepare([]*workload{w})
		rt = c
	case "rawgo":
		rt = &rawGoClient{path: sock}
	case "gosys":
		rt = &goSysClient{addr: syscall.SockaddrUnix{Name: sock}}
	case "http-close", "http-keepalive":
		rt = newHTTPClient(sock, kind == "http-keepalive")
	case "grpc":
		c, err := newGRPCClient(sock)
		if err != nil {
			return err
		}
		rt = c
	default:
		return fmt.Errorf("unknown --loop client %q", kind)
	}
	defer rt.close()
	res := runGo(rt, w, loadSpec{iterations: n, concurrency: 1, warmup: 10})
	var sum int64
	for _, l := range res.lat {
		sum += l
	}
	mean := 0.0
	if res.ok > 0 {
		mean = float64(sum) / float64(res.ok) / 1e3
	}
	fmt.Printf("loop %s %s: ok=%d fail=%d mean=%.1fus elapsed=%v first_error=%s\n", kind, w.name, res.ok, res.fail, mean, res.elapsed, res.firstErr)
	if res.fail != 0 {
		return fmt.Errorf("%d failed requests", res.fail)
	}
	return nil
}

// writeRequestFiles writes the bench's request messages and synthesized
// replies of the same shape as the daemon's, for profiling outside the bench.
func writeRequestFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{
		"status.req":   statusRequest(benchRequestID),
		"gen64.req":    generateRequest(benchRequestID, 64, benchSteps, benchSeed, benchPrompt),
		"bulk.req":     generateRequest(benchRequestID, 1856, benchSteps, benchSeed, benchPrompt),
		"status.reply": synthStatusReply(benchRequestID),
		"gen64.reply":  synthGenerateReply(benchRequestID, 64),
		"bulk.reply":   synthGenerateReply(benchRequestID, 1856),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
