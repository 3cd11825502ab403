package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/client"
)

// server is one server process under test.
type server struct {
	key   string // floor, weave, http, grpc
	label string
	sock  string
	cmd   *exec.Cmd
	log   string
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 300; i++ {
			if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	_ = s.cmd.Process.Kill()
}

// contestant is one client/server pair.
type contestant struct {
	key    string
	label  string
	srv    *server
	cside  bool                         // load from floor_client
	newRT  func() (roundTripper, error) // Go client (nil when cside)
	goSide bool                         // gets an "x Go floor" ratio
	// seqOnly: only in the sequential workloads (small round trips,
	// bulk), not under concurrency (the --inproc-daemon contestants).
	seqOnly bool
	// bulkOnly: only in the bulk rows (floor-c-pause).
	bulkOnly bool
	// pause: the C client spins as long as weave-compute generates a bulk
	// image before each request (floor-c-pause).
	pause bool
}

// procStatus reads VmRSS and VmHWM (KiB) of pid.
func procStatus(pid int) (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(l, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(l, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(l)
		if len(fields) >= 2 {
			*dst, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return rss, hwm
}

// rssSampler records the peak VmRSS of pid every 5 ms until stopped.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	peak  int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r, _ := procStatus(pid); r > s.peak {
				s.peak = r
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.stopc)
	<-s.done
	return s.peak
}

// waitReady polls probe until it succeeds; it returns the time since t0.
func waitReady(t0 time.Time, probe func() error, exited func() bool, timeout time.Duration) (time.Duration, error) {
	var last error
	for time.Since(t0) < timeout {
		if err := probe(); err == nil {
			return time.Since(t0), nil
		} else {
			last = err
		}
		if exited != nil && exited() {
			return 0, fmt.Errorf("exited before it was ready (last probe: %v)", last)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("not ready after %v (last probe: %v)", timeout, last)
}

type benchEnv struct {
	o           *options
	tmp         string
	exe         string
	daemon      string
	floorServer string
	floorClient string
	replyFiles  []string
	reqFiles    map[string]string
	status      *workload
}

func (e *benchEnv) probeFor(key, sock string) func() error {
	switch key {
	case "http":
		return func() error {
			c := newHTTPClient(sock, false)
			defer c.close()
			_, err := c.roundTrip(e.status)
			return err
		}
	case "grpc":
		return func() error {
			c, err := newGRPCClient(sock)
			if err != nil {
				return err
			}
			defer c.close()
			_, err = c.roundTrip(e.status)
			return err
		}
	}
	return func() error {
		_, err := (&rawGoClient{path: sock}).roundTrip(e.status)
		return err
	}
}

// start starts a server of the given kind in dir and waits until it
// answers a status request; it returns the start-to-ready time.
func (e *benchEnv) start(key, dir string) (*server, time.Duration, error) {
	return e.startWith(key, dir, nil)
}

// startWith is start with extra command-line arguments for the server
// (weave-compute: --keep-alive-ms=0, --step-delay-ms=N).
func (e *benchEnv) startWith(key, dir string, extra []string) (*server, time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	s := &server{key: key, log: filepath.Join(dir, key+".log")}
	var name string
	var args, env []string
	switch key {
	case "weave", "weave-inproc":
		s.label = "weave-compute"
		s.sock = filepath.Join(dir, "weave", "weave.sock")
		name = e.daemon
		if key == "weave-inproc" {
			s.label = serverLabel[key]
			name = e.o.inprocDaemon
		}
		env = envWith("XDG_RUNTIME_DIR", dir)
	case "floor":
		s.label = "floor_server"
		s.sock = filepath.Join(dir, "floor.sock")
		name = e.floorServer
		args = []string{"--socket", s.sock, "--threads", strconv.Itoa(e.o.floorThreads)}
		for _, f := range e.replyFiles {
			if strings.HasSuffix(f, "status.reply") {
				args = append(args, "--status-reply", f)
			} else {
				args = append(args, "--generate-reply", f)
			}
		}
	case "http", "grpc":
		s.label = key + " server (Go)"
		s.sock = filepath.Join(dir, key+".sock")
		name = e.exe
		args = append([]string{"--serve", key, s.sock}, e.replyFiles...)
	}
	args = append(args, extra...)
	t0 := time.Now()
	cmd, err := startProcess(s.log, env, name, args...)
	if err != nil {
		return nil, 0, err
	}
	s.cmd = cmd
	exited := func() bool { return cmd.Process.Signal(syscall.Signal(0)) != nil }
	d, err := waitReady(t0, e.probeFor(key, s.sock), exited, 20*time.Second)
	if err != nil {
		s.stop()
		return nil, 0, fmt.Errorf("%s: %v\n%s", s.label, err, tail(s.log, 10))
	}
	return s, d, nil
}

// captureReplies asks the daemon once for each workload and keeps the exact
// reply bytes: the other servers send those.
func (e *benchEnv) captureReplies(d *server, ws []*workload) error {
	for _, w := range ws {
		var msg []byte
		if d != nil {
			var err error
			msg, err = rawExchange(d.sock, w.req)
			if err != nil {
				return fmt.Errorf("capture %s reply: %v", w.name, err)
			}
		} else if w.replyType == typeStResp {
			msg = synthStatusReply(benchRequestID)
		} else {
			msg = synthGenerateReply(benchRequestID, int(w.side))
		}
		if _, err := checkReply(msg, w.replyType, w.replyLen); err != nil {
			return fmt.Errorf("%s reply: %v", w.name, err)
		}
		if w.replyType == typeGenResp {
			// The precomputed reply did no generation: generation_time_ms 0.
			binary.BigEndian.PutUint32(msg[headerSize+12:], 0)
		}
		w.replyLen = len(msg)
		p := filepath.Join(e.tmp, w.name+".reply")
		if err := os.WriteFile(p, msg, 0o600); err != nil {
			return err
		}
		e.replyFiles = append(e.replyFiles, p)
	}
	return nil
}

func rawExchange(sock string, req []byte) ([]byte, error) {
	c := &rawGoClient{path: sock}
	conn, err := dialUnix(c.path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	return io.ReadAll(conn)
}

type phaseTimer struct {
	w  io.Writer
	t0 time.Time
}

func (p *phaseTimer) say(format string, args ...interface{}) {
	fmt.Fprintf(p.w, "[%6.1fs] "+format+"\n", append([]interface{}{time.Since(p.t0).Seconds()}, args...)...)
}

// session is one bench run: the environment, the servers, the contestants,
// the workloads and the book the figures go into. run calls one method per
// workload, in order.
type session struct {
	o       *options
	e       *benchEnv
	pt      *phaseTimer
	env     map[string]string
	b       *book
	servers map[string]*server
	cs      []*contestant
	status  *workload
	gen64   *workload
	bulk    *workload
	idleRSS map[string]int64
	soak    *soakResult

	placer     *placer
	plans      []cpuPlan // --cpus, in order
	warnings   []noiseWarning
	cliPNGFlag bool // the weave CLI has --png-compression

	v2        *v2Support // what the daemon offers (detectV2)
	skipped   []skipNote // row groups the daemon cannot serve
	shmClient *v2Client
	goSHM     *goV2 // go/client for the shared-memory rows
	leak      *leakResult
}

var serverOrder = []string{"floor", "weave", "weave-inproc", "http", "grpc"}

var serverLabel = map[string]string{"floor": "floor_server (C)", "weave": "weave-compute", "weave-inproc": "weave-compute (--inproc-daemon)",
	"http": "net/http server", "grpc": "grpc-go server"}

func run(o *options, out io.Writer) (int, error) {
	s := &session{o: o, pt: &phaseTimer{w: os.Stderr, t0: time.Now()}, b: newBook(), servers: map[string]*server{}, idleRSS: map[string]int64{}}
	cleanup, err := s.setup()
	// Servers stop before the temp dir goes.
	defer func() {
		s.stopServers()
		if cleanup != nil {
			cleanup()
		}
	}()
	if err != nil {
		return 0, err
	}
	if err := s.startServers(); err != nil {
		return 0, err
	}
	s.measureIdleRSS()
	s.detectV2()
	if o.leakCheck {
		// --leak-check: only the leak check.
		s.measureLeaks(o.leakReplies)
		s.finishBook()
		return s.report(out)
	}
	if !s.v2.SHM {
		for _, side := range shmSides {
			s.skip(shmWorkload(side), s.v2.notSupported("shm"))
		}
	}
	s.cs = s.e.contestants(s.servers, o.only)
	s.pt.say("contestants: %s", contestantKeys(s.cs))
	s.measureStart()
	// The sequential workloads, once per placement.
	for i, p := range s.plans {
		if err := s.place(p); err != nil {
			return 0, err
		}
		s.measureSmall()
		s.measureBulk()
		if i == 0 {
			s.measureLongJob()
		}
	}
	if err := s.place(cpuPlan{name: cpusFree}); err != nil {
		return 0, err
	}
	s.measureConcurrency()
	s.measureLeaks(o.leakReplies)
	s.measureMemoryAfterLoad()
	s.measureWorkerMemory()
	if err := s.measureSoak(); err != nil {
		return 0, err
	}
	if err := s.measureCancel(); err != nil {
		return 0, err
	}
	if err := s.measureWorkerStart(); err != nil {
		return 0, err
	}
	if err := s.measureEndToEnd(); err != nil {
		return 0, err
	}
	s.finishBook()
	s.warnings = noiseCheck(noiseInputs(s.b, o.placements), o.noiseSpread, o.noiseBeat)
	return s.report(out)
}

// place pins the bench and the servers for p; the figures that follow are
// filed under its name.
func (s *session) place(p cpuPlan) error {
	if err := s.placer.apply(p); err != nil {
		return err
	}
	s.b.placement = p.name
	s.pt.say("cpus=%s (%s)", p.name, p.describe())
	return nil
}

// setup finds the binaries, makes the temp dir and writes the request
// files. The returned cleanup removes the temp dir (unless --keep).
func (s *session) setup() (func(), error) {
	o := s.o
	s.env = goEnvInfo() // at start: loadavg_at_start
	e := &benchEnv{o: o, reqFiles: map[string]string{}}
	s.e = e
	allowed, err := allowedCPUs()
	if err != nil {
		return nil, err
	}
	for _, name := range o.placements {
		p, err := planFor(name, allowed)
		if err != nil {
			return nil, err
		}
		s.plans = append(s.plans, p)
	}
	s.placer = &placer{allowed: allowed, maxProcs: runtime.GOMAXPROCS(0), current: cpusFree, serverPIDs: s.serverPIDs}
	if e.exe, err = os.Executable(); err != nil {
		return nil, err
	}
	if !o.noDaemon {
		if e.daemon, err = runfile(o.daemon, "c/daemon/weave-compute"); err != nil {
			return nil, err
		}
	}
	if e.floorServer, err = runfile(o.floorServer, "tools/bench/floor_server"); err != nil {
		return nil, err
	}
	if e.floorClient, err = runfile(o.floorClient, "tools/bench/floor_client"); err != nil {
		return nil, err
	}
	// A short directory: sun_path holds 108 bytes, and Bazel's TMPDIR is long.
	if e.tmp, err = os.MkdirTemp("/tmp", "wb."); err != nil {
		return nil, err
	}
	cleanup := func() {}
	if o.keep {
		fmt.Fprintf(os.Stderr, "bench: keeping %s\n", e.tmp)
	} else {
		cleanup = func() { os.RemoveAll(e.tmp) }
	}
	// Interrupted: remove the temp dir; the servers get SIGTERM through
	// Pdeathsig when this process exits.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigc
		if !o.keep {
			_ = os.RemoveAll(e.tmp)
		}
		fmt.Fprintf(os.Stderr, "bench: interrupted (%v)\n", sig)
		os.Exit(130)
	}()

	s.status = &workload{name: "status", req: statusRequest(benchRequestID), replyType: typeStResp}
	s.gen64 = &workload{name: "gen64", req: generateRequest(benchRequestID, 64, benchSteps, benchSeed, benchPrompt),
		replyType: typeGenResp, replyLen: generateReplySize(64), side: 64}
	s.bulk = &workload{name: "bulk", req: generateRequest(benchRequestID, 1856, benchSteps, benchSeed, benchPrompt),
		replyType: typeGenResp, replyLen: generateReplySize(1856), side: 1856}
	e.status = s.status
	for _, w := range s.workloads() {
		p := filepath.Join(e.tmp, w.name+".req")
		if err := os.WriteFile(p, w.req, 0o600); err != nil {
			return cleanup, err
		}
		e.reqFiles[w.name] = p
	}
	return cleanup, nil
}

func (s *session) workloads() []*workload { return []*workload{s.status, s.gen64, s.bulk} }

// startServers starts the daemon first (its replies are what every other
// server sends), captures its replies, then the other servers.
func (s *session) startServers() error {
	e := s.e
	if !s.o.noDaemon {
		srv, _, err := e.start("weave", filepath.Join(e.tmp, "d"))
		if err != nil {
			return err
		}
		s.servers["weave"] = srv
	}
	if err := e.captureReplies(s.servers["weave"], s.workloads()); err != nil {
		return err
	}
	s.pt.say("replies: status %d B, gen64 %d B, bulk %d B", s.status.replyLen, s.gen64.replyLen, s.bulk.replyLen)
	others := []string{"floor", "http", "grpc"}
	if s.o.inprocDaemon != "" && !s.o.noDaemon {
		others = append(others, "weave-inproc")
	}
	for _, k := range others {
		srv, _, err := e.start(k, filepath.Join(e.tmp, k))
		if err != nil {
			return err
		}
		s.servers[k] = srv
	}
	return nil
}

// serverPIDs are the long-running servers (the placements pin them).
func (s *session) serverPIDs() []int {
	var pids []int
	for _, k := range serverOrder {
		if srv := s.servers[k]; srv != nil {
			pids = append(pids, srv.pid())
		}
	}
	return pids
}

func (s *session) stopServers() {
	for _, srv := range s.servers {
		srv.stop()
	}
}

// measureIdleRSS is (d): idle RSS right after start (one status reply
// served).
func (s *session) measureIdleRSS() {
	time.Sleep(200 * time.Millisecond)
	for _, k := range serverOrder {
		if srv := s.servers[k]; srv != nil {
			s.idleRSS[k], _ = procStatus(srv.pid())
			s.b.add("memory", "idle VmRSS after start", "KiB", false, serverLabel[k], float64(s.idleRSS[k]), 0, 0, "")
		}
	}
}

// measureStart is (e): start-to-ready, repeated, fresh process and
// directory each time.
func (s *session) measureStart() {
	for _, k := range serverOrder {
		if s.servers[k] == nil {
			continue
		}
		var fails int
		var firstErr string
		for r := 0; r < s.o.startupReps; r++ {
			s.b.round = r
			srv, d, err := s.e.start(k, filepath.Join(s.e.tmp, fmt.Sprintf("s%s%d", k[:1], r)))
			if err != nil {
				fails++
				if firstErr == "" {
					firstErr = err.Error()
				}
				continue
			}
			srv.stop()
			s.b.add("start", "spawn to first status reply", "ms", false, serverLabel[k], float64(d)/1e6, 1, 0, "")
		}
		if fails != 0 {
			s.b.addFailures("start", "spawn to first status reply", "ms", false, serverLabel[k], fails, firstErr)
		}
	}
	s.pt.say("start-to-ready done")
}

func seq(n, warmup int) loadSpec { return loadSpec{iterations: n, concurrency: 1, warmup: warmup} }

// measure runs one contestant's client on w once.
func (s *session) measure(c *contestant, w *workload, ls loadSpec) runResult {
	if c.cside {
		return runC(s.e.floorClient, c.srv.sock, s.e.reqFiles[w.name], w, ls, s.e.tmp)
	}
	rt, err := c.newRT()
	if err != nil {
		return runResult{fail: 1, firstErr: err.Error()}
	}
	defer rt.close()
	return runGo(rt, w, ls)
}

// measureSmall is (a): small round trips, sequential.
func (s *session) measureSmall() {
	for _, w := range []*workload{s.status, s.gen64} {
		wl := "small " + w.name
		for r := 0; r < s.o.rounds; r++ {
			s.b.round = r
			for _, c := range rotate(s.cs, r) {
				if c.bulkOnly {
					continue
				}
				res := s.measure(c, w, seq(s.o.iterations, 50))
				addLatency(s.b, wl, c.key, res, w.replyLen)
			}
		}
		s.pt.say("%s (cpus=%s) done", wl, s.b.placement)
	}
}

// measureConcurrency is (c): fixed time per level, status requests; the
// server's RSS is sampled meanwhile.
func (s *session) measureConcurrency() {
	maxLevel := 0
	for _, n := range s.o.levels {
		if n > maxLevel {
			maxLevel = n
		}
	}
	b := s.b
	for _, n := range s.o.levels {
		wl := fmt.Sprintf("concurrency %d", n)
		for r := 0; r < s.o.rounds; r++ {
			b.round = r
			for _, c := range rotate(s.cs, r) {
				if c.seqOnly || c.bulkOnly {
					continue
				}
				smp := sampleRSS(c.srv.pid())
				res := s.measure(c, s.status, loadSpec{duration: s.o.duration, concurrency: n, warmup: 3})
				peak := smp.stop()
				if res.ok == 0 {
					b.addFailures(wl, "throughput", "req/s", true, c.key, res.fail, res.firstErr)
					continue
				}
				b.add(wl, "throughput", "req/s", true, c.key, float64(res.ok)/res.elapsed.Seconds(), res.ok, res.fail, res.firstErr)
				sorted := sortedLat(res.lat)
				b.add(wl, "p99 latency", "us", false, c.key, float64(percentile(sorted, 99))/1e3, res.ok, 0, "")
				if n == maxLevel {
					// The tail beyond p99: starvation of a few clients
					// (e.g. Go's scheduler with blocking syscalls) hides
					// behind a low p99.
					b.add(wl, "p99.9 latency", "us", false, c.key, float64(percentile(sorted, 99.9))/1e3, res.ok, 0, "")
					var maxLat int64
					if len(sorted) > 0 {
						maxLat = sorted[len(sorted)-1]
					}
					b.add(wl, "max latency", "us", false, c.key, float64(maxLat)/1e3, res.ok, 0, "")
					b.add(wl, "server peak VmRSS", "KiB", false, c.key, float64(peak), res.ok, 0, "")
				}
			}
		}
		s.pt.say("%s done", wl)
	}
}

// measureBulk is (b): the largest reply that fits 10 MiB.
func (s *session) measureBulk() {
	pause := s.bulkGenerationTime()
	for r := 0; r < s.o.rounds; r++ {
		s.b.round = r
		for _, c := range rotate(s.cs, r) {
			// A daemon's exact generation time: its status totals
			// around the measured requests (after the warm-up).
			ls := seq(s.o.bulkIterations, 1)
			if c.pause {
				if pause <= 0 {
					continue
				}
				ls.pauseUS = int64(pause)
			}
			var before genTotals
			haveTotals := false
			ls.onWarm = func() { before, haveTotals = genTotalsOf(c.srv) }
			res := s.measure(c, s.bulk, ls)
			if after, ok := genTotalsOf(c.srv); haveTotals && ok {
				res.genUS = after.meanSince(before)
			}
			addBulk(s.b, c.key, res, s.bulk.replyLen)
		}
		s.measureSHMRound(r)
	}
	s.pt.say("bulk (cpus=%s) done", s.b.placement)
}

// measureMemoryAfterLoad is (d): memory after the load, and the peak
// (VmHWM, includes the bulk phase).
func (s *session) measureMemoryAfterLoad() {
	time.Sleep(200 * time.Millisecond)
	for _, k := range serverOrder {
		if srv := s.servers[k]; srv != nil {
			rss, hwm := procStatus(srv.pid())
			s.b.add("memory", "idle VmRSS after all load", "KiB", false, serverLabel[k], float64(rss), 0, 0, "")
			s.b.add("memory", "VmHWM (peak, incl. bulk)", "KiB", false, serverLabel[k], float64(hwm), 0, 0, "")
		}
	}
}

// measureSoak runs a fresh daemon through o.soak requests of go/client.
func (s *session) measureSoak() error {
	if s.servers["weave"] == nil || s.o.soak <= 0 {
		return nil
	}
	var err error
	if s.soak, err = s.e.soak(s.o.soak, s.status, s.gen64); err != nil {
		return err
	}
	s.pt.say("soak done")
	return nil
}

// finishBook computes the medians and ratios and puts the figures in
// table order: grouped by workload/metric in insertion order, contestants
// in the fixed order (not the rotated one).
func (s *session) finishBook() {
	b := s.b
	cFloor := func(wl string) string {
		switch wl {
		case "memory", "start":
			return serverLabel["floor"]
		}
		return "floor-c"
	}
	goFloor := func(wl string) string {
		switch wl {
		case "memory", "start":
			return ""
		}
		return "floor-go"
	}
	goSide := map[string]bool{}
	for _, c := range s.cs {
		goSide[c.key] = c.goSide
	}
	// Start times are taken one server after the other, memory once:
	// ratios of medians there; everything else is paired by round.
	paired := func(wl string) bool { return wl != "memory" && wl != "start" }
	b.finish(cFloor, goFloor, func(c string) bool { return goSide[c] }, paired)

	order := map[string]int{}
	for i, c := range s.cs {
		order[c.key] = i
	}
	order["weave-cli"] = len(s.cs)
	order["weave-progress"] = len(s.cs) + 1 // after weave (go/client) in the long-job rows
	for i, k := range serverOrder {
		order[serverLabel[k]] = i
	}
	// Groups in insertion order, except that the placements of one
	// workload/metric stand next to each other.
	groupOrder := map[string]int{}
	for _, f := range b.figs {
		g := f.Workload + "/" + f.Metric
		if _, ok := groupOrder[g]; !ok {
			groupOrder[g] = len(groupOrder)
		}
	}
	placeOrder := map[string]int{}
	for i, p := range s.o.placements {
		placeOrder[p] = i
	}
	sort.SliceStable(b.figs, func(i, j int) bool {
		gi, gj := groupOrder[b.figs[i].Workload+"/"+b.figs[i].Metric], groupOrder[b.figs[j].Workload+"/"+b.figs[j].Metric]
		if gi != gj {
			return gi < gj
		}
		pi, pj := placeOrder[b.figs[i].Placement], placeOrder[b.figs[j].Placement]
		if pi != pj {
			return pi < pj
		}
		return order[b.figs[i].Contestant] < order[b.figs[j].Contestant]
	})
}

// report prints the notes, the one table and the targets, and writes the
// JSON file. It returns the number of failed requests.
func (s *session) report(out io.Writer) (int, error) {
	o, b, soak, env := s.o, s.b, s.soak, s.env
	total := 0
	for _, f := range b.figs {
		total += f.Failures
	}
	if soak != nil {
		total += soak.Failures
	}
	targets := append(evaluateTargets(b, o.placements, s.warnings, s.idleRSS["weave"], soak), s.evaluateV2Targets()...)
	targets = append(targets, s.evaluateE2ETarget())

	loadEnd := ""
	if lb, err := os.ReadFile("/proc/loadavg"); err == nil {
		loadEnd = strings.TrimSpace(string(lb))
	}
	env["loadavg_at_end"] = loadEnd
	fmt.Fprintln(out, "Weave transport benchmark")
	fmt.Fprintf(out, "machine: %d CPUs, %s, kernel %s, %s; load average at start %q, at end %q (other work on the machine skews the figures)\n",
		runtime.NumCPU(), env["cpu"], env["kernel"], env["go_version"], env["loadavg_at_start"], loadEnd)
	fmt.Fprintf(out, "run: %d rounds; small: %d sequential req/round; bulk: %d req/round; concurrency: %v for %v/round; soak: %d requests\n",
		o.rounds, o.iterations, o.bulkIterations, o.levels, o.duration, o.soak)
	mode := compilationMode()
	fmt.Fprintf(out, "build: C binaries (weave-compute, floor_server, floor_client) in Bazel compilation mode %s, same flags for all\n", mode)
	if mode == "fastbuild" || mode == "dbg" {
		fmt.Fprintln(out, "warning: the C side is unoptimized (-O0); publish numbers from `bazel run -c opt //tools/bench`")
	}
	for _, l := range s.placementLines() {
		fmt.Fprintln(out, l)
	}
	for _, n := range notes(o) {
		fmt.Fprintln(out, "note: "+n)
	}
	fmt.Fprintln(out)
	printTable(out, b.figs)
	fmt.Fprintln(out)
	for _, w := range s.warnings {
		fmt.Fprintln(out, "warning: noise: "+w.Text)
	}
	if soak != nil {
		fmt.Fprintf(out, "soak: %d requests (status + 64x64 generate alternating, concurrency %d) through go/client in %.1fs, %d failures; daemon VmRSS KiB: fresh %d, after %d warm-up requests %d, after the soak %d (idle %d); VmHWM %d\n",
			soak.Requests, soak.Concurrency, soak.Seconds, soak.Failures, soak.RSSFresh, soak.Warmup, soak.RSSWarm, soak.RSSAfter, soak.RSSAfterIdle, soak.HWM)
	}
	for _, k := range s.skipped {
		fmt.Fprintf(out, "skipped: %s: %s\n", k.Rows, k.Why)
	}
	if l := s.leak; l != nil {
		fmt.Fprintf(out, "leak check: %d shared-memory %dx%d replies in %.1fs, %d failures;", l.Replies, l.Side, l.Side, l.Seconds, l.Failures)
		for i, who := range leakWho {
			if l.FDs[i][0] >= 0 {
				fmt.Fprintf(out, " %s fds %d -> %d, maps %d -> %d;", who, l.FDs[i][0], l.FDs[i][1], l.Maps[i][0], l.Maps[i][1])
			}
		}
		fmt.Fprintf(out, " worker pid %d -> %d\n", l.WorkerPID, l.WorkerAfter)
	}
	for _, t := range targets {
		fmt.Fprintf(out, "target: %-6s %s: %s\n", t.Verdict, t.Name, t.Detail)
	}
	fmt.Fprintf(out, "failures: %d\n", total)

	doc := map[string]interface{}{
		"schema":           "weave-bench/1",
		"date":             time.Now().UTC().Format(time.RFC3339),
		"quick":            o.quick,
		"environment":      env,
		"compilation_mode": mode,
		"rounds":           o.rounds,
		"iterations":       o.iterations,
		"bulk_iterations":  o.bulkIterations,
		"duration_ms":      o.duration.Milliseconds(),
		"concurrency":      o.levels,
		"startup_reps":     o.startupReps,
		"cpus":             s.placementDoc(),
		"noise_limits":     map[string]float64{"floor_spread": o.noiseSpread, "beats_floor": o.noiseBeat},
		"noise_warnings":   s.warnings,
		"e2e_sizes":        o.e2eSizes,
		"png_compression":  s.pngCompressionDoc(),
		"notes":            notes(o),
		"contestants":      contestantDocs(s.cs),
		"reply_bytes":      map[string]int{"status": s.status.replyLen, "gen64": s.gen64.replyLen, "bulk": s.bulk.replyLen},
		"request_bytes":    map[string]int{"status": len(s.status.req), "gen64": len(s.gen64.req), "bulk": len(s.bulk.req)},
		"figures":          b.figs,
		"soak":             soak,
		"v2_support":       s.v2,
		"skipped":          s.skipped,
		"leak_check":       s.leak,
		"v2_rows": map[string]interface{}{
			"long_job":             map[string]int{"side": o.longSide, "steps": o.longSteps, "jobs_per_round": o.longIterations},
			"cancel_step_delay_ms": o.cancelDelayMS, "cancel_reps": o.cancelReps, "cold_reps": o.coldReps,
			"leak_replies": o.leakReplies, "leak_check_only": o.leakCheck,
			"in_process_base": inProcess.run,
		},
		"targets":        targets,
		"total_failures": total,
	}
	if err := writeJSON(o.out, doc); err != nil {
		return total, err
	}
	fmt.Fprintf(out, "json: %s\n", o.out)
	return total, nil
}

// placementLines are the header lines on placement.
func (s *session) placementLines() []string {
	var ls []string
	for _, p := range s.plans {
		ls = append(ls, "cpus: "+p.describe()+"; small round trips and bulk")
	}
	ls = append(ls, fmt.Sprintf("cpus: free = no affinity on CPUs %v; concurrency (clients and servers on both CPUs), start, memory, soak and end-to-end", s.placer.allowed))
	ls = append(ls, fmt.Sprintf("cpus: the targets use cpus=%s; while pinned to one CPU the bench runs with GOMAXPROCS 1 (%d otherwise)", s.o.placements[0], s.placer.maxProcs))
	if len(s.o.e2eSizes) > 0 && s.servers["weave"] != nil {
		ls = append(ls, "end-to-end: `weave generate` (the real CLI process, PNG written; "+s.pngCompressionDoc()+") vs go/client in the bench asking for the same image (no PNG): weave = a v1 request (pixels inline), weave-image = GenerateImage with progress (v2, shared memory: the request weave generate makes); steps=1, seed=42")
	}
	return ls
}

func (s *session) placementDoc() map[string]interface{} {
	plans := map[string]interface{}{}
	for _, p := range s.plans {
		plans[p.name] = map[string]interface{}{"client_cpus": p.client, "server_cpus": p.server, "description": p.describe()}
	}
	return map[string]interface{}{
		"sequential":        s.o.placements,
		"targets":           s.o.placements[0],
		"plans":             plans,
		"allowed_cpus":      s.placer.allowed,
		"other_workloads":   cpusFree,
		"gomaxprocs":        s.placer.maxProcs,
		"gomaxprocs_pinned": 1,
	}
}

func (s *session) pngCompressionDoc() string {
	if s.cliPNGFlag {
		return "--png-compression=" + s.o.pngCompression
	}
	return "the CLI has no --png-compression flag: its one encoder"
}

func rotate(cs []*contestant, r int) []*contestant {
	n := len(cs)
	outc := make([]*contestant, 0, n)
	for i := 0; i < n; i++ {
		outc = append(outc, cs[(i+r)%n])
	}
	return outc
}

func sortedLat(lat []int64) []int64 {
	s := append([]int64(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func addLatency(b *book, wl, key string, res runResult, replyLen int) {
	if res.ok == 0 {
		b.addFailures(wl, "p50 latency", "us", false, key, res.fail, res.firstErr)
		return
	}
	s := sortedLat(res.lat)
	b.add(wl, "p50 latency", "us", false, key, float64(percentile(s, 50))/1e3, res.ok, res.fail, res.firstErr)
	b.add(wl, "p99 latency", "us", false, key, float64(percentile(s, 99))/1e3, res.ok, 0, "")
	b.add(wl, "throughput", "req/s", true, key, float64(res.ok)/res.elapsed.Seconds(), res.ok, 0, "")
	var genTotal float64
	for _, g := range res.gen {
		genTotal += float64(g)
	}
	if genTotal > 0 {
		b.add(wl, "reported generation_time_ms", "ms/req", false, key, genTotal/float64(len(res.gen)), res.ok, 0, "")
	}
}

func addBulk(b *book, key string, res runResult, replyLen int) {
	// MB/s = reply bytes / the median request time of the round (not the
	// mean): one request slowed down by other work on this 2-vCPU machine
	// should not decide a round's figure. Same rule for every contestant.
	if res.ok == 0 {
		b.addFailures("bulk 1856x1856", "p50 latency", "ms", false, key, res.fail, res.firstErr)
		return
	}
	s := sortedLat(res.lat)
	var xfer []int64
	var gen float64
	haveFirst := len(res.first) == len(res.lat) && len(res.lat) > 0
	for i, l := range res.lat {
		gen += float64(res.gen[i])
		if haveFirst {
			if res.first[i] <= 0 {
				haveFirst = false
			}
			xfer = append(xfer, l-res.first[i])
		}
	}
	mbps := func(ns int64) float64 {
		if ns <= 0 {
			return 0
		}
		return float64(replyLen) / 1e6 / (float64(ns) / 1e9)
	}
	const wl = "bulk 1856x1856"
	b.add(wl, "p50 latency", "ms", false, key, float64(percentile(s, 50))/1e6, res.ok, res.fail, res.firstErr)
	b.add(wl, "throughput, wall", "MB/s", true, key, mbps(percentile(s, 50)), res.ok, 0, "")
	if gen > 0 {
		b.add(wl, "reported generation_time_ms", "ms/req", false, key, gen/float64(len(res.gen)), res.ok, 0, "")
	}
	// wall - generation: the round's median wall time minus the MEAN
	// generation_time_ms of its middle half (the requests ranked by wall
	// time between the 25th and 75th percentile). That field is whole
	// milliseconds, the difference of two millisecond clock readings: each
	// request's figure is off by up to 1 ms either way (unbiased on
	// average), more than the whole transfer of a 10 MB reply. Subtracted
	// request by request, the median picked that error up (a daemon
	// "faster than the floor"); the mean averages it out, and taking it
	// over the middle half keeps a request slowed by other work out of it,
	// as the median does for the wall time.
	order := make([]int, len(res.lat))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return res.lat[order[i]] < res.lat[order[j]] })
	lo, hi := len(order)/4, len(order)-len(order)/4
	var midGen float64
	for _, i := range order[lo:hi] {
		midGen += float64(res.gen[i])
	}
	meanGen := int64(midGen / float64(hi-lo) * 1e6)
	b.add(wl, "throughput, wall - generation_time_ms", "MB/s", true, key, mbps(percentile(s, 50)-meanGen), res.ok, 0, "")
	// The same with the exact mean generation time of the round (the
	// daemon's status totals, SPEC 11.6) instead of the whole-ms field:
	// the figure the bulk target uses when the daemon sends the totals.
	// A server that replies with captured bytes generates nothing: its
	// exact generation time is 0 (the floor's row is its wall figure).
	if res.genUS > 0 {
		b.add(wl, "mean generation time (status totals)", "ms/req", false, key, res.genUS/1e3, res.ok, 0, "")
	}
	if res.genUS > 0 || gen == 0 {
		b.add(wl, bulkExact, "MB/s", true, key, mbps(percentile(s, 50)-int64(res.genUS*1e3)), res.ok, 0, "")
	}
	if haveFirst {
		b.add(wl, "throughput, first to last reply byte", "MB/s", true, key, mbps(percentile(sortedLat(xfer), 50)), res.ok, 0, "")
	}
}

// bulkGenerationTime is weave-compute's mean time to generate the bulk
// image in this placement, in us (its status totals around a few
// requests), or 0 when that is unknown.
func (s *session) bulkGenerationTime() float64 {
	d := s.servers["weave"]
	before, ok := genTotalsOf(d)
	if !ok {
		return 0
	}
	for i := 0; i < 5; i++ {
		if _, err := rawExchange(d.sock, s.bulk.req); err != nil {
			return 0
		}
	}
	after, ok := genTotalsOf(d)
	if !ok {
		return 0
	}
	return after.meanSince(before)
}

// bulkExact is the bulk metric with the exact generation time subtracted.
const bulkExact = "throughput, wall - exact generation"

// genTotals is a daemon's pair of SPEC 11.6 generation totals.
type genTotals struct{ gens, us uint64 }

// genTotalsOf asks srv for its totals; ok is false for a server that is
// not weave-compute or a daemon that does not send them.
func genTotalsOf(srv *server) (genTotals, bool) {
	if srv == nil || !strings.HasPrefix(srv.key, "weave") {
		return genTotals{}, false
	}
	c, err := client.New(client.WithSocketPath(srv.sock))
	if err != nil {
		return genTotals{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil || st.V2 == nil || !st.V2.HasGenerations {
		return genTotals{}, false
	}
	return genTotals{st.V2.Generations, st.V2.GenerationUS}, true
}

// meanSince is the mean generation time in us of the jobs finished
// between t0 and t (differences modulo 2^64, as SPEC 11.6 says); 0 when
// none were.
func (t genTotals) meanSince(t0 genTotals) float64 {
	n := t.gens - t0.gens
	if n == 0 {
		return 0
	}
	return float64(t.us-t0.us) / float64(n)
}
