package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/weave-app/weave/internal/wire"
)

// The rows of protocol version 2 and the worker process (issues 12, 13,
// 14): a long job with and without progress, the cancel latency, the
// worker's cold start, bulk replies through shared memory next to the v1
// copy rows and the floor, and a descriptor/mapping leak check. Each group
// runs only when the daemon offers what it needs (detectV2: the features of
// its version-2 status reply, the flags of its --help); otherwise the run
// says "not supported by this daemon" for that group and goes on.

// skipNote is a row group the daemon could not serve.
type skipNote struct {
	Rows string `json:"rows"`
	Why  string `json:"why"`
}

func (s *session) skip(rows, why string) {
	s.skipped = append(s.skipped, skipNote{Rows: rows, Why: why})
	s.pt.say("skipped %s: %s", rows, why)
}

// detectV2 asks the daemon for its version-2 status and reads its --help.
func (s *session) detectV2() {
	v := &v2Support{}
	s.v2 = v
	d := s.servers["weave"]
	if d == nil {
		v.Why = "no daemon (--no-daemon)"
		return
	}
	msg, err := rawExchange(d.sock, statusRequestV2(benchRequestID))
	if err != nil {
		v.Why = "a status request in a version-2 header failed: " + err.Error()
	} else if st, err := parseStatusV2(msg); err != nil {
		v.Why = "a status request in a version-2 header got " + err.Error()
	} else {
		v.V2, v.Status = true, st
		v.Progress = st.Features&flagProgress != 0
		v.SHM = st.Features&flagSHM != 0
	}
	help, _ := exec.Command(s.e.daemon, "--help").CombinedOutput()
	v.Worker = bytes.Contains(help, []byte("--keep-alive-ms"))
	v.Delay = bytes.Contains(help, []byte("--step-delay-ms"))
	s.pt.say("daemon: version 2 %v (progress %v, shm %v), worker process %v, --step-delay-ms %v %s", v.V2, v.Progress, v.SHM, v.Worker, v.Delay, v.Why)
}

// v2Run is one contestant's requests in one round: the timelines of the
// successful ones, the failures.
type v2Run struct {
	outs     []v2Outcome
	fail     int
	firstErr string
}

func (r *v2Run) add(o v2Outcome, err error) {
	if err != nil {
		if r.fail == 0 {
			r.firstErr = err.Error()
		}
		r.fail++
		return
	}
	r.outs = append(r.outs, o)
}

// p50 is the median of f over the successful requests, in unit (a
// time.Duration divisor: time.Millisecond, time.Microsecond).
func (r *v2Run) p50(f func(o v2Outcome) time.Duration, unit time.Duration) float64 {
	if len(r.outs) == 0 {
		return 0
	}
	v := make([]float64, 0, len(r.outs))
	for _, o := range r.outs {
		v = append(v, float64(f(o))/float64(unit))
	}
	sort.Float64s(v)
	return median(v)
}

func (r *v2Run) mean(f func(o v2Outcome) float64) float64 {
	if len(r.outs) == 0 {
		return 0
	}
	var sum float64
	for _, o := range r.outs {
		sum += f(o)
	}
	return sum / float64(len(r.outs))
}

// addV2 files a figure of run (its failures on the first figure of a
// group only, so they are counted once).
func (s *session) addV2(wl, metric, unit string, higher bool, key string, run *v2Run, v float64, withFailures bool) {
	fail, firstErr := 0, ""
	if withFailures {
		fail, firstErr = run.fail, run.firstErr
	}
	if len(run.outs) == 0 {
		s.b.addFailures(wl, metric, unit, higher, key, fail, firstErr)
		return
	}
	s.b.add(wl, metric, unit, higher, key, v, len(run.outs), fail, firstErr)
}

func wallOf(o v2Outcome) time.Duration { return o.wall }

// longJobWorkload names the long-job rows.
func (s *session) longJobWorkload() string {
	return fmt.Sprintf("long job %dx%d, %d steps", s.o.longSide, s.o.longSide, s.o.longSteps)
}

