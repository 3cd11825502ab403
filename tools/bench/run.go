package main

import (
	"bufio"
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	s := &server{key: key, log: filepath.Join(dir, key+".log")}
	var name string
	var args, env []string
	switch key {
	case "weave":
		s.label = "weave-compute"
		s.sock = filepath.Join(dir, "weave", "weave.sock")
		name = e.daemon
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

func run(o *options, out io.Writer) (int, error) {
	pt := &phaseTimer{w: os.Stderr, t0: time.Now()}
	env := goEnvInfo() // at start: loadavg_at_start
	e := &benchEnv{o: o, reqFiles: map[string]string{}}
	var err error
	if e.exe, err = os.Executable(); err != nil {
		return 0, err
	}
	if !o.noDaemon {
		if e.daemon, err = runfile(o.daemon, "c/daemon/weave-compute"); err != nil {
			return 0, err
		}
	}
	if e.floorServer, err = runfile(o.floorServer, "tools/bench/floor_server"); err != nil {
		return 0, err
	}
	if e.floorClient, err = runfile(o.floorClient, "tools/bench/floor_client"); err != nil {
		return 0, err
	}
	// A short directory: sun_path holds 108 bytes, and Bazel's TMPDIR is long.
	if e.tmp, err = os.MkdirTemp("/tmp", "wb."); err != nil {
		return 0, err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "bench: keeping %s\n", e.tmp)
	} else {
		defer os.RemoveAll(e.tmp)
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

	status := &workload{name: "status", req: statusRequest(benchRequestID), replyType: typeStResp}
	gen64 := &workload{name: "gen64", req: generateRequest(benchRequestID, 64, benchSteps, benchSeed, benchPrompt),
		replyType: typeGenResp, replyLen: generateReplySize(64), side: 64}
	bulk := &workload{name: "bulk", req: generateRequest(benchRequestID, 1856, benchSteps, benchSeed, benchPrompt),
		replyType: typeGenResp, replyLen: generateReplySize(1856), side: 1856}
	e.status = status
	all := []*workload{status, gen64, bulk}
	for _, w := range all {
		p := filepath.Join(e.tmp, w.name+".req")
		if err := os.WriteFile(p, w.req, 0o600); err != nil {
			return 0, err
		}
		e.reqFiles[w.name] = p
	}

	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	b := newBook()

	// The daemon first: its replies are what every other server sends.
	if !o.noDaemon {
		s, _, err := e.start("weave", filepath.Join(e.tmp, "d"))
		if err != nil {
			return 0, err
		}
		servers["weave"] = s
	}
	if err := e.captureReplies(servers["weave"], all); err != nil {
		return 0, err
	}
	pt.say("replies: status %d B, gen64 %d B, bulk %d B", status.replyLen, gen64.replyLen, bulk.replyLen)
	for _, k := range []string{"floor", "http", "grpc"} {
		s, _, err := e.start(k, filepath.Join(e.tmp, k))
		if err != nil {
			return 0, err
		}
		servers[k] = s
	}
	serverOrder := []string{"floor", "weave", "http", "grpc"}
	serverLabel := map[string]string{"floor": "floor_server (C)", "weave": "weave-compute", "http": "net/http server", "grpc": "grpc-go server"}

	// (d) idle RSS, right after start (one status reply served).
	time.Sleep(200 * time.Millisecond)
	idleRSS := map[string]int64{}
	for _, k := range serverOrder {
		if s := servers[k]; s != nil {
			idleRSS[k], _ = procStatus(s.pid())
			b.add("memory", "idle VmRSS after start", "KiB", false, serverLabel[k], float64(idleRSS[k]), 0, 0, "")
		}
	}

	cs := e.contestants(servers, o.only)
	pt.say("contestants: %s", contestantKeys(cs))

	// (e) start-to-ready, repeated, fresh process and directory each time.
	for _, k := range serverOrder {
		if servers[k] == nil {
			continue
		}
		var fails int
		var firstErr string
		for r := 0; r < o.startupReps; r++ {
			s, d, err := e.start(k, filepath.Join(e.tmp, fmt.Sprintf("s%s%d", k[:1], r)))
			if err != nil {
				fails++
				if firstErr == "" {
					firstErr = err.Error()
				}
				continue
			}
			s.stop()
			b.add("start", "spawn to first status reply", "ms", false, serverLabel[k], float64(d)/1e6, 1, 0, "")
		}
		if fails != 0 {
			b.addFailures("start", "spawn to first status reply", "ms", false, serverLabel[k], fails, firstErr)
		}
	}
	pt.say("start-to-ready done")

	seq := func(n, warmup int) loadSpec { return loadSpec{iterations: n, concurrency: 1, warmup: warmup} }
	measure := func(c *contestant, w *workload, ls loadSpec) runResult {
		if c.cside {
			return runC(e.floorClient, c.srv.sock, e.reqFiles[w.name], w, ls, e.tmp)
		}
		rt, err := c.newRT()
		if err != nil {
			return runResult{fail: 1, firstErr: err.Error()}
		}
		defer rt.close()
		return runGo(rt, w, ls)
	}

	// (a) small round trips, sequential.
	for _, w := range []*workload{status, gen64} {
		wl := "small " + w.name
		for r := 0; r < o.rounds; r++ {
			for _, c := range rotate(cs, r) {
				res := measure(c, w, seq(o.iterations, 50))
				addLatency(b, wl, c.key, res, w.replyLen)
			}
		}
		pt.say("%s done", wl)
	}

	// (c) concurrency, fixed time, status requests; RSS sampled meanwhile.
	maxLevel := 0
	for _, n := range o.levels {
		if n > maxLevel {
			maxLevel = n
		}
	}
	for _, n := range o.levels {
		wl := fmt.Sprintf("concurrency %d", n)
		for r := 0; r < o.rounds; r++ {
			for _, c := range rotate(cs, r) {
				smp := sampleRSS(c.srv.pid())
				res := measure(c, status, loadSpec{duration: o.duration, concurrency: n, warmup: 3})
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
		pt.say("%s done", wl)
	}

	// (b) bulk: the largest reply that fits 10 MiB.
	for r := 0; r < o.rounds; r++ {
		for _, c := range rotate(cs, r) {
			res := measure(c, bulk, seq(o.bulkIterations, 1))
			addBulk(b, c.key, res, bulk.replyLen)
		}
	}
	pt.say("bulk done")

	// (d) memory after the load, and peak (VmHWM, includes the bulk phase).
	time.Sleep(200 * time.Millisecond)
	for _, k := range serverOrder {
		if s := servers[k]; s != nil {
			rss, hwm := procStatus(s.pid())
			b.add("memory", "idle VmRSS after all load", "KiB", false, serverLabel[k], float64(rss), 0, 0, "")
			b.add("memory", "VmHWM (peak, incl. bulk)", "KiB", false, serverLabel[k], float64(hwm), 0, 0, "")
		}
	}

	// Soak: a fresh daemon, o.soak requests through go/client.
	var soak *soakResult
	if servers["weave"] != nil && o.soak > 0 {
		soak, err = e.soak(o.soak, status, gen64)
		if err != nil {
			return 0, err
		}
		pt.say("soak done")
	}

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
	for _, c := range cs {
		goSide[c.key] = c.goSide
	}
	b.finish(cFloor, goFloor, func(c string) bool { return goSide[c] })

	// Order: the table groups by workload/metric in insertion order, with
	// contestants in the fixed order (not the rotated one).
	order := map[string]int{}
	for i, c := range cs {
		order[c.key] = i
	}
	for i, k := range serverOrder {
		order[serverLabel[k]] = i
	}
	groupOrder := map[string]int{}
	for _, f := range b.figs {
		g := f.Workload + "/" + f.Metric
		if _, ok := groupOrder[g]; !ok {
			groupOrder[g] = len(groupOrder)
		}
	}
	sort.SliceStable(b.figs, func(i, j int) bool {
		gi, gj := groupOrder[b.figs[i].Workload+"/"+b.figs[i].Metric], groupOrder[b.figs[j].Workload+"/"+b.figs[j].Metric]
		if gi != gj {
			return gi < gj
		}
		return order[b.figs[i].Contestant] < order[b.figs[j].Contestant]
	})

	total := 0
	for _, f := range b.figs {
		total += f.Failures
	}
	if soak != nil {
		total += soak.Failures
	}
	targets := evaluateTargets(b, idleRSS["weave"], soak)

	// Output: the notes, the one table, the targets.
	loadEnd := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		loadEnd = strings.TrimSpace(string(b))
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
	for _, n := range notes(o) {
		fmt.Fprintln(out, "note: "+n)
	}
	fmt.Fprintln(out)
	printTable(out, b.figs)
	fmt.Fprintln(out)
	if soak != nil {
		fmt.Fprintf(out, "soak: %d requests (status + 64x64 generate alternating, concurrency %d) through go/client in %.1fs, %d failures; daemon VmRSS KiB: fresh %d, after %d warm-up requests %d, after the soak %d (idle %d); VmHWM %d\n",
			soak.Requests, soak.Concurrency, soak.Seconds, soak.Failures, soak.RSSFresh, soak.Warmup, soak.RSSWarm, soak.RSSAfter, soak.RSSAfterIdle, soak.HWM)
	}
	for _, t := range targets {
		fmt.Fprintf(out, "target: %-4s %s: %s\n", t.Verdict, t.Name, t.Detail)
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
		"notes":            notes(o),
		"contestants":      contestantDocs(cs),
		"reply_bytes":      map[string]int{"status": status.replyLen, "gen64": gen64.replyLen, "bulk": bulk.replyLen},
		"request_bytes":    map[string]int{"status": len(status.req), "gen64": len(gen64.req), "bulk": len(bulk.req)},
		"figures":          b.figs,
		"soak":             soak,
		"targets":          targets,
		"total_failures":   total,
	}
	if err := writeJSON(o.out, doc); err != nil {
		return total, err
	}
	fmt.Fprintf(out, "json: %s\n", o.out)
	return total, nil
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
	var net, xfer []int64
	var gen float64
	haveFirst := len(res.first) == len(res.lat) && len(res.lat) > 0
	for i, l := range res.lat {
		gen += float64(res.gen[i])
		net = append(net, l-int64(res.gen[i])*1000000)
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
	b.add(wl, "throughput, wall - generation_time_ms", "MB/s", true, key, mbps(percentile(sortedLat(net), 50)), res.ok, 0, "")
	if haveFirst {
		b.add(wl, "throughput, first to last reply byte", "MB/s", true, key, mbps(percentile(sortedLat(xfer), 50)), res.ok, 0, "")
	}
}
