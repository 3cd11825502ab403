package main

import (
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func dialUnix(path string) (*net.UnixConn, error) {
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
}

// contestants lists the client/server pairs in table order.
func (e *benchEnv) contestants(servers map[string]*server, only string) []*contestant {
	want := map[string]bool{}
	for _, k := range strings.Split(only, ",") {
		if k = strings.TrimSpace(k); k != "" {
			want[k] = true
		}
	}
	var cs []*contestant
	addC := func(c *contestant) {
		if c.srv == nil {
			return
		}
		if len(want) > 0 && !want[c.key] && c.key != "floor-c" {
			return
		}
		cs = append(cs, c)
	}
	floor, weave, hs, gs := servers["floor"], servers["weave"], servers["http"], servers["grpc"]
	rawGo := func(s *server) func() (roundTripper, error) {
		return func() (roundTripper, error) { return &rawGoClient{path: s.sock}, nil }
	}
	addC(&contestant{key: "floor-c", label: "C floor_client -> C floor_server (the floor)", srv: floor, cside: true})
	addC(&contestant{key: "floor-go", label: "minimal Go raw-socket client -> C floor_server (the Go-client floor)", srv: floor, newRT: rawGo(floor), goSide: true})
	if weave != nil {
		addC(&contestant{key: "weave", label: "go/client -> weave-compute (this project)", srv: weave, goSide: true,
			newRT: func() (roundTripper, error) {
				c, err := newWeaveClient(weave.sock)
				if err != nil {
					return nil, err
				}
				c.prepare([]*workload{{replyType: typeGenResp, side: 64}, {replyType: typeGenResp, side: 1856}})
				return c, nil
			}})
		addC(&contestant{key: "weave-rawgo", label: "minimal Go raw-socket client -> weave-compute (attribution)", srv: weave, newRT: rawGo(weave), goSide: true})
		addC(&contestant{key: "weave-gosys", label: "Go client on blocking syscalls (no net package) -> weave-compute (attribution: what a Go client can reach)", srv: weave, goSide: true,
			newRT: func() (roundTripper, error) {
				return &goSysClient{addr: syscall.SockaddrUnix{Name: weave.sock}}, nil
			}})
		addC(&contestant{key: "weave-c", label: "C floor_client -> weave-compute (attribution)", srv: weave, cside: true})
		// Context for the bulk target: the floor pair with requests as far
		// apart as weave-compute's (the CPU busy meanwhile, as it is while
		// the daemon generates), so its caches are no warmer than theirs.
		addC(&contestant{key: "floor-c-pause", label: "C floor_client spinning before each request as long as weave-compute takes to generate the bulk image -> C floor_server (bulk only: context)",
			srv: floor, cside: true, bulkOnly: true, pause: true})
	}
	if in := servers["weave-inproc"]; in != nil {
		// --inproc-daemon: the same clients against a daemon from before
		// the worker process, for the paired in-process comparison.
		addC(&contestant{key: "weave-inproc", label: "go/client -> the --inproc-daemon weave-compute (backend inside the daemon)", srv: in, goSide: true, seqOnly: true,
			newRT: func() (roundTripper, error) {
				c, err := newWeaveClient(in.sock)
				if err != nil {
					return nil, err
				}
				c.prepare([]*workload{{replyType: typeGenResp, side: 64}, {replyType: typeGenResp, side: 1856}})
				return c, nil
			}})
		addC(&contestant{key: "weave-c-inproc", label: "C floor_client -> the --inproc-daemon weave-compute", srv: in, cside: true, seqOnly: true})
	}
	addC(&contestant{key: "http-close", label: "net/http -> net/http, HTTP/1.1, one request per connection", srv: hs, goSide: true,
		newRT: func() (roundTripper, error) { return newHTTPClient(hs.sock, false), nil }})
	addC(&contestant{key: "http-keepalive", label: "net/http -> net/http, HTTP/1.1, keep-alive", srv: hs, goSide: true,
		newRT: func() (roundTripper, error) { return newHTTPClient(hs.sock, true), nil }})
	addC(&contestant{key: "grpc", label: "grpc-go -> grpc-go, one ClientConn (HTTP/2), raw-bytes codec", srv: gs, goSide: true,
		newRT: func() (roundTripper, error) {
			c, err := newGRPCClient(gs.sock)
			return c, err
		}})
	return cs
}

func contestantKeys(cs []*contestant) string {
	var ks []string
	for _, c := range cs {
		ks = append(ks, c.key)
	}
	return strings.Join(ks, ", ")
}

func contestantDocs(cs []*contestant) []map[string]string {
	var out []map[string]string
	for _, c := range cs {
		out = append(out, map[string]string{"key": c.key, "description": c.label, "server": c.srv.label})
	}
	return out
}

// notes are the methodological choices, printed above the table and kept
// in the JSON.
func notes(o *options) []string {
	return []string{
		"contestants: floor-c = C floor_client -> C floor_server (THE floor: the base of every 'x C floor' ratio); " +
			"floor-go = minimal Go raw-socket client -> the same C server (the base of 'x Go floor', so the Go-runtime share of any gap is visible); " +
			"weave = go/client -> weave-compute (this project); weave-rawgo = minimal Go net.Dial client, weave-gosys = Go client on blocking syscalls (socket/connect/write/read/close, no netpoller), weave-c = C floor_client, all -> weave-compute (gap attribution: library vs Go runtime vs daemon); " +
			"http-close / http-keepalive = net/http both sides over UDS, one request per connection / keep-alive; grpc = grpc-go both sides over UDS, one ClientConn, raw []byte codec",
		"floor syscalls per request: client socket, connect, write, read (until the announced length), close; server accept, getsockopt(SO_PEERCRED), read, write, close; floor_server runs " +
			fmt.Sprint(o.floorThreads) + " blocking accept loop(s)",
		"payloads: every server except weave-compute sends the exact reply bytes captured from weave-compute at start for the same request (status; 64x64 and 1856x1856 RGB generate, steps=1, seed=42); " +
			"weave-compute really generates, so its generate figures include generation: 'small status' (no generation) is the transport figure for the small round trip, " +
			"and bulk is also shown as 'wall - generation_time_ms' (the daemon's own report, ms resolution) and as 'wall - exact generation' (the round's mean generation time from the daemon's status totals, SPEC 11.6, read before and after the round; 0 for the servers that send captured bytes)",
		"ratio (x C floor, x Go floor) = paired per-round ratios: in each round, this contestant's value / the base's value in the same round and placement, then the median of those ratios, (min-max) in parentheses; " +
			"start and memory: median / median (taken one server after the other); same metric, same run (latency, RSS, start time: lower is better; req/s, MB/s: higher is better); " +
			"median/min/max are over rounds; rounds x req is rounds x requests measured per round (after 50 warm-up requests per run; 3 per worker under concurrency)",
		fmt.Sprintf("noise check (small round trips and bulk, every placement): a warning when the floor's rounds spread by more than %.0f%% ((max-min)/median) or a contestant beats the floor by more than %.0f%%; a target computed from a flagged figure says 'unreliable'",
			100*o.noiseSpread, 100*o.noiseBeat),
		"concurrency rows use the status request and run free on both CPUs (no affinity); N clients each loop connect-request-reply-close (Go: goroutines; C: threads) for the round's duration",
		"bulk MB/s = whole reply message (header included, 10^6 bytes) / the round's median request time (wall; wall - the mean generation_time_ms of the round's middle half by wall time; wall - the round's exact mean generation time; first to last reply byte)",
	}
}

type target struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"` // met, MISSED, unreliable, n/a
	Detail  string `json:"detail"`
}