// measureLongJob is issue 12's first row: the same long job as a v1
// request, as a v2 request without progress, and with progress (one
// message per step, heartbeats), sequential, paired per round.
func (s *session) measureLongJob() {
	wl := s.longJobWorkload()
	if !s.v2.V2 || !s.v2.Progress {
		s.skip(wl, s.v2.notSupported("progress"))
		return
	}
	side, steps := uint32(s.o.longSide), uint32(s.o.longSteps)
	img := int(side * side * 3)
	c := newV2Client(s.servers["weave"].sock)
	raw := func(req []byte) func() (v2Outcome, error) {
		return func() (v2Outcome, error) { return c.request(req, typeGenResp, img) }
	}
	kinds := []struct {
		key string
		do  func() (v2Outcome, error)
	}{
		{"v1", raw(generateRequest(benchRequestID, side, steps, benchSeed, benchPrompt))},
		{"v2", raw(optionsRequest(benchRequestID, side, steps, 0))},
		{"v2-progress", raw(optionsRequest(benchRequestID, side, steps, flagProgress))},
	}
	if g, err := newGoV2(s.servers["weave"].sock); err == nil {
		// go/client: Generate (a request whose reply fits v1 goes in v1)
		// and Generate WithProgress (v2, events through the callback).
		kinds = append(kinds, struct {
			key string
			do  func() (v2Outcome, error)
		}{"weave", func() (v2Outcome, error) { return g.generate(side, steps, false) }}, struct {
			key string
			do  func() (v2Outcome, error)
		}{"weave-progress", func() (v2Outcome, error) { return g.generate(side, steps, true) }})
	}
	for r := 0; r < s.o.rounds; r++ {
		s.b.round = r
		p50 := map[string]float64{}
		for i := range kinds {
			k := kinds[(i+r)%len(kinds)]
			_, _ = k.do() // warm-up
			run := &v2Run{}
			for j := 0; j < s.o.longIterations; j++ {
				run.add(k.do())
			}
			p50[k.key] = run.p50(wallOf, time.Millisecond)
			s.addV2(wl, "p50 latency", "ms", false, k.key, run, p50[k.key], true)
			s.addV2(wl, "messages before the reply, per job", "msgs", false, k.key, run,
				run.mean(func(o v2Outcome) float64 { return float64(o.progress + o.heartbeats + o.queued) }), false)
		}
		if p50["v2"] > 0 && p50["v2-progress"] > 0 {
			s.b.add(wl, "p50 / v2 p50 (same round)", "x", false, "v2-progress", p50["v2-progress"]/p50["v2"], 0, 0, "")
			s.b.add(wl, "progress cost per step ((p50 - v2 p50) / steps)", "us", false, "v2-progress",
				(p50["v2-progress"]-p50["v2"])*1000/float64(steps), 0, 0, "")
		}
		if p50["v2"] > 0 && p50["v1"] > 0 {
			s.b.add(wl, "p50 / v2 p50 (same round)", "x", false, "v1", p50["v1"]/p50["v2"], 0, 0, "")
		}
		if p50["weave"] > 0 && p50["weave-progress"] > 0 {
			s.b.add(wl, "go/client: with progress / without (same round)", "x", false, "weave-progress", p50["weave-progress"]/p50["weave"], 0, 0, "")
		}
	}
	s.pt.say("%s (cpus=%s) done", wl, s.b.placement)
}

// shmSides are the shared-memory bulk rows: the largest v1 square, and
// 2048x2048 (beyond v1's 10 MiB).
var shmSides = []uint32{1856, 2048}

func shmWorkload(side uint32) string { return fmt.Sprintf("bulk %dx%d shm", side, side) }

// measureSHMRound is one round of the shared-memory bulk rows (called by
// measureBulk after the v1 contestants of the same round, so the ratio to
// the floor's copy of the same bytes is paired).
func (s *session) measureSHMRound(r int) {
	if !s.v2.SHM {
		return
	}
	d := s.servers["weave"]
	if s.shmClient == nil {
		s.shmClient = newV2Client(d.sock)
		s.shmClient.touch = true
	}
	c := s.shmClient
	if s.goSHM == nil {
		s.goSHM, _ = newGoV2(d.sock)
	}
	for _, side := range shmSides {
		wl := shmWorkload(side)
		img := int(side * side * 3)
		req := optionsRequest(benchRequestID, side, benchSteps, flagSHM)
		_, _ = c.request(req, typeSHMResp, img) // warm-up
		run := &v2Run{}
		for j := 0; j < s.o.bulkIterations; j++ {
			run.add(c.request(req, typeSHMResp, img))
		}
		const key = "shm-raw"
		s.addV2(wl, "p50 latency", "ms", false, key, run, run.p50(wallOf, time.Millisecond), true)
		s.addV2(wl, "reported generation_time_ms", "ms/req", false, key, run, run.mean(func(o v2Outcome) float64 { return float64(o.genMS) }), false)
		ready := run.p50(func(o v2Outcome) time.Duration { return o.ready - o.finalFirst }, time.Microsecond)
		s.addV2(wl, "first reply byte to image ready (fd, seals, mmap)", "us", false, key, run, ready, false)
		s.addV2(wl, "first reply byte to every page read once", "us", false, key, run,
			run.p50(func(o v2Outcome) time.Duration { return o.touched - o.finalFirst }, time.Microsecond), false)
		net := run.p50(func(o v2Outcome) time.Duration { return o.wall - time.Duration(o.genMS)*time.Millisecond }, time.Microsecond)
		if net > 0 {
			s.addV2(wl, "throughput, wall - generation_time_ms", "MB/s", true, key, run, float64(img)/net, false)
		}
		if g := s.goSHM; g != nil {
			// go/client GenerateImage: the pixels mapped, ready to read,
			// then Close (unmapped).
			_, _ = g.image(side)
			gr := &v2Run{}
			for j := 0; j < s.o.bulkIterations; j++ {
				gr.add(g.image(side))
			}
			s.addV2(wl, "p50 latency", "ms", false, "weave", gr, gr.p50(wallOf, time.Millisecond), true)
			s.addV2(wl, "reported generation_time_ms", "ms/req", false, "weave", gr, gr.mean(func(o v2Outcome) float64 { return float64(o.genMS) }), false)
			gnet := gr.p50(func(o v2Outcome) time.Duration { return o.wall - time.Duration(o.genMS)*time.Millisecond }, time.Microsecond)
			if gnet > 0 {
				s.addV2(wl, "throughput, wall - generation_time_ms", "MB/s", true, "weave", gr, float64(img)/gnet, false)
			}
		}
		if side == 1856 && ready > 0 {
			// The floor's copy of the same bytes in this round: floor-c,
			// first to last reply byte.
			if f := s.b.get(s.b.placement, "bulk 1856x1856", "throughput, first to last reply byte", "floor-c"); f != nil {
				for i, ri := range f.RoundIndex {
					if ri == r && f.PerRound[i] > 0 {
						floorUS := float64(s.bulk.replyLen) / f.PerRound[i] // bytes / (MB/s) = us
						s.b.add(wl, "floor-c copy time / image ready time (same round)", "x", true, key, floorUS/ready, 0, 0, "")
					}
				}
			}
		}
	}
}

// cancelWorkload names the cancel rows.
func (s *session) cancelWorkload() string {
	return fmt.Sprintf("cancel, --step-delay-ms=%d", s.o.cancelDelayMS)
}