// evaluateTargets checks the targets on the first placement of the
// sequential workloads (placements[0], same by default), from paired
// per-round ratios; the details give every placement. A target whose
// figure (workload and metric) the noise check flagged in that placement
// is "unreliable".
func evaluateTargets(b *book, placements []string, warns []noiseWarning, daemonIdleRSS int64, soak *soakResult) []target {
	var ts []target
	add := func(name, verdict, detail string) {
		ts = append(ts, target{Name: name, Verdict: verdict, Detail: detail})
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	med := func(p, wl, m, c string) float64 {
		if f := b.get(p, wl, m, c); f != nil && f.Rounds > 0 {
			return f.Median
		}
		return math.NaN()
	}
	// ratioTarget: a / base in workload wl, metric m; ok decides on the
	// median paired ratio of the first placement; show formats one
	// placement's figures.
	ratioTarget := func(name, wl, m, a, base string, ok func(r float64) bool, show func(p string, r ratioStat) string) {
		var parts []string
		v := "n/a"
		for i, p := range placements {
			r, have := pairedRatio(b.get(p, wl, m, a), b.get(p, wl, m, base))
			if !have {
				parts = append(parts, "cpus="+p+": not measured")
				continue
			}
			parts = append(parts, fmt.Sprintf("cpus=%s: %s", p, show(p, r)))
			if i == 0 {
				v = verdict(ok(r.Median))
				if flagged(warns, p, wl, m) {
					v = "unreliable"
				}
			}
		}
		add(name, v, strings.Join(parts, "; "))
	}
	rng := func(r ratioStat) string {
		return fmt.Sprintf("%.2fx (min %.2f, max %.2f over %d rounds)", r.Median, r.Min, r.Max, r.Rounds)
	}
	const st, p50 = "small status", "p50 latency"
	ratioTarget("small round trip within 1.5x of the floor (status, p50)", st, p50, "weave", "floor-c",
		func(r float64) bool { return r <= 1.5 },
		func(p string, r ratioStat) string {
			return fmt.Sprintf("weave %.1f us vs floor-c %.1f us, paired weave/floor-c %s", med(p, st, p50, "weave"), med(p, st, p50, "floor-c"), rng(r))
		})
	ratioTarget(">=3x lower p50 than HTTP/1.1 over UDS (one request per connection)", st, p50, "http-close", "weave",
		func(r float64) bool { return r >= 3 },
		func(p string, r ratioStat) string {
			s := fmt.Sprintf("http-close %.1f us / weave %.1f us, paired %s", med(p, st, p50, "http-close"), med(p, st, p50, "weave"), rng(r))
			if k, ok := pairedRatio(b.get(p, st, p50, "http-keepalive"), b.get(p, st, p50, "weave")); ok {
				s += fmt.Sprintf(" (keep-alive: %.2fx)", k.Median)
			}
			return s
		})
	ratioTarget("ahead of gRPC over UDS (status, p50)", st, p50, "grpc", "weave",
		func(r float64) bool { return r > 1 },
		func(p string, r ratioStat) string {
			return fmt.Sprintf("grpc %.1f us vs weave %.1f us, paired grpc/weave %s", med(p, st, p50, "grpc"), med(p, st, p50, "weave"), rng(r))
		})
	const bk, ms, xfer = "bulk 1856x1856", "throughput, wall - generation_time_ms", "throughput, first to last reply byte"
	// The exact generation time (the daemon's status totals) when the
	// daemon sends them; else the whole-ms field of the replies.
	net, netName := ms, "wall - generation_time_ms"
	if len(placements) > 0 {
		if _, ok := pairedRatio(b.get(placements[0], bk, bulkExact, "weave"), b.get(placements[0], bk, bulkExact, "floor-c")); ok {
			net, netName = bulkExact, "wall - exact generation"
		}
	}
	ratioTarget("bulk >= 80% of the floor's MB/s (generation subtracted)", bk, net, "weave", "floor-c",
		func(r float64) bool { return r >= 0.8 },
		func(p string, r ratioStat) string {
			s := fmt.Sprintf("go/client %s %.0f MB/s vs floor-c %.0f MB/s, paired %.0f%% (min %.0f%%, max %.0f%%)",
				netName, med(p, bk, net, "weave"), med(p, bk, net, "floor-c"), 100*r.Median, 100*r.Min, 100*r.Max)
			if net != ms {
				if w, ok := pairedRatio(b.get(p, bk, ms, "weave"), b.get(p, bk, ms, "floor-c")); ok {
					s += fmt.Sprintf(" (with generation_time_ms, whole ms: %.0f%%)", 100*w.Median)
				}
			}
			if q, ok := pairedRatio(b.get(p, bk, net, "weave"), b.get(p, bk, net, "floor-c-pause")); ok {
				s += fmt.Sprintf("; context: the floor with its requests as far apart as a generation (floor-c-pause) %.0f MB/s, go/client %.0f%% of it",
					med(p, bk, net, "floor-c-pause"), 100*q.Median)
			}
			if x, ok := pairedRatio(b.get(p, bk, xfer, "weave-c"), b.get(p, bk, xfer, "floor-c")); ok {
				s += fmt.Sprintf("; same C client, first to last reply byte: weave-compute %.0f vs floor_server %.0f MB/s = %.0f%%",
					med(p, bk, xfer, "weave-c"), med(p, bk, xfer, "floor-c"), 100*x.Median)
			}
			return s
		})
	have := daemonIdleRSS > 0
	v := verdict(daemonIdleRSS < 2048)
	if !have {
		v = "n/a"
	}
	add("daemon idle RSS < 2 MiB", v, fmt.Sprintf("VmRSS %d KiB right after start", daemonIdleRSS))
	if soak != nil {
		growth := soak.RSSAfterIdle - soak.RSSWarm
		add(fmt.Sprintf("no RSS growth across a %d-request run", soak.Requests), verdict(growth <= 64 && soak.Failures == 0),
			fmt.Sprintf("idle VmRSS after %d warm-up requests %d KiB -> idle after %d more %d KiB (growth %+d KiB; tolerance 64 KiB); fresh %d KiB, right after the run %d KiB; %d failures",
				soak.Warmup, soak.RSSWarm, soak.Requests, soak.RSSAfterIdle, growth, soak.RSSFresh, soak.RSSAfter, soak.Failures))
	} else {
		add("no RSS growth across a 100000-request run", "n/a", "soak not run")
	}
	return ts
}

type soakResult struct {
	Requests     int     `json:"requests"`
	Concurrency  int     `json:"concurrency"`
	Warmup       int     `json:"warmup_requests"`
	Failures     int     `json:"failures"`
	FirstError   string  `json:"first_error,omitempty"`
	Seconds      float64 `json:"seconds"`
	RSSFresh     int64   `json:"rss_fresh_kib"`
	RSSWarm      int64   `json:"rss_after_warmup_kib"`
	RSSAfter     int64   `json:"rss_after_kib"`
	RSSAfterIdle int64   `json:"rss_after_idle_kib"`
	HWM          int64   `json:"hwm_kib"`
}

// soak runs n requests (status and 64x64 generate, alternating) through
// go/client against a fresh daemon and reads its VmRSS before and after.
func (e *benchEnv) soak(n int, status, gen64 *workload) (*soakResult, error) {
	s, _, err := e.start("weave", filepath.Join(e.tmp, "soak"))
	if err != nil {
		return nil, err
	}
	defer s.stop()
	c, err := newWeaveClient(s.sock)
	if err != nil {
		return nil, err
	}
	c.prepare([]*workload{gen64})
	const conc = 4
	res := &soakResult{Requests: n, Concurrency: conc, Warmup: n / 100}
	if res.Warmup < 100 {
		res.Warmup = 100
	}
	time.Sleep(200 * time.Millisecond)
	res.RSSFresh, _ = procStatus(s.pid())
	var mu sync.Mutex
	drive := func(total int) {
		var next int64
		var wg sync.WaitGroup
		for i := 0; i < conc; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					j := atomic.AddInt64(&next, 1)
					if j > int64(total) {
						return
					}
					w := status
					if j%2 == 0 {
						w = gen64
					}
					if _, err := c.roundTrip(w); err != nil {
						mu.Lock()
						if res.Failures == 0 {
							res.FirstError = err.Error()
						}
						res.Failures++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	}
	drive(res.Warmup)
	time.Sleep(200 * time.Millisecond)
	res.RSSWarm, _ = procStatus(s.pid())
	t0 := time.Now()
	drive(n)
	res.Seconds = time.Since(t0).Seconds()
	res.RSSAfter, _ = procStatus(s.pid())
	time.Sleep(200 * time.Millisecond)
	res.RSSAfterIdle, res.HWM = procStatus(s.pid())
	return res, nil
}