// measureCancel is issue 12's cancel latency: a daemon whose every step
// takes --cancel-step-delay-ms; a 100-step job is running, its client hangs
// up (a v2 client right after the first progress message, i.e. at a step
// boundary, the worst case; a v1 client two steps after sending), and the
// next request, sent at once, times until its job starts (its heartbeat
// with phase 2) and until its reply. The same request on the idle daemon
// is the baseline.
func (s *session) measureCancel() error {
	wl := s.cancelWorkload()
	if !s.v2.V2 || !s.v2.Progress || !s.v2.Delay {
		s.skip(wl, s.v2.notSupported("cancel"))
		return nil
	}
	srv, _, err := s.e.startWith("weave", filepath.Join(s.e.tmp, "cancel"), []string{fmt.Sprintf("--step-delay-ms=%d", s.o.cancelDelayMS)})
	if err != nil {
		return err
	}
	defer srv.stop()
	delay := time.Duration(s.o.cancelDelayMS) * time.Millisecond
	long := optionsRequest(benchRequestID, 64, 100, flagProgress)
	longV1 := generateRequest(benchRequestID, 64, 100, benchSeed, benchPrompt)
	next := optionsRequest(benchRequestID, 64, 1, flagProgress)
	const img = 64 * 64 * 3
	hanger := newV2Client(srv.sock)
	hanger.stopAfterStep = 1
	c := newV2Client(srv.sock)
	// v1HangUp sends a 100-step v1 request and closes after two steps.
	v1HangUp := func() error {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: srv.sock, Net: "unix"})
		if err != nil {
			return err
		}
		if _, err := conn.Write(longV1); err != nil {
			conn.Close()
			return err
		}
		time.Sleep(2 * delay)
		return conn.Close()
	}
	started := func(o v2Outcome) time.Duration { return o.started }
	for r := 0; r < s.o.rounds; r++ {
		s.b.round = r
		runs := map[string]*v2Run{"idle": {}, "cancel-v2": {}, "cancel-v1": {}}
		for k := 0; k < s.o.cancelReps; k++ {
			runs["idle"].add(c.request(next, typeGenResp, img))
			if _, err := hanger.request(long, typeGenResp, img); err != errHungUp {
				runs["cancel-v2"].add(v2Outcome{}, fmt.Errorf("the long job did not report a step: %v", err))
			} else {
				runs["cancel-v2"].add(c.request(next, typeGenResp, img))
			}
			if err := v1HangUp(); err != nil {
				runs["cancel-v1"].add(v2Outcome{}, err)
			} else {
				runs["cancel-v1"].add(c.request(next, typeGenResp, img))
			}
		}
		for _, key := range []string{"idle", "cancel-v2", "cancel-v1"} {
			run := runs[key]
			for _, o := range run.outs {
				if o.started == 0 {
					run.outs = nil
					run.fail++
					run.firstErr = "no heartbeat with phase 2 (job started) came"
					break
				}
			}
			s.addV2(wl, "request sent to its job started (ms)", "ms", false, key, run, run.p50(started, time.Millisecond), true)
			s.addV2(wl, "request sent to its reply (1 step)", "ms", false, key, run, run.p50(wallOf, time.Millisecond), false)
		}
	}
	s.pt.say("%s done", wl)
	return nil
}

// measureWorkerStart is issue 13's cold start: a daemon with
// --keep-alive-ms=0 (the worker exits after every job, so every job starts
// one) against the bench's main daemon (a warm worker), the same 64x64
// generate, alternating; and spawn of a fresh daemon to its first image.
func (s *session) measureWorkerStart() error {
	const wl = "worker start, 64x64 generate"
	if !s.v2.Worker {
		s.skip(wl, s.v2.notSupported("worker"))
		return nil
	}
	cold, _, err := s.e.startWith("weave", filepath.Join(s.e.tmp, "cold"), []string{"--keep-alive-ms=0"})
	if err != nil {
		return err
	}
	defer cold.stop()
	w := s.gen64
	warm := &rawGoClient{path: s.servers["weave"].sock}
	coldC := &rawGoClient{path: cold.sock}
	timeOne := func(rt roundTripper) (float64, error) {
		t0 := time.Now()
		_, err := rt.roundTrip(w)
		return float64(time.Since(t0)) / 1e6, err
	}
	for r := 0; r < s.o.rounds; r++ {
		s.b.round = r
		var cv, wv []float64
		var fails int
		var firstErr string
		for k := 0; k < s.o.coldReps; k++ {
			if err := waitUnloaded(cold.pid(), cold.sock, s.v2.V2, 5*time.Second); err != nil {
				fails++
				firstErr = err.Error()
				continue
			}
			c, err := timeOne(coldC)
			if err != nil {
				fails++
				firstErr = err.Error()
				continue
			}
			_, _ = warm.roundTrip(w) // the main daemon's worker is loaded
			wt, err := timeOne(warm)
			if err != nil {
				fails++
				firstErr = err.Error()
				continue
			}
			cv, wv = append(cv, c), append(wv, wt)
		}
		if len(cv) == 0 {
			s.b.addFailures(wl, "wall (ms)", "ms", false, "cold-worker", fails, firstErr)
			continue
		}
		sort.Float64s(cv)
		sort.Float64s(wv)
		s.b.add(wl, "wall", "ms", false, "cold-worker", median(cv), len(cv), fails, firstErr)
		s.b.add(wl, "wall", "ms", false, "warm-worker", median(wv), len(wv), 0, "")
		s.b.add(wl, "cold - warm (worker start)", "ms", false, "cold-worker", median(cv)-median(wv), len(cv), 0, "")
	}
	// Spawn to first image: a fresh daemon (no worker yet) until its first
	// 64x64 image.
	const swl = "start"
	for r := 0; r < s.o.startupReps; r++ {
		s.b.round = r
		t0 := time.Now()
		srv, _, err := s.e.start("weave", filepath.Join(s.e.tmp, fmt.Sprintf("fi%d", r)))
		if err == nil {
			_, err = (&rawGoClient{path: srv.sock}).roundTrip(w)
			d := time.Since(t0)
			srv.stop()
			if err == nil {
				s.b.add(swl, "spawn to first 64x64 image (worker started)", "ms", false, serverLabel["weave"], float64(d)/1e6, 1, 0, "")
				continue
			}
		}
		s.b.addFailures(swl, "spawn to first 64x64 image (worker started)", "ms", false, serverLabel["weave"], 1, err.Error())
	}
	s.pt.say("%s done", wl)
	return nil
}

// daemonChildren lists the child processes of pid (every thread's), i.e.
// the worker when there is one.
func daemonChildren(pid int) []int {
	tids, _ := listInts(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tids {
		out = append(out, childrenOf(pid, t)...)
	}
	return out
}

// waitUnloaded polls until the daemon pid has no worker: no child process
// (and, from a version-2 daemon, a status that says backend_state 0).
func waitUnloaded(pid int, sock string, v2 bool, timeout time.Duration) error {
	t0 := time.Now()
	for {
		kids := daemonChildren(pid)
		err := fmt.Errorf("child processes %v", kids)
		if len(kids) == 0 {
			if !v2 {
				return nil
			}
			msg, xerr := rawExchange(sock, statusRequestV2(benchRequestID))
			if xerr == nil {
				st, perr := parseStatusV2(msg)
				if perr == nil && st.BackendState == wire.BackendUnloaded && st.WorkerPID == 0 {
					return nil
				}
				if err = perr; err == nil {
					err = fmt.Errorf("backend_state %d, worker_pid %d", st.BackendState, st.WorkerPID)
				}
			} else {
				err = xerr
			}
		}
		if time.Since(t0) > timeout {
			return fmt.Errorf("worker not unloaded after %v: %v", timeout, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// leakResult is the fd and mapping count of the daemon, its worker and the
// bench around n shared-memory replies.
type leakResult struct {
	Replies     int       `json:"replies"`
	Side        int       `json:"side"`
	Failures    int       `json:"failures"`
	FirstError  string    `json:"first_error,omitempty"`
	Seconds     float64   `json:"seconds"`
	DaemonPID   int       `json:"daemon_pid"`
	WorkerPID   int       `json:"worker_pid"` // before; 0: none
	WorkerAfter int       `json:"worker_pid_after"`
	FDs         [3][2]int `json:"fds"`  // daemon, worker, bench: before, after
	Maps        [3][2]int `json:"maps"` // same
}

var selfPID = os.Getpid()

var leakWho = [3]string{"weave-compute", "worker", "bench (client)"}

func (l *leakResult) leaked() bool {
	for i := 0; i < 3; i++ {
		if l.FDs[i][0] >= 0 && l.FDs[i][1] > l.FDs[i][0] {
			return true
		}
		if l.Maps[i][0] >= 0 && l.Maps[i][1] > l.Maps[i][0] {
			return true
		}
	}
	return false
}

// workerPID is the daemon's worker: from its version-2 status, else its
// only child process (0: none).
func workerPID(daemonPID int, sock string) int {
	if msg, err := rawExchange(sock, statusRequestV2(benchRequestID)); err == nil {
		if st, err := parseStatusV2(msg); err == nil {
			return int(st.WorkerPID)
		}
	}
	if kids := daemonChildren(daemonPID); len(kids) == 1 {
		return kids[0]
	}
	return 0
}

// measureLeaks runs n shared-memory 1856x1856 replies through the main
// daemon and counts /proc/PID/fd and /proc/PID/maps of the daemon, its
// worker and the bench before and after (both idle).
func (s *session) measureLeaks(n int) {
	wl := fmt.Sprintf("leak check, %d shm replies", n)
	if n <= 0 {
		return
	}
	if !s.v2.SHM {
		s.skip(wl, s.v2.notSupported("shm"))
		return
	}
	d := s.servers["weave"]
	c := newV2Client(d.sock)
	const side = 1856
	img := side * side * 3
	req := optionsRequest(benchRequestID, side, benchSteps, flagSHM)
	for i := 0; i < 3; i++ {
		_, _ = c.request(req, typeSHMResp, img)
	}
	l := &leakResult{Replies: n, Side: side, DaemonPID: d.pid()}
	count := func(k int) {
		time.Sleep(200 * time.Millisecond)
		pids := [3]int{d.pid(), workerPID(d.pid(), d.sock), selfPID}
		if k == 0 {
			l.WorkerPID = pids[1]
		} else {
			l.WorkerAfter = pids[1]
		}
		for i, pid := range pids {
			if pid <= 0 {
				l.FDs[i][k], l.Maps[i][k] = -1, -1
				continue
			}
			l.FDs[i][k], l.Maps[i][k] = openFDs(pid), mapCount(pid)
		}
	}
	count(0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := c.request(req, typeSHMResp, img); err != nil {
			if l.Failures == 0 {
				l.FirstError = err.Error()
			}
			l.Failures++
		}
	}
	l.Seconds = time.Since(t0).Seconds()
	count(1)
	s.leak = l
	b := s.b
	b.placement = cpusFree
	for i, who := range leakWho {
		if l.FDs[i][0] < 0 {
			continue
		}
		b.add(wl, "open fds before", "fds", false, who, float64(l.FDs[i][0]), 0, 0, "")
		b.add(wl, "open fds after", "fds", false, who, float64(l.FDs[i][1]), n, l.Failures*boolInt(i == 0), l.FirstError)
		b.add(wl, "mappings before", "maps", false, who, float64(l.Maps[i][0]), 0, 0, "")
		b.add(wl, "mappings after", "maps", false, who, float64(l.Maps[i][1]), 0, 0, "")
	}
	s.pt.say("%s done (%.1fs)", wl, l.Seconds)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// measureWorkerMemory adds the worker process's memory next to the
// daemon's (the daemon's VmRSS no longer includes the backend's).
func (s *session) measureWorkerMemory() {
	d := s.servers["weave"]
	if d == nil || s.v2 == nil || !s.v2.Worker {
		return
	}
	pid := workerPID(d.pid(), d.sock)
	if pid <= 0 {
		return
	}
	rss, hwm := procStatus(pid)
	if rss < 0 {
		return
	}
	s.b.add("memory", "idle VmRSS after all load", "KiB", false, "weave-compute worker", float64(rss), 0, 0, "")
	s.b.add("memory", "VmHWM (peak, incl. bulk)", "KiB", false, "weave-compute worker", float64(hwm), 0, 0, "")
}
